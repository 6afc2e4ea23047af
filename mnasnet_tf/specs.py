"""Architecture specs: the one representation of an architecture in this project.

Owns `BlockSpec` (one stage of repeated layers), `ArchSpec` (stem, blocks, head and the model-wide
conventions that decide channel counts), channel rounding (`make_divisible`) and width/depth
scaling. Everything is validated at construction, so downstream code (builder, stats, search) can
trust a spec.

Must not import TensorFlow or Keras: the search controller and reward tests import this module and
must run in milliseconds. Of the project it imports only `tflite_bench.checks` (TF-free value
checks).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from tflite_bench import checks

OPS = ("mbconv", "sep", "conv")
"""Block operations: inverted-residual MBConv; depthwise-separable `sep` (expansion 1 only; builds
the same graph as an `mbconv` with expansion 1, which is how the reference strings spell it); a
regular k×k `conv` (a fused-MBConv when expanded)."""
ACTIVATIONS = ("relu", "relu6", "hswish", "swish")
SKIPS = ("identity", "pool", "none")
STRIDES = (1, 2)
SE_BASES = ("input", "expanded")
SE_GATES = ("sigmoid", "hard_sigmoid")
HEAD_SCALINGS = ("fixed", "grow_only", "width")

Op = Literal["mbconv", "sep", "conv"]
Activation = Literal["relu", "relu6", "hswish", "swish"]
Skip = Literal["identity", "pool", "none"]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Rounds `value` to the nearest multiple of `divisor`, never below `min_value` (default
    `divisor`) and never more than 10% below `value` (the TF-slim / MnasNet rule)."""
    min_value = divisor if min_value is None else min_value
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return int(new_value)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """One block (stage): `num_repeat` layers sharing op, kernel, expansion, SE, skip and
    activation. Only the first layer strides and changes the channel count.

    Attributes:
      num_repeat: layers in the block (≥ 1).
      kernel_size: odd spatial kernel size of the depthwise (mbconv) or regular (conv) conv.
      stride: 1 or 2, applied by the first layer only.
      output_filters: output channels of every layer.
      input_filters: channels the block declares as its input. `None` means "whatever the previous
        block gives". When set, it decides the expansion width and the SE squeeze width exactly as
        the reference MnasNet does, even where it differs from the real input.
      expand_ratio: expansion ratio (1 = depthwise-separable for mbconv / plain conv for conv).
      expand_filters: explicit expanded width instead of a ratio (MobileNetV3 tables).
      se_ratio: squeeze-and-excitation ratio in (0, 1], or None for no SE.
      skip: 'identity' residual (when stride 1 and in == out), 'pool' (pooled/projected shortcut
        on every layer), or 'none'.
      op: 'mbconv', 'sep' or 'conv'.
      activation: None means the model-wide activation.
    """

    num_repeat: int
    kernel_size: int
    stride: int
    output_filters: int
    input_filters: int | None = None
    expand_ratio: float = 1
    expand_filters: int | None = None
    se_ratio: float | None = None
    skip: Skip = "identity"
    op: Op = "mbconv"
    activation: Activation | None = None

    def __post_init__(self) -> None:
        for name in ("num_repeat", "kernel_size", "stride", "output_filters"):
            value = getattr(self, name)
            _check(
                checks.is_positive_int(value), f"{name} must be a positive integer; got {value!r}"
            )
        _check(self.kernel_size % 2 == 1, f"kernel_size must be odd; got {self.kernel_size}")
        _check(self.stride in STRIDES, f"stride must be one of {STRIDES}; got {self.stride}")
        if self.input_filters is not None:
            _check(
                checks.is_positive_int(self.input_filters),
                f"input_filters must be a positive integer or None; got {self.input_filters!r}",
            )
        _check(
            checks.is_number(self.expand_ratio) and self.expand_ratio >= 1,
            f"expand_ratio must be a number >= 1; got {self.expand_ratio!r}",
        )
        if self.expand_filters is not None:
            _check(
                checks.is_positive_int(self.expand_filters),
                f"expand_filters must be a positive integer or None; got {self.expand_filters!r}",
            )
            _check(
                self.expand_ratio == 1,
                "give either expand_ratio or expand_filters, not both; "
                f"got expand_ratio={self.expand_ratio!r}, expand_filters={self.expand_filters!r}",
            )
        if self.se_ratio is not None:
            _check(
                checks.is_number(self.se_ratio) and 0 < self.se_ratio <= 1,
                f"se_ratio must be in (0, 1] or None; got {self.se_ratio!r}",
            )
        _check(self.skip in SKIPS, f"skip must be one of {SKIPS}; got {self.skip!r}")
        _check(self.op in OPS, f"op must be one of {OPS}; got {self.op!r}")
        _check(
            self.op != "sep" or not self.is_expanded,
            f"op 'sep' (depthwise-separable) needs expansion 1; got expand_ratio="
            f"{self.expand_ratio!r}, expand_filters={self.expand_filters!r}",
        )
        if self.activation is not None:
            _check(
                self.activation in ACTIVATIONS,
                f"activation must be one of {ACTIVATIONS} or None; got {self.activation!r}",
            )

    @property
    def is_expanded(self) -> bool:
        """Whether the layer has an expansion step (1×1 conv for mbconv, wider k×k for conv)."""
        return self.expand_filters is not None or self.expand_ratio != 1

    def replace(self, **changes: object) -> BlockSpec:
        """A copy with `changes` applied (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class ArchSpec:
    """A whole network: stem conv, blocks, head, and the conventions that decide channel counts.

    Conventions (explicit, never inferred from the model name):
      activation: model-wide activation (stem, head, and blocks without their own).
      se_base: SE squeezes from the block's 'input' width (MnasNet) or the 'expanded' width
        (MobileNetV3).
      se_divisor: None → squeeze width `max(1, int(base * ratio))` (MnasNet); an int → rounded
        with `make_divisible(base * ratio, se_divisor)` (MobileNetV3).
      se_gate: 'sigmoid' (MnasNet) or 'hard_sigmoid' (MobileNetV3).
      round_expanded: round expanded widths to a multiple of 8 (MobileNetV3) instead of taking
        the exact product (MnasNet, MobileNetV2).
      head_filters: 1×1 conv after the last block (with BN and activation); None for none.
      head_scaling: how the width multiplier touches head_filters: 'fixed' (MnasNet), 'grow_only'
        (MobileNetV2: only widths > 1), or 'width' (always).
      pre_logits_filters: pooled 1×1 conv with bias and no BN before the classifier (MobileNetV3);
        scales with 'grow_only'.
    """

    blocks: tuple[BlockSpec, ...]
    stem_filters: int = 32
    stem_kernel_size: int = 3
    stem_stride: int = 2
    head_filters: int | None = 1280
    head_scaling: Literal["fixed", "grow_only", "width"] = "fixed"
    pre_logits_filters: int | None = None
    activation: Activation = "relu"
    se_base: Literal["input", "expanded"] = "input"
    se_divisor: int | None = None
    se_gate: Literal["sigmoid", "hard_sigmoid"] = "sigmoid"
    round_expanded: bool = False
    dropout_rate: float = 0.2
    name: str = "custom"

    def __post_init__(self) -> None:
        if isinstance(self.blocks, list):
            object.__setattr__(self, "blocks", tuple(self.blocks))
        _check(
            isinstance(self.blocks, tuple) and len(self.blocks) > 0,
            f"an architecture needs at least one block; got {self.blocks!r}",
        )
        for index, block in enumerate(self.blocks, start=1):
            _check(
                isinstance(block, BlockSpec),
                f"block {index}: expected a BlockSpec; got {type(block).__name__}",
            )
        for name in ("stem_filters", "stem_kernel_size", "stem_stride"):
            value = getattr(self, name)
            _check(
                checks.is_positive_int(value), f"{name} must be a positive integer; got {value!r}"
            )
        for name in ("head_filters", "pre_logits_filters", "se_divisor"):
            value = getattr(self, name)
            _check(
                value is None or checks.is_positive_int(value),
                f"{name} must be a positive integer or None; got {value!r}",
            )
        _check(
            self.activation in ACTIVATIONS,
            f"activation must be one of {ACTIVATIONS}; got {self.activation!r}",
        )
        _check(self.se_base in SE_BASES, f"se_base must be one of {SE_BASES}; got {self.se_base!r}")
        _check(self.se_gate in SE_GATES, f"se_gate must be one of {SE_GATES}; got {self.se_gate!r}")
        _check(
            self.head_scaling in HEAD_SCALINGS,
            f"head_scaling must be one of {HEAD_SCALINGS}; got {self.head_scaling!r}",
        )
        _check(
            checks.is_number(self.dropout_rate) and 0 <= self.dropout_rate < 1,
            f"dropout_rate must be in [0, 1); got {self.dropout_rate!r}",
        )
        _check(
            isinstance(self.round_expanded, bool),
            f"round_expanded must be True or False; got {self.round_expanded!r}",
        )
        _check(
            isinstance(self.name, str) and bool(self.name.strip()),
            f"name must be a non-empty string; got {self.name!r}",
        )

    # ---- derived per-layer quantities (the builder and stats both read these) ----

    def layers(self) -> list[LayerSpec]:
        """Every layer of every block with its real channel counts, in order."""
        result = []
        channels = self.stem_filters
        for block_index, block in enumerate(self.blocks, start=1):
            for repeat in range(block.num_repeat):
                first = repeat == 0
                declared_in = (
                    block.input_filters
                    if first and block.input_filters is not None
                    else (channels if first else block.output_filters)
                )
                expanded = (
                    self.expanded_width(block, declared_in) if block.is_expanded else channels
                )
                result.append(
                    LayerSpec(
                        block_index=block_index,
                        layer_index=repeat,
                        block=block,
                        in_channels=channels,
                        declared_in=declared_in,
                        out_channels=block.output_filters,
                        stride=block.stride if first else 1,
                        expanded=expanded,
                        se_filters=self.se_width(block, declared_in, expanded),
                        activation=block.activation or self.activation,
                    )
                )
                channels = block.output_filters
        return result

    def expanded_width(self, block: BlockSpec, declared_in: int) -> int:
        """Channels after the expansion step of one layer of `block`."""
        if block.expand_filters is not None:
            return block.expand_filters
        width = declared_in * block.expand_ratio
        if self.round_expanded:
            return make_divisible(width, 8)
        return int(round(width))

    def se_width(self, block: BlockSpec, declared_in: int, expanded: int) -> int | None:
        """Squeeze width of the SE module of one layer of `block`, or None without SE."""
        if block.se_ratio is None:
            return None
        base = declared_in if self.se_base == "input" else expanded
        if self.se_divisor is None:
            return max(1, int(base * block.se_ratio))
        return make_divisible(base * block.se_ratio, self.se_divisor)

    @property
    def output_filters(self) -> int:
        """Channels of the feature map the classifier pools."""
        return self.head_filters or self.blocks[-1].output_filters

    def replace(self, **changes: object) -> ArchSpec:
        """A copy with `changes` applied (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """One concrete layer of an ArchSpec with its real channel counts (derived, never stored)."""

    block_index: int
    layer_index: int
    block: BlockSpec
    in_channels: int
    declared_in: int
    out_channels: int
    stride: int
    expanded: int
    se_filters: int | None
    activation: str

    @property
    def name(self) -> str:
        """Layer-name prefix, e.g. 'block3b' for the second layer of block 3."""
        return f"block{self.block_index}{_letters(self.layer_index)}"

    @property
    def has_residual(self) -> bool:
        """Whether an identity residual is added (skip on, stride 1, in == out)."""
        return (
            self.block.skip == "identity"
            and self.stride == 1
            and self.declared_in == self.out_channels
            and self.in_channels == self.out_channels
        )


def _letters(index: int) -> str:
    """0 → 'a', 25 → 'z', 26 → 'ba' (layer letters in layer names)."""
    letters = ""
    while True:
        letters = chr(ord("a") + index % 26) + letters
        index //= 26
        if index == 0:
            return letters


def scale_filters(
    filters: int, width: float, *, divisor: int = 8, min_depth: int | None = None
) -> int:
    """Scales a channel count by `width`, rounded to `divisor` (unchanged at width 1.0, as in the
    reference MnasNet)."""
    if width == 1.0:
        return filters
    return make_divisible(filters * width, divisor, min_depth)


def scale_arch(
    arch: ArchSpec,
    *,
    width: float = 1.0,
    depth: float = 1.0,
    divisor: int = 8,
    min_depth: int | None = None,
) -> ArchSpec:
    """Returns `arch` with channels scaled by `width` and repeats by `depth` (ceil, as in
    EfficientNet). Stem and block widths always scale; the head follows `arch.head_scaling`."""
    _check(checks.is_number(width) and width > 0, f"width must be a positive number; got {width!r}")
    _check(checks.is_number(depth) and depth > 0, f"depth must be a positive number; got {depth!r}")
    if width == 1.0 and depth == 1.0:
        return arch

    def sf(filters: int) -> int:
        return scale_filters(filters, width, divisor=divisor, min_depth=min_depth)

    blocks = tuple(
        block.replace(
            output_filters=sf(block.output_filters),
            input_filters=None if block.input_filters is None else sf(block.input_filters),
            expand_filters=None if block.expand_filters is None else sf(block.expand_filters),
            num_repeat=int(math.ceil(block.num_repeat * depth)),
        )
        for block in arch.blocks
    )
    head = arch.head_filters
    if head is not None and (
        arch.head_scaling == "width" or (arch.head_scaling == "grow_only" and width > 1.0)
    ):
        head = sf(head)
    pre_logits = arch.pre_logits_filters
    if pre_logits is not None and width > 1.0:
        pre_logits = sf(pre_logits)
    return arch.replace(
        blocks=blocks,
        stem_filters=sf(arch.stem_filters),
        head_filters=head,
        pre_logits_filters=pre_logits,
    )
