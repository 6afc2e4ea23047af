"""Fakes for latency tests: a device backend that times nothing, and a latency meter for tuner
tests (no model is converted)."""

from __future__ import annotations

import os

from tflite_bench.benchmark import LatencyStats


class FakeBackend:
    """A device backend whose latency is the file size in MB; raises KeyboardInterrupt after
    `fail_after` calls, as a user pressing Ctrl-C would."""

    name = "fake"

    def __init__(self, calls: list[str], *, fail_after: int | None = None, backend="fake"):
        self.calls, self.fail_after, self.backend = calls, fail_after, backend

    def measure(self, path: str) -> LatencyStats:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt
        self.calls.append(path)
        return LatencyStats.from_samples(
            [os.path.getsize(path) / 1e6], {"backend": self.backend, "model_path": path}
        )

    def measure_many(self, paths):
        return [self.measure(path) for path in paths]

    def metadata(self):
        return {"backend": self.backend}


def fake_measure(calls: list[str], *, fail_after: int | None = None, backend: str = "fake"):
    """A FakeBackend recording the measured paths in `calls`."""
    return FakeBackend(calls, fail_after=fail_after, backend=backend)


class FakeMeter:
    """A `LatencyMeter` stand-in: every architecture takes 8 ms (with `vary`, 8 ms plus the
    number of models submitted so far); `submitted` lists the names."""

    image_size = 224

    def __init__(self, *, vary: bool = False):
        self.submitted: list[str | None] = []
        self.vary = vary

    def submit(self, arch, name=None):
        self.submitted.append(name)
        median = 8.0 + (len(self.submitted) if self.vary else 0.0)

        class Pending:
            predicted_ms = None

            def result(self, measure=None):
                return LatencyStats(
                    min_ms=7.0,
                    median_ms=median,
                    mean_ms=median,
                    p90_ms=9.0,
                    std_ms=0.5,
                    n=30,
                    metadata={"source": "measured"},
                )

            def cancel(self):
                pass

        return Pending()

    @staticmethod
    def figure(stats: LatencyStats) -> float:
        return stats.median_ms

    @staticmethod
    def provenance() -> dict:
        return {"latency_backend": "fake", "latency_device": "host fake"}
