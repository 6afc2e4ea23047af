"""The `mnasnet-train` binary: flags → `train.TrainConfig` → `train.train`, then a summary.

    mnasnet-train --model=mnasnet-small --dataset=digits --learning_rate=0.004 --epochs=15 \\
        --model_dir=runs/small --export_dir=runs/small/export

Owns the flags (the run's, generated from `train.TrainConfig`'s fields, and, hand-written as
overrides of `recipe.Recipe()`, the recipe's: EXTRA_FLAGS), their translation into a
`TrainConfig` (which validates them) and the summary it prints. A bad flag
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

from mnasnet_tf import recipe as recipe_lib
from mnasnet_tf import train as train_lib
from tflite_bench import settings

_RECIPE_FLAGS = {  # flag → (Recipe field, help; "{default}" is the recipe's value)
    "optimizer": ("optimizer", "optimizer ({default})"),
    "learning_rate": (
        "base_learning_rate",
        f"peak learning rate per {recipe_lib.REFERENCE_BATCH} images (reference {{default}}, for "
        "ImageNet at batch >= 1024; short CPU runs at batch 64 need ~0.004, e.g. digits)",
    ),
    "warmup_epochs": ("warmup_epochs", "linear warm-up epochs ({default})"),
    "lr_schedule": ("schedule", "schedule ({default})"),
    "lr_decay_rate": ("decay_rate", "exponential decay factor ({default})"),
    "lr_decay_epochs": ("decay_epochs", "epochs per decay step ({default})"),
    "rmsprop_rho": ("rmsprop_rho", "RMSProp decay ({default})"),
    "momentum": ("momentum", "momentum ({default})"),
    "optimizer_epsilon": ("epsilon", "optimizer epsilon ({default})"),
    "label_smoothing": ("label_smoothing", "label smoothing ({default})"),
    "weight_decay": ("weight_decay", "L2 on kernels ({default})"),
    "dropout_rate": ("dropout_rate", "dropout (default: the architecture's)"),
    "ema_decay": ("ema_decay", "weight EMA decay, 0 for none ({default})"),
    "bn_momentum": ("bn_momentum", "BN momentum ({default})"),
    "bn_epsilon": ("bn_epsilon", "BN epsilon ({default})"),
    "clip_norm": ("clip_norm", "global gradient-norm clipping ({default})"),
}
_RECIPE_CHOICES = {"optimizer": recipe_lib.OPTIMIZERS, "schedule": recipe_lib.SCHEDULES}

EXTRA_FLAGS = tuple(_RECIPE_FLAGS)
"""The recipe's flags, hand-written: they are not TrainConfig fields but overrides of fields of
`recipe.Recipe()` (under other names); each defaults to None, "keep the recipe's value", which
its help names (read from `Recipe()`, not restated)."""


def _shown(value: object) -> str:
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _define_flags(flag_values: Any = None) -> None:
    """The flags of TrainConfig's fields and the recipe's (EXTRA_FLAGS) in `flag_values` (None:
    absl's global FLAGS)."""
    from absl import flags

    values = flags.FLAGS if flag_values is None else flag_values
    settings.define_flags(train_lib.TrainConfig, values)
    defaults = recipe_lib.Recipe()
    for name, (field, text) in _RECIPE_FLAGS.items():
        help_text = f"Recipe: {text.format(default=_shown(getattr(defaults, field)))}."
        if field in _RECIPE_CHOICES:
            choices = list(_RECIPE_CHOICES[field])
            flags.DEFINE_enum(name, None, choices, help_text, flag_values=values)
        else:
            flags.DEFINE_float(name, None, help_text, flag_values=values)


def config_from_flags(values: Any) -> train_lib.TrainConfig:
    """The TrainConfig the parsed flag values describe (ValueError naming a bad one)."""
    overrides = {
        field: getattr(values, name)
        for name, (field, _) in _RECIPE_FLAGS.items()
        if getattr(values, name) is not None
    }
    if overrides.get("ema_decay") == 0:
        overrides["ema_decay"] = None
    recipe = recipe_lib.Recipe().replace(**overrides)
    return settings.from_flags(train_lib.TrainConfig, values, recipe=recipe)


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
