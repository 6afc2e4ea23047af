"""search/latency/meter.py: the measurement process, the cache and the pending-latency handle."""

from __future__ import annotations

import json
import os

import pytest

from mnasnet_tf import arch_string
from search.latency import meter as latency_meter
from tflite_bench.benchmark import LatencyStats

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
    stats = LatencyStats.from_samples([1.0, 1.5, 2.0], {"source": "measured"})
    path.write_text(json.dumps({key: stats.to_dict(), "old": {"median_ms": 1.5}}))
    meter = latency_meter.LatencyMeter(image_size=32, classes=10, cache_path=str(path))
    pending = meter.submit(TINY.replace(name="renamed"))
    latency = pending.result()
    assert latency.median_ms == 1.5 and latency.metadata == {"source": "measured", "cached": True}
    assert meter._executor is None  # no measurement process was started


def test_the_cache_key_holds_device_runtime_and_quantization(monkeypatch):
    """Another CPU, runtime version or quantization never reuses a cached figure."""
    from tflite_bench import benchmark, runtime

    def key(**changes):
        meter = latency_meter.LatencyMeter(image_size=32, classes=10, **changes)
        return meter._key(TINY)

    base = key()
    assert key(quantization="int8") != base
    monkeypatch.setattr(runtime, "runtime_version", lambda: "9.9.9")
    assert key() != base
    monkeypatch.undo()
    monkeypatch.setattr(benchmark, "cpu_model", lambda: "Another CPU")
    assert key() != base
    monkeypatch.undo()
    assert key() == base


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
        info = latency.metadata
        assert info["convert_seconds"] > 0 and info["measure_seconds"] > 0
        assert info["source"] == "measured" and "cached" not in info
        assert info["device_fingerprint"].startswith("host ") and info["runtime_version"]
        again = meter.measure(TINY)
        assert again.median_ms == latency.median_ms and again.metadata["cached"]
        assert "model_path" not in again.metadata
        assert len(json.loads(cache.read_text())) == 1
        workdir = meter._tmp
    # The model files are removed, and the folder with the process.
    assert workdir is not None and not os.path.exists(workdir)


@pytest.mark.slow
def test_hybrid_predicts_measures_some_learns_and_resumes(tmp_path, caplog):
    """The hybrid backend predicts every model, measures every `measure_every`-th one and those
    the caller asks for, refits on each measurement, logs its error, and keeps what it learnt
    in the project folder; a table from another device is refused."""
    import logging

    import numpy as np
    import toy_space

    from search.latency import build
    from search.latency.table import LatencyTable
    from tflite_bench.backends import LocalBackend

    space = toy_space.toy_space()
    rng = np.random.default_rng(0)
    archs = [space.to_arch(space.sample(rng)) for _ in range(5)]
    table_path = tmp_path / "table.json"
    build.build_table(
        archs,
        table_path,
        image_size=32,
        classes=10,
        backend=LocalBackend(warmup=1, runs=3, clock="thread_cpu"),
        progress=False,
    )
    options = dict(
        image_size=32,
        classes=10,
        runs=3,
        warmup=1,
        predictor_table=str(table_path),
        measure_every=3,
        state_dir=str(tmp_path),
        cache_path=str(tmp_path / "cache.json"),
    )
    caplog.set_level(logging.INFO)
    with latency_meter.LatencyMeter("hybrid", **options) as meter:
        assert meter.backend == "hybrid" and meter.device.name == "local"
        sources = []
        for index, arch in enumerate(archs):
            pending = meter.submit(arch)
            assert pending.predicted_ms > 0
            latency = pending.result(measure=True if index == 1 else None)
            sources.append(latency.metadata["source"])
            if latency.metadata["source"] == "measured":
                assert latency.metadata["predicted_ms"] == pending.predicted_ms
                assert latency.metadata["error_pct"] == pytest.approx(
                    100 * (pending.predicted_ms - latency.min_ms) / latency.min_ms
                )
        # trials 0 and 3 by the schedule, trial 1 asked for
        assert sources == ["measured", "measured", "predicted", "measured", "predicted"]
        assert len(meter.points) == 3 and len(meter.errors_pct) == 3
        assert meter.predictor.table.calibration is not None  # refitted in memory
        assert meter.provenance()["latency_device"].startswith("host ")
    assert "running MAPE" in caplog.text
    state = json.loads((tmp_path / latency_meter.HYBRID_STATE).read_text())
    assert len(state["points"]) == 3
    assert LatencyTable.load(table_path).calibration is None  # the user's table is not touched
    with latency_meter.LatencyMeter("hybrid", **options) as resumed:
        assert resumed.points == meter.points and resumed.errors_pct == meter.errors_pct
        assert resumed.submit(archs[0]).result().metadata["cached"]  # measured before
    other = LatencyTable.load(table_path)
    other.backend = {**other.backend, "cpu_model": "Another CPU"}
    other.save()
    with pytest.raises(ValueError, match="Another CPU.*allow_other_device"):
        latency_meter.LatencyMeter("hybrid", **options)
    latency_meter.LatencyMeter("hybrid", **options, allow_other_device=True).close()


@pytest.mark.slow
def test_the_int8_deployment_model_is_what_is_timed(tmp_path):
    from tflite_bench import convert

    path = str(tmp_path / "int8.tflite")
    latency_meter._convert_job(TINY, 32, 10, path, "int8")
    ops = convert.list_ops(path)
    assert "QUANTIZE" in ops and "CONV_2D" in ops
    float_path = str(tmp_path / "float.tflite")
    latency_meter._convert_job(TINY, 32, 10, float_path)
    assert "QUANTIZE" not in convert.list_ops(float_path)
