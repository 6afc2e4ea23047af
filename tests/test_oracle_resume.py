"""A search process killed with SIGKILL mid-trial resumes where it stopped.

A subprocess runs a real keras-tuner search loop (`BaseTuner.search`) with `MnasOracle` (LSTM
REINFORCE) and fake metrics (a synthetic reward, no training); it is killed during one trial,
run again, and compared with a search that was never interrupted.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

MAX_TRIALS = 12
KILL_AT = "07"

DRIVER = r"""
import json, os, sys, time
import numpy as np
from keras_tuner.engine import base_tuner
from search.multitrial.oracle import MnasOracle
from search.controllers.reward import soft
from search.spaces.registry import get_space

directory, kill_at = sys.argv[1], sys.argv[2]
SPACE = get_space("mnasnet")
TARGET = np.asarray(SPACE.sample(np.random.default_rng(2024)))
REWARD = soft(target_ms=75.0)


class FakeTuner(base_tuner.BaseTuner):
    def run_trial(self, trial):
        if trial.trial_id == kill_at:
            with open(os.path.join(directory, "killing"), "w") as handle:
                handle.write(trial.trial_id)
            time.sleep(600)  # killed here
        choices = np.asarray(SPACE.from_values(trial.hyperparameters.values))
        return REWARD(float(np.mean(choices == TARGET)), 50.0 + choices.sum()).as_metrics()

    def on_search_begin(self):
        with open(os.path.join(directory, f"begin_{os.getpid()}.json"), "w") as handle:
            json.dump(self.oracle.controller.get_state(), handle)


oracle = MnasOracle(SPACE, policy="lstm", reward=REWARD, max_trials=int(sys.argv[3]), seed=3)
FakeTuner(oracle, directory=directory, project_name="search").search()
"""


def start(tmp_path, name: str, kill_at: str = "") -> subprocess.Popen:
    """Runs the driver on `tmp_path/name` (a second run on the same folder resumes it)."""
    directory = tmp_path / name
    directory.mkdir(exist_ok=True)
    (tmp_path / "driver.py").write_text(DRIVER)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", OPENBLAS_NUM_THREADS="1")
    log = open(directory / f"log_{time.time_ns()}.txt", "w")  # noqa: SIM115 - the child owns it
    return subprocess.Popen(
        [sys.executable, str(tmp_path / "driver.py"), str(directory), kill_at, str(MAX_TRIALS)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def trial_files(project) -> dict[str, dict]:
    return {
        name: read_json(project / name / "trial.json")
        for name in sorted(os.listdir(project))
        if name.startswith("trial_")
    }


@pytest.mark.slow
def test_kill_9_mid_trial_then_resume(tmp_path):
    reference = start(tmp_path, "reference")
    killed = start(tmp_path, "run", kill_at=KILL_AT)
    marker = tmp_path / "run" / "killing"
    deadline = time.time() + 300
    while not marker.exists():
        assert killed.poll() is None, "the search ended before the kill"
        assert time.time() < deadline, "the search never reached the trial to kill"
        time.sleep(0.2)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    project = tmp_path / "run" / "search"
    at_kill = read_json(project / "oracle.json")
    trials_at_kill = trial_files(project)
    completed_at_kill = {
        name: state for name, state in trials_at_kill.items() if state["status"] == "COMPLETED"
    }
    assert len(completed_at_kill) == int(KILL_AT)
    assert trials_at_kill[f"trial_{KILL_AT}"]["status"] == "RUNNING"

    marker.rename(tmp_path / "run" / "killed")
    resumed = start(tmp_path, "run")
    assert resumed.wait(timeout=300) == 0
    assert reference.wait(timeout=300) == 0

    # The resumed process started with the controller the killed one had saved.
    begins = sorted((tmp_path / "run").glob("begin_*.json"), key=os.path.getmtime)
    assert len(begins) == 2
    assert read_json(begins[-1]) == at_kill["mnas"]["controller"]
    # Completed trials are intact; the search reached max_trials.
    final_trials = trial_files(project)
    for name, state in completed_at_kill.items():
        assert final_trials[name] == state
    assert len(final_trials) == MAX_TRIALS
    assert all(state["status"] == "COMPLETED" for state in final_trials.values())
    # And it ended exactly where a search never interrupted ends.
    reference_project = tmp_path / "reference" / "search"
    final = read_json(project / "oracle.json")
    expected = read_json(reference_project / "oracle.json")
    assert final["mnas"]["controller"] == expected["mnas"]["controller"]
    reference_trials = trial_files(reference_project)
    for name, state in final_trials.items():
        assert (
            state["hyperparameters"]["values"]
            == (reference_trials[name]["hyperparameters"]["values"])
        )
        assert state["score"] == reference_trials[name]["score"]
