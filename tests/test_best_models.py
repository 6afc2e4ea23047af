"""The best trained model of a search: which process keeps and deletes model.keras files, and the
check of the exported .tflite files.

A single process keeps only the best trial's model; a worker of a distributed search saves its
own best but never deletes another trial's file (another worker's may be the best of all); the
chief, which knows the best trial at the end, keeps only that one and exports it. Proxy training
and latency are faked in the fast tests; the slow ones convert real models. A chief and two
workers on loopback are run in tests/test_search.py.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from latency_fakes import FakeMeter

from search.controllers.reward import soft
from search.multitrial import tuner as tuner_module
from search.multitrial.oracle import MnasOracle
from search.proxy import worker as proxy_worker
from search.proxy.task import FixedData, ProxyOutcome, ProxyTask
from search.results.export_check import ExportCheck, check_exports, train_command
from search.spaces.registry import get_space

SPACE = get_space("mnasnet")
REWARD = soft(target_ms=10.0)


class FakeModel:
    def save(self, path):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("model")


@pytest.fixture
def accuracies(monkeypatch):
    """Replaces proxy training: the n-th run scores the n-th accuracy of the list it holds."""
    scores: list[float] = []

    def fake_run_proxy(arch, *, task, data, search_seed, callbacks=(), keep_model=False):
        accuracy = scores.pop(0)
        outcome = ProxyOutcome(accuracy, 0.0, (accuracy,), (0,), 1.0, False, task.epochs)
        return outcome, FakeModel()

    monkeypatch.setattr(proxy_worker, "run_proxy", fake_run_proxy)
    return scores


def _tuner(directory, max_trials: int):
    oracle = MnasOracle(SPACE, reward=REWARD, max_trials=max_trials, seed=0)
    return tuner_module.MnasTuner(
        oracle,
        space=SPACE,
        reward=REWARD,
        proxy=ProxyTask(image_size=32, epochs=1, classes=10),
        meter=FakeMeter(),
        directory=str(directory),
        project_name="search",
        write_reports=False,
    )


def _kept(directory) -> list[str]:
    project = os.path.join(directory, "search")
    return sorted(
        name
        for name in os.listdir(project)
        if os.path.exists(os.path.join(project, name, "model.keras"))
    )


def test_a_single_process_keeps_only_the_best_model(tmp_path, accuracies):
    accuracies.extend([0.5, 0.7, 0.6, 0.8, 0.4])
    tuner = _tuner(tmp_path, 5)
    assert not tuner.is_worker
    tuner.search(FixedData(None, None), verbose=0)  # training is faked: no data
    assert _kept(tmp_path) == ["trial_3"]
    assert tuner.keep_best_model() == tuner.model_path("3")


def test_a_worker_deletes_only_the_models_it_saved(tmp_path, accuracies):
    accuracies.extend([0.5, 0.7, 0.6])
    tuner = _tuner(tmp_path, 3)
    other = os.path.join(tmp_path, "search", "trial_9", "model.keras")  # another worker's
    os.makedirs(os.path.dirname(other))
    FakeModel().save(other)
    tuner.is_worker = True
    tuner.search(FixedData(None, None), verbose=0)  # training is faked: no data
    # Trial 1 replaced this worker's trial 0; trial 2 was worse; the other worker's is intact.
    assert _kept(tmp_path) == ["trial_1", "trial_9"]
    # The chief keeps only the best trial's model of all.
    chief = _tuner(tmp_path, 3)
    assert chief.keep_best_model() == chief.model_path("1")
    assert _kept(tmp_path) == ["trial_1"]


# ---- the check of the exported files ----


@pytest.mark.slow
def test_check_exports_evaluates_times_and_explains_each_file(tmp_path):
    import keras

    from tflite_bench import convert
    from tflite_bench.backends import LocalBackend

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(features))
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (20, 8, 8, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 20)
    exported = {}
    for quantization in ("float32", "int8"):
        exported[quantization] = str(tmp_path / f"best_model_{quantization}.tflite")
        convert.convert(
            model,
            quantization=quantization,
            representative_data=images if quantization == "int8" else None,
            output_path=exported[quantization],
        )
    command = train_command(
        "p/best_arch.json", dataset="digits", image_size=224, data_dir=None, export_dir="p/ship"
    )
    assert command == (
        "mnasnet-train --model=p/best_arch.json --dataset=digits --image_size=224 "
        "--export_dir=p/ship"
    )
    check = check_exports(
        exported,
        held_out=[(images[:10], labels[:10]), (images[10:], labels[10:])],
        trial="3",
        search_latency_ms=12.5,
        deployment_image_size=224,
        latency_backend="local",
        train_command=command,
        backend=LocalBackend(runs=3, warmup=1),
    )
    assert isinstance(check, ExportCheck) and check.examples == 20
    float32, int8 = check.files
    expected = np.argmax(np.asarray(model(images)), axis=1)
    assert float32.top1 == pytest.approx(np.mean(expected == labels))
    assert float32.agreement == 1.0 and 0.0 <= int8.agreement <= 1.0
    assert check.int8_agreement == int8.agreement
    assert (float32.input_size, int8.input_size) == (8, 8)
    assert float32.latency_ms > 0 and int8.latency_ms > 0
    note = check.note()
    assert "12.50 ms on local" in note and "224²" in note and "8²" in note
    assert note.endswith(command)
    data = json.loads(json.dumps(check.to_dict()))
    assert [f["quantization"] for f in data["files"]] == ["float32", "int8"]
    assert data["int8_float32_agreement"] == int8.agreement
    lines = check.lines()
    assert len(lines) == 4 and "same top-1 as float32" in lines[2] and lines[3] == note
