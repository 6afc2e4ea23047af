"""NetAdapt: weight inheritance (the narrow model equals the original restricted to the kept
filters), the adaptation loop on digits with its files and resume, and bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from keras_helpers import randomize_batch_norm

from mnasnet_tf import arch_string, specs, zoo
from search.adapt import units


def _narrowed(arch, unit):
    """`arch` with `unit` at the middle one of its valid narrower widths."""
    valid = [w for w in units.candidate_widths(arch, unit) if units.shrink(arch, unit, w)]
    return units.shrink(arch, unit, valid[len(valid) // 2])


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,together",
    [("mobilenet-v3-small", False), ("mnasnet-a1", True)],
    ids=["mobilenet-v3-small-each-unit", "mnasnet-a1-all-units-at-once"],
)
def test_inherited_model_equals_the_original_restricted_to_the_kept_filters(name, together):
    """One narrow model per unit for V3-Small; for MnasNet-A1 (same unit kinds, twice the
    blocks) one model with every unit narrowed at once, which checks that the restrictions
    compose as well as each one (and costs one build instead of ~30)."""
    from mnasnet_tf import builder
    from search.adapt import inherit

    rng = np.random.default_rng(0)
    arch = zoo.get_arch(name)
    logits = {"input_shape": (32, 32, 3), "classes": 10, "classifier_activation": None}
    original = builder.build_model(arch, **logits)
    randomize_batch_norm(original, spread=0.3)
    images = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    before = np.asarray(original(images, training=False))
    if together:
        narrow_arch = arch
        for unit in units.width_units(arch):
            narrow_arch = _narrowed(narrow_arch, unit)
        assert all(
            units.current_width(narrow_arch, u) < units.current_width(arch, u)
            for u in units.width_units(arch)
        )
        cases = [("all units", narrow_arch)]
    else:
        cases = [(unit.name, _narrowed(arch, unit)) for unit in units.width_units(arch)]
    changes = []
    for label, narrow_arch in cases:
        narrow = builder.build_model(narrow_arch, **logits)
        kept = inherit.inherit(original, narrow)
        assert kept, label
        expected = np.asarray(inherit.restrict(original, kept)(images, training=False))
        got = np.asarray(narrow(images, training=False))
        np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=label)
        changes.append(np.abs(got - before).max())
    assert max(changes) > 1e-3  # the check is not vacuous: dropping filters changes the output


@pytest.mark.slow
def test_kept_filters_are_those_with_the_largest_norm():
    from mnasnet_tf import builder
    from search.adapt import inherit

    arch = zoo.get_arch("mobilenet-v3-small")
    unit = next(u for u in units.width_units(arch) if u.name == "head")
    original = builder.build_model(arch, input_shape=(32, 32, 3), classes=10)
    narrow = builder.build_model(units.shrink(arch, unit, 64), input_shape=(32, 32, 3), classes=10)
    kept = inherit.inherit(original, narrow)
    kernel = np.asarray(original.get_layer("head_conv").kernel)
    norms = (kernel.reshape(-1, kernel.shape[-1]) ** 2).sum(axis=0)
    (indices,) = kept.values()
    assert len(indices) == 64 and list(indices) == sorted(indices)
    dropped = np.setdiff1d(np.arange(len(norms)), indices)
    assert norms[indices].min() >= norms[dropped].max()
    np.testing.assert_array_equal(
        np.asarray(narrow.get_layer("head_conv").kernel), kernel[..., indices]
    )


@pytest.mark.slow
def test_inherit_refuses_a_different_topology():
    from mnasnet_tf import builder
    from search.adapt import inherit

    a = builder.build_model(zoo.get_arch("mobilenet-v3-small"), input_shape=(32, 32, 3))
    b = builder.build_model(zoo.get_arch("mnasnet-small"), input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="layers differ"):
        inherit.inherit(a, b)


# ---- the loop ----

TINY = specs.ArchSpec(
    blocks=(
        specs.BlockSpec(num_repeat=1, kernel_size=3, stride=1, output_filters=16, op="sep"),
        specs.BlockSpec(
            num_repeat=2, kernel_size=3, stride=2, output_filters=32, expand_ratio=4, se_ratio=0.25
        ),
    ),
    stem_filters=16,
    head_filters=256,
    name="tiny",
)


@pytest.fixture(autouse=True)
def _one_round_of_remeasuring(monkeypatch):
    """The interleaved re-measurement in one round instead of three (conversions are slow)."""
    from search.adapt import sizing as latency

    monkeypatch.setattr(latency, "PAIR_ROUNDS", 1)


def _config(tmp_path, **changes):
    from search.adapt.config import AdaptConfig

    arch_path = str(tmp_path / "tiny.json")
    arch_string.save_json(TINY, arch_path)
    values = {
        "model": arch_path,
        "output_dir": str(tmp_path / "adapt"),
        "latency_fraction": 0.8,
        "initial_step": 0.1,
        "pretrain_epochs": 1,
        "short_term_steps": 2,
        "long_term_epochs": 1,
        "runs": 20,
        "progress": False,
    }
    values.update(changes)
    return AdaptConfig(**values)


@pytest.mark.slow
def test_adapt_meets_the_target_writes_its_files_and_resumes(tmp_path, monkeypatch):
    from search.adapt import netadapt, outputs

    config = _config(tmp_path)
    accepted = outputs.Run.accept

    def killed_after_one(self, *args, **kwargs):
        accepted(self, *args, **kwargs)
        raise KeyboardInterrupt  # the user presses Ctrl-C after iteration 1

    monkeypatch.setattr(outputs.Run, "accept", killed_after_one)
    with pytest.raises(KeyboardInterrupt):
        netadapt.adapt(config)
    with open(os.path.join(config.output_dir, "state.json")) as handle:
        first = json.load(handle)["trajectory"]
    assert len(first) == 2
    monkeypatch.setattr(outputs.Run, "accept", accepted)

    result = netadapt.adapt(config)  # resumes after iteration 1
    summary = result.summary
    rows = json.load(open(os.path.join(config.output_dir, "state.json")))["trajectory"]
    assert rows[:2] == first
    assert result.stopped == "target met"
    assert result.latency_ms <= result.target_ms  # measured again beside the original
    assert result.target_ms == pytest.approx(0.8 * result.original_latency_ms)
    assert summary["iterations"] == len(rows) - 1 >= 1
    for name in (
        "adapted_arch.json",
        "trajectory.csv",
        "trajectory.png",
        "model.keras",
        "model_float32.tflite",
        "model_int8.tflite",
        "summary.json",
        "trials.csv",  # the reports every search writes
        "pareto.csv",
        "pareto.png",
    ):
        assert os.path.getsize(os.path.join(config.output_dir, name)) > 0, name
    assert {"best", "front", "references", "verdict", "trials"} <= set(summary)
    assert summary["trials"] == len(rows)  # each kept model, then the adapted one
    assert summary["references"][0]["latency_ms"] == result.original_latency_ms
    assert "beats tiny (original)" in summary["verdict"][0]
    assert summary["adapted_widths"] == units.describe(result.arch)
    assert summary["adapted_widths"] != summary["original_widths"]
    adapted = zoo.resolve_arch(os.path.join(config.output_dir, "adapted_arch.json"))
    assert adapted == result.arch and adapted != TINY
    assert summary["int8_latency_ms"] > 0 and set(summary["tflite_test_accuracy"]) == {
        "model.keras",
        "model_float32.tflite",
        "model_int8.tflite",
    }
    with open(os.path.join(config.output_dir, "trajectory.csv")) as handle:
        assert len(handle.read().strip().splitlines()) == len(rows) + 1
    again = netadapt.adapt(config)  # a finished run is read back, nothing redone
    assert again.summary == summary


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"latency_fraction": 1.0}, "--latency_fraction must be a number in \\(0, 1\\); got 1.0"),
        ({"latency_fraction": 0}, "--latency_fraction must be a number in \\(0, 1\\); got 0"),
        ({"latency_fraction": None}, "exactly one of"),
        ({"latency_target_ms": 3.0}, "exactly one of"),
        ({"backend": "phone"}, "--backend must be one of .*got 'phone'"),
        ({"initial_step": 1.5}, "--initial_step must be a number in \\(0, 1\\); got 1.5"),
        ({"short_term_steps": -1}, "--short_term_steps must be an integer >= 0; got -1"),
    ],
)
def test_bad_settings_are_refused_naming_the_value(tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        _config(tmp_path, **changes)


@pytest.mark.slow
def test_a_target_above_the_current_latency_is_refused(tmp_path):
    from search.adapt import netadapt

    config = _config(tmp_path, latency_fraction=None, latency_target_ms=1e6, pretrain_epochs=0)
    with pytest.raises(ValueError, match="latency target 1000000.000 ms is not below tiny's"):
        netadapt.adapt(config)


@pytest.mark.slow
def test_a_model_that_cannot_shrink_stops_with_a_clear_result(tmp_path):
    from search.adapt import netadapt

    narrowest = TINY.replace(
        blocks=(TINY.blocks[0].replace(output_filters=8),), stem_filters=8, head_filters=8
    )
    arch_string.save_json(narrowest, str(tmp_path / "narrow.json"))
    config = _config(
        tmp_path, model=str(tmp_path / "narrow.json"), pretrain_epochs=0, long_term_epochs=0
    )
    result = netadapt.adapt(config)
    assert result.stopped.startswith("stopped at ") and "no layer can shrink further" in (
        result.stopped
    )
    assert result.iterations == 0 and result.arch == narrowest


def test_a_keras_file_without_its_arch_json_is_refused(tmp_path):
    from search.adapt import netadapt

    path = tmp_path / "model.keras"
    path.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="has no arch.json beside it"):
        netadapt.adapt(_config(tmp_path, model=str(path)))


def test_a_corrupt_state_file_is_named(tmp_path):
    from search.adapt import netadapt

    config = _config(tmp_path)
    os.makedirs(config.output_dir)
    with open(os.path.join(config.output_dir, "state.json"), "w") as handle:
        handle.write("{half")
    with pytest.raises(
        ValueError, match="state.json is not a readable state file of a NetAdapt run"
    ):
        netadapt.adapt(config)


def test_the_binary_requires_a_model_and_takes_its_defaults_from_the_config(tmp_path):
    from absl import flags

    from search.adapt.config import AdaptConfig
    from search.cli import mnasnet_adapt as adapt_main

    values = flags.FlagValues()
    adapt_main._define_flags(values)
    values(["prog"])
    with pytest.raises(ValueError, match="--model is required"):
        adapt_main.config_from_flags(values)
    values(["prog", "--model=mobilenet-v3-small", "--latency_fraction=0.5", "--adb_serial=X1"])
    config = adapt_main.config_from_flags(values)
    assert config == AdaptConfig(
        model="mobilenet-v3-small", output_dir="runs/adapt", latency_fraction=0.5, adb_serial="X1"
    )
    assert config.adb_settings() == {"serial": "X1"}
