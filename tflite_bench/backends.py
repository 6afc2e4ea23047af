"""One latency-backend protocol, and its device implementations: this host and an adb phone.

Owns `LatencyBackend` (what every latency source offers: `measure` one model, `measure_many`
several, `metadata` describing the device), `LocalBackend` (this host's LiteRT runtime),
`AdbBackend` (a phone over adb + benchmark_model), `DEVICE_BACKENDS` and `make_backend(name, ...)`,
the one place a device backend's name becomes a backend. Both binaries (`tflite-bench`,
`mnasnet-search`) and
the latency model of the search (tables, calibration, the meter) take a backend object, so a table
built or calibrated under `--backend=adb` is measured on the phone.

A device backend measures .tflite files. The table backend (search/latency/table.py) implements
the same protocol for architectures, one level up, where architectures are known.

Backends are frozen dataclasses: they pickle, so a measurement process can receive one.
Imports nothing from the project beyond tflite_bench; TensorFlow is never imported here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from tflite_bench import checks
from tflite_bench.benchmark import CLOCKS, LatencyStats, device_fingerprint, runtime_id

DEVICE_BACKENDS = ("local", "adb")
"""Backends that time .tflite files on a device (the layers above add their own, e.g. tables)."""


@runtime_checkable
class LatencyBackend(Protocol):
    """A source of latency figures, named by `name`."""

    name: str

    def measure(self, model: Any) -> LatencyStats:
        """The latency of one model (a .tflite path for a device backend)."""

    def measure_many(self, models: Sequence[Any]) -> list[LatencyStats]:
        """The latencies of several models, in order (interleaved where the backend can)."""

    def metadata(self) -> dict[str, Any]:
        """What the figures depend on: device, runtime, threads, runs, clock."""


def _check_int(name: str, value: object, minimum: int) -> None:
    checks.require_int(name, value, minimum=minimum, prefix="")


@dataclasses.dataclass(frozen=True)
class LocalBackend:
    """This host's LiteRT runtime. `measure_many` times the models round-robin in one process
    (`rounds` rounds of `runs_per_round`; defaults: `runs` split into rounds of 5), so the drift
    of a noisy machine hits them alike."""

    threads: int = 1
    warmup: int = 10
    runs: int = 50
    clock: str = "wall"
    rounds: int | None = None
    runs_per_round: int | None = None
    name: str = dataclasses.field(default="local", init=False)

    def __post_init__(self) -> None:
        _check_int("threads", self.threads, 1)
        _check_int("warmup", self.warmup, 0)
        _check_int("runs", self.runs, 1)
        checks.require_one_of("clock", self.clock, CLOCKS, prefix="")
        if self.clock == "thread_cpu" and self.threads != 1:
            raise ValueError(f"clock 'thread_cpu' needs threads=1; got threads={self.threads}")
        for name in ("rounds", "runs_per_round"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), 1)

    def measure(self, model: str | os.PathLike[str]) -> LatencyStats:
        """`warmup` untimed then `runs` timed invocations of the .tflite at `model`."""
        from tflite_bench import benchmark

        return benchmark.measure(
            model, num_threads=self.threads, warmup=self.warmup, runs=self.runs, clock=self.clock
        )

    def measure_many(self, models: Sequence[str | os.PathLike[str]]) -> list[LatencyStats]:
        """The .tflite files at `models`, interleaved in one process (one model: `measure`)."""
        from tflite_bench import benchmark

        paths = [os.fspath(model) for model in models]
        if len(paths) == 1:
            return [self.measure(paths[0])]
        per_round = self.runs_per_round or (5 if self.runs >= 5 else self.runs)
        rounds = self.rounds or max(1, self.runs // 5)
        result = benchmark.measure_interleaved(
            paths,
            rounds=rounds,
            runs_per_round=per_round,
            num_threads=self.threads,
            warmup=self.warmup,
            clock=self.clock,
        )
        return [result[path] for path in paths]

    def metadata(self) -> dict[str, Any]:
        """The host (CPU model, cores), runtime and its version, threads, runs and clock."""
        from tflite_bench import benchmark

        return {
            **benchmark.host_metadata(self.threads),
            "warmup": self.warmup,
            "runs": self.runs,
            "clock": self.clock,
        }


@dataclasses.dataclass(frozen=True)
class AdbBackend:
    """An Android device over adb, timed by the TFLite `benchmark_model` binary built for it."""

    benchmark_model: str
    adb_path: str | None = None
    serial: str | None = None
    threads: int = 1
    warmup: int = 10
    runs: int = 50
    use_xnnpack: bool = True
    taskset_mask: str | None = None
    name: str = dataclasses.field(default="adb", init=False)

    def __post_init__(self) -> None:
        if not self.benchmark_model:
            raise ValueError(
                "the adb backend needs benchmark_model (--benchmark_model=PATH): a "
                "benchmark_model binary built for the device"
            )
        _check_int("threads", self.threads, 1)
        _check_int("warmup", self.warmup, 0)
        _check_int("runs", self.runs, 1)

    def measure(self, model: str | os.PathLike[str]) -> LatencyStats:
        """Pushes `benchmark_model` and the .tflite at `model` to the device and times it."""
        from tflite_bench import adb

        return adb.measure(
            model,
            benchmark_model=self.benchmark_model,
            adb_path=self.adb_path,
            serial=self.serial,
            num_threads=self.threads,
            runs=self.runs,
            warmup=self.warmup,
            use_xnnpack=self.use_xnnpack,
            taskset_mask=self.taskset_mask,
        )

    def measure_many(self, models: Sequence[str | os.PathLike[str]]) -> list[LatencyStats]:
        """The models one after another (benchmark_model times one model per run)."""
        return [self.measure(model) for model in models]

    def check_ready(self) -> str:
        """Everything a measurement needs but the model, checked now: the benchmark_model file,
        the taskset mask, adb, and one ready device; returns its serial. `adb.AdbError` (or
        ValueError for the mask) saying what to do."""
        from tflite_bench import adb

        if not os.path.isfile(self.benchmark_model):
            raise adb.AdbError(
                f"benchmark_model binary not found: {self.benchmark_model} (--benchmark_model); "
                "download the prebuilt android_aarch64_benchmark_model from the TFLite "
                "performance docs and pass its path"
            )
        adb.check_mask(self.taskset_mask)
        return adb.pick_device(adb.find_adb(self.adb_path), self.serial)

    def metadata(self) -> dict[str, Any]:
        """The device (model, SoC, ABI), threads, runs and benchmark_model flags."""
        from tflite_bench import adb
        from tflite_bench.benchmark import sha256_of

        tool = adb.find_adb(self.adb_path)
        device = adb.pick_device(tool, self.serial)
        return {
            "backend": "adb",
            "device": adb.device_info(tool, device),
            "num_threads": self.threads,
            "runs": self.runs,
            "warmup": self.warmup,
            "use_xnnpack": self.use_xnnpack,
            "taskset_mask": self.taskset_mask,
            "runtime": "benchmark_model",
            "benchmark_model_sha256": (
                sha256_of(self.benchmark_model) if os.path.isfile(self.benchmark_model) else None
            ),
        }


def make_backend(name: str, **options: Any) -> LocalBackend | AdbBackend:
    """The device backend called `name` ('local' or 'adb') with `options` (its fields); backends
    that are not devices (latency tables) are made by the layer that knows them."""
    if name == "local":
        kinds = LocalBackend
    elif name == "adb":
        kinds = AdbBackend
    else:
        raise ValueError(f"device latency backend must be one of {DEVICE_BACKENDS}; got {name!r}")
    known = {field.name for field in dataclasses.fields(kinds) if field.init}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(
            f"unknown options {unknown} for the {name!r} backend; known: {sorted(known)}"
        )
    return kinds(**options)


__all__ = [
    "DEVICE_BACKENDS",
    "AdbBackend",
    "LatencyBackend",
    "LocalBackend",
    "device_fingerprint",
    "make_backend",
    "runtime_id",
]
