"""Analytic parameter and multiply-add counts of an ArchSpec, per block.

Owns the cost model that mirrors `blocks.py` layer by layer (so the totals equal Keras' trainable
parameter count of `builder.build_model`), the spatial size of every layer's input, and the
table of models × widths that the `mnasnet-models` binary (stats_main.py) prints.

Counted:
- parameters: every trainable weight — conv and depthwise kernels, biases of the SE convs, the
  pre-logits conv and the classifier, and BatchNormalization gamma and beta (2·C per BN; the
  moving mean and variance are not trainable and not counted).
- MACs (multiply-adds): regular, 1×1 and depthwise convolutions at their output resolution, the
  SE convs, the pre-logits conv and the classifier. Not counted: BN (folded at inference),
  activations, bias adds, residual adds, pooling, the SE multiply and the input rescaling.
Padding is 'same': a stride-s layer maps size n to ceil(n / s).

Must not import TensorFlow, Keras or absl (zoo.py, imported lazily, is TF-free).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from mnasnet_tf import arch_string, specs
from tflite_bench import checks


@dataclasses.dataclass(frozen=True)
class Cost:
    """Trainable parameters and multiply-adds of one piece of a network."""

    params: int = 0
    macs: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.params + other.params, self.macs + other.macs)


@dataclasses.dataclass(frozen=True)
class StatsRow:
    """One row of the per-block table.

    Attributes:
      name: 'stem', 'block<i>', 'head' or 'top' (pre-logits conv and classifier).
      block_index: 1-based block index, 0 for the stem, None for head and top.
      block_string: canonical block string for blocks, a short description otherwise.
      params, macs: trainable parameters and multiply-adds of the row.
      output_hw: spatial size of the row's output.
      output_channels: channels of the row's output (classes for 'top').
    """

    name: str
    block_index: int | None
    block_string: str
    params: int
    macs: int
    output_hw: tuple[int, int]
    output_channels: int


@dataclasses.dataclass(frozen=True)
class ArchStats:
    """Totals and per-block rows of `arch_stats`."""

    arch_name: str
    image_size: tuple[int, int]
    params: int
    macs: int
    rows: tuple[StatsRow, ...]

    @property
    def block_rows(self) -> tuple[StatsRow, ...]:
        """Only the rows of the blocks (stem, head and top excluded)."""
        return tuple(row for row in self.rows if row.name.startswith("block"))


def _out(size: int, stride: int) -> int:
    return math.ceil(size / stride)


def _conv(cin: int, cout: int, kernel: int, out_hw: tuple[int, int], *, bn: bool = True) -> Cost:
    """A conv without bias (+ BN) or, with `bn=False`, with bias."""
    weights = kernel * kernel * cin * cout
    extra = 2 * cout if bn else cout
    return Cost(weights + extra, weights * out_hw[0] * out_hw[1])


def _image_hw(image_size: int | Sequence[int]) -> tuple[int, int]:
    size = image_size
    if checks.is_int(size):
        size = (size, size)
    if (
        not isinstance(size, Sequence)
        or len(size) != 2
        or not all(checks.is_positive_int(v) for v in size)
    ):
        raise ValueError(
            f"image_size must be a positive integer or (height, width); got {image_size!r}"
        )
    return int(size[0]), int(size[1])


def stem_cost(
    arch: specs.ArchSpec, *, input_hw: tuple[int, int], channels: int = 3
) -> tuple[Cost, tuple[int, int]]:
    """Cost and output size of the stem conv + BN on a `channels`-channel image."""
    out_hw = (_out(input_hw[0], arch.stem_stride), _out(input_hw[1], arch.stem_stride))
    return _conv(channels, arch.stem_filters, arch.stem_kernel_size, out_hw), out_hw


def layer_cost(
    layer: specs.LayerSpec, *, input_hw: tuple[int, int]
) -> tuple[Cost, tuple[int, int]]:
    """Cost and output size of one layer, mirroring `blocks.apply_layer`."""
    block = layer.block
    in_hw = input_hw
    out_hw = (_out(in_hw[0], layer.stride), _out(in_hw[1], layer.stride))
    k = block.kernel_size
    cost = Cost()
    if block.op == "conv":
        width = layer.expanded if block.is_expanded else layer.out_channels
        cost += _conv(layer.in_channels, width, k, out_hw)
    else:
        width = layer.expanded
        if block.is_expanded:
            cost += _conv(layer.in_channels, width, 1, in_hw)
        cost += Cost(k * k * width + 2 * width, k * k * width * out_hw[0] * out_hw[1])
    if layer.se_filters is not None:
        squeeze = layer.se_filters
        cost += Cost(2 * width * squeeze + squeeze + width, 2 * width * squeeze)
    if block.op != "conv" or block.is_expanded:
        cost += _conv(width, layer.out_channels, 1, out_hw)
    if block.skip == "pool" and layer.in_channels != layer.out_channels:
        cost += _conv(layer.in_channels, layer.out_channels, 1, out_hw)
    return cost, out_hw


def layer_input_sizes(
    arch: specs.ArchSpec, image_size: int | Sequence[int] = 224
) -> list[tuple[specs.LayerSpec, tuple[int, int]]]:
    """Every layer of `arch.layers()` with the spatial size of its input for an image of
    `image_size` (int or (height, width)), e.g. for building per-layer latency models."""
    hw = _image_hw(image_size)
    _, hw = stem_cost(arch, input_hw=hw)
    result = []
    for layer in arch.layers():
        result.append((layer, hw))
        hw = (_out(hw[0], layer.stride), _out(hw[1], layer.stride))
    return result


def arch_stats(
    arch: specs.ArchSpec,
    *,
    image_size: int | Sequence[int] = 224,
    classes: int = 1000,
    include_top: bool = True,
    channels: int = 3,
) -> ArchStats:
    """Parameters and MACs of `builder.build_model(arch, input_shape=(*image_size, channels),
    classes=classes, include_top=include_top)`, in total and per block (see module docstring)."""
    if not isinstance(arch, specs.ArchSpec):
        raise ValueError(f"arch must be an ArchSpec; got {type(arch).__name__}: {arch!r}")
    if not checks.is_positive_int(classes):
        raise ValueError(f"classes must be a positive integer; got {classes!r}")
    image_hw = _image_hw(image_size)
    rows = []
    stem, hw = stem_cost(arch, input_hw=image_hw, channels=channels)
    stem_desc = f"conv{arch.stem_kernel_size}x{arch.stem_kernel_size}/{arch.stem_stride}"
    rows.append(StatsRow("stem", 0, stem_desc, stem.params, stem.macs, hw, arch.stem_filters))
    layers = arch.layers()
    for index, block in enumerate(arch.blocks, start=1):
        cost = Cost()
        for layer in (item for item in layers if item.block_index == index):
            layer_total, hw = layer_cost(layer, input_hw=hw)
            cost += layer_total
        rows.append(
            StatsRow(
                f"block{index}",
                index,
                arch_string.encode_block(block),
                cost.params,
                cost.macs,
                hw,
                block.output_filters,
            )
        )
    channels_now = arch.blocks[-1].output_filters
    if arch.head_filters is not None:
        head = _conv(channels_now, arch.head_filters, 1, hw)
        rows.append(
            StatsRow("head", None, "conv1x1", head.params, head.macs, hw, arch.head_filters)
        )
        channels_now = arch.head_filters
    if include_top:
        top = Cost()
        if arch.pre_logits_filters is not None:
            top += _conv(channels_now, arch.pre_logits_filters, 1, (1, 1), bn=False)
            channels_now = arch.pre_logits_filters
        top += _conv(channels_now, classes, 1, (1, 1), bn=False)
        desc = "pre_logits+dense" if arch.pre_logits_filters is not None else "dense"
        rows.append(StatsRow("top", None, desc, top.params, top.macs, (1, 1), classes))
    return ArchStats(
        arch_name=arch.name,
        image_size=image_hw,
        params=sum(row.params for row in rows),
        macs=sum(row.macs for row in rows),
        rows=tuple(rows),
    )


def table_rows(
    models: Sequence[str] = (),
    *,
    widths: Sequence[float] = (1.0,),
    image_size: int | Sequence[int] = 224,
) -> list[tuple[str, float, ArchStats]]:
    """(model, width, stats) for each of `models` (zoo names, arch strings or arch JSON paths,
    as `zoo.resolve_arch` takes them; empty: every zoo model) at each of `widths`: the rows of
    `format_table`. Raises ValueError naming a model or width it cannot resolve."""
    from mnasnet_tf import zoo

    rows = []
    for name in models or zoo.list_models():
        for width in widths:
            arch = zoo.resolve_arch(name, width=width)
            rows.append((name, width, arch_stats(arch, image_size=image_size)))
    return rows


def format_table(stats: Sequence[tuple[str, float, ArchStats]]) -> str:
    """A plain-text table of (model name, width, stats) rows."""
    header = f"{'model':<22} {'width':>5} {'resolution':>10} {'params (M)':>10} {'MACs (M)':>9}"
    lines = [header, "-" * len(header)]
    for name, width, item in stats:
        resolution = "x".join(str(v) for v in item.image_size)
        lines.append(
            f"{name:<22} {width:>5g} {resolution:>10} {item.params / 1e6:>10.3f} "
            f"{item.macs / 1e6:>9.1f}"
        )
    return "\n".join(lines)
