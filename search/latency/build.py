"""Building a latency table: measure parts of architectures, or of a whole space, on a backend.

Owns `build_table` (every distinct part of some architectures), `build_space_table` (every part
any architecture of a search space can contain, search/latency/coverage.py, so the table covers
the space) and `measure_parts`, which both call. Each part not yet in the table is built as a
one-part Keras model, converted (float32 or int8: `QUANTIZATIONS`) and timed on a device backend
(tflite_bench/backends.py: this host or an adb phone).

Speed: parts are converted in chunks by `workers` processes, which is what the time went to
(per part on 2 cores: 0.13 s converting, 0.04 s building the Keras part, 0.05 s timing it).
On this host (the local backend) a chunk is timed only after its conversions end, so the timed
runs see a quiet machine; with a device elsewhere (adb) the next chunk converts while the phone
times this one.

Resumes: the table file is rewritten atomically after every chunk and when the build stops for
any reason (Ctrl-C, a failing part), so an interrupted build keeps what it measured, resumes
without re-measuring, and never leaves a half-written table. Imports Keras (through the part
builder and the converter) lazily, in the conversion processes when there are any.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from mnasnet_tf import specs
from search.latency import coverage
from search.latency.parts import Part, build_part_model, distinct_parts
from search.latency.table import ENTRY_STATS, QUANTIZATIONS, LatencyTable
from search.spaces.base import SearchSpace
from tflite_bench.backends import LatencyBackend, LocalBackend
from tflite_bench.processes import init_tf_worker

log = logging.getLogger(__name__)

MIN_PARTS_FOR_WORKERS = 32
"""Below this many parts to measure, conversion runs in this process (starting conversion
processes costs a TensorFlow import each)."""
MAX_JOBS_PER_PROCESS = 200
"""Conversions a conversion process serves before it is replaced."""


def progress_bar(total: int, enabled: bool, unit: str) -> Any:
    """A Keras progress bar over `total` items, with an ETA (None when disabled or empty)."""
    if not enabled or total == 0:
        return None
    import keras

    return keras.utils.Progbar(total, unit_name=unit)


def convert_part(part: Part, path: str, quantization: str = "float32") -> tuple[int, float]:
    """Builds `part` as a one-part Keras model and writes its .tflite to `path`; returns
    (size in bytes, seconds). int8 parts are calibrated on random feature maps and take and
    give int8 tensors, as inside a whole int8 model."""
    import keras

    from tflite_bench import convert

    start = time.perf_counter()
    model = build_part_model(part)
    data = None
    if quantization == "int8":
        shape = (8, *model.input_shape[1:])
        data = np.random.default_rng(0).uniform(-1.0, 1.0, shape).astype(np.float32)
        if part.kind == "stem":
            data = (data + 1.0) * 127.5  # images
    result = convert.convert(
        model,
        quantization=quantization,
        representative_data=data,
        int8_io=quantization == "int8",
        output_path=path,
    )
    del model
    keras.utils.clear_session(free_memory=True)
    return result.size_bytes, time.perf_counter() - start


def _open_table(
    table: LatencyTable | None,
    path: str | os.PathLike[str] | None,
    statistic: str,
    quantization: str,
) -> LatencyTable:
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}; got {quantization!r}")
    if table is None:
        if path is not None and os.path.exists(path):
            table = LatencyTable.load(path)
            log.info("resuming latency table %s (%d entries)", path, len(table.entries))
        else:
            table = LatencyTable(
                statistic=statistic,
                quantization=quantization,
                path=None if path is None else os.fspath(path),
            )
    elif path is not None:
        table.path = os.fspath(path)
    if table.quantization != quantization:
        raise ValueError(
            f"latency table {table.path or ''} holds {table.quantization} parts; this build "
            f"is {quantization}: use a separate table"
        )
    return table


def measure_parts(
    parts: Sequence[Part],
    table: LatencyTable,
    *,
    backend: LatencyBackend,
    workers: int | None = None,
    chunk: int | None = None,
    overlap: bool | None = None,
    progress: bool = True,
) -> LatencyTable:
    """Measures the `parts` not yet in `table` on the device `backend` and adds them.

    Args:
      workers: conversion processes (None: one per core, none for fewer than
        MIN_PARTS_FOR_WORKERS parts; 0: convert in this process).
      chunk: parts converted before timing them (default 8 per worker, at least 8).
      overlap: convert the next chunk while timing this one (default: only when the backend
        times on another device, not on this host).
    """
    todo = [part for part in parts if part.key not in table.entries]
    log.info("latency table: %d parts, %d to measure", len(parts), len(todo))
    if not todo:
        return table
    if workers is None:
        workers = 0 if len(todo) < MIN_PARTS_FOR_WORKERS else os.cpu_count() or 1
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise ValueError(f"workers must be an integer >= 0; got {workers!r}")
    chunk = chunk or max(8, 8 * workers)
    if overlap is None:
        overlap = backend.name != "local"
    chunks = [todo[start : start + chunk] for start in range(0, len(todo), chunk)]
    bar = progress_bar(len(todo), progress, "part")
    pool = _Pool(workers)
    done = 0
    with tempfile.TemporaryDirectory(prefix="latency_table_") as folder:

        def start(index: int) -> list[Any]:
            pool.recycle_if_due()  # no job is pending here
            jobs = []
            for position, part in enumerate(chunks[index]):
                path = os.path.join(folder, f"part{index}_{position}.tflite")
                jobs.append((part, path, pool.submit(part, path, table.quantization)))
            return jobs

        try:
            pending = start(0)
            for index in range(len(chunks)):
                converted = [(part, path, _converted(job, part)) for part, path, job in pending]
                pending = start(index + 1) if overlap and index + 1 < len(chunks) else []
                for part, path, size in converted:
                    stats = backend.measure(path)
                    table.add(part.key, part.kind, stats, size_bytes=size)
                    os.unlink(path)
                    done += 1
                    if bar is not None:
                        bar.update(done)
                    else:
                        log.info("[%d/%d] %s: %.3f ms", done, len(todo), part.key, stats.min_ms)
                if table.path is not None:
                    table.save()
                if not overlap and index + 1 < len(chunks):
                    pending = start(index + 1)
        finally:
            if table.path is not None and done:
                table.save()
            pool.close()
    return table


class _Pool:
    """Conversion processes (none: `submit` returns the arguments of an in-process
    conversion). The processes are replaced after about MAX_JOBS_PER_PROCESS jobs each, between
    chunks (no job pending), which bounds what Keras and the converter keep between models.
    (ProcessPoolExecutor's own max_tasks_per_child can deadlock on Python 3.11.)"""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.executor: concurrent.futures.ProcessPoolExecutor | None = None
        self.jobs = 0

    def recycle_if_due(self) -> None:
        """Replaces the processes once they served their jobs (call with no job pending)."""
        if self.executor is not None and self.jobs >= MAX_JOBS_PER_PROCESS * self.workers:
            self.close()

    def submit(self, *args: Any) -> Any:
        """Starts converting (part, path, quantization)."""
        if not self.workers:
            return args
        if self.executor is None:
            self.executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_tf_worker,
                initargs=(os.getpid(),),
            )
            self.jobs = 0
        self.jobs += 1
        return self.executor.submit(convert_part, *args)

    def close(self) -> None:
        """Ends the processes (pending jobs are cancelled)."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


def _converted(job: Any, part: Part) -> int:
    """The size of a converted part (a future, or the arguments of an in-process conversion);
    a part that does not convert raises a ValueError naming it."""
    try:
        if isinstance(job, concurrent.futures.Future):
            return job.result()[0]
        return convert_part(*job)[0]
    except concurrent.futures.process.BrokenProcessPool as error:
        raise ValueError(f"the conversion process died while converting part {part.key}") from error
    except ValueError as error:
        raise ValueError(f"part {part.key} does not convert: {error}") from error


def build_table(
    archs: Iterable[specs.ArchSpec],
    path: str | os.PathLike[str] | None = None,
    *,
    image_size: int | Sequence[int] = 224,
    classes: int = 1000,
    backend: LatencyBackend | None = None,
    statistic: str = "min",
    quantization: str = "float32",
    table: LatencyTable | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> LatencyTable:
    """Measures every distinct part of `archs` not yet in the table and returns the table.

    Resumes: an existing table at `path` (or `table`) is loaded and only missing parts are
    measured (see `measure_parts`). `backend` (a device backend) defaults to this host (1
    thread, 10 warm-up, 50 runs). A table keeps the backend metadata of its first measurement;
    mixing devices, runtimes, threads or quantizations is refused.
    """
    table = _open_table(table, path, statistic, quantization)
    parts = distinct_parts(archs, image_size=image_size, classes=classes)
    return measure_parts(
        parts, table, backend=backend or LocalBackend(), workers=workers, progress=progress
    )


def build_space_table(
    space: SearchSpace,
    path: str | os.PathLike[str] | None = None,
    *,
    image_size: int | Sequence[int] = 224,
    classes: int = 1000,
    backend: LatencyBackend | None = None,
    statistic: str = "min",
    quantization: str = "float32",
    table: LatencyTable | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> LatencyTable:
    """Measures every part any architecture of `space` can contain at `image_size` with
    `classes` outputs (those not yet in the table), then records that the table covers the
    space there (`coverage.coverage_id`). Resumable like `build_table`."""
    table = _open_table(table, path, statistic, quantization)
    parts = coverage.space_parts(space, image_size=image_size, classes=classes)
    measure_parts(
        parts, table, backend=backend or LocalBackend(), workers=workers, progress=progress
    )
    missing = coverage.uncovered(
        space, table.entries, image_size=image_size, classes=classes, samples=500
    )
    if missing:  # the space's part_groups() miss something: a bug in the space, not the user's
        raise RuntimeError(
            f"space {space.name!r}: random points have parts the enumeration missed: "
            f"{missing[:3]}; its part_groups() are incomplete"
        )
    table.add_coverage(coverage.coverage_id(space.name, image_size, classes))
    if table.path is not None:
        table.save()
    return table


__all__ = [
    "ENTRY_STATS",
    "build_space_table",
    "build_table",
    "convert_part",
    "measure_parts",
    "progress_bar",
]
