"""The latency of an architecture at its deployment resolution, as the search measures it.

Owns `LatencyMeter` (one backend of the latency-backend protocol: 'local' LiteRT or 'adb' phone
(tflite_bench/backends.py), a 'predictor' table (search/latency/table.py), or 'hybrid': the
table predicts, some models are also measured and refit its calibration) and `PendingLatency`.
Every figure is a `LatencyStats` whose metadata say where it came from (device fingerprint,
runtime and version, threads, clock, runs; 'source' measured or predicted; conversion and
measurement seconds; 'cached'). Results are cached by architecture and device in a JSON file
that workers share. On the 'local', 'adb' and 'hybrid' backends the meter converts in a
measurement process of its own: `submit` starts building and converting the deployment model
there, so that the conversion (seconds, mostly one core) runs while the trial trains;
`PendingLatency.result` then times the .tflite in that process once the caller is idle again,
so the timed runs see the machine as quiet as before. That process is replaced after
`max_jobs_per_process` jobs, which bounds whatever Keras, the converter and LiteRT keep
between models.

Imports the builder and the converter lazily (the measurement process imports TensorFlow, not the
caller's code paths). Must not import the tuner, the oracle or the reports.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
import weakref
from typing import Any

import numpy as np

from mnasnet_tf import arch_string, specs
from search.latency.table import FEATURES, QUANTIZATIONS, LatencyTable, TableBackend
from tflite_bench import checks, files
from tflite_bench.backends import DEVICE_BACKENDS, LatencyBackend, make_backend
from tflite_bench.benchmark import LatencyStats, device_fingerprint, runtime_id
from tflite_bench.processes import init_tf_worker

log = logging.getLogger("mnasnet_tf.search")


BACKENDS = (*DEVICE_BACKENDS, "predictor", "hybrid")
"""Every backend name the search accepts: the device backends (tflite_bench), 'predictor' (a
latency table) and 'hybrid' (a table whose predictions are checked by measuring some models)."""
MODEL_METADATA = ("model_path", "model_sha256", "command")
"""Metadata of one measured file, dropped from the cache (the file was temporary)."""
HYBRID_STATE = "hybrid_calibration.json"
"""Where the hybrid backend keeps its calibration points and prediction errors (project dir)."""


# ---- the measurement process: module-level functions, so that they pickle ----


def _convert_job(
    arch: specs.ArchSpec, image_size: int, classes: int, path: str, quantization: str = "float32"
) -> float:
    """Builds `arch` at the deployment resolution and writes its .tflite (float32, or int8
    calibrated on random images: for latency only) to `path`; returns the conversion seconds."""
    import keras

    from mnasnet_tf import builder
    from tflite_bench import convert

    keras.utils.clear_session(free_memory=True)
    model = builder.build_model(arch, input_shape=(image_size, image_size, 3), classes=classes)
    start = time.perf_counter()
    data = None
    if quantization == "int8":
        shape = (8, image_size, image_size, 3)
        data = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    convert.convert(model, quantization=quantization, representative_data=data, output_path=path)
    seconds = time.perf_counter() - start
    del model
    keras.utils.clear_session(free_memory=True)
    return seconds


def _measure_job(path: str, backend: LatencyBackend) -> tuple[dict, float]:
    """Times the .tflite at `path` on the device `backend` and deletes it; returns
    (LatencyStats as a dict, measurement seconds)."""
    start = time.perf_counter()
    try:
        stats = backend.measure(path)
    finally:
        if os.path.exists(path):
            os.remove(path)
    return stats.to_dict(), time.perf_counter() - start


def _device(
    kind: str, threads: int, runs: int, warmup: int, clock: str, adb_options: dict | None
) -> LatencyBackend:
    """The 'local' or 'adb' device backend with these timed runs (adb: and `adb_options`)."""
    options = {"threads": threads, "runs": runs, "warmup": warmup}
    if kind == "adb":
        return make_backend("adb", **options, **(adb_options or {}))
    return make_backend("local", **options, clock=clock)


class PendingLatency:
    """A latency being obtained: the conversion may still be running in the measurement
    process. `result()` measures (once) and returns the `LatencyStats`; `cancel()` gives it up.
    On the hybrid backend `predicted_ms` is known at once and `result(measure=...)` decides
    whether the model is measured end to end."""

    def __init__(
        self,
        meter: LatencyMeter,
        key: str,
        *,
        latency: LatencyStats | None = None,
        convert: concurrent.futures.Future | None = None,
        path: str = "",
        predicted: LatencyStats | None = None,
        scheduled: bool = True,
        arch: specs.ArchSpec | None = None,
    ) -> None:
        self._meter = meter
        self._key = key
        self._latency = latency
        self._convert = convert
        self._path = path
        self._predicted = predicted
        self._scheduled = scheduled
        self._arch = arch

    @property
    def predicted_ms(self) -> float | None:
        """The hybrid backend's prediction (the meter's figure), else None."""
        return None if self._predicted is None else self._meter.figure(self._predicted)

    def result(self, *, measure: bool | None = None) -> LatencyStats:
        """The latency; ValueError when the model does not convert or the measurement fails.
        Hybrid backend: measured end to end when `measure` is true or the meter's schedule
        (every `measure_every`-th model) says so, else the prediction."""
        if self._latency is not None:
            return self._latency
        if self._predicted is not None and not (measure or self._scheduled):
            self.cancel()
            self._latency = self._predicted
            return self._latency
        self._latency = self._meter._finish(self._key, self._convert, self._path)
        if self._predicted is not None:
            self._latency = self._meter._learn(self._arch, self._predicted, self._latency)
        return self._latency

    def cancel(self) -> None:
        """Gives up a measurement nobody will read (its model file is removed)."""
        if self._convert is not None:
            self._meter._abandon(self._convert, self._path)
            self._convert = None


class LatencyMeter:
    """Measures the latency of architectures at the deployment resolution on one backend,
    caching by architecture and device in a JSON file so a resumed or repeated search never
    measures the same model twice on the same device.

    Backends: 'local' (LiteRT on this host), 'adb' (a phone), 'predictor' (a latency table,
    microseconds per model) and 'hybrid' (the table predicts every model; every
    `measure_every`-th model, and every model the caller asks for — the search asks for those
    that would enter the Pareto front — is also measured end to end on the table's device, added
    to the calibration, which is refitted, and the running prediction error is logged).

    Args:
      backend: one of BACKENDS, or a backend object (`tflite_bench.backends.LocalBackend`,
        `AdbBackend`, or `search.latency.table.TableBackend`); an object brings its own
        threads, runs and clock, and the arguments below that describe timed runs are ignored.
      image_size, classes: of the deployment model.
      threads, runs, warmup, clock: of the timed runs (see tflite_bench.benchmark).
      cache_path: the JSON cache (None: in memory only). Its key holds the device fingerprint,
        the runtime and its version, the quantization, threads and clock, so another phone or
        runtime never reuses a figure.
      predictor_table: the table of the 'predictor' and 'hybrid' backends.
      adb_options: extra arguments of the adb backend (also used by 'hybrid' when the table
        was built over adb).
      max_jobs_per_process: conversions a measurement process serves before it is replaced.
      quantization: 'float32' or 'int8' (the format the app ships; a table must match).
      measure_every: the hybrid backend measures every this-many-th model.
      allow_other_device: use a table built on another device or runtime than the one the
        hybrid backend measures on (refused by default, naming both).
      state_dir: where the hybrid backend keeps its calibration points (HYBRID_STATE), so a
        resumed search keeps learning; None: in memory only.

    Use `close()` (or `with`) to end the measurement process early; it ends with the program.
    """

    def __init__(
        self,
        backend: str | LatencyBackend = "local",
        *,
        image_size: int = 224,
        classes: int = 1000,
        threads: int = 1,
        runs: int = 30,
        warmup: int = 5,
        clock: str = "thread_cpu",
        cache_path: str | None = None,
        predictor_table: str | None = None,
        adb_options: dict[str, Any] | None = None,
        max_jobs_per_process: int = 50,
        quantization: str = "float32",
        measure_every: int = 10,
        allow_other_device: bool = False,
        state_dir: str | None = None,
    ) -> None:
        if isinstance(backend, str) and backend not in BACKENDS:
            raise ValueError(f"latency backend must be one of {BACKENDS}; got {backend!r}")
        if backend in ("predictor", "hybrid") and not predictor_table:
            raise ValueError(
                f"the {backend!r} backend needs a latency table (--predictor_table); build one "
                "with `tflite-bench --build_table --space=SPACE`"
            )
        if not isinstance(max_jobs_per_process, int) or max_jobs_per_process < 1:
            raise ValueError(
                f"max_jobs_per_process must be a positive integer; got {max_jobs_per_process!r}"
            )
        if quantization not in QUANTIZATIONS:
            raise ValueError(f"quantization must be one of {QUANTIZATIONS}; got {quantization!r}")
        if not checks.is_positive_int(measure_every):
            raise ValueError(f"measure_every must be a positive integer; got {measure_every!r}")
        self.image_size = image_size
        self.classes = classes
        self.quantization = quantization
        self.measure_every = measure_every
        # CPU time of the invoking thread is robust to other jobs on the host (training in
        # another worker, say) but only meaningful for one thread.
        clock = clock if threads == 1 else "wall"
        self.predictor: TableBackend | None = None
        if backend in ("predictor", "hybrid"):
            table = LatencyTable.load(predictor_table)
            if table.quantization != quantization:
                raise ValueError(
                    f"latency table {predictor_table} holds {table.quantization} latencies; "
                    f"the search measures {quantization} (--quantization)"
                )
            self.predictor = TableBackend(table, image_size=image_size, classes=classes)
        if backend == "predictor":
            device: LatencyBackend = self.predictor
        elif backend == "hybrid":
            kind = "adb" if table.backend.get("backend") == "adb" else "local"
            device = _device(kind, threads, runs, warmup, clock, adb_options)
            table.check_device(device.metadata(), allow_other_device=allow_other_device)
        elif backend in ("local", "adb"):
            device = _device(backend, threads, runs, warmup, clock, adb_options)
        else:
            device = backend
            if isinstance(backend, TableBackend):
                self.predictor = backend
        self.device: LatencyBackend = device
        self.backend = backend if isinstance(backend, str) else device.name
        self.statistic = "median" if self.predictor is None else self.predictor.table.statistic
        self.threads = getattr(device, "threads", threads)
        self.runs = getattr(device, "runs", runs)
        self.warmup = getattr(device, "warmup", warmup)
        self.clock = getattr(device, "clock", clock)
        self.cache_path = cache_path
        self.max_jobs_per_process = max_jobs_per_process
        self._cache = self._load_cache()
        self._identity: list[Any] | None = None
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._tmp: str | None = None
        self._lock = threading.Lock()
        self._state_path = (
            os.path.join(state_dir, HYBRID_STATE) if state_dir and backend == "hybrid" else None
        )
        self._submitted = 0
        self.points: list[list[float]] = []
        self.errors_pct: list[float] = []
        if backend == "hybrid":
            self._load_state()

    def figure(self, stats: LatencyStats) -> float:
        """The figure the search compares models by: the median of a measurement (the mean
        where a device reports none); a table's statistic on the predictor and hybrid backends,
        measured or predicted alike."""
        value = getattr(stats, f"{self.statistic}_ms")
        return float(stats.latency_ms if value is None else value)

    def provenance(self) -> dict[str, Any]:
        """What this meter's figures depend on: device fingerprint, runtime and version,
        threads, clock, runs, quantization (and the table for predictions)."""
        identity = self._device_identity()
        info = {
            "latency_backend": self.backend,
            "latency_device": identity[1],
            "latency_runtime": identity[2],
            "latency_threads": self.threads,
            "latency_clock": self.clock if self.backend != "adb" else "device",
            "latency_runs": self.runs,
            "latency_quantization": self.quantization,
        }
        if self.predictor is not None:
            info["latency_table"] = self.predictor.table.path
        return info

    # ---- the cache ----

    def _device_identity(self) -> list[Any]:
        """Backend, device fingerprint, runtime id (computed once: adb asks the phone)."""
        if self._identity is None:
            metadata = self.device.metadata()
            self._identity = [self.backend, device_fingerprint(metadata), runtime_id(metadata)]
            if self.predictor is not None and self.backend == "predictor":
                table = self.predictor.table
                self._identity += [table.path, table.statistic, table.calibration is not None]
        return self._identity

    def _key(self, arch: specs.ArchSpec) -> str:
        data = arch_string.to_json_dict(arch)
        data.pop("name", None)
        data.pop("dropout_rate", None)
        identity = self._device_identity()
        if self.backend == "hybrid":  # measurements are cached as the device's own
            identity = ["local" if self.device.name == "local" else "adb", *identity[1:]]
        text = json.dumps(
            [
                *identity,
                self.quantization,
                self.image_size,
                self.classes,
                self.threads,
                self.clock,
                data,
            ],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def _load_cache(self) -> dict[str, Any]:
        if not self.cache_path or not os.path.exists(self.cache_path):
            return {}
        try:
            with open(self.cache_path, encoding="utf-8") as handle:
                data = json.load(handle)
            return data if isinstance(data, dict) else {}
        except (OSError, json.JSONDecodeError):
            log.warning("latency cache %s is unreadable; starting a new one", self.cache_path)
            return {}

    def _cached(self, key: str) -> LatencyStats | None:
        entry = self._cache.get(key)
        try:
            stats = LatencyStats.from_dict(entry) if isinstance(entry, dict) else None
        except (TypeError, ValueError):  # an entry of an older format: measured again
            return None
        if stats is None:
            return None
        return dataclasses.replace(stats, metadata={**stats.metadata, "cached": True})

    def is_cached(self, arch: specs.ArchSpec) -> bool:
        """Whether `arch`'s latency on this meter is in its cache (measuring it costs nothing)."""
        return self._cached(self._key(arch)) is not None

    def forget(self, arch: specs.ArchSpec) -> None:
        """Drops `arch`'s figure from this meter's memory (not from the cache file), so the
        next `measure` converts and times it again (repeated, interleaved measurements)."""
        self._cache.pop(self._key(arch), None)

    def _store(self, key: str, latency: LatencyStats) -> None:
        metadata = {k: v for k, v in latency.metadata.items() if k not in MODEL_METADATA}
        self._cache[key] = dataclasses.replace(latency, metadata=metadata).to_dict()
        if self.cache_path:
            # Merge with what other workers wrote meanwhile, then replace atomically.
            merged = {**self._load_cache(), **self._cache}
            files.atomic_write_json(self.cache_path, merged, default=str)

    # ---- measuring ----

    def measure(self, arch: specs.ArchSpec, *, name: str = "model") -> LatencyStats:
        """Latency of `arch` on this meter's backend (the hybrid backend measures it)."""
        return self.submit(arch, name=name).result(measure=True)

    def submit(self, arch: specs.ArchSpec, *, name: str = "model") -> PendingLatency:
        """Starts obtaining the latency of `arch`: a cached figure or a prediction at once, a
        conversion in the measurement process otherwise. Read it with `.result()`."""
        del name  # files are named by key: several trials may measure one architecture
        key = self._key(arch)
        cached = self._cached(key)
        if cached is not None:
            return PendingLatency(self, key, latency=cached)
        if self.backend == "predictor":
            start = time.perf_counter()
            predicted = self.device.measure(arch)
            metadata = {
                **predicted.metadata,
                "source": "predicted",
                "measure_seconds": time.perf_counter() - start,
            }
            latency = dataclasses.replace(predicted, metadata=metadata)
            self._store(key, latency)
            return PendingLatency(self, key, latency=latency)
        predicted = None
        scheduled = True
        if self.backend == "hybrid":
            try:
                predicted = self.predictor.measure(arch)
            except ValueError as error:  # not a point of the table's space (a reference model)
                log.info("hybrid latency: measuring %s end to end (%s)", arch.name, error)
            else:
                predicted = dataclasses.replace(
                    predicted, metadata={**predicted.metadata, "source": "predicted"}
                )
                scheduled = self._submitted % self.measure_every == 0
                self._submitted += 1
        path = os.path.join(self._workdir(), f"{key}-{time.monotonic_ns()}.tflite")
        future = self._submit(
            _convert_job, arch, self.image_size, self.classes, path, self.quantization
        )
        return PendingLatency(
            self,
            key,
            convert=future,
            path=path,
            predicted=predicted,
            scheduled=scheduled,
            arch=arch,
        )

    def _finish(self, key: str, convert_future, path: str) -> LatencyStats:
        convert_seconds = self._wait(convert_future)
        stats_dict, measure_seconds = self._wait(self._submit(_measure_job, path, self.device))
        stats = LatencyStats.from_dict(stats_dict)
        metadata = {
            **stats.metadata,
            "source": "measured",
            "quantization": self.quantization,
            "convert_seconds": float(convert_seconds),
            "measure_seconds": float(measure_seconds),
        }
        latency = dataclasses.replace(stats, metadata=metadata)
        self._store(key, latency)
        return latency

    def _abandon(self, convert_future, path: str) -> None:
        if not convert_future.cancel():
            convert_future.add_done_callback(lambda _: os.path.exists(path) and os.remove(path))

    # ---- the hybrid backend's calibration ----

    def _load_state(self) -> None:
        table = self.predictor.table
        report = (table.calibration or {}).get("report") or {}
        self.points = [
            [row["raw_sum_ms"], row["weights_mb"], 1.0, row["measured_ms"]]
            for row in report.get("archs", [])
        ]
        if self._state_path and os.path.exists(self._state_path):
            try:
                with open(self._state_path, encoding="utf-8") as handle:
                    state = json.load(handle)
                self.points = [list(map(float, point)) for point in state["points"]]
                self.errors_pct = [float(error) for error in state["errors_pct"]]
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.warning("hybrid calibration %s is unreadable (%s); starting from the "
                            "table's", self._state_path, error)  # fmt: skip
        self._refit()

    def _refit(self) -> None:
        from search.latency import calibration

        if len(self.points) < 2:
            return
        points = np.asarray(self.points, dtype=np.float64)
        coefficients = calibration.fit(points[:, :3], points[:, 3])
        table = self.predictor.table
        table.calibration = {
            **(table.calibration or {}),
            "features": list(FEATURES),
            "coefficients": coefficients.tolist(),
        }

    def _learn(
        self, arch: specs.ArchSpec, predicted: LatencyStats, measured: LatencyStats
    ) -> LatencyStats:
        """Adds a measured architecture to the calibration (refitted), logs the running
        prediction error; returns the measurement with the prediction and its error."""
        predicted_ms, measured_ms = self.figure(predicted), self.figure(measured)
        error = 100.0 * (predicted_ms - measured_ms) / measured_ms
        self.errors_pct.append(error)
        table = self.predictor.table
        features = table.features(arch, image_size=self.image_size, classes=self.classes)
        self.points.append([*features, measured_ms])
        self._refit()
        if self._state_path:
            files.atomic_write_json(
                self._state_path, {"points": self.points, "errors_pct": self.errors_pct}
            )
        recent = np.abs(self.errors_pct[-20:])
        log.info(
            "hybrid latency: measured %.2f ms, predicted %.2f ms (%+.1f%%); running MAPE %.1f%% "
            "over the last %d measured, %d calibration points",
            measured_ms,
            predicted_ms,
            error,
            float(recent.mean()),
            recent.size,
            len(self.points),
        )
        metadata = {**measured.metadata, "predicted_ms": predicted_ms, "error_pct": error}
        return dataclasses.replace(measured, metadata=metadata)

    # ---- the measurement process ----

    def _workdir(self) -> str:
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="mnas-latency-")
            weakref.finalize(self, shutil.rmtree, self._tmp, True)
        return self._tmp

    def _submit(self, function, *args) -> concurrent.futures.Future:
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=init_tf_worker,
                    initargs=(os.getpid(),),
                    max_tasks_per_child=self.max_jobs_per_process,
                )
            return self._executor.submit(function, *args)

    def _wait(self, future: concurrent.futures.Future):
        try:
            return future.result()
        except concurrent.futures.process.BrokenProcessPool as error:
            with self._lock:
                self._executor = None  # the next measurement starts a new process
            raise ValueError(f"the latency measurement process died: {error}") from error

    def close(self) -> None:
        """Ends the measurement process and removes its temporary files."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> LatencyMeter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
