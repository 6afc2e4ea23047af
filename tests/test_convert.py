"""Tests for tflite_bench.convert: fast path == from_keras_model, quantization modes, refusal of
Flex ops, op listing, and every zoo model converting to TFLite builtins only."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

from tflite_bench import convert, runtime

SIZE = 64


def _images(count: int, size: int = SIZE, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (count, size, size, 3)).astype(np.float32)


def _randomize_batch_norm(model: keras.Model, seed: int = 0) -> keras.Model:
    """Random BN statistics, so outputs are far from the degenerate fresh-init values."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                    rng.normal(0, 0.1, beta.shape).astype(np.float32),
                    rng.normal(0, 0.1, mean.shape).astype(np.float32),
                    rng.uniform(0.5, 1.5, var.shape).astype(np.float32),
                ]
            )
    return model


@pytest.fixture(scope="module")
def tiny_model() -> keras.Model:
    """A tiny conv net taking float RGB 0-255, with Rescaling, BN, depthwise conv and softmax."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return _randomize_batch_norm(keras.Model(inputs, outputs, name="tiny"))


def test_bad_quantization_names_the_value(tiny_model):
    with pytest.raises(ValueError, match="'int4'"):
        convert.convert(tiny_model, quantization="int4")


def test_int8_needs_representative_data(tiny_model):
    with pytest.raises(ValueError, match="representative_data"):
        convert.convert(tiny_model, quantization="int8")


def test_int8_io_needs_int8(tiny_model):
    with pytest.raises(ValueError, match="int8_io"):
        convert.convert(tiny_model, quantization="float16", int8_io=True)


def test_unfixed_input_shape_is_refused():
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3)(inputs), name="dynamic")
    with pytest.raises(ValueError, match="fixed input shape"):
        convert.convert(model)


def test_list_ops_rejects_non_tflite(tmp_path):
    path = tmp_path / "model.tflite"
    path.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ValueError, match=str(path)):
        convert.list_ops(path)
    with pytest.raises(FileNotFoundError, match="missing.tflite"):
        convert.list_ops(tmp_path / "missing.tflite")


@pytest.mark.slow
def test_fast_path_writes_batch1_builtin_model(tiny_model, tmp_path):
    path = tmp_path / "sub" / "tiny.tflite"
    result = convert.convert(tiny_model, output_path=path)
    assert result.path == str(path) and path.read_bytes() == result.content
    assert result.input_shape == (1, SIZE, SIZE, 3)
    assert convert.list_ops(path) == list(result.ops)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= set(result.ops)
    assert convert.non_builtin_ops(result.ops) == []
    assert runtime.input_shape(runtime.load_interpreter(path)) == (1, SIZE, SIZE, 3)
    check = convert.parity(tiny_model, path, _images(4))
    assert check.n == 4 and check.top1_agreement == 1.0
    assert check.max_abs_diff < 1e-5


@pytest.mark.slow
def test_fast_path_equals_from_keras_model(tmp_path):
    model = _randomize_batch_norm(
        keras.applications.MobileNetV2(
            weights=None, alpha=0.35, input_shape=(SIZE, SIZE, 3), classes=10
        )
    )
    fast = convert.convert(model, output_path=tmp_path / "fast.tflite")
    slow = convert.convert(model, output_path=tmp_path / "slow.tflite", slow=True)
    assert fast.ops == slow.ops
    images = _images(3) / 127.5 - 1  # keras.applications MobileNetV2 takes [-1, 1]
    got_fast = runtime.run(runtime.load_interpreter(fast.path), images)
    got_slow = runtime.run(runtime.load_interpreter(slow.path), images)
    np.testing.assert_allclose(got_fast, got_slow, atol=1e-6)
    check = convert.parity(model, fast.path, images)
    assert np.isfinite(got_fast).all() and check.max_rel_diff < 1e-4
    assert check.top1_agreement == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["float16", "dynamic"])
def test_float16_and_dynamic(tiny_model, quantization):
    result = convert.convert(tiny_model, quantization=quantization)
    assert convert.non_builtin_ops(result.ops) == []
    check = convert.parity(tiny_model, result.content, _images(8))
    assert check.max_abs_diff < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("int8_io", [False, True])
def test_int8_with_representative_data(tiny_model, tmp_path, int8_io):
    result = convert.convert(
        tiny_model,
        quantization="int8",
        representative_data=_images(16, seed=1),
        int8_io=int8_io,
        output_path=tmp_path / "int8.tflite",
    )
    interpreter = runtime.load_interpreter(result.path)
    dtype = interpreter.get_input_details()[0]["dtype"]
    assert dtype == (np.int8 if int8_io else np.float32)
    assert "QUANTIZE" in result.ops or int8_io
    check = convert.parity(tiny_model, result.path, _images(16, seed=2))
    assert check.max_abs_diff < 0.1  # softmax probabilities, int8 activations


@pytest.mark.slow
def test_flex_ops_are_refused_with_their_names():
    inputs = keras.Input((4, 4, 3))
    outputs = keras.layers.Lambda(lambda t: tf.linalg.inv(t[..., :2, :2, 0]))(inputs)
    model = keras.Model(inputs, outputs, name="needs_flex")
    with pytest.raises(ValueError, match="MatrixInverse") as info:
        convert.convert(model)
    assert "needs_flex" in str(info.value) and "builtin" in str(info.value)


@pytest.mark.slow
def test_zoo_models_convert_to_builtins_only(zoo_name, tmp_path):
    from mnasnet_tf import zoo

    model = zoo.create_model(zoo_name, width=0.5, input_shape=(SIZE, SIZE, 3), classes=10)
    result = convert.convert(model, output_path=tmp_path / f"{zoo_name}.tflite")
    assert result.ops, zoo_name
    assert convert.non_builtin_ops(convert.list_ops(result.path)) == []
    output = runtime.run(runtime.load_interpreter(result.path), _images(1))
    assert output.shape == (1, 10) and np.isfinite(output).all()


def pytest_generate_tests(metafunc):
    """Parametrizes `zoo_name` over the zoo registry (one test per model)."""
    if "zoo_name" in metafunc.fixturenames:
        from mnasnet_tf import zoo

        metafunc.parametrize("zoo_name", zoo.list_models())
