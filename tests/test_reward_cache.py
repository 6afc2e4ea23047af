"""The reward cache of search/multitrial/tuner.py: an architecture sampled again is not trained
again, its
recorded result still teaches the controller, trials.csv says where it came from, and a resumed
search keeps the cache. Proxy training and latency are faked (no model is built)."""

import csv
import os

import numpy as np
import pytest
from latency_fakes import FakeMeter

from search.controllers.reward import soft
from search.multitrial import tuner as tuner_module
from search.multitrial.oracle import MnasOracle
from search.proxy import worker as proxy_worker
from search.proxy.task import FixedData, ProxyOutcome, ProxyTask
from search.spaces.registry import get_space

SPACE = get_space("mnasnet")
REWARD = soft(target_ms=10.0)
ARCHS = [SPACE.sample(np.random.default_rng(seed)) for seed in (1, 2)]


class FakeModel:
    def save(self, path):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("model")


@pytest.fixture
def trained(monkeypatch):
    """Replaces proxy training; records which architectures were trained."""
    calls = []

    def fake_run_proxy(arch, *, task, data, search_seed, callbacks=(), keep_model=False):
        calls.append(arch)
        accuracy = 0.5 + 0.1 * len(calls)
        outcome = ProxyOutcome(accuracy, 0.0, (accuracy,), (0,), 1.0, False, task.epochs)
        return outcome, FakeModel()

    monkeypatch.setattr(proxy_worker, "run_proxy", fake_run_proxy)
    return calls


def _search(directory, max_trials, *, reuse=True):
    oracle = MnasOracle(
        SPACE,
        algorithm="reinforce",
        policy="independent",
        reward=REWARD,
        max_trials=max_trials,
        seed=0,
    )
    picks = iter(range(10**6))

    def sample():  # alternates between two architectures
        choices = ARCHS[next(picks) % 2]
        return list(choices), oracle.controller.log_prob(choices)

    oracle.controller.sample = sample
    meter = FakeMeter(vary=True)
    tuner = tuner_module.MnasTuner(
        oracle,
        space=SPACE,
        reward=REWARD,
        proxy=ProxyTask(image_size=32, epochs=1, classes=10),
        meter=meter,
        directory=str(directory),
        project_name="search",
        reuse_results=reuse,
    )
    tuner.search(FixedData(None, None), verbose=0)  # training is faked: no data
    return oracle, tuner, meter


def _rows(directory):
    with open(os.path.join(directory, "search", "trials.csv"), encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_a_resampled_architecture_reuses_its_result_and_still_teaches(tmp_path, trained):
    oracle, _, meter = _search(tmp_path, 6)
    assert len(trained) == 2 and len(meter.submitted) == 2  # trained and measured once each
    rows = _rows(tmp_path)
    assert [r["status"] for r in rows] == ["COMPLETED"] * 6
    assert [r["cached_from"] for r in rows] == ["", "", "0", "1", "0", "1"]
    for row in rows[2:]:
        source = rows[int(row["cached_from"])]
        for key in ("arch", "accuracy", "latency_ms", "reward"):
            assert row[key] == source[key]
        assert float(row["train_seconds"]) == 0.0
    assert oracle.controller.num_updates == 6  # every trial, cached or not, was learned from


@pytest.mark.slow
def test_resume_keeps_the_cache_and_reuse_can_be_turned_off(tmp_path, trained):
    _search(tmp_path, 2)
    assert len(trained) == 2
    _search(tmp_path, 5)  # resumed with a larger budget: the cache is the project's records
    assert len(trained) == 2
    assert [r["cached_from"] for r in _rows(tmp_path)][2:] == ["0", "1", "0"]

    _search(tmp_path / "fresh", 4, reuse=False)
    assert len(trained) == 6
    assert all(r["cached_from"] == "" for r in _rows(tmp_path / "fresh"))
