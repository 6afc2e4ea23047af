"""Tests for search/proxy/check.py, proxy_check_plot.py and proxy_check_main.py: the statistics
and the recommendation on hand-made results, config validation, sampling, resume without
retraining (a fake runner), bad flags failing before anything is written, and one slow run of
the real binary."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from search.proxy import check as proxy_check
from search.proxy import check_stats as proxy_check_stats
from search.proxy.check import ProxyCheckConfig
from search.proxy.check_stats import BudgetStats, RunRecord

ROOT = Path(__file__).resolve().parents[1]


def _records(epochs: int, accuracies: dict[str, list[float]], seconds: float = 1.0):
    return [
        RunRecord(
            arch=name,
            epochs=epochs,
            accuracy=float(np.mean(values)),
            accuracies=tuple(values),
            seeds=tuple(range(len(values))),
            seconds_per_trial=seconds,
        )
        for name, values in accuracies.items()
    ]


LONG = _records(15, {"a": [0.80], "b": [0.85], "c": [0.90], "d": [0.70]}, seconds=30.0)


def _stats(epochs: int, spearman: float, seconds: float, *, seed_std=0.01, arch_std=0.05):
    return BudgetStats(
        epochs=epochs,
        steps_per_epoch=None,
        num_archs=4,
        mean_accuracy=0.5,
        seed_std=seed_std,
        arch_std=arch_std,
        spearman=spearman,
        spearman_p=0.01,
        kendall=spearman - 0.1,
        kendall_p=0.02,
        seconds_per_trial=seconds,
        nan_runs=0,
    )


# ---- statistics ----


def test_budget_stats_on_hand_made_results():
    budget = _records(
        2,
        {"a": [0.50, 0.52], "b": [0.60, 0.62], "c": [0.70, 0.66], "d": [0.40, 0.44]},
        seconds=3.0,
    )
    stats = proxy_check_stats.budget_stats(budget, LONG, steps_per_epoch=50)
    assert stats.epochs == 2 and stats.steps_per_epoch == 50 and stats.num_archs == 4
    assert stats.spearman == pytest.approx(1.0) and stats.kendall == pytest.approx(1.0)
    # per-arch std (ddof 1): 0.02/√2 for a and b, 0.04/√2 for c and d
    assert stats.seed_std == pytest.approx((0.02 + 0.02 + 0.04 + 0.04) / 4 / math.sqrt(2))
    means = [0.51, 0.61, 0.68, 0.42]
    assert stats.mean_accuracy == pytest.approx(np.mean(means))
    assert stats.arch_std == pytest.approx(np.std(means, ddof=1))
    assert stats.seconds_per_trial == 3.0 and stats.nan_runs == 0


def test_budget_stats_reversed_ranking_and_scipy_agreement():
    reversed_ = _records(1, {"a": [0.6], "b": [0.5], "c": [0.4], "d": [0.7]})
    stats = proxy_check_stats.budget_stats(reversed_, LONG)
    assert stats.spearman == pytest.approx(-1.0) and stats.kendall == pytest.approx(-1.0)
    assert math.isnan(stats.seed_std)  # one seed: no seed noise to measure
    from scipy import stats as scipy_stats

    rng = np.random.default_rng(0)
    names = [f"m{i}" for i in range(12)]
    proxy, long = rng.random(12), rng.random(12)
    result = proxy_check_stats.budget_stats(
        _records(3, {n: [p] for n, p in zip(names, proxy, strict=True)}),
        _records(9, {n: [q] for n, q in zip(names, long, strict=True)}),
    )
    assert result.spearman == pytest.approx(scipy_stats.spearmanr(proxy, long).statistic)
    assert result.kendall == pytest.approx(scipy_stats.kendalltau(proxy, long).statistic)
    assert result.spearman_p == pytest.approx(scipy_stats.spearmanr(proxy, long).pvalue)


def test_budget_stats_constant_accuracy_has_no_correlation():
    flat = _records(1, {"a": [0.1, 0.1], "b": [0.1, 0.1], "c": [0.1, 0.1], "d": [0.1, 0.1]})
    stats = proxy_check_stats.budget_stats(flat, LONG)
    assert math.isnan(stats.spearman) and math.isnan(stats.kendall)
    assert stats.seed_std == 0.0


def test_budget_stats_counts_diverged_cells_and_rejects_mixed_budgets():
    cells = _records(1, {"a": [0.5, 0.6], "b": [0.5, 0.0], "c": [0.7, 0.8], "d": [0.3, 0.4]})
    cells[1] = dataclasses.replace(cells[1], accuracy=0.0, nan=True)
    assert proxy_check_stats.budget_stats(cells, LONG).nan_runs == 1
    with pytest.raises(ValueError, match=r"one budget; got epochs \[1, 2\]"):
        proxy_check_stats.budget_stats(cells + _records(2, {"e": [0.1]}), LONG)


# ---- the recommendation ----


def test_recommend_picks_the_cheapest_budget_that_passes():
    stats = [_stats(1, 0.6, 2.0), _stats(2, 0.85, 4.0), _stats(3, 0.95, 6.0)]
    choice = proxy_check_stats.recommend(stats, threshold=0.8)
    assert choice.epochs == 2 and choice.threshold == 0.8
    assert choice.message.startswith("Use 2 epochs per candidate")
    assert "Spearman ≥ 0.80 (0.85, Kendall 0.75) at 4.0 s per trial" in choice.message
    assert "seed noise" not in choice.message
    assert proxy_check_stats.recommend(stats, threshold=0.9).epochs == 3
    assert proxy_check_stats.recommend(stats, threshold=0.5).epochs == 1
    # Cost decides, not epochs: a 3-epoch budget may be cheaper (fewer steps per epoch).
    cheaper = [_stats(2, 0.9, 4.0), _stats(3, 0.9, 3.0)]
    assert proxy_check_stats.recommend(cheaper, threshold=0.8).epochs == 3
    # Five ranks, Σd² = 4: Spearman 0.8, which scipy computed as 0.7999999999999999 on
    # Fashion-MNIST's check; a budget exactly at the threshold passes.
    at_threshold = [_stats(3, 0.7999999999999999, 9.0)]
    assert proxy_check_stats.recommend(at_threshold, threshold=0.8).epochs == 3


def test_recommend_says_plainly_when_none_reaches_the_threshold():
    stats = [_stats(1, 0.3, 2.0), _stats(2, 0.71, 4.0), _stats(3, math.nan, 6.0)]
    choice = proxy_check_stats.recommend(stats, threshold=0.8)
    assert choice.epochs is None and choice.steps_per_epoch is None
    assert choice.message.startswith("No candidate budget reaches Spearman ≥ 0.80")
    assert "the best is 2 epochs at 0.71" in choice.message
    nothing = proxy_check_stats.recommend([_stats(1, math.nan, 1.0)], threshold=0.8)
    assert nothing.epochs is None and "no budget's correlation is defined" in nothing.message


def test_recommend_warns_when_seed_noise_drowns_the_signal():
    noisy = [_stats(1, 0.9, 2.0, seed_std=0.05, arch_std=0.03)]
    choice = proxy_check_stats.recommend(noisy, threshold=0.8)
    assert choice.epochs == 1
    assert "seed noise (std 0.050) is as large as the spread between architectures" in (
        choice.message
    )


# ---- config ----


def test_config_defaults_are_valid_and_budgets_sorted(tmp_path):
    config = ProxyCheckConfig(budgets=[3, 1], references=["mnasnet-a1"], output_dir=str(tmp_path))
    assert config.budgets == (1, 3) and config.references == ("mnasnet-a1",)
    assert ProxyCheckConfig().references == proxy_check.DEFAULT_REFERENCES


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"space": "nope"}, "unknown search space 'nope'"),
        ({"references": ("mnasnet-z9",)}, "unknown zoo model 'mnasnet-z9'"),
        ({"references": ("mnasnet-a1", "mnasnet-a1")}, "references must be distinct"),
        (
            {"budgets": (1, 15), "long_epochs": 15},
            "shorter than its long budget: budget 15 epochs ≥ long_epochs=15",
        ),
        ({"budgets": (20,)}, "budget 20 epochs ≥ long_epochs=15"),
        ({"budgets": ()}, r"--budgets must be a non-empty list of integers >= 1; got \[\]"),
        ({"budgets": (0,)}, r"--budgets must be a non-empty list of integers >= 1; got \[0\]"),
        ({"budgets": (2, 2)}, "budgets must be distinct"),
        ({"seeds": 0}, "--seeds must be an integer >= 1; got 0"),
        ({"long_seeds": 0}, "--long_seeds must be an integer >= 1; got 0"),
        ({"num_archs": 1}, "--num_archs must be an integer >= 2; got 1"),
        ({"image_size": 16}, "--image_size must be an integer >= 32; got 16"),
        ({"steps_per_epoch": 0}, "--steps_per_epoch must be an integer >= 1; got 0"),
        ({"learning_rate": -1.0}, "--learning_rate must be a number > 0; got -1.0"),
        ({"threshold": 1.5}, r"--threshold must be a number in \[-1, 1\]; got 1.5"),
        ({"dataset": "folder:/no/such/dir"}, "'/no/such/dir' is not a directory"),
        ({"dataset": ""}, "--dataset must be non-empty; got ''"),
        ({"output_dir": ""}, "--output_dir must be non-empty; got ''"),
        ({"search_seed": -3}, "--seed must be an integer >= 0; got -3"),
    ],
)
def test_config_errors_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ProxyCheckConfig(**kwargs)


def test_plan_archs_is_deterministic_distinct_and_grows_by_appending():
    config = ProxyCheckConfig(num_archs=5, references=("mobilenet-v3-small",))
    archs = proxy_check.plan_archs(config)
    assert [name for name, _, _ in archs] == [f"mnasnet-sample-{i}" for i in range(5)] + [
        "mobilenet-v3-small"
    ]
    assert [kind for _, kind, _ in archs] == ["sample"] * 5 + ["reference"]
    keys = [proxy_check.arch_key(arch) for _, _, arch in archs]
    assert len(set(keys)) == 6
    assert keys == [proxy_check.arch_key(a) for _, _, a in proxy_check.plan_archs(config)]
    more = proxy_check.plan_archs(dataclasses.replace(config, num_archs=7))
    assert [proxy_check.arch_key(a) for _, _, a in more][:5] == keys[:5]
    other = proxy_check.plan_archs(dataclasses.replace(config, search_seed=1))
    assert [proxy_check.arch_key(a) for _, _, a in other][:5] != keys[:5]


# ---- running, resuming (fake runner) ----


class _FakeData:
    num_classes = 10


@pytest.fixture
def fake_training(monkeypatch):
    """Replaces data loading and training: accuracy grows with epochs, from the arch's key."""
    calls = []

    def train(arch, *, epochs, repeats, config, data):
        assert isinstance(data, _FakeData)
        calls.append((arch.name, epochs, repeats))
        base = int(proxy_check.arch_key(arch)[:6], 16) / 16**6
        accuracies = [
            min(1.0, 0.2 + 0.5 * base * (1 - 0.5**epochs) + 0.01 * r) for r in range(repeats)
        ]
        return {
            "accuracy": float(np.mean(accuracies)),
            "accuracies": accuracies,
            "seeds": list(range(repeats)),
            "seconds_per_trial": 0.5 * epochs,
            "nan": False,
        }

    monkeypatch.setattr(proxy_check, "_load_data", lambda config: _FakeData())
    monkeypatch.setattr(proxy_check, "_train", train)
    return calls


def _config(tmp_path, **changes):
    base = ProxyCheckConfig(
        num_archs=3,
        references=("mobilenet-v3-small",),
        budgets=(1, 2),
        long_epochs=6,
        seeds=2,
        output_dir=str(tmp_path / "check"),
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.slow
def test_run_writes_report_plot_and_results(tmp_path, fake_training):
    config = _config(tmp_path)
    events = []
    report = proxy_check.run_proxy_check(config, progress=events.append)
    assert len(fake_training) == 4 * 3  # 4 archs × (2 budgets + long)
    assert fake_training[:4] == [(name, 1, 2) for name in [*_sample_names(3), "mobilenet-v3-small"]]
    assert fake_training[-1] == ("mobilenet-v3-small", 6, 1)
    assert [e.done for e in events] == list(range(1, 13)) and events[-1].eta_seconds == 0.0
    out = tmp_path / "check"
    assert sorted(os.listdir(out)) == ["proxy_check.json", "proxy_check.png", "runs.json"]
    assert (out / "proxy_check.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stored = json.loads((out / "proxy_check.json").read_text(encoding="utf-8"))
    assert stored == report
    assert [row["epochs"] for row in stored["budgets"]] == [1, 2]
    # Accuracy is a monotone function of the arch at every budget: ranks agree exactly.
    assert all(row["spearman"] == pytest.approx(1.0) for row in stored["budgets"])
    assert all(row["seed_std"] == pytest.approx(0.01 / math.sqrt(2)) for row in stored["budgets"])
    assert stored["recommendation"]["epochs"] == 1
    assert stored["budgets"][1]["seconds_per_trial"] == 1.0
    assert stored["long"] == {"epochs": 6, "seconds_per_trial": 3.0}
    assert [row["name"] for row in stored["archs"]][-1] == "mobilenet-v3-small"
    assert stored["archs"][0]["budgets"]["2"]["seeds"] == [0, 1]
    assert stored["archs"][0]["long"]["seeds"] == [0]
    assert stored["config"]["budgets"] == [1, 2]
    from search.cli import mnasnet_proxy_check as proxy_check_main

    summary = proxy_check_main.format_summary(stored, config.output_dir)
    assert "Proxy check on digits: 4 architectures (3 from 'mnasnet' + 1 references)" in summary
    assert "    1 ep      0.5" in summary and stored["recommendation"]["message"] in summary
    assert os.path.join(config.output_dir, "proxy_check.png") in summary


def _sample_names(count: int) -> list[str]:
    return [f"mnasnet-sample-{i}" for i in range(count)]


@pytest.mark.slow
def test_an_interrupted_check_resumes_without_retraining(tmp_path, fake_training):
    config = _config(tmp_path)
    first = proxy_check.run_proxy_check(config)
    path = tmp_path / "check" / "runs.json"
    stored = json.loads(path.read_text(encoding="utf-8"))
    kept = dict(list(stored["runs"].items())[:7])  # as if killed after the 7th cell
    path.write_text(json.dumps({**stored, "runs": kept}), encoding="utf-8")
    os.remove(tmp_path / "check" / "proxy_check.json")
    fake_training.clear()
    second = proxy_check.run_proxy_check(config)
    assert len(fake_training) == 12 - 7
    assert second == first
    fake_training.clear()
    proxy_check.run_proxy_check(config)  # all done: only the report is rewritten
    assert fake_training == []
    # More seeds per budget retrain the budgets only; the long runs are reused.
    proxy_check.run_proxy_check(dataclasses.replace(config, seeds=3))
    assert len(fake_training) == 8 and {e for _, e, _ in fake_training} == {1, 2}


@pytest.mark.slow
def test_a_proxy_that_ranks_badly_is_not_recommended(tmp_path, monkeypatch):
    def train(arch, *, epochs, repeats, config, data):
        base = int(proxy_check.arch_key(arch)[:6], 16) / 16**6
        accuracy = {1: 0.1, 2: 0.9 - 0.5 * base}.get(epochs, 0.2 + 0.5 * base)
        return {
            "accuracy": accuracy,
            "accuracies": [accuracy] * repeats,
            "seeds": list(range(repeats)),
            "seconds_per_trial": float(epochs),
            "nan": False,
        }

    monkeypatch.setattr(proxy_check, "_load_data", lambda config: _FakeData())
    monkeypatch.setattr(proxy_check, "_train", train)
    report = proxy_check.run_proxy_check(_config(tmp_path))
    one, two = report["budgets"]
    assert one["spearman"] is None and one["seed_std"] == 0.0  # equal accuracies: undefined
    assert two["spearman"] == pytest.approx(-1.0)
    assert report["recommendation"]["epochs"] is None
    assert report["recommendation"]["message"].startswith("No candidate budget reaches")
    assert (tmp_path / "check" / "proxy_check.png").stat().st_size > 0


@pytest.mark.slow
def test_other_training_settings_refuse_to_resume(tmp_path, fake_training):
    config = _config(tmp_path)
    proxy_check.run_proxy_check(config)
    fake_training.clear()
    with pytest.raises(ValueError, match="runs.json holds runs with other batch_size=64 \\(now 32"):
        proxy_check.run_proxy_check(dataclasses.replace(config, batch_size=32))
    assert fake_training == []


def test_a_data_set_that_fails_to_load_writes_nothing(tmp_path, monkeypatch):
    def fail(config):
        raise ValueError(f"unknown data set {config.dataset!r}")

    monkeypatch.setattr(proxy_check, "_load_data", fail)
    with pytest.raises(ValueError, match="unknown data set 'nope'"):
        proxy_check.run_proxy_check(_config(tmp_path, dataset="nope"))
    assert not os.path.exists(tmp_path / "check")


# ---- the binary ----


def _binary(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "search.cli.mnasnet_proxy_check", *flags],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "flags, message",
    [
        (["--budgets=1,20", "--long_epochs=15"], "budget 20 epochs ≥ long_epochs=15"),
        (["--budgets=1,x"], "--budgets must list whole numbers of epochs; got 'x'"),
        (["--seeds=0"], "--seeds must be an integer >= 1; got 0"),
        (["--references=mnasnet-a1,nope"], "unknown zoo model 'nope'"),
        (["--space=nope"], "unknown search space 'nope'"),
    ],
)
def test_bad_flags_are_usage_errors_before_anything_is_written(tmp_path, flags, message):
    out = tmp_path / "out"
    done = _binary(*flags, f"--output_dir={out}")
    assert done.returncode == 1, done.stdout
    assert "Usage" in done.stderr or "usage" in done.stderr.lower()
    assert message in done.stderr
    assert not out.exists()


@pytest.mark.slow
def test_an_unknown_data_set_is_a_usage_error_before_anything_is_written(tmp_path):
    out = tmp_path / "out"
    done = _binary("--dataset=no_such_set_xyz", f"--output_dir={out}", "--num_archs=2")
    assert done.returncode == 1 and "unknown data set 'no_such_set_xyz'" in done.stderr
    assert not out.exists()


@pytest.mark.slow
def test_binary_runs_a_tiny_check(tmp_path):
    out = tmp_path / "check"
    done = _binary(
        "--num_archs=2",
        "--references=",  # 2 archs × (2 seeds + 1 long run): 6 runs of ≈ 10 s on 2 CPUs
        "--budgets=1",
        "--long_epochs=2",
        "--seeds=2",
        "--steps_per_epoch=2",
        "--batch_size=32",
        f"--output_dir={out}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Proxy check on digits: 2 architectures" in done.stdout
    assert "proxy check 4/4: mnasnet-sample-1, 2 epoch(s) × 1 seed(s)" in done.stderr
    assert "ETA 0 min" in done.stderr  # one progress line per cell, with an ETA
    report = json.loads((out / "proxy_check.json").read_text(encoding="utf-8"))
    assert (out / "proxy_check.png").stat().st_size > 10_000
    (row,) = report["budgets"]
    assert row["epochs"] == 1 and row["steps_per_epoch"] == 2 and row["num_archs"] == 2
    assert 0.0 < row["seconds_per_trial"] < 120
    assert row["seed_std"] is None or 0.0 <= row["seed_std"] <= 1.0
    assert row["spearman"] is None or -1.0 <= row["spearman"] <= 1.0
    for arch in report["archs"]:
        cell = arch["budgets"]["1"]
        assert len(cell["seeds"]) == 2 and len(set(cell["seeds"])) == 2
        assert all(0.0 <= a <= 1.0 for a in cell["accuracies"])
        assert 0.0 <= arch["long"]["accuracy"] <= 1.0
    assert report["recommendation"]["message"] in done.stdout
