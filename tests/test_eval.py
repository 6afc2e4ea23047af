"""Tests for mnasnet_tf/eval.py: top-1/top-5 arithmetic, loading .keras/.tflite files with errors
that name the path, evaluating saved files on a split, and the mnasnet-eval binary."""

from __future__ import annotations

import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

from mnasnet_tf import eval as eval_lib


class _Fixed:
    """A 'model' returning fixed scores row by row, whatever the images."""

    def __init__(self, scores):
        self.scores, self.at = np.asarray(scores, np.float32), 0

    def __call__(self, images, training=False):
        rows = self.scores[self.at : self.at + len(images)]
        self.at += len(images)
        return rows


def _batches(labels, batch):
    images = np.zeros((len(labels), 4, 4, 3), np.float32)
    return tf.data.Dataset.from_tensor_slices((images, np.asarray(labels, np.int32))).batch(batch)


def test_top1_and_top5_are_counted_exactly():
    scores = np.tile(np.arange(10, dtype=np.float32), (4, 1))  # class 9 best, then 8, 7, ...
    accuracy = eval_lib.evaluate_keras(_Fixed(scores), _batches([9, 5, 4, 0], batch=3))
    assert (accuracy.top1, accuracy.top5, accuracy.num_examples) == (0.25, 0.5, 4)
    assert "top-1 25.0%, top-5 50.0% on 4 images" in accuracy.describe()


def test_max_examples_and_few_classes():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    accuracy = eval_lib.evaluate_keras(_Fixed(scores), _batches([0, 1, 1], 2), max_examples=2)
    assert (accuracy.top1, accuracy.top5, accuracy.num_examples) == (1.0, None, 2)


def test_labels_beyond_the_outputs_are_refused():
    with pytest.raises(ValueError, match="has 2 outputs but the data has label 7"):
        eval_lib.evaluate_keras(_Fixed(np.ones((2, 2))), _batches([7, 0], 2))


@pytest.mark.parametrize(
    ("name", "content", "error", "match"),
    [
        ("missing.keras", None, FileNotFoundError, "model file not found"),
        ("corrupt.keras", b"not a zip archive", ValueError, "cannot load Keras model"),
        ("empty.keras", b"", ValueError, "cannot load Keras model"),
        ("corrupt.tflite", b"\x00" * 64, ValueError, "corrupt.tflite"),
        ("model.onnx", b"whatever", ValueError, "expected a .keras or .h5"),
    ],
)
def test_bad_model_files_name_the_path(tmp_path, name, content, error, match):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=match) as raised:
        eval_lib.load_model(path)
    assert str(path) in str(raised.value)


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """A small classifier for 10 classes at 32², saved as .keras and float32 .tflite."""
    from tflite_bench import convert

    folder = tmp_path_factory.mktemp("models")
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.save(folder / "model.keras")
    convert.convert(model, quantization="float32", output_path=folder / "model.tflite")
    return folder


def test_keras_and_tflite_files_score_alike_on_a_split(saved_models):
    keras_acc = eval_lib.evaluate(saved_models / "model.keras", dataset="digits", split="test")
    tflite_acc = eval_lib.evaluate(saved_models / "model.tflite", dataset="digits", split="test")
    assert keras_acc.num_examples == tflite_acc.num_examples == 360
    assert abs(keras_acc.top1 - tflite_acc.top1) <= 1 / 360
    assert abs(keras_acc.top5 - tflite_acc.top5) <= 1 / 360


def test_image_size_must_match_the_model(saved_models):
    with pytest.raises(ValueError, match="takes 32×32 images; got image_size=64"):
        eval_lib.evaluate(saved_models / "model.keras", dataset="digits", image_size=64)


@pytest.mark.slow
def test_binary_prints_accuracy_and_fails_clearly(saved_models, tmp_path):
    command = [sys.executable, "-m", "search.cli.mnasnet_eval"]
    command += ["--dataset=digits", "--split=validation"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    ok = subprocess.run(
        command + [f"--model_path={saved_models / 'model.tflite'}", "--max_examples=50"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "top-1" in ok.stdout and "on 50 images" in ok.stdout
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"garbage")
    failed = subprocess.run(
        command + [f"--model_path={bad}"], capture_output=True, text=True, env=env, check=False
    )
    assert failed.returncode != 0
    assert f"cannot load Keras model {bad}" in failed.stderr
