"""Tests of the search spaces: sizes, round trips, known models as points, HPs, errors."""

import subprocess
import sys

import numpy as np
import pytest

from mnasnet_tf import arch_string, specs
from search.spaces import base as space_module
from search.spaces import registry as space_registry
from search.spaces.mnasnet import mnasnet_space
from search.spaces.mobilenetv3 import CONVENTIONS

A1 = (
    "r1_k3_s11_e1_i32_o16_noskip",
    "r2_k3_s22_e6_i16_o24",
    "r3_k5_s22_e3_i24_o40_se0.25",
    "r4_k3_s22_e6_i40_o80",
    "r2_k3_s11_e6_i80_o112_se0.25",
    "r3_k5_s22_e6_i112_o160_se0.25",
    "r1_k3_s11_e6_i160_o320",
)
B1 = (
    "r1_k3_s11_e1_i32_o16_noskip",
    "r3_k3_s22_e3_i16_o24",
    "r3_k5_s22_e3_i24_o40",
    "r3_k5_s22_e6_i40_o80",
    "r2_k3_s11_e6_i80_o96",
    "r4_k5_s22_e6_i96_o192",
    "r1_k3_s11_e6_i192_o320_noskip",
)
V2 = (
    "r1_k3_s11_e1_i32_o16",
    "r2_k3_s22_e6_i16_o24",
    "r3_k3_s22_e6_i24_o32",
    "r4_k3_s22_e6_i32_o64",
    "r3_k3_s11_e6_i64_o96",
    "r3_k3_s22_e6_i96_o160",
    "r1_k3_s11_e6_i160_o320",
)
V2_CONVENTIONS = dict(activation="relu6", head_scaling="grow_only")
# keras.applications MobileNetV3 tables, spelled with expansion ratios as keras does.
V3_LARGE = (
    "r1_k3_s11_e1_o16_relu",
    "r1_k3_s22_e4_o24_relu",
    "r1_k3_s11_e3_o24_relu",
    "r3_k5_s22_e3_o40_se0.25_relu",
    "r1_k3_s22_e6_o80",
    "r1_k3_s11_e2.5_o80",
    "r2_k3_s11_e2.3_o80",
    "r2_k3_s11_e6_o112_se0.25",
    "r3_k5_s22_e6_o160_se0.25",
)
V3_SMALL = (
    "r1_k3_s22_e1_o16_se0.25_relu",
    "r1_k3_s22_e4.5_o24_relu",
    "r1_k3_s11_x88_o24_relu",
    "r1_k5_s22_e4_o40_se0.25",
    "r2_k5_s11_e6_o40_se0.25",
    "r2_k5_s11_e3_o48_se0.25",
    "r3_k5_s22_e6_o96_se0.25",
)
# The papers' tables: expanded width of every layer.
V3_LARGE_EXPANDED = [16, 64, 72, 72, 120, 120, 240, 200, 184, 184, 480, 672, 672, 960, 960]
V3_SMALL_EXPANDED = [16, 72, 88, 96, 240, 240, 120, 144, 288, 576, 576]


def decode(blocks, **conventions):
    return arch_string.decode(":".join(blocks), **conventions)


def layer_signature(arch: specs.ArchSpec) -> list[tuple]:
    """What decides the graph of each layer, independent of how the blocks are spelled."""
    result = []
    for layer in arch.layers():
        block = layer.block
        residual = "pool" if block.skip == "pool" else ("add" if layer.has_residual else "-")
        result.append(
            (
                "conv" if block.op == "conv" else "mbconv",
                block.kernel_size,
                layer.stride,
                layer.in_channels,
                layer.declared_in,
                layer.out_channels,
                layer.expanded if block.is_expanded else None,
                layer.se_filters,
                layer.activation,
                residual,
            )
        )
    return result


def conventions_of(arch: specs.ArchSpec) -> dict:
    return {name: getattr(arch, name) for name in space_module.CONVENTION_FIELDS}


# ---- sizes and decisions ----


def test_registry():
    assert space_registry.list_spaces() == [
        "mnasnet",
        "mnasnet-extended",
        "mobilenetv3-large",
        "mobilenetv3-small",
    ]
    with pytest.raises(ValueError, match="unknown search space 'nasnet'; expected one of"):
        space_registry.get_space("nasnet")


def test_mnasnet_paper_space_size_and_decisions():
    space = space_registry.get_space("mnasnet")
    assert space.choice_sizes() == [4, 2, 2, 3, 3, 3] * 7
    assert space.size() == 432**7
    assert f"{space.size():.2g}" == "2.8e+18"
    assert space.names()[:6] == [
        "block1/conv_op",
        "block1/kernel",
        "block1/se_ratio",
        "block1/skip",
        "block1/filters",
        "block1/layers",
    ]
    assert space.names()[-1] == "block7/layers"
    by_name = {d.name: d for d in space.decisions}
    assert by_name["block3/conv_op"].values == ("conv", "sep", "mbconv_e3", "mbconv_e6")
    assert by_name["block3/kernel"].values == (3, 5)
    assert by_name["block3/se_ratio"].values == (0.0, 0.25)
    assert by_name["block3/skip"].values == ("pool", "identity", "none")
    assert by_name["block3/filters"].values == (0.75, 1.0, 1.25)
    assert by_name["block3/layers"].values == (-1, 0, 1)
    # B = 5 blocks: ≈ 10^13 as the paper says.
    assert 1e13 < 432**5 < 2e13


def test_mnasnet_filter_and_layer_choices_follow_mobilenet_v2():
    space = space_registry.get_space("mnasnet")
    assert space.filter_widths == (
        (16, 16, 24),
        (24, 24, 32),
        (24, 32, 40),
        (48, 64, 80),
        (72, 96, 120),
        (120, 160, 200),
        (240, 320, 400),
    )
    assert space.layer_counts == (
        (1, 1, 2),
        (1, 2, 3),
        (2, 3, 4),
        (3, 4, 5),
        (2, 3, 4),
        (2, 3, 4),
        (1, 1, 2),
    )


def test_extended_space_has_no_aliases_and_holds_the_paper_space():
    paper = space_registry.get_space("mnasnet")
    extended = space_registry.get_space("mnasnet-extended")
    assert extended.filter_widths[4] == (72, 96, 112, 120)
    assert extended.filter_widths[5] == (120, 160, 192, 200)
    assert extended.layer_counts[0] == (1, 2)
    rng = np.random.default_rng(0)
    for _ in range(50):
        arch = paper.to_arch(paper.sample(rng))
        assert extended.to_arch(extended.from_arch(arch)) == arch.replace(name="mnasnet-extended")


def test_v3_space_decisions():
    space = space_registry.get_space("mobilenetv3-large")
    by_name = {d.name: d for d in space.decisions}
    assert by_name["stage3/kernel"].values == (3, 5, 7)
    assert by_name["stage3/se_ratio"].values == (0.0, 0.25)
    assert by_name["stage3/activation"].values == ("relu", "hswish")
    assert by_name["stage3/layers"].values == (2, 3, 4)
    assert by_name["stage1/layers"].values == (1, 2)
    assert by_name["stage4/layer2/expanded"].values == (200, 240, 320, 480)
    assert by_name["stage4/layer3/expanded"].values == (184, 240, 320, 480)
    assert by_name["stage1/layer1/expanded"].values == (16, 48, 64, 96)
    assert space.size() == np.prod(space.choice_sizes(), dtype=object)


# ---- round trips ----


@pytest.mark.slow
@pytest.mark.parametrize("name", space_registry.list_spaces())
def test_sample_to_arch_from_arch_round_trip(name):
    space = space_registry.get_space(name)
    rng = np.random.default_rng(1)
    for _ in range(200):
        choices = space.sample(rng)
        arch = space.to_arch(choices)
        canonical = space.from_arch(arch)
        assert space.to_arch(canonical) == arch
        assert (
            arch_string.decode(arch_string.encode(arch), **space.conventions).blocks == arch.blocks
        )
        values = space.to_values(choices)
        assert space.from_values(values) == choices
        assert space.from_hyperparameters(values) == arch
        if name == "mnasnet-extended":
            assert canonical == choices  # no aliases


def test_v3_canonical_sets_unused_slots_to_default():
    space = space_registry.get_space("mobilenetv3-large")
    choices = space.default_choices()
    layers = space.names().index("stage1/layers")
    slot = space.names().index("stage1/layer2/expanded")
    changed = list(choices)
    changed[slot] = 3  # the unused second layer of stage 1
    assert space.to_arch(changed) == space.to_arch(choices)
    assert space.canonical(changed) == choices
    changed[layers] = 1  # now it is used
    assert space.to_arch(changed) != space.to_arch(choices)
    assert space.canonical(changed) == changed


def test_paper_space_aliases_map_to_the_default():
    space = space_registry.get_space("mnasnet")
    choices = space.default_choices()
    filters = space.names().index("block1/filters")
    assert space.decisions[filters].default == 1.0
    aliased = list(choices)
    aliased[filters] = 0  # 0.75 × 16 rounds to 16 as well
    assert space.to_arch(aliased) == space.to_arch(choices)
    assert space.from_arch(space.to_arch(aliased)) == choices


# ---- known models ----


def test_mobilenet_v2_is_the_default_point_of_the_mnasnet_spaces():
    for name in ("mnasnet", "mnasnet-extended"):
        space = space_registry.get_space(name).with_conventions(**V2_CONVENTIONS)
        v2 = decode(V2, **V2_CONVENTIONS)
        assert space.from_arch(v2) == space.default_choices()
        assert arch_string.encode(space.to_arch(space.default_choices())) == ":".join(V2)
        # The zoo spells V2 without the `i` tokens: the same point.
        v2_zoo = decode([s.replace(s.split("_")[4] + "_", "") for s in V2], **V2_CONVENTIONS)
        assert v2_zoo.blocks[1].input_filters is None
        assert space.from_arch(v2_zoo) == space.default_choices()


def test_mobilenet_v2_conventions_are_not_mnasnet_conventions():
    space = space_registry.get_space("mnasnet")
    with pytest.raises(ValueError, match="head_scaling is 'grow_only', the space has 'fixed'"):
        space.from_arch(decode(V2, **V2_CONVENTIONS))
    with pytest.raises(ValueError, match="activation is 'relu6', the space has 'relu'"):
        space.from_arch(decode(V2, activation="relu6"))
    assert space.from_arch(decode(V2, **V2_CONVENTIONS), check_conventions=False) == (
        space.default_choices()
    )


@pytest.mark.parametrize(("blocks", "block", "value"), [(A1, 5, 112), (B1, 6, 192)])
def test_mnasnet_a1_b1_are_not_points_of_the_paper_space(blocks, block, value):
    space = space_registry.get_space("mnasnet")
    with pytest.raises(ValueError, match=rf"block {block} .*output_filters {value} is not one of"):
        space.from_arch(decode(blocks))


@pytest.mark.parametrize("blocks", [A1, B1], ids=["a1", "b1"])
def test_mnasnet_a1_b1_are_points_of_the_extended_space(blocks):
    space = space_registry.get_space("mnasnet-extended")
    arch = decode(blocks)
    choices = space.from_arch(arch)
    assert arch_string.encode(space.to_arch(choices)) == ":".join(blocks)
    assert space.to_arch(choices, name="custom") == arch
    values = space.to_values(choices)
    assert values["block1/conv_op"] == "sep" and values["block1/skip"] == "none"
    if blocks is A1:
        assert values["block5/filters"] == 112 and values["block3/conv_op"] == "mbconv_e3"
        assert values["block5/se_ratio"] == 0.25 and values["block5/layers"] == 2


def test_a1_paper_space_misses_only_block5_filters():
    """Every other choice of A1 is in the paper's space: swap 112 for 120 and it is a point."""
    space = space_registry.get_space("mnasnet")
    near = list(A1)
    near[4] = "r2_k3_s11_e6_i80_o120_se0.25"
    near[5] = near[5].replace("i112", "i120")
    assert arch_string.encode(space.to_arch(space.from_arch(decode(near)))) == ":".join(near)


@pytest.mark.parametrize(
    ("space_name", "blocks", "expanded"),
    [
        ("mobilenetv3-large", V3_LARGE, V3_LARGE_EXPANDED),
        ("mobilenetv3-small", V3_SMALL, V3_SMALL_EXPANDED),
    ],
)
def test_mobilenet_v3_is_the_default_point_of_its_space(space_name, blocks, expanded):
    space = space_registry.get_space(space_name)
    variant = space_name.split("-")[1]
    arch = decode(blocks, **CONVENTIONS[variant])
    assert [layer.expanded for layer in arch.layers()] == expanded
    choices = space.from_arch(arch)
    assert choices == space.default_choices()
    rebuilt = space.to_arch(choices)
    assert layer_signature(rebuilt) == layer_signature(arch)
    assert conventions_of(rebuilt) == conventions_of(arch)


ZOO_POINTS = [
    ("mnasnet-a1", "mnasnet-extended", False),
    ("mnasnet-b1", "mnasnet-extended", False),
    ("mobilenet-v2", "mnasnet", True),
    ("mobilenet-v2", "mnasnet-extended", True),
    ("mobilenet-v3-large", "mobilenetv3-large", False),
    ("mobilenet-v3-small", "mobilenetv3-small", False),
]


@pytest.mark.parametrize(("model", "space_name", "own_conventions"), ZOO_POINTS)
def test_zoo_models_are_points(model, space_name, own_conventions):
    zoo = pytest.importorskip("mnasnet_tf.zoo")
    arch = zoo.get_arch(model)
    space = space_registry.get_space(space_name)
    if own_conventions:
        space = space.with_conventions(**conventions_of(arch))
    choices = space.from_arch(arch)
    rebuilt = space.to_arch(choices, name=arch.name)
    assert layer_signature(rebuilt) == layer_signature(arch)
    assert conventions_of(rebuilt) == conventions_of(arch)
    if space_name.startswith("mnasnet") and model != "mobilenet-v2":
        assert rebuilt == arch  # the reference strings, exactly


@pytest.mark.parametrize("model", ["mnasnet-a1", "mnasnet-b1"])
def test_zoo_a1_b1_are_not_points_of_the_paper_space(model):
    zoo = pytest.importorskip("mnasnet_tf.zoo")
    with pytest.raises(ValueError, match="output_filters .* is not one of"):
        space_registry.get_space("mnasnet").from_arch(zoo.get_arch(model))


# ---- keras-tuner HyperParameters ----


def test_hyperparameters_declare_the_whole_space():
    space = space_registry.get_space("mnasnet")
    hp = space.to_hyperparameters()
    assert [p.name for p in hp.space] == space.names()
    for param, decision in zip(hp.space, space.decisions, strict=True):
        assert type(param).__name__ == "Choice"
        assert tuple(param.values) == decision.values
        assert param.default == decision.default
    assert space.from_hyperparameters(hp.values) == space.to_arch(space.default_choices())
    assert space.from_hyperparameters(hp) == space.to_arch(space.default_choices())
    v3 = space_registry.get_space("mobilenetv3-small").to_hyperparameters()
    assert "stage2/layer1/expanded" in v3.values
    assert v3.values["stage2/layer1/expanded"] == 72


# ---- errors ----


def test_to_arch_errors_name_the_decision():
    space = space_registry.get_space("mnasnet")
    with pytest.raises(ValueError, match="space 'mnasnet' has 42 decisions; got 3 choices"):
        space.to_arch([0, 0, 0])
    bad = space.default_choices()
    bad[1] = 2
    with pytest.raises(ValueError, match=r"block1/kernel: choice 2 out of range \[0, 2\)"):
        space.to_arch(bad)
    bad[1] = 1.0
    with pytest.raises(ValueError, match="block1/kernel: a choice must be an int; got 1.0"):
        space.to_arch(bad)


def test_from_values_errors():
    space = space_registry.get_space("mnasnet")
    values = space.to_values(space.default_choices())
    del values["block4/skip"]
    with pytest.raises(ValueError, match="missing a value for 'block4/skip'"):
        space.from_values(values)
    values["block4/skip"] = "residual"
    with pytest.raises(ValueError, match=r"block4/skip: value 'residual' is not one of \['pool'"):
        space.from_values(values)
    values["block4/skip"] = "identity"
    values["learning_rate"] = 0.1  # other hyperparameters are ignored
    assert space.from_values(values) == space.default_choices()


@pytest.mark.parametrize(
    ("index", "replacement", "match"),
    [
        (2, "r3_k7_s22_e6_i24_o32", r"block 3 \('r3_k7_s22_e6_i24_o32'\).*kernel_size 7"),
        (2, "r3_k3_s22_e4_i24_o32", r"block 3 .*conv_op 'op=mbconv, e=4, x=None'"),
        (3, "r4_k3_s22_e6_i32_o64_se0.5", "block 4 .*se_ratio 0.5 is not one of"),
        (3, "r6_k3_s22_e6_i32_o64", r"block 4 .*num_repeat 6 is not one of \(3, 4, 5\)"),
        (1, "r2_k3_s11_e6_i16_o24", r"block 2 .*stride 1 is not one of \(2,\)"),
        (1, "r2_k3_s22_e6_i8_o24", r"block 2 .*input_filters 8 is not one of \(None, 16\)"),
        (1, "r2_k3_s22_e6_i16_o24_swish", "block 2 .*activation 'swish'"),
        (1, "conv_r2_k3_s22_e6_i16_o24", "block 2 .*conv_op"),
    ],
)
def test_from_arch_errors_name_block_and_field(index, replacement, match):
    blocks = list(V2)
    blocks[index] = replacement
    with pytest.raises(ValueError, match=match):
        space_registry.get_space("mnasnet").from_arch(decode(blocks), check_conventions=False)


def test_from_arch_errors_whole_arch():
    space = space_registry.get_space("mnasnet")
    with pytest.raises(ValueError, match="has 6 blocks; space 'mnasnet' has 7"):
        space.from_arch(decode(A1[:6]))
    with pytest.raises(ValueError, match="stem_filters is 16, the space has 32"):
        space.from_arch(decode(V2, stem_filters=16))
    with pytest.raises(ValueError, match="expected an ArchSpec"):
        space.from_arch(":".join(V2))


def test_v3_from_arch_errors():
    space = space_registry.get_space("mobilenetv3-large")
    conventions = CONVENTIONS["large"]
    blocks = list(V3_LARGE)
    blocks[3] = "r1_k5_s22_e3_o40_se0.25_relu:r2_k5_s11_e5_o40_se0.25_relu"  # 40 × 5 = 200
    with pytest.raises(ValueError, match=r"stage 3 .*layer 2 .*expanded width 200 .*not one of"):
        space.from_arch(decode(blocks, **conventions))
    blocks = list(V3_LARGE)
    blocks[3] = "r1_k5_s22_e3_o40_se0.25_relu:r2_k3_s11_e3_o40_se0.25_relu"
    with pytest.raises(ValueError, match=r"stage 3 .*layers differ in kernel: \[3, 5\]"):
        space.from_arch(decode(blocks, **conventions))
    blocks = list(V3_LARGE)
    blocks[7] = "r2_k3_s11_e6_o120_se0.25"
    with pytest.raises(ValueError, match=r"stage 5 .*output_filters 120 is not one of \(112,\)"):
        space.from_arch(decode(blocks, **conventions))
    with pytest.raises(ValueError, match="has 5 stages"):
        space.from_arch(decode(V3_LARGE[:-1], **conventions))
    with pytest.raises(ValueError, match="se_gate is 'sigmoid', the space has 'hard_sigmoid'"):
        space.from_arch(decode(V3_LARGE, **dict(conventions, se_gate="sigmoid")))
    blocks = list(V3_LARGE)
    blocks[7] = "r2_k3_s11_e6_o112_se0.25_noskip"
    with pytest.raises(
        ValueError, match=r"stage 5 \(layers block8a..block8b\), layer 2: skip .none. is not in"
    ):
        space.from_arch(decode(blocks, **conventions))


@pytest.mark.slow
def test_spaces_do_not_import_tensorflow():
    code = (
        "import sys\n"
        "from search.spaces import base, registry as space_registry\n"
        "from search.controllers import controller, policy, reward\n"
        "for name in space_registry.list_spaces(): space_registry.get_space(name)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mnasnet_space_is_configurable():
    space = mnasnet_space(multipliers=(1.0,), layer_deltas=(0,), name="fixed-widths")
    assert space.choice_sizes() == [4, 2, 2, 3, 1, 1] * 7
    assert space.size() == 48**7
    v2 = decode(V2)
    assert space.to_arch(space.from_arch(v2), name="custom") == v2
    with pytest.raises(ValueError, match="block 3 .*output_filters 40 is not one of \\(32,\\)"):
        space.from_arch(decode(A1), check_conventions=False)
