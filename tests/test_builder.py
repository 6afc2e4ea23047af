"""Tests for mnasnet_tf.builder and blocks: argument validation, the keyword API, every op and
skip, and that stem + per-layer + head piece models compose to the whole model."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras_helpers import randomize_batch_norm

from mnasnet_tf import arch_string, builder, stats, zoo

# A small architecture touching every op, skip and activation (fast to build at 32–64²).
OPS_ARCH = arch_string.decode(
    ":".join(
        [
            "sep_r1_k3_s11_o16_swish",
            "conv_r2_k3_s22_e4_o24_se0.25_relu6",
            "conv_r1_k5_s11_o32_poolskip",
            "r2_k5_s22_e3_i16_o40_se0.5_poolskip_hswish",
            "conv_r2_k3_s11_o40_se0.25",
            "r1_k3_s11_e6_o40",
        ]
    ),
    stem_filters=16,
    head_filters=64,
    pre_logits_filters=48,
    se_gate="hard_sigmoid",
    name="ops",
)


@pytest.fixture(scope="module")
def ops_model():
    return builder.build_model(OPS_ARCH, input_shape=(64, 64, 3), classes=10)


def _images(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


A1 = zoo.get_arch("mnasnet-a1")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"input_shape": (224, 224)}, "got (224, 224)"),
        ({"input_shape": (31, 224, 3)}, "got (31, 224, 3)"),
        ({"input_shape": (224, 16, 3)}, "got (224, 16, 3)"),
        ({"input_shape": (224, 224, 4)}, "got (224, 224, 4)"),
        ({"input_shape": (224.0, 224, 3)}, "got (224.0, 224, 3)"),
        ({"input_shape": "224"}, "got '224'"),
        ({"input_shape": 224}, "got 224"),
        ({"classes": 0}, "classes must be a positive integer; got 0"),
        ({"classes": 10.0}, "classes must be a positive integer; got 10.0"),
        ({"pooling": "min"}, "pooling must be one of (None, 'avg', 'max'); got 'min'"),
        ({"dropout_rate": 1.0}, "dropout_rate must be in [0, 1) or None; got 1.0"),
        ({"dropout_rate": -0.1}, "dropout_rate must be in [0, 1) or None; got -0.1"),
        ({"classifier_activation": "nope"}, "classifier_activation must be a Keras activation"),
        ({"bn_momentum": 1.5}, "bn_momentum must be in (0, 1); got 1.5"),
        ({"bn_epsilon": 0}, "bn_epsilon must be a positive number; got 0"),
    ],
)
def test_build_model_rejects(kwargs, fragment):
    with pytest.raises(ValueError) as error:
        builder.build_model(A1, **kwargs)
    assert fragment in str(error.value)


def test_build_model_rejects_non_arch():
    with pytest.raises(ValueError, match="arch must be an ArchSpec; got str"):
        builder.build_model("mnasnet-a1")


@pytest.mark.slow
def test_every_op_builds_with_expected_layers(ops_model, count_trainable):
    names = {layer.name for layer in ops_model.layers}
    for expected in [
        "image",
        "rescaling",
        "stem_conv",
        "stem_act",
        "block1a_dwconv",
        "block1a_project_conv",
        "block2a_regular_conv",  # fused MBConv: k×k conv to the expanded width ...
        "block2a_se_gate",
        "block2a_project_bn",  # ... then a 1×1 projection
        "block2b_add",
        "block3a_regular_act",  # regular conv, not expanded: no projection
        "block3a_shortcut_conv",  # pool skip, 24 → 32 channels at stride 1: projection only
        "block3a_add",
        "block4a_expand_conv",
        "block4a_shortcut_pool",
        "block4a_shortcut_bn",
        "block4b_add",  # pool skip, same channels, stride 1: identity shortcut, still added
        "block5a_se_excite",
        "block5b_add",
        "block6a_add",
        "head_conv",
        "pre_logits_conv",
        "pre_logits_flatten",
        "top_dropout",
        "predictions",
    ]:
        assert expected in names, expected
    for absent in ["block1a_expand_conv", "block3a_project_conv", "block4b_shortcut_pool"]:
        assert absent not in names, absent
    assert "block4b_shortcut_conv" not in names
    assert ops_model.get_layer("block2a_regular_conv").kernel.shape == (3, 3, 16, 64)
    assert ops_model.get_layer("block3a_regular_conv").kernel.shape == (5, 5, 24, 32)
    assert (
        ops_model.get_layer("block1a_dwconv_act").get_config()["activation"] == "silu"
    )  # Keras names swish silu
    assert ops_model.get_layer("block2a_regular_act").get_config()["max_value"] == 6.0
    assert ops_model.get_layer("block4a_dwconv_act").get_config()["activation"] == "hard_silu"
    assert ops_model.get_layer("block2a_se_gate").get_config()["activation"] == "hard_sigmoid"
    assert ops_model.output_shape == (None, 10)
    assert (
        count_trainable(ops_model) == stats.arch_stats(OPS_ARCH, image_size=64, classes=10).params
    )


@pytest.mark.slow
def test_identity_residual_only_where_shapes_allow():
    arch = zoo.get_arch("mnasnet-a1")
    model = builder.build_model(arch, input_shape=(32, 32, 3))
    adds = sorted(layer.name for layer in model.layers if isinstance(layer, keras.layers.Add))
    expected = sorted(f"{layer.name}_add" for layer in arch.layers() if layer.has_residual)
    assert adds == expected
    assert len(adds) == 9  # blocks 2-6: 1 + 2 + 3 + 1 + 2 (first layers change shape)


@pytest.mark.slow
def test_top_options():
    small = zoo.get_arch("mnasnet-small")
    features = builder.build_model(small, input_shape=(64, 64, 3), include_top=False)
    assert features.output_shape == (None, 2, 2, 1280)
    assert "predictions" not in {layer.name for layer in features.layers}
    avg = builder.build_model(small, input_shape=(64, 64, 3), include_top=False, pooling="avg")
    assert avg.output_shape == (None, 1280) and avg.layers[-1].name == "avg_pool"
    peak = builder.build_model(small, input_shape=(64, 64, 3), include_top=False, pooling="max")
    assert peak.output_shape == (None, 1280) and peak.layers[-1].name == "max_pool"
    logits = builder.build_model(
        small, input_shape=(64, 64, 1), classes=3, classifier_activation=None, dropout_rate=0.3
    )
    assert logits.output_shape == (None, 3)
    assert logits.get_layer("predictions").get_config()["activation"] == "linear"
    assert logits.get_layer("top_dropout").rate == 0.3
    # mnasnet-small's own dropout rate is 0: no Dropout layer.
    assert "top_dropout" not in {layer.name for layer in builder.build_model(small).layers}


@pytest.mark.slow
def test_preprocessing_maps_0_255_to_minus_one_one():
    arch = zoo.get_arch("mnasnet-small")
    model = builder.build_model(arch, input_shape=(32, 32, 3))
    rescale = keras.Model(model.input, model.get_layer("rescaling").output)
    out = rescale(np.array([[[[0.0, 127.5, 255.0]] * 32] * 32], dtype=np.float32)).numpy()
    np.testing.assert_allclose(out[0, 0, 0], [-1.0, 0.0, 1.0], atol=1e-6)
    raw = builder.build_model(arch, input_shape=(32, 32, 3), include_preprocessing=False)
    assert "rescaling" not in {layer.name for layer in raw.layers}


@pytest.mark.slow
def test_any_input_size():
    model = builder.build_model(zoo.get_arch("mnasnet-small"), input_shape=(None, None, 3))
    assert model(_images((1, 48, 80, 3))).shape == (1, 1000)


@pytest.mark.slow
def test_pieces_compose_to_the_whole_model(ops_model):
    """stem → every layer model → head gives the whole model's output, with shared weights."""
    randomize_batch_norm(ops_model)
    image = _images((2, 64, 64, 3))
    pieces = [builder.build_stem_model(OPS_ARCH, input_shape=(64, 64, 3))]
    for layer, hw in stats.layer_input_sizes(OPS_ARCH, 64):
        pieces.append(builder.build_layer_model(layer, OPS_ARCH, input_hw=hw))
    pieces.append(builder.build_head_model(OPS_ARCH, input_hw=(8, 8), classes=10))
    x = image
    for piece in pieces:
        for layer in piece.layers:
            if layer.weights:
                layer.set_weights(ops_model.get_layer(layer.name).get_weights())
        x = piece(x, training=False)
    expected = ops_model(image, training=False)
    np.testing.assert_allclose(np.asarray(x), np.asarray(expected), rtol=1e-4, atol=1e-6)
    layer_models = pieces[1:-1]
    assert [m.input_shape for m in layer_models[:3]] == [
        (None, 32, 32, 16),
        (None, 32, 32, 16),
        (None, 16, 16, 24),
    ]


def test_head_model_without_head_filters_and_without_top():
    arch = OPS_ARCH.replace(head_filters=None, pre_logits_filters=None)
    head = builder.build_head_model(arch, input_hw=(7, 7), include_top=False, pooling="avg")
    assert head.input_shape == (None, 7, 7, 40) and head.output_shape == (None, 40)


@pytest.mark.parametrize("input_hw", [(0, 7), (7,), "7x7", (7.0, 7)])
def test_piece_models_reject_bad_input_hw(input_hw):
    layer = OPS_ARCH.layers()[0]
    with pytest.raises(ValueError, match="input_hw must be"):
        builder.build_layer_model(layer, OPS_ARCH, input_hw=input_hw)
    with pytest.raises(ValueError, match="input_hw must be"):
        builder.build_head_model(OPS_ARCH, input_hw=input_hw)


def test_layer_model_rejects_non_layer():
    with pytest.raises(ValueError, match="layer must be a LayerSpec; got BlockSpec"):
        builder.build_layer_model(OPS_ARCH.blocks[0], OPS_ARCH, input_hw=(8, 8))


@pytest.mark.slow
def test_ops_model_save_load_round_trip(ops_model, tmp_path):
    path = tmp_path / "ops.keras"
    ops_model.save(path)
    loaded = keras.saving.load_model(path)
    image = _images((1, 64, 64, 3), seed=1)
    np.testing.assert_array_equal(np.asarray(loaded(image)), np.asarray(ops_model(image)))
