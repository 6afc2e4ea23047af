"""Per-layer latency lookup table for one device, and its calibration against whole models.

Owns the table (FBNet / ProxylessNAS style): every distinct layer configuration — op, kernel,
stride, input / expanded / output channels, SE width and gate, activation, skip, input resolution
— measured as a one-layer .tflite on a backend (the local LiteRT by default; any
`path -> LatencyStats` callable, e.g. adb), plus the fixed parts (stem, head + classifier), each
with the size of its .tflite (≈ its weight bytes). A prediction is linear in two sums over the
parts of an architecture, `a · Σ latency + b · Σ weight MB + c`, with a, b, c fitted by least
squares on end-to-end measurements (`calibrate`). The weight term models what isolated layers
miss: in a whole network each layer's weights are cold in the cache, in isolation they are warm.
The table is JSON with the backend's metadata and the calibration report; building it shows
progress and resumes after an interruption (the file is rewritten atomically after every entry).

`predict` is pure Python (no TensorFlow): well under a millisecond per architecture. Building and
calibrating import Keras and `mnasnet_tf.builder` lazily — the one place tflite_bench builds models.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from mnasnet_tf import specs
from tflite_bench.benchmark import LatencyStats
from tflite_bench.parts import (
    build_part_model,
    distinct_parts,
    image_hw,
    part_keys,
)

TABLE_FORMAT = "mnasnet-tf/latency-table-v1"
FEATURES = ("parts_ms", "weights_mb", "constant")
"""What a calibrated prediction is linear in: the sum of the parts' latencies, the sum of their
.tflite sizes in MB, and 1."""
STATISTICS = ("min", "median", "mean")
"""Which per-model statistic a table predicts. 'min' is the most reproducible on a shared host."""

MeasureFn = Callable[[str], LatencyStats]
"""Measures one .tflite path on a backend."""
MeasureManyFn = Callable[[list[str]], dict[str, LatencyStats]]
"""Measures several .tflite paths (interleaved where the backend can) on a backend."""

_BACKEND_FIELDS = (
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
_ENTRY_STATS = ("min_ms", "median_ms", "mean_ms", "p90_ms", "std_ms", "n")

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
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        tmp = f"{target}.tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(self.to_dict(), out, indent=1)
            out.write("\n")
        os.replace(tmp, target)
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


def _entry(kind: str, stats: LatencyStats) -> dict[str, Any]:
    data = stats.to_dict()
    return {"kind": kind, **{name: data[name] for name in _ENTRY_STATS}}


def _backend_metadata(stats: LatencyStats) -> dict[str, Any]:
    return {key: value for key, value in stats.metadata.items() if key in _BACKEND_FIELDS}


def local_measure(
    *, num_threads: int = 1, warmup: int = 10, runs: int = 50, clock: str = "wall"
) -> MeasureFn:
    """A MeasureFn on this host's LiteRT runtime (see `benchmark.CLOCKS` for `clock`)."""
    from tflite_bench import benchmark

    def measure(path: str) -> LatencyStats:
        return benchmark.measure(
            path, num_threads=num_threads, warmup=warmup, runs=runs, clock=clock
        )

    return measure


def _progress_bar(total: int, enabled: bool, unit: str) -> Any:
    if not enabled or total == 0:
        return None
    import keras

    return keras.utils.Progbar(total, unit_name=unit)


def build_table(
    archs: Iterable[specs.ArchSpec],
    path: str | os.PathLike[str] | None = None,
    *,
    image_size: int | Sequence[int] = 224,
    classes: int = 1000,
    measure: MeasureFn | None = None,
    statistic: str = "min",
    table: LatencyTable | None = None,
    progress: bool = True,
) -> LatencyTable:
    """Measures every distinct part of `archs` not yet in the table and returns the table.

    Resumes: an existing table at `path` (or `table`) is loaded and only missing parts are
    measured; the file is rewritten atomically after every entry, so an interrupted build loses
    at most the part in flight. `measure` defaults to the local runtime (1 thread, 10 warm-up, 50
    runs). A table keeps the backend metadata of its first measurement; mixing backends is refused.
    """
    if table is None:
        if path is not None and os.path.exists(path):
            table = LatencyTable.load(path)
            log.info("resuming latency table %s (%d entries)", path, len(table.entries))
        else:
            table = LatencyTable(statistic=statistic, path=None if path is None else str(path))
    elif path is not None:
        table.path = os.fspath(path)
    measure = measure or local_measure()
    parts = distinct_parts(archs, image_size=image_size, classes=classes)
    todo = [part for part in parts if part.key not in table.entries]
    log.info("latency table: %d parts, %d to measure", len(parts), len(todo))
    if not todo:
        return table

    from tflite_bench import convert

    bar = _progress_bar(len(todo), progress, "part")
    with tempfile.TemporaryDirectory(prefix="latency_table_") as folder:
        for index, part in enumerate(todo, start=1):
            model_path = os.path.join(folder, f"part{index}.tflite")
            size = convert.convert(build_part_model(part), output_path=model_path).size_bytes
            stats = measure(model_path)
            backend = _backend_metadata(stats)
            if not table.backend:
                table.backend = backend
            elif _identity(table.backend) != _identity(backend):
                raise ValueError(
                    f"latency table {table.path or ''} was measured on {_identity(table.backend)}; "
                    f"this backend is {_identity(backend)}: use a separate table"
                )
            table.entries[part.key] = {**_entry(part.kind, stats), "bytes": size}
            if table.path is not None:
                table.save()
            if bar is not None:
                bar.update(index)
            else:
                log.info("[%d/%d] %s: %.3f ms", index, len(todo), part.key, stats.min_ms)
            os.unlink(model_path)
    return table


def _identity(backend: dict[str, Any]) -> tuple[Any, ...]:
    """What must match for two measurements to share a table."""
    device = backend.get("device")
    device_id = (device or {}).get("model") if isinstance(device, dict) else None
    return (
        backend.get("backend"),
        backend.get("cpu_model") or device_id,
        backend.get("num_threads"),
        backend.get("runtime"),
        backend.get("clock"),
    )


# ---- calibration ----


def accuracy(predicted: Sequence[float], measured: Sequence[float]) -> dict[str, float]:
    """How well `predicted` latencies match `measured` ones: share within ±10%, mean absolute
    percentage error, largest percentage error and Spearman rank correlation."""
    pred = np.asarray(predicted, dtype=np.float64)
    true = np.asarray(measured, dtype=np.float64)
    if pred.shape != true.shape or pred.size == 0:
        raise ValueError(
            f"need equally many predictions and measurements; got {pred.size}, {true.size}"
        )
    error = np.abs(pred - true) / true
    return {
        "n": int(true.size),
        "within_10pct": float(np.mean(error <= 0.10 + 1e-9)),
        "within_5pct": float(np.mean(error <= 0.05 + 1e-9)),
        "mape_pct": float(100 * np.mean(error)),
        "max_error_pct": float(100 * np.max(error)),
        "spearman": _spearman(pred, true),
    }


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2:
        return float("nan")
    from scipy import stats

    return float(stats.spearmanr(a, b).statistic)


MIN_ARCHS_FOR_WEIGHTS = 8
"""Below this many calibration architectures the weights term is left out (a · Σ + c only)."""


def _used_features(n: int) -> list[int]:
    if n >= MIN_ARCHS_FOR_WEIGHTS:
        return [0, 1, 2]
    return [0, 2] if n >= 3 else [2]


def _fit(x: np.ndarray, measured: np.ndarray, used: list[int]) -> np.ndarray:
    """Least-squares coefficients (one per FEATURE; 0 where unused) of measured ≈ x · coef.
    With only the constant in use, the latency coefficient is fixed to 1 (an offset fit)."""
    coefficients = np.zeros(x.shape[1])
    target = measured.copy()
    if used == [2]:
        coefficients[0] = 1.0
        target = target - x[:, 0]
    solution, *_ = np.linalg.lstsq(x[:, used], target, rcond=None)
    coefficients[used] += solution
    return coefficients


def measure_archs(
    archs: Sequence[specs.ArchSpec],
    *,
    image_size: int | Sequence[int] = 224,
    classes: int = 1000,
    measure_many: MeasureManyFn | None = None,
    clock: str = "wall",
    progress: bool = True,
) -> list[LatencyStats]:
    """End-to-end latencies of whole models built from `archs`, converted on the fast path;
    measured interleaved on the local host by default (10 warm-up, 20 rounds of 3 runs, `clock`)."""
    from mnasnet_tf import builder
    from tflite_bench import benchmark, convert

    if measure_many is None:

        def measure_many(paths: list[str]) -> dict[str, LatencyStats]:
            return benchmark.measure_interleaved(
                paths, rounds=20, runs_per_round=3, warmup=10, clock=clock
            )

    hw = image_hw(image_size)
    bar = _progress_bar(len(archs), progress, "model")
    with tempfile.TemporaryDirectory(prefix="calibration_") as folder:
        paths = []
        for index, arch in enumerate(archs, start=1):
            model = builder.build_model(arch, input_shape=(*hw, 3), classes=classes)
            path = os.path.join(folder, f"arch{index}.tflite")
            convert.convert(model, output_path=path)
            paths.append(path)
            if bar is not None:
                bar.update(index)
        log.info("measuring %d whole models", len(paths))
        results = measure_many(paths)
    return [results[path] for path in paths]


def calibrate(
    table: LatencyTable,
    archs: Sequence[specs.ArchSpec],
    *,
    image_size: int | Sequence[int] = 224,
    classes: int = 1000,
    measured_ms: Sequence[float] | None = None,
    measure_many: MeasureManyFn | None = None,
    save: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Fits the table's calibration on `archs` and returns (and stores) the report.

    `measured_ms` are the end-to-end latencies of `archs` (the table's statistic); if None they
    are measured with `measure_many` (default: local, interleaved, the table's clock). The parts
    of `archs` must be in the table. The report holds the fit, the uncalibrated and calibrated
    in-sample accuracy, leave-one-out accuracy (an honest estimate for unseen architectures) and
    per-arch rows.
    """
    if len(archs) < 2:
        raise ValueError(f"calibration needs at least 2 architectures; got {len(archs)}")
    x = np.array([table.features(a, image_size=image_size, classes=classes) for a in archs])
    raw = x[:, 0]
    if measured_ms is None:
        kind = table.backend.get("backend", "local")
        if measure_many is None and kind != "local":
            raise ValueError(
                f"table {table.path or ''} was measured on backend {kind!r}: pass measure_many "
                "(or measured_ms) measuring whole models on that backend"
            )
        stats = measure_archs(
            archs,
            image_size=image_size,
            classes=classes,
            measure_many=measure_many,
            clock=table.backend.get("clock", "wall"),
            progress=progress,
        )
        measured_ms = [getattr(item, f"{table.statistic}_ms") for item in stats]
    measured = np.asarray(measured_ms, dtype=np.float64)
    if measured.shape != raw.shape:
        raise ValueError(f"got {measured.size} measurements for {raw.size} architectures")
    used = _used_features(raw.size)
    coefficients = _fit(x, measured, used)
    predicted = x @ coefficients
    loo = []
    for index in range(raw.size):
        keep = np.arange(raw.size) != index
        loo.append(float(x[index] @ _fit(x[keep], measured[keep], used)))
    table.calibration = {"features": list(FEATURES), "coefficients": coefficients.tolist()}
    started = time.perf_counter()
    for arch in archs:
        table.predict(arch, image_size=image_size, classes=classes)
    seconds_per_predict = (time.perf_counter() - started) / len(archs)
    from mnasnet_tf import arch_string

    report = {
        "n": int(raw.size),
        "image_size": list(image_hw(image_size)),
        "statistic": table.statistic,
        "coefficients": dict(zip(FEATURES, coefficients.tolist(), strict=True)),
        "uncalibrated": accuracy(raw, measured),
        "in_sample": accuracy(predicted, measured),
        "leave_one_out": accuracy(loo, measured),
        "predict_ms": 1e3 * seconds_per_predict,
        "archs": [
            {
                "name": arch.name,
                "arch": arch_string.encode(arch),
                "measured_ms": float(m),
                "raw_sum_ms": float(r),
                "weights_mb": float(w),
                "predicted_ms": float(p),
                "leave_one_out_ms": float(o),
            }
            for arch, m, r, w, p, o in zip(
                archs, measured, raw, x[:, 1], predicted, loo, strict=True
            )
        ],
    }
    table.calibration["report"] = report
    if save and table.path is not None:
        table.save()
    return report


def sample_archs(
    sample_arch: Callable[[np.random.Generator], specs.ArchSpec], n: int, *, seed: int = 0
) -> list[specs.ArchSpec]:
    """`n` architectures from a search space's `sample_arch(rng)`, reproducibly from `seed`."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    rng = np.random.default_rng(seed)
    return [sample_arch(rng) for _ in range(n)]
