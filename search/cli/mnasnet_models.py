"""The `mnasnet-models` binary: flags → `ModelsConfig` → `stats.table_rows`, printed as a table.

    mnasnet-models --models=mnasnet-a1,mobilenet-v2 --width=1.0,1.4 --image_size=224

Prints the analytic parameters and multiply-adds of zoo models (or any architecture
`zoo.resolve_arch` accepts) at the given widths and image size. Owns `ModelsConfig` (what the
flags hold: they are generated from its fields; validated on construction with errors that name
the bad value); a bad value is a usage error (status 1). The counting is in stats.py. Only
`_main` reads the global FLAGS. Must not import TensorFlow or Keras (nor does anything it imports).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from mnasnet_tf import stats
from tflite_bench import binary, checks, settings


@dataclasses.dataclass(frozen=True)
class ModelsConfig:
    """What to count, one field per flag but `widths` (whose flag is EXTRA_FLAGS' --width): the
    flags are generated from the declared fields (default, help; tflite_bench/settings.py).

    Attributes:
      widths: width multipliers (positive), each model is counted at each.
    """

    models: tuple[str, ...] = settings.setting(
        (), help="Zoo names, arch strings or arch JSON paths (default: every zoo model)."
    )
    widths: tuple[float, ...] = (1.0,)
    image_size: int = settings.setting(224, minimum=1, help="Square input resolution.")

    def __post_init__(self) -> None:
        settings.validate(self)
        names = all(name.strip() for name in self.models)
        checks.require(names, "models", "a list of non-empty names", list(self.models))
        widths = isinstance(self.widths, tuple) and bool(self.widths)
        widths = widths and all(checks.is_finite_number(w) and w > 0 for w in self.widths)
        checks.require(widths, "width", "a non-empty list of positive numbers", self.widths)


EXTRA_FLAGS = ("width",)
"""--width is hand-written (its default from ModelsConfig): one comma-separated string of
numbers for the field `widths` (settings' list flags hold strings, under the field's name)."""


def _define_flags(flag_values: Any = None) -> None:
    """The flags of ModelsConfig's fields and --width in `flag_values` (None: absl's global
    FLAGS)."""
    from absl import flags

    values = flags.FLAGS if flag_values is None else flag_values
    settings.define_flags(ModelsConfig, values)
    default = ",".join(str(width) for width in ModelsConfig().widths)
    flags.DEFINE_string(
        "width",
        default,
        "Width multiplier(s), comma-separated, e.g. '1.0,1.4'.",
        flag_values=values,
    )


def _parse_widths(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(
            f"--width must be a comma-separated list of numbers; got {text!r}"
        ) from None


def config_from_flags(values: Any) -> ModelsConfig:
    """The ModelsConfig the parsed flag values describe (ValueError naming a bad one)."""
    return settings.from_flags(ModelsConfig, values, widths=_parse_widths(values.width))


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
