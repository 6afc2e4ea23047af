"""Every part an architecture of a search space can contain, so one table covers the whole space.

Owns `space_parts` (the distinct parts — stem, each block's first and repeated layers for every
reachable input / expanded / output width, kernel, op, SE, skip and stride, and the head — of a
space at one resolution and class count), `coverage_id` (how a table records that it covers a
space at a resolution and class count) and `uncovered` (the check: part keys of random points a
set of keys lacks). The enumeration walks `SearchSpace.part_groups()`: each group's choices with
every other decision at its default, which reaches every part when the space's groups are right
(the tests check it against thousands of random points per space).

Pure Python: no TensorFlow.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterator, Sequence

import numpy as np

from mnasnet_tf import specs
from search.latency.parts import Part, arch_parts, image_hw, part_keys
from search.spaces.base import SearchSpace

MAX_GROUP_POINTS = 200_000
"""A part group with more points than this is refused (the space should override
`part_groups` with smaller groups)."""


def covering_archs(space: SearchSpace) -> Iterator[specs.ArchSpec]:
    """Points of `space` whose parts together are every part of the space: for each of
    `space.part_groups()`, every combination of that group's choices, the rest at defaults."""
    default = space.default_choices()
    sizes = space.choice_sizes()
    seen: set[tuple[int, ...]] = set()
    for group in space.part_groups():
        points = math.prod(sizes[index] for index in group)
        if points > MAX_GROUP_POINTS:
            names = [space.names()[index] for index in group]
            raise ValueError(
                f"space {space.name!r}: part group {names} has {points} points (more than "
                f"{MAX_GROUP_POINTS}); override part_groups() with smaller groups"
            )
        for values in itertools.product(*(range(sizes[index]) for index in group)):
            choices = list(default)
            for index, value in zip(group, values, strict=True):
                choices[index] = value
            key = tuple(choices)
            if key not in seen:
                seen.add(key)
                yield space.to_arch(choices)


def space_parts(
    space: SearchSpace, *, image_size: int | Sequence[int] = 224, classes: int = 1000
) -> list[Part]:
    """The distinct parts of every architecture of `space` at `image_size` with `classes`
    classifier outputs, in a fixed order (first reached by `covering_archs`)."""
    hw = image_hw(image_size)
    seen: dict[str, Part] = {}
    for arch in covering_archs(space):
        for part in arch_parts(arch, image_size=hw, classes=classes):
            seen.setdefault(part.key, part)
    return list(seen.values())


def coverage_id(space: str, image_size: int | Sequence[int], classes: int) -> str:
    """How a table names a complete coverage, e.g. 'mnasnet@224x224/c1000'."""
    hw = image_hw(image_size)
    return f"{space}@{hw[0]}x{hw[1]}/c{classes}"


def uncovered(
    space: SearchSpace,
    keys: Collection[str],
    *,
    image_size: int | Sequence[int] = 224,
    classes: int = 1000,
    samples: int = 200,
    seed: int = 0,
) -> list[str]:
    """Part keys of `samples` random points of `space` (and its default point) that are not in
    `keys`, in first-seen order: empty when `keys` covers what the samples reach."""
    hw = image_hw(image_size)
    rng = np.random.default_rng(seed)
    points = [space.default_choices(), *(space.sample(rng) for _ in range(samples))]
    missing: dict[str, None] = {}
    for choices in points:
        for key in part_keys(space.to_arch(choices), hw, classes):
            if key not in keys:
                missing[key] = None
    return list(missing)
