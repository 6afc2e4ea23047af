"""The latency of an architecture at its deployment resolution, as the search measures it.

Owns `Latency` (a measured figure and what it cost) and `LatencyMeter` (one backend of the
latency-backend protocol: 'local' LiteRT or 'adb' phone (tflite_bench/backends.py), or a
'predictor' table (search/latency/table.py); results cached by architecture in a JSON file that
workers share). On the 'local' and 'adb' backends the meter converts in a measurement process
of its own: `submit` starts building and converting the deployment model there, so that the
conversion (seconds, mostly one core) runs while the trial trains; `PendingLatency.result` then
times the .tflite in that process once the caller is idle again, so the timed runs see the
machine as quiet as before. That process is replaced after `max_jobs_per_process` jobs, which
bounds whatever Keras, the converter and LiteRT keep between models.

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

from mnasnet_tf import arch_string, specs
from search.child_process import exit_with_parent
from search.latency.table import LatencyTable, TableBackend
from tflite_bench import util
from tflite_bench.backends import BACKENDS, LatencyBackend, make_backend

log = logging.getLogger("mnasnet_tf.search")


@dataclasses.dataclass(frozen=True)
class Latency:
    """A latency figure for one architecture, with what it cost to obtain."""

    median_ms: float
    min_ms: float
    p90_ms: float
    convert_seconds: float = 0.0
    measure_seconds: float = 0.0
    cached: bool = False


# ---- the measurement process: module-level functions, so that they pickle ----


def _init_process(parent_pid: int | None = None) -> None:
    """Quiet TensorFlow, one thread for graph work (conversion must not take the trainer's
    cores), imported before the first job arrives; the process ends with its parent."""
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def _convert_job(arch: specs.ArchSpec, image_size: int, classes: int, path: str) -> float:
    """Builds `arch` at the deployment resolution and writes its float32 .tflite to `path`;
    returns the conversion seconds."""
    import keras

    from mnasnet_tf import builder
    from tflite_bench import convert

    keras.utils.clear_session(free_memory=True)
    model = builder.build_model(arch, input_shape=(image_size, image_size, 3), classes=classes)
    start = time.perf_counter()
    convert.convert(model, quantization="float32", output_path=path)
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


class PendingLatency:
    """A latency being obtained: the conversion may still be running in the measurement
    process. `result()` measures (once) and returns the `Latency`; `cancel()` gives it up."""

    def __init__(self, meter: LatencyMeter, key: str, *, latency=None, convert=None, path=""):
        self._meter = meter
        self._key = key
        self._latency: Latency | None = latency
        self._convert = convert
        self._path = path

    def result(self) -> Latency:
        """The latency (median, min, p90 in ms); ValueError when the model does not convert
        or the measurement fails."""
        if self._latency is None:
            self._latency = self._meter._finish(self._key, self._convert, self._path)
        return self._latency

    def cancel(self) -> None:
        """Gives up a measurement nobody will read (its model file is removed)."""
        if self._latency is None and self._convert is not None:
            self._meter._abandon(self._key, self._convert, self._path)
            self._convert = None


class LatencyMeter:
    """Measures the latency of architectures at the deployment resolution on one backend
    ('local' LiteRT, 'adb' phone, or 'predictor' lookup table), caching by architecture in a
    JSON file so a resumed or repeated search never measures the same model twice.

    Args:
      backend: one of BACKENDS, or a backend object (`tflite_bench.backends.LocalBackend`,
        `AdbBackend`, or `search.latency.table.TableBackend`); an object brings its own
        threads, runs and clock, and the arguments below that describe timed runs are ignored.
      image_size, classes: of the deployment model.
      threads, runs, warmup, clock: of the timed runs (see tflite_bench.benchmark).
      cache_path: the JSON cache (None: in memory only).
      predictor_table: the table of the 'predictor' backend.
      adb_options: extra arguments of `tflite_bench.adb.measure`.
      max_jobs_per_process: conversions a measurement process serves before it is replaced.

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
    ) -> None:
        if isinstance(backend, str) and backend not in BACKENDS:
            raise ValueError(f"latency backend must be one of {BACKENDS}; got {backend!r}")
        if backend == "predictor" and not predictor_table:
            raise ValueError(
                "the 'predictor' backend needs a latency table (--predictor_table); build one "
                "with `tflite-bench --build_table`"
            )
        if not isinstance(max_jobs_per_process, int) or max_jobs_per_process < 1:
            raise ValueError(
                f"max_jobs_per_process must be a positive integer; got {max_jobs_per_process!r}"
            )
        self.image_size = image_size
        self.classes = classes
        # CPU time of the invoking thread is robust to other jobs on the host (training in
        # another worker, say) but only meaningful for one thread.
        clock = clock if threads == 1 else "wall"
        if backend == "predictor":
            backend = TableBackend(
                LatencyTable.load(predictor_table), image_size=image_size, classes=classes
            )
        elif backend == "local":
            backend = make_backend("local", threads=threads, runs=runs, warmup=warmup, clock=clock)
        elif backend == "adb":
            options = {"threads": threads, "runs": runs, "warmup": warmup, **(adb_options or {})}
            backend = make_backend("adb", **options)
        self.device: LatencyBackend = backend
        self.backend = backend.name
        self.threads = getattr(backend, "threads", threads)
        self.runs = getattr(backend, "runs", runs)
        self.warmup = getattr(backend, "warmup", warmup)
        self.clock = getattr(backend, "clock", clock)
        self.cache_path = cache_path
        self.max_jobs_per_process = max_jobs_per_process
        self._cache = self._load_cache()
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._tmp: str | None = None
        self._lock = threading.Lock()

    # ---- the cache ----

    def _key(self, arch: specs.ArchSpec) -> str:
        data = arch_string.to_json_dict(arch)
        data.pop("name", None)
        data.pop("dropout_rate", None)
        text = json.dumps(
            [self.backend, self.image_size, self.classes, self.threads, self.clock, data],
            sort_keys=True,
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

    def is_cached(self, arch: specs.ArchSpec) -> bool:
        """Whether `arch`'s latency on this meter is in its cache (measuring it costs nothing)."""
        return self._key(arch) in self._cache

    def _store(self, key: str, latency: Latency) -> None:
        self._cache[key] = dataclasses.asdict(latency)
        if self.cache_path:
            # Merge with what other workers wrote meanwhile, then replace atomically.
            merged = {**self._load_cache(), **self._cache}
            util.atomic_write_json(self.cache_path, merged, default=str)

    # ---- measuring ----

    def measure(self, arch: specs.ArchSpec, *, name: str = "model") -> Latency:
        """Latency of `arch` (median, min, p90 in ms) on this meter's backend."""
        return self.submit(arch, name=name).result()

    def submit(self, arch: specs.ArchSpec, *, name: str = "model") -> PendingLatency:
        """Starts obtaining the latency of `arch`: a cached figure or a prediction at once, a
        conversion in the measurement process otherwise. Read it with `.result()`."""
        key = self._key(arch)
        if key in self._cache:
            return PendingLatency(
                self, key, latency=dataclasses.replace(Latency(**self._cache[key]), cached=True)
            )
        if isinstance(self.device, TableBackend):
            start = time.perf_counter()
            value = self.device.measure(arch).latency_ms
            latency = Latency(value, value, value, 0.0, time.perf_counter() - start)
            self._store(key, latency)
            return PendingLatency(self, key, latency=latency)
        del name  # files are named by key: several trials may measure one architecture
        path = os.path.join(self._workdir(), f"{key}-{time.monotonic_ns()}.tflite")
        future = self._submit(_convert_job, arch, self.image_size, self.classes, path)
        return PendingLatency(self, key, convert=future, path=path)

    def _finish(self, key: str, convert_future, path: str) -> Latency:
        convert_seconds = self._wait(convert_future)
        stats_dict, measure_seconds = self._wait(self._submit(_measure_job, path, self.device))
        from tflite_bench import benchmark

        stats = benchmark.LatencyStats.from_dict(stats_dict)
        p90 = stats.p90_ms
        latency = Latency(
            median_ms=float(stats.latency_ms),
            min_ms=float(stats.min_ms),
            p90_ms=float(stats.latency_ms if p90 is None else p90),
            convert_seconds=float(convert_seconds),
            measure_seconds=float(measure_seconds),
        )
        self._store(key, latency)
        return latency

    def _abandon(self, key: str, convert_future, path: str) -> None:
        del key
        if not convert_future.cancel():
            convert_future.add_done_callback(lambda _: os.path.exists(path) and os.remove(path))

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
                    initializer=_init_process,
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
