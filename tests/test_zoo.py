"""Tests for mnasnet_tf.zoo: the registry, `resolve_arch`, and (slow) every zoo model built,
saved and loaded, checked against keras.applications where Keras has the same network."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from mnasnet_tf import arch_string, specs, zoo

ZOO = zoo.list_models()
LAYER_NAME = re.compile(
    r"^(image|rescaling|stem_|block(\d+)[a-z]+_|head_|pre_logits_"
    r"|avg_pool$|max_pool$|top_dropout$|predictions$)"
)


def test_list_models():
    assert ZOO == [
        "mnasnet-a1",
        "mnasnet-b1",
        "mnasnet-small",
        "mnasnet-d1",
        "mnasnet-d1-320",
        "mobilenet-v2",
        "mobilenet-v3-large",
        "mobilenet-v3-small",
    ]


def test_reference_block_strings_are_verbatim():
    assert zoo.block_strings("mnasnet-a1") == (
        "r1_k3_s11_e1_i32_o16_noskip",
        "r2_k3_s22_e6_i16_o24",
        "r3_k5_s22_e3_i24_o40_se0.25",
        "r4_k3_s22_e6_i40_o80",
        "r2_k3_s11_e6_i80_o112_se0.25",
        "r3_k5_s22_e6_i112_o160_se0.25",
        "r1_k3_s11_e6_i160_o320",
    )


@pytest.mark.parametrize("name", ZOO)
def test_conventions(name):
    arch = zoo.get_arch(name)
    assert arch.name == name
    if name.startswith("mnasnet"):
        assert (arch.activation, arch.se_base, arch.se_divisor, arch.se_gate) == (
            "relu",
            "input",
            None,
            "sigmoid",
        )
        assert (arch.head_filters, arch.head_scaling, arch.round_expanded) == (1280, "fixed", False)
        assert arch.dropout_rate == (0.0 if name == "mnasnet-small" else 0.2)
    elif name.startswith("mobilenet-v3"):
        assert (arch.activation, arch.se_base, arch.se_divisor, arch.se_gate) == (
            "hswish",
            "expanded",
            8,
            "hard_sigmoid",
        )
        assert arch.stem_filters == 16 and arch.round_expanded


def test_get_arch_scales_and_names():
    arch = zoo.get_arch("mobilenet-v2", width=1.4, depth=2)
    assert arch.name == "mobilenet-v2_w1.4_d2"
    assert arch.stem_filters == 48 and arch.head_filters == 1792
    assert arch.blocks[0].num_repeat == 2


def test_get_arch_rejects_unknown_name_listing_the_zoo():
    with pytest.raises(ValueError) as error:
        zoo.get_arch("mnasnet-a2")
    assert "'mnasnet-a2'" in str(error.value) and str(ZOO) in str(error.value)
    with pytest.raises(ValueError, match="'resnet'"):
        zoo.block_strings("resnet")


def test_resolve_arch_accepts_name_string_and_json(tmp_path):
    assert zoo.resolve_arch("mnasnet-a1") == zoo.get_arch("mnasnet-a1")
    assert zoo.resolve_arch(" mnasnet-a1 ", width=0.5) == zoo.get_arch("mnasnet-a1", width=0.5)
    string = "r1_k3_s11_e1_o16:r2_k3_s22_e6_o24_se0.25"
    assert zoo.resolve_arch(string) == arch_string.decode(string)
    scaled = zoo.resolve_arch(string, width=2.0)
    assert [b.output_filters for b in scaled.blocks] == [32, 48] and scaled.name == "custom_w2"
    path = tmp_path / "best.json"
    arch = zoo.get_arch("mobilenet-v3-small").replace(name="best")
    arch_string.save_json(arch, path)
    assert zoo.resolve_arch(str(path)) == arch
    assert zoo.resolve_arch(str(path), width=0.75) == specs.scale_arch(arch, width=0.75).replace(
        name="best_w0.75"
    )


@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        ("resnet50", ["'resnet50'", str(ZOO), "arch JSON file"]),
        ("", [str(ZOO)]),
        ("r1_k4_s11_o16", ["'r1_k4_s11_o16'", str(ZOO), "'k4'"]),
        ("missing.json", ["arch JSON file not found: missing.json"]),
    ],
)
def test_resolve_arch_rejects(value, fragments):
    with pytest.raises(ValueError) as error:
        zoo.resolve_arch(value)
    for fragment in fragments:
        assert fragment in str(error.value)


@pytest.mark.slow
def test_tf_free_modules_do_not_import_tensorflow():
    code = (
        "import sys; import mnasnet_tf.zoo, mnasnet_tf.stats, mnasnet_tf.specs, "
        "mnasnet_tf.arch_string; mnasnet_tf.zoo.resolve_arch('mnasnet-a1'); "
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---- built models (slow) ----


def _is_stock_keras_layer(layer) -> bool:
    import keras

    cls = type(layer)
    return getattr(keras.layers, cls.__name__, None) is cls and cls is not keras.layers.Lambda


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_builds_saves_and_loads(name, zoo_model, tmp_path):
    import keras
    import numpy as np

    model = zoo_model(name)
    assert model.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 1000)
    num_blocks = len(zoo.get_arch(name).blocks)
    for layer in model.layers:
        assert _is_stock_keras_layer(layer), (layer.name, type(layer))
        match = LAYER_NAME.match(layer.name)
        assert match, layer.name
        if match.group(2):
            assert 1 <= int(match.group(2)) <= num_blocks, layer.name

    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects
    image = np.random.default_rng(0).uniform(0, 255, (1, 224, 224, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(loaded(image)), np.asarray(model(image)))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_builds_at_32(name):
    import numpy as np

    model = zoo.create_model(name, input_shape=(32, 32, 3), classes=5)
    assert model.output_shape == (None, 5)
    out = np.asarray(model(np.zeros((1, 32, 32, 3), np.float32)))
    assert out.shape == (1, 5) and np.allclose(out.sum(), 1.0, atol=1e-5)


def _keras_app(factory: str, **kwargs):
    import keras

    return getattr(keras.applications, factory)(weights=None, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "width", "factory", "expected"),
    [
        ("mobilenet-v2", 1.0, "MobileNetV2", 3_504_872),
        ("mobilenet-v2", 1.4, "MobileNetV2", 6_108_776),
        ("mobilenet-v3-large", 1.0, "MobileNetV3Large", 5_483_032),
        ("mobilenet-v3-small", 1.0, "MobileNetV3Small", 2_542_856),
    ],
)
def test_trainable_params_equal_keras_applications(
    name, width, factory, expected, zoo_model, count_trainable
):
    ours = zoo_model(name) if width == 1.0 else zoo_model(name, width=width)
    reference = _keras_app(factory, alpha=width, input_shape=(224, 224, 3))
    assert count_trainable(reference) == expected
    assert count_trainable(ours) == expected


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "factory"),
    [
        ("mobilenet-v2", "MobileNetV2"),
        ("mobilenet-v3-large", "MobileNetV3Large"),
        ("mobilenet-v3-small", "MobileNetV3Small"),
    ],
)
def test_same_function_as_keras_applications(name, factory):
    """With keras' weights (random, in the same order and shapes) our model computes keras'
    logits: the same network, though our stride-2 convs pad 'same' instead of ZeroPadding2D."""
    import numpy as np

    extra = {} if factory == "MobileNetV2" else {"include_preprocessing": False}
    reference = _keras_app(factory, input_shape=(224, 224, 3), classifier_activation=None, **extra)
    ours = zoo.create_model(name, include_preprocessing=False, classifier_activation=None)
    rng = np.random.default_rng(0)
    theirs = reference.get_weights()
    assert [w.size for w in theirs] == [w.size for w in ours.get_weights()]
    weights = [
        rng.normal(0, 0.1, w.shape) if w.ndim > 1 else rng.uniform(0.5, 1.5, w.shape)
        for w in theirs
    ]
    reference.set_weights(weights)
    ours.set_weights([w.reshape(v.shape) for w, v in zip(weights, ours.get_weights(), strict=True)])
    image = rng.uniform(-1, 1, (2, 224, 224, 3)).astype(np.float32)
    expected = np.asarray(reference(image))
    np.testing.assert_allclose(np.asarray(ours(image)), expected, rtol=1e-4, atol=1e-4)
