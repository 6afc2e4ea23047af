"""Failures during a search: trials that fail in a row stop it cleanly (every trial file says how
its trial ended, the message names the cause and --max_consecutive_failed_trials), a search in
which nothing completed ends with a clear message and a non-zero exit code.

The oracle is driven with fake outcomes (no model is built); real (tiny) searches whose
trials all fail fast run in process and, once, as the binary (slow: it trains until the loss is
NaN).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
from oracle_helpers import make_oracle

from search.controllers.reward import soft
from search.multitrial.config import SearchConfig
from search.multitrial.oracle import FailureStop, MnasOracle, failure_reason
from search.spaces.registry import get_space

SPACE = get_space("mnasnet")
REWARD = soft(target_ms=75.0)
NAN_MESSAGE = (
    "Traceback (most recent call last):\n  ...\n"
    "keras_tuner.src.errors.FailedTrialError: NaN loss during proxy training (epoch 1)\n"
)


def run_one(oracle, status: str):
    """One trial ending with `status` (a FAILED one with a NaN traceback); None at STOPPED."""
    trial = oracle.create_trial("tuner0")
    if trial.status == "STOPPED":
        return None
    if status == "COMPLETED":
        oracle.update_trial(trial.trial_id, REWARD(0.5, 70.0).as_metrics())
    else:
        trial.message = NAN_MESSAGE
    trial.status = status
    oracle.end_trial(trial)
    return trial


def trial_statuses(project) -> dict[str, str]:
    """Trial id → status, as the trial files of the project folder say."""
    statuses = {}
    for name in sorted(os.listdir(project)):
        path = os.path.join(project, name, "trial.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                state = json.load(handle)
            statuses[state["trial_id"]] = state["status"]
    return statuses


def test_the_oracle_stops_after_the_limit_of_failures_in_a_row(tmp_path):
    oracle = make_oracle(tmp_path, max_consecutive_failed_trials=3)
    for status in ("COMPLETED", "FAILED", "FAILED", "COMPLETED", "FAILED", "FAILED"):
        assert run_one(oracle, status) is not None
    assert oracle.failure_stop is None  # a completed trial resets the count
    last = run_one(oracle, "FAILED")
    assert oracle.failure_stop == FailureStop(
        count=3,
        limit=3,
        trial_id=last.trial_id,
        reason="NaN loss during proxy training (epoch 1)",
    )
    assert "3 trials failed in a row" in oracle.failure_stop.describe()
    assert oracle.create_trial("tuner0").status == "STOPPED"
    # Every trial file says how its trial ended: none is left RUNNING.
    statuses = trial_statuses(tmp_path / "search")
    assert len(statuses) == 7
    assert set(statuses.values()) == {"COMPLETED", "FAILED"}


def test_zero_never_stops(tmp_path):
    oracle = make_oracle(tmp_path, max_trials=6, max_consecutive_failed_trials=0)
    trials = []
    while (trial := run_one(oracle, "FAILED")) is not None:
        trials.append(trial)
    assert len(trials) == 6 and oracle.failure_stop is None
    assert set(trial_statuses(tmp_path / "search").values()) == {"FAILED"}


def test_a_resumed_search_counts_the_failures_it_ended_with(tmp_path):
    oracle = make_oracle(tmp_path, max_consecutive_failed_trials=2)
    run_one(oracle, "FAILED")
    run_one(oracle, "FAILED")
    assert oracle.failure_stop is not None
    resumed = make_oracle(tmp_path, max_consecutive_failed_trials=2)
    resumed.reload()
    assert resumed.failure_stop is None  # the same command goes on …
    run_one(resumed, "FAILED")
    assert resumed.failure_stop.count == 3  # … until one more failure
    raised = make_oracle(tmp_path, max_consecutive_failed_trials=5)
    raised.reload()
    run_one(raised, "FAILED")
    assert raised.failure_stop is None  # a larger limit lets it go on


def test_keras_tuners_own_check_does_not_raise(tmp_path):
    """keras-tuner raises RuntimeError in end_trial at its limit (3 by default)."""
    oracle = make_oracle(tmp_path, max_consecutive_failed_trials=None)
    for _ in range(5):
        run_one(oracle, "FAILED")
    assert oracle.failure_stop is None


@pytest.mark.parametrize("bad", [-1, 2.5, "3", True])
def test_bad_limits_are_refused_naming_the_value(bad):
    with pytest.raises(ValueError, match=f"max_consecutive_failed_trials.*{bad!r}"):
        MnasOracle(SPACE, reward=REWARD, max_consecutive_failed_trials=bad)
    with pytest.raises(ValueError, match=f"--max_consecutive_failed_trials.*{bad!r}"):
        SearchConfig(max_consecutive_failed_trials=bad)


def test_failure_reason_is_the_last_line_without_the_tuners_error_type():
    assert failure_reason(NAN_MESSAGE) == "NaN loss during proxy training (epoch 1)"
    assert failure_reason("Traceback\nValueError: bad kernel") == "ValueError: bad kernel"
    assert failure_reason(None) == "no reason recorded"


# ---- real searches whose trials all fail ----
# In process, proxy training is replaced by one whose loss goes NaN at once (no model is
# trained). The binary's trials really diverge: a learning rate of 1e30 makes the loss NaN on
# the third batch.

FAST = dict(
    dataset="digits",
    max_trials=5,
    epochs_per_trial=1,
    steps_per_epoch=3,
    batch_size=32,
    latency_image_size=32,
    latency_target_ms=5.0,
    references=(),
    train_references=False,
    export=False,
    log_estimate=False,
    recycle_every=0,
    train_verbose=0,
)


def _rows(project: str) -> list[dict[str, str]]:
    with open(os.path.join(project, "trials.csv"), encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def diverging(monkeypatch):
    """Proxy training whose loss is NaN in its first epoch."""
    from search.proxy import worker as proxy_worker
    from search.proxy.task import ProxyOutcome, arch_seed

    def run_proxy(arch, *, task, data, search_seed, callbacks=(), keep_model=False):
        seed = arch_seed(search_seed, arch)
        return ProxyOutcome(0.0, 0.0, (), (seed,), 0.01, True, 0), None

    monkeypatch.setattr(proxy_worker, "run_proxy", run_proxy)


@pytest.mark.slow  # run_search measures a trial's cost before it starts
def test_a_search_in_which_every_trial_fails_records_each_reason(tmp_path, diverging):
    from search.multitrial.run import run_search

    config = SearchConfig(
        **FAST,
        directory=str(tmp_path),
        project_name="all",
        max_consecutive_failed_trials=6,
    )
    result = run_search(config)
    rows = _rows(config.project_dir)
    assert [row["status"] for row in rows] == ["FAILED"] * 5
    assert all(row["reason"].endswith("NaN loss during proxy training (epoch 1)") for row in rows)
    assert set(trial_statuses(tmp_path / "all").values()) == {"FAILED"}
    assert result.failure_stop is None and result.best is None and result.exported == {}
    assert result.problem.startswith(
        "no trial completed: 5 of 5 failed (the last, trial 4: NaN loss during proxy training "
        "(epoch 1)); every trial's reason is in "
    )
    assert result.problem.endswith(f"{os.path.join(config.project_dir, 'trials.csv')}.")


@pytest.mark.slow  # run_search measures a trial's cost before it starts
def test_a_search_stops_after_the_limit_and_names_the_flag(tmp_path, diverging):
    from search.multitrial.run import run_search

    config = SearchConfig(
        **FAST,
        directory=str(tmp_path),
        project_name="stop",
        max_consecutive_failed_trials=2,
    )
    result = run_search(config)
    rows = _rows(config.project_dir)
    assert [row["status"] for row in rows] == ["FAILED", "FAILED"]
    assert set(trial_statuses(tmp_path / "stop").values()) == {"FAILED"}
    assert (result.failure_stop.count, result.failure_stop.trial_id) == (2, "1")
    assert result.problem.startswith("search stopped: 2 trials failed in a row (the last, trial 1")
    assert "NaN loss during proxy training (epoch 1)" in result.problem
    assert "--max_consecutive_failed_trials (now 2" in result.problem
    assert "\n" not in result.problem


DIVERGING_BINARY = """
import sys
from search.proxy import worker as proxy_worker
from search.proxy.task import ProxyOutcome, arch_seed

def run_proxy(arch, *, task, data, search_seed, callbacks=(), keep_model=False):
    return ProxyOutcome(0.0, 0.0, (), (arch_seed(search_seed, arch),), 0.01, True, 0), None

proxy_worker.run_proxy = run_proxy
from search.cli.mnasnet_search import run_main
run_main()
"""
"""mnasnet-search, with proxy training that diverges (the search refuses a learning rate so large
that its pre-search estimate would diverge too)."""


@pytest.mark.slow  # the binary measures a trial's cost (trains a few steps) before it starts
def test_the_binary_exits_non_zero_with_one_line_naming_the_cause_and_the_flag(tmp_path):
    process = subprocess.run(
        [
            sys.executable,
            "-c",
            DIVERGING_BINARY,
            f"--directory={tmp_path}",
            "--project_name=binary",
            "--max_trials=5",
            "--max_consecutive_failed_trials=2",
            "--nolog_estimate",
            "--steps_per_epoch=3",
            "--epochs_per_trial=1",
            "--batch_size=32",
            "--latency_image_size=32",
            "--latency_runs=2",
            "--latency_target_ms=5",
            "--references=",
            "--train_references=false",
            "--export=false",
            "--recycle_every=0",
            "--train_verbose=0",
        ],
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert process.returncode == 1, process.stdout[-2000:] + process.stderr[-3000:]
    # One line of the binary's own (TensorFlow's C++ logs of child processes may interleave).
    ours = [line for line in process.stderr.splitlines() if line.startswith("mnasnet-search:")]
    assert len(ours) == 1, process.stderr[-3000:]
    last = ours[0]
    assert last.startswith("mnasnet-search: search stopped: 2 trials failed in a row")
    assert "NaN loss during proxy training (epoch 1)" in last
    assert "--max_consecutive_failed_trials (now 2" in last
    # keras-tuner prints each failed trial's traceback; the search itself ends with that line.
    assert "Number of consecutive failures exceeded" not in process.stderr
    assert "2 trials, 2 failed" in process.stdout
    assert len(_rows(str(tmp_path / "binary"))) == 2
    assert set(trial_statuses(tmp_path / "binary").values()) == {"FAILED"}


def test_the_default_limit_is_larger_than_keras_tuners():
    assert SearchConfig().max_consecutive_failed_trials == 10
    assert MnasOracle(SPACE, reward=REWARD).consecutive_failure_limit == 10
