"""MnasNet's factorized hierarchical search space: the zoo's MobileNetV2 with decisions attached.

Owns `MnasNetSpace`, `mnasnet_space` (the paper's, DESIGN.md §4) and `mnasnet_extended_space`.
The template is the zoo's 'mobilenet-v2' ArchSpec (`mnasnet_tf.zoo`, the one definition of the
model): its 7 blocks after the stem, their strides, base filters c and layer counts n, its stem
and head. Each block gets its own six decisions (all layers of a block share them; only the
first layer strides), and every default is MobileNetV2's own choice:

| decision | values (paper) | builds |
|---|---|---|
| `blockN/conv_op` | conv, sep, mbconv_e3, mbconv_e6 | k×k conv; separable¹; MBConv ×3, ×6 |
| `blockN/kernel` | 3, 5 | kernel size |
| `blockN/se_ratio` | 0.0, 0.25 | no SE / SE 0.25 |
| `blockN/skip` | pool, identity, none | pooled shortcut / identity residual / no skip |
| `blockN/filters` | 0.75, 1.0, 1.25 | × MobileNetV2's filters, make_divisible(·, 8) |
| `blockN/layers` | -1, 0, 1 | + MobileNetV2's layer count (at least 1) |

¹ spelled as an expansion-1 MBConv (`e1`), as in the reference block strings.

S = 4·2·2·3·3·3 = 432 per block, 432**7 ≈ 2.8·10^18 points. The block input filters `i` are
the previous block's output (the stem's for block 1). The points share MnasNet's layer
conventions (those of the zoo's MnasNet-A1: ReLU, SE squeezing the declared block input with a
sigmoid gate, a head that width does not scale), not MobileNetV2's ReLU6 and growing head;
`with_conventions(activation='relu6', head_scaling='grow_only')` gives MobileNetV2's.

The paper's space as stated aliases some points: 0.75 and 1.0 × 16 both round to 16, 0.75 and
1.0 × 24 both to 24, and N − 1 = 0 layers becomes 1 in blocks 1 and 7.

**MnasNet-A1 and -B1 are not points of the paper's space as stated**: A1's block 5 has 112
filters (96 × 1.167; the choices are 72 / 96 / 120) and B1's block 6 has 192 (160 × 1.2; the
choices are 120 / 160 / 200). All their other choices are in the space. 'mnasnet-extended'
adds F = 1.2 (96 × 1.2 → 112, 160 × 1.2 → 192 after rounding) and removes every alias: each
block's filter and layer choices are the distinct widths and counts, labelled by value, so it
holds the paper's space, A1, B1 and MobileNetV2, and `from_arch(to_arch(c)) == c` everywhere.

Must not import TensorFlow, Keras or `search.spaces.registry` (which imports this module).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mnasnet_tf import arch_string, specs, zoo
from search.spaces.base import Decision, SearchSpace, arch_conventions, canonical_index

REFERENCE_MODEL = "mobilenet-v2"
"""The zoo model the space is a template over (blocks, stem, head; every decision's default)."""
CONVENTIONS_MODEL = "mnasnet-a1"
"""The zoo model whose layer conventions (`LAYER_CONVENTIONS`) every point shares."""
LAYER_CONVENTIONS = (
    "activation",
    "se_base",
    "se_divisor",
    "se_gate",
    "round_expanded",
    "head_scaling",
)
"""How layers are built (MnasNet's); the other model-wide fields (stem and head widths) are the
reference model's."""

CONV_OPS = {
    "conv": ("conv", 1),
    "sep": ("mbconv", 1),
    "mbconv_e3": ("mbconv", 3),
    "mbconv_e6": ("mbconv", 6),
}
"""conv_op label → (BlockSpec.op, expand_ratio). 'sep' is spelled as an expansion-1 MBConv, as
in the reference block strings ('r1_k3_s11_e1_i32_o16_noskip'); `from_arch` also accepts
op='sep'."""
KERNELS = (3, 5)
SE_RATIOS = (0.0, 0.25)
SKIPS = ("pool", "identity", "none")
PAPER_MULTIPLIERS = (0.75, 1.0, 1.25)
EXTENDED_MULTIPLIERS = (0.75, 1.0, 1.2, 1.25)
LAYER_DELTAS = (-1, 0, 1)
FIELDS = ("conv_op", "kernel", "se_ratio", "skip", "filters", "layers")
_SPEC_FIELDS = {"filters": "output_filters", "layers": "num_repeat", "kernel": "kernel_size"}


def mnasnet_conventions(reference: specs.ArchSpec) -> dict[str, Any]:
    """`reference`'s model-wide fields with the layer conventions of the zoo's MnasNet models."""
    mnasnet = zoo.get_arch(CONVENTIONS_MODEL)
    layer = {field: getattr(mnasnet, field) for field in LAYER_CONVENTIONS}
    return {**arch_conventions(reference), **layer}


class MnasNetSpace(SearchSpace):
    """One block of six decisions per block of a reference model; see the module docstring.

    Args:
      name: the space's name.
      reference: the template (a zoo ArchSpec): each block's stride is fixed, its output
        filters and layer count are the bases of the filter and layer choices, and its own
        choices are the defaults. ValueError when it is not the space's default point.
      filter_choices: per block, (label, output filters) pairs.
      layer_choices: per block, (label, layer count) pairs.
      conventions: ArchSpec fields shared by every point (default: the reference's).
    """

    def __init__(
        self,
        *,
        name: str,
        reference: specs.ArchSpec,
        filter_choices: Sequence[Sequence[tuple[float | int, int]]],
        layer_choices: Sequence[Sequence[tuple[int, int]]],
        conventions: Mapping[str, Any] | None = None,
    ) -> None:
        if not len(reference.blocks) == len(filter_choices) == len(layer_choices):
            raise ValueError(
                f"space {name!r}: filter_choices and layer_choices need one row per block of "
                f"{reference.name!r} ({len(reference.blocks)}); got {len(filter_choices)} and "
                f"{len(layer_choices)}"
            )
        self.reference = reference
        self.filter_widths = tuple(tuple(w for _, w in row) for row in filter_choices)
        self.layer_counts = tuple(tuple(n for _, n in row) for row in layer_choices)
        decisions = []
        in_filters = reference.stem_filters
        for b, block in enumerate(reference.blocks, start=1):
            declared_in = in_filters if block.input_filters is None else block.input_filters
            filters = [label for label, _ in filter_choices[b - 1]]
            layers = [label for label, _ in layer_choices[b - 1]]
            decisions += [
                Decision.with_default(
                    f"block{b}/conv_op",
                    tuple(CONV_OPS),
                    self._conv_op(reference, block, declared_in),
                ),
                Decision.with_default(f"block{b}/kernel", KERNELS, block.kernel_size),
                Decision.with_default(f"block{b}/se_ratio", SE_RATIOS, block.se_ratio or 0.0),
                Decision.with_default(f"block{b}/skip", SKIPS, block.skip),
                Decision(
                    f"block{b}/filters",
                    tuple(filters),
                    _base_index(filter_choices[b - 1], block.output_filters),
                ),
                Decision(
                    f"block{b}/layers",
                    tuple(layers),
                    _base_index(layer_choices[b - 1], block.num_repeat),
                ),
            ]
            in_filters = block.output_filters
        if conventions is None:
            conventions = arch_conventions(reference)
        super().__init__(name=name, decisions=decisions, conventions=conventions)
        if self.from_arch(reference, check_conventions=False) != self.default_choices():
            raise ValueError(f"space {name!r}: {reference.name!r} is not its default point")

    def part_groups(self) -> list[tuple[int, ...]]:
        """Per block, its six decisions and the previous block's filters (its input width):
        nothing else changes the stem, a layer or the head (strides are fixed)."""
        width = len(FIELDS)
        filters = FIELDS.index("filters")
        groups = []
        for b in range(len(self.reference.blocks)):
            own = tuple(range(b * width, (b + 1) * width))
            groups.append(own if b == 0 else ((b - 1) * width + filters, *own))
        return groups

    def _block_decisions(self, b: int) -> tuple[Decision, ...]:
        return self.decisions[b * len(FIELDS) : (b + 1) * len(FIELDS)]

    def _build(self, choices: list[int]) -> list[specs.BlockSpec]:
        blocks = []
        in_filters = self.convention("stem_filters")
        for b, template in enumerate(self.reference.blocks):
            op_i, k_i, se_i, skip_i, f_i, n_i = choices[b * len(FIELDS) : (b + 1) * len(FIELDS)]
            op, expand = CONV_OPS[list(CONV_OPS)[op_i]]
            se_ratio = SE_RATIOS[se_i]
            block = specs.BlockSpec(
                num_repeat=self.layer_counts[b][n_i],
                kernel_size=KERNELS[k_i],
                stride=template.stride,
                output_filters=self.filter_widths[b][f_i],
                input_filters=in_filters,
                expand_ratio=expand,
                se_ratio=se_ratio or None,
                skip=SKIPS[skip_i],
                op=op,
            )
            blocks.append(block)
            in_filters = block.output_filters
        return blocks

    def _parse(self, arch: specs.ArchSpec) -> list[int]:
        if len(arch.blocks) != len(self.reference.blocks):
            raise ValueError(
                f"arch {arch.name!r} has {len(arch.blocks)} blocks; space {self.name!r} has "
                f"{len(self.reference.blocks)}"
            )
        choices: list[int] = []
        in_filters = arch.stem_filters
        rows = zip(arch.blocks, self.reference.blocks, strict=True)
        for b, (block, template) in enumerate(rows):
            where = f"block {b + 1} ({arch_string.encode_block(block)!r})"

            def fail(field: str, value: object, allowed: object, where: str = where) -> ValueError:
                return ValueError(
                    f"{where} is not a point of space {self.name!r}: {field} {value!r} is not "
                    f"one of {allowed}"
                )

            if block.stride != template.stride:
                raise fail("stride", block.stride, (template.stride,))
            if block.input_filters not in (None, in_filters):
                raise fail("input_filters", block.input_filters, (None, in_filters))
            if block.activation is not None:
                raise fail("activation", block.activation, (None,))
            declared_in = in_filters if block.input_filters is None else block.input_filters
            op_label = self._conv_op(arch, block, declared_in)
            if op_label is None:
                shown = f"op={block.op}, e={block.expand_ratio}, x={block.expand_filters}"
                raise fail("conv_op", shown, tuple(CONV_OPS))
            observed = {
                "conv_op": op_label,
                "kernel": block.kernel_size,
                "se_ratio": block.se_ratio or 0.0,
                "skip": block.skip,
                "filters": block.output_filters,
                "layers": block.num_repeat,
            }
            built = {  # what each choice index of each decision builds
                "conv_op": tuple(CONV_OPS),
                "kernel": KERNELS,
                "se_ratio": SE_RATIOS,
                "skip": SKIPS,
                "filters": self.filter_widths[b],
                "layers": self.layer_counts[b],
            }
            for decision, field in zip(self._block_decisions(b), FIELDS, strict=True):
                options, value = built[field], observed[field]
                index = canonical_index(decision, lambda i, o=options, v=value: o[i] == v)
                if index is None:
                    raise fail(_SPEC_FIELDS.get(field, field), value, options)
                choices.append(index)
            in_filters = block.output_filters
        return choices

    @staticmethod
    def _conv_op(arch: specs.ArchSpec, block: specs.BlockSpec, declared_in: int) -> str | None:
        """The conv_op label that builds `block`'s layers, or None."""
        if block.op == "conv":
            return None if block.is_expanded else "conv"
        if not block.is_expanded:
            return "sep"
        width = arch.expanded_width(block, declared_in)
        for label, (_, ratio) in CONV_OPS.items():
            candidate = specs.BlockSpec(1, 3, 1, 8, expand_ratio=ratio)
            if ratio != 1 and arch.expanded_width(candidate, declared_in) == width:
                return label
        return None


def _base_index(pairs: Sequence[tuple[float | int, int]], base: int) -> int:
    """The index of MobileNetV2's own value: among the (label, value) pairs whose value is
    `base`, the one labelled ×1.0 / +0 / by the value itself (else the first)."""
    matches = [i for i, (_, value) in enumerate(pairs) if value == base]
    if not matches:
        raise ValueError(f"the choices {[v for _, v in pairs]} do not include the base {base}")
    return next((i for i in matches if pairs[i][0] in (1.0, 0, base)), matches[0])


def _dedupe(pairs: list[tuple[float | int, int]], *, by_value: bool) -> list:
    """With `by_value`, distinct values labelled by themselves (sorted); else unchanged."""
    if not by_value:
        return pairs
    return [(value, value) for value in sorted({value for _, value in pairs})]


def mnasnet_space(
    *,
    multipliers: Sequence[float] = PAPER_MULTIPLIERS,
    layer_deltas: Sequence[int] = LAYER_DELTAS,
    dedupe: bool = False,
    name: str = "mnasnet",
    reference: str = REFERENCE_MODEL,
    conventions: Mapping[str, Any] | None = None,
) -> MnasNetSpace:
    """The paper's space (defaults) around zoo model `reference`: filters = multiplier × its
    filters (make_divisible 8), layers = its layer count + delta (≥ 1), MnasNet's conventions
    unless `conventions` are given. With `dedupe`, aliases are removed and the filter and layer
    labels are the widths and counts themselves."""
    arch = zoo.get_arch(reference)
    filter_choices, layer_choices = [], []
    for block in arch.blocks:
        c, n = block.output_filters, block.num_repeat
        filters = [(m, specs.make_divisible(c * m, 8)) for m in multipliers]
        layers = [(d, max(1, n + d)) for d in layer_deltas]
        filter_choices.append(_dedupe(filters, by_value=dedupe))
        layer_choices.append(_dedupe(layers, by_value=dedupe))
    return MnasNetSpace(
        name=name,
        reference=arch,
        filter_choices=filter_choices,
        layer_choices=layer_choices,
        conventions=mnasnet_conventions(arch) if conventions is None else conventions,
    )


def mnasnet_extended_space() -> MnasNetSpace:
    """The paper's space plus F = 1.2, without aliases: holds MnasNet-A1, -B1 and MobileNetV2."""
    return mnasnet_space(multipliers=EXTENDED_MULTIPLIERS, dedupe=True, name="mnasnet-extended")
