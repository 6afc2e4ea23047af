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
from collections.abc import Mapping, Sequence
from typing import Any

from mnasnet_tf import specs
from search.latency.parts import image_hw, part_keys
from tflite_bench import checks, files
from tflite_bench.benchmark import LatencyStats, device_fingerprint, runtime_id

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
    "device_fingerprint",
)
"""Metadata of a measurement that describes the backend (the rest describes the model)."""
ENTRY_STATS = ("min_ms", "median_ms", "mean_ms", "p90_ms", "std_ms", "n")
QUANTIZATIONS = ("float32", "int8")
"""What a table's parts are converted to: latency means the format the app ships (on x86 CPUs
full-int8 MobileNetV3 is slower than float32, so the two rank architectures differently)."""

log = logging.getLogger(__name__)


# ---- the table ----


@dataclasses.dataclass
class LatencyTable:
    """Per-part latencies measured on one backend, and the calibration of their sum.

    Attributes:
      entries: {part key: {'kind', 'min_ms', 'median_ms', 'mean_ms', 'p90_ms', 'std_ms', 'n',
        'bytes'}}.
      backend: the backend's metadata (device fingerprint, CPU or phone, threads, runtime and
        version, clock, runs).
      statistic: the statistic predicted ('min', 'median' or 'mean').
      quantization: what the parts were converted to (QUANTIZATIONS).
      coverage: the spaces the table covers completely, as 'space@HxW/cN'
        (search/latency/coverage.py); empty for a table of some architectures' parts.
      calibration: {'features', 'coefficients', 'report'} once calibrated, else None.
      path: where the table is saved (None for an in-memory table).
    """

    entries: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    backend: dict[str, Any] = dataclasses.field(default_factory=dict)
    statistic: str = "min"
    quantization: str = "float32"
    coverage: list[str] = dataclasses.field(default_factory=list)
    calibration: dict[str, Any] | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        where = f"latency table {self.path}: " if self.path else ""
        if self.statistic not in STATISTICS:
            raise ValueError(
                f"{where}statistic must be one of {STATISTICS}; got {self.statistic!r}"
            )
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(
                f"{where}quantization must be one of {QUANTIZATIONS}; got {self.quantization!r}"
            )

    # -- persistence --

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "format": TABLE_FORMAT,
            "statistic": self.statistic,
            "quantization": self.quantization,
            "coverage": self.coverage,
            "backend": self.backend,
            "calibration": self.calibration,
            "entries": self.entries,
        }

    def save(self, path: str | os.PathLike[str] | None = None) -> str:
        """Writes the table as JSON atomically (to `path` or `self.path`); returns the path."""
        target = os.fspath(path) if path is not None else self.path
        if target is None:
            raise ValueError("LatencyTable.save needs a path (the table has none)")
        files.atomic_write_json(target, self.to_dict(), indent=1, make_dirs=True)
        self.path = target
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LatencyTable:
        """Reads a table; a missing, truncated or malformed file raises an error naming the path
        (and the entry at fault). The file is only read."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"latency table not found: {path}")
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(
                f"latency table {path} is not valid JSON (truncated or corrupt?): {error}"
            ) from None
        if not isinstance(data, dict) or data.get("format") != TABLE_FORMAT:
            raise ValueError(f"{path} is not a latency table (format {TABLE_FORMAT!r} expected)")
        entries = data.get("entries")
        if not isinstance(entries, dict):
            raise ValueError(f"latency table {path}: 'entries' must be an object")
        statistic = data.get("statistic", "min")
        for key, entry in entries.items():
            _check_entry(path, key, entry, statistic)
        coverage = data.get("coverage") or []
        if not isinstance(coverage, list) or not all(isinstance(c, str) for c in coverage):
            raise ValueError(f"latency table {path}: 'coverage' must be a list of strings")
        if not isinstance(data.get("backend") or {}, dict):
            raise ValueError(f"latency table {path}: 'backend' must be an object")
        return cls(
            entries=entries,
            backend=data.get("backend") or {},
            statistic=data.get("statistic", "min"),
            quantization=data.get("quantization", "float32"),
            coverage=coverage,
            calibration=data.get("calibration"),
            path=path,
        )

    # -- adding measurements --

    @property
    def device(self) -> str:
        """The fingerprint of the device the table was measured on ('' while empty)."""
        return device_fingerprint(self.backend) if self.backend else ""

    def add(self, key: str, kind: str, stats: LatencyStats, *, size_bytes: int) -> None:
        """Records one part measured on a device backend. The first measurement fixes the
        table's backend; a measurement from another device, runtime, thread count or clock is
        refused (ValueError naming both)."""
        measured_on = {k: v for k, v in stats.metadata.items() if k in BACKEND_FIELDS}
        if not self.backend:
            self.backend = measured_on
        elif _identity(self.backend) != _identity(measured_on):
            raise ValueError(
                f"latency table {self.path or ''} was measured on {_identity(self.backend)}; "
                f"this backend is {_identity(measured_on)}: use a separate table"
            )
        data = stats.to_dict()
        self.entries[key] = {
            "kind": kind,
            **{name: data[name] for name in ENTRY_STATS},
            "bytes": int(size_bytes),
        }

    def add_coverage(self, coverage_id: str) -> None:
        """Records that every part of a space at a resolution and class count is in the table."""
        if coverage_id not in self.coverage:
            self.coverage.append(coverage_id)

    # -- fitness for a use --

    def check_covers(self, coverage_id: str) -> None:
        """Refuses a table built for another space, resolution or class count (ValueError naming
        both). A table of some architectures' parts (no coverage recorded) passes: an
        architecture whose parts it lacks fails when predicted."""
        if not self.coverage or coverage_id in self.coverage:
            return
        raise ValueError(
            f"latency table {self.path or ''} covers {', '.join(self.coverage)}, not "
            f"{coverage_id}: build one for it with `tflite-bench --build_table "
            f"--space=SPACE --image_size=N --classes=N --table=PATH`"
        )

    def check_device(
        self, metadata: Mapping[str, Any], *, allow_other_device: bool = False
    ) -> None:
        """Refuses to use the table beside a backend on another device or runtime (ValueError
        naming both), unless `allow_other_device`."""
        if not self.backend:
            return
        ours = (self.device, runtime_id(self.backend))
        theirs = (device_fingerprint(metadata), runtime_id(metadata))
        if ours == theirs:
            return
        message = (
            f"latency table {self.path or ''} was measured on {ours[0]} ({ours[1]}); the "
            f"backend measures on {theirs[0]} ({theirs[1]})"
        )
        if not allow_other_device:
            raise ValueError(
                f"{message}: build a table on this device, or pass --allow_other_device to use "
                "it anyway"
            )
        log.warning("%s: used anyway (--allow_other_device)", message)

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
            "built_on": self.table.device,
            "quantization": self.table.quantization,
            "table": self.table.path,
            "statistic": self.table.statistic,
            "calibrated": self.table.calibration is not None,
        }


def _check_entry(path: str, key: object, entry: object, statistic: str) -> None:
    if not isinstance(entry, dict) or entry.get("kind") not in ("stem", "layer", "head"):
        raise ValueError(f"latency table {path}: entry {key!r} is malformed: {entry!r}")
    for name in ENTRY_STATS[:-1]:
        value = entry.get(name)
        if value is None and name != f"{statistic}_ms":  # optional (adb reports no p90)
            continue
        if not checks.is_finite_number(value) or value < 0:
            raise ValueError(
                f"latency table {path}: entry {key!r} has {name} {value!r} (a latency >= 0 "
                "in ms expected)"
            )


def _identity(backend: Mapping[str, Any]) -> tuple[Any, ...]:
    """What must match for two measurements to share a table."""
    return (
        backend.get("backend"),
        device_fingerprint(backend),
        backend.get("num_threads"),
        runtime_id(backend),
        backend.get("clock"),
    )
