"""§6 of the reproduction report: RL controllers against random search, on synthetic rewards
(benchmarks/controller_efficiency.py) and on the real proxy (benchmarks/search_efficiency.py:
per-seed rows, means, paired Wilcoxon tests, what budget the controller needs), one subsection
per further run.

Must not import TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import fmt, not_measured, p_cell, table, wins_cell

CONTROLLER_EFFICIENCY = (
    (
        "controller_efficiency",
        "30% of the signal from neighbour interactions, noise/signal as measured",
    ),
    ("controller_efficiency_hard", "60% interactions, twice the measured noise"),
)


def section_controller_efficiency(runs: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """The controller on synthetic proxy-shaped rewards: best true quality per budget."""
    lines = ["### The controller on synthetic proxy-shaped rewards", ""]
    if all(data is None for data in runs.values()):
        return lines + [not_measured("controller_efficiency")]
    lines += [
        "`benchmarks/controller_efficiency.py` replaces proxy training with a synthetic landscape "
        "over the MnasNet space's 42 decisions, scaled to what the proxy check measured on digits "
        "(3 epochs: signal 0.174, seed noise 0.053; a resampled architecture gets the same "
        "noisy reward, as the seeded proxy does). Figure: the true quality z (in standard "
        "deviations of the space) of the architecture with the best observed reward, mean ± std "
        "over paired landscapes; 'vs random': mean paired difference, wins, Wilcoxon p.",
    ]
    for (name, description), data in zip(CONTROLLER_EFFICIENCY, runs.values(), strict=True):
        if data is None:
            continue
        config = data.get("config", {})
        table_data = data.get("table", {})
        budgets = sorted({int(b) for row in table_data.values() for b in row})
        lines += [
            "",
            f"**{description}** (`{name}.json`: {config.get('seeds')} landscapes × "
            f"{config.get('samples')} samples, interaction {fmt(config.get('interaction'), 1)}, "
            f"noise/signal {fmt(config.get('noise_over_signal'), 2)})",
            "",
        ]
        rows = []
        for method, row in table_data.items():
            cells = [method]
            for budget in budgets:
                entry = row.get(str(budget), {})
                best = entry.get("best_z", [None, None])
                versus = entry.get("vs_random")
                cell = f"{fmt(best[0])} ± {fmt(best[1])}"
                if versus:
                    cell += (
                        f" ({versus.get('mean_diff', 0):+.2f}, {versus.get('wins')}/"
                        f"{config.get('seeds')}, p={p_cell(versus.get('p'))})"
                    )
                cells.append(cell)
            cells.append(fmt(row.get(str(budgets[-1]), {}).get("entropy"), 1))
            rows.append(cells)
        lines += table(
            ["method", *[f"best z after {b} (vs random)" for b in budgets], "entropy at end"],
            rows,
        )
    return lines


def _budget_table(paired: Mapping[str, Any]) -> list[str]:
    """The paired differences after the first N trials, and from which trial on RL stays
    ahead: what budget the controller needs."""
    rows = []
    seeds = len(paired.get("seeds") or [])
    for row in paired.get("by_budget") or []:
        cells = [str(row.get("trials"))]
        for key, digits in (("best_reward", 4), ("best_accuracy_at_target", 3)):
            mean, std = row.get(key) or (None, None)
            cells += [
                f"{fmt(mean, digits)} ± {fmt(std, digits)}",
                wins_cell(row.get(f"{key}_wins"), seeds),
                p_cell(row.get(f"{key}_p")),
            ]
        rows.append(cells)
    if not rows:
        return []
    ahead = paired.get("ahead_from") or {}

    def since(value: Any) -> str:
        return "not within this budget" if value is None else f"from trial {value} on"

    return [
        "",
        "What budget the controller needs: the same paired differences after the first N trials.",
        "",
        *table(
            [
                "trials",
                "best reward: difference",
                "wins",
                "p",
                "best accuracy ≤ T: difference",
                "wins",
                "p",
            ],
            rows,
        ),
        "",
        f"RL's best reward stays ahead of random's on the mean over seeds "
        f"{since(ahead.get('mean'))}, and on every seed {since(ahead.get('every_seed'))}.",
    ]


def _paired_verdict(paired: Mapping[str, Any]) -> str:
    """One sentence from the paired best-reward figures."""
    mean = (paired.get("best_reward") or [None])[0]
    p_value = paired.get("best_reward_p")
    seeds = len(paired.get("seeds") or [])
    wins = paired.get("best_reward_wins")
    if mean is None or p_value is None or p_value != p_value:
        return "Too few paired seeds for a test."
    if p_value < 0.05:
        side = "beats" if mean > 0 else "loses to"
        return f"The RL controller {side} random search on best reward (p = {p_value:.3g})."
    if seeds and wins in (0, seeds):
        side = "beat" if wins else "lost to"
        return (
            f"The RL controller {side} random search on best reward on every one of the "
            f"{seeds} seeds; that is the strongest result {seeds} pairs can give a two-sided "
            f"signed-rank test (p = {p_value:.3g}): more seeds are needed for p < 0.05."
        )
    return f"No significant difference on best reward at this budget (p = {p_value:.3g})."


# Further search-efficiency runs: (results file, subsection title), each shown when measured.
SEARCH_EFFICIENCY_RUNS = (
    ("search_efficiency_variants", "Other RL variants on digits"),
    ("search_efficiency_digits_m", "On an image folder: digits-m"),
)


def section_search_efficiency(
    data: Mapping[str, Any] | None,
    controller: Mapping[str, Mapping[str, Any] | None] | None = None,
    others: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> list[str]:
    """RL vs random: the controller on synthetic rewards, then at the same budget on the real
    proxy (per-seed rows, mean ± std, paired differences with Wilcoxon p-values), then the
    `others` runs (subsection title → result, None when not measured) the same way."""
    title = "## 6. Search efficiency: RL controllers vs random search"
    lines = [title, ""]
    if controller is not None:
        lines += section_controller_efficiency(controller) + ["", "### On the real proxy", ""]
    if data is None:
        lines.append(not_measured("search_efficiency"))
    else:
        lines += _search_efficiency_run(data)
    for name, other in (others or {}).items():
        if other is not None:
            lines += ["", f"### {name}", ""] + _search_efficiency_run(other)
    return lines


def _search_efficiency_run(data: Mapping[str, Any]) -> list[str]:
    """One search_efficiency*.json: its setting, per-seed and mean rows, paired tests, note."""
    lines: list[str] = []
    config = data.get("config", {})
    steps = config.get("steps_per_epoch") or "all"
    lines += [
        f"`{config.get('command', '')}`: up to {config.get('trials')} trials per search on "
        f"{config.get('dataset')} at {config.get('proxy_image_size')}² "
        f"({config.get('epochs')} epochs × {steps} steps), latency on "
        f"`{config.get('backend')}` at {config.get('latency_image_size')}², target T = "
        f"{fmt(config.get('latency_target_ms'), 3)} ms, hypervolume reference "
        f"{fmt(config.get('latency_ref_ms'), 3)} ms.",
        "",
    ]
    rows = [
        [
            record.get("algorithm"),
            record.get("seed"),
            f"{record.get('trials')} ({record.get('failed')}, {record.get('cached', 0)})",
            fmt(record.get("best_reward"), 4),
            fmt(record.get("best_accuracy_at_target"), 3),
            fmt(record.get("final_hypervolume"), 3),
        ]
        for record in data.get("searches", [])
    ]
    for algorithm, summary in data.get("summary", {}).items():
        best, at_target, hypervolume = (
            summary.get("best_reward", [None, None]),
            summary.get("best_accuracy_at_target", [None, None]),
            summary.get("final_hypervolume", [None, None]),
        )
        budget = data.get("common_budget")
        rows.append(
            [
                f"**{algorithm}**",
                "mean ± std" + (f" at {budget} trials" if budget else ""),
                "",
                f"**{fmt(best[0], 4)} ± {fmt(best[1], 4)}**",
                f"**{fmt(at_target[0], 3)} ± {fmt(at_target[1], 3)}**",
                f"**{fmt(hypervolume[0], 3)} ± {fmt(hypervolume[1], 3)}**",
            ]
        )
    lines += table(
        [
            "method",
            "seed",
            "trials (failed, reused)",
            "best reward",
            "best accuracy at ≤ T",
            "final hypervolume",
        ],
        rows,
    )
    for pair, paired in data.get("paired", {}).items():
        lines += ["", f"Paired by seed, {pair}:", ""]
        pair_rows = []
        for key, label, digits in (
            ("best_reward", "best reward", 4),
            ("best_accuracy_at_target", "best accuracy at ≤ T", 3),
            ("final_hypervolume", "final hypervolume", 3),
        ):
            if key not in paired:
                continue
            mean, std = paired[key]
            pair_rows.append(
                [
                    label,
                    f"{fmt(mean, digits)} ± {fmt(std, digits)}",
                    wins_cell(paired.get(f"{key}_wins"), len(paired.get("seeds") or [])),
                    p_cell(paired.get(f"{key}_p")),
                ]
            )
        lines += table(["figure", "mean difference ± std", "wins", "Wilcoxon p"], pair_rows)
        accuracy_noise = fmt(paired.get("identical_abs_accuracy_diff"), 3)
        latency_noise = fmt(paired.get("identical_abs_latency_diff_pct"), 1)
        lines += [
            "",
            f"{_paired_verdict(paired)} {paired.get('identical_archs')} of "
            f"{paired.get('compared_trials')} trial pairs sampled the identical architecture; "
            f"on those, proxy accuracy differed by {accuracy_noise} and latency by "
            f"{latency_noise}% on average.",
        ]
        lines += _budget_table(paired)
    if config.get("note"):
        lines += ["", f"Note: {config['note']}"]
    return lines
