"""Tests for tflite_bench.runtime: loading errors always name the path and never crash; `run`
handles batches and int8 input quantization."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tflite_bench import runtime


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory):
    """(float .tflite path, int8-io .tflite path, keras model) of a tiny conv net."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from tflite_bench import convert

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(5)(x), name="tiny")
    folder = tmp_path_factory.mktemp("runtime")
    images = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype(np.float32)
    float_path = convert.convert(model, output_path=folder / "float.tflite").path
    int8_path = convert.convert(
        model,
        quantization="int8",
        representative_data=images,
        int8_io=True,
        output_path=folder / "int8.tflite",
    ).path
    return float_path, int8_path, model


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "missing.tflite"
    with pytest.raises(FileNotFoundError, match=str(path)):
        runtime.load_interpreter(path)


def test_empty_file_names_the_path(tmp_path):
    path = tmp_path / "empty.tflite"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=f"empty.*{path}"):
        runtime.load_interpreter(path)


def test_directory_names_the_path(tmp_path):
    with pytest.raises(ValueError, match=f"directory.*{tmp_path}"):
        runtime.load_interpreter(tmp_path)


@pytest.mark.parametrize(
    "content",
    [b"hello world, not a model", bytes(range(256)) * 20, b"\x18\x00\x00\x00TFL3" + bytes(64)],
    ids=["text", "random", "header-only"],
)
def test_corrupt_file_names_the_path(tmp_path, content):
    path = tmp_path / "corrupt.tflite"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=str(path)):
        runtime.load_interpreter(path)


def test_truncated_model_names_the_path(tiny_tflite, tmp_path):
    content = open(tiny_tflite[0], "rb").read()
    for fraction in (0.1, 0.5, 0.9):
        path = tmp_path / f"truncated{fraction}.tflite"
        path.write_bytes(content[: int(len(content) * fraction)])
        with pytest.raises(ValueError, match=str(path)):
            runtime.load_interpreter(path)


def test_bad_num_threads(tiny_tflite):
    with pytest.raises(ValueError, match="num_threads.*0"):
        runtime.load_interpreter(tiny_tflite[0], num_threads=0)


def test_run_float_batch_matches_keras(tiny_tflite):
    float_path, _, model = tiny_tflite
    images = np.random.default_rng(1).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    interpreter = runtime.load_interpreter(float_path, num_threads=2)
    assert runtime.input_shape(interpreter) == (1, 32, 32, 3)
    got = runtime.run(interpreter, images)
    np.testing.assert_allclose(got, model(images, training=False), rtol=1e-4, atol=1e-4)
    assert runtime.run(interpreter, images[0]).shape == (1, 5)
    with pytest.raises(ValueError, match=r"\(2, 16, 16, 3\)"):
        runtime.run(interpreter, images[:2, :16, :16])


def test_run_quantizes_int8_inputs(tiny_tflite):
    _, int8_path, model = tiny_tflite
    interpreter = runtime.load_interpreter(int8_path, use_xnnpack=False)
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    images = np.random.default_rng(2).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    got = runtime.run(interpreter, images)
    assert got.dtype == np.float32
    expected = np.asarray(model(images, training=False))
    assert np.max(np.abs(got - expected)) < 0.1 * (np.max(np.abs(expected)) + 1e-3) + 0.05


def test_quantize_clips_to_the_dtype_range():
    detail = {"dtype": np.int8, "quantization": (1.0, -128)}
    np.testing.assert_array_equal(
        runtime.quantize(np.array([0.0, 255.0, 400.0, -5.0]), detail), [-128, 127, 127, -128]
    )
    assert runtime.dequantize(np.array([-128, 127], np.int8), detail).tolist() == [0.0, 255.0]


@pytest.mark.slow
def test_a_model_xnnpack_would_abort_on_runs_on_the_builtin_kernels():
    """tests/data/collapsed_se_int8.tflite is a real int8 export of a model whose SE ReLU died in
    training (scale ~1e-8): delegating it to XNNPACK aborts LiteRT 2.3 ('double free'). It must
    load with a warning naming the layer and run (a subprocess keeps an abort from killing
    pytest)."""
    import subprocess
    import sys

    path = os.path.join(os.path.dirname(__file__), "data", "collapsed_se_int8.tflite")
    code = (
        "import numpy as np\n"
        "from tflite_bench import runtime\n"
        f"it = runtime.load_interpreter({path!r})\n"
        "print(runtime.xnnpack_rejections(it))\n"
        "shape = runtime.input_shape(it)\n"
        "out = runtime.run(it, np.full(shape, 128.0, np.float32))\n"
        "print('ran', out.shape)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ran (1, 10)" in result.stdout
    assert "block4a_se_reduce" in result.stdout
    assert "XNNPACK cannot take" in result.stderr
