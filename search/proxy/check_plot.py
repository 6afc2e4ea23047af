"""The figure of a proxy-fidelity check (`proxy_check.png`), drawn from its report alone.

Three panels: per candidate budget the Spearman and Kendall correlations with the long budget
(threshold dashed, recommended budget starred) and the seconds per trial on a second axis; seed
noise against the spread between architectures; each architecture's proxy accuracy against its
long-budget accuracy, one colour per budget, seed std as error bars.

Owns `plot`. Reads only the report dict `search.proxy.check.build_report` makes (the content
of proxy_check.json), so a figure can be redrawn from the file. matplotlib (Agg) is imported
inside `plot`; must not import TensorFlow or the rest of search/.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tflite_bench import files


def _value(number: float | None) -> float:
    return math.nan if number is None else float(number)


def plot(report: Mapping[str, Any], path: str) -> str:
    """Draws the report's figure to `path` (PNG, atomically replaced); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    budgets = report["budgets"]
    config = report["config"]
    labels = [f"{row['epochs']} ep" for row in budgets]
    x = np.arange(len(budgets))
    recommended = report["recommendation"].get("epochs")
    figure, (ranks, noise, scatter) = plt.subplots(1, 3, figsize=(16, 4.8))

    width = 0.38
    spearman = [_value(row["spearman"]) for row in budgets]
    kendall = [_value(row["kendall"]) for row in budgets]
    ranks.bar(x - width / 2, np.nan_to_num(spearman), width, label="Spearman", color="tab:blue")
    ranks.bar(x + width / 2, np.nan_to_num(kendall), width, label="Kendall", color="tab:cyan")
    ranks.axhline(
        config["threshold"],
        color="tab:red",
        linestyle="--",
        linewidth=1,
        label=f"threshold {config['threshold']:.2f}",
    )
    for index, row in enumerate(budgets):
        if row["epochs"] == recommended:
            top = max(np.nan_to_num(spearman[index]), 0.0) + 0.05
            ranks.annotate("★ recommended", (index, top), ha="center", fontsize=9)
    ranks.set_xticks(x, labels)
    ranks.set_ylim(min(-0.1, np.nanmin([*spearman, *kendall, 0.0]) - 0.1), 1.15)
    ranks.set_ylabel(f"rank correlation with {config['long_epochs']} epochs")
    ranks.set_title("Does the proxy rank like long training?")
    cost = ranks.twinx()
    cost.plot(x, [_value(row["seconds_per_trial"]) for row in budgets], "o-", color="tab:gray")
    cost.set_ylabel("seconds per trial (grey)")
    cost.set_ylim(bottom=0)
    ranks.legend(loc="lower right", fontsize=8)

    noise.bar(x - width / 2, [_value(r["seed_std"]) for r in budgets], width, label="seed std")
    noise.bar(
        x + width / 2, [_value(r["arch_std"]) for r in budgets], width, label="std across archs"
    )
    noise.set_xticks(x, labels)
    noise.set_ylabel("accuracy std")
    noise.set_title("Seed noise against the signal to rank")
    noise.legend(fontsize=8)

    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, max(1, len(budgets))))
    for colour, row in zip(colours, budgets, strict=True):
        key = str(row["epochs"])
        long = [_value(a["long"]["accuracy"]) for a in report["archs"]]
        proxy = [_value(a["budgets"][key]["accuracy"]) for a in report["archs"]]
        errors = [_std(a["budgets"][key]["accuracies"]) for a in report["archs"]]
        scatter.errorbar(
            long, proxy, yerr=errors, fmt="o", color=colour, label=f"{key} ep", capsize=2
        )
    for arch in report["archs"]:
        if arch["kind"] == "reference":
            last = str(budgets[-1]["epochs"])
            point = (_value(arch["long"]["accuracy"]), _value(arch["budgets"][last]["accuracy"]))
            scatter.annotate(
                arch["name"], point, fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
    scatter.set_xlabel(f"accuracy after {config['long_epochs']} epochs")
    scatter.set_ylabel("proxy accuracy (mean over seeds)")
    scatter.set_title(f"{len(report['archs'])} architectures on {config['dataset']}")
    scatter.legend(fontsize=8)

    figure.suptitle(report["recommendation"]["message"], fontsize=9, wrap=True)
    figure.tight_layout(rect=(0, 0, 1, 0.93))
    try:
        files.atomic_save(path, lambda tmp: figure.savefig(tmp, dpi=110), suffix=".png")
    finally:
        plt.close(figure)
    return path


def _std(values) -> float:
    values = [float(v) for v in values]
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
