"""The `mnasnet-adapt` binary: NetAdapt a trained model to a latency budget.

    mnasnet-adapt --model=mobilenet-v3-small --dataset=digits --latency_fraction=0.75 \\
        --output_dir=runs/adapt

`--model` is a zoo name, an arch string or JSON (trained first for `--pretrain_epochs`), or a
trained `.keras` exported with its arch.json. Writes adapted_arch.json (which `mnasnet-train`
accepts), trajectory.csv/png, model.keras, model_float32.tflite and model_int8.tflite (measured
and evaluated), summary.json; re-running with the same flags resumes after the last finished
iteration. Bad flags fail with a usage error before anything is written.

Owns the flags and their translation into `search.adapt.netadapt.AdaptConfig`; the work is in
search/adapt/. Must not import the tuner, oracle or search binary.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from search.adapt.netadapt import AdaptConfig
from search.adapt.sizing import ESTIMATORS


def _define_flags() -> None:
    from absl import flags

    f = flags
    default = AdaptConfig(model="-", output_dir="-", latency_fraction=0.5)
    f.DEFINE_string("model", None, "Zoo name, arch string, arch JSON, or a trained .keras.")
    f.DEFINE_string("dataset", default.dataset, "'digits', 'folder:<path>' or a tfds set.")
    f.DEFINE_string("data_dir", None, "tfds data directory.")
    f.DEFINE_float("latency_target_ms", None, "Target latency in ms (or --latency_fraction).")
    f.DEFINE_float("latency_fraction", None, "Target as a fraction in (0, 1) of the original's.")
    f.DEFINE_string(
        "backend",
        default.backend,
        f"How proposals are sized: {ESTIMATORS} ('table': per-part lookups measured on this "
        "host; 'local'/'adb': every proposal measured end to end).",
    )
    f.DEFINE_string("adb_serial", None, "Phone serial for --backend=adb.")
    f.DEFINE_float("initial_step", default.initial_step, "First cut, fraction of the latency.")
    f.DEFINE_float("step_decay", default.step_decay, "The cut is multiplied by this per step.")
    f.DEFINE_integer("short_term_steps", default.short_term_steps, "Fine-tune steps per proposal.")
    f.DEFINE_integer("long_term_epochs", default.long_term_epochs, "Final fine-tune epochs.")
    f.DEFINE_integer("pretrain_epochs", default.pretrain_epochs, "Training of a named model.")
    f.DEFINE_integer("max_iterations", default.max_iterations, "Bound on the iterations.")
    f.DEFINE_integer("image_size", None, "Training resolution (default: the data set's).")
    f.DEFINE_integer(
        "latency_image_size", None, "Resolution latency is measured at (default: --image_size)."
    )
    f.DEFINE_integer("batch_size", default.batch_size, "Fine-tune batch size.")
    f.DEFINE_float("learning_rate", default.learning_rate, "Fine-tune learning rate per 256.")
    f.DEFINE_integer("runs", default.runs, "Timed runs per latency measurement.")
    f.DEFINE_integer("seed", default.seed, "Seed of the data split and training.")
    f.DEFINE_string("output_dir", "runs/adapt", "Where every output and the resume state go.")


def config_from_flags(values: Any) -> AdaptConfig:
    """The AdaptConfig the parsed flag values describe (ValueError naming a bad one)."""
    if not values.model:
        raise ValueError("--model is required: a zoo name, arch string, arch JSON or .keras")
    return AdaptConfig(
        model=values.model,
        output_dir=values.output_dir,
        dataset=values.dataset,
        data_dir=values.data_dir,
        latency_target_ms=values.latency_target_ms,
        latency_fraction=values.latency_fraction,
        backend=values.backend,
        adb_options={"serial": values.adb_serial} if values.adb_serial else None,
        initial_step=values.initial_step,
        step_decay=values.step_decay,
        short_term_steps=values.short_term_steps,
        long_term_epochs=values.long_term_epochs,
        pretrain_epochs=values.pretrain_epochs,
        max_iterations=values.max_iterations,
        image_size=values.image_size,
        latency_image_size=values.latency_image_size,
        batch_size=values.batch_size,
        learning_rate=values.learning_rate,
        runs=values.runs,
        seed=values.seed,
    )


def format_summary(summary: dict[str, Any], files: dict[str, str]) -> str:
    """A short human summary: latency and accuracy before and after, why it stopped, files."""
    lines = [
        f"NetAdapt {summary['model']}: {summary['original_latency_ms']:.3f} ms → "
        f"{summary['latency_ms']:.3f} ms ({summary['latency_ratio']:.2f}×; target "
        f"{summary['target_ms']:.3f} ms) in {summary['iterations']} iterations "
        f"({summary['stopped']})",
        f"  test accuracy {100 * summary['original_test_accuracy']:.1f}% → "
        f"{100 * summary['test_accuracy']:.1f}%; int8 {summary['int8_latency_ms']:.3f} ms",
        f"  adapted: {summary['adapted_arch']}",
        "Wrote:",
    ]
    lines += [f"  {path}" for path in files.values() if os.path.exists(path)]
    return "\n".join(lines)


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
