"""Tests of search/multitrial/oracle.py, driving create_trial / update_trial / end_trial with fake
metrics
(no model is built or trained; tests/oracle_helpers.py)."""

import json
import os
import shutil

import keras_tuner
import numpy as np
import pytest
from oracle_helpers import (
    SPACE,
    controller_state,
    fake_metrics,
    learned_state,
    make_oracle,
    run_all,
    run_one,
)

from search.multitrial import oracle as oracle_module
from search.multitrial.oracle import MnasOracle
from search.spaces.registry import get_space

# ---- the search ----


def test_space_is_declared_up_front_and_never_grows(tmp_path):
    oracle = make_oracle(tmp_path)
    assert [hp.name for hp in oracle.get_space().space] == SPACE.names()
    trial = run_one(oracle)
    assert set(trial.hyperparameters.values) == set(SPACE.names())
    grown = oracle.get_space()
    grown.Float("learning_rate", 1e-3, 1e-1)
    with pytest.raises(RuntimeError, match="allow_new_entries"):
        oracle.update_space(grown)


@pytest.mark.slow
def test_reward_goes_up_and_stops_at_max_trials(tmp_path):
    oracle = make_oracle(tmp_path, max_trials=120)
    trials = run_all(oracle)
    assert len(trials) == 120 and len(oracle.trials) == 120
    assert oracle.create_trial("tuner0").status == "STOPPED"
    rewards = [oracle.trials[t.trial_id].score for t in trials]
    assert np.mean(rewards[-30:]) > np.mean(rewards[:30]) + 0.1
    assert oracle.controller.num_updates == 120
    assert oracle.get_best_trials()[0].score == max(rewards)
    best = oracle.arch_of(oracle.get_best_trials()[0])
    assert best.name.startswith("trial-") and len(best.blocks) == 7
    with open(os.path.join(tmp_path, "search", "oracle.json"), encoding="utf-8") as handle:
        saved = json.load(handle)
    assert len(saved["entropy_history"]) == 120
    assert saved["entropy_history"]["000"] == pytest.approx(np.log(SPACE.choice_sizes()).sum())
    # The reward baseline each trial was sampled under: none before the first reward, then an
    # EMA of the rewards (it rises as the rewards do).
    baselines = saved["baseline_history"]
    assert "000" not in baselines and len(baselines) == 119
    assert baselines["001"] == pytest.approx(rewards[0])
    assert baselines["119"] > baselines["010"]


def test_random_algorithm(tmp_path):
    oracle = make_oracle(tmp_path, algorithm="random", max_trials=20)
    trials = run_all(oracle)
    assert len(trials) == 20
    assert len({json.dumps(t.hyperparameters.values, sort_keys=True) for t in trials}) == 20
    assert oracle.controller.entropy() == pytest.approx(np.log(SPACE.choice_sizes()).sum())


def test_ppo_buffers_trials(tmp_path):
    oracle = make_oracle(tmp_path, algorithm="ppo", update_every=4, max_trials=12)
    for expected_buffer in (1, 2, 3):
        run_one(oracle)
        assert len(oracle.buffer) == expected_buffer and oracle.controller.num_updates == 0
    run_one(oracle)
    assert oracle.buffer == [] and oracle.controller.num_updates == 1
    assert set(oracle.last_update) >= {"clip_fraction", "approx_kl", "reward_mean"}
    run_one(oracle)
    state = json.loads(json.dumps(oracle.get_state()))
    assert len(state["mnas"]["buffer"]) == 1
    assert oracle_module.DEFAULT_UPDATE_EVERY["ppo"] == 8


# ---- failures ----


def test_failed_trials_do_not_update_the_policy(tmp_path):
    oracle = make_oracle(tmp_path)
    run_one(oracle)
    before = learned_state(oracle)
    failed = run_one(oracle, status="FAILED")
    assert oracle.trials[failed.trial_id].status == "FAILED"
    assert learned_state(oracle) == before
    assert oracle.pending == {}
    no_reward = run_one(oracle, report=False)  # COMPLETED without a reward: FAILED
    assert oracle.trials[no_reward.trial_id].status == "FAILED"
    assert "no reward was reported" in oracle.trials[no_reward.trial_id].message
    assert learned_state(oracle) == before


def test_failed_reward_is_a_penalty(tmp_path):
    oracle = make_oracle(tmp_path, failed_reward=0.0)
    run_one(oracle)
    run_one(oracle, status="FAILED")
    assert oracle.controller.num_updates == 2
    assert oracle.last_update["reward_mean"] == 0.0


def test_invalid_trials_are_retried_then_learned_once(tmp_path):
    oracle = make_oracle(tmp_path, max_retries_per_trial=1)
    first = oracle.create_trial("tuner0")
    first.status = "INVALID"
    oracle.end_trial(first)
    assert oracle.controller.num_updates == 0 and first.trial_id in oracle.pending
    again = oracle.create_trial("tuner0")
    assert again.trial_id == first.trial_id
    assert again.hyperparameters.values == first.hyperparameters.values
    oracle.update_trial(
        again.trial_id, fake_metrics(SPACE.from_values(again.hyperparameters.values))
    )
    again.status = "COMPLETED"
    oracle.end_trial(again)
    assert oracle.controller.num_updates == 1 and oracle.pending == {}


# ---- state and resume ----


def test_state_round_trip(tmp_path):
    oracle = make_oracle(tmp_path / "a", policy="lstm", max_trials=10)
    for _ in range(5):
        run_one(oracle)
    state = json.loads(json.dumps(oracle.get_state()))
    other = make_oracle(tmp_path / "b", policy="lstm", max_trials=10, seed=99)
    other.set_state(state)
    assert controller_state(other) == controller_state(oracle)
    assert other.populate_space("x") == oracle.populate_space("x")
    with pytest.raises(ValueError, match="the saved search used algorithm='reinforce'"):
        make_oracle(tmp_path / "c", policy="lstm", algorithm="ppo").set_state(state)
    with pytest.raises(ValueError, match="the saved search used space='mnasnet'"):
        MnasOracle(get_space("mobilenetv3-small")).set_state(state)


def test_reload_retries_the_running_trial_and_continues_as_if_never_stopped(tmp_path):
    reference = make_oracle(tmp_path / "reference", max_trials=20)
    run_all(reference)

    oracle = make_oracle(tmp_path / "killed", max_trials=20)
    for _ in range(8):
        run_one(oracle)
    running = oracle.create_trial("tuner0")  # the process dies during this trial
    saved = controller_state(oracle)

    resumed = make_oracle(tmp_path / "killed", max_trials=20, seed=12345)
    resumed.reload()
    assert controller_state(resumed) == saved
    assert len(resumed.trials) == 9 and resumed.ongoing_trials == {}
    again = resumed.create_trial("tuner0")
    assert (again.trial_id, again.hyperparameters.values) == (
        running.trial_id,
        running.hyperparameters.values,
    )
    resumed.update_trial(
        again.trial_id, fake_metrics(SPACE.from_values(again.hyperparameters.values))
    )
    again.status = "COMPLETED"
    resumed.end_trial(again)
    run_all(resumed)
    assert len(resumed.trials) == 20
    assert all(t.status == "COMPLETED" for t in resumed.trials.values())
    assert controller_state(resumed) == controller_state(reference)
    assert {k: t.hyperparameters.values for k, t in resumed.trials.items()} == {
        k: t.hyperparameters.values for k, t in reference.trials.items()
    }


def test_reload_finishes_a_trial_that_completed_before_the_oracle_was_saved(tmp_path):
    reference = make_oracle(tmp_path / "reference", max_trials=6)
    run_all(reference)

    oracle = make_oracle(tmp_path / "killed", max_trials=6)
    for _ in range(3):
        run_one(oracle)
    trial = oracle.create_trial("tuner0")
    oracle.update_trial(
        trial.trial_id, fake_metrics(SPACE.from_values(trial.hyperparameters.values))
    )
    # end_trial died after writing trial.json and before writing oracle.json:
    stored = oracle.trials[trial.trial_id]
    stored.status = "COMPLETED"
    oracle.score_trial(stored)
    oracle._save_trial(stored)

    resumed = make_oracle(tmp_path / "killed", max_trials=6)
    resumed.reload()
    assert resumed.trials[trial.trial_id].status == "COMPLETED"
    assert trial.trial_id in resumed.end_order
    assert resumed.controller.num_updates == 4
    run_all(resumed)
    assert len(resumed.trials) == 6
    assert controller_state(resumed) == controller_state(reference)


def test_reload_requeues_a_trial_lost_between_its_two_writes(tmp_path):
    oracle = make_oracle(tmp_path, max_trials=6)
    for _ in range(3):
        run_one(oracle)
    project = os.path.join(tmp_path, "search")
    shutil.copy(os.path.join(project, "oracle.json"), os.path.join(tmp_path, "before.json"))
    lost = oracle.create_trial("tuner0")
    # Died after trial.json, before oracle.json:
    shutil.copy(os.path.join(tmp_path, "before.json"), os.path.join(project, "oracle.json"))

    resumed = make_oracle(tmp_path, max_trials=6)
    resumed.reload()
    again = resumed.create_trial("tuner0")
    assert (again.trial_id, again.hyperparameters.values) == (
        lost.trial_id,
        lost.hyperparameters.values,
    )
    resumed.update_trial(
        again.trial_id, fake_metrics(SPACE.from_values(again.hyperparameters.values))
    )
    again.status = "COMPLETED"
    resumed.end_trial(again)
    assert resumed.controller.num_updates == 4
    assert len(run_all(resumed)) == 2 and len(resumed.trials) == 6


def test_files_are_written_atomically(tmp_path):
    oracle = make_oracle(tmp_path)
    run_one(oracle)
    names = sorted(os.listdir(os.path.join(tmp_path, "search")))
    assert names == ["oracle.json", "oracle.json.bak", "trial_00"]  # .bak: the previous state
    assert os.listdir(os.path.join(tmp_path, "search", "trial_00")) == ["trial.json"]


# ---- distributed search ----


def test_worker_timeout_hands_a_lost_trial_to_another_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(oracle_module, "IDLE_PAUSE_S", 0.0)
    now = [0.0]
    oracle = make_oracle(tmp_path, max_trials=3, worker_timeout_s=100.0)
    oracle.clock = lambda: now[0]
    lost = oracle.create_trial("worker1")
    second = oracle.create_trial("worker2")
    now[0] = 150.0
    oracle.update_trial(
        second.trial_id, fake_metrics(SPACE.from_values(second.hyperparameters.values))
    )
    second.status = "COMPLETED"
    oracle.end_trial(second)
    taken = oracle.create_trial("worker2")  # worker1 has been silent for 150 s
    assert (taken.trial_id, taken.hyperparameters.values) == (
        lost.trial_id,
        lost.hyperparameters.values,
    )
    assert "worker1" not in oracle.tuner_ids
    third = oracle.create_trial("worker3")
    assert oracle.create_trial("worker4").status == "IDLE"  # max_trials, others still running
    for trial in (taken, third):
        oracle.update_trial(
            trial.trial_id, fake_metrics(SPACE.from_values(trial.hyperparameters.values))
        )
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    updates = oracle.controller.num_updates
    lost.status = "COMPLETED"
    oracle.end_trial(lost)  # worker1 was only slow: ignored
    assert oracle.controller.num_updates == updates == 3
    assert oracle.create_trial("worker4").status == "STOPPED"


def test_get_trial_heartbeat_keeps_a_slow_trial_with_its_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(oracle_module, "IDLE_PAUSE_S", 0.0)
    now = [0.0]
    oracle = make_oracle(tmp_path, max_trials=2, worker_timeout_s=100.0)
    oracle.clock = lambda: now[0]
    slow = oracle.create_trial("worker1")
    for t in (60.0, 120.0, 180.0):  # worker1 reports after every epoch
        now[0] = t
        oracle.get_trial(slow.trial_id)
    other = oracle.create_trial("worker2")
    assert other.trial_id != slow.trial_id  # a new trial, not worker1's
    assert "worker1" in oracle.tuner_ids
    now[0] = 300.0  # now 120 s of silence: lost
    oracle.update_trial(
        other.trial_id, fake_metrics(SPACE.from_values(other.hyperparameters.values))
    )
    other.status = "COMPLETED"
    oracle.end_trial(other)
    assert oracle.create_trial("worker2").trial_id == slow.trial_id


def test_constructor_errors():
    with pytest.raises(ValueError, match="one objective to maximise"):
        MnasOracle(SPACE, objective=keras_tuner.Objective("latency_ms", "min"))
    with pytest.raises(ValueError, match="max_trials must be a positive integer"):
        MnasOracle(SPACE, max_trials=0)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        MnasOracle(SPACE, algorithm="bayes")
    with pytest.raises(ValueError, match="worker_timeout_s must be positive"):
        MnasOracle(SPACE, worker_timeout_s=0)


def test_trials_per_run_stops_the_process_and_a_resume_goes_on_identically(tmp_path):
    reference = make_oracle(tmp_path / "reference", max_trials=10)
    run_all(reference)

    oracle = make_oracle(tmp_path / "chunked", max_trials=10, trials_per_run=4)
    counts = [len(run_all(oracle))]
    assert oracle.create_trial("tuner0").status == "STOPPED"  # and stays so in this process
    while len(oracle.trials) < 10:
        oracle = make_oracle(tmp_path / "chunked", max_trials=10, trials_per_run=4, seed=99)
        oracle.reload()
        counts.append(len(run_all(oracle)))
    assert counts == [4, 4, 2]
    assert controller_state(oracle) == controller_state(reference)
    assert {k: t.hyperparameters.values for k, t in oracle.trials.items()} == {
        k: t.hyperparameters.values for k, t in reference.trials.items()
    }
    with pytest.raises(ValueError, match="trials_per_run must be a positive integer"):
        MnasOracle(SPACE, trials_per_run=0)
