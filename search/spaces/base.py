"""Search spaces: an ordered list of named categorical decisions ↔ `ArchSpec` ↔ keras-tuner HPs.

Owns `Decision` and the `SearchSpace` base class (sizes, sampling, the choices ↔ values ↔
HyperParameters maps, conventions). A concrete space is a template over a zoo model: the zoo's
reference architecture (`mnasnet_tf.zoo`) with decisions attached, its defaults being the
reference's own choices; each lives in its own module (`search/spaces/mnasnet.py`,
`search/spaces/mobilenetv3.py`) and `search/spaces/registry.py` names them (`get_space`).

A point of a space is a list of choice indices, one per decision, in the space's order; the
controller sees only `choice_sizes()`. `to_arch` and `from_arch` are inverse up to aliases (two
choices that build the same architecture, e.g. F = 0.75 and 1.0 of a 16-filter block after
rounding to 8): `from_arch` returns the canonical index — the decision's default if it matches,
else the first that does — so `to_arch(from_arch(a)) == a` always holds for a point `a`.

Must not import the concrete space modules or the registry (they import this one), nor
TensorFlow at module level: keras_tuner is imported inside `to_hyperparameters` only, so
controller and space tests run in milliseconds.
"""

from __future__ import annotations

import abc
import contextlib
import copy
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mnasnet_tf import specs

if TYPE_CHECKING:  # pragma: no cover
    import keras_tuner

NAME_SEPARATOR = "/"
_UNCHECKED_FIELDS = ("blocks", "name", "dropout_rate")
"""ArchSpec fields that are not compared by `from_arch`: the blocks (the decisions), the name
and the dropout rate (a training setting that changes neither the graph nor the latency)."""
CONVENTION_FIELDS = tuple(
    name for name in specs.ArchSpec.__dataclass_fields__ if name not in ("blocks", "name")
)


def arch_conventions(arch: specs.ArchSpec) -> dict[str, Any]:
    """The model-wide fields a space around `arch` shares with it: every ArchSpec field but the
    blocks, the name and the dropout rate."""
    return {field: getattr(arch, field) for field in CONVENTION_FIELDS if field != "dropout_rate"}


@dataclasses.dataclass(frozen=True)
class Decision:
    """One categorical decision: a scoped name ('block3/kernel') and its choice values.

    `values` are the labels keras-tuner sees (unique, all of one type: int, float or str);
    `default_index` is the HyperParameters default and the canonical index among aliases.
    """

    name: str
    values: tuple[Any, ...]
    default_index: int = 0

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError(f"decision {self.name!r} needs at least one value")
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"decision {self.name!r}: values must be unique; got {self.values}")
        if len({type(value) for value in self.values}) != 1:
            raise ValueError(
                f"decision {self.name!r}: values must be of one type; got {self.values}"
            )
        if not 0 <= self.default_index < len(self.values):
            raise ValueError(
                f"decision {self.name!r}: default_index {self.default_index} out of range"
            )

    @classmethod
    def with_default(cls, name: str, values: Sequence[Any], default: Any) -> Decision:
        """A decision whose default is the value `default` (a reference model's choice)."""
        values = tuple(values)
        if default not in values:
            raise ValueError(
                f"decision {name!r}: the reference value {default!r} is not one of {values}"
            )
        return cls(name, values, values.index(default))

    @property
    def size(self) -> int:
        """Number of choices."""
        return len(self.values)

    @property
    def default(self) -> Any:
        """The default value."""
        return self.values[self.default_index]


def canonical_index(decision: Decision, matches: Callable[[int], bool]) -> int | None:
    """The default index if it matches, else the first matching index, else None."""
    if matches(decision.default_index):
        return decision.default_index
    return next((index for index in range(decision.size) if matches(index)), None)


class SearchSpace(abc.ABC):
    """An ordered list of named categorical decisions and the architecture each point builds.

    Subclasses implement `_build(choices) -> blocks` and `_parse(arch) -> choices` (raising
    ValueError naming the block and field for an arch that is not a point); this class owns
    validation, model-wide conventions, sampling and the keras-tuner maps.
    """

    def __init__(
        self, *, name: str, decisions: Sequence[Decision], conventions: Mapping[str, Any]
    ) -> None:
        names = [decision.name for decision in decisions]
        if len(set(names)) != len(names):
            raise ValueError(f"space {name!r}: decision names must be unique; got {names}")
        unknown = sorted(set(conventions) - set(CONVENTION_FIELDS))
        if unknown:
            raise ValueError(
                f"space {name!r}: unknown conventions {unknown}; "
                f"expected ArchSpec fields {list(CONVENTION_FIELDS)}"
            )
        self.name = name
        self.decisions: tuple[Decision, ...] = tuple(decisions)
        self._conventions = dict(conventions)

    # ---- the decisions ----

    @property
    def conventions(self) -> dict[str, Any]:
        """The ArchSpec fields (other than blocks) every point of the space shares."""
        return dict(self._conventions)

    def convention(self, field: str) -> Any:
        """One model-wide field: the space's value, else ArchSpec's default."""
        if field in self._conventions:
            return self._conventions[field]
        return specs.ArchSpec.__dataclass_fields__[field].default

    def choice_sizes(self) -> list[int]:
        """Number of choices of each decision, in order (all the controller knows)."""
        return [decision.size for decision in self.decisions]

    def size(self) -> int:
        """Number of points (choice lists), aliases included: the product of choice sizes."""
        return math.prod(self.choice_sizes())

    def names(self) -> list[str]:
        """Decision names, in order."""
        return [decision.name for decision in self.decisions]

    def default_choices(self) -> list[int]:
        """Every decision at its default (the space's reference model)."""
        return [decision.default_index for decision in self.decisions]

    def sample(self, rng: np.random.Generator) -> list[int]:
        """A uniformly random point."""
        return [int(rng.integers(size)) for size in self.choice_sizes()]

    def validate_choices(self, choices: Sequence[int]) -> list[int]:
        """Checks length and ranges; returns the choices as plain ints."""
        if len(choices) != len(self.decisions):
            raise ValueError(
                f"space {self.name!r} has {len(self.decisions)} decisions; "
                f"got {len(choices)} choices"
            )
        result = []
        for decision, choice in zip(self.decisions, choices, strict=True):
            if isinstance(choice, bool) or not isinstance(choice, (int, np.integer)):
                raise ValueError(f"{decision.name}: a choice must be an int; got {choice!r}")
            if not 0 <= choice < decision.size:
                raise ValueError(
                    f"{decision.name}: choice {choice} out of range [0, {decision.size})"
                )
            result.append(int(choice))
        return result

    # ---- points ↔ architectures ----

    def to_arch(self, choices: Sequence[int], *, name: str | None = None) -> specs.ArchSpec:
        """The architecture of one point (named `name`, default the space's name)."""
        choices = self.validate_choices(choices)
        return specs.ArchSpec(
            blocks=tuple(self._build(choices)), name=name or self.name, **self._conventions
        )

    def from_arch(self, arch: specs.ArchSpec, *, check_conventions: bool = True) -> list[int]:
        """The (canonical) point that builds `arch`; ValueError naming the block and field when
        `arch` is not a point. With `check_conventions`, the model-wide fields must match too
        (all but name and dropout_rate)."""
        if not isinstance(arch, specs.ArchSpec):
            raise ValueError(f"expected an ArchSpec; got {type(arch).__name__}")
        if check_conventions:
            template = specs.ArchSpec(blocks=arch.blocks, **self._conventions)
            for field in specs.ArchSpec.__dataclass_fields__:
                if field in _UNCHECKED_FIELDS:
                    continue
                if getattr(arch, field) != getattr(template, field):
                    raise ValueError(
                        f"arch {arch.name!r} is not a point of space {self.name!r}: {field} is "
                        f"{getattr(arch, field)!r}, the space has {getattr(template, field)!r}"
                    )
        return self._parse(arch)

    def canonical(self, choices: Sequence[int]) -> list[int]:
        """The canonical choices that build the same architecture as `choices`."""
        return self.from_arch(self.to_arch(choices))

    def with_conventions(self, **changes: Any) -> SearchSpace:
        """The same decisions with other model-wide conventions (e.g. MobileNetV2's relu6)."""
        unknown = sorted(set(changes) - set(CONVENTION_FIELDS))
        if unknown:
            raise ValueError(f"unknown conventions {unknown}; expected {list(CONVENTION_FIELDS)}")
        space = copy.copy(self)
        space._conventions = {**self._conventions, **changes}
        return space

    # ---- points ↔ keras-tuner values ----

    def to_values(self, choices: Sequence[int]) -> dict[str, Any]:
        """{decision name: value} for one point (what a keras-tuner trial carries)."""
        choices = self.validate_choices(choices)
        return {d.name: d.values[c] for d, c in zip(self.decisions, choices, strict=True)}

    def from_values(self, values: Mapping[str, Any]) -> list[int]:
        """The choice indices of a {name: value} mapping; other keys are ignored."""
        if not isinstance(values, Mapping):  # a keras_tuner.HyperParameters works too
            values = values.values
        choices = []
        for decision in self.decisions:
            if decision.name not in values:
                raise ValueError(f"missing a value for {decision.name!r} (space {self.name!r})")
            value = values[decision.name]
            index = next(
                (
                    i
                    for i, candidate in enumerate(decision.values)
                    if candidate == value and not isinstance(value, bool)
                ),
                None,
            )
            if index is None:
                raise ValueError(
                    f"{decision.name}: value {value!r} is not one of {list(decision.values)}"
                )
            choices.append(index)
        return choices

    def to_hyperparameters(self) -> keras_tuner.HyperParameters:
        """The whole space declared up front: one `hp.Choice` per decision, scoped names."""
        import keras_tuner  # lazy: importing keras_tuner imports TensorFlow

        hp = keras_tuner.HyperParameters()
        for decision in self.decisions:
            *scopes, leaf = decision.name.split(NAME_SEPARATOR)
            with contextlib.ExitStack() as stack:
                for scope in scopes:
                    stack.enter_context(hp.name_scope(scope))
                hp.Choice(leaf, list(decision.values), default=decision.default)
        return hp

    def from_hyperparameters(
        self, values: Mapping[str, Any], *, name: str | None = None
    ) -> specs.ArchSpec:
        """The architecture of a trial's hyperparameter values (a dict or HyperParameters)."""
        return self.to_arch(self.from_values(values), name=name)

    def summary(self) -> str:
        """A human-readable table of the decisions."""
        lines = [f"space {self.name!r}: {len(self.decisions)} decisions, size {self.size():.3g}"]
        width = max(len(name) for name in self.names())
        for decision in self.decisions:
            values = ", ".join(
                f"[{v}]" if i == decision.default_index else str(v)
                for i, v in enumerate(decision.values)
            )
            lines.append(f"  {decision.name:<{width}}  {values}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {len(self.decisions)} decisions>"

    # ---- what the latency model must cover ----

    def part_groups(self) -> list[tuple[int, ...]]:
        """Groups of decision indices such that every part (stem, layer, head: see
        search/latency/parts.py) of every point is a part of some point that differs from the
        default only in one group's decisions. Enumerating each group's choices with the rest at
        their defaults then reaches every part of the space (search/latency/coverage.py).

        The default suits spaces built as a chain of blocks whose decisions are named
        '<block>/<field>': each block's decisions with those of the block before it (whose
        output is its input). Spaces with a sharper answer override it."""
        prefixes: dict[str, list[int]] = {}
        for index, name in enumerate(self.names()):
            prefixes.setdefault(name.split(NAME_SEPARATOR, 1)[0], []).append(index)
        blocks = list(prefixes.values())
        previous = [[], *blocks[:-1]]
        return [tuple(before + own) for before, own in zip(previous, blocks, strict=True)]

    # ---- where each layer sits (for weight sharing) ----

    def layer_slots(self, arch: specs.ArchSpec) -> list[tuple[int, int]]:
        """For each of `arch.layers()`, its slot (stage, position in the stage), both from 0:
        the same slot in two points of the space is the same place in the network, which a
        weight-sharing supernet (search/oneshot/) gives one set of weights. The default suits
        spaces whose blocks are fixed: (block index − 1, layer index)."""
        return [(layer.block_index - 1, layer.layer_index) for layer in arch.layers()]

    # ---- for subclasses ----

    @abc.abstractmethod
    def _build(self, choices: list[int]) -> list[specs.BlockSpec]:
        """The blocks of one (validated) point."""

    @abc.abstractmethod
    def _parse(self, arch: specs.ArchSpec) -> list[int]:
        """The canonical point of `arch`'s blocks; ValueError naming block and field."""
