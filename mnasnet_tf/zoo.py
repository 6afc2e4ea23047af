"""Named architectures (the model zoo) and the one resolver every binary uses.

Owns the registry: each model is its canonical block strings plus the model-wide conventions that
decide its channel counts (see DESIGN.md §5). Adding a model = one `_register` call; the tests
parametrize over `list_models()`.

- MnasNet A1/B1/small/D1/D1-320: the reference strings of tensorflow/tpu
  `models/official/mnasnet/mnasnet_models.py`, verbatim. ReLU; SE squeezes from the declared
  block input (`max(1, int(in * ratio))`) with a sigmoid gate; head 1280 that width does not
  scale; width 1.0 leaves every filter count untouched.
- MobileNetV2: ReLU6, head 1280 scaled only for widths > 1; equals keras.applications
  MobileNetV2 in trainable parameters (at alpha 1.0 and 1.4).
- MobileNetV3 Large/Small: the tables of keras.applications mobilenet_v3.py; h-swish with `relu`
  blocks; SE from the expanded width rounded to 8 with a hard-sigmoid gate; expanded widths
  rounded to 8; pooled 1280/1024 pre-logits conv. Equal to keras at width 1.0. At other widths
  two details differ from keras: keras keeps the 16-filter stem unscaled, and Small's third
  block (`x88`) scales its expanded width directly instead of as 88/24 of its input.

Must not import TensorFlow at module level (TF-free code calls `get_arch`/`resolve_arch`);
`create_model` imports the builder lazily.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from mnasnet_tf import arch_string, specs

if TYPE_CHECKING:
    import keras

_MNASNET = {"activation": "relu", "head_filters": 1280, "head_scaling": "fixed"}
_MOBILENET_V3 = {
    "activation": "hswish",
    "stem_filters": 16,
    "se_base": "expanded",
    "se_divisor": 8,
    "se_gate": "hard_sigmoid",
    "round_expanded": True,
    "head_scaling": "width",
    "dropout_rate": 0.2,
}

_REGISTRY: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {}


def _register(name: str, block_strings: tuple[str, ...], **conventions: Any) -> None:
    _REGISTRY[name] = (block_strings, conventions)


_register(
    "mnasnet-a1",
    (
        "r1_k3_s11_e1_i32_o16_noskip",
        "r2_k3_s22_e6_i16_o24",
        "r3_k5_s22_e3_i24_o40_se0.25",
        "r4_k3_s22_e6_i40_o80",
        "r2_k3_s11_e6_i80_o112_se0.25",
        "r3_k5_s22_e6_i112_o160_se0.25",
        "r1_k3_s11_e6_i160_o320",
    ),
    stem_filters=32,
    dropout_rate=0.2,
    **_MNASNET,
)
_register(
    "mnasnet-b1",
    (
        "r1_k3_s11_e1_i32_o16_noskip",
        "r3_k3_s22_e3_i16_o24",
        "r3_k5_s22_e3_i24_o40",
        "r3_k5_s22_e6_i40_o80",
        "r2_k3_s11_e6_i80_o96",
        "r4_k5_s22_e6_i96_o192",
        "r1_k3_s11_e6_i192_o320_noskip",
    ),
    stem_filters=32,
    dropout_rate=0.2,
    **_MNASNET,
)
_register(
    "mnasnet-small",
    (
        "r1_k3_s11_e1_i16_o8",
        "r1_k3_s22_e3_i8_o16",
        "r2_k3_s22_e6_i16_o16",
        "r4_k5_s22_e6_i16_o32_se0.25",
        "r3_k3_s11_e6_i32_o32_se0.25",
        "r3_k5_s22_e6_i32_o88_se0.25",
        "r1_k3_s11_e6_i88_o144",
    ),
    stem_filters=8,
    dropout_rate=0.0,
    **_MNASNET,
)
_register(
    "mnasnet-d1",
    (
        "r1_k3_s11_e9_i32_o24",
        "r3_k3_s22_e9_i24_o36",
        "r5_k3_s22_e9_i36_o48",
        "r4_k5_s22_e9_i48_o96",
        "r5_k7_s11_e3_i96_o96",
        "r3_k3_s22_e9_i96_o80",
        "r1_k7_s11_e6_i80_o320_noskip",
    ),
    stem_filters=32,
    dropout_rate=0.2,
    **_MNASNET,
)
_register(
    "mnasnet-d1-320",
    (
        "r3_k5_s11_e6_i32_o24",
        "r4_k7_s22_e9_i24_o36",
        "r5_k5_s22_e9_i36_o48",
        "r5_k7_s22_e6_i48_o96",
        "r5_k3_s11_e9_i96_o144",
        "r5_k5_s22_e6_i144_o160",
        "r1_k7_s11_e9_i160_o320",
    ),
    stem_filters=32,
    dropout_rate=0.2,
    **_MNASNET,
)
_register(
    "mobilenet-v2",
    (
        "r1_k3_s11_e1_o16",
        "r2_k3_s22_e6_o24",
        "r3_k3_s22_e6_o32",
        "r4_k3_s22_e6_o64",
        "r3_k3_s11_e6_o96",
        "r3_k3_s22_e6_o160",
        "r1_k3_s11_e6_o320",
    ),
    activation="relu6",
    stem_filters=32,
    head_filters=1280,
    head_scaling="grow_only",
    dropout_rate=0.2,
)
_register(
    "mobilenet-v3-large",
    (
        "r1_k3_s11_e1_o16_relu",
        "r1_k3_s22_e4_o24_relu",
        "r1_k3_s11_e3_o24_relu",
        "r3_k5_s22_e3_o40_se0.25_relu",
        "r1_k3_s22_e6_o80",
        "r1_k3_s11_e2.5_o80",
        "r2_k3_s11_e2.3_o80",
        "r2_k3_s11_e6_o112_se0.25",
        "r3_k5_s22_e6_o160_se0.25",
    ),
    head_filters=960,
    pre_logits_filters=1280,
    **_MOBILENET_V3,
)
_register(
    "mobilenet-v3-small",
    (
        "r1_k3_s22_e1_o16_se0.25_relu",
        "r1_k3_s22_e4.5_o24_relu",
        "r1_k3_s11_x88_o24_relu",
        "r1_k5_s22_e4_o40_se0.25",
        "r2_k5_s11_e6_o40_se0.25",
        "r2_k5_s11_e3_o48_se0.25",
        "r3_k5_s22_e6_o96_se0.25",
    ),
    head_filters=576,
    pre_logits_filters=1024,
    **_MOBILENET_V3,
)


def list_models() -> list[str]:
    """Names of every zoo model, in registration order."""
    return list(_REGISTRY)


def _unknown(name: object) -> ValueError:
    return ValueError(f"unknown zoo model {name!r}; expected one of {list_models()}")


def _scaled_name(name: str, width: float, depth: float) -> str:
    suffix = ""
    if width != 1.0:
        suffix += f"_w{width:g}"
    if depth != 1.0:
        suffix += f"_d{depth:g}"
    return name + suffix


def get_arch(name: str, *, width: float = 1.0, depth: float = 1.0) -> specs.ArchSpec:
    """The ArchSpec of zoo model `name`, scaled by `width` (channels) and `depth` (repeats).

    The spec's name is the zoo name, with `_w<width>`/`_d<depth>` appended when scaled.
    """
    if name not in _REGISTRY:
        raise _unknown(name)
    block_strings, conventions = _REGISTRY[name]
    arch = specs.ArchSpec(
        blocks=tuple(arch_string.decode_block(string) for string in block_strings),
        name=name,
        **conventions,
    )
    scaled = specs.scale_arch(arch, width=width, depth=depth)
    return scaled.replace(name=_scaled_name(name, width, depth))


def block_strings(name: str) -> tuple[str, ...]:
    """The canonical block strings of zoo model `name` (width 1.0)."""
    if name not in _REGISTRY:
        raise _unknown(name)
    return _REGISTRY[name][0]


def resolve_arch(value: str, *, width: float = 1.0) -> specs.ArchSpec:
    """An ArchSpec from what a user typed: a zoo name, an arch string (block strings joined by
    ':', with MnasNet's conventions) or a path to an arch JSON file; scaled by `width`.

    Raises:
      ValueError: naming `value` and the zoo names when it is none of these, or saying what is
        wrong with the arch string or JSON file.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"an architecture must be a zoo name {list_models()}, an arch string or a path to "
            f"an arch JSON file; got {value!r}"
        )
    value = value.strip()
    if value in _REGISTRY:
        return get_arch(value, width=width)
    if value.endswith(".json") or os.path.isfile(value):
        arch = arch_string.load_json(value)
    elif "_" in value:
        try:
            arch = arch_string.decode(value)
        except ValueError as error:
            raise ValueError(
                f"{value!r} is not a zoo model {list_models()} nor an arch JSON file, and not a "
                f"valid arch string: {error}"
            ) from None
    else:
        raise ValueError(
            f"unknown architecture {value!r}: expected a zoo name {list_models()}, an arch "
            "string such as 'r1_k3_s11_e1_o16:r2_k3_s22_e6_o24' or a path to an arch JSON file"
        )
    if width == 1.0:
        return arch
    scaled = specs.scale_arch(arch, width=width)
    return scaled.replace(name=_scaled_name(arch.name, width, 1.0))


def create_model(name: str, *, width: float = 1.0, **build_kwargs: Any) -> keras.Model:
    """Builds zoo model `name` (or anything `resolve_arch` accepts) at `width` with
    `builder.build_model(arch, **build_kwargs)` (input_shape, include_top, classes, ...)."""
    from mnasnet_tf import builder  # lazy: keeps this module free of TensorFlow

    return builder.build_model(resolve_arch(name, width=width), **build_kwargs)
