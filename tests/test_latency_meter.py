"""search/latency/meter.py: the measurement process, the cache and the pending-latency handle."""

from __future__ import annotations

import json
import os

import pytest

from mnasnet_tf import arch_string
from search.latency import meter as latency_meter

TINY = arch_string.decode("r1_k3_s22_e1_i16_o16:r1_k3_s22_e3_i16_o24")


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="'gpu'"):
        latency_meter.LatencyMeter("gpu")
    with pytest.raises(ValueError, match="predictor_table"):
        latency_meter.LatencyMeter("predictor")
    with pytest.raises(ValueError, match="max_jobs_per_process.*0"):
        latency_meter.LatencyMeter(max_jobs_per_process=0)


def test_a_cached_architecture_is_not_measured_again(tmp_path):
    path = tmp_path / "cache.json"
    meter = latency_meter.LatencyMeter(image_size=32, classes=10, cache_path=str(path))
    key = meter._key(TINY)
    path.write_text(json.dumps({key: {"median_ms": 1.5, "min_ms": 1.0, "p90_ms": 2.0}}))
    meter = latency_meter.LatencyMeter(image_size=32, classes=10, cache_path=str(path))
    pending = meter.submit(TINY.replace(name="renamed"))
    latency = pending.result()
    assert latency == latency_meter.Latency(1.5, 1.0, 2.0, cached=True)
    assert meter._executor is None  # no measurement process was started


@pytest.mark.slow
def test_the_measurement_process_converts_measures_and_caches(tmp_path):
    cache = tmp_path / "cache.json"
    with latency_meter.LatencyMeter(
        image_size=32, classes=10, runs=3, warmup=1, cache_path=str(cache)
    ) as meter:
        pending = meter.submit(TINY, name="tiny")
        abandoned = meter.submit(arch_string.decode("r1_k3_s22_e1_i16_o8"))
        abandoned.cancel()
        latency = pending.result()
        assert latency.median_ms > 0 and latency.min_ms <= latency.median_ms <= latency.p90_ms
        assert latency.convert_seconds > 0 and latency.measure_seconds > 0
        assert not latency.cached
        assert meter.measure(TINY) == latency.__class__(**{**latency.__dict__, "cached": True})
        assert len(json.loads(cache.read_text())) == 1
        workdir = meter._tmp
    # The model files are removed, and the folder with the process.
    assert workdir is not None and not os.path.exists(workdir)
