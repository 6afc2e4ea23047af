"""MobileNetV3-like search spaces: the zoo's MobileNetV3-Large / -Small with decisions attached.

Owns `MobileNetV3Space`, `V3Stage`, `stages_of` and `mobilenetv3_space`. The template is the
zoo's 'mobilenet-v3-large' or 'mobilenet-v3-small' ArchSpec (`mnasnet_tf.zoo`, the one
definition of the models), read as stages: a stage is a run of layers with one output width
(only its first layer strides).

The MobileNetV3 paper searched block-wise with the MnasNet recipe (kernel, expansion, SE,
activation, layers) and then tuned per-layer expanded widths with NetAdapt, which is why the
published models' expansions are irregular (V3-Large 2.5, 2.3; V3-Small 72/16, 88/24). To make
those models points, a stage has:

| decision | values |
|---|---|
| `stageN/kernel` | 3, 5, 7 |
| `stageN/se_ratio` | 0.0, 0.25 |
| `stageN/activation` | relu, hswish |
| `stageN/layers` | the reference count −1, +0, +1 (at least 1; distinct values) |
| `stageN/layerJ/expanded` | explicit expanded widths (below) |

A layer slot's expanded widths are make_divisible(in × e, 8) for e ∈ {3, 4, 6} plus the
reference model's width for that slot (its last layer's for the extra slot); a value equal to
the layer's input width means no expansion (expansion 1, no 1×1 expand conv).

Output widths, strides, stem (16), head and conventions are the reference model's (h-swish model
activation, SE from the expanded width rounded to 8, hard-sigmoid gate, rounded expanded
widths, last conv 960 / 576 scaled with width, pre-logits 1280 / 1024). Every decision's default
is the reference model's choice, so `default_choices()` builds MobileNetV3-Large (-Small) and
`from_arch` of the keras.applications tables returns it. The width slots of layers a stage does
not use are ignored; `from_arch` sets them to the default.

`to_arch` writes one BlockSpec per run of equal layers (explicit `x<width>` expansion tokens);
`from_arch` reads any spelling that builds the same layers (e.g. `e2.5` or `x200`).

Must not import TensorFlow, Keras or `search.spaces.registry` (which imports this module).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from mnasnet_tf import specs, zoo
from search.spaces.base import Decision, SearchSpace, arch_conventions, canonical_index

REFERENCE_MODELS = {"large": "mobilenet-v3-large", "small": "mobilenet-v3-small"}
"""Variant → the zoo model its space is a template over."""
KERNELS = (3, 5, 7)
SE_RATIOS = (0.0, 0.25)
ACTIVATIONS = ("relu", "hswish")
EXPANSIONS = (3, 4, 6)
LAYER_DELTAS = (-1, 0, 1)
STAGE_FIELDS = ("kernel", "se_ratio", "activation", "layers")


@dataclasses.dataclass(frozen=True)
class V3Stage:
    """One stage of a reference MobileNetV3: output width, stride of its first layer, the shared
    kernel / SE / activation (those of its first layer), and each layer's expanded width (its
    input width when the layer does not expand)."""

    filters: int
    stride: int
    kernel: int
    se_ratio: float
    activation: str
    expanded: tuple[int, ...]


def _runs(arch: specs.ArchSpec) -> list[list[specs.LayerSpec]]:
    """`arch`'s layers grouped into runs of equal output width."""
    runs: list[list[specs.LayerSpec]] = []
    for layer in arch.layers():
        if runs and runs[-1][-1].out_channels == layer.out_channels:
            runs[-1].append(layer)
        else:
            runs.append([layer])
    return runs


def stages_of(arch: specs.ArchSpec) -> tuple[V3Stage, ...]:
    """The stages of `arch` (a reference model), read from its layers."""
    return tuple(
        V3Stage(
            filters=run[0].out_channels,
            stride=run[0].stride,
            kernel=run[0].block.kernel_size,
            se_ratio=run[0].block.se_ratio or 0.0,
            activation=run[0].activation,
            expanded=tuple(
                layer.expanded if layer.block.is_expanded else layer.in_channels for layer in run
            ),
        )
        for run in _runs(arch)
    )


CONVENTIONS = {
    variant: arch_conventions(zoo.get_arch(model)) for variant, model in REFERENCE_MODELS.items()
}
"""Variant → the model-wide fields every point shares (the reference model's)."""


class MobileNetV3Space(SearchSpace):
    """Per stage: kernel, SE, activation, layer count, and each layer slot's expanded width.

    Args:
      name: the space's name.
      reference: the template (a zoo ArchSpec), read by `stages_of`; its choices are the
        defaults. ValueError when it is not the space's default point.
      conventions: ArchSpec fields shared by every point (default: the reference's).
      expansions: expansion ratios of every layer slot's widths.
      layer_deltas: changes to each stage's layer count.
    """

    def __init__(
        self,
        *,
        name: str,
        reference: specs.ArchSpec,
        conventions: Mapping[str, Any] | None = None,
        expansions: Sequence[float] = EXPANSIONS,
        layer_deltas: Sequence[int] = LAYER_DELTAS,
    ) -> None:
        if conventions is None:
            conventions = arch_conventions(reference)
        self.reference = reference
        self.skeleton = stages_of(reference)
        self.slot_widths: list[tuple[tuple[int, ...], ...]] = []
        self.layer_counts: list[tuple[int, ...]] = []
        self._offsets: list[int] = []
        decisions: list[Decision] = []
        in_filters = conventions.get("stem_filters", reference.stem_filters)
        for s, stage in enumerate(self.skeleton, start=1):
            n = len(stage.expanded)
            counts = tuple(sorted({max(1, n + d) for d in layer_deltas}))
            references = [stage.expanded[min(j, n - 1)] for j in range(max(counts))]
            slots = []
            for j, reference_width in enumerate(references):
                layer_in = in_filters if j == 0 else stage.filters
                widths = {specs.make_divisible(layer_in * e, 8) for e in expansions}
                slots.append(tuple(sorted(widths | {reference_width})))
            self._offsets.append(len(decisions))
            decisions += [
                Decision.with_default(f"stage{s}/kernel", KERNELS, stage.kernel),
                Decision.with_default(f"stage{s}/se_ratio", SE_RATIOS, stage.se_ratio),
                Decision.with_default(f"stage{s}/activation", ACTIVATIONS, stage.activation),
                Decision.with_default(f"stage{s}/layers", counts, n),
            ]
            for j, (widths, reference_width) in enumerate(zip(slots, references, strict=True)):
                decisions.append(
                    Decision.with_default(
                        f"stage{s}/layer{j + 1}/expanded", widths, reference_width
                    )
                )
            self.slot_widths.append(tuple(slots))
            self.layer_counts.append(counts)
            in_filters = stage.filters
        super().__init__(name=name, decisions=decisions, conventions=conventions)
        if self.from_arch(reference, check_conventions=False) != self.default_choices():
            raise ValueError(f"space {name!r}: {reference.name!r} is not its default point")

    def part_groups(self) -> list[tuple[int, ...]]:
        """Per stage and layer slot, the stage's kernel, SE, activation and layer count with
        that slot's expanded width: a layer depends on nothing else (input and output widths and
        strides are fixed)."""
        groups = []
        for offset, slots in zip(self._offsets, self.slot_widths, strict=True):
            stage = tuple(range(offset, offset + len(STAGE_FIELDS)))
            groups += [(*stage, offset + len(STAGE_FIELDS) + j) for j in range(len(slots))]
        return groups

    def layer_slots(self, arch: specs.ArchSpec) -> list[tuple[int, int]]:
        """(stage, position in the stage) of each layer: a stage is a run of equal output
        widths (one V3Stage), however its layers are spelled as blocks."""
        return [(s, j) for s, run in enumerate(_runs(arch)) for j in range(len(run))]

    def _build(self, choices: list[int]) -> list[specs.BlockSpec]:
        blocks: list[specs.BlockSpec] = []
        in_filters = self.convention("stem_filters")
        model_activation = self.convention("activation")
        for s, stage in enumerate(self.skeleton):
            k_i, se_i, act_i, n_i, *slot_choices = choices[
                self._offsets[s] : self._offsets[s] + len(STAGE_FIELDS) + len(self.slot_widths[s])
            ]
            activation = ACTIVATIONS[act_i]
            common = dict(
                kernel_size=KERNELS[k_i],
                output_filters=stage.filters,
                se_ratio=SE_RATIOS[se_i] or None,
                activation=None if activation == model_activation else activation,
            )
            stage_blocks: list[specs.BlockSpec] = []
            for j in range(self.layer_counts[s][n_i]):
                layer_in = in_filters if j == 0 else stage.filters
                width = self.slot_widths[s][j][slot_choices[j]]
                expand = {} if width == layer_in else {"expand_filters": width}
                block = specs.BlockSpec(
                    num_repeat=1, stride=stage.stride if j == 0 else 1, **expand, **common
                )
                previous = stage_blocks[-1] if stage_blocks else None
                if previous is not None and previous.replace(
                    num_repeat=1, stride=1
                ) == block.replace(stride=1):
                    stage_blocks[-1] = previous.replace(num_repeat=previous.num_repeat + 1)
                else:
                    stage_blocks.append(block)
            blocks += stage_blocks
            in_filters = stage.filters
        return blocks

    def _parse(self, arch: specs.ArchSpec) -> list[int]:
        runs = _runs(arch)
        if len(runs) != len(self.skeleton):
            widths = [run[0].out_channels for run in runs]
            raise ValueError(
                f"arch {arch.name!r} has {len(runs)} stages (runs of output widths {widths}); "
                f"space {self.name!r} has {len(self.skeleton)}"
            )
        choices: list[int] = []
        for s, (run, stage) in enumerate(zip(runs, self.skeleton, strict=True)):
            where = f"stage {s + 1} (layers {run[0].name}..{run[-1].name})"

            def fail(field: str, value: object, allowed: object, where: str = where) -> ValueError:
                return ValueError(
                    f"{where} is not a point of space {self.name!r}: {field} {value!r} is not "
                    f"one of {allowed}"
                )

            if run[0].out_channels != stage.filters:
                raise fail("output_filters", run[0].out_channels, (stage.filters,))
            strides = tuple(layer.stride for layer in run)
            if strides != (stage.stride,) + (1,) * (len(run) - 1):
                raise fail("strides", strides, f"({stage.stride}, 1, ...)")
            stage_values = {
                "kernel": {layer.block.kernel_size for layer in run},
                "se_ratio": {layer.block.se_ratio or 0.0 for layer in run},
                "activation": {layer.activation for layer in run},
            }
            options = {"kernel": KERNELS, "se_ratio": SE_RATIOS, "activation": ACTIVATIONS}
            offset = self._offsets[s]
            for f, field in enumerate(STAGE_FIELDS[:3]):
                values = stage_values[field]
                if len(values) != 1:
                    raise ValueError(f"{where}: layers differ in {field}: {sorted(values)}")
                (value,) = values
                index = canonical_index(
                    self.decisions[offset + f], lambda i, o=options[field], v=value: o[i] == v
                )
                if index is None:
                    raise fail(field, value, options[field])
                choices.append(index)
            if len(run) not in self.layer_counts[s]:
                raise fail("layer count", len(run), self.layer_counts[s])
            choices.append(self.layer_counts[s].index(len(run)))
            for j, slot in enumerate(self.slot_widths[s]):
                decision = self.decisions[offset + len(STAGE_FIELDS) + j]
                if j >= len(run):
                    choices.append(decision.default_index)
                    continue
                choices.append(self._slot_choice(run[j], slot, f"{where}, layer {j + 1}"))
        return choices

    def _slot_choice(self, layer: specs.LayerSpec, slot: tuple[int, ...], where: str) -> int:
        """The index of `layer`'s expanded width in `slot`; ValueError when it is not one."""
        block = layer.block
        if block.op == "conv":
            raise ValueError(f"{where}: op 'conv' is not in space {self.name!r} (MBConv only)")
        if block.skip == "pool" or (block.skip == "none" and _residual_possible(layer)):
            raise ValueError(
                f"{where}: skip {block.skip!r} is not in space {self.name!r} (identity residual "
                "wherever shapes allow, as in MobileNetV3)"
            )
        if layer.declared_in != layer.in_channels:
            raise ValueError(
                f"{where}: declared input_filters {layer.declared_in} differs from the real "
                f"input {layer.in_channels} (not a point of space {self.name!r})"
            )
        width = layer.expanded if block.is_expanded else layer.in_channels
        if width not in slot or (block.is_expanded and width == layer.in_channels):
            shown = "no expansion" if not block.is_expanded else width
            raise ValueError(
                f"{where} is not a point of space {self.name!r}: expanded width {shown!r} is "
                f"not one of {slot} ({layer.in_channels} = no expansion)"
            )
        return slot.index(width)


def _residual_possible(layer: specs.LayerSpec) -> bool:
    return layer.stride == 1 and layer.in_channels == layer.out_channels


def mobilenetv3_space(variant: str = "large") -> MobileNetV3Space:
    """The MobileNetV3-like space around zoo model MobileNetV3-'large' or -'small'."""
    if variant not in REFERENCE_MODELS:
        raise ValueError(
            f"MobileNetV3 variant must be one of {list(REFERENCE_MODELS)}; got {variant!r}"
        )
    return MobileNetV3Space(
        name=f"mobilenetv3-{variant}",
        reference=zoo.get_arch(REFERENCE_MODELS[variant]),
        conventions=CONVENTIONS[variant],
    )
