"""Tests for mnasnet_tf.specs: validation, rounding, scaling and the derived per-layer channels.
Pure Python: no TensorFlow."""

from __future__ import annotations

import pytest

from mnasnet_tf import specs, zoo
from mnasnet_tf.specs import ArchSpec, BlockSpec

BLOCK = BlockSpec(num_repeat=2, kernel_size=3, stride=2, output_filters=24, expand_ratio=6)


@pytest.mark.parametrize(
    ("value", "divisor", "expected"),
    [
        (16, 8, 16),
        (12, 8, 16),  # 12 + 4 = 16
        (11.2, 8, 16),  # rounds to 8, which is > 10% below 11.2 → 16
        (3, 8, 8),  # never below the divisor
        (44.8, 8, 48),  # MobileNetV2-1.4 stem
        (89.6, 8, 88),
        (134.4, 8, 136),
        (1792.0, 8, 1792),
        (183.99999999999997, 8, 184),  # 80 * 2.3 in MobileNetV3-Large
        (66, 8, 64),
        (7, 4, 8),
        (10, 4, 12),
    ],
)
def test_make_divisible_golden(value, divisor, expected):
    assert specs.make_divisible(value, divisor) == expected


def test_make_divisible_min_value():
    assert specs.make_divisible(3, 8, min_value=16) == 16


def test_scale_filters_leaves_width_one_untouched():
    assert specs.scale_filters(13, 1.0) == 13
    assert specs.scale_filters(13, 2.0) == 24
    assert specs.scale_filters(24, 0.75) == 24  # 18 → 16 is > 10% below → 24


def test_scale_arch_golden_mnasnet_a1():
    arch = specs.scale_arch(zoo.get_arch("mnasnet-a1"), width=0.75)
    assert arch.stem_filters == 24
    assert [b.output_filters for b in arch.blocks] == [16, 24, 32, 64, 88, 120, 240]
    assert [b.input_filters for b in arch.blocks] == [24, 16, 24, 32, 64, 88, 120]
    assert arch.head_filters == 1280  # 'fixed'


def test_scale_arch_head_scaling_modes():
    v2 = zoo.get_arch("mobilenet-v2")
    assert specs.scale_arch(v2, width=1.4).head_filters == 1792  # grow_only, > 1
    assert specs.scale_arch(v2, width=0.5).head_filters == 1280  # grow_only, < 1
    v3 = zoo.get_arch("mobilenet-v3-large")
    assert specs.scale_arch(v3, width=0.75).head_filters == 720  # width
    assert specs.scale_arch(v3, width=0.75).pre_logits_filters == 1280
    assert specs.scale_arch(v3, width=1.4).pre_logits_filters == 1792


def test_scale_arch_depth_and_identity():
    arch = zoo.get_arch("mnasnet-a1")
    assert specs.scale_arch(arch) is arch
    deeper = specs.scale_arch(arch, depth=1.5)
    assert [b.num_repeat for b in deeper.blocks] == [2, 3, 5, 6, 3, 5, 2]


@pytest.mark.parametrize("width", [0, -1.0, "1.0", True])
def test_scale_arch_rejects_bad_width(width):
    with pytest.raises(ValueError, match=f"width must be a positive number; got {width!r}"):
        specs.scale_arch(zoo.get_arch("mnasnet-a1"), width=width)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_repeat": 0}, "num_repeat must be a positive integer; got 0"),
        ({"num_repeat": True}, "num_repeat must be a positive integer; got True"),
        ({"kernel_size": 4}, "kernel_size must be odd; got 4"),
        ({"stride": 3}, "stride must be one of (1, 2); got 3"),
        ({"output_filters": -8}, "output_filters must be a positive integer; got -8"),
        ({"input_filters": 0}, "input_filters must be a positive integer or None; got 0"),
        ({"input_filters": True}, "input_filters must be a positive integer or None; got True"),
        ({"expand_ratio": 0.5}, "expand_ratio must be a number >= 1; got 0.5"),
        ({"expand_filters": 96}, "give either expand_ratio or expand_filters, not both"),
        ({"se_ratio": 0}, "se_ratio must be in (0, 1] or None; got 0"),
        ({"se_ratio": 1.5}, "se_ratio must be in (0, 1] or None; got 1.5"),
        ({"skip": "dense"}, "skip must be one of ('identity', 'pool', 'none'); got 'dense'"),
        ({"op": "fused"}, "op must be one of ('mbconv', 'sep', 'conv'); got 'fused'"),
        ({"op": "sep"}, "op 'sep' (depthwise-separable) needs expansion 1"),
        ({"activation": "gelu"}, "activation must be one of"),
    ],
)
def test_block_spec_rejects(changes, message):
    with pytest.raises(ValueError) as error:
        BLOCK.replace(**changes)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"blocks": ()}, "an architecture needs at least one block; got ()"),
        ({"blocks": ("r1_k3_s11_o16",)}, "block 1: expected a BlockSpec; got str"),
        ({"stem_filters": 0}, "stem_filters must be a positive integer; got 0"),
        ({"stem_stride": True}, "stem_stride must be a positive integer; got True"),
        ({"head_filters": 0}, "head_filters must be a positive integer or None; got 0"),
        ({"head_filters": True}, "head_filters must be a positive integer or None; got True"),
        ({"activation": "gelu"}, "activation must be one of"),
        ({"se_base": "output"}, "se_base must be one of ('input', 'expanded'); got 'output'"),
        ({"se_gate": "tanh"}, "se_gate must be one of ('sigmoid', 'hard_sigmoid'); got 'tanh'"),
        ({"head_scaling": "none"}, "head_scaling must be one of"),
        ({"dropout_rate": 1.0}, "dropout_rate must be in [0, 1); got 1.0"),
        ({"round_expanded": "yes"}, "round_expanded must be True or False; got 'yes'"),
        ({"name": ""}, "name must be a non-empty string; got ''"),
    ],
)
def test_arch_spec_rejects(changes, message):
    with pytest.raises(ValueError) as error:
        ArchSpec(blocks=(BLOCK,)).replace(**changes)
    assert message in str(error.value)


def test_arch_spec_accepts_a_list_of_blocks():
    assert ArchSpec(blocks=[BLOCK]).blocks == (BLOCK,)


def test_layer_names_use_letters():
    arch = ArchSpec(blocks=(BLOCK.replace(num_repeat=28),))
    names = [layer.name for layer in arch.layers()]
    assert names[:2] == ["block1a", "block1b"]
    assert names[25:] == ["block1z", "block1ba", "block1bb"]


def test_layers_of_mnasnet_a1():
    layers = zoo.get_arch("mnasnet-a1").layers()
    assert len(layers) == 16
    first = layers[0]
    assert (first.in_channels, first.expanded, first.out_channels, first.stride) == (32, 32, 16, 1)
    assert not first.has_residual  # noskip
    block3 = [layer for layer in layers if layer.block_index == 3]
    # SE squeezes from the declared block input: max(1, int(24 * 0.25)), then int(40 * 0.25).
    assert [(x.declared_in, x.expanded, x.se_filters) for x in block3] == [
        (24, 72, 6),
        (40, 120, 10),
        (40, 120, 10),
    ]
    assert [x.stride for x in block3] == [2, 1, 1]
    assert [x.has_residual for x in block3] == [False, True, True]


def test_layers_of_mnasnet_small_first_block_declares_more_than_it_gets():
    first = zoo.get_arch("mnasnet-small").layers()[0]
    assert (first.in_channels, first.declared_in, first.expanded) == (8, 16, 8)
    assert first.stride == 1 and not first.has_residual


def test_layers_of_mobilenet_v3():
    large = zoo.get_arch("mobilenet-v3-large").layers()
    assert [x.expanded for x in large] == [
        16, 64, 72, 72, 120, 120, 240, 200, 184, 184, 480, 672, 672, 960, 960,
    ]  # fmt: skip
    # SE squeezes from the expanded width rounded to 8.
    assert [x.se_filters for x in large if x.se_filters] == [24, 32, 32, 120, 168, 168, 240, 240]
    assert [x.activation for x in large[:7]] == ["relu"] * 6 + ["hswish"]
    small = zoo.get_arch("mobilenet-v3-small").layers()
    assert [x.expanded for x in small[:4]] == [16, 72, 88, 96]
    assert small[0].se_filters == 8 and small[0].stride == 2


def test_expanded_width_rounding_convention():
    block = BlockSpec(num_repeat=1, kernel_size=3, stride=1, output_filters=8, expand_ratio=2.3)
    assert ArchSpec(blocks=(block,)).expanded_width(block, 20) == 46
    assert ArchSpec(blocks=(block,), round_expanded=True).expanded_width(block, 20) == 48


def test_pool_skip_is_not_an_identity_residual():
    arch = ArchSpec(
        blocks=(BLOCK.replace(stride=1, skip="pool", input_filters=24),), stem_filters=24
    )
    assert not any(layer.has_residual for layer in arch.layers())
