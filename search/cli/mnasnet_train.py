"""The `mnasnet-train` binary: flags → `train.TrainConfig` → `train.train`, then a summary.

    mnasnet-train --model=mnasnet-small --dataset=digits --learning_rate=0.004 --epochs=15 \\
        --model_dir=runs/small --export_dir=runs/small/export

Owns the flags (the run's and, as overrides of `recipe.Recipe()`, the recipe's), their
translation into a `TrainConfig` (which validates them) and the summary it prints. A bad flag
value or missing data exits with `mnasnet-train: error: ...` and status 1, Ctrl-C with
`mnasnet-train: interrupted; ...` and status 130 (`tflite_bench.binary.run_binary`). The work is in
train.py. Only `_main` reads the global FLAGS.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from mnasnet_tf import eval as eval_lib
from mnasnet_tf import recipe as recipe_lib
from mnasnet_tf import train as train_lib

_RECIPE_FLAGS = {  # flag → Recipe field; None keeps the recipe's default
    "optimizer": "optimizer",
    "learning_rate": "base_learning_rate",
    "warmup_epochs": "warmup_epochs",
    "lr_schedule": "schedule",
    "lr_decay_rate": "decay_rate",
    "lr_decay_epochs": "decay_epochs",
    "rmsprop_rho": "rmsprop_rho",
    "momentum": "momentum",
    "optimizer_epsilon": "epsilon",
    "label_smoothing": "label_smoothing",
    "weight_decay": "weight_decay",
    "dropout_rate": "dropout_rate",
    "ema_decay": "ema_decay",
    "bn_momentum": "bn_momentum",
    "bn_epsilon": "bn_epsilon",
    "clip_norm": "clip_norm",
}


def _define_flags() -> None:
    from absl import flags

    f = flags
    f.DEFINE_string("model", "mnasnet-a1", "Zoo name, arch string or arch JSON path.")
    f.DEFINE_float("width", 1.0, "Width multiplier.")
    f.DEFINE_string("dataset", "digits", "'digits', 'folder:<path>' or a tfds set (cifar10, ...).")
    f.DEFINE_string("data_dir", None, "tfds data directory (default ~/tensorflow_datasets).")
    f.DEFINE_bool("download", False, "Let tfds download and prepare a missing data set.")
    f.DEFINE_string("manual_dir", None, "Manually downloaded archives (imagenet2012).")
    f.DEFINE_integer("image_size", None, "Resolution (default: 32 for digits/CIFAR, else 224).")
    f.DEFINE_integer("batch_size", 64, "Global batch size.")
    f.DEFINE_integer("epochs", 15, "Total epochs (ImageNet reference: 350).")
    f.DEFINE_integer("steps_per_epoch", None, "Cap on steps per epoch.")
    f.DEFINE_string("validation_size", None, "Held-out count or fraction (default ~10%, ≤50K).")
    f.DEFINE_integer("seed", 0, "Seed of the validation hold-out and shuffling.")
    f.DEFINE_string("model_dir", None, "Checkpoints, TensorBoard logs, results.json; resumes.")
    f.DEFINE_string("export_dir", None, "Write model.keras and float32/int8 .tflite here.")
    f.DEFINE_integer("export_eval_examples", 1000, "Held-out images to evaluate exports on.")
    f.DEFINE_enum("strategy", "default", list(train_lib.STRATEGIES), "tf.distribute strategy.")
    f.DEFINE_bool("jit_compile", False, "XLA (≈4.5× slower on CPU).")
    f.DEFINE_integer("verbose", 1, "Keras verbosity: 1 progbar, 2 a line per epoch, 0 none.")
    f.DEFINE_enum("optimizer", None, list(recipe_lib.OPTIMIZERS), "Recipe: optimizer.")
    f.DEFINE_float(
        "learning_rate",
        None,
        "Recipe: peak learning rate per 256 images (reference 0.016, for ImageNet at batch "
        ">= 1024; short CPU runs at batch 64 need ~0.004, e.g. digits).",
    )
    f.DEFINE_float("warmup_epochs", None, "Recipe: linear warm-up epochs (5).")
    f.DEFINE_enum("lr_schedule", None, list(recipe_lib.SCHEDULES), "Recipe: schedule.")
    f.DEFINE_float("lr_decay_rate", None, "Recipe: exponential decay factor (0.97).")
    f.DEFINE_float("lr_decay_epochs", None, "Recipe: epochs per decay step (2.4).")
    f.DEFINE_float("rmsprop_rho", None, "Recipe: RMSProp decay (0.9).")
    f.DEFINE_float("momentum", None, "Recipe: momentum (0.9).")
    f.DEFINE_float("optimizer_epsilon", None, "Recipe: optimizer epsilon (1e-3).")
    f.DEFINE_float("label_smoothing", None, "Recipe: label smoothing (0.1).")
    f.DEFINE_float("weight_decay", None, "Recipe: L2 on kernels (1e-5).")
    f.DEFINE_float("dropout_rate", None, "Recipe: dropout (default: the architecture's).")
    f.DEFINE_float("ema_decay", None, "Recipe: weight EMA decay, 0 for none (0.9999).")
    f.DEFINE_float("bn_momentum", None, "Recipe: BN momentum (0.99).")
    f.DEFINE_float("bn_epsilon", None, "Recipe: BN epsilon (1e-3).")
    f.DEFINE_float("clip_norm", None, "Recipe: global gradient-norm clipping (none).")


def config_from_flags(values: Any) -> train_lib.TrainConfig:
    """The TrainConfig the parsed flag values describe (ValueError naming a bad one)."""
    overrides = {
        field: getattr(values, name)
        for name, field in _RECIPE_FLAGS.items()
        if getattr(values, name) is not None
    }
    if overrides.get("ema_decay") == 0:
        overrides["ema_decay"] = None
    return train_lib.TrainConfig(
        model=values.model,
        width=values.width,
        dataset=values.dataset,
        data_dir=values.data_dir,
        download=values.download,
        manual_dir=values.manual_dir,
        image_size=values.image_size,
        batch_size=values.batch_size,
        epochs=values.epochs,
        steps_per_epoch=values.steps_per_epoch,
        validation_size=eval_lib.parse_validation_size(values.validation_size),
        seed=values.seed,
        model_dir=values.model_dir,
        export_dir=values.export_dir,
        export_eval_examples=values.export_eval_examples,
        strategy=values.strategy,
        recipe=recipe_lib.Recipe().replace(**overrides),
        jit_compile=values.jit_compile,
        verbose=values.verbose,
    )


def format_summary(
    config: train_lib.TrainConfig, result: train_lib.TrainResult, wall: float
) -> str:
    """A short human summary of a finished run: epochs, accuracies and the files written."""
    ran = config.epochs - result.initial_epoch
    resumed = f", resumed at epoch {result.initial_epoch}" if result.initial_epoch else ""
    lines = [
        f"Trained {config.model} on {config.dataset}: {ran} epochs in {result.seconds:.0f} s"
        f"{resumed} (wall {wall:.0f} s).",
        f"  validation: {result.validation.describe()}",
    ]
    if result.test is not None:
        lines.append(f"  test:       {result.test.describe()}")
    for name, accuracy in result.exported.items():
        lines.append(f"  {name + ':':<20} {accuracy.describe()} (held-out)")
    files = list(result.files)
    if config.model_dir:
        files = [
            os.path.join(config.model_dir, p)
            for p in ("checkpoints", "logs", train_lib.RESULTS_FILE)
        ] + files
    lines += ["Wrote:"] + [f"  {path}" for path in files]
    return "\n".join(lines)


def _main(argv: Sequence[str]) -> None:
    from absl import app, flags

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    logging.getLogger("absl").setLevel(logging.WARNING)  # TF's per-checkpoint INFO lines
    start = time.perf_counter()
    try:
        config = config_from_flags(flags.FLAGS)
        result = train_lib.train(config)
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"mnasnet-train: error: {error}")
    print(format_summary(config, result, time.perf_counter() - start))


def run_main() -> None:
    """Console entry point of `mnasnet-train`."""
    from absl import app, flags

    from tflite_bench import binary

    _define_flags()
    binary.run_binary(
        lambda: app.run(_main),
        program="mnasnet-train",
        resumable=lambda: bool(flags.FLAGS.model_dir),
    )


if __name__ == "__main__":
    run_main()
