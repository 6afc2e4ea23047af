"""The `mnasnet-digits-m` binary: flags → `digits_m.DigitsMConfig` → `digits_m.write_digits_m`.

    mnasnet-digits-m --output_dir=data/digits_m     # then --dataset=folder:data/digits_m

Owns the flags (generated from `DigitsMConfig`'s fields) and the summary it prints (what was
written where). A bad value, or an `--output_dir` that exists and is not empty, is a usage error
(status 1). The work is in digits_m.py. Only `_main` reads the global FLAGS. Must not import
TensorFlow.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from mnasnet_tf import digits_m
from tflite_bench import settings


def _define_flags(flag_values: Any = None) -> None:
    """One flag per field of `DigitsMConfig` in `flag_values` (None: absl's global FLAGS);
    --output_dir is required."""
    from absl import flags

    values = flags.FLAGS if flag_values is None else flag_values
    settings.define_flags(digits_m.DigitsMConfig, values)
    flags.mark_flag_as_required("output_dir", flag_values=values)


def config_from_flags(values: Any) -> digits_m.DigitsMConfig:
    """The DigitsMConfig the parsed flag values describe (ValueError naming a bad one)."""
    return settings.from_flags(digits_m.DigitsMConfig, values)


def format_summary(result: dict[str, Any]) -> str:
    """What `write_digits_m` wrote where, and how to train on it."""
    path = result["output_dir"]
    return "\n".join(
        [
            f"Wrote digits-m ({result['classes']} classes) in {result['seconds']:.1f} s:",
            f"  {os.path.join(path, 'train')}: {result['train']} images",
            f"  {os.path.join(path, 'test')}: {result['test']} images",
            f"  {os.path.join(path, digits_m.METADATA_FILE)}",
            f"Use it with --dataset=folder:{path}",
        ]
    )


def _main(argv: Sequence[str]) -> None:
    from absl import app, flags

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        config = config_from_flags(flags.FLAGS)
        result = digits_m.write_digits_m(**dataclasses.asdict(config))
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    print(format_summary(result))


def run_main() -> None:
    """Console entry point of `mnasnet-digits-m`."""
    from absl import app

    from tflite_bench import binary

    _define_flags()
    binary.run_binary(lambda: app.run(_main), program="mnasnet-digits-m")


if __name__ == "__main__":
    run_main()
