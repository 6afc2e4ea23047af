"""The `mnasnet-adapt` binary: NetAdapt a trained model to a latency budget.

    mnasnet-adapt --model=mobilenet-v3-small --dataset=digits --latency_fraction=0.75 \\
        --output_dir=runs/adapt

`--model` is a zoo name, an arch string or JSON (trained first for `--pretrain_epochs`), or a
trained `.keras` exported with its arch.json. Writes adapted_arch.json (which `mnasnet-train`
accepts), trajectory.csv/png, model.keras, model_float32.tflite and model_int8.tflite (measured
and evaluated), summary.json; re-running with the same flags resumes after the last finished
iteration. Bad flags fail with a usage error before anything is written.

Owns the binary: its flags are generated from `search.adapt.config.AdaptConfig`'s fields; the
work is in search/adapt/. Must not import the tuner, oracle or search binary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from search.adapt.config import AdaptConfig
from search.results import run_folder
from tflite_bench import settings


def _define_flags(flag_values: Any = None) -> None:
    """One flag per field of `AdaptConfig` (default, help, allowed values) in `flag_values`
    (None: absl's global FLAGS)."""
    settings.define_flags(AdaptConfig, flag_values)


def config_from_flags(values: Any) -> AdaptConfig:
    """The AdaptConfig the parsed flag values describe (ValueError naming a bad one)."""
    return settings.from_flags(AdaptConfig, values)


def format_summary(summary: dict[str, Any], files: dict[str, str]) -> str:
    """A short human summary: latency and accuracy before and after, why it stopped, the verdict
    on the original model, and the files written."""
    headline = [
        f"NetAdapt {summary['model']}: {summary['original_latency_ms']:.3f} ms → "
        f"{summary['latency_ms']:.3f} ms ({summary['latency_ratio']:.2f}×; target "
        f"{summary['target_ms']:.3f} ms) in {summary['iterations']} iterations "
        f"({summary['stopped']})",
        f"  test accuracy {100 * summary['original_test_accuracy']:.1f}% → "
        f"{100 * summary['test_accuracy']:.1f}%; int8 {summary['int8_latency_ms']:.3f} ms",
        f"  adapted: {summary['adapted_arch']}",
    ]
    return run_folder.format_summary(headline, {"verdict": summary.get("verdict")}, files)


def _main(argv: Sequence[str]) -> None:
    from absl import flags

    from search.adapt import netadapt
    from tflite_bench import binary

    binary.run_job(
        argv,
        lambda: netadapt.adapt(config_from_flags(flags.FLAGS)),
        lambda result: format_summary(result.summary, result.files),
        progress_loggers=("mnasnet_tf.adapt",),
    )


def run_main() -> None:
    """Console entry point of `mnasnet-adapt`."""
    from absl import app

    from tflite_bench import binary

    _define_flags()
    binary.run_binary(lambda: app.run(_main), program="mnasnet-adapt", resumable=True)


if __name__ == "__main__":
    run_main()
