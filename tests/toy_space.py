"""A toy search space for tests: the zoo's MnasNet-small with a kernel and an SE decision per block.

Owns `ToySpace` and its factory `toy_space`. It is what adding a space takes: one module (a
`SearchSpace` subclass over a zoo model, `_build` and `_parse`) plus one registry line,
`space_registry.SPACES["toy"] = toy_space` (the tests use `monkeypatch.setitem`).

Must not import TensorFlow, Keras or `search.spaces.registry`.
"""

from __future__ import annotations

import dataclasses

from mnasnet_tf import arch_string, specs, zoo
from search.spaces.base import Decision, SearchSpace, arch_conventions

REFERENCE_MODEL = "mnasnet-small"
KERNELS = (3, 5, 7)
SE_RATIOS = (0.0, 0.25)


class ToySpace(SearchSpace):
    """Per block of `reference`: `blockN/kernel` and `blockN/se_ratio`; all else is fixed."""

    def __init__(self, reference: specs.ArchSpec, *, name: str = "toy") -> None:
        self.reference = reference
        decisions = []
        for b, block in enumerate(reference.blocks, start=1):
            decisions += [
                Decision.with_default(f"block{b}/kernel", KERNELS, block.kernel_size),
                Decision.with_default(f"block{b}/se_ratio", SE_RATIOS, block.se_ratio or 0.0),
            ]
        super().__init__(name=name, decisions=decisions, conventions=arch_conventions(reference))

    def _build(self, choices: list[int]) -> list[specs.BlockSpec]:
        return [
            block.replace(kernel_size=KERNELS[k], se_ratio=SE_RATIOS[se] or None)
            for block, k, se in zip(self.reference.blocks, choices[::2], choices[1::2], strict=True)
        ]

    def _parse(self, arch: specs.ArchSpec) -> list[int]:
        if len(arch.blocks) != len(self.reference.blocks):
            raise ValueError(
                f"arch {arch.name!r} has {len(arch.blocks)} blocks; space {self.name!r} has "
                f"{len(self.reference.blocks)}"
            )
        choices = []
        rows = zip(arch.blocks, self.reference.blocks, strict=True)
        for b, (block, template) in enumerate(rows, start=1):
            se_ratio = block.se_ratio or 0.0
            fixed = block.replace(kernel_size=template.kernel_size, se_ratio=template.se_ratio)
            if block.kernel_size not in KERNELS or se_ratio not in SE_RATIOS or fixed != template:
                raise ValueError(
                    f"block {b} ({arch_string.encode_block(block)!r}) is not a point of space "
                    f"{self.name!r}: only kernel {KERNELS} and se_ratio {SE_RATIOS} may differ "
                    f"from {arch_string.encode_block(template)!r}"
                )
            choices += [KERNELS.index(block.kernel_size), SE_RATIOS.index(se_ratio)]
        return choices


def toy_space() -> ToySpace:
    """The toy space around the zoo's MnasNet-small (its default point)."""
    return ToySpace(zoo.get_arch(REFERENCE_MODEL))


def small_toy_space() -> ToySpace:
    """The toy space cut to MnasNet-small's first two blocks (named "toy" too): 14 table parts
    instead of 56, for tests that convert every part."""
    reference = zoo.get_arch(REFERENCE_MODEL)
    return ToySpace(dataclasses.replace(reference, blocks=reference.blocks[:2]))
