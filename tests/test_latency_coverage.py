"""Tests for whole-space latency tables (search/latency/coverage.py, build_space_table) and the
provenance of latency figures: every registered space's enumeration reaches the parts of
thousands of random points (TF-free), an incomplete enumeration is caught, a table records what
it covers and refuses other spaces, resolutions, class counts and devices with a message naming
both, corrupt tables are refused without being touched, and a whole-space build of the toy
space resumes after Ctrl-C (slow)."""

from __future__ import annotations

import json
import os

import pytest
import toy_space
from latency_fakes import fake_measure

from search.latency import build, coverage
from search.latency import table as table_lib
from search.spaces import registry as space_registry
from search.spaces.mnasnet import MnasNetSpace, mnasnet_space
from tflite_bench import backends, benchmark


@pytest.mark.slow
@pytest.mark.parametrize("name", space_registry.list_spaces())
@pytest.mark.parametrize("image_size, classes", [(224, 1000), (32, 10)])
def test_enumeration_reaches_every_part_of_random_points(name, image_size, classes):
    space = space_registry.get_space(name)
    keys = {
        part.key for part in coverage.space_parts(space, image_size=image_size, classes=classes)
    }
    missing = coverage.uncovered(
        space, keys, image_size=image_size, classes=classes, samples=1500, seed=7
    )
    assert missing == []


@pytest.mark.slow
def test_part_counts_of_the_paper_space():
    parts = coverage.space_parts(mnasnet_space(), image_size=224, classes=1000)
    kinds = [part.kind for part in parts]
    assert (kinds.count("stem"), kinds.count("layer"), kinds.count("head")) == (1, 2448, 3)
    # 10 and 1000 classes differ only in the classifier: the layers are shared.
    ten = coverage.space_parts(mnasnet_space(), image_size=224, classes=10)
    layers = {part.key for part in parts if part.kind == "layer"}
    assert layers == {part.key for part in ten if part.kind == "layer"}


class _ForgetfulSpace(MnasNetSpace):
    """Part groups without the previous block's width: misses layers of other input widths."""

    def part_groups(self):
        return [group[1:] if len(group) == 7 else group for group in super().part_groups()]


@pytest.mark.slow
def test_an_incomplete_enumeration_is_caught():
    paper = mnasnet_space()
    space = _ForgetfulSpace(
        name="forgetful",
        reference=paper.reference,
        filter_choices=[list(zip(d.values, w, strict=True)) for d, w in _filters(paper)],
        layer_choices=[list(zip(d.values, n, strict=True)) for d, n in _layers(paper)],
        conventions=paper.conventions,
    )
    keys = {part.key for part in coverage.space_parts(space, image_size=224)}
    assert coverage.uncovered(space, keys, image_size=224, samples=200)


def _filters(space):
    rows = [d for d in space.decisions if d.name.endswith("/filters")]
    return zip(rows, space.filter_widths, strict=True)


def _layers(space):
    rows = [d for d in space.decisions if d.name.endswith("/layers")]
    return zip(rows, space.layer_counts, strict=True)


def test_default_part_groups_chain_blocks():
    space = toy_space.toy_space()
    groups = space.part_groups()
    assert groups[0] == (0, 1) and groups[1] == (0, 1, 2, 3)
    assert groups[-1] == tuple(range(len(groups) * 2 - 4, len(groups) * 2))


def test_coverage_ids_and_refusals():
    table = table_lib.LatencyTable(coverage=[coverage.coverage_id("mnasnet", 224, 1000)])
    assert table.coverage == ["mnasnet@224x224/c1000"]
    table.check_covers("mnasnet@224x224/c1000")
    for other in ("mobilenetv3-large@224x224/c1000", "mnasnet@32x32/c1000", "mnasnet@224x224/c10"):
        with pytest.raises(ValueError, match=f"covers mnasnet@224x224/c1000, not {other}"):
            table.check_covers(other)
    table_lib.LatencyTable().check_covers("anything@1x1/c1")  # a table of some archs' parts


def _stats(**metadata) -> benchmark.LatencyStats:
    return benchmark.LatencyStats.from_samples([1.0, 2.0], metadata)


HOST = {
    "backend": "local",
    "cpu_model": "AMD EPYC",
    "machine": "x86_64",
    "runtime": "ai-edge-litert",
    "runtime_version": "2.0",
    "num_threads": 1,
    "clock": "wall",
}
PHONE = {
    "backend": "adb",
    "device": {"manufacturer": "Google", "model": "Pixel 7", "soc_model": "gs201", "abi": "arm64"},
    "runtime": "benchmark_model",
    "benchmark_model_sha256": "ab" * 32,
    "num_threads": 1,
}


def test_fingerprints_name_the_device_and_runtime():
    assert benchmark.device_fingerprint(HOST) == "host AMD EPYC x86_64"
    assert benchmark.device_fingerprint(PHONE) == "android Google Pixel 7 gs201 arm64"
    assert benchmark.runtime_id(HOST) == "ai-edge-litert 2.0"
    assert benchmark.runtime_id(PHONE) == "benchmark_model sha256:abababababababab"
    local = benchmark.host_metadata(1)
    assert local["device_fingerprint"] == benchmark.device_fingerprint(local)
    assert backends.device_fingerprint is benchmark.device_fingerprint


def test_a_table_refuses_another_device_unless_allowed(caplog):
    table = table_lib.LatencyTable(path="host.json")
    table.add("stem", "stem", _stats(**HOST), size_bytes=10)
    assert table.device == "host AMD EPYC x86_64"
    table.check_device(HOST)
    with pytest.raises(ValueError, match="host AMD EPYC x86_64.*android Google Pixel 7"):
        table.check_device(PHONE)
    newer = {**HOST, "runtime_version": "2.1"}
    with pytest.raises(ValueError, match=r"ai-edge-litert 2.0.*ai-edge-litert 2.1.*allow_other"):
        table.check_device(newer)
    table.check_device(PHONE, allow_other_device=True)
    assert "used anyway" in caplog.text
    with pytest.raises(ValueError, match="separate table"):
        table.add("layer", "layer", _stats(**PHONE), size_bytes=10)
    assert table_lib.TableBackend(table).metadata()["built_on"] == "host AMD EPYC x86_64"


GOOD_ENTRY = {"kind": "stem", "min_ms": 1.0, "median_ms": 1.0, "mean_ms": 1.0, "bytes": 3}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"entries": {"stem_x": {**GOOD_ENTRY, "min_ms": "fast"}}}, "'stem_x' has min_ms 'fast'"),
        ({"entries": {"stem_x": {**GOOD_ENTRY, "kind": "wing"}}}, "'stem_x' is malformed"),
        ({"entries": {"stem_x": [1, 2]}}, "'stem_x' is malformed"),
        ({"coverage": "mnasnet"}, "'coverage' must be a list"),
        ({"quantization": "int4"}, "quantization must be one of"),
        ({"backend": [1]}, "'backend' must be an object"),
    ],
)
def test_corrupt_tables_are_refused_and_left_alone(tmp_path, change, message):
    data = {
        "format": table_lib.TABLE_FORMAT,
        "statistic": "min",
        "entries": {"stem_x": GOOD_ENTRY},
        **change,
    }
    path = tmp_path / "table.json"
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    with pytest.raises(ValueError, match=message):
        table_lib.LatencyTable.load(path)
    assert path.read_bytes() == before


def test_a_truncated_table_is_named_and_left_alone(tmp_path):
    table = table_lib.LatencyTable()
    table.add("stem_x", "stem", _stats(**HOST), size_bytes=10)
    path = tmp_path / "table.json"
    table.save(path)
    path.write_bytes(path.read_bytes()[:-20])
    before = path.read_bytes()
    with pytest.raises(ValueError, match=f"{path} is not valid JSON .truncated or corrupt"):
        table_lib.LatencyTable.load(path)
    with pytest.raises(ValueError, match="not valid JSON"):
        build.build_table([], path, progress=False)
    assert path.read_bytes() == before


def test_a_build_of_another_quantization_is_refused(tmp_path):
    path = tmp_path / "table.json"
    table_lib.LatencyTable(quantization="int8").save(path)
    with pytest.raises(ValueError, match="holds int8 parts; this build is float32"):
        build.build_table([], path, progress=False)


@pytest.mark.slow
def test_whole_space_table_of_the_toy_space_resumes_after_ctrl_c(tmp_path):
    space = toy_space.toy_space()
    path = tmp_path / "toy.json"
    total = len(coverage.space_parts(space, image_size=32, classes=10))
    calls: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        build.build_space_table(
            space,
            path,
            image_size=32,
            classes=10,
            backend=fake_measure(calls, fail_after=20),
            workers=1,
            progress=False,
        )
    saved = table_lib.LatencyTable.load(path)
    assert len(saved.entries) == 20 and saved.coverage == []
    calls.clear()
    table = build.build_space_table(
        space, path, image_size=32, classes=10, backend=fake_measure(calls), progress=False
    )
    assert len(calls) == total - 20 and len(table.entries) == total
    assert table_lib.LatencyTable.load(path).coverage == ["toy@32x32/c10"]
    table.check_covers("toy@32x32/c10")
    with pytest.raises(ValueError, match="covers toy@32x32/c10, not toy@64x64/c10"):
        table.check_covers("toy@64x64/c10")
    import numpy as np

    rng = np.random.default_rng(3)
    for _ in range(20):
        assert table.predict(space.to_arch(space.sample(rng)), image_size=32, classes=10) > 0
    calls.clear()
    build.build_space_table(space, path, image_size=32, classes=10, backend=fake_measure(calls))
    assert calls == [] and sorted(os.listdir(tmp_path)) == ["toy.json"]


@pytest.mark.slow
def test_int8_parts_convert_and_time(tmp_path):
    space = toy_space.toy_space()
    archs = [space.to_arch(space.default_choices())]
    table = build.build_table(
        archs,
        tmp_path / "int8.json",
        image_size=32,
        classes=10,
        quantization="int8",
        backend=backends.LocalBackend(warmup=1, runs=3),
        progress=False,
    )
    assert table.quantization == "int8" and len(table.entries) > 5
    assert all(entry["min_ms"] > 0 for entry in table.entries.values())
    from tflite_bench import runtime

    path = tmp_path / "part.tflite"
    part = coverage.space_parts(space, image_size=32, classes=10)[3]
    build.convert_part(part, str(path), "int8")
    detail = runtime.load_interpreter(str(path)).get_input_details()[0]
    assert detail["dtype"].__name__ == "int8"
