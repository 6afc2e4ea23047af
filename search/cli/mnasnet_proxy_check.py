"""The `mnasnet-proxy-check` binary: measure a proxy's fidelity before searching with it.

    mnasnet-proxy-check --dataset=digits --num_archs=8 --budgets=1,2,3 --long_epochs=15 \\
        --seeds=2 --output_dir=runs/proxy_check

Trains `--num_archs` architectures sampled from `--space` plus the `--references` zoo models
under each candidate budget (`--seeds` seeded runs) and under `--long_epochs` (`--long_seeds`
runs), then writes proxy_check.json, proxy_check.png and runs.json to `--output_dir` and prints
the table per budget and the recommended one. Re-running with the same settings resumes: only
missing runs are trained. Bad flags fail with a usage error before anything is written.

Owns the binary: its flags are generated from `search.proxy.check.ProxyCheckConfig`'s fields
(but EXTRA_FLAGS), and the summary text; the work is in search/proxy/check.py. Must not import
the tuner, oracle or search binary.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from search.proxy import check as proxy_check
from tflite_bench import settings

EXTRA_FLAGS = ("budgets", "seed")
"""Flags that are not a field of ProxyCheckConfig by the same name, kept hand-written with their
defaults from it: --budgets is a list of whole numbers (settings' list flags hold strings) and
--seed sets `search_seed` (the name stored in runs.json and proxy_check.json)."""


def _define_flags(flag_values: Any = None) -> None:
    """The flags of ProxyCheckConfig's fields, and EXTRA_FLAGS, in `flag_values` (None: absl's
    global FLAGS)."""
    from absl import flags

    values = flags.FLAGS if flag_values is None else flag_values
    settings.define_flags(proxy_check.ProxyCheckConfig, values)
    default = proxy_check.ProxyCheckConfig()
    flags.DEFINE_list(
        "budgets",
        [str(b) for b in default.budgets],
        "Candidate proxy budgets in epochs, each < --long_epochs.",
        flag_values=values,
    )
    flags.DEFINE_integer(
        "seed",
        default.search_seed,
        "Search seed: the sampling and every run.",
        flag_values=values,
    )


def _parse_budgets(values: Sequence[str]) -> tuple[int, ...]:
    budgets = []
    for text in values:
        try:
            budgets.append(int(text))
        except ValueError:
            raise ValueError(
                f"--budgets must list whole numbers of epochs; got {text!r} in {list(values)}"
            ) from None
    return tuple(budgets)


def config_from_flags(values: Any) -> proxy_check.ProxyCheckConfig:
    """The ProxyCheckConfig the parsed flag values describe (ValueError naming a bad one)."""
    return settings.from_flags(
        proxy_check.ProxyCheckConfig,
        values,
        budgets=_parse_budgets(values.budgets),
        search_seed=values.seed,
    )


def format_summary(report: Mapping[str, Any], output_dir: str | None = None) -> str:
    """A short human summary of a report: the table per budget, the recommendation, the files."""
    config = report["config"]
    lines = [
        f"Proxy check on {config['dataset']}: {len(report['archs'])} architectures "
        f"({config['num_archs']} from {config['space']!r} + {len(config['references'])} "
        f"references), {config['seeds']} seeds per budget, long budget "
        f"{config['long_epochs']} epochs ({_fmt(report['long']['seconds_per_trial'], 1)} s/trial)",
        f"{'budget':>8} {'s/trial':>8} {'seed std':>9} {'arch std':>9} {'Spearman':>9} "
        f"{'Kendall':>8}",
    ]
    for row in report["budgets"]:
        lines.append(
            f"{str(row['epochs']) + ' ep':>8} {_fmt(row['seconds_per_trial'], 1):>8} "
            f"{_fmt(row['seed_std'], 4):>9} {_fmt(row['arch_std'], 4):>9} "
            f"{_fmt(row['spearman'], 3):>9} {_fmt(row['kendall'], 3):>8}"
        )
    lines.append(report["recommendation"]["message"])
    if output_dir:
        lines.append("Wrote:")
        lines += [
            f"  {os.path.join(output_dir, f)}"
            for f in (
                proxy_check.REPORT_FILE,
                proxy_check.PLOT_FILE,
                proxy_check.RESULTS_FILE,
            )
        ]
    return "\n".join(lines)


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _main(argv: Sequence[str]) -> None:
    from absl import flags

    from tflite_bench import binary

    def job() -> tuple[dict[str, Any], str]:
        config = config_from_flags(flags.FLAGS)
        return proxy_check.run_proxy_check(config), config.output_dir

    binary.run_job(argv, job, lambda done: format_summary(*done))


def run_main() -> None:
    """Console entry point of `mnasnet-proxy-check`."""
    from absl import app

    from tflite_bench import binary

    _define_flags()
    binary.run_binary(lambda: app.run(_main), program="mnasnet-proxy-check", resumable=True)


if __name__ == "__main__":
    run_main()
