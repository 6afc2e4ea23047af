"""The `mnasnet-oneshot` binary: one-shot architecture search over a weight-sharing supernet.

    mnasnet-oneshot --algorithm=tunas --space=mnasnet --dataset=digits \\
        --latency_table=host32.json --output_dir=runs/oneshot

`--algorithm=tunas` learns the policy by REINFORCE on one-shot accuracy and table latency
(TuNAS); `--algorithm=dnas` by gradient through a Gumbel-softmax relaxation (FBNet). Without
`--latency_table` the table of the space at the latency resolution is measured on this host into
the output folder first (once; later runs and resumes reuse it). Writes trials.csv (every
architecture evaluated with shared weights), pareto.csv/png, history.csv/png, best_arch.json
(which `mnasnet-train --model=` accepts) and summary.json; re-running with the same flags
resumes after the last finished epoch. Bad flags fail with a usage error before anything is
written.

Owns the binary: its flags are generated from `search.oneshot.config.OneShotConfig`'s fields;
the work is in search/oneshot/.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from search.oneshot.config import OneShotConfig
from search.results import run_folder
from tflite_bench import settings


def _define_flags(flag_values: Any = None) -> None:
    """One flag per field of `OneShotConfig` (default, help, allowed values) in `flag_values`
    (None: absl's global FLAGS)."""
    settings.define_flags(OneShotConfig, flag_values)


def config_from_flags(values: Any) -> OneShotConfig:
    """The OneShotConfig the parsed flag values describe (ValueError naming a bad one)."""
    return settings.from_flags(OneShotConfig, values)


def format_summary(summary: dict[str, Any], output_dir: str) -> str:
    """A short human summary: what was searched, the best and most likely architectures, the
    verdict on the references, and the files written."""
    likely = summary.get("most_likely") or {}
    headline = [
        f"one-shot {summary['algorithm']} on {summary['space']} / {summary['dataset']}: "
        f"{summary['distinct_archs']} architectures evaluated with shared weights "
        f"(search {summary['search_seconds']:.0f} s, evaluation {summary['evaluate_seconds']:.0f} s"
        f", target {summary['latency_target_ms']:.3f} ms)",
    ]
    notes = [
        f"Most likely: one-shot accuracy {likely.get('accuracy', float('nan')):.3f}, "
        f"{likely.get('latency_ms', float('nan')):.3f} ms",
        f"Train the best: {summary['train_command']}",
    ]
    names = ("trials.csv", "pareto.csv", "pareto.png", "history.png", "best_arch.json")
    written = {name: os.path.join(output_dir, name) for name in (*names, "summary.json")}
    return run_folder.format_summary(
        headline, summary, written, best_label="Best (one-shot accuracy)", notes=notes
    )


def _main(argv: Sequence[str]) -> None:
    from absl import flags

    from tflite_bench import binary

    def job() -> tuple[dict[str, Any], str]:
        config = config_from_flags(flags.FLAGS)  # bad flags fail before TensorFlow loads
        from search.oneshot import run as search

        return search.run(config), config.output_dir

    binary.run_job(
        argv, job, lambda done: format_summary(*done), progress_loggers=("mnasnet_tf.oneshot",)
    )


def run_main() -> None:
    """Console entry point of `mnasnet-oneshot`."""
    from absl import app

    from tflite_bench import binary

    _define_flags()
    binary.run_binary(lambda: app.run(_main), program="mnasnet-oneshot", resumable=True)


if __name__ == "__main__":
    run_main()
