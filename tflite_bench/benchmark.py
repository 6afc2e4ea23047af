"""Local latency measurement of .tflite models, and `LatencyStats`, the latency currency.

Owns `LatencyStats` (min / median / mean / p90 / std in ms, sample count, JSON-ready metadata:
CPU, cores, threads, runtime and version, model sha256, input shape, timestamp) shared by every
latency source (local, adb, predictor), and the host measurement: `measure` for one model and
`measure_interleaved` for several, round-robin in one process, so that the drift of a noisy
machine hits all of them alike. Compare models only from one interleaved run.

Imports nothing from the project.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import platform
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tflite_bench import runtime


@dataclasses.dataclass(frozen=True)
class LatencyStats:
    """Latency of one model on one backend, in milliseconds.

    Fields a source does not report are None (benchmark_model prints no p90; older builds no
    median). `metadata` is a JSON-serializable dict describing the backend and the model.
    """

    min_ms: float
    median_ms: float | None
    mean_ms: float
    p90_ms: float | None
    std_ms: float
    n: int
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def latency_ms(self) -> float:
        """The figure to compare models by: the median, else the mean."""
        return self.median_ms if self.median_ms is not None else self.mean_ms

    @classmethod
    def from_samples(
        cls, samples_ms: Sequence[float], metadata: Mapping[str, Any] | None = None
    ) -> LatencyStats:
        """Statistics of per-run latencies in ms (at least one)."""
        if len(samples_ms) == 0:
            raise ValueError("LatencyStats needs at least one sample")
        values = np.asarray(samples_ms, dtype=np.float64)
        return cls(
            min_ms=float(values.min()),
            median_ms=float(np.median(values)),
            mean_ms=float(values.mean()),
            p90_ms=float(np.percentile(values, 90)),
            std_ms=float(values.std()),
            n=int(values.size),
            metadata=dict(metadata or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the inverse of `from_dict`)."""
        data = dataclasses.asdict(self)
        data["metadata"] = dict(self.metadata)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LatencyStats:
        """Reads what `to_dict` wrote."""
        fields = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ValueError(f"unknown LatencyStats keys {unknown}; expected {sorted(fields)}")
        return cls(**{**data, "metadata": dict(data.get("metadata") or {})})


def cpu_model() -> str:
    """The host CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def device_fingerprint(metadata: Mapping[str, Any]) -> str:
    """The device a latency was measured on, from a backend's metadata: the host CPU model and
    architecture ('host AMD EPYC x86_64'), or the Android model, SoC and ABI ('android Google
    Pixel 7 gs201 arm64-v8a'); a source that predicts rather than measures (a latency table)
    names in `built_on` the device its figures come from."""
    if "built_on" in metadata:
        built_on = metadata["built_on"]
        return built_on if isinstance(built_on, str) else "unknown"
    device = metadata.get("device")
    if isinstance(device, Mapping):
        soc = device.get("soc_model") or device.get("board_platform") or "unknown-soc"
        name = " ".join(
            str(value) for value in (device.get("manufacturer"), device.get("model")) if value
        )
        return f"android {name or 'unknown'} {soc} {device.get('abi') or 'unknown-abi'}"
    return f"host {metadata.get('cpu_model', 'unknown')} {metadata.get('machine', 'unknown')}"


def runtime_id(metadata: Mapping[str, Any]) -> str:
    """The runtime and its version, from a backend's metadata ('ai-edge-litert 2.1.0', or
    'benchmark_model sha256:…' for adb, whose binary is its version)."""
    runtime = metadata.get("runtime", "unknown")
    if metadata.get("benchmark_model_sha256"):
        return f"{runtime} sha256:{str(metadata['benchmark_model_sha256'])[:16]}"
    return f"{runtime} {metadata.get('runtime_version', 'unknown')}"


def host_metadata(num_threads: int) -> dict[str, Any]:
    """Backend metadata of the local LiteRT runtime."""
    return {
        "backend": "local",
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "system": platform.platform(),
        "num_threads": num_threads,
        "runtime": runtime.RUNTIME_NAME,
        "runtime_version": runtime.runtime_version(),
        "delegate": "XNNPACK (default)",
        "device_fingerprint": f"host {cpu_model()} {platform.machine()}",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        minimum = 0 if name == "warmup" else 1
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")


CLOCKS = ("wall", "thread_cpu")
"""'wall': elapsed time (what a user waits). 'thread_cpu': CPU time of the invoking thread, which
equals wall time on an idle core but ignores time the OS gave to other processes — the robust
choice on a shared machine; valid only with num_threads=1 (XNNPACK then runs on that thread)."""


def _check_clock(clock: str, num_threads: int) -> None:
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {CLOCKS}; got {clock!r}")
    if clock == "thread_cpu" and num_threads != 1:
        raise ValueError(
            f"clock='thread_cpu' needs num_threads=1 (worker threads are not counted); "
            f"got num_threads={num_threads}"
        )


class _Loaded:
    """An interpreter with its input set to fixed random images, ready to time `invoke`."""

    def __init__(self, path: str, num_threads: int, seed: int) -> None:
        self.path = path
        self.interpreter = runtime.load_interpreter(path, num_threads=num_threads)
        detail = self.interpreter.get_input_details()[0]
        self.shape = tuple(int(dim) for dim in detail["shape"])
        images = np.random.default_rng(seed).uniform(0, 255, self.shape).astype(np.float32)
        self.interpreter.set_tensor(detail["index"], runtime.quantize(images, detail))
        self.input_dtype = np.dtype(detail["dtype"]).name
        self.samples: dict[str, list[float]] = {clock: [] for clock in CLOCKS}

    def time_runs(self, runs: int, *, record: bool = True) -> None:
        invoke = self.interpreter.invoke
        wall, cpu = time.perf_counter_ns, time.thread_time_ns
        for _ in range(runs):
            start_wall, start_cpu = wall(), cpu()
            invoke()
            end_cpu, end_wall = cpu(), wall()
            if record:
                self.samples["wall"].append((end_wall - start_wall) / 1e6)
                self.samples["thread_cpu"].append((end_cpu - start_cpu) / 1e6)

    def stats(self, metadata: dict[str, Any], clock: str) -> LatencyStats:
        other = "wall" if clock == "thread_cpu" else "thread_cpu"
        other_samples = np.asarray(self.samples[other])
        return LatencyStats.from_samples(
            self.samples[clock],
            {
                **metadata,
                "clock": clock,
                f"{other}_min_ms": float(other_samples.min()),
                f"{other}_median_ms": float(np.median(other_samples)),
                "model_path": self.path,
                "model_sha256": sha256_of(self.path),
                "input_shape": list(self.shape),
                "input_dtype": self.input_dtype,
            },
        )


def measure(
    model_path: str | os.PathLike[str],
    *,
    num_threads: int = 1,
    warmup: int = 10,
    runs: int = 50,
    clock: str = "wall",
    seed: int = 0,
) -> LatencyStats:
    """Latency of one .tflite on this host: `warmup` untimed invocations, then `runs` timed ones
    on a fixed random input, timed by `clock` (see CLOCKS; the metadata also holds the other
    clock's min and median). For comparing models use `measure_interleaved`."""
    _check_counts(num_threads=num_threads, warmup=warmup, runs=runs)
    _check_clock(clock, num_threads)
    loaded = _Loaded(os.fspath(model_path), num_threads, seed)
    loaded.time_runs(warmup, record=False)
    loaded.time_runs(runs)
    return loaded.stats({**host_metadata(num_threads), "warmup": warmup, "runs": runs}, clock)


def measure_interleaved(
    model_paths: Sequence[str | os.PathLike[str]],
    *,
    rounds: int = 10,
    runs_per_round: int = 5,
    num_threads: int = 1,
    warmup: int = 10,
    clock: str = "wall",
    seed: int = 0,
) -> dict[str, LatencyStats]:
    """Latencies of several .tflite models measured round-robin in one process: all are loaded,
    warmed up, then each round times `runs_per_round` invocations of every model in turn (order
    rotating per round). Returns {path: LatencyStats} with `rounds * runs_per_round` samples each,
    timed by `clock`.
    """
    _check_counts(
        rounds=rounds, runs_per_round=runs_per_round, num_threads=num_threads, warmup=warmup
    )
    _check_clock(clock, num_threads)
    paths = [os.fspath(path) for path in model_paths]
    if not paths:
        raise ValueError("measure_interleaved needs at least one model path")
    duplicates = sorted({path for path in paths if paths.count(path) > 1})
    if duplicates:
        raise ValueError(f"model paths must be distinct; repeated: {duplicates}")
    loaded = [_Loaded(path, num_threads, seed) for path in paths]
    for model in loaded:
        model.time_runs(warmup, record=False)
    for round_index in range(rounds):
        shift = round_index % len(loaded)
        for model in loaded[shift:] + loaded[:shift]:
            model.time_runs(runs_per_round)
    metadata = {
        **host_metadata(num_threads),
        "warmup": warmup,
        "rounds": rounds,
        "runs_per_round": runs_per_round,
        "interleaved_with": len(paths),
    }
    return {model.path: model.stats(metadata, clock) for model in loaded}


def summarize(stats: Mapping[str, LatencyStats]) -> str:
    """A short fixed-width table of min / median / mean / p90 per model."""
    width = max([len("model"), *(len(name) for name in stats)])
    lines = [f"{'model':<{width}}  {'min ms':>8}  {'median':>8}  {'mean':>8}  {'p90':>8}  n"]
    for name, item in stats.items():

        def cell(value: float | None) -> str:
            return f"{value:8.3f}" if value is not None else f"{'-':>8}"

        lines.append(
            f"{name:<{width}}  {cell(item.min_ms)}  {cell(item.median_ms)}  "
            f"{cell(item.mean_ms)}  {cell(item.p90_ms)}  {item.n}"
        )
    return "\n".join(lines)


__all__ = [
    "CLOCKS",
    "LatencyStats",
    "cpu_model",
    "device_fingerprint",
    "host_metadata",
    "measure",
    "measure_interleaved",
    "runtime_id",
    "sha256_of",
    "summarize",
]
