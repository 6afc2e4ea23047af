"""Tests for tflite_bench.benchmark: LatencyStats arithmetic and JSON round trip, local
measurement and interleaved measurement (counts and metadata; never timings)."""

from __future__ import annotations

import json
import os

import pytest

from tflite_bench import benchmark


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    """Paths of two tiny .tflite models of different sizes."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from tflite_bench import convert

    folder = tmp_path_factory.mktemp("bench")
    paths = []
    for filters in (4, 16):
        inputs = keras.Input((32, 32, 3))
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        model = keras.Model(inputs, keras.layers.Dense(3)(x), name=f"net{filters}")
        paths.append(convert.convert(model, output_path=folder / f"net{filters}.tflite").path)
    return paths


def test_stats_from_samples():
    stats = benchmark.LatencyStats.from_samples([4.0, 1.0, 3.0, 2.0, 10.0], {"backend": "x"})
    assert (stats.min_ms, stats.median_ms, stats.mean_ms, stats.n) == (1.0, 3.0, 4.0, 5)
    assert stats.p90_ms == pytest.approx(7.6)
    assert stats.std_ms == pytest.approx(3.162277, rel=1e-5)
    assert stats.latency_ms == 3.0
    with pytest.raises(ValueError, match="at least one sample"):
        benchmark.LatencyStats.from_samples([])


def test_stats_json_round_trip():
    stats = benchmark.LatencyStats.from_samples([1.5, 2.5], {"cpu_model": "x", "input_shape": [1]})
    data = json.loads(json.dumps(stats.to_dict()))
    assert benchmark.LatencyStats.from_dict(data) == stats
    with pytest.raises(ValueError, match="bogus"):
        benchmark.LatencyStats.from_dict({**data, "bogus": 1})


def test_measure_counts_and_metadata(two_models):
    stats = benchmark.measure(two_models[0], num_threads=1, warmup=2, runs=7)
    assert stats.n == 7 and 0 < stats.min_ms <= stats.median_ms <= stats.p90_ms
    meta = stats.metadata
    assert meta["backend"] == "local" and meta["num_threads"] == 1
    assert meta["runtime"] == "ai-edge-litert" and meta["runtime_version"]
    assert meta["model_sha256"] == benchmark.sha256_of(two_models[0])
    assert meta["input_shape"] == [1, 32, 32, 3] and meta["cpu_count"] >= 1
    assert meta["cpu_model"] and meta["timestamp"]
    json.dumps(stats.to_dict())


def test_measure_interleaved(two_models):
    result = benchmark.measure_interleaved(two_models, rounds=3, runs_per_round=2, warmup=1)
    assert list(result) == two_models
    for stats in result.values():
        assert stats.n == 6 and stats.metadata["interleaved_with"] == 2
    assert "net16.tflite" in benchmark.summarize(result)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"runs": 0}, "runs.*0"), ({"warmup": -1}, "warmup.*-1"), ({"num_threads": 0}, "threads")],
)
def test_bad_counts_name_the_value(two_models, kwargs, message):
    with pytest.raises(ValueError, match=message):
        benchmark.measure(two_models[0], **kwargs)


def test_interleaved_refuses_duplicates_and_missing(two_models, tmp_path):
    with pytest.raises(ValueError, match="repeated"):
        benchmark.measure_interleaved([two_models[0], two_models[0]])
    with pytest.raises(FileNotFoundError, match="gone.tflite"):
        benchmark.measure_interleaved([two_models[0], tmp_path / "gone.tflite"])
