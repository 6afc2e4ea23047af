"""Searches on a whole-space latency table (slow): `--backend=predictor` predicts every trial,
`--backend=hybrid` also measures some and says per trial in trials.csv whether its latency was
measured or predicted (with the prediction's error where both exist); every trial row carries the
device and runtime its latency depends on; a table for another resolution is refused before
anything trains."""

from __future__ import annotations

import csv
import json
import os

import pytest
import toy_space

from search.spaces import registry as space_registry

TRIALS = 4


@pytest.fixture(scope="module")
def toy_table(tmp_path_factory):
    """The small toy space registered, and a table covering it at 32² with 10 classes (built
    once for the module's tests: it takes a conversion per part)."""
    from search.latency import build
    from tflite_bench.backends import LocalBackend

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(space_registry.SPACES, "toy", toy_space.small_toy_space)
        path = tmp_path_factory.mktemp("table") / "toy_table.json"
        build.build_space_table(
            toy_space.small_toy_space(),
            path,
            image_size=32,
            classes=10,
            backend=LocalBackend(warmup=1, runs=2, clock="thread_cpu"),
            workers=0,
            progress=False,
        )
        yield str(path)


def _config(tmp_path, table: str, **changes):
    from search import SearchConfig

    fields = dict(
        dataset="digits",
        space="toy",
        max_trials=TRIALS,
        epochs_per_trial=1,
        steps_per_epoch=2,
        latency_image_size=32,
        latency_runs=2,
        latency_target_ms=1.0,
        predictor_table=table,
        references=(),
        train_verbose=0,
        export=False,
        recycle_every=0,
        log_estimate=False,
        directory=str(tmp_path / "runs"),
    )
    return SearchConfig(**{**fields, **changes})


def _rows(project_dir: str) -> list[dict[str, str]]:
    with open(os.path.join(project_dir, "trials.csv"), encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_predictor_and_hybrid_searches(tmp_path, toy_table):
    from search import run_search

    result = run_search(_config(tmp_path, toy_table, backend="predictor", project_name="pred"))
    rows = _rows(result.tuner.project_dir)
    assert len(rows) == TRIALS and {row["latency_source"] for row in rows} == {"predicted"}
    assert all(row["latency_device"].startswith("host ") for row in rows)
    assert {row["latency_backend"] for row in rows} == {"predictor"}

    config = _config(tmp_path, toy_table, backend="hybrid", measure_every=2, project_name="hyb")
    result = run_search(config)
    rows = _rows(result.tuner.project_dir)
    assert len(rows) == TRIALS
    sources = [row["latency_source"] for row in rows]
    assert sources[0] == "measured" and sources[2] == "measured"  # every 2nd, from the first
    for row in rows:
        assert row["latency_device"].startswith("host ") and row["latency_runtime"]
        assert row["latency_quantization"] == "float32" and row["latency_clock"] == "thread_cpu"
        if row["latency_source"] == "measured":
            assert float(row["latency_predicted_ms"]) > 0 and row["latency_error_pct"] != ""
        else:
            assert row["latency_error_pct"] == ""
    state = json.loads(open(os.path.join(config.project_dir, "hybrid_calibration.json")).read())
    assert len(state["errors_pct"]) == sources.count("measured")


@pytest.mark.slow
def test_a_table_for_another_resolution_is_refused_before_training(tmp_path, toy_table):
    from search.multitrial.run import SearchSetupError, run_search

    config = _config(tmp_path, toy_table, backend="hybrid", latency_image_size=64)
    with pytest.raises(SearchSetupError, match="covers toy@32x32/c10, not toy@64x64/c10"):
        run_search(config)
    assert not os.path.exists(config.project_dir)
