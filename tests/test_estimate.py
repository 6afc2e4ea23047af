"""The wall-time estimate of a search (search/multitrial/estimate.py): its arithmetic on hand-made
parts, the
trials left in a project, and (slow) a real measurement on a tiny config, in the library and
through `mnasnet-search --estimate`, which writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from search.multitrial.config import SearchConfig
from search.multitrial.estimate import Estimate, trials_to_run

PARTS = dict(
    trials=10,
    epochs=3,
    steps_per_epoch=17,
    repeats=1,
    build_s=0.5,
    first_epoch_extra_s=5.0,
    step_s=0.1,
    epoch_overhead_s=0.2,
    finish_s=3.0,
    convert_s=2.0,
    latency_s=0.5,
    cores=2,
    bookkeeping_s=1.0,
    startup_s=8.0,
    processes=1,
    measure_s=20.0,
    references_trained=4,
    references_measured=3,
    export_s=6.0,
)


def test_a_trial_is_its_proxy_run_latency_and_bookkeeping():
    estimate = Estimate(**PARTS)
    assert estimate.epoch_s == pytest.approx(17 * 0.1 + 0.2)
    assert estimate.first_epoch_s == pytest.approx(5.0 + 1.9)
    # build + first epoch + 2 later epochs + BN and evaluation
    assert estimate.proxy_run_s == pytest.approx(0.5 + 6.9 + 2 * 1.9 + 3.0)
    assert estimate.proxy_s == estimate.proxy_run_s
    # The conversion fits beside training, taking one of the two cores while it runs.
    assert estimate.exposed_latency_s == pytest.approx(0.5 + 2.0 / 2)
    assert estimate.trial_s == pytest.approx(estimate.proxy_s + 1.5 + 1.0)
    assert estimate.references_s == pytest.approx(4 * estimate.proxy_s + 3 * 2.5)
    parts = estimate.parts()
    assert parts["trials"] == pytest.approx(10 * estimate.trial_s)
    assert parts["startup"] == pytest.approx(2 * 8.0)  # this process and one training process
    assert sum(parts.values()) == pytest.approx(estimate.total_s)
    assert all(value > 0 for value in parts.values())


def test_repeats_multiply_the_proxy_and_a_long_conversion_shows():
    once = Estimate(**PARTS)
    twice = Estimate(**{**PARTS, "repeats": 2})
    assert twice.proxy_s == pytest.approx(2 * once.proxy_s)
    slow_conversion = Estimate(**{**PARTS, "convert_s": once.proxy_s + 4.0})
    assert slow_conversion.exposed_latency_s == pytest.approx(0.5 + 4.0 + once.proxy_s / 2)


def test_workers_divide_the_trials_not_the_rest():
    estimate = Estimate(**PARTS)
    fixed = estimate.total_s - estimate.parts()["trials"] - estimate.parts()["startup"]
    assert estimate.total_for(1) == estimate.total_s
    assert estimate.total_for(2) == pytest.approx(fixed + 2 * 8.0 + 5 * estimate.trial_s)
    assert estimate.total_for(4) == pytest.approx(fixed + 2 * 8.0 + 3 * estimate.trial_s)
    assert estimate.total_for(4) < estimate.total_for(2) < estimate.total_s
    with pytest.raises(ValueError, match="got 0"):
        estimate.total_for(0)


def test_describe_and_summary_name_every_part():
    estimate = Estimate(**PARTS)
    text = estimate.describe()
    for word in ("start-up", "estimate", "references", "trials", "proxy", "tracing", "latency"):
        assert word in text
    assert "with 2 workers" in text and "with 4 workers" in text
    assert "upper bound" in text
    line = estimate.summary()
    assert "\n" not in line
    assert line.startswith("estimate: ~") and "10 trials" in line and "4 workers" in line


def _trial(project, trial_id: str, status: str) -> None:
    os.makedirs(project / f"trial_{trial_id}", exist_ok=True)
    (project / f"trial_{trial_id}" / "trial.json").write_text(
        json.dumps({"trial_id": trial_id, "status": status})
    )


def test_trials_to_run_counts_what_the_project_has_done(tmp_path):
    config = SearchConfig(max_trials=10, directory=str(tmp_path), project_name="p")
    assert trials_to_run(config) == 10  # no project yet
    for trial_id, status in [("0", "COMPLETED"), ("1", "FAILED"), ("2", "COMPLETED")]:
        _trial(tmp_path / "p", trial_id, status)
    _trial(tmp_path / "p", "3", "RUNNING")  # interrupted: it runs again
    assert trials_to_run(config) == 7
    assert trials_to_run(SearchConfig(**{**_fields(config), "trials_per_run": 4})) == 4
    assert trials_to_run(SearchConfig(**{**_fields(config), "overwrite": True})) == 10
    assert trials_to_run(SearchConfig(**{**_fields(config), "max_trials": 2})) == 0


def _fields(config: SearchConfig) -> dict:
    import dataclasses

    return {field.name: getattr(config, field.name) for field in dataclasses.fields(config)}


TINY = dict(
    dataset="digits",
    max_trials=4,
    epochs_per_trial=2,
    steps_per_epoch=3,
    batch_size=32,
    latency_image_size=32,
    latency_runs=3,
    references=("mobilenet-v2", "mobilenet-v3-small"),
    train_verbose=0,
)


@pytest.mark.slow
def test_a_tiny_config_is_measured_and_nothing_is_written(tmp_path):
    from search.multitrial.estimate import estimate

    config = SearchConfig(**TINY, directory=str(tmp_path), project_name="tiny")
    result = estimate(config)
    assert not (tmp_path / "tiny").exists()
    assert (result.trials, result.epochs, result.steps_per_epoch) == (4, 2, 3)
    for name in ("build_s", "first_epoch_extra_s", "step_s", "finish_s", "convert_s"):
        assert getattr(result, name) > 0, name
    for name in ("latency_s", "startup_s", "measure_s", "export_s"):
        assert getattr(result, name) > 0, name
    assert result.processes == 1  # 4 trials, one proxy training process (recycle_every 20)
    # Both references train; MobileNetV2's latency is what every search's estimate measures.
    assert (result.references_trained, result.references_measured) == (2, 1)
    parts = result.parts()
    assert all(value > 0 for value in parts.values()), parts
    assert parts["trials"] == pytest.approx(4 * result.trial_s)
    assert sum(parts.values()) == pytest.approx(result.total_s)
    assert result.total_for(4) < result.total_s


@pytest.mark.slow
def test_the_binary_prints_the_estimate_and_exits_without_a_project(tmp_path):
    flags = [f"--{name}={value}" for name, value in TINY.items() if name != "references"]
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "search.cli.mnasnet_search",
            *flags,
            "--references=mobilenet-v3-small",
            f"--directory={tmp_path}",
            "--project_name=demo",
            "--estimate",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-2000:]
    assert "Expected wall time: ~" in process.stdout
    assert "for 4 new trials" in process.stdout and "with 2 workers" in process.stdout
    assert not (tmp_path / "demo").exists()
    assert "Search finished" not in process.stdout
