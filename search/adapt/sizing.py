"""How NetAdapt sizes its proposals and checks its progress: latency estimates and end-to-end
measurements.

Owns `Estimator` (what a proposal's latency cut is judged by) in two kinds:
- 'table': NetAdapt's layer-wise lookup table. The parts of every architecture asked about
  (stem, each layer at its widths and resolution, head) are measured once on this host, added to
  a `LatencyTable` saved in the output folder and summed; a proposal changes a few parts, so
  after the first iteration most lookups cost nothing.
- 'local' / 'adb': every proposal is converted and measured end to end (cached by architecture).
`end_to_end` (a `LatencyMeter` on the target device, which every kept model is measured with)
and `measure_pair` (two models measured again, interleaved: what the stopping rule and the
final figures rest on, since the measurements of a small model drift between runs).

Imports search.latency and tflite_bench; not the NetAdapt loop.
"""

from __future__ import annotations

import os
import statistics
from typing import Any

from mnasnet_tf import specs
from search.adapt.config import ESTIMATORS
from search.latency.build import build_table
from search.latency.meter import LatencyMeter
from search.latency.table import LatencyTable
from tflite_bench.backends import LocalBackend

PAIR_ROUNDS = 3
TABLE_FILE = "latency_table.json"
CACHE_FILE = "latency_cache.json"


def end_to_end(
    backend: str,
    *,
    output_dir: str,
    image_size: int,
    classes: int,
    runs: int,
    quantization: str = "float32",
    adb_options: dict[str, Any] | None = None,
) -> LatencyMeter:
    """The meter that measures whole models on the target device ('adb' for the phone, this
    host otherwise), cached in the output folder."""
    return LatencyMeter(
        "adb" if backend == "adb" else "local",
        image_size=image_size,
        classes=classes,
        runs=runs,
        cache_path=os.path.join(output_dir, CACHE_FILE),
        quantization=quantization,
        adb_options=adb_options,
    )


def measure_pair(
    first: specs.ArchSpec,
    second: specs.ArchSpec,
    *,
    backend: str,
    image_size: int,
    classes: int,
    runs: int,
    adb_options: dict[str, Any] | None = None,
    rounds: int | None = None,
) -> tuple[float, float]:
    """The median latency of each model over `rounds` (default PAIR_ROUNDS) rounds of measuring
    both (converted afresh, nothing cached), alternating which goes first."""
    rounds = rounds or PAIR_ROUNDS
    times: tuple[list[float], list[float]] = ([], [])
    with LatencyMeter(
        "adb" if backend == "adb" else "local",
        image_size=image_size,
        classes=classes,
        runs=runs,
        adb_options=adb_options,
    ) as meter:
        for round_index in range(rounds):
            order = (0, 1) if round_index % 2 == 0 else (1, 0)
            for index in order:
                arch = (first, second)[index]
                meter.forget(arch)
                times[index].append(meter.figure(meter.measure(arch, name=arch.name)))
    return float(statistics.median(times[0])), float(statistics.median(times[1]))


class Estimator:
    """Latency estimates of architectures in ms, for comparing proposals.

    Args:
      kind: one of ESTIMATORS.
      meter: the end-to-end meter ('local'/'adb' estimate with it).
      output_dir: where the 'table' kind keeps its table.
      image_size, classes: of the deployment model.
      runs: timed runs per table part.
    """

    def __init__(
        self,
        kind: str,
        *,
        meter: LatencyMeter,
        output_dir: str,
        image_size: int,
        classes: int,
        runs: int,
    ) -> None:
        if kind not in ESTIMATORS:
            raise ValueError(f"backend must be one of {ESTIMATORS}; got {kind!r}")
        self.kind = kind
        self.meter = meter
        self.image_size = image_size
        self.classes = classes
        self.table: LatencyTable | None = None
        if kind == "table":
            path = os.path.join(output_dir, TABLE_FILE)
            self.table = LatencyTable.load(path) if os.path.exists(path) else LatencyTable()
            self.table.path = path
            self._device = LocalBackend(runs=runs, warmup=5, clock="thread_cpu")
            self.table.check_device(self._device.metadata()) if self.table.entries else None

    def estimate(self, arch: specs.ArchSpec) -> float:
        """Latency of `arch` in ms: the sum of its parts ('table') or its measured figure."""
        if self.table is None:
            return self.meter.figure(self.meter.measure(arch, name=arch.name))
        size = {"image_size": self.image_size, "classes": self.classes}
        if self.table.missing(arch, **size):
            build_table(
                [arch], table=self.table, backend=self._device, workers=0, progress=False, **size
            )
            self.table.save()
        return self.table.raw_sum(arch, **size)
