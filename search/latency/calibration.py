"""Calibrating a latency table against whole models, and measuring how good its predictions are.

Owns `calibrate` (least-squares fit of `a · Σ part latency + b · Σ part MB + c` on end-to-end
measurements, with in-sample and leave-one-out accuracy), `evaluate` (the same accuracy on
architectures kept out of the fit), `accuracy` (share within ±10% / ±5%, MAPE, Spearman),
`measure_archs` / `measure_table_archs` (whole models built, converted and timed on a device
backend, interleaved on this host; the second as the table was: its device, runtime,
quantization and clock) and `sample_archs` (reproducible samples of a search space). Imports
Keras and the builder lazily, only to measure.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mnasnet_tf import specs
from search.latency.build import progress_bar
from search.latency.parts import image_hw
from search.latency.table import FEATURES, LatencyTable
from tflite_bench.backends import LatencyBackend, LocalBackend
from tflite_bench.benchmark import LatencyStats

log = logging.getLogger(__name__)


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


def fit(features: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Calibration coefficients (one per FEATURE) fitted on rows of FEATURES and the measured
    latencies; fewer terms with few rows (see MIN_ARCHS_FOR_WEIGHTS)."""
    features = np.asarray(features, dtype=np.float64)
    measured = np.asarray(measured, dtype=np.float64)
    return _fit(features, measured, _used_features(measured.size))


def measure_archs(
    archs: Sequence[specs.ArchSpec],
    *,
    image_size: int | Sequence[int] = 224,
    classes: int = 1000,
    backend: LatencyBackend | None = None,
    clock: str = "wall",
    quantization: str = "float32",
    progress: bool = True,
) -> list[LatencyStats]:
    """End-to-end latencies of whole models built from `archs`, converted on the fast path
    (float32 or int8, calibrated on random images: latency only) and timed by
    `backend.measure_many`; by default interleaved on this host (10 warm-up, 20 rounds of 3
    runs, `clock`)."""
    from mnasnet_tf import builder
    from tflite_bench import convert

    if backend is None:
        backend = LocalBackend(warmup=10, runs=60, rounds=20, runs_per_round=3, clock=clock)

    hw = image_hw(image_size)
    bar = progress_bar(len(archs), progress, "model")
    with tempfile.TemporaryDirectory(prefix="calibration_") as folder:
        paths = []
        for index, arch in enumerate(archs, start=1):
            model = builder.build_model(arch, input_shape=(*hw, 3), classes=classes)
            path = os.path.join(folder, f"arch{index}.tflite")
            data = None
            if quantization == "int8":
                shape = (8, *hw, 3)
                data = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
            convert.convert(
                model, quantization=quantization, representative_data=data, output_path=path
            )
            paths.append(path)
            if bar is not None:
                bar.update(index)
        log.info("measuring %d whole models", len(paths))
        return backend.measure_many(paths)


def measure_table_archs(
    table: LatencyTable,
    archs: Sequence[specs.ArchSpec],
    *,
    image_size: int | Sequence[int] = 224,
    classes: int = 1000,
    backend: LatencyBackend | None = None,
    allow_other_device: bool = False,
    progress: bool = True,
) -> list[LatencyStats]:
    """End-to-end latencies of `archs` comparable with `table`: on `backend` (default: this host,
    interleaved, the table's clock), with the table's quantization. A backend on another device
    or runtime than the table's is refused (ValueError naming both) unless
    `allow_other_device`."""
    kind = table.backend.get("backend", "local")
    if backend is None and kind != "local":
        raise ValueError(
            f"table {table.path or ''} was measured on {table.device} (backend {kind!r}), not "
            f"on this host: measure whole models there too (--backend={kind}, or measured_ms)"
        )
    clock = table.backend.get("clock", "wall")
    if backend is None:
        backend = LocalBackend(warmup=10, runs=60, rounds=20, runs_per_round=3, clock=clock)
    table.check_device(backend.metadata(), allow_other_device=allow_other_device)
    return measure_archs(
        archs,
        image_size=image_size,
        classes=classes,
        backend=backend,
        quantization=table.quantization,
        progress=progress,
    )


def table_figures(
    table: LatencyTable, archs: Sequence[specs.ArchSpec], **options: Any
) -> list[float]:
    """The table's statistic of each of `archs` measured end to end (`measure_table_archs`
    with `options`)."""
    stats = measure_table_archs(table, archs, **options)
    return [getattr(item, f"{table.statistic}_ms") for item in stats]


def evaluate(
    table: LatencyTable,
    archs: Sequence[specs.ArchSpec],
    *,
    image_size: int | Sequence[int] = 224,
    classes: int = 1000,
    measured_ms: Sequence[float] | None = None,
    backend: LatencyBackend | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """How well the table predicts `archs` (which should have taken no part in its
    calibration): `accuracy` of its predictions against end-to-end measurements (`measured_ms`,
    else measured as in `measure_table_archs`), with per-arch rows."""
    predicted = [table.predict(a, image_size=image_size, classes=classes) for a in archs]
    if measured_ms is None:
        measured_ms = table_figures(
            table, archs, image_size=image_size, classes=classes, backend=backend, progress=progress
        )
    from mnasnet_tf import arch_string

    return {
        **accuracy(predicted, measured_ms),
        "archs": [
            {"arch": arch_string.encode(a), "measured_ms": float(m), "predicted_ms": float(p)}
            for a, m, p in zip(archs, measured_ms, predicted, strict=True)
        ],
    }


def calibrate(
    table: LatencyTable,
    archs: Sequence[specs.ArchSpec],
    *,
    image_size: int | Sequence[int] = 224,
    classes: int = 1000,
    measured_ms: Sequence[float] | None = None,
    backend: LatencyBackend | None = None,
    save: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Fits the table's calibration on `archs` and returns (and stores) the report.

    `measured_ms` are the end-to-end latencies of `archs` (the table's statistic); if None they
    are measured on `backend` (default: this host, interleaved, the table's clock). The parts
    of `archs` must be in the table. The report holds the fit, the uncalibrated and calibrated
    in-sample accuracy, leave-one-out accuracy (an honest estimate for unseen architectures) and
    per-arch rows.
    """
    if len(archs) < 2:
        raise ValueError(f"calibration needs at least 2 architectures; got {len(archs)}")
    x = np.array([table.features(a, image_size=image_size, classes=classes) for a in archs])
    raw = x[:, 0]
    if measured_ms is None:
        measured_ms = table_figures(
            table, archs, image_size=image_size, classes=classes, backend=backend, progress=progress
        )
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
