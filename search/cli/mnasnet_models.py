"""The `mnasnet-models` binary: flags → `ModelsConfig` → `stats.table_rows`, printed as a table.

    mnasnet-models --models=mnasnet-a1,mobilenet-v2 --width=1.0,1.4 --image_size=224

Prints the analytic parameters and multiply-adds of zoo models (or any architecture
`zoo.resolve_arch` accepts) at the given widths and image size. Owns the flags and
`ModelsConfig` (what they hold, validated on construction with errors that name the bad value);
a bad value is a usage error (status 1). The counting is in stats.py. Only `_main` reads the
global FLAGS. Must not import TensorFlow or Keras (nor does anything it imports).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from mnasnet_tf import stats
from tflite_bench import binary, checks


@dataclasses.dataclass(frozen=True)
class ModelsConfig:
    """What to count.

    Attributes:
      models: zoo names, arch strings or arch JSON paths (empty: every zoo model).
      widths: width multipliers, each model is counted at each.
      image_size: square input resolution.
    """

    models: tuple[str, ...] = ()
    widths: tuple[float, ...] = (1.0,)
    image_size: int = 224

    def __post_init__(self) -> None:
        if not isinstance(self.models, tuple) or not all(
            isinstance(name, str) and name.strip() for name in self.models
        ):
            raise ValueError(f"models must be a tuple of non-empty strings; got {self.models!r}")
        if (
            not isinstance(self.widths, tuple)
            or not self.widths
            or not all(checks.is_number(width) and width > 0 for width in self.widths)
        ):
            raise ValueError(
                f"widths must be a non-empty tuple of positive numbers; got {self.widths!r}"
            )
        size = self.image_size
        if not checks.is_positive_int(size):
            raise ValueError(f"image_size must be a positive integer; got {size!r}")


def _define_flags() -> None:
    from absl import flags

    flags.DEFINE_integer("image_size", 224, "Square input resolution.", lower_bound=1)
    flags.DEFINE_string("width", "1.0", "Width multiplier(s), comma-separated, e.g. '1.0,1.4'.")
    flags.DEFINE_list(
        "models",
        [],
        "Zoo names, arch strings or arch JSON paths (default: every zoo model).",
    )


def _parse_widths(text: str) -> tuple[float, ...]:
    try:
        widths = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(
            f"--width must be a comma-separated list of numbers; got {text!r}"
        ) from None
    if not widths or any(width <= 0 for width in widths):
        raise ValueError(f"--width must list positive numbers; got {text!r}")
    return widths


def config_from_flags(values: Any) -> ModelsConfig:
    """The ModelsConfig the parsed flag values describe (ValueError naming a bad one)."""
    return ModelsConfig(
        models=tuple(values.models),
        widths=_parse_widths(values.width),
        image_size=values.image_size,
    )


def _main(argv: Sequence[str]) -> None:
    """Prints the table the flags ask for; a bad value is an `app.UsageError`."""
    from absl import app, flags

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        config = config_from_flags(flags.FLAGS)
        rows = stats.table_rows(config.models, widths=config.widths, image_size=config.image_size)
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    print(stats.format_table(rows))


def run_main() -> None:
    """Console entry point of `mnasnet-models`."""
    from absl import app

    _define_flags()
    binary.run_binary(lambda: app.run(_main), program="mnasnet-models")


if __name__ == "__main__":
    run_main()
