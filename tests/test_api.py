"""The Python API in-process: `from search import SearchConfig, run_search`, the `SearchResult`,
a progress callback, and keras-tuner's conventions on the tuner (get_best_hyperparameters mapped
back by the space, hypermodel.build, get_best_models with the kept and a retrained model,
results_summary)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_the_api_imports_no_tensorflow():
    code = (
        "import sys\n"
        "from search import SearchConfig, run_search\n"
        "SearchConfig(max_trials=3)\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'keras_tuner') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr[-2000:]


def test_a_bad_config_names_the_value():
    from search import SearchConfig

    with pytest.raises(ValueError, match="--max_trials must be an integer >= 1; got 0"):
        SearchConfig(max_trials=0)


@pytest.mark.slow
def test_run_search_in_process_and_keras_tuner_conventions(tmp_path, capsys):
    import keras

    from mnasnet_tf import arch_string
    from search import SearchConfig, run_search

    config = SearchConfig(
        dataset="digits",
        max_trials=2,
        epochs_per_trial=1,
        steps_per_epoch=2,
        latency_image_size=32,
        latency_runs=3,
        latency_target_ms=1.0,
        references=(),
        train_verbose=0,
        export=False,
        recycle_every=0,
        log_estimate=False,
        directory=str(tmp_path),
        project_name="api",
    )
    seen = []
    result = run_search(config, on_trial=lambda record, records: seen.append(record["trial"]))
    assert result.role is None and result.target_ms == 1.0
    assert len(seen) == 2 and [r["trial"] for r in result.records] == seen
    assert result.best is not None and result.paths["summary"].endswith("summary.json")

    tuner = result.tuner
    hps = tuner.get_best_hyperparameters(2)
    assert len(hps) == 2
    best_arch = tuner.space.from_hyperparameters(hps[0].values)
    assert arch_string.encode(best_arch) == result.best["arch"]
    assert tuner.get_best_architectures(1) == [best_arch]
    untrained = tuner.hypermodel.build(hps[0])
    assert untrained.input_shape == (None, 32, 32, 3) and untrained.output_shape == (None, 10)

    models = tuner.get_best_models(2)  # the kept best, and the second retrained
    assert all(isinstance(model, keras.Model) for model in models)
    assert [model.output_shape for model in models] == [(None, 10)] * 2

    tuner.results_summary(2)
    out = capsys.readouterr().out
    assert result.best["arch"] in out and "reward" in out
