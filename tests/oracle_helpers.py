"""Driving a `MnasOracle` as a tuner would, with fake metrics (no model is built or trained):
shared by the oracle, fault and failure tests.

`make_oracle(directory, project, **kwargs)` (REINFORCE on independent categoricals, 30 trials,
seed 1), `run_one` (one trial, COMPLETED with `fake_metrics` unless told otherwise), `run_all`,
and the controller's state as JSON (`controller_state`, `learned_state`).
"""

import json

import numpy as np

from search.controllers.reward import soft
from search.multitrial.oracle import MnasOracle
from search.spaces.registry import get_space

SPACE = get_space("mnasnet")
TARGET = SPACE.sample(np.random.default_rng(2024))
REWARD = soft(target_ms=75.0)


def fake_metrics(choices) -> dict[str, float]:
    """Accuracy = fraction of decisions equal to TARGET's; latency grows with the MBConv ×6
    blocks; reward = the soft MnasNet reward."""
    accuracy = float(np.mean(np.asarray(choices) == np.asarray(TARGET)))
    ops = [SPACE.to_values(choices)[f"block{b}/conv_op"] for b in range(1, 8)]
    latency = 50.0 + 10.0 * ops.count("mbconv_e6")
    return REWARD(accuracy, latency).as_metrics()


def make_oracle(directory, project="search", **kwargs) -> MnasOracle:
    kwargs = dict(algorithm="reinforce", policy="independent", max_trials=30, seed=1) | kwargs
    oracle = MnasOracle(SPACE, reward=REWARD, **kwargs)
    oracle.verbose = 0
    # What BaseTuner.__init__ does; keras-tuner has no public setter for the project directory.
    oracle._set_project_dir(str(directory), project)
    return oracle


def run_one(oracle, tuner_id="tuner0", *, status="COMPLETED", report=True):
    """One trial as the tuner runs it; None when the oracle says STOPPED."""
    trial = oracle.create_trial(tuner_id)
    if trial.status == "STOPPED":
        return None
    assert trial.status == "RUNNING"
    if report:
        choices = SPACE.from_values(trial.hyperparameters.values)
        oracle.update_trial(trial.trial_id, fake_metrics(choices))
    trial.status = status
    oracle.end_trial(trial)
    return trial


def run_all(oracle, tuner_id="tuner0") -> list:
    trials = []
    while (trial := run_one(oracle, tuner_id)) is not None:
        trials.append(trial)
    return trials


def controller_state(oracle):
    return json.loads(json.dumps(oracle.controller.get_state()))


def learned_state(oracle):
    """The controller state without the sampling RNG and counters."""
    state = controller_state(oracle)
    return {k: v for k, v in state.items() if k not in ("rng", "num_samples")}
