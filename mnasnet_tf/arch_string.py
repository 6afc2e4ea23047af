"""String and JSON forms of architectures: decode/encode, strict, round-tripping.

A block string is `_`-separated tokens in the reference MnasNet form, e.g.
`r2_k3_s22_e6_i16_o24_se0.25_noskip`, extended with:

| token | meaning | default |
|---|---|---|
| `r<n>` `k<n>` `s<d><d>` `o<n>` | repeats, odd kernel, stride (11 or 22), out filters | required |
| `e<x>` / `x<n>` | expansion ratio / explicit expanded width | `e1` |
| `i<n>` | declared input filters (decide expansion and SE width, as in the reference) | previous |
| `se<x>` | squeeze-and-excitation ratio in (0, 1] | no SE |
| `noskip` / `poolskip` | no residual / pooled, projected shortcut | identity residual |
| `conv` / `sep` | regular conv / depthwise-separable (needs e1) | MBConv |
| `relu` `relu6` `hswish` `swish` | the block's activation | the model's |

`encode` writes tokens in the canonical order (op, r, k, s, e|x, i, o, se, skip, activation) so
`encode(decode(s)) == s` for every canonical string. An arch string is block strings joined by
`:`; it carries no model-wide conventions (those default to MnasNet's); the arch JSON carries all.

Must not import TensorFlow or Keras; of tflite_bench only the TF-free `tflite_bench.files`.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from mnasnet_tf import specs
from tflite_bench import files

BLOCK_SEPARATOR = ":"
JSON_FORMAT = "mnasnet-tf/arch-v1"
_FLAGS = {
    "noskip": ("skip", "none"),
    "poolskip": ("skip", "pool"),
    "conv": ("op", "conv"),
    "sep": ("op", "sep"),
    "relu": ("activation", "relu"),
    "relu6": ("activation", "relu6"),
    "hswish": ("activation", "hswish"),
    "swish": ("activation", "swish"),
}
_KEYED = re.compile(r"^(se|r|k|s|e|x|i|o)(.*)$")
_KEY_NAMES = {
    "r": "num_repeat",
    "k": "kernel_size",
    "s": "stride",
    "e": "expand_ratio",
    "x": "expand_filters",
    "i": "input_filters",
    "o": "output_filters",
    "se": "se_ratio",
}
_REQUIRED = ("r", "k", "s", "o")
_INT = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")


def _error(token: str, string: str, reason: str) -> ValueError:
    return ValueError(f"bad token {token!r} in block string {string!r}: {reason}")


def _parse_int(key: str, token: str, string: str) -> int:
    value = token[len(key) :]
    if not _INT.match(value):
        raise _error(token, string, f"{_KEY_NAMES[key]} must be an integer")
    number = int(value)
    if number <= 0:
        raise _error(token, string, f"{_KEY_NAMES[key]} must be positive; got {number}")
    return number


def _parse_float(key: str, token: str, string: str) -> float:
    value = token[len(key) :]
    if not _NUMBER.match(value):
        raise _error(token, string, f"{_KEY_NAMES[key]} must be a number")
    return float(value)


def decode_block(string: str) -> specs.BlockSpec:
    """Parses one block string into a BlockSpec; raises ValueError naming the bad token."""
    if not isinstance(string, str) or not string.strip():
        raise ValueError(f"a block string must be a non-empty string; got {string!r}")
    fields: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for token in string.split("_"):
        if token in _FLAGS:
            field, value = _FLAGS[token]
            if field in fields:
                raise _error(token, string, f"{field} given twice")
            fields[field] = value
            continue
        match = _KEYED.match(token)
        if not token or not match or not match.group(2):
            raise _error(token, string, "unknown token")
        key = match.group(1)
        if key in seen:
            raise _error(token, string, f"{_KEY_NAMES[key]} given twice")
        seen[key] = token
        if key == "s":
            value = token[1:]
            if not re.fullmatch(r"[12][12]", value) or value[0] != value[1]:
                raise _error(token, string, "stride must be 's11' or 's22'")
            fields["stride"] = int(value[0])
        elif key in ("e", "se"):
            number = _parse_float(key, token, string)
            if key == "se" and not 0 < number <= 1:
                raise _error(token, string, f"SE ratio must be in (0, 1]; got {number:g}")
            if key == "e" and number < 1:
                raise _error(token, string, f"expansion ratio must be >= 1; got {number:g}")
            fields[_KEY_NAMES[key]] = int(number) if number.is_integer() else number
        else:
            fields[_KEY_NAMES[key]] = _parse_int(key, token, string)
    for key in _REQUIRED:
        if key not in seen:
            raise ValueError(
                f"missing token '{key}<…>' ({_KEY_NAMES[key]}) in block string {string!r}"
            )
    if fields.get("kernel_size", 1) % 2 == 0:
        token = f"k{fields['kernel_size']}"
        raise _error(token, string, "kernel size must be odd")
    if "e" in seen and "x" in seen:
        raise ValueError(
            f"give an expansion ratio or an expanded width, not both: {seen['e']!r} and "
            f"{seen['x']!r} in block string {string!r}"
        )
    if fields.get("op") == "sep" and (fields.get("expand_ratio", 1) != 1 or "x" in seen):
        raise _error(
            seen["x"] if "x" in seen else seen["e"],
            string,
            "'sep' (depthwise-separable) needs expansion 1 (e1)",
        )
    try:
        return specs.BlockSpec(**fields)
    except ValueError as error:
        raise ValueError(f"{error} in block string {string!r}") from None


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def encode_block(block: specs.BlockSpec) -> str:
    """Writes a BlockSpec in the canonical block-string form."""
    tokens = []
    if block.op != "mbconv":
        tokens.append(block.op)
    tokens += [f"r{block.num_repeat}", f"k{block.kernel_size}", f"s{block.stride}{block.stride}"]
    if block.expand_filters is not None:
        tokens.append(f"x{block.expand_filters}")
    elif block.op != "sep":
        tokens.append(f"e{_format_number(block.expand_ratio)}")
    if block.input_filters is not None:
        tokens.append(f"i{block.input_filters}")
    tokens.append(f"o{block.output_filters}")
    if block.se_ratio is not None:
        tokens.append(f"se{_format_number(block.se_ratio)}")
    if block.skip != "identity":
        tokens.append({"none": "noskip", "pool": "poolskip"}[block.skip])
    if block.activation is not None:
        tokens.append(block.activation)
    return "_".join(tokens)


def decode(string: str, **conventions: Any) -> specs.ArchSpec:
    """Parses an arch string (block strings joined by ':') into an ArchSpec; `conventions` are
    ArchSpec fields (stem_filters, head_filters, ...) that default to MnasNet's."""
    if not isinstance(string, str) or not string.strip():
        raise ValueError(f"an arch string must be a non-empty string; got {string!r}")
    parts = string.strip().split(BLOCK_SEPARATOR)
    blocks = []
    for index, part in enumerate(parts, start=1):
        try:
            blocks.append(decode_block(part))
        except ValueError as error:
            raise ValueError(f"block {index} of arch string {string!r}: {error}") from None
    return specs.ArchSpec(blocks=tuple(blocks), **conventions)


def encode(arch: specs.ArchSpec) -> str:
    """Writes the blocks of `arch` as an arch string (conventions are not included)."""
    return BLOCK_SEPARATOR.join(encode_block(block) for block in arch.blocks)


_JSON_FIELDS = tuple(
    field.name for field in specs.ArchSpec.__dataclass_fields__.values() if field.name != "blocks"
)


def to_json_dict(arch: specs.ArchSpec) -> dict[str, Any]:
    """A JSON-ready dict with every field of `arch`; blocks as canonical block strings."""
    data: dict[str, Any] = {"format": JSON_FORMAT}
    data.update({name: getattr(arch, name) for name in _JSON_FIELDS})
    data["blocks"] = [encode_block(block) for block in arch.blocks]
    return data


def from_json_dict(data: dict[str, Any], *, source: str = "arch JSON") -> specs.ArchSpec:
    """The inverse of `to_json_dict`; unknown keys and bad blocks raise ValueError naming them."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a JSON object; got {type(data).__name__}")
    unknown = sorted(set(data) - set(_JSON_FIELDS) - {"blocks", "format"})
    if unknown:
        raise ValueError(f"{source}: unknown keys {unknown}; expected some of {list(_JSON_FIELDS)}")
    if data.get("format", JSON_FORMAT) != JSON_FORMAT:
        raise ValueError(f"{source}: format must be {JSON_FORMAT!r}; got {data['format']!r}")
    if not isinstance(data.get("blocks"), list) or not data["blocks"]:
        raise ValueError(f"{source}: 'blocks' must be a non-empty list of block strings")
    blocks = []
    for index, string in enumerate(data["blocks"], start=1):
        try:
            blocks.append(decode_block(string))
        except ValueError as error:
            raise ValueError(f"{source}: block {index}: {error}") from None
    fields = {name: data[name] for name in _JSON_FIELDS if name in data}
    try:
        return specs.ArchSpec(blocks=tuple(blocks), **fields)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{source}: {error}") from None


def save_json(arch: specs.ArchSpec, path: str | os.PathLike[str]) -> None:
    """Writes the arch JSON atomically (a half-written file never replaces a good one)."""
    files.atomic_write_json(path, to_json_dict(arch), indent=2)


def load_json(path: str | os.PathLike[str]) -> specs.ArchSpec:
    """Reads an arch JSON file; a missing or malformed file raises ValueError naming the path."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ValueError(f"arch JSON file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"arch JSON file {path} is not valid JSON: {error}") from None
    return from_json_dict(data, source=str(path))
