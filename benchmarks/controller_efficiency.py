"""Controller sample efficiency on synthetic rewards shaped like the real proxy (TF-free, minutes).

The real benchmark (benchmarks/search_efficiency.py) costs ~16 s per trial; tuning the
controller there is unaffordable. This one replaces proxy training with a synthetic landscape
over the real search space's decisions, scaled to what mnasnet-proxy-check measured on digits
at 3 epochs: mean accuracy 0.725, std across architectures 0.174 (the signal) and seed noise
0.053. An architecture's observed reward is

    0.725 + 0.174 · z(arch) + 0.053 · ε(arch)

where z is standardised over uniformly sampled architectures: a sum of per-decision effects
(importance of each decision ~ Exponential(1), so a few decisions matter most) plus, with
--interaction f, a share f of the variance from pairwise effects of neighbouring decisions
(what an independent policy cannot represent). ε is a fixed draw per architecture (the proxy
is seeded by the architecture, so a resampled architecture gets the same noisy reward).

Per method and seed (one landscape per seed, shared by all methods: paired), it records the
true quality z of the architecture with the best observed reward after each sample and the
policy entropy, and prints and saves mean ± std over seeds, the paired difference with random
search and a Wilcoxon signed-rank p-value at each budget.

Run: .venv/bin/python benchmarks/controller_efficiency.py [--seeds 20 --samples 300]
Writes benchmarks/results/controller_efficiency.{json,md,png}.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import time
from typing import Any

import numpy as np
from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from search.controllers.controller import make_controller  # noqa: E402
from search.results import report  # noqa: E402  (pure Python)
from search.spaces import registry as space_registry  # noqa: E402  (pure Python)

MEAN, SIGNAL, NOISE = 0.725, 0.174, 0.053  # mnasnet-proxy-check, digits, 3 epochs

# name -> (algorithm, policy, controller kwargs, update_every)
METHODS: dict[str, tuple[str, str, dict[str, Any], int]] = {
    "random": ("random", "lstm", {}, 1),
    "lstm (v1 defaults)": ("reinforce", "lstm", {"adam_beta1": 0.9}, 1),
    "lstm β1=0 lr 1e-3": ("reinforce", "lstm", {"adam_beta1": 0.0}, 1),
    "lstm β1=0 lr 3e-3": ("reinforce", "lstm", {"adam_beta1": 0.0, "learning_rate": 3e-3}, 1),
    "lstm β1=0 lr 2e-3": ("reinforce", "lstm", {"adam_beta1": 0.0, "learning_rate": 2e-3}, 1),
    "independent (v1 defaults)": (
        "reinforce",
        "independent",
        {"adam_beta1": 0.9, "learning_rate": 0.05, "warmup_samples": 0},
        1,
    ),
    "independent β1=0 lr 0.05": (
        "reinforce",
        "independent",
        {"adam_beta1": 0.0, "learning_rate": 0.05, "warmup_samples": 0},
        1,
    ),
    "independent β1=0 lr 0.1 (default)": ("reinforce", "independent", {}, 1),
    "independent β1=0 lr 0.2": (
        "reinforce",
        "independent",
        {"adam_beta1": 0.0, "learning_rate": 0.2, "warmup_samples": 0},
        1,
    ),
    "independent β1=0 lr 0.1 norm": (
        "reinforce",
        "independent",
        {"learning_rate": 0.1, "normalize_rewards": True},
        1,
    ),
    "independent β1=0 lr 0.2 warmup": (
        "reinforce",
        "independent",
        {"learning_rate": 0.2, "warmup_samples": 50},
        1,
    ),
    "ppo lstm": ("ppo", "lstm", {"adam_beta1": 0.9}, 8),
    "ppo independent": (
        "ppo",
        "independent",
        {"adam_beta1": 0.9, "learning_rate": 0.05, "warmup_samples": 0},
        8,
    ),
    "ppo independent β1=0 lr 0.1": ("ppo", "independent", {}, 8),
}

FLAGS = flags.FLAGS
flags.DEFINE_enum(
    "search_space", "mnasnet", space_registry.list_spaces(), "Search space the landscape spans."
)
flags.DEFINE_integer("seeds", 20, "Landscapes (and controller seeds), paired across methods.", 1)
flags.DEFINE_integer("samples", 300, "Samples (trials) per search.", lower_bound=10)
flags.DEFINE_list("budgets", ["50", "100", "200", "300"], "Budgets the table reports.")
flags.DEFINE_float("interaction", 0.3, "Share of the signal's variance from pairwise effects.")
flags.DEFINE_float("noise", NOISE / SIGNAL, "Noise std in units of the signal's std.")
flags.DEFINE_list("methods", list(METHODS), "Methods to run (names of METHODS).")
flags.DEFINE_string(
    "out",
    os.path.join(REPO, "benchmarks", "results", "controller_efficiency"),
    "Output path without extension.",
)


class Landscape:
    """z(arch): standardised additive + neighbour-pairwise effects; ε(arch): fixed noise."""

    def __init__(self, sizes: list[int], seed: int, interaction: float) -> None:
        rng = np.random.default_rng(seed)
        self.sizes, self.seed = sizes, seed
        importance = rng.exponential(1.0, len(sizes))
        self.unary = [rng.normal(0, 1, n) * a for n, a in zip(sizes, importance, strict=True)]
        self.unary = [u - u.mean() for u in self.unary]
        unary_var = sum(float((u**2).mean()) for u in self.unary)
        self.pair = [rng.normal(0, 1, (a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        self.pair = [p - p.mean(0) - p.mean(1, keepdims=True) + p.mean() for p in self.pair]
        pair_var = sum(float((p**2).mean()) for p in self.pair)
        self.unary_scale = math.sqrt((1.0 - interaction) / unary_var)
        self.pair_scale = math.sqrt(interaction / pair_var) if interaction > 0 else 0.0

    def z(self, choices: list[int]) -> float:
        unary = sum(u[c] for u, c in zip(self.unary, choices, strict=True))
        pair = sum(p[a, b] for p, a, b in zip(self.pair, choices[:-1], choices[1:], strict=False))
        return float(self.unary_scale * unary + self.pair_scale * pair)

    def epsilon(self, choices: list[int]) -> float:
        digest = hashlib.sha256(f"{self.seed}:{choices}".encode()).digest()
        return float(np.random.default_rng(int.from_bytes(digest[:8], "little")).normal())


def run_search(name: str, landscape: Landscape, seed: int, samples: int, noise: float) -> dict:
    """One search: per sample, the true z of the best-observed architecture so far."""
    algorithm, policy, kwargs, update_every = METHODS[name]
    controller = make_controller(
        landscape.sizes, algorithm=algorithm, policy=policy, seed=seed, **kwargs
    )
    best_observed, best_true = -math.inf, math.nan
    curve, entropy, zs, buffer = [], [], [], []
    for _ in range(samples):
        entropy.append(controller.entropy())
        choices, log_prob = controller.sample()
        z = landscape.z(choices)
        observed = MEAN + SIGNAL * (z + noise * landscape.epsilon(choices))
        if observed > best_observed:
            best_observed, best_true = observed, z
        curve.append(best_true)
        zs.append(z)
        buffer.append((choices, observed, log_prob))
        if len(buffer) >= update_every:
            controller.update(
                [b[0] for b in buffer], [b[1] for b in buffer], old_log_probs=[b[2] for b in buffer]
            )
            buffer = []
    return {"best_true_z": curve, "sample_z": zs, "entropy": entropy}


def main(argv: list[str]) -> None:
    del argv
    unknown = [m for m in FLAGS.methods if m not in METHODS]
    if unknown:
        raise app.UsageError(f"--methods: unknown {unknown}; known: {list(METHODS)}")
    budgets = [int(b) for b in FLAGS.budgets if int(b) <= FLAGS.samples]
    sizes = space_registry.get_space(FLAGS.search_space).choice_sizes()
    started = time.time()
    runs: dict[str, list[dict]] = {m: [] for m in FLAGS.methods}
    for seed in range(FLAGS.seeds):
        landscape = Landscape(sizes, 1000 + seed, FLAGS.interaction)
        for method in FLAGS.methods:
            runs[method].append(run_search(method, landscape, seed, FLAGS.samples, FLAGS.noise))
        print(f"seed {seed + 1}/{FLAGS.seeds} done ({time.time() - started:.0f} s)", flush=True)
    table = {}
    for method, searches in runs.items():
        row = {}
        for budget in budgets:
            best = [s["best_true_z"][budget - 1] for s in searches]
            late = [float(np.mean(s["sample_z"][max(0, budget - 20) : budget])) for s in searches]
            entry = {
                "best_z": [float(np.mean(best)), float(np.std(best, ddof=1))],
                "recent_mean_z": [float(np.mean(late)), float(np.std(late, ddof=1))],
                "entropy": float(np.mean([s["entropy"][budget - 1] for s in searches])),
            }
            if method != "random" and "random" in runs:
                rand = [s["best_true_z"][budget - 1] for s in runs["random"]]
                diff = [a - b for a, b in zip(best, rand, strict=True)]
                entry["vs_random"] = {
                    "mean_diff": float(np.mean(diff)),
                    "wins": int(sum(d > 0 for d in diff)),
                    "p": report.wilcoxon_p(diff),
                }
            row[str(budget)] = entry
        table[method] = row
    result = {
        "config": {
            "space": FLAGS.search_space,
            "seeds": FLAGS.seeds,
            "samples": FLAGS.samples,
            "interaction": FLAGS.interaction,
            "noise_over_signal": FLAGS.noise,
            "scale": {"mean": MEAN, "signal": SIGNAL, "noise": NOISE},
            "methods": {
                m: {
                    "algorithm": METHODS[m][0],
                    "policy": METHODS[m][1],
                    "kwargs": METHODS[m][2],
                    "update_every": METHODS[m][3],
                }
                for m in FLAGS.methods
            },
        },
        "seconds": time.time() - started,
        "table": table,
        "curves": {
            m: {
                "best_z_mean": np.mean([s["best_true_z"] for s in ss], axis=0).tolist(),
                "sample_z_mean": np.mean([s["sample_z"] for s in ss], axis=0).tolist(),
                "entropy_mean": np.mean([s["entropy"] for s in ss], axis=0).tolist(),
            }
            for m, ss in runs.items()
        },
    }
    os.makedirs(os.path.dirname(FLAGS.out), exist_ok=True)
    report.write_json(result, f"{FLAGS.out}.json")
    lines = _markdown(result, budgets)
    with open(f"{FLAGS.out}.md", "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    _plot(result, f"{FLAGS.out}.png")
    print("\n".join(lines))


def _markdown(result: dict, budgets: list[int]) -> list[str]:
    config = result["config"]
    lines = [
        "# Controller sample efficiency on a synthetic proxy-shaped landscape",
        "",
        f"Space `{config['space']}`; {config['seeds']} landscapes × {config['samples']} samples; "
        f"interaction share {config['interaction']:g}; noise/signal "
        f"{config['noise_over_signal']:.3f} (digits, 3 epochs). Figure: true quality z (in "
        "std of the space) of the architecture with the best observed reward, mean ± std over "
        "seeds; vs random: mean paired difference, wins out of seeds, Wilcoxon p.",
        f"({result['seconds']:.0f} s)",
        "",
        "| method | "
        + " | ".join(f"best z @{b}" for b in budgets)
        + f" | vs random @{budgets[-1]} "
        f"| vs random @100 | entropy @{budgets[-1]} |",
        "|---|" + "---|" * (len(budgets) + 3),
    ]
    for method, row in result["table"].items():
        cells = [
            f"{row[str(b)]['best_z'][0]:.2f} ± {row[str(b)]['best_z'][1]:.2f}" for b in budgets
        ]

        def versus(budget: int, row: dict = row) -> str:
            entry = row.get(str(budget), {}).get("vs_random")
            if not entry:
                return "-"
            return (
                f"{entry['mean_diff']:+.2f}, {entry['wins']}/{config['seeds']}, p={entry['p']:.3g}"
            )

        lines.append(
            f"| {method} | " + " | ".join(cells) + f" | {versus(budgets[-1])} | {versus(100)} | "
            f"{row[str(budgets[-1])]['entropy']:.1f} |"
        )
    return lines


def _plot(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for method, curves in result["curves"].items():
        x = np.arange(1, len(curves["best_z_mean"]) + 1)
        axes[0].plot(x, curves["best_z_mean"], label=method)
        window = 10
        smooth = np.convolve(curves["sample_z_mean"], np.ones(window) / window, mode="valid")
        axes[1].plot(x[window - 1 :], smooth, label=method)
    axes[0].set_ylabel("true z of the best-observed architecture")
    axes[1].set_ylabel("mean z of the sampled architectures (10-sample window)")
    for ax in axes:
        ax.set_xlabel("samples")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    app.run(main)
