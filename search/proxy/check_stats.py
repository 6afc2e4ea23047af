"""The statistics of a proxy-fidelity check: how faithful, noisy and costly each candidate
proxy budget is, and which one to recommend.

Owns `RunRecord` (one architecture's seeded runs at one budget), `BudgetStats` (seed noise,
spread across architectures, Spearman and Kendall rank correlation with the long budget,
seconds per trial), `budget_stats` and `recommend`. Pure functions of hand-checkable numbers
(numpy and scipy only): must not import TensorFlow, the training code or the rest of search/.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """One (architecture, epochs) cell: `len(seeds)` seeded proxy runs.

    `accuracy` is what a search would score: the mean held-out top-1, 0.0 when a run's loss went
    NaN (`nan`; `accuracies` then ends with 0.0 for that run and holds no later seeds)."""

    arch: str
    epochs: int
    accuracy: float
    accuracies: tuple[float, ...]
    seeds: tuple[int, ...]
    seconds_per_trial: float
    nan: bool = False


@dataclasses.dataclass(frozen=True)
class BudgetStats:
    """How faithful one candidate budget is (NaN where undefined, e.g. seed std with 1 seed).

    Attributes:
      seed_std: mean over architectures of the std (ddof 1) of accuracy across seeds: the noise.
      arch_std: std across architectures of their mean accuracy: the signal to rank.
      spearman, kendall: rank correlations (and p-values) of the mean accuracy per architecture
        with the long budget's accuracy.
      seconds_per_trial: mean wall time of one training run (build, train, evaluate).
    """

    epochs: int
    steps_per_epoch: int | None
    num_archs: int
    mean_accuracy: float
    seed_std: float
    arch_std: float
    spearman: float
    spearman_p: float
    kendall: float
    kendall_p: float
    seconds_per_trial: float
    nan_runs: int


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """The cheapest budget whose Spearman reaches `threshold`; `epochs` None when none does."""

    epochs: int | None
    steps_per_epoch: int | None
    threshold: float
    message: str


def _correlation(function, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = function(x, y)
    return float(result.statistic), float(result.pvalue)


def budget_stats(
    records: Sequence[RunRecord],
    long_records: Sequence[RunRecord],
    *,
    steps_per_epoch: int | None = None,
) -> BudgetStats:
    """The statistics of one budget's cells (one per architecture, all of the same epochs)
    against the long budget's cells of the same architectures (matched by `arch`)."""
    from scipy import stats

    epochs = {record.epochs for record in records}
    if len(epochs) != 1:
        raise ValueError(f"records must all be of one budget; got epochs {sorted(epochs)}")
    long = {record.arch: record.accuracy for record in long_records}
    paired = [record for record in records if record.arch in long]
    proxy = np.array([record.accuracy for record in paired], dtype=float)
    target = np.array([long[record.arch] for record in paired], dtype=float)
    stds = [float(np.std(r.accuracies, ddof=1)) for r in records if len(r.accuracies) > 1]
    spearman = _correlation(stats.spearmanr, proxy, target)
    kendall = _correlation(stats.kendalltau, proxy, target)
    means = np.array([record.accuracy for record in records], dtype=float)
    return BudgetStats(
        epochs=epochs.pop(),
        steps_per_epoch=steps_per_epoch,
        num_archs=len(paired),
        mean_accuracy=float(np.mean(means)),
        seed_std=float(np.mean(stds)) if stds else math.nan,
        arch_std=float(np.std(means, ddof=1)) if len(means) > 1 else math.nan,
        spearman=spearman[0],
        spearman_p=spearman[1],
        kendall=kendall[0],
        kendall_p=kendall[1],
        seconds_per_trial=float(np.mean([record.seconds_per_trial for record in records])),
        nan_runs=sum(record.nan for record in records),
    )


def recommend(stats: Sequence[BudgetStats], *, threshold: float) -> Recommendation:
    """The cheapest budget (fewest seconds per trial, then fewest epochs) whose Spearman is ≥
    `threshold`, with a plain sentence; says so when no budget reaches it."""
    # 1e-9: Spearman of few architectures is a ratio of small integers (5 ranks: 0.8 comes out
    # as 0.7999999999999999), so a budget exactly at the threshold must pass
    passing = [s for s in stats if not math.isnan(s.spearman) and s.spearman >= threshold - 1e-9]
    if not passing:
        scored = [s for s in stats if not math.isnan(s.spearman)]
        best = max(scored, key=lambda s: s.spearman) if scored else None
        closest = (
            f"the best is {_budget_text(best)} at {best.spearman:.2f}"
            if best
            else "no budget's correlation is defined (equal accuracies or fewer than 2 archs)"
        )
        return Recommendation(
            epochs=None,
            steps_per_epoch=None,
            threshold=threshold,
            message=(
                f"No candidate budget reaches Spearman ≥ {threshold:.2f} with the long budget "
                f"({closest}): try longer budgets, more seeds per candidate or a lower "
                "threshold before searching with this proxy."
            ),
        )
    choice = min(passing, key=lambda s: (s.seconds_per_trial, s.epochs))
    message = (
        f"Use {_budget_text(choice)} per candidate: the cheapest budget with Spearman ≥ "
        f"{threshold:.2f} ({choice.spearman:.2f}, Kendall {choice.kendall:.2f}) at "
        f"{choice.seconds_per_trial:.1f} s per trial."
    )
    if not math.isnan(choice.seed_std) and not choice.seed_std < choice.arch_std:
        message += (
            f" Its seed noise (std {choice.seed_std:.3f}) is as large as the spread between "
            f"architectures ({choice.arch_std:.3f}): use more repeats per candidate."
        )
    return Recommendation(
        epochs=choice.epochs,
        steps_per_epoch=choice.steps_per_epoch,
        threshold=threshold,
        message=message,
    )


def _budget_text(stats: BudgetStats) -> str:
    steps = f" × {stats.steps_per_epoch} steps" if stats.steps_per_epoch else ""
    return f"{stats.epochs} epoch{'s' if stats.epochs != 1 else ''}{steps}"
