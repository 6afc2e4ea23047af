"""Tests for mnasnet_tf.arch_string: strict decoding, canonical round trips, arch JSON.
Pure Python: no TensorFlow."""

from __future__ import annotations

import json

import pytest

from mnasnet_tf import arch_string, specs, zoo

ALL_BLOCK_STRINGS = sorted({s for name in zoo.list_models() for s in zoo.block_strings(name)})


@pytest.mark.parametrize(
    ("string", "fragment"),
    [
        # unknown tokens
        ("r1_k3_s11_q7_o16", "'q7'"),
        ("r1_k3_s11_o16_foo", "'foo'"),
        ("r1_k3_s11_o16__relu", "''"),
        ("r1_k3_s11_e_o16", "'e'"),
        ("r1_k3_s11_o16_se", "'se'"),
        ("r1_k3_s11_oX", "'oX'"),
        ("r1.5_k3_s11_o16", "'r1.5'"),
        ("r1_k3_s11_e6x_o16", "'e6x'"),
        # missing required tokens
        ("k3_s11_o16", "'r<…>'"),
        ("r1_s11_o16", "'k<…>'"),
        ("r1_k3_o16", "'s<…>'"),
        ("r1_k3_s11_e6", "'o<…>'"),
        # bad stride
        ("r1_k3_s12_o16", "'s12'"),
        ("r1_k3_s33_o16", "'s33'"),
        ("r1_k3_s2_o16", "'s2'"),
        ("r1_k3_s222_o16", "'s222'"),
        # zero / negative numbers
        ("r0_k3_s11_o16", "'r0'"),
        ("r-1_k3_s11_o16", "'r-1'"),
        ("r1_k0_s11_o16", "'k0'"),
        ("r1_k3_s11_o0", "'o0'"),
        ("r1_k3_s11_i0_o16", "'i0'"),
        ("r1_k3_s11_x0_o16", "'x0'"),
        ("r1_k3_s11_e0_o16", "'e0'"),
        ("r1_k3_s11_e-6_o16", "'e-6'"),
        ("r1_k3_s11_e0.5_o16", "'e0.5'"),
        # even kernel
        ("r1_k4_s11_o16", "'k4'"),
        # SE ratio outside (0, 1]
        ("r1_k3_s11_o16_se0", "'se0'"),
        ("r1_k3_s11_o16_se1.5", "'se1.5'"),
        ("r1_k3_s11_o16_se-0.25", "'se-0.25'"),
        # duplicate tokens
        ("r1_r2_k3_s11_o16", "'r2'"),
        ("r1_k3_k5_s11_o16", "'k5'"),
        ("r1_k3_s11_o16_se0.25_se0.5", "'se0.5'"),
        ("r1_k3_s11_o16_noskip_poolskip", "'poolskip'"),
        ("r1_k3_s11_o16_relu_hswish", "'hswish'"),
        ("conv_sep_r1_k3_s11_o16", "'sep'"),
        # e with x
        ("r1_k3_s11_e6_x96_o16", "'e6' and 'x96'"),
        # sep with expansion
        ("sep_r1_k3_s11_e6_o16", "'e6'"),
        ("sep_r1_k3_s11_x32_o16", "'x32'"),
    ],
)
def test_decode_block_rejects_and_names_token_and_string(string, fragment):
    with pytest.raises(ValueError) as error:
        arch_string.decode_block(string)
    message = str(error.value)
    assert fragment in message
    assert repr(string) in message


@pytest.mark.parametrize("value", ["", "   ", None, 3])
def test_decode_block_rejects_non_strings(value):
    with pytest.raises(ValueError, match="a block string must be a non-empty string"):
        arch_string.decode_block(value)


def test_decode_names_block_index_and_whole_arch_string():
    string = "r1_k3_s11_e1_o16:r2_k4_s22_e6_o24"
    with pytest.raises(ValueError) as error:
        arch_string.decode(string)
    message = str(error.value)
    assert "block 2" in message and repr(string) in message and "'k4'" in message


@pytest.mark.parametrize("value", ["", " ", None])
def test_decode_rejects_empty(value):
    with pytest.raises(ValueError, match="an arch string must be a non-empty string"):
        arch_string.decode(value)


def test_decode_block_fields():
    block = arch_string.decode_block("conv_r2_k5_s22_e4_i16_o24_se0.25_poolskip_swish")
    assert block == specs.BlockSpec(
        num_repeat=2,
        kernel_size=5,
        stride=2,
        output_filters=24,
        input_filters=16,
        expand_ratio=4,
        se_ratio=0.25,
        skip="pool",
        op="conv",
        activation="swish",
    )
    assert arch_string.decode_block("r1_k3_s11_x88_o24").expand_filters == 88


@pytest.mark.parametrize("string", ALL_BLOCK_STRINGS)
def test_every_zoo_block_string_round_trips(string):
    assert arch_string.encode_block(arch_string.decode_block(string)) == string


@pytest.mark.parametrize(
    "string",
    [
        "sep_r1_k3_s11_o16",
        "conv_r1_k3_s22_e1_o16_noskip",
        "conv_r2_k5_s11_x48_i16_o24_se0.5_poolskip_relu6",
        "r3_k7_s22_e2.5_o40_hswish",
        "r1_k3_s11_e1_o16_swish",
    ],
)
def test_extended_block_strings_round_trip(string):
    assert arch_string.encode_block(arch_string.decode_block(string)) == string


def test_non_canonical_strings_decode_to_the_canonical_form():
    assert arch_string.encode_block(arch_string.decode_block("o16_s11_k3_r1")) == "r1_k3_s11_e1_o16"
    assert arch_string.encode_block(arch_string.decode_block("r1_k3_s11_e6.0_o16")) == (
        "r1_k3_s11_e6_o16"
    )


@pytest.mark.parametrize("name", zoo.list_models())
def test_zoo_arch_strings_round_trip(name):
    string = ":".join(zoo.block_strings(name))
    assert arch_string.encode(arch_string.decode(string)) == string
    assert arch_string.encode(zoo.get_arch(name)) == string


def test_decode_takes_conventions():
    arch = arch_string.decode("r1_k3_s11_e1_o16", stem_filters=16, activation="relu6")
    assert (arch.stem_filters, arch.activation, arch.head_filters) == (16, "relu6", 1280)


@pytest.mark.parametrize("name", zoo.list_models())
def test_arch_json_round_trips(name, tmp_path):
    arch = zoo.get_arch(name, width=0.75)
    path = tmp_path / f"{name}.json"
    arch_string.save_json(arch, path)
    assert arch_string.load_json(path) == arch
    assert arch_string.from_json_dict(json.loads(path.read_text())) == arch
    assert not (tmp_path / f"{name}.json.tmp").exists()


def _write(tmp_path, data) -> str:
    path = tmp_path / "arch.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


GOOD = {"blocks": ["r1_k3_s11_e1_o16"], "stem_filters": 16}


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        ({**GOOD, "stem_size": 16}, ["unknown keys ['stem_size']"]),
        ({**GOOD, "blocks": []}, ["'blocks' must be a non-empty list"]),
        ({"stem_filters": 16}, ["'blocks' must be a non-empty list"]),
        ({**GOOD, "blocks": ["r1_k4_s11_o16"]}, ["block 1", "'k4'", "'r1_k4_s11_o16'"]),
        ({**GOOD, "stem_filters": "16"}, ["stem_filters must be a positive integer; got '16'"]),
        ({**GOOD, "activation": "gelu"}, ["activation must be one of", "'gelu'"]),
        ({**GOOD, "format": "other/v9"}, ["format must be 'mnasnet-tf/arch-v1'; got 'other/v9'"]),
        ([1, 2], ["expected a JSON object; got list"]),
        ("{not json", ["is not valid JSON"]),
    ],
)
def test_load_json_rejects(tmp_path, data, fragments):
    path = _write(tmp_path, data)
    with pytest.raises(ValueError) as error:
        arch_string.load_json(path)
    message = str(error.value)
    assert path in message
    for fragment in fragments:
        assert fragment in message


def test_load_json_missing_file_names_path(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(ValueError, match="arch JSON file not found: .*nope.json"):
        arch_string.load_json(path)


def test_load_json_minimal_file_takes_mnasnet_defaults(tmp_path):
    arch = arch_string.load_json(_write(tmp_path, GOOD))
    assert arch.stem_filters == 16 and arch.activation == "relu" and arch.head_filters == 1280
