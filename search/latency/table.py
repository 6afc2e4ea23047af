"""A per-part latency lookup table for one device, and the table as a latency backend.

Owns `LatencyTable` (FBNet / ProxylessNAS style): every distinct part of an architecture (see
search/latency/parts.py) measured as a one-part .tflite on a device backend, each with the size
of its .tflite (≈ its weight bytes), plus the calibration of their sum. A prediction is linear in
two sums over the parts of an architecture, `a · Σ latency + b · Σ weight MB + c`, with a, b, c
fitted on end-to-end measurements (search/latency/calibration.py). The weight term models what
isolated layers miss: in a whole network each layer's weights are cold in the cache, in isolation
they are warm. `TableBackend` offers a table through the latency-backend protocol
(tflite_bench/backends.py), for architectures instead of files. Building a table is
search/latency/build.py.

Pure Python (no TensorFlow): a prediction takes well under a millisecond.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Sequence
from typing import Any

from mnasnet_tf import specs
from search.latency.parts import image_hw, part_keys
from tflite_bench import util
from tflite_bench.benchmark import LatencyStats

TABLE_FORMAT = "mnasnet-tf/latency-table-v1"
FEATURES = ("parts_ms", "weights_mb", "constant")
"""What a calibrated prediction is linear in: the sum of the parts' latencies, the sum of their
.tflite sizes in MB, and 1."""
STATISTICS = ("min", "median", "mean")
"""Which per-model statistic a table predicts. 'min' is the most reproducible on a shared host."""

BACKEND_FIELDS = (
    "backend",
    "cpu_model",
    "cpu_count",
    "machine",
    "system",
    "device",
    "num_threads",
    "runtime",
    "runtime_version",
    "delegate",
    "clock",
    "warmup",
    "runs",
    "use_xnnpack",
    "taskset_mask",
    "benchmark_model",
    "benchmark_model_sha256",
)
"""Metadata of a measurement that describes the backend (the rest describes the model)."""
ENTRY_STATS = ("min_ms", "median_ms", "mean_ms", "p90_ms", "std_ms", "n")

log = logging.getLogger(__name__)


# ---- the table ----


@dataclasses.dataclass
class LatencyTable:
    """Per-part latencies measured on one backend, and the calibration of their sum.

    Attributes:
      entries: {part key: {'kind', 'min_ms', 'median_ms', 'mean_ms', 'p90_ms', 'std_ms', 'n'}}.
      backend: the backend's metadata (CPU or device, threads, runtime and version).
      statistic: the statistic predicted ('min', 'median' or 'mean').
      calibration: {'features', 'coefficients', 'report'} once calibrated, else None.
      path: where the table is saved (None for an in-memory table).
    """

    entries: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    backend: dict[str, Any] = dataclasses.field(default_factory=dict)
    statistic: str = "min"
    calibration: dict[str, Any] | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {STATISTICS}; got {self.statistic!r}")

    # -- persistence --

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "format": TABLE_FORMAT,
            "statistic": self.statistic,
            "backend": self.backend,
            "calibration": self.calibration,
            "entries": self.entries,
        }

    def save(self, path: str | os.PathLike[str] | None = None) -> str:
        """Writes the table as JSON atomically (to `path` or `self.path`); returns the path."""
        target = os.fspath(path) if path is not None else self.path
        if target is None:
            raise ValueError("LatencyTable.save needs a path (the table has none)")
        util.atomic_write_json(target, self.to_dict(), indent=1, make_dirs=True)
        self.path = target
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LatencyTable:
        """Reads a table; a missing or malformed file raises an error naming the path."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"latency table not found: {path}")
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"latency table {path} is not valid JSON: {error}") from None
        if not isinstance(data, dict) or data.get("format") != TABLE_FORMAT:
            raise ValueError(f"{path} is not a latency table (format {TABLE_FORMAT!r} expected)")
        if not isinstance(data.get("entries"), dict):
            raise ValueError(f"latency table {path}: 'entries' must be an object")
        return cls(
            entries=data["entries"],
            backend=data.get("backend") or {},
            statistic=data.get("statistic", "min"),
            calibration=data.get("calibration"),
            path=path,
        )

    # -- prediction --

    def missing(
        self,
        arch: specs.ArchSpec,
        *,
        image_size: int | Sequence[int] = 224,
        classes: int = 1000,
    ) -> list[str]:
        """Keys of the parts of `arch` the table lacks."""
        keys = part_keys(arch, image_hw(image_size), classes)
        return [key for key in keys if key not in self.entries]

    def features(
        self,
        arch: specs.ArchSpec,
        *,
        image_size: int | Sequence[int] = 224,
        classes: int = 1000,
    ) -> tuple[float, float, float]:
        """The FEATURES of `arch`: (Σ part latency in ms, Σ part .tflite size in MB, 1)."""
        field = f"{self.statistic}_ms"
        total = weights = 0.0
        missing = []
        for key in part_keys(arch, image_hw(image_size), classes):
            entry = self.entries.get(key)
            if entry is None:
                missing.append(key)
            else:
                total += entry[field]
                weights += entry.get("bytes", 0) / 1e6
        if missing:
            missing = list(dict.fromkeys(missing))
            where = f" ({self.path})" if self.path else ""
            raise ValueError(
                f"latency table{where} lacks {len(missing)} part(s) of {arch.name!r} at "
                f"{image_hw(image_size)}: {missing[:5]}{' …' if len(missing) > 5 else ''}; "
                "extend it with build_table([arch, ...]) (tflite-bench --build_table)"
            )
        return total, weights, 1.0

    def raw_sum(
        self,
        arch: specs.ArchSpec,
        *,
        image_size: int | Sequence[int] = 224,
        classes: int = 1000,
    ) -> float:
        """The uncalibrated sum of the part latencies of `arch` in ms."""
        return self.features(arch, image_size=image_size, classes=classes)[0]

    def predict(
        self,
        arch: specs.ArchSpec,
        *,
        image_size: int | Sequence[int] = 224,
        classes: int = 1000,
    ) -> float:
        """Predicted latency of `arch` in ms: the calibrated combination of its FEATURES (the raw
        sum of its parts if the table is not calibrated)."""
        values = self.features(arch, image_size=image_size, classes=classes)
        if self.calibration is None:
            return values[0]
        coefficients = self.calibration["coefficients"]
        return float(sum(c * v for c, v in zip(coefficients, values, strict=True)))


def load_table(path: str | os.PathLike[str]) -> LatencyTable:
    """Reads a latency table JSON (see `LatencyTable.load`)."""
    return LatencyTable.load(path)


@dataclasses.dataclass(frozen=True)
class TableBackend:
    """A latency table as a backend of the latency-backend protocol: `measure(arch)` predicts
    the latency of an `ArchSpec` at `image_size` and `classes` (a ValueError names the parts the
    table lacks). The figures are predictions: `n` is 0 and every statistic is the prediction."""

    table: LatencyTable
    image_size: int | tuple[int, int] = 224
    classes: int = 1000
    name: str = dataclasses.field(default="predictor", init=False)

    def measure(self, model: specs.ArchSpec) -> LatencyStats:
        """The predicted latency of the architecture `model`."""
        if not isinstance(model, specs.ArchSpec):
            raise ValueError(f"a latency table predicts architectures, not files; got {model!r}")
        value = float(self.table.predict(model, image_size=self.image_size, classes=self.classes))
        return LatencyStats(
            min_ms=value,
            median_ms=value,
            mean_ms=value,
            p90_ms=value,
            std_ms=0.0,
            n=0,
            metadata={**self.metadata(), "predicted": True},
        )

    def measure_many(self, models: Sequence[specs.ArchSpec]) -> list[LatencyStats]:
        """Predictions for several architectures, in order."""
        return [self.measure(model) for model in models]

    def metadata(self) -> dict[str, Any]:
        """The device the table was measured on, the table's path, statistic and calibration."""
        return {
            **self.table.backend,
            "backend": "predictor",
            "measured_on": self.table.backend.get("backend"),
            "table": self.table.path,
            "statistic": self.table.statistic,
            "calibrated": self.table.calibration is not None,
        }
