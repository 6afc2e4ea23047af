"""Building a latency table: measure every distinct part of some architectures on a backend.

Owns `build_table`: each part not yet in the table is built as a one-part Keras model, converted
and timed on a device backend (tflite_bench/backends.py: this host or an adb phone); the table
file is rewritten atomically after every entry, so an interrupted build resumes where it stopped
and never leaves a half-written table. Imports Keras (through the part builder and the converter)
lazily, when there is something to measure.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any

from mnasnet_tf import specs
from search.latency.parts import build_part_model, distinct_parts
from search.latency.table import BACKEND_FIELDS, ENTRY_STATS, LatencyTable
from tflite_bench.backends import LatencyBackend, LocalBackend
from tflite_bench.benchmark import LatencyStats

log = logging.getLogger(__name__)


def _entry(kind: str, stats: LatencyStats) -> dict[str, Any]:
    data = stats.to_dict()
    return {"kind": kind, **{name: data[name] for name in ENTRY_STATS}}


def _backend_metadata(stats: LatencyStats) -> dict[str, Any]:
    return {key: value for key, value in stats.metadata.items() if key in BACKEND_FIELDS}


def progress_bar(total: int, enabled: bool, unit: str) -> Any:
    """A Keras progress bar over `total` items (None when disabled or empty)."""
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
    backend: LatencyBackend | None = None,
    statistic: str = "min",
    table: LatencyTable | None = None,
    progress: bool = True,
) -> LatencyTable:
    """Measures every distinct part of `archs` not yet in the table and returns the table.

    Resumes: an existing table at `path` (or `table`) is loaded and only missing parts are
    measured; the file is rewritten atomically after every entry, so an interrupted build loses
    at most the part in flight. `backend` (a device backend) defaults to this host (1 thread, 10
    warm-up, 50 runs). A table keeps the backend metadata of its first measurement; mixing
    backends is refused.
    """
    if table is None:
        if path is not None and os.path.exists(path):
            table = LatencyTable.load(path)
            log.info("resuming latency table %s (%d entries)", path, len(table.entries))
        else:
            table = LatencyTable(statistic=statistic, path=None if path is None else str(path))
    elif path is not None:
        table.path = os.fspath(path)
    backend = backend or LocalBackend()
    parts = distinct_parts(archs, image_size=image_size, classes=classes)
    todo = [part for part in parts if part.key not in table.entries]
    log.info("latency table: %d parts, %d to measure", len(parts), len(todo))
    if not todo:
        return table

    from tflite_bench import convert

    bar = progress_bar(len(todo), progress, "part")
    with tempfile.TemporaryDirectory(prefix="latency_table_") as folder:
        for index, part in enumerate(todo, start=1):
            model_path = os.path.join(folder, f"part{index}.tflite")
            size = convert.convert(build_part_model(part), output_path=model_path).size_bytes
            stats = backend.measure(model_path)
            measured_on = _backend_metadata(stats)
            if not table.backend:
                table.backend = measured_on
            elif _identity(table.backend) != _identity(measured_on):
                raise ValueError(
                    f"latency table {table.path or ''} was measured on {_identity(table.backend)}; "
                    f"this backend is {_identity(measured_on)}: use a separate table"
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
