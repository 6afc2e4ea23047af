"""The figures of the search-efficiency benchmark, from what its searches left on disk.

Owns reading a search project (`trials.csv`, written by `search.cli.mnasnet_search`, and
`RUNS_FILE`, the
benchmark's record of the search's processes), the per-trial curves (best reward so far, best
accuracy so far at ≤ T, hypervolume of the completed trials), each search's summary, the means
over seeds (`aggregate`), the figures of a search at a smaller budget (`truncate`) and the
same-seed comparisons against random search with Wilcoxon signed-rank p-values (`paired`).

Pure functions of their arguments (no flags, no global state); reads files, writes none. Must not
import TensorFlow, absl flags, the search binary or the other search_efficiency modules.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from search.results import report  # (pure Python, no TensorFlow)

CURVES = ("best_reward", "best_accuracy_at_target", "hypervolume")
# Trial budgets at which the paired comparisons are also reported (and the pairs' own budget).
BUDGETS = (10, 20, 30, 50, 75, 100)
RUNS_FILE = "benchmark_runs.json"

_BEST_TRIAL_KEYS = ("trial", "arch", "accuracy", "latency_ms", "reward")
_PER_TRIAL_KEYS = (
    "trial",
    "status",
    "arch",
    "accuracy",
    "latency_ms",
    "reward",
    "controller_entropy",
    "controller_baseline",
    "cached_from",
    "train_seconds",
    "convert_seconds",
    "measure_seconds",
    "seconds",
)


# ---- a search project on disk ----


def read_trials(project_dir: str) -> list[dict[str, Any]]:
    """Rows of the project's trials.csv (numbers parsed), in trial order; [] if none yet."""
    path = os.path.join(project_dir, "trials.csv")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key, value in row.items():
            if key not in ("trial", "status", "arch", "reason"):
                try:
                    row[key] = float(value) if value != "" else None
                except ValueError:
                    pass
    return sorted(rows, key=lambda row: int(row["trial"]))


def finished(rows: list[dict[str, Any]]) -> int:
    """How many of the rows are trials that have ended (completed or failed)."""
    return sum(row["status"] not in ("RUNNING", "IDLE") for row in rows)


def read_runs(project_dir: str) -> list[dict[str, Any]]:
    """The benchmark's record of one project's search processes (wall time, exit status)."""
    return read_records(os.path.join(project_dir, RUNS_FILE))


class RecordsError(ValueError):
    """A record file of the benchmark (`RUNS_FILE`, the commands record) that it cannot read."""


def read_records(path: str) -> list[dict[str, Any]]:
    """A JSON list of records the benchmark appends to; empty if the file is not there yet.
    Raises RecordsError naming the file if it is not such a list (the benchmark writes these
    files atomically, so that means it was edited or damaged elsewhere)."""
    if not os.path.exists(path):
        return []
    try:
        with open(path, encoding="utf-8") as handle:
            records = json.load(handle)
    except ValueError as error:  # (UnicodeDecodeError included)
        problem = f"not JSON: {error}"
    else:
        if isinstance(records, list) and all(isinstance(r, dict) for r in records):
            return records
        problem = "not a list of records"
    raise RecordsError(
        f"{path} is not a record file this benchmark wrote ({problem}): restore it from the "
        "runs archive, or delete it (it holds bookkeeping only: wall times or command lines; "
        "the trials are in trials.csv)"
    )


# ---- one search ----


def _completed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["status"] == "COMPLETED" and r.get("reward") is not None]


def _best_trial(completed: list[dict[str, Any]]) -> dict[str, Any] | None:
    best = max(completed, key=lambda r: r["reward"]) if completed else None
    return None if best is None else {k: best[k] for k in _BEST_TRIAL_KEYS}


def curves(rows: list[dict[str, Any]], latency_ref: float, target_ms: float) -> dict[str, list]:
    """Per trial: the best reward so far, the best accuracy so far among models no slower than
    T, and the hypervolume of the completed trials so far."""
    best, at_target, volume, points = [], [], [], []
    running, running_at_target = -math.inf, -math.inf
    for row in rows:
        if row["status"] == "COMPLETED" and row.get("reward") is not None:
            running = max(running, row["reward"])
            if row["latency_ms"] <= target_ms:
                running_at_target = max(running_at_target, row["accuracy"])
            points.append((row["latency_ms"], row["accuracy"]))
        best.append(running if math.isfinite(running) else None)
        at_target.append(running_at_target if math.isfinite(running_at_target) else None)
        volume.append(report.hypervolume(points, latency_ref=latency_ref))
    return {"best_reward": best, "best_accuracy_at_target": at_target, "hypervolume": volume}


def mean_std(values: list[float | None]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for one value) of the values that are not
    None; (nan, nan) if there are none."""
    values = [v for v in values if v is not None]
    if not values:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def search_summary(
    project_dir: str,
    *,
    algorithm: str,
    seed: int,
    trials: int,
    latency_ref: float,
    target_ms: float,
) -> dict[str, Any] | None:
    """One search's figures over its first `trials` trials, its per-trial curves and rows, and
    its time; None if it has no trial yet."""
    rows = read_trials(project_dir)[:trials]
    if not rows:
        return None
    its_curves = curves(rows, latency_ref, target_ms)
    completed = _completed(rows)
    runs = read_runs(project_dir)

    def total(key: str) -> float:
        return float(sum(r.get(key) or 0.0 for r in completed))

    entropies = [r["controller_entropy"] for r in rows if r.get("controller_entropy") is not None]
    return {
        "algorithm": algorithm,
        "seed": seed,
        "trials": len(rows),
        "failed": len(rows) - len(completed),
        "best_reward": its_curves["best_reward"][-1],
        "best_accuracy_at_target": its_curves["best_accuracy_at_target"][-1],
        "cached": sum(row.get("cached_from") not in (None, "") for row in rows),
        "best_trial": _best_trial(completed),
        "final_hypervolume": its_curves["hypervolume"][-1],
        "mean_reward": mean_std([r["reward"] for r in completed])[0],
        "curves": its_curves,
        "per_trial": [{k: r.get(k) for k in _PER_TRIAL_KEYS} for r in rows],
        "controller_entropy": [entropies[0], entropies[-1]] if entropies else None,
        "seconds": {
            "wall": float(sum(r["seconds"] for r in runs)),
            "trials": total("seconds"),
            "train": total("train_seconds"),
            "latency": total("convert_seconds") + total("measure_seconds"),
        },
    }


def truncate(search: dict[str, Any], trials: int) -> dict[str, Any]:
    """A search's final figures as they stood after `trials` trials."""
    search_curves = search["curves"]
    per_trial = search["per_trial"][:trials]
    done = _completed(per_trial)
    return {
        **search,
        "trials": trials,
        "curves": {key: values[:trials] for key, values in search_curves.items()},
        "best_reward": search_curves["best_reward"][trials - 1],
        "best_accuracy_at_target": search_curves["best_accuracy_at_target"][trials - 1],
        "final_hypervolume": search_curves["hypervolume"][trials - 1],
        "mean_reward": mean_std([t["reward"] for t in done])[0],
        "best_trial": _best_trial(done),
        "per_trial": per_trial,
    }


# ---- across seeds ----


def aggregate(searches: list[dict[str, Any]], algorithms: Sequence[str]) -> dict[str, Any]:
    """Per method (in the order of `algorithms`, those with searches): mean ± std over its seeds
    of the final figures, and of each curve per trial."""
    summary = {}
    for algorithm in algorithms:
        mine = [s for s in searches if s["algorithm"] == algorithm]
        if not mine:
            continue
        length = max(len(s["curves"]["best_reward"]) for s in mine)
        mean_curves = {}
        for key in CURVES:
            stats = [
                mean_std([s["curves"][key][t] for s in mine if t < len(s["curves"][key])])
                for t in range(length)
            ]
            mean_curves[key] = {"mean": [m for m, _ in stats], "std": [d for _, d in stats]}
        summary[algorithm] = {
            "seeds": [s["seed"] for s in mine],
            "trials": min(s["trials"] for s in mine),
            "best_reward": mean_std([s["best_reward"] for s in mine]),
            "best_accuracy_at_target": mean_std([s["best_accuracy_at_target"] for s in mine]),
            "final_hypervolume": mean_std([s["final_hypervolume"] for s in mine]),
            "mean_reward": mean_std([s["mean_reward"] for s in mine]),
            "curves": mean_curves,
        }
    return summary


def _paired_figures(pairs: list[tuple[dict, dict]], keys: Sequence[str]) -> dict[str, Any]:
    """Per figure: mean ± std of the per-seed differences (method - random), the seeds where
    the method is ahead, and the Wilcoxon signed-rank p-value."""
    figures: dict[str, Any] = {}
    for key in keys:
        diffs = [a[key] - b[key] for a, b in pairs if a[key] is not None and b[key] is not None]
        figures[key] = mean_std(diffs)
        figures[f"{key}_wins"] = sum(d > 0 for d in diffs)
        figures[f"{key}_p"] = report.wilcoxon_p(diffs)
    return figures


def _ahead_from(pairs: list[tuple[dict, dict]]) -> dict[str, int | None]:
    """From which trial count on the method's best reward stays ahead of random's up to the
    budget every pair reached: on the mean over seeds ("mean") and on every seed ("every_seed");
    None if it is not ahead at that budget."""
    common = min(a["trials"] for a, _ in pairs)
    diffs = [
        [
            (x if x is not None else -math.inf) - (y if y is not None else -math.inf)
            for x, y in zip(
                a["curves"]["best_reward"][:common],
                b["curves"]["best_reward"][:common],
                strict=True,
            )
        ]
        for a, b in pairs
    ]

    def since(ahead: list[bool]) -> int | None:
        start = None
        for trial, is_ahead in enumerate(ahead, 1):
            start = (start or trial) if is_ahead else None
        return start

    per_trial = list(zip(*diffs, strict=True))
    return {
        "mean": since(
            [all(math.isfinite(d) for d in t) and float(np.mean(t)) > 0 for t in per_trial]
        ),
        "every_seed": since([all(d > 0 for d in t) for t in per_trial]),
    }


def paired(searches: list[dict[str, Any]], algorithms: Sequence[str]) -> dict[str, Any]:
    """Same-seed comparisons against random search: per-seed differences of the final figures,
    and the trials where both searches sampled the same architecture (at the same trial index),
    whose differences measure the noise of proxy accuracy and latency."""
    by_key = {(s["algorithm"], s["seed"]): s for s in searches}
    result: dict[str, Any] = {}
    for algorithm in algorithms:
        if algorithm == "random":
            continue
        pairs = [
            (s, by_key[("random", s["seed"])])
            for s in searches
            if s["algorithm"] == algorithm and ("random", s["seed"]) in by_key
        ]
        if not pairs:
            continue
        same = [
            (x, y)
            for a, b in pairs
            for x, y in zip(a["per_trial"], b["per_trial"], strict=False)
            if x["arch"] and x["arch"] == y["arch"] and x["status"] == y["status"] == "COMPLETED"
        ]
        # Compare at the budget both searches of a seed have reached.
        pairs = [
            (
                truncate(a, min(a["trials"], b["trials"])),
                truncate(b, min(a["trials"], b["trials"])),
            )
            for a, b in pairs
        ]
        figures = _paired_figures(
            pairs, ("best_reward", "best_accuracy_at_target", "final_hypervolume")
        )
        common = min(a["trials"] for a, _ in pairs)
        by_budget = [
            {
                "trials": budget,
                **_paired_figures(
                    [(truncate(a, budget), truncate(b, budget)) for a, b in pairs],
                    ("best_reward", "best_accuracy_at_target"),
                ),
            }
            for budget in sorted({b for b in BUDGETS if b < common} | {common})
        ]
        result[f"{algorithm}-random"] = {
            "seeds": [a["seed"] for a, _ in pairs],
            "trials": [a["trials"] for a, _ in pairs],
            **figures,
            "by_budget": by_budget,
            "ahead_from": _ahead_from(pairs),
            "identical_archs": len(same),
            "compared_trials": sum(min(a["trials"], b["trials"]) for a, b in pairs),
            "identical_abs_accuracy_diff": mean_std(
                [abs(x["accuracy"] - y["accuracy"]) for x, y in same]
            )[0],
            "identical_abs_latency_diff_pct": mean_std(
                [100 * abs(x["latency_ms"] / y["latency_ms"] - 1) for x, y in same]
            )[0],
        }
    return result
