"""Tests for search.latency (parts, table, build, calibration): part keys, prediction, calibration
maths and the table file (TF-free), then building a table on tiny real models with resume after
an interruption (slow)."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest
from latency_fakes import fake_measure as _fake_measure

from mnasnet_tf import arch_string, specs
from search.latency import build, calibration, parts
from search.latency import table as table_lib
from tflite_bench.backends import LocalBackend

TINY = "sep_r1_k3_s11_o8:r2_k3_s22_e3_o16_se0.25:r1_k5_s22_e6_o24_poolskip"


def _arch(string: str = TINY, **conventions) -> specs.ArchSpec:
    return arch_string.decode(string, stem_filters=8, head_filters=64, **conventions)


def _sample(rng: np.random.Generator) -> specs.ArchSpec:
    """A tiny random space: op, kernel, SE, skip and width per block."""
    blocks = []
    for filters, stride in ((8, 1), (16, 2), (24, 2)):
        op, expansion = [("conv", 1), ("sep", 1), ("mbconv", 3), ("mbconv", 6)][rng.integers(4)]
        blocks.append(
            specs.BlockSpec(
                num_repeat=int(rng.integers(1, 3)),
                kernel_size=int(rng.choice([3, 5])),
                stride=stride,
                output_filters=filters * int(rng.integers(1, 3)),
                expand_ratio=expansion,
                se_ratio=None if rng.random() < 0.5 else 0.25,
                skip=str(rng.choice(["identity", "pool", "none"])),
                op=op,
            )
        )
    return specs.ArchSpec(blocks=tuple(blocks), stem_filters=8, head_filters=64, name="sampled")


def _filled_table(archs, image_size=64) -> table_lib.LatencyTable:
    """A table whose entries are a fake latency: 0.01 ms per character of the key."""
    table = table_lib.LatencyTable(backend={"backend": "fake"})
    for part in parts.distinct_parts(archs, image_size=image_size):
        value = 0.01 * len(part.key)
        table.entries[part.key] = {
            "kind": part.kind,
            "min_ms": value,
            "median_ms": 2 * value,
            "mean_ms": 2 * value,
            "p90_ms": None,
            "std_ms": 0.0,
            "n": 1,
            "bytes": 1000 * len(part.key) ** 2,
        }
    return table


# ---- keys and parts (no TensorFlow) ----


def test_parts_are_stem_layers_head_in_order():
    arch = _arch()
    pieces = parts.arch_parts(arch, image_size=64, classes=10)
    assert [p.kind for p in pieces] == ["stem"] + ["layer"] * len(arch.layers()) + ["head"]
    assert pieces[0].key == "stem_k3_s2_o8_relu_64x64"
    assert [p.input_hw for p in pieces[1:]] == [(32, 32), (32, 32), (16, 16), (16, 16), (8, 8)]
    assert pieces[1].key == "sep_k3_s1_i8_x0_o8_se0_relu_res_32x32"
    assert pieces[3].key == "mbconv_k3_s1_i16_x48_o16_se4sigmoid_relu_res_16x16"
    assert pieces[4].key == "mbconv_k5_s2_i16_x96_o24_se0_relu_pool_16x16"
    assert pieces[-1].key == "head_i24_h64_p0_c10_relu_8x8"


def test_keys_separate_what_changes_the_graph():
    base = parts.arch_parts(_arch(), image_size=64)
    variants = [
        _arch(TINY.replace("se0.25", "se0.5")),
        _arch(TINY, se_gate="hard_sigmoid"),
        _arch(TINY.replace("r2_k3_s22_e3_o16", "r2_k3_s22_e3_o16_noskip")),
        _arch(TINY.replace("r2_k3_s22_e3", "r2_k5_s22_e3")),
        _arch(TINY, activation="relu6"),
    ]
    for variant in variants:
        keys = [part.key for part in parts.arch_parts(variant, image_size=64)]
        assert keys != [part.key for part in base]
    assert parts.arch_parts(_arch(), image_size=96)[2].key.endswith("48x48")


def test_distinct_parts_share_equal_layers():
    one, two = _arch(), _arch(TINY.replace("e6_o24", "e3_o24"))
    keys = [part.key for part in parts.distinct_parts([one, two, one], image_size=64)]
    assert len(keys) == len(set(keys)) == 7  # 6 parts of `one` + the changed last layer


# ---- prediction and calibration maths ----


def test_predict_sums_parts_then_applies_calibration():
    arch = _arch()
    table = _filled_table([arch])
    expected = sum(0.01 * len(p.key) for p in parts.arch_parts(arch, image_size=64))
    assert table.predict(arch, image_size=64) == pytest.approx(expected)
    table.statistic = "median"
    assert table.predict(arch, image_size=64) == pytest.approx(2 * expected)
    table.calibration = {"features": list(table_lib.FEATURES), "coefficients": [1.5, 2.0, 0.25]}
    weights = sum(table.entries[p.key]["bytes"] for p in parts.arch_parts(arch, image_size=64))
    assert table.features(arch, image_size=64) == pytest.approx((2 * expected, weights / 1e6, 1))
    assert table.predict(arch, image_size=64) == pytest.approx(
        1.5 * 2 * expected + 2.0 * weights / 1e6 + 0.25
    )


def test_missing_parts_are_named():
    table = _filled_table([_arch()])
    other = _arch(TINY.replace("o24", "o32"))
    assert len(table.missing(other, image_size=64)) == 2  # last layer and head
    with pytest.raises(ValueError, match="lacks 2 part.*o32.*build_table"):
        table.predict(other, image_size=64)


def test_calibrate_recovers_a_linear_relation(tmp_path):
    archs = calibration.sample_archs(_sample, 12, seed=3)
    table = _filled_table(archs)
    table.path = str(tmp_path / "table.json")
    x = [table.features(arch, image_size=64) for arch in archs]
    report = calibration.calibrate(
        table, archs, image_size=64, measured_ms=[1.3 * r + 0.5 * w + 0.4 for r, w, _ in x]
    )
    assert report["coefficients"] == pytest.approx(
        {"parts_ms": 1.3, "weights_mb": 0.5, "constant": 0.4}
    )
    assert report["in_sample"]["within_10pct"] == 1.0
    assert report["leave_one_out"]["mape_pct"] == pytest.approx(0.0, abs=1e-6)
    assert report["in_sample"]["spearman"] == pytest.approx(1.0)
    assert report["uncalibrated"]["within_10pct"] < 1.0
    assert len(report["archs"]) == 12 and report["predict_ms"] >= 0
    loaded = table_lib.LatencyTable.load(table.path)
    assert loaded.calibration["report"]["n"] == 12
    r, w, _ = x[0]
    assert loaded.predict(archs[0], image_size=64) == pytest.approx(1.3 * r + 0.5 * w + 0.4)


def test_few_calibration_archs_fit_fewer_terms():
    archs = calibration.sample_archs(_sample, 4, seed=5)
    table = _filled_table(archs)
    raw = [table.raw_sum(arch, image_size=64) for arch in archs]
    report = calibration.calibrate(table, archs, image_size=64, measured_ms=[2 * r for r in raw])
    assert report["coefficients"]["weights_mb"] == 0.0
    assert report["coefficients"]["parts_ms"] == pytest.approx(2.0)
    report = calibration.calibrate(
        table, archs[:2], image_size=64, measured_ms=[1 + r for r in raw[:2]]
    )
    assert report["coefficients"] == pytest.approx(
        {"parts_ms": 1.0, "weights_mb": 0.0, "constant": 1.0}
    )


def test_calibrate_needs_matching_measurements():
    archs = calibration.sample_archs(_sample, 3, seed=0)
    with pytest.raises(ValueError, match="2 measurements for 3"):
        calibration.calibrate(_filled_table(archs), archs, image_size=64, measured_ms=[1.0, 2.0])


def test_accuracy_figures():
    result = calibration.accuracy([1.0, 2.2, 2.9, 5.0], [1.0, 2.0, 3.0, 4.0])
    assert result["within_10pct"] == 0.75 and result["within_5pct"] == 0.5
    assert result["mape_pct"] == pytest.approx(100 * (0 + 0.1 + 1 / 30 + 0.25) / 4)
    assert result["max_error_pct"] == pytest.approx(25.0)
    assert result["spearman"] == pytest.approx(1.0)


def test_sample_archs_is_reproducible():
    assert calibration.sample_archs(_sample, 4, seed=7) == calibration.sample_archs(
        _sample, 4, seed=7
    )
    with pytest.raises(ValueError, match="got 0"):
        calibration.sample_archs(_sample, 0)


# ---- the table file ----


def test_table_round_trip(tmp_path):
    table = _filled_table([_arch()])
    path = table.save(tmp_path / "sub" / "table.json")
    loaded = table_lib.load_table(path)
    assert loaded.entries == table.entries and loaded.backend == table.backend
    assert json.loads(open(path).read())["format"] == table_lib.TABLE_FORMAT
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["table.json"]


@pytest.mark.parametrize(
    "content, message",
    [("{not json", "not valid JSON"), ('{"format": "other"}', "not a latency table")],
)
def test_bad_table_files_name_the_path(tmp_path, content, message):
    path = tmp_path / "table.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=f"{message}|{path}"):
        table_lib.LatencyTable.load(path)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        table_lib.LatencyTable.load(tmp_path / "missing.json")


def test_bad_statistic():
    with pytest.raises(ValueError, match="'p99'"):
        table_lib.LatencyTable(statistic="p99")


# ---- building a table on real one-layer models (TensorFlow) ----


@pytest.mark.slow
def test_build_table_resumes_after_interruption(tmp_path):
    archs = [_arch(), _arch(TINY.replace("e6_o24", "e3_o24"))]
    path = tmp_path / "table.json"
    calls: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        build.build_table(
            archs, path, image_size=64, backend=_fake_measure(calls, fail_after=3), progress=False
        )
    saved = table_lib.LatencyTable.load(path)
    assert len(saved.entries) == 3 and saved.backend == {"backend": "fake"}
    calls.clear()
    table = build.build_table(
        archs, path, image_size=64, backend=_fake_measure(calls), progress=False
    )
    assert len(calls) == 4 and len(table.entries) == 7
    assert all(entry["min_ms"] > 0 for entry in table.entries.values())
    assert table.predict(archs[1], image_size=64) > 0
    with pytest.raises(ValueError, match="separate table"):
        build.build_table(
            [_arch(TINY.replace("o24", "o40"))],
            path,
            image_size=64,
            backend=_fake_measure([], backend="other"),
            progress=False,
        )


@pytest.mark.slow
def test_parts_add_up_to_the_whole_graph(tmp_path):
    """The ops of stem + layers + head are exactly the ops of the whole model, so the table
    measures every piece of the network once."""
    from mnasnet_tf import builder
    from tflite_bench import convert

    arch = _arch()
    whole = convert.convert(builder.build_model(arch, input_shape=(64, 64, 3), classes=10))
    summed = collections.Counter()
    for part in parts.arch_parts(arch, image_size=64, classes=10):
        summed.update(convert.convert(parts.build_part_model(part)).ops)
    assert summed == collections.Counter(whole.ops)


@pytest.mark.slow
def test_local_table_and_calibration_end_to_end(tmp_path):
    archs = calibration.sample_archs(_sample, 3, seed=1)
    table = build.build_table(
        archs,
        tmp_path / "local.json",
        image_size=32,
        backend=LocalBackend(warmup=1, runs=3, clock="thread_cpu"),
        progress=False,
    )
    assert table.backend["backend"] == "local" and table.backend["clock"] == "thread_cpu"
    assert "model_sha256" not in table.backend
    report = calibration.calibrate(table, archs, image_size=32, progress=False)
    assert report["n"] == 3 and all(row["measured_ms"] > 0 for row in report["archs"])
    assert table_lib.LatencyTable.load(tmp_path / "local.json").calibration is not None
