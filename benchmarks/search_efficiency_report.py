"""The result files of the search-efficiency benchmark: search_efficiency[_<data set>].json, .md
and .png (digits: no suffix).

Owns their names and layout, the markdown tables and text, the figure (mean curves ± one std over
seeds), the JSON layout of every file the benchmark writes (`write_json`), re-aggregation
(--norun), which keeps the note and wall time of the run that made the searches, and the runs
archive (`write_runs_archive`: the workdir's resumable files, to resume on another machine).
Every file is written atomically (`tflite_bench.files.atomic_write`).

Must not import TensorFlow or absl flags, and must not run searches or compute figures: it formats
the result document it is given. `search.spaces.base` (for the uniform policy's entropy) and
matplotlib
are imported inside the functions that need them.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import tarfile
from typing import Any

import numpy as np
from search_efficiency_stats import CURVES

from tflite_bench.files import atomic_write

BASENAME = "search_efficiency"


def write_json(data: Any, path: str) -> None:
    """Writes `data` as indented JSON (values JSON lacks written as strings), atomically."""
    atomic_write(path, json.dumps(data, indent=2, default=str))


# What a runs archive leaves out: TensorBoard logs, figures, kept models and backups, which
# resuming does not need and which would make the archive hundreds of times larger.
ARCHIVE_SKIPS = {"dirs": ("tensorboard",), "suffixes": (".png", ".keras", ".h5", ".bak")}


def write_runs_archive(workdir: str, path: str) -> list[str]:
    """Writes the work directory's resumable files (per search: trials.csv, the oracle's and
    trials' state, the latency cache, the benchmark's records; target.json, the logs) as a
    .tar.gz under the workdir's own folder name, atomically; returns the member names. Restore
    with `tar xzf <path> -C <the workdir's parent>`, then run the same command to resume."""
    root = os.path.abspath(workdir)
    buffer, members = io.BytesIO(), []
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in ARCHIVE_SKIPS["dirs"])
            for name in sorted(files):
                if not name.endswith(ARCHIVE_SKIPS["suffixes"]):
                    member = os.path.relpath(os.path.join(folder, name), os.path.dirname(root))
                    archive.add(os.path.join(folder, name), arcname=member, recursive=False)
                    members.append(member)
    atomic_write(path, buffer.getvalue(), make_dirs=True)
    return members


def basename(dataset: str) -> str:
    """The results' file name without extension: BASENAME for digits, else BASENAME_<name>
    with the data set's name (a folder's last path component) as a file-name word."""
    if dataset == "digits":
        return BASENAME
    name = os.path.basename(os.path.normpath(dataset.removeprefix("folder:")))
    return f"{BASENAME}_{re.sub(r'[^A-Za-z0-9]+', '_', name).strip('_').lower()}"


def write_results(
    result: dict[str, Any], results_dir: str, name: str = BASENAME, *, reaggregation: bool
) -> str:
    """Writes <results_dir>/<name>.json, .md and .png; returns the path without the
    extension. With `reaggregation`, an existing .json lends its note (unless the result has
    one) and wall time to `result`, which is updated in place, and its command when the work
    directory recorded none; with neither, the command is the aggregation's own."""
    os.makedirs(results_dir, exist_ok=True)
    base = os.path.join(results_dir, name)
    config = result["config"]
    if reaggregation and os.path.exists(f"{base}.json"):
        # Re-aggregation: keep the note and wall time of the run that made the searches.
        with open(f"{base}.json", encoding="utf-8") as handle:
            previous = json.load(handle)
        config["command"] = config["command"] or previous["config"]["command"]
        config["note"] = config["note"] or previous["config"].get("note")
        result["wall_seconds"] = previous["wall_seconds"]
    config["command"] = config["command"] or config.get("aggregated_by")
    write_json(result, f"{base}.json")
    write_markdown(f"{base}.md", result)
    plot(f"{base}.png", result["summary"], config)
    return base


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def write_markdown(path: str, result: dict[str, Any]) -> None:
    """The .md: the setup, a row per search and a mean row per method, time per trial, the
    controllers' entropy, and the paired comparisons with random search."""
    config, searches, summary = result["config"], result["searches"], result["summary"]
    dataset, classes = config["dataset"], config["classes"]
    trials = [t for s in searches for t in s["per_trial"] if t["status"] == "COMPLETED"]
    lines = [
        "# Search efficiency: RL controllers vs random search at the same budget",
        "",
        f"Command: `{config['command']}`",
        "",
        *(
            [f"Aggregated by: `{config['aggregated_by']}`", ""]
            if config.get("aggregated_by") and config["aggregated_by"] != config["command"]
            else []
        ),
        f"Proxy task: {dataset} ({config['proxy_image_size']}², {config['epochs']} epochs × "
        f"{config['steps_per_epoch']} steps × batch {config['batch_size']}); space `mnasnet`; "
        f"policy `{config['policy']}` for RL; {config['trials']} trials per search; "
        f"seeds {', '.join(map(str, config['seeds']))}. Latency: backend `{config['backend']}` at "
        f"{config['latency_image_size']}², {classes}-class head, median of "
        f"{config['latency_runs']} runs, {config['latency_clock']} clock. "
        f"T = {config['latency_target_ms']:.3f} ms "
        f"({config['target_source']}); soft reward ACC·(LAT/T)^-0.07. Hypervolume of the "
        f"(latency, accuracy) front in ms·accuracy, latency reference "
        f"{config['latency_ref_ms']:.3f} ms ({config['hv_ref_factor']:g}×T), accuracy ≥ 0.",
        "",
        f"Wall time: {sum(s['seconds']['wall'] for s in searches) / 60:.1f} min for the "
        "searches (sum over their processes, across resumed invocations); the invocation that "
        f"wrote this file took {result['wall_seconds'] / 60:.1f} min.",
        "",
        *([f"Note: {config['note']}", ""] if config.get("note") else []),
        "| method | seed | trials (failed, reused) | best reward | best trial: acc / latency ms | "
        "best acc ≤ T | final hypervolume | mean reward | wall min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in searches:
        b = s["best_trial"] or {}
        lines.append(
            f"| {s['algorithm']} | {s['seed']} | {s['trials']} ({s['failed']}, "
            f"{s.get('cached', 0)}) | {s['best_reward']:.4f} | {b.get('accuracy', math.nan):.3f} / "
            f"{b.get('latency_ms', math.nan):.2f} | {_fmt(s.get('best_accuracy_at_target'))} | "
            f"{s['final_hypervolume']:.3f} | "
            f"{s['mean_reward']:.4f} | {s['seconds']['wall'] / 60:.1f} |"
        )
    for algorithm, agg in summary.items():
        (br, brs), (ba, bas), (hv, hvs), (mr, mrs) = (
            agg["best_reward"],
            agg["best_accuracy_at_target"],
            agg["final_hypervolume"],
            agg["mean_reward"],
        )
        lines.append(
            f"| **{algorithm}** | mean ± std ({len(agg['seeds'])} seeds) | at {agg['trials']} | "
            f"**{br:.4f} ± {brs:.4f}** | | **{ba:.3f} ± {bas:.3f}** | **{hv:.3f} ± {hvs:.3f}** | "
            f"{mr:.4f} ± {mrs:.4f} | |"
        )
    lines += [
        "",
        "Rows per seed: each search's figures at its own budget so far. Mean rows: at the budget "
        f"every search has reached ({result['common_budget']} trials), so that a partial run "
        "compares like with like. std: sample standard deviation over seeds (ddof = 1).",
        "",
    ]
    if trials:
        train = np.mean([t["train_seconds"] for t in trials])
        latency = np.mean([t["convert_seconds"] + t["measure_seconds"] for t in trials])
        whole = np.mean([t["seconds"] for t in trials])
        lines += [
            f"Time per completed trial (mean of {len(trials)}): {whole:.1f} s = build + proxy "
            f"training {train:.1f} s + latency {latency:.1f} s (conversion + timed runs). "
            "The rest of each search's wall time is process start-up, data loading and reports.",
            "",
        ]
    entropies = [
        s["controller_entropy"]
        for s in searches
        if s["algorithm"] != "random" and s["controller_entropy"]
    ]
    if entropies:
        from search.spaces import registry as space_registry

        uniform = sum(math.log(n) for n in space_registry.get_space("mnasnet").choice_sizes())
        lines += [
            "Controller entropy (nats) at the first → last trial: "
            + ", ".join(f"{a:.3f} → {b:.3f}" for a, b in entropies)
            + f" (uniform policy: Σ log Nᵢ = {uniform:.3f}).",
            "",
        ]
    for name, pair in result["paired"].items():
        lines += _paired_lines(name, pair)
    stem = os.path.splitext(os.path.basename(path))[0]
    lines += [f"Per-trial curves are in {stem}.json; plot in {stem}.png.", ""]
    atomic_write(path, "\n".join(lines))


def _paired_lines(name: str, pair: dict[str, Any]) -> list[str]:
    """The .md section of one RL method paired by seed with random search."""
    n = len(pair["seeds"])
    return [
        f"Paired by seed, {name} (at the budget both reached: "
        f"{', '.join(map(str, pair['trials']))} trials):",
        "",
        "| figure | mean difference ± std | wins | Wilcoxon p (two-sided) |",
        "|---|---|---|---|",
        *(
            f"| {label} | {pair[key][0]:+.4f} ± {pair[key][1]:.4f} | "
            f"{pair[f'{key}_wins']}/{n} | {pair[f'{key}_p']:.3g} |"
            for key, label in (
                ("best_reward", "best reward"),
                ("best_accuracy_at_target", "best accuracy at ≤ T"),
                ("final_hypervolume", "hypervolume"),
            )
        ),
        "",
        f"With {n} seeds the smallest two-sided p a signed-rank test can give is "
        f"{2 / 2**n:.3g}. Same seed ⇒ same data split "
        f"and controller RNG stream: {pair['identical_archs']} of "
        f"{pair['compared_trials']} trials sampled the identical architecture in both "
        "searches; on those, proxy accuracy differed by "
        f"{pair['identical_abs_accuracy_diff']:.3f} and latency by "
        f"{pair['identical_abs_latency_diff_pct']:.1f}% on average (|Δ|): the noise of one "
        "trial's measurement.",
        "",
        *_budget_lines(pair),
    ]


def _budget_lines(pair: dict[str, Any]) -> list[str]:
    """The paired best-reward and best-accuracy-at-≤T differences after 10, 20, ... trials, and
    from which trial on the method stays ahead."""
    if not pair.get("by_budget"):
        return []
    n = len(pair["seeds"])
    ahead = pair.get("ahead_from") or {}

    def since(value: int | None) -> str:
        return "not at this budget" if value is None else f"from trial {value} on"

    return [
        "What budget the controller needs (paired by seed, after the first N trials):",
        "",
        "| trials | best reward: difference | wins | p | best acc ≤ T: difference | wins | p |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {row['trials']} | {row['best_reward'][0]:+.4f} ± {row['best_reward'][1]:.4f} | "
            f"{row['best_reward_wins']}/{n} | {row['best_reward_p']:.3g} | "
            f"{row['best_accuracy_at_target'][0]:+.3f} ± {row['best_accuracy_at_target'][1]:.3f}"
            f" | {row['best_accuracy_at_target_wins']}/{n} | "
            f"{row['best_accuracy_at_target_p']:.3g} |"
            for row in pair["by_budget"]
        ),
        "",
        f"Best reward ahead of random's: on the mean over seeds {since(ahead.get('mean'))}; "
        f"on every seed {since(ahead.get('every_seed'))}.",
        "",
    ]


def plot(path: str, summary: dict[str, Any], config: dict[str, Any]) -> None:
    """The .png: per method, the mean ± one std over seeds of each curve against the trial."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(14, 4))
    for algorithm, agg in summary.items():
        for ax, key in zip(axes, CURVES, strict=True):
            mean = np.array(agg["curves"][key]["mean"], dtype=float)
            std = np.array(agg["curves"][key]["std"], dtype=float)
            x = np.arange(1, len(mean) + 1)
            (line,) = ax.plot(
                x, mean, "-o", markersize=3, label=f"{algorithm} ({len(agg['seeds'])} seeds)"
            )
            ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    axes[0].set_ylabel("best reward so far")
    axes[1].set_ylabel(f"best accuracy at ≤ T ({config['latency_target_ms']:.2f} ms)")
    axes[2].set_ylabel(f"hypervolume (ms·acc, ref {config['latency_ref_ms']:.2f} ms)")
    for ax in axes:
        ax.set_xlabel("trial")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(
        f"Search efficiency on {config['dataset']} (mean ± std over seeds)", fontsize=10
    )
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=120)
    plt.close(figure)
    atomic_write(path, png.getvalue())
