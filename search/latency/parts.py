"""The separately measured pieces of a network — stem, each layer, head — and their table keys.

Owns `Part` and the key that identifies a part's graph (op, kernel, stride, input / expanded /
output channels, SE width and gate, activation, skip, input resolution): equal keys build
identical graphs, so a latency table measures each once. `build_part_model` builds a part with
`mnasnet_tf.builder` exactly as in the whole model (stem + layers + head = the whole graph).

Pure Python except `build_part_model`, which imports the builder (Keras) lazily.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Sequence
from typing import Any

from mnasnet_tf import specs


def image_hw(image_size: int | Sequence[int]) -> tuple[int, int]:
    """(height, width) from an int or a pair; ValueError naming the value otherwise."""
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
        raise ValueError(
            f"image_size must be a positive integer or (height, width); got {image_size!r}"
        )
    return int(size[0]), int(size[1])


def _after(hw: tuple[int, int], stride: int) -> tuple[int, int]:
    return math.ceil(hw[0] / stride), math.ceil(hw[1] / stride)


@dataclasses.dataclass(frozen=True)
class Part:
    """One separately measured piece of a network.

    Attributes:
      key: the table key (equal keys build identical graphs).
      kind: 'stem', 'layer' or 'head' (head conv, pooling and classifier).
      arch: an architecture containing the part (to build it).
      layer: the LayerSpec for 'layer' parts, else None.
      input_hw: spatial size of the part's input.
      classes: classifier outputs ('head' parts).
    """

    key: str
    kind: str
    arch: specs.ArchSpec
    layer: specs.LayerSpec | None
    input_hw: tuple[int, int]
    classes: int = 1000


def layer_key(layer: specs.LayerSpec, *, se_gate: str, input_hw: tuple[int, int]) -> str:
    """Table key of one layer at its input resolution, e.g.
    'mbconv_k5_s1_i40_x120_o40_se10sigmoid_relu_res_28x28'."""
    block = layer.block
    expanded = layer.expanded if block.is_expanded else 0
    se = f"se{layer.se_filters}{se_gate}" if layer.se_filters is not None else "se0"
    if block.skip == "pool":
        skip = "pool"
    else:
        skip = "res" if block.skip == "identity" and layer.has_residual else "none"
    return (
        f"{block.op}_k{block.kernel_size}_s{layer.stride}_i{layer.in_channels}_x{expanded}_"
        f"o{layer.out_channels}_{se}_{layer.activation}_{skip}_{input_hw[0]}x{input_hw[1]}"
    )


def arch_parts(
    arch: specs.ArchSpec, *, image_size: int | Sequence[int] = 224, classes: int = 1000
) -> list[Part]:
    """The stem, every layer and the head (+ classifier with `classes` outputs) of `arch` with
    their keys, in network order."""
    hw = image_hw(image_size)
    stem_hw = _after(hw, arch.stem_stride)
    parts = [
        Part(
            key=(
                f"stem_k{arch.stem_kernel_size}_s{arch.stem_stride}_o{arch.stem_filters}_"
                f"{arch.activation}_{hw[0]}x{hw[1]}"
            ),
            kind="stem",
            arch=arch,
            layer=None,
            input_hw=hw,
        )
    ]
    hw = stem_hw
    for layer in arch.layers():
        parts.append(
            Part(
                key=layer_key(layer, se_gate=arch.se_gate, input_hw=hw),
                kind="layer",
                arch=arch,
                layer=layer,
                input_hw=hw,
            )
        )
        hw = _after(hw, layer.stride)
    parts.append(
        Part(
            key=(
                f"head_i{arch.blocks[-1].output_filters}_h{arch.head_filters or 0}_"
                f"p{arch.pre_logits_filters or 0}_c{classes}_{arch.activation}_{hw[0]}x{hw[1]}"
            ),
            kind="head",
            arch=arch,
            layer=None,
            input_hw=hw,
            classes=classes,
        )
    )
    return parts


@functools.lru_cache(maxsize=4096)
def part_keys(arch: specs.ArchSpec, hw: tuple[int, int], classes: int) -> tuple[str, ...]:
    """The keys of `arch_parts(arch, image_size=hw, classes=classes)`, cached per architecture."""
    return tuple(part.key for part in arch_parts(arch, image_size=hw, classes=classes))


def distinct_parts(
    archs: Iterable[specs.ArchSpec], *, image_size: int | Sequence[int] = 224, classes: int = 1000
) -> list[Part]:
    """The distinct parts (by key) of several architectures, in first-seen order."""
    seen: dict[str, Part] = {}
    for arch in archs:
        for part in arch_parts(arch, image_size=image_size, classes=classes):
            seen.setdefault(part.key, part)
    return list(seen.values())


def build_part_model(part: Part) -> Any:
    """The Keras model of one part, built by `mnasnet_tf.builder` exactly as in the whole model."""
    from mnasnet_tf import builder

    if part.kind == "stem":
        return builder.build_stem_model(part.arch, input_shape=(*part.input_hw, 3))
    if part.kind == "layer":
        return builder.build_layer_model(part.layer, part.arch, input_hw=part.input_hw)
    return builder.build_head_model(part.arch, input_hw=part.input_hw, classes=part.classes)
