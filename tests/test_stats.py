"""Tests for mnasnet_tf.stats: analytic params/MACs (goldens, references, equality with Keras'
trainable count) and the `mnasnet-models` tool."""

from __future__ import annotations

import subprocess
import sys

import pytest
from binary_helpers import run_in_process

from mnasnet_tf import arch_string, stats, zoo

# Analytic trainable parameters at 224², 1000 classes (equal to Keras' count of our build, see
# test_params_equal_keras_trainable_count; V2/V3 also equal keras.applications, see test_zoo).
GOLDEN_PARAMS = {
    "mnasnet-a1": 3_887_038,
    "mnasnet-b1": 4_383_312,
    "mnasnet-small": 2_030_264,
    "mnasnet-d1": 3_638_404,
    "mnasnet-d1-320": 6_932_240,
    "mobilenet-v2": 3_504_872,
    "mobilenet-v3-large": 5_483_032,
    "mobilenet-v3-small": 2_542_856,
}
# Published / keras.applications multiply-adds at 224² (millions); ours must be within 2%.
REFERENCE_MACS = {
    "mnasnet-a1": 312,
    "mnasnet-small": 68,
    "mobilenet-v2": 300,
    "mobilenet-v3-large": 217,
    "mobilenet-v3-small": 57,
}


def test_golden_table_covers_the_zoo():
    assert sorted(GOLDEN_PARAMS) == sorted(zoo.list_models())


@pytest.mark.parametrize("name", zoo.list_models())
def test_golden_params(name):
    assert stats.arch_stats(zoo.get_arch(name)).params == GOLDEN_PARAMS[name]


def test_golden_params_mobilenet_v2_1_4():
    assert stats.arch_stats(zoo.get_arch("mobilenet-v2", width=1.4)).params == 6_108_776


def test_published_param_counts():
    """Paper figures: A1 3.9M, B1 4.4M, small 2.0M params."""
    for name, published in [("mnasnet-a1", 3.9e6), ("mnasnet-b1", 4.4e6), ("mnasnet-small", 2.0e6)]:
        assert abs(GOLDEN_PARAMS[name] - published) / published < 0.02, name


@pytest.mark.parametrize("name", sorted(REFERENCE_MACS))
def test_macs_within_two_percent_of_reference(name):
    macs = stats.arch_stats(zoo.get_arch(name)).macs / 1e6
    assert abs(macs - REFERENCE_MACS[name]) / REFERENCE_MACS[name] < 0.02, macs


def test_rows_sum_to_totals_and_track_resolution():
    result = stats.arch_stats(zoo.get_arch("mnasnet-a1"))
    assert sum(row.params for row in result.rows) == result.params
    assert sum(row.macs for row in result.rows) == result.macs
    assert [row.name for row in result.rows] == ["stem"] + [f"block{i}" for i in range(1, 8)] + [
        "head",
        "top",
    ]
    assert [row.output_hw[0] for row in result.rows[:8]] == [112, 112, 56, 28, 14, 14, 7, 7]
    assert [row.block_string for row in result.block_rows] == list(zoo.block_strings("mnasnet-a1"))
    assert [row.block_index for row in result.block_rows] == list(range(1, 8))
    top = result.rows[-1]
    assert (top.params, top.macs, top.output_channels) == (1280 * 1000 + 1000, 1280 * 1000, 1000)


def test_odd_resolution_rounds_up():
    result = stats.arch_stats(zoo.get_arch("mnasnet-a1"), image_size=(225, 97))
    assert [row.output_hw for row in result.rows[:8]] == [
        (113, 49),
        (113, 49),
        (57, 25),
        (29, 13),
        (15, 7),
        (15, 7),
        (8, 4),
        (8, 4),
    ]
    sizes = stats.layer_input_sizes(zoo.get_arch("mnasnet-a1"), (225, 97))
    assert [(layer.name, hw) for layer, hw in sizes[:4]] == [
        ("block1a", (113, 49)),
        ("block2a", (113, 49)),
        ("block2b", (57, 25)),
        ("block3a", (57, 25)),
    ]


def test_top_and_classes():
    arch = zoo.get_arch("mobilenet-v3-small")
    full = stats.arch_stats(arch)
    headless = stats.arch_stats(arch, include_top=False)
    assert full.params - headless.params == (576 * 1024 + 1024) + (1024 * 1000 + 1000)
    ten = stats.arch_stats(arch, classes=10)
    assert full.params - ten.params == 1024 * 990 + 990


def test_hand_computed_layer():
    """One MBConv layer, e6, k3, SE 0.25 from the input, identity residual, on 16 channels."""
    arch = arch_string.decode("r1_k3_s11_e6_i16_o16_se0.25", stem_filters=16, head_filters=None)
    layer = arch.layers()[0]
    cost, out_hw = stats.layer_cost(layer, input_hw=(10, 10))
    expand = 16 * 96 + 2 * 96
    depthwise = 9 * 96 + 2 * 96
    se = (96 * 4 + 4) + (4 * 96 + 96)
    project = 96 * 16 + 2 * 16
    assert cost.params == expand + depthwise + se + project
    assert cost.macs == 100 * (16 * 96 + 9 * 96 + 96 * 16) + 2 * 96 * 4
    assert out_hw == (10, 10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_size": 0}, "image_size must be a positive integer or (height, width); got 0"),
        ({"image_size": (224,)}, "got (224,)"),
        ({"classes": 0}, "classes must be a positive integer; got 0"),
    ],
)
def test_arch_stats_rejects(kwargs, message):
    with pytest.raises(ValueError) as error:
        stats.arch_stats(zoo.get_arch("mnasnet-a1"), **kwargs)
    assert message in str(error.value)


def test_arch_stats_rejects_non_arch():
    with pytest.raises(ValueError, match="arch must be an ArchSpec; got str"):
        stats.arch_stats("mnasnet-a1")


def test_models_tool_prints_table(monkeypatch, capsys):
    args = ["--models=mnasnet-a1,mobilenet-v2", "--width=1.0,1.4", "--image_size=224"]
    run_in_process("search.cli.mnasnet_models", args, monkeypatch)
    lines = capsys.readouterr().out.splitlines()
    assert "params (M)" in lines[0] and "MACs (M)" in lines[0]
    assert len(lines) == 2 + 4
    assert lines[2].split() == ["mnasnet-a1", "1", "224x224", "3.887", "311.6"]
    assert lines[5].split()[:4] == ["mobilenet-v2", "1.4", "224x224", "6.109"]


def test_models_tool_default_lists_the_zoo(monkeypatch, capsys):
    run_in_process("search.cli.mnasnet_models", [], monkeypatch)
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]]
    assert names == zoo.list_models()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--width=abc"], "--width must be a comma-separated list of numbers; got 'abc'"),
        (["--models=resnet50"], "'resnet50'"),
        (["--image_size=0"], "--image_size must be an integer >= 1; got 0"),
    ],
)
def test_models_tool_rejects(args, fragment, monkeypatch):
    from absl import app

    with pytest.raises(app.UsageError) as error:
        run_in_process("search.cli.mnasnet_models", args, monkeypatch)
    assert fragment in str(error.value)


@pytest.mark.slow
def test_models_tool_exits_non_zero_naming_a_bad_flag():
    code = "from search.cli.mnasnet_models import run_main; run_main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "--models=resnet50"], capture_output=True, text=True
    )
    assert result.returncode != 0 and "'resnet50'" in result.stderr


# ---- equality with Keras (builds models) ----


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.list_models())
def test_params_equal_keras_trainable_count(name, zoo_model, count_trainable):
    assert count_trainable(zoo_model(name)) == stats.arch_stats(zoo.get_arch(name)).params


OPS_ARCH = ":".join(
    [
        "sep_r1_k3_s11_o16_swish",
        "conv_r2_k3_s22_e4_o24_se0.25_relu6",
        "conv_r1_k5_s11_o32_se0.25_poolskip",  # SE on the 32 output channels
        "r2_k5_s22_e3_i16_o40_se0.5_poolskip_hswish",
        "conv_r2_k3_s11_o40_se0.25",
        "r1_k7_s22_x120_o48_noskip",
    ]
)


@pytest.mark.slow
def test_params_and_resolutions_equal_keras_for_every_op():
    from mnasnet_tf import builder

    arch = arch_string.decode(OPS_ARCH, se_base="expanded", se_divisor=8)
    model = builder.build_model(arch, input_shape=(45, 33, 1), classes=7)
    result = stats.arch_stats(arch, image_size=(45, 33), classes=7, channels=1)
    assert sum(int(w.numpy().size) for w in model.trainable_weights) == result.params
    layers = arch.layers()
    for row in result.block_rows:
        last = [layer for layer in layers if layer.block_index == row.block_index][-1]
        output = model.get_layer(_last_layer_name(model, last.name)).output
        assert tuple(output.shape[1:]) == (*row.output_hw, row.output_channels), row.name


def _last_layer_name(model, prefix: str) -> str:
    return [layer.name for layer in model.layers if layer.name.startswith(prefix + "_")][-1]
