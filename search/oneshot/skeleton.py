"""The shape of a weight-sharing supernet, and one architecture as a path through it (no TF).

Owns `SlotShape` (one layer slot: the widest input, expansion, squeeze and output it ever has,
its largest kernel, the op kinds, skips and activations it can take, whether it can be absent),
`Skeleton` (the stem, the slots and the head of a whole search space, read from the points
`search/latency/coverage.py` enumerates, so every width any point can reach is covered) and
`Skeleton.encode` (an `ArchSpec` of the space → `Path`: per slot the masks and switches that
make the supernet compute exactly that architecture).

Weight sharing (TuNAS): a narrower input, expansion, squeeze or output uses the leading channels
of the widest; a smaller kernel the centre of the largest. The three op kinds — a regular k×k
conv, a separable conv (depthwise on the input, no expansion), an MBConv (1×1 expansion first) —
have separate weights: their depthwise and SE convs see different tensors.

`Skeleton.gate_sites` tells the differentiable search (search/oneshot/dnas.py) where each
decision acts, so its relaxed one-hot value can scale that place in the network.

Must not import TensorFlow or Keras (tests of the skeleton run in milliseconds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from mnasnet_tf import arch_string, specs
from search.latency import coverage
from search.spaces.base import NAME_SEPARATOR, SearchSpace

OP_KINDS = ("conv", "sep", "mbconv")
"""The supernet's op branches: regular conv (no expansion), separable (MBConv without the
expansion conv), MBConv (with it)."""
SKIP_KINDS = ("identity", "pool", "none")
SITES = ("op", "kernel", "se", "skip", "width", "present", "act")
"""Places in a layer slot that a decision's relaxed value can scale (see `gate_sites`)."""
FIELD_SITES = {
    "conv_op": "op",
    "expanded": "op",
    "kernel": "kernel",
    "se_ratio": "se",
    "skip": "skip",
    "filters": "width",
    "layers": "present",
    "activation": "act",
}
"""Last component of a decision's name → the site it acts on."""
FIXED_FIELDS = (
    "stem_filters",
    "stem_kernel_size",
    "stem_stride",
    "head_filters",
    "pre_logits_filters",
    "activation",
    "se_gate",
)


def op_kind(layer: specs.LayerSpec) -> str:
    """The supernet branch that computes `layer`; ValueError for a fused (expanded) conv."""
    if layer.block.op == "conv":
        if layer.block.is_expanded:
            raise ValueError(
                f"{layer.name} ({arch_string.encode_block(layer.block)!r}) is a fused MBConv "
                "(an expanded regular conv), which the one-shot supernet does not support"
            )
        return "conv"
    return "mbconv" if layer.block.is_expanded else "sep"


@dataclasses.dataclass(frozen=True)
class SlotShape:
    """One layer slot of the supernet: the maxima and options over every point of the space.

    `optional` slots exist in some points only (a layer beyond a stage's smallest depth); in
    them input and output widths are equal and the stride is 1, so an absent layer is the
    identity.
    """

    stage: int
    position: int
    stride: int
    in_max: int
    out_max: int
    expanded_max: int
    squeeze_max: int
    kernel_max: int
    ops: tuple[str, ...]
    skips: tuple[str, ...]
    activations: tuple[str, ...]
    optional: bool
    pool_conv: bool
    """Whether a pooled shortcut ever needs its 1×1 projection (input width ≠ output)."""

    @property
    def name(self) -> str:
        """'stage3/layer2' (both from 1)."""
        return f"stage{self.stage + 1}/layer{self.position + 1}"


@dataclasses.dataclass(frozen=True)
class Skeleton:
    """The stem, layer slots and head every point of a space shares; see the module docstring."""

    space_name: str
    slots: tuple[SlotShape, ...]
    fixed: dict[str, Any]
    decision_sizes: tuple[int, ...]
    decision_sites: tuple[tuple[str, tuple[int, ...]], ...]
    """Per decision: its site and the slots it acts on."""

    # ---- building ----

    @classmethod
    def from_space(cls, space: SearchSpace) -> Skeleton:
        """Reads the slots' maxima and options from the points that together hold every part
        of `space`. ValueError when the points do not share a stem and head, a slot's stride
        varies, or a layer is of a kind the supernet cannot hold."""
        found: dict[tuple[int, int], dict[str, Any]] = {}
        fixed: dict[str, Any] | None = None
        archs = 0
        for arch in coverage.covering_archs(space):
            archs += 1
            values = {field: getattr(arch, field) for field in FIXED_FIELDS}
            if fixed is None:
                fixed = values
            elif values != fixed:
                changed = [f for f in FIXED_FIELDS if values[f] != fixed[f]]
                raise ValueError(
                    f"space {space.name!r}: {changed} vary between points; the supernet needs "
                    "one stem and head"
                )
            present = set()
            for layer, key in zip(arch.layers(), space.layer_slots(arch), strict=True):
                present.add(key)
                slot = found.setdefault(
                    key,
                    {
                        "stride": layer.stride,
                        "in": 0,
                        "out": 0,
                        "expanded": 0,
                        "squeeze": 0,
                        "kernel": 0,
                        "ops": set(),
                        "skips": set(),
                        "activations": set(),
                        "absent": 0,
                        "seen": 0,
                        "pool_conv": False,
                        "square": True,
                    },
                )
                if slot["stride"] != layer.stride:
                    raise ValueError(
                        f"space {space.name!r}: slot {key} strides {slot['stride']} in one point "
                        f"and {layer.stride} in another; the supernet needs fixed strides"
                    )
                kind = op_kind(layer)
                slot["seen"] += 1
                slot["in"] = max(slot["in"], layer.in_channels)
                slot["out"] = max(slot["out"], layer.out_channels)
                if kind == "mbconv":
                    slot["expanded"] = max(slot["expanded"], layer.expanded)
                slot["squeeze"] = max(slot["squeeze"], layer.se_filters or 0)
                slot["kernel"] = max(slot["kernel"], layer.block.kernel_size)
                slot["ops"].add(kind)
                slot["skips"].add(layer.block.skip)
                slot["activations"].add(layer.activation)
                if layer.block.skip == "pool" and layer.in_channels != layer.out_channels:
                    slot["pool_conv"] = True
                if layer.in_channels != layer.out_channels or layer.stride != 1:
                    slot["square"] = False
            for key, slot in found.items():
                if key not in present:
                    slot["absent"] += 1
        if fixed is None:  # pragma: no cover - a space has at least its default point
            raise ValueError(f"space {space.name!r} has no points")
        missing_first = [k for k in found if k[1] > 0 and (k[0], k[1] - 1) not in found]
        if missing_first:
            raise ValueError(f"space {space.name!r}: slots {missing_first} have no predecessor")
        slots = []
        for key in sorted(found):
            slot = found[key]
            optional = slot["absent"] > 0 or slot["seen"] < archs
            if optional and not slot["square"]:
                raise ValueError(
                    f"space {space.name!r}: slot {key} is absent in some points but changes the "
                    "width or strides in others; the supernet cannot skip it"
                )
            slots.append(
                SlotShape(
                    stage=key[0],
                    position=key[1],
                    stride=slot["stride"],
                    in_max=slot["in"],
                    out_max=slot["out"],
                    expanded_max=slot["expanded"],
                    squeeze_max=slot["squeeze"],
                    kernel_max=slot["kernel"],
                    ops=tuple(k for k in OP_KINDS if k in slot["ops"]),
                    skips=tuple(k for k in SKIP_KINDS if k in slot["skips"]),
                    activations=tuple(sorted(slot["activations"])),
                    optional=optional,
                    pool_conv=slot["pool_conv"],
                )
            )
        return cls(
            space_name=space.name,
            slots=tuple(slots),
            fixed=fixed,
            decision_sizes=tuple(space.choice_sizes()),
            decision_sites=_decision_sites(space, slots),
        )

    # ---- one architecture as a path ----

    def slot_index(self) -> dict[tuple[int, int], int]:
        """(stage, position) → index into `slots`."""
        return {(s.stage, s.position): i for i, s in enumerate(self.slots)}

    def encode(
        self, space: SearchSpace, arch: specs.ArchSpec, *, widest: bool = False
    ) -> list[dict[str, np.ndarray]]:
        """Per slot, the float32 arrays that make the supernet compute `arch` (a point of
        `space`): `present`, `op` (one-hot over OP_KINDS), `kernel` (k_max × k_max centre
        mask), `act` (one-hot over the slot's activations), `in_mask`, `exp_mask`, `se`,
        `se_mask`, `out_mask`, `residual`, `pool`, `pool_conv`. Absent slots carry zeros.

        With `widest`, every present layer keeps its op, kernel, SE, skip and activation but
        takes its slot's widest input, expansion, squeeze and output (TuNAS's filter warm-up,
        which trains every channel; not a point of the space)."""
        index = self.slot_index()
        path = [self._empty(slot) for slot in self.slots]
        for layer, key in zip(arch.layers(), space.layer_slots(arch), strict=True):
            if key not in index:
                raise ValueError(f"{layer.name} sits in slot {key}, which the supernet lacks")
            slot = self.slots[index[key]]
            entry = path[index[key]]
            kind = op_kind(layer)
            if kind not in slot.ops or layer.activation not in slot.activations:
                raise ValueError(f"{layer.name}: {kind}/{layer.activation} not in {slot.name}")
            entry["present"][...] = 1.0
            entry["op"][OP_KINDS.index(kind)] = 1.0
            k = layer.block.kernel_size
            start = (slot.kernel_max - k) // 2
            entry["kernel"][start : start + k, start : start + k] = 1.0
            entry["act"][slot.activations.index(layer.activation)] = 1.0
            if widest:
                width_in, width_out = slot.in_max, slot.out_max
                expanded, squeeze = slot.expanded_max, slot.squeeze_max
                residual = layer.stride == 1 and width_in == width_out
            else:
                width_in, width_out = layer.in_channels, layer.out_channels
                expanded, squeeze = layer.expanded, layer.se_filters
                residual = layer.has_residual
            entry["in_mask"][:width_in] = 1.0
            if kind == "mbconv":
                entry["exp_mask"][:expanded] = 1.0
            if layer.se_filters is not None:
                entry["se"][...] = 1.0
                entry["se_mask"][:squeeze] = 1.0
            entry["out_mask"][:width_out] = 1.0
            skip = layer.block.skip
            if skip == "identity" and residual:
                entry["residual"][...] = 1.0
            elif skip == "pool":
                entry["pool"][...] = 1.0
                if width_in != width_out:
                    entry["pool_conv"][...] = 1.0
        return path

    @staticmethod
    def _empty(slot: SlotShape) -> dict[str, np.ndarray]:
        def zeros(*shape: int) -> np.ndarray:
            return np.zeros(shape, dtype=np.float32)

        return {
            "present": zeros(),
            "op": zeros(len(OP_KINDS)),
            "kernel": zeros(slot.kernel_max, slot.kernel_max),
            "act": zeros(len(slot.activations)),
            "in_mask": zeros(slot.in_max),
            "exp_mask": zeros(max(slot.expanded_max, 1)),
            "se": zeros(),
            "se_mask": zeros(max(slot.squeeze_max, 1)),
            "out_mask": zeros(slot.out_max),
            "residual": zeros(),
            "pool": zeros(),
            "pool_conv": zeros(),
        }

    # ---- where decisions act (the differentiable search) ----

    def gate_indices(self, choices: Sequence[int]) -> np.ndarray:
        """[slots, len(SITES)] int32: for each slot and site, the flat index (decision d,
        choice c → d · max_size + c) of the chosen value of the decision acting there, or
        `flat_size` (a constant 1) where none does."""
        width = max(self.decision_sizes)
        constant = len(self.decision_sizes) * width
        gates = np.full((len(self.slots), len(SITES)), constant, dtype=np.int32)
        for d, (site, slots) in enumerate(self.decision_sites):
            for s in slots:
                gates[s, SITES.index(site)] = d * width + int(choices[d])
        return gates

    def describe(self) -> str:
        """One line per slot (for logs and errors)."""
        lines = [f"supernet over {self.space_name!r}: {len(self.slots)} layer slots"]
        for s in self.slots:
            lines.append(
                f"  {s.name:<16} s{s.stride} in≤{s.in_max} e≤{s.expanded_max} "
                f"out≤{s.out_max} k≤{s.kernel_max} {'/'.join(s.ops)} "
                f"{'/'.join(s.skips)}{' optional' if s.optional else ''}"
            )
        return "\n".join(lines)


def _decision_sites(
    space: SearchSpace, slots: Sequence[SlotShape]
) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Per decision of `space`: (site, slot indices). Names are '<stage>N/<field>' or
    '<stage>N/layerJ/<field>' (both spaces' spelling); ValueError for a field no site knows."""
    result = []
    for name in space.names():
        parts = name.split(NAME_SEPARATOR)
        field = parts[-1]
        if field not in FIELD_SITES:
            raise ValueError(
                f"space {space.name!r}: decision {name!r} acts on a field ({field!r}) the "
                f"one-shot search does not know; known: {sorted(FIELD_SITES)}"
            )
        stage = int("".join(ch for ch in parts[0] if ch.isdigit())) - 1
        position = None
        if len(parts) == 3:
            position = int("".join(ch for ch in parts[1] if ch.isdigit())) - 1
        site = FIELD_SITES[field]
        chosen = tuple(
            i
            for i, s in enumerate(slots)
            if s.stage == stage
            and (position is None or s.position == position)
            and (site != "present" or s.optional)
        )
        result.append((site, chosen))
    return tuple(result)
