"""The `mnasnet-eval` binary: flags → `EvalConfig` → `eval.evaluate`, then one line of accuracy.

    mnasnet-eval --model_path=runs/export/model_int8.tflite --dataset=digits --split=test

Owns `EvalConfig` (what the flags hold: the flags are generated from its fields; validated on
construction with errors that name the bad value) and the line it prints. A bad flag value, a
missing or unloadable model file or missing data exits with `mnasnet-eval: error: ...` and
status 1, Ctrl-C with one line and status 130. The work is in eval.py. Only `_main` reads the
global FLAGS.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

from mnasnet_tf import data, data_settings
from mnasnet_tf import eval as eval_lib
from tflite_bench import binary, settings


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """One evaluation: a model file on a split of a data set; the fields are the arguments of
    `eval.evaluate`, by name, one per flag: the flags are generated from them (default, help,
    allowed values; tflite_bench/settings.py), and `settings.validate` checks each value."""

    model_path: str = settings.setting(nonempty=True, help="A .keras, .h5 or .tflite classifier.")
    dataset: str = data_settings.dataset()
    split: str = settings.setting("test", choices=data.SPLITS, help="Split to evaluate.")
    image_size: int | None = settings.setting(
        None, minimum=1, help="Input size (default: the model's)."
    )
    batch_size: int = settings.setting(
        64, minimum=1, help="Images per batch (.tflite runs one at a time)."
    )
    data_dir: str | None = settings.setting(None, help="tfds data directory.")
    validation_size: int | float | None = settings.setting(
        None,
        parse=settings.count_or_fraction("validation_size"),
        help="Held-out count or fraction (as in training).",
    )
    seed: int = settings.setting(0, help="Seed of the validation hold-out (as in training).")
    max_examples: int | None = settings.setting(
        None, minimum=1, help="Evaluate on at most this many examples."
    )
    num_threads: int | None = settings.setting(
        None, minimum=1, help="LiteRT threads for .tflite (default: ≤ 4 cores)."
    )

    def __post_init__(self) -> None:
        settings.validate(self)


def _define_flags(flag_values: Any = None) -> None:
    """One flag per field of `EvalConfig` in `flag_values` (None: absl's global FLAGS);
    --model_path is required."""
    from absl import flags

    values = flags.FLAGS if flag_values is None else flag_values
    settings.define_flags(EvalConfig, values)
    flags.mark_flag_as_required("model_path", flag_values=values)


def config_from_flags(values: Any) -> EvalConfig:
    """The EvalConfig the parsed flag values describe (ValueError naming a bad one)."""
    return settings.from_flags(EvalConfig, values)


def format_result(config: EvalConfig, result: eval_lib.Accuracy) -> str:
    """'<model> on <dataset> <split>: top-1 …, top-5 … on N images (T s)'."""
    where = f"{config.dataset} {config.split}"
    return f"{config.model_path} on {where}: {result.describe()} ({result.seconds:.1f} s)"


def _main(argv: Sequence[str]) -> None:
    from absl import app, flags

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        config = config_from_flags(flags.FLAGS)
        result = eval_lib.evaluate(**dataclasses.asdict(config))
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"mnasnet-eval: error: {error}")
    print(format_result(config, result))


def run_main() -> None:
    """Console entry point of `mnasnet-eval`."""
    from absl import app

    _define_flags()
    binary.run_binary(lambda: app.run(_main), program="mnasnet-eval")


if __name__ == "__main__":
    run_main()
