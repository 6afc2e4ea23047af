"""The `mnasnet-eval` binary: flags → `EvalConfig` → `eval.evaluate`, then one line of accuracy.

    mnasnet-eval --model_path=runs/export/model_int8.tflite --dataset=digits --split=test

Owns the flags, `EvalConfig` (what they hold, validated on construction with errors that name
the bad value) and the line it prints. A bad flag value, a missing or unloadable model file or
missing data exits with `mnasnet-eval: error: ...` and status 1, Ctrl-C with one line and status
130. The work is in eval.py. Only `_main` reads the global FLAGS.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

from mnasnet_tf import data
from mnasnet_tf import eval as eval_lib
from tflite_bench import binary, checks


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """One evaluation: a model file on a split of a data set; the fields are the arguments of
    `eval.evaluate`, by name.

    Attributes:
      model_path: a .keras, .h5 or .tflite classifier.
      dataset: 'digits', 'folder:<path>' or a tfds set name (checked when it is loaded).
      split: 'train', 'validation' or 'test'.
      image_size: input size (None: the model's).
      batch_size: images per batch (.tflite runs one at a time).
      data_dir: tfds data directory (None: tfds' default).
      validation_size: held-out count or fraction, as in training (None: the default).
      seed: seed of the validation hold-out, as in training.
      max_examples: evaluate on at most this many examples (None: the whole split).
      num_threads: LiteRT threads for .tflite files (None: up to 4 cores).
    """

    model_path: str
    dataset: str = "digits"
    split: str = "test"
    image_size: int | None = None
    batch_size: int = 64
    data_dir: str | None = None
    validation_size: int | float | None = None
    seed: int = 0
    max_examples: int | None = None
    num_threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("model_path", "dataset"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string; got {value!r}")
        if self.split not in data.SPLITS:
            raise ValueError(f"split must be one of {data.SPLITS}; got {self.split!r}")
        if not checks.is_int(self.batch_size) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {self.batch_size!r}")
        for name in ("image_size", "max_examples", "num_threads"):
            value = getattr(self, name)
            if value is not None and (not checks.is_int(value) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None; got {value!r}")
        if not checks.is_int(self.seed):
            raise ValueError(f"seed must be an integer; got {self.seed!r}")


def _define_flags() -> None:
    from absl import flags

    flags.DEFINE_string("model_path", None, "A .keras, .h5 or .tflite classifier.", required=True)
    flags.DEFINE_string("dataset", "digits", "'digits', 'folder:<path>' or a tfds set name.")
    flags.DEFINE_enum("split", "test", list(data.SPLITS), "Split to evaluate.")
    flags.DEFINE_integer("image_size", None, "Input size (default: the model's).")
    flags.DEFINE_integer("batch_size", 64, "Images per batch (.tflite runs one at a time).")
    flags.DEFINE_string("data_dir", None, "tfds data directory.")
    flags.DEFINE_string("validation_size", None, "Held-out count or fraction (as in training).")
    flags.DEFINE_integer("seed", 0, "Seed of the validation hold-out (as in training).")
    flags.DEFINE_integer("max_examples", None, "Evaluate on at most this many examples.")
    flags.DEFINE_integer("num_threads", None, "LiteRT threads for .tflite (default: ≤ 4 cores).")


def config_from_flags(values: Any) -> EvalConfig:
    """The EvalConfig the parsed flag values describe (ValueError naming a bad one)."""
    return EvalConfig(
        model_path=values.model_path,
        dataset=values.dataset,
        split=values.split,
        image_size=values.image_size,
        batch_size=values.batch_size,
        data_dir=values.data_dir,
        validation_size=eval_lib.parse_validation_size(values.validation_size),
        seed=values.seed,
        max_examples=values.max_examples,
        num_threads=values.num_threads,
    )


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
