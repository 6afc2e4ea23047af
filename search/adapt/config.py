"""Settings of a NetAdapt run: `AdaptConfig` (frozen, validated once, named errors), one field
per `mnasnet-adapt` flag (the binary's flags are generated from them, tflite_bench/settings.py)
plus the Python API's own (`adb_options`, `validation_size`, `progress`).

No TensorFlow import: the binary checks its flags before TensorFlow loads.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mnasnet_tf import data_settings
from tflite_bench import settings

ESTIMATORS = ("table", "local", "adb")


@dataclasses.dataclass(frozen=True)
class AdaptConfig:
    """What `search.adapt.netadapt.adapt` does.

    Attributes:
      model: a zoo name, an arch string, an arch JSON file, or a trained `.keras` with the
        `arch.json` it was exported with beside it.
      output_dir: where every output and the resume state go.
      dataset: 'digits', 'folder:<path>' or a prepared tfds set.
      latency_target_ms / latency_fraction: the target (give exactly one); a fraction in (0, 1)
        of the original model's measured latency.
      backend: how proposals are sized: 'table' (per-part lookups measured on this host),
        'local' or 'adb' (every proposal measured end to end). The end-to-end measurements are
        on the phone for 'adb', on this host otherwise.
      adb_serial: the phone's serial (merged into `adb_options`).
      initial_step: the first iteration's latency cut, as a fraction of the original latency.
      step_decay: the cut is multiplied by this every iteration.
      short_term_steps: fine-tune steps per proposal.
      long_term_epochs: fine-tune epochs of the final model.
      pretrain_epochs: training of a model given by name or string (a `.keras` is not retrained).
      max_iterations: a bound on the loop.
      image_size: training resolution; None takes the data set's default.
      latency_image_size: the resolution latency is measured at (the deployment's); None: the
        training resolution, which is what the exported .tflite files take.
      batch_size, learning_rate (per 256 images; fine-tunes), seed, runs (timed runs per
      measurement), adb_options, data_dir, validation_size, progress.
    """

    model: str = settings.setting(
        nonempty=True,
        flag_default=None,
        help="Zoo name, arch string, arch JSON, or a trained .keras.",
    )
    output_dir: str = settings.setting(
        nonempty=True, flag_default="runs/adapt", help="Where every output and the resume state go."
    )
    dataset: str = data_settings.dataset()
    latency_target_ms: float | None = settings.setting(
        None, above=0, help="Target latency in ms (or --latency_fraction)."
    )
    latency_fraction: float | None = settings.setting(
        None, above=0, below=1, help="Target as a fraction in (0, 1) of the original's."
    )
    backend: str = settings.setting(
        "table",
        choices=ESTIMATORS,
        help=(
            "How proposals are sized: table (per-part lookups measured on this host), local or adb"
            " (every proposal measured end to end; on the phone for adb)."
        ),
    )
    adb_serial: str | None = settings.setting(None, help="Phone serial for --backend=adb.")
    initial_step: float = settings.setting(
        0.04, above=0, below=1, help="First cut, fraction of the latency."
    )
    step_decay: float = settings.setting(
        0.96, above=0, maximum=1, help="The cut is multiplied by this per step."
    )
    short_term_steps: int = settings.setting(40, minimum=0, help="Fine-tune steps per proposal.")
    long_term_epochs: int = settings.setting(5, minimum=0, help="Final fine-tune epochs.")
    pretrain_epochs: int = settings.setting(10, minimum=0, help="Training of a named model.")
    max_iterations: int = settings.setting(100, minimum=1, help="Bound on the iterations.")
    image_size: int | None = settings.setting(
        None, minimum=32, help="Training resolution (default: the data set's)."
    )
    latency_image_size: int | None = settings.setting(
        None, minimum=32, help="Resolution latency is measured at (default: --image_size)."
    )
    batch_size: int = settings.setting(64, minimum=1, help="Fine-tune batch size.")
    learning_rate: float = settings.setting(0.02, above=0, help="Fine-tune learning rate per 256.")
    seed: int = settings.setting(0, help="Seed of the data split and training.")
    runs: int = settings.setting(100, minimum=1, help="Timed runs per latency measurement.")
    data_dir: str | None = data_settings.data_dir()
    train_subset: int | None = data_settings.train_subset()
    adb_options: dict[str, Any] | None = None
    validation_size: int | float | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError(
                "--model is required: a zoo name, arch string, arch JSON or .keras; "
                f"got {self.model!r}"
            )
        given = [v for v in (self.latency_target_ms, self.latency_fraction) if v is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of --latency_target_ms and --latency_fraction; got "
                f"latency_target_ms={self.latency_target_ms!r}, "
                f"latency_fraction={self.latency_fraction!r}"
            )
        settings.validate(self)

    def adb_settings(self) -> dict[str, Any] | None:
        """The adb backend's options: `adb_options` with `adb_serial` (None when neither)."""
        merged = dict(self.adb_options or {})
        if self.adb_serial:
            merged["serial"] = self.adb_serial
        return merged or None
