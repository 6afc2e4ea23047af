"""The widths NetAdapt may shrink, and the architecture each shrink gives.

Owns `WidthUnit` (one independently shrinkable width of an `ArchSpec`), `width_units` (every
unit of an architecture), `candidate_widths`, `shrink` (the architecture with one unit at a
smaller width, or None when that would change the network's topology) and `propose` (per unit,
the largest narrower width that meets a latency cut: NetAdapt's proposals). Kinds of unit:

- 'expansion': the expanded width of one expanded block (MobileNetV3's "reduce an expansion
  layer"). An explicit width (`x88`) or a one-layer block becomes `expand_filters`; a
  multi-layer block with a ratio keeps a (smaller) ratio, so its first layer shrinks in step.
- 'width': the output width of a residual chain: the stem and/or consecutive blocks whose
  outputs are added together (MobileNetV3's "reduce the bottleneck of all blocks sharing it").
  They shrink together so every residual survives; a declared `input_filters` that named the old
  width follows it.
- 'head', 'pre_logits': the 1×1 head conv and the pooled pre-logits conv.

Widths step down by 8 channels (the divisor the whole project rounds to) to at least 8.
Pure Python: must not import TensorFlow or Keras.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from mnasnet_tf import specs

DIVISOR = 8
MIN_WIDTH = 8
Kind = Literal["expansion", "width", "head", "pre_logits"]


@dataclasses.dataclass(frozen=True)
class WidthUnit:
    """One shrinkable width.

    Attributes:
      kind: 'expansion', 'width', 'head' or 'pre_logits'.
      blocks: 1-based indices of the blocks it touches (a chain for 'width', one block for
        'expansion', none for the head units).
      stem: whether a 'width' chain starts at the stem.
    """

    kind: Kind
    blocks: tuple[int, ...] = ()
    stem: bool = False

    @property
    def name(self) -> str:
        """Short label, e.g. 'expand3', 'width4-6', 'width0-1' (0 = the stem), 'head'."""
        if self.kind == "expansion":
            return f"expand{self.blocks[0]}"
        if self.kind == "width":
            members = ([0] if self.stem else []) + list(self.blocks)
            first, last = members[0], members[-1]
            return f"width{first}" if first == last else f"width{first}-{last}"
        return self.kind


def _ties_to_previous(arch: specs.ArchSpec, index: int) -> bool:
    """Whether block `index` (0-based)'s first layer adds its input to its output, so its
    output width must equal the width before it."""
    first = next(layer for layer in arch.layers() if layer.block_index == index + 1)
    if first.has_residual:
        return True
    return first.block.skip == "pool" and first.in_channels == first.out_channels


def _position(unit: WidthUnit) -> float:
    """Network order: a chain at its first member (0 = the stem), a block's expansion just after
    the chain the block starts."""
    if unit.kind == "width":
        return 0 if unit.stem else unit.blocks[0]
    return unit.blocks[0] + 0.5


def width_units(arch: specs.ArchSpec) -> list[WidthUnit]:
    """Every unit of `arch`, in network order (stem/blocks, then head and pre-logits)."""
    units: list[WidthUnit] = []
    chain: list[int] = []  # 0 = the stem, i = block i
    chains = []
    for index in range(len(arch.blocks)):
        if index == 0:
            chain = [0]
        if _ties_to_previous(arch, index):
            chain.append(index + 1)
        else:
            chains.append(chain)
            chain = [index + 1]
    chains.append(chain)
    for members in chains:
        units.append(
            WidthUnit(kind="width", blocks=tuple(m for m in members if m), stem=0 in members)
        )
    for index, block in enumerate(arch.blocks, start=1):
        if block.is_expanded and block.op in ("mbconv", "conv"):
            units.append(WidthUnit(kind="expansion", blocks=(index,)))
    units.sort(key=_position)
    if arch.head_filters is not None:
        units.append(WidthUnit(kind="head"))
    if arch.pre_logits_filters is not None:
        units.append(WidthUnit(kind="pre_logits"))
    return units


def current_width(arch: specs.ArchSpec, unit: WidthUnit) -> int:
    """The unit's width in `arch` (for 'expansion': the expanded width of the block's last
    layer)."""
    if unit.kind == "width":
        return (
            arch.stem_filters if not unit.blocks else arch.blocks[unit.blocks[0] - 1].output_filters
        )
    if unit.kind == "expansion":
        layer = [layer for layer in arch.layers() if layer.block_index == unit.blocks[0]][-1]
        return layer.expanded
    if unit.kind == "head":
        return int(arch.head_filters)
    return int(arch.pre_logits_filters)


def candidate_widths(arch: specs.ArchSpec, unit: WidthUnit) -> list[int]:
    """Smaller widths to try for `unit`, largest first: multiples of 8 below the current width,
    down to 8."""
    width = current_width(arch, unit)
    top = (width - 1) // DIVISOR * DIVISOR
    return list(range(top, MIN_WIDTH - 1, -DIVISOR))


def _topology(arch: specs.ArchSpec) -> list[tuple]:
    """What must not change when a width shrinks: per layer, its residual, its shortcut
    projection, its expansion step and its SE."""
    return [
        (
            layer.name,
            layer.has_residual,
            layer.block.skip == "pool" and layer.in_channels != layer.out_channels,
            layer.block.is_expanded,
            layer.se_filters is not None,
        )
        for layer in arch.layers()
    ]


def _shrink_chain(arch: specs.ArchSpec, unit: WidthUnit, width: int) -> specs.ArchSpec:
    old = current_width(arch, unit)
    blocks = list(arch.blocks)
    after = (unit.blocks[-1] if unit.blocks else 0) + 1  # the block fed by the chain
    for index in (*unit.blocks, after):
        if index > len(blocks):
            continue
        block = blocks[index - 1]
        changes: dict = {}
        if index in unit.blocks:
            changes["output_filters"] = width
        starts_chain = unit.blocks and index == unit.blocks[0] and not unit.stem
        if block.input_filters == old and not starts_chain:
            changes["input_filters"] = width
        if changes:
            blocks[index - 1] = block.replace(**changes)
    changes = {"blocks": tuple(blocks)}
    if unit.stem:
        changes["stem_filters"] = width
    return arch.replace(**changes)


def _shrink_expansion(arch: specs.ArchSpec, index: int, width: int) -> specs.ArchSpec:
    block = arch.blocks[index - 1]
    if block.expand_filters is not None or block.num_repeat == 1:
        new = block.replace(expand_ratio=1, expand_filters=width)
    else:
        ratio = round(width / block.output_filters, 4)
        if ratio <= 1:
            raise ValueError("ratio would drop the expansion")
        new = block.replace(expand_ratio=ratio)
    blocks = list(arch.blocks)
    blocks[index - 1] = new
    return arch.replace(blocks=tuple(blocks))


def shrink(arch: specs.ArchSpec, unit: WidthUnit, width: int) -> specs.ArchSpec | None:
    """`arch` with `unit` at `width` channels (named '<name>-<unit>'), or None when that width
    would add or drop a residual, a shortcut projection, an expansion step or an SE module.

    Raises:
      ValueError: if `width` is not smaller than the unit's current width or below 8.
    """
    old = current_width(arch, unit)
    if not isinstance(width, int) or not MIN_WIDTH <= width < old:
        raise ValueError(
            f"{unit.name}: the new width must be an integer in [{MIN_WIDTH}, {old}); got {width!r}"
        )
    try:
        if unit.kind == "width":
            new = _shrink_chain(arch, unit, width)
        elif unit.kind == "expansion":
            new = _shrink_expansion(arch, unit.blocks[0], width)
        elif unit.kind == "head":
            new = arch.replace(head_filters=width)
        else:
            new = arch.replace(pre_logits_filters=width)
    except ValueError:
        return None
    if _topology(new) != _topology(arch):
        return None
    return new


@dataclasses.dataclass
class Proposal:
    """A narrower architecture NetAdapt may keep: `unit` at `width`, its estimated latency cut,
    and (once fine-tuned by the loop) its model and held-out accuracy."""

    unit: WidthUnit
    width: int
    arch: specs.ArchSpec
    cut_ms: float
    model: Any = None
    accuracy: float = 0.0


def propose(arch: specs.ArchSpec, estimator: Any, estimate: float, cut: float) -> list[Proposal]:
    """Per unit, the largest narrower width whose estimated cut (`estimate` minus
    `estimator.estimate(narrower arch)`) reaches `cut`, found by bisection over the widths that
    keep the topology (latency is taken to fall with width). When no unit reaches the cut, each
    unit that can still save anything proposes its narrowest width."""
    reaching, fallback = [], []
    for unit in width_units(arch):
        options = [(w, a) for w in candidate_widths(arch, unit) if (a := shrink(arch, unit, w))]
        if not options:
            continue
        narrowest_cut = estimate - estimator.estimate(options[-1][1])
        if narrowest_cut < cut:
            if narrowest_cut > 0:
                fallback.append(Proposal(unit, *options[-1], cut_ms=narrowest_cut))
            continue
        low, high = 0, len(options) - 1  # options[high] reaches the cut
        while low < high:
            middle = (low + high) // 2
            if estimate - estimator.estimate(options[middle][1]) >= cut:
                high = middle
            else:
                low = middle + 1
        width, new = options[high]
        reaching.append(Proposal(unit, width, new, cut_ms=estimate - estimator.estimate(new)))
    return reaching or fallback


def describe(arch: specs.ArchSpec, units: list[WidthUnit] | None = None) -> dict[str, int]:
    """{unit name: width} for every unit of `arch` (what trajectory.csv records)."""
    return {unit.name: current_width(arch, unit) for unit in units or width_units(arch)}
