"""Search reports: trials.csv, pareto.csv/.png, history.png, summary.json and best_arch.json.

Owns the Pareto front, domination and hypervolume arithmetic, the verdict on the reference
models (which found trial beats which reference, in numbers and in words; and, given the
search's reward, each reference's reward beside the best found and both fronts' hypervolume)
and the files a search writes after every trial.
Reads trial records (`TrialRecord`, or plain dicts of its fields), so it can rebuild every
report from a search directory after the fact. Imports matplotlib lazily (Agg) and never TensorFlow.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

from search.controllers import reward as reward_lib
from search.results import figures, trial_record
from tflite_bench import checks, files

TRIAL_COLUMNS = trial_record.TRIAL_COLUMNS
"""trials.csv's columns, in order (the fields of `TrialRecord`)."""


PARETO_COLUMNS = (
    "kind",
    "trial",
    "name",
    "arch",
    "accuracy",
    "accuracy_std",
    "latency_ms",
    "reward",
    "params",
    "macs",
    "dominated_by",
)


@dataclasses.dataclass(frozen=True)
class ReferencePoint:
    """A known model measured on the same backend and, when `accuracy` is set, trained on the
    same proxy as the trials: a point on the Pareto plot (a latency line without accuracy)."""

    name: str
    latency_ms: float
    accuracy: float | None = None
    accuracy_std: float | None = None
    arch: str = ""


def completed(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records of trials that finished with an accuracy and a latency."""
    return [
        r
        for r in records
        if r.get("status") == "COMPLETED"
        and checks.is_finite_number(r.get("accuracy"))
        and checks.is_finite_number(r.get("latency_ms"))
    ]


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated (latency, accuracy) points: lower latency and higher
    accuracy are better. Sorted by latency."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best_accuracy = [], -math.inf
    for index in order:
        if points[index][1] > best_accuracy:
            front.append(index)
            best_accuracy = points[index][1]
    return front


def dominates(record: dict[str, Any], point: ReferencePoint) -> bool:
    """Whether a completed trial is at least as accurate and at least as fast as the reference,
    and strictly better in one of the two (a tie in both is no win)."""
    if point.accuracy is None or not (
        checks.is_finite_number(record.get("accuracy"))
        and checks.is_finite_number(record.get("latency_ms"))
    ):
        return False
    accuracy, latency = record["accuracy"], record["latency_ms"]
    return (
        accuracy >= point.accuracy
        and latency <= point.latency_ms
        and (accuracy > point.accuracy or latency < point.latency_ms)
    )


def dominating_trial(
    records: Sequence[dict[str, Any]], point: ReferencePoint
) -> dict[str, Any] | None:
    """The found trial that beats `point` (see `dominates`); of several, the one with the
    highest reward (then accuracy, then the earliest). None when no trial beats it."""
    winners = [r for r in completed(records) if dominates(r, point)]
    if not winners:
        return None

    def rank(record):
        reward = record.get("reward")
        return (reward if checks.is_finite_number(reward) else -math.inf, record["accuracy"])

    return max(winners, key=rank)


def verdict(records: Sequence[dict[str, Any]], point: ReferencePoint) -> str:
    """One sentence on `point`: which trial beats it and by how much, or that none does yet."""
    if point.accuracy is None:
        return f"{point.name}: no proxy accuracy (not trained), so nothing can be compared"
    winner = dominating_trial(records, point)
    if winner is None:
        return f"no found model beats {point.name} yet ({_point_text(point)})"
    gain = 100.0 * (winner["accuracy"] - point.accuracy)
    saved = 100.0 * (1.0 - winner["latency_ms"] / point.latency_ms)
    speed = f"{saved:.0f}% less latency" if saved >= 0.5 else "equal latency"
    return (
        f"trial {winner['trial']} beats {point.name}: {gain:+.1f} points at {speed} "
        f"({winner['accuracy']:.3f} vs {point.accuracy:.3f}, "
        f"{winner['latency_ms']:.2f} vs {point.latency_ms:.2f} ms)"
    )


def _point_text(point: ReferencePoint) -> str:
    std = f" ± {point.accuracy_std:.3f}" if checks.is_finite_number(point.accuracy_std) else ""
    return f"accuracy {point.accuracy:.3f}{std}, {point.latency_ms:.2f} ms"


def _reward_text(reward: reward_lib.RewardConfig) -> str:
    if reward.kind == "soft":
        return f"T = {reward.target_ms:.3g} ms, w = {reward.alpha:g}"
    return f"hard, T = {reward.target_ms:.3g} ms"


def by_own_reward(
    records: Sequence[dict[str, Any]],
    references: Sequence[ReferencePoint],
    reward: reward_lib.RewardConfig,
) -> dict[str, Any] | None:
    """The search judged by its own objective: the best found trial's reward against each
    trained reference's reward under the same T and w (`reference_rewards`, by name), whether
    the search's best scores at least the best reference's (`search_wins`), one sentence, and
    the hypervolume of the found front and of the references' own front (both bounded by
    accuracy ≥ 0 and latency ≤ `latency_ref_ms`, 1.1 × the slowest point of either). None
    without a completed trial or a trained reference."""
    best = best_record(records)
    trained = [p for p in references if checks.is_finite_number(p.accuracy)]
    if best is None or not trained or not checks.is_finite_number(best.get("reward")):
        return None
    scores = {p.name: reward(p.accuracy, p.latency_ms).value for p in trained}
    top = max(trained, key=lambda p: scores[p.name])
    wins = best["reward"] >= scores[top.name]
    found = f"trial {best['trial']} ({best['reward']:.3f})"
    other = f"{top.name} ({scores[top.name]:.3f})"
    if wins:
        sentence = (
            f"by its own reward ({_reward_text(reward)}) the search's best, {found}, scores at "
            f"least every reference's (the best of them: {other})"
        )
    else:
        sentence = (
            f"by its own reward ({_reward_text(reward)}) the search's best is {found}; "
            f"reference {other} scores more"
        )
    done = completed(records)
    trial_points = [(r["latency_ms"], r["accuracy"]) for r in done]
    reference_points = [(p.latency_ms, p.accuracy) for p in trained]
    latency_ref = 1.1 * max(lat for lat, _ in trial_points + reference_points)
    return {
        "reward": reward.to_dict(),
        "best_trial": str(best["trial"]),
        "best_trial_reward": best["reward"],
        "reference_rewards": scores,
        "best_reference": top.name,
        "search_wins": bool(wins),
        "sentence": sentence,
        "hypervolume": {
            "found": hypervolume(trial_points, latency_ref=latency_ref),
            "references": hypervolume(reference_points, latency_ref=latency_ref),
            "latency_ref_ms": latency_ref,
        },
    }


def brief(record: dict[str, Any]) -> dict[str, Any]:
    """The fields of a trial a summary shows (trial, arch, accuracy, latency, reward, size)."""
    keys = ("trial", "arch", "accuracy", "accuracy_std", "latency_ms", "reward", "params", "macs")
    return {key: record[key] for key in keys if key in record}


def summary(
    records: Sequence[dict[str, Any]],
    *,
    references: Sequence[ReferencePoint] = (),
    latency_target_ms: float | None = None,
    export: dict[str, Any] | None = None,
    reward: reward_lib.RewardConfig | None = None,
) -> dict[str, Any]:
    """What `summary.json` holds: the references with the trial that beats each (or null), the
    best trial, the Pareto front of the trials, the verdict sentences and trial counts; and,
    once the best model is exported, `export` (search/results/export_check.py's check of the
    files). Given the search's `reward`, each trained reference's reward too, and `by_reward`
    (`by_own_reward`), whose sentence ends the verdict."""
    own = None if reward is None else by_own_reward(records, references, reward)
    done = completed(records)
    front = [done[i] for i in pareto_front([(r["latency_ms"], r["accuracy"]) for r in done])]
    best = best_record(records)
    refs = []
    for point in references:
        winner = dominating_trial(records, point)
        refs.append(
            {
                "name": point.name,
                "arch": point.arch,
                "accuracy": point.accuracy,
                "accuracy_std": point.accuracy_std,
                "latency_ms": point.latency_ms,
                "reward": None if own is None else own["reference_rewards"].get(point.name),
                "dominated_by": None if winner is None else str(winner["trial"]),
            }
        )
    sentences = [verdict(records, point) for point in references]
    if own is not None:
        volume = own["hypervolume"]
        sentences.append(own["sentence"])
        sentences.append(
            f"front hypervolume (accuracy × ms, latency ≤ {volume['latency_ref_ms']:.3g} ms): "
            f"found {volume['found']:.3g}, the references' {volume['references']:.3g}"
        )
    return {
        "trials": len(records),
        "completed": len(done),
        "failed": len([r for r in records if r.get("status") in ("FAILED", "INVALID")]),
        "latency_target_ms": latency_target_ms,
        "best": None if best is None else brief(best),
        "front": [brief(r) for r in front],
        "references": refs,
        "verdict": sentences,
        **({} if own is None else {"by_reward": own}),
        **({} if export is None else {"export": export}),
    }


def wilcoxon_p(differences) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (zeros dropped); NaN with
    fewer than two non-zero pairs. Exact for small samples (5 pairs: p ≥ 0.0625)."""
    from scipy import stats

    values = [float(d) for d in differences if d != 0]
    if len(values) < 2:
        return math.nan
    return float(stats.wilcoxon(values).pvalue)


def hypervolume(points: Sequence[tuple[float, float]], *, latency_ref: float) -> float:
    """Area dominated by the (latency, accuracy) points, bounded by latency ≤ `latency_ref` and
    accuracy ≥ 0 (the larger the better). Points slower than the reference count nothing."""
    inside = [(lat, acc) for lat, acc in points if lat < latency_ref and acc > 0]
    area = 0.0
    front = [inside[i] for i in pareto_front(inside)]
    for index, (latency, accuracy) in enumerate(front):
        next_latency = front[index + 1][0] if index + 1 < len(front) else latency_ref
        area += (next_latency - latency) * accuracy
    return area


def write_trials_csv(records: Sequence[dict[str, Any]], path: str) -> None:
    """One row per trial in `TRIAL_COLUMNS` order (written atomically; keys that are no
    column are left out)."""
    trial_record.write_trials_csv(records, path)


def _measured(record: dict[str, Any]) -> bool:
    return record.get("latency_source", "measured") in ("measured", "", None)


def _latency_label(done: Sequence[dict[str, Any]]) -> str:
    """The latency axis: measured medians, or how many were predicted by a latency table."""
    measured = sum(_measured(record) for record in done)
    if measured == len(done):
        return "measured latency (ms, median)"
    if measured == 0:
        return "latency predicted by the latency table (ms)"
    return f"latency (ms): {measured} of {len(done)} measured, the rest predicted by the table"


def write_pareto(
    records: Sequence[dict[str, Any]],
    csv_path: str,
    png_path: str,
    *,
    references: Sequence[ReferencePoint] = (),
    latency_target_ms: float | None = None,
    title: str | None = None,
    accuracy_label: str = "held-out accuracy (proxy task)",
) -> list[dict[str, Any]]:
    """Writes the non-dominated trials and every reference model to `csv_path` (column `kind`:
    trial or reference; a reference row names the trial that beats it in `dominated_by`) and the
    accuracy–latency plot (front highlighted, references as points with their seed spread, or
    as latency lines when they have no accuracy) to `png_path`. Returns the front."""
    done = completed(records)
    points = [(r["latency_ms"], r["accuracy"]) for r in done]
    front = [done[i] for i in pareto_front(points)]

    def write(handle):
        writer = csv.DictWriter(handle, fieldnames=PARETO_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for record in front:
            row = {key: record.get(key, "") for key in PARETO_COLUMNS}
            writer.writerow({**row, "kind": "trial", "name": f"trial {record['trial']}"})
        for point in references:
            winner = dominating_trial(records, point)
            writer.writerow(
                {
                    "kind": "reference",
                    "trial": "",
                    "name": point.name,
                    "arch": point.arch,
                    "accuracy": "" if point.accuracy is None else point.accuracy,
                    "accuracy_std": "" if point.accuracy_std is None else point.accuracy_std,
                    "latency_ms": point.latency_ms,
                    "dominated_by": "" if winner is None else winner["trial"],
                }
            )

    files.atomic_write(csv_path, write)

    plt = figures.pyplot()
    figure, axes = plt.subplots(figsize=(7, 4.5))
    if done:
        axes.scatter(
            [p[0] for p in points],
            [p[1] for p in points],
            s=18,
            color="#9aa5b1",
            label=f"trials ({len(done)})",
        )
        axes.plot(
            [r["latency_ms"] for r in front],
            [r["accuracy"] for r in front],
            "-o",
            color="#d1495b",
            markersize=6,
            label="Pareto front",
        )
    trained = [ref for ref in references if ref.accuracy is not None]
    for index, ref in enumerate(references):
        if ref.accuracy is not None:
            beaten = dominating_trial(records, ref) is not None
            axes.errorbar(
                [ref.latency_ms],
                [ref.accuracy],
                yerr=[ref.accuracy_std] if checks.is_finite_number(ref.accuracy_std) else None,
                fmt="*",
                markersize=13,
                color="#2e86ab",
                markeredgecolor="black" if beaten else "#2e86ab",
                capsize=3,
                zorder=5,
                label="reference models (same proxy)" if ref is trained[0] else None,
            )
            axes.annotate(
                f"{ref.name}{' (beaten)' if beaten else ''}",
                (ref.latency_ms, ref.accuracy),
                xytext=(6, 4 + 8 * (index % 2)),  # staggered: close labels overlap
                textcoords="offset points",
                fontsize=8,
                color="#2e86ab",
            )
        else:
            axes.axvline(ref.latency_ms, color="#2e86ab", linestyle=":", linewidth=1)
            axes.annotate(
                ref.name,
                (ref.latency_ms, 0.02 + 0.3 * (index % 3)),  # staggered: close labels overlap
                xycoords=("data", "axes fraction"),
                rotation=90,
                fontsize=8,
                color="#2e86ab",
            )
    if latency_target_ms:
        axes.axvline(latency_target_ms, color="black", linestyle="--", linewidth=1, label="target")
    axes.set_xlabel(_latency_label(done))
    axes.set_ylabel(accuracy_label)
    if title is None:
        measured = all(_measured(r) for r in done)
        title = "Accuracy vs measured latency" if measured else "Accuracy vs latency"
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize=8, framealpha=0.8)
    figure.tight_layout()
    figures.save_figure(figure, png_path)
    plt.close(figure)
    return front


def write_history(records: Sequence[dict[str, Any]], png_path: str) -> None:
    """Reward per trial with the running best and the controller's reward baseline, and the
    controller's entropy, in one figure."""
    plt = figures.pyplot()
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    xs, rewards, best, running = [], [], [], -math.inf
    for index, record in enumerate(records):
        reward = record.get("reward")
        if record.get("status") == "COMPLETED" and checks.is_finite_number(reward):
            running = max(running, reward)
            xs.append(index)
            rewards.append(reward)
            best.append(running)
    top.plot(xs, rewards, "o", markersize=4, color="#9aa5b1", label="reward")
    top.plot(xs, best, "-", color="#d1495b", label="best so far")
    baseline = [
        (i, r["controller_baseline"])
        for i, r in enumerate(records)
        if checks.is_finite_number(r.get("controller_baseline"))
    ]
    if baseline:
        top.plot(
            [b[0] for b in baseline],
            [b[1] for b in baseline],
            "--",
            color="#2e86ab",
            label="controller baseline (EMA)",
        )
    failed = [i for i, r in enumerate(records) if r.get("status") not in ("COMPLETED", "RUNNING")]
    if failed and rewards:
        top.plot(failed, [min(rewards)] * len(failed), "x", color="black", label="failed")
    top.set_ylabel("reward")
    top.legend(fontsize=8)
    top.grid(alpha=0.3)
    entropy = [
        (i, r["controller_entropy"])
        for i, r in enumerate(records)
        if checks.is_finite_number(r.get("controller_entropy"))
    ]
    bottom.plot([e[0] for e in entropy], [e[1] for e in entropy], "-", color="#2e86ab")
    bottom.set_ylabel("controller entropy (nats)")
    bottom.set_xlabel("trial")
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    figures.save_figure(figure, png_path)
    plt.close(figure)


def best_record(records: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The completed trial with the highest reward."""
    done = [r for r in completed(records) if checks.is_finite_number(r.get("reward"))]
    return max(done, key=lambda r: r["reward"]) if done else None


def write_json(data: Any, path: str) -> None:
    """Writes JSON atomically."""
    files.atomic_write_json(path, data, default=str)
