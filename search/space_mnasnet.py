"""MnasNet's factorized hierarchical search space on the MobileNetV2 skeleton (DESIGN.md §4).

B = 7 blocks after the stem, each with its own six decisions (all layers of a block share them;
only the first layer strides):

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
the previous block's output (the stem's for block 1). The defaults are MobileNetV2's blocks.

The paper's space as stated aliases some points: 0.75 and 1.0 × 16 both round to 16, 0.75 and
1.0 × 24 both to 24, and N − 1 = 0 layers becomes 1 in blocks 1 and 7.

**MnasNet-A1 and -B1 are not points of the paper's space as stated**: A1's block 5 has 112
filters (96 × 1.167; the choices are 72 / 96 / 120) and B1's block 6 has 192 (160 × 1.2; the
choices are 120 / 160 / 200). All their other choices are in the space. 'mnasnet-extended'
adds F = 1.2 (96 × 1.2 → 112, 160 × 1.2 → 192 after rounding) and removes every alias: each
block's filter and layer choices are the distinct widths and counts, labelled by value, so it
holds the paper's space, A1, B1 and MobileNetV2, and `from_arch(to_arch(c)) == c` everywhere.

Must not import TensorFlow or Keras.
"""

from __future__ import annotations

from collections.abc import Sequence

from mnasnet_tf import arch_string, specs
from search.space import Decision, SearchSpace, canonical_index

MOBILENET_V2_SKELETON = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                         (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip
"""MobileNetV2's blocks after the stem: (expansion t, filters c, layers n, stride s)."""

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


class MnasNetSpace(SearchSpace):
    """One block of six decisions per skeleton row; see the module docstring.

    Args:
      name: the space's name.
      skeleton: (t, c, n, s) rows; s is fixed, c and n are the bases of filters and layers.
      filter_choices: per block, (label, output filters) pairs.
      layer_choices: per block, (label, layer count) pairs.
      conventions: ArchSpec fields shared by every point (MnasNet's by default).
    """

    def __init__(
        self,
        *,
        name: str,
        skeleton: Sequence[tuple[int, int, int, int]],
        filter_choices: Sequence[Sequence[tuple[float | int, int]]],
        layer_choices: Sequence[Sequence[tuple[int, int]]],
        conventions: dict | None = None,
    ) -> None:
        if not len(skeleton) == len(filter_choices) == len(layer_choices):
            raise ValueError("skeleton, filter_choices and layer_choices need one row per block")
        self.skeleton = tuple(tuple(row) for row in skeleton)
        self.filter_widths = tuple(tuple(w for _, w in row) for row in filter_choices)
        self.layer_counts = tuple(tuple(n for _, n in row) for row in layer_choices)
        decisions = []
        for b, (t, c, n, _) in enumerate(self.skeleton, start=1):
            default_op = "sep" if t == 1 else f"mbconv_e{t}"
            filters = [label for label, _ in filter_choices[b - 1]]
            layers = [label for label, _ in layer_choices[b - 1]]
            decisions += [
                Decision(f"block{b}/conv_op", tuple(CONV_OPS), list(CONV_OPS).index(default_op)),
                Decision(f"block{b}/kernel", KERNELS, 0),
                Decision(f"block{b}/se_ratio", SE_RATIOS, 0),
                Decision(f"block{b}/skip", SKIPS, SKIPS.index("identity")),
                Decision(
                    f"block{b}/filters", tuple(filters), _base_index(filter_choices[b - 1], c)
                ),
                Decision(f"block{b}/layers", tuple(layers), _base_index(layer_choices[b - 1], n)),
            ]
        super().__init__(name=name, decisions=decisions, conventions=conventions or {})

    def _block_decisions(self, b: int) -> tuple[Decision, ...]:
        return self.decisions[b * len(FIELDS) : (b + 1) * len(FIELDS)]

    def _build(self, choices: list[int]) -> list[specs.BlockSpec]:
        blocks = []
        in_filters = self.convention("stem_filters")
        for b, (_, _, _, stride) in enumerate(self.skeleton):
            op_i, k_i, se_i, skip_i, f_i, n_i = choices[b * len(FIELDS) : (b + 1) * len(FIELDS)]
            op, expand = CONV_OPS[list(CONV_OPS)[op_i]]
            se_ratio = SE_RATIOS[se_i]
            block = specs.BlockSpec(
                num_repeat=self.layer_counts[b][n_i],
                kernel_size=KERNELS[k_i],
                stride=stride,
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
        if len(arch.blocks) != len(self.skeleton):
            raise ValueError(
                f"arch {arch.name!r} has {len(arch.blocks)} blocks; space {self.name!r} has "
                f"{len(self.skeleton)}"
            )
        choices: list[int] = []
        in_filters = arch.stem_filters
        rows = zip(arch.blocks, self.skeleton, strict=True)
        for b, (block, (_, _, _, stride)) in enumerate(rows):
            where = f"block {b + 1} ({arch_string.encode_block(block)!r})"

            def fail(field: str, value: object, allowed: object, where: str = where) -> ValueError:
                return ValueError(
                    f"{where} is not a point of space {self.name!r}: {field} {value!r} is not "
                    f"one of {allowed}"
                )

            if block.stride != stride:
                raise fail("stride", block.stride, (stride,))
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
    conventions: dict | None = None,
) -> MnasNetSpace:
    """The paper's space (defaults): filters = multiplier × MobileNetV2's (make_divisible 8),
    layers = MobileNetV2's + delta (≥ 1). With `dedupe`, aliases are removed and the filter and
    layer labels are the widths and counts themselves."""
    filter_choices, layer_choices = [], []
    for _, c, n, _ in MOBILENET_V2_SKELETON:
        filters = [(m, specs.make_divisible(c * m, 8)) for m in multipliers]
        layers = [(d, max(1, n + d)) for d in layer_deltas]
        filter_choices.append(_dedupe(filters, by_value=dedupe))
        layer_choices.append(_dedupe(layers, by_value=dedupe))
    return MnasNetSpace(
        name=name,
        skeleton=MOBILENET_V2_SKELETON,
        filter_choices=filter_choices,
        layer_choices=layer_choices,
        conventions=conventions,
    )


def mnasnet_extended_space() -> MnasNetSpace:
    """The paper's space plus F = 1.2, without aliases: holds MnasNet-A1, -B1 and MobileNetV2."""
    return mnasnet_space(multipliers=EXTENDED_MULTIPLIERS, dedupe=True, name="mnasnet-extended")
