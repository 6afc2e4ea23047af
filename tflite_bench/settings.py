"""Settings declared once: a config dataclass field that carries its flag's help text and the
values it may take, the absl flags generated from a config class, the config built from parsed
flags, and the validation of every declared field.

    @dataclasses.dataclass(frozen=True)
    class Config:
        runs: int = settings.setting(50, help="Timed runs.", minimum=1)
        clock: str = settings.setting("wall", help="Clock.", choices=("wall", "thread_cpu"))

        def __post_init__(self):
            settings.validate(self)  # "--runs must be an integer >= 1; got 0"

    settings.define_flags(Config)           # --runs, --clock (an enum), defaults from the fields
    config = settings.from_flags(Config, flags.FLAGS)

The flag's kind follows the field's type (bool, int, float, str, a str with choices is an enum,
tuple[str, ...] is a comma-separated list; a field with `parse=` is a string flag parsed by it).
A flag's default is the field's (or `flag_default=` where the binary has one and the Python API
has none, e.g. a required output folder). Every binary's config goes through this module, so no
binary restates a default or a range, and every bad value fails with the same kind of message.

Imports absl.flags (light) lazily and nothing of the project but `checks`: configs of every
layer import it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from tflite_bench import checks

_KEY = "mnasnet_tf.setting"


class _Unset:
    """The `flag_default` of a flag whose default is its field's."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()


@dataclasses.dataclass(frozen=True)
class Rule:
    """What a declared field may hold and how its flag reads.

    Attributes:
      help: the flag's help text.
      choices: allowed values (a sequence, or a callable returning one, evaluated when used).
      minimum, maximum, above, below: inclusive and exclusive bounds of a number.
      nonempty: a string must not be empty.
      flag: False for a field the binary does not expose (the Python API only).
      flag_default: the flag's default where it differs from the field's (UNSET: the same).
      parse: for a string flag that means something else (e.g. a count or a fraction): text →
        the field's value, raising ValueError naming the flag on bad text.
    """

    help: str
    choices: Sequence[Any] | Callable[[], Sequence[Any]] | None = None
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    below: float | None = None
    nonempty: bool = False
    flag: bool = True
    flag_default: Any = UNSET
    parse: Callable[[str], Any] | None = None

    def allowed(self) -> tuple[Any, ...] | None:
        """The allowed values, or None when any value of the type goes."""
        if self.choices is None:
            return None
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def bounds(self) -> dict[str, float | None]:
        return {
            "minimum": self.minimum,
            "maximum": self.maximum,
            "above": self.above,
            "below": self.below,
        }


def setting(
    default: Any = dataclasses.MISSING,
    *,
    help: str,  # noqa: A002 - the word absl and argparse use
    choices: Sequence[Any] | Callable[[], Sequence[Any]] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    below: float | None = None,
    nonempty: bool = False,
    flag: bool = True,
    flag_default: Any = UNSET,
    parse: Callable[[str], Any] | None = None,
) -> Any:
    """A dataclass field with its `Rule` (see `Rule` for the arguments); no default: required."""
    rule = Rule(
        help=help,
        choices=choices,
        minimum=minimum,
        maximum=maximum,
        above=above,
        below=below,
        nonempty=nonempty,
        flag=flag,
        flag_default=flag_default,
        parse=parse,
    )
    if isinstance(default, (list, dict, set)):
        raise TypeError("a mutable default needs a tuple or a frozen value")
    return dataclasses.field(default=default, metadata={_KEY: rule})


def rule(field: dataclasses.Field) -> Rule | None:
    """The field's `Rule` (None for a field not declared with `setting`)."""
    return field.metadata.get(_KEY)


@functools.cache
def _kinds(cls: type) -> dict[str, tuple[str, bool]]:
    """Field name → (kind, None allowed), kind one of bool, int, float, str, list, other."""
    hints = typing.get_type_hints(cls)
    out: dict[str, tuple[str, bool]] = {}
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        args = typing.get_args(hint) if _is_union(hint) else (hint,)
        optional = type(None) in args
        base = {a for a in args if a is not type(None)}
        if base == {bool}:
            kind = "bool"
        elif base == {int}:
            kind = "int"
        elif base == {float} or base == {int, float}:
            kind = "float"
        elif base == {str}:
            kind = "str"
        elif len(base) == 1 and typing.get_origin(next(iter(base))) is tuple:
            kind = "list"
        else:
            kind = "other"
        out[field.name] = (kind, optional)
    return out


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def validate(config: Any, *, error: type = ValueError) -> None:
    """Check every declared field of the dataclass instance `config` against its type and rule;
    the first bad one raises `error("--<field> must be …; got …")`."""
    kinds = _kinds(type(config))
    for field in dataclasses.fields(config):
        spec = rule(field)
        if spec is None:
            continue
        name, value = field.name, getattr(config, field.name)
        kind, optional = kinds[name]
        if value is None and (optional or field.default is None):
            continue
        if kind == "bool":
            checks.require(isinstance(value, bool), name, "True or False", value, error=error)
        elif kind == "int":
            checks.require_int(name, value, minimum=spec.minimum, maximum=spec.maximum, error=error)
        elif kind == "float":
            checks.require_number(name, value, **spec.bounds(), error=error)
        elif kind == "str":
            checks.require(isinstance(value, str), name, "a string", value, error=error)
            checks.require(not spec.nonempty or bool(value), name, "non-empty", value, error=error)
        elif kind == "list":
            ok = isinstance(value, tuple) and all(isinstance(v, str) for v in value)
            checks.require(ok, name, "a list of strings", value, error=error)
        allowed = spec.allowed()
        if allowed is not None:
            for item in value if kind == "list" else (value,):
                checks.require_one_of(name, item, allowed, error=error)


def flag_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of `cls` that are flags (declared with `setting`, `flag=True`)."""
    return [f for f in dataclasses.fields(cls) if rule(f) is not None and rule(f).flag]


def flag_default(field: dataclasses.Field) -> Any:
    """The default of the field's flag (None for a required field without `flag_default`)."""
    spec = rule(field)
    if spec.flag_default is not UNSET:
        return spec.flag_default
    return None if field.default is dataclasses.MISSING else field.default


def define_flags(cls: type, flag_values: Any = None) -> None:
    """Define one absl flag per flag field of the config class `cls` (default, help and, for a
    str with choices, the enum values from the field)."""
    from absl import flags

    values = flags.FLAGS if flag_values is None else flag_values
    kinds = _kinds(cls)
    for field in flag_fields(cls):
        spec, default = rule(field), flag_default(field)
        kind = "str" if spec.parse is not None else kinds[field.name][0]
        common = {"name": field.name, "help": spec.help, "flag_values": values}
        if kind == "bool":
            flags.DEFINE_bool(default=default, **common)
        elif kind == "int":
            flags.DEFINE_integer(default=default, **common)
        elif kind == "float":
            flags.DEFINE_float(default=default, **common)
        elif kind == "list":
            flags.DEFINE_list(default=None if default is None else list(default), **common)
        elif kind == "str" and spec.allowed() is not None and spec.parse is None:
            flags.DEFINE_enum(default=default, enum_values=list(spec.allowed()), **common)
        elif kind == "str":
            flags.DEFINE_string(default=None if default is None else str(default), **common)
        else:
            raise TypeError(f"{cls.__name__}.{field.name}: no flag kind for its type")


def flag_values_of(cls: type, values: Any) -> dict[str, Any]:
    """Field name → value for every flag field of `cls`, read from parsed absl `values`
    (lists become tuples; `parse` turns a string flag into the field's value)."""
    kinds = _kinds(cls)
    out: dict[str, Any] = {}
    for field in flag_fields(cls):
        value = getattr(values, field.name)
        spec = rule(field)
        if spec.parse is not None and value is not None:
            value = spec.parse(value)
        elif kinds[field.name][0] == "list" and value is not None:
            value = tuple(value)
        out[field.name] = value
    return out


def from_flags(cls: type, values: Any, **extra: Any) -> Any:
    """`cls(**flag values, **extra)`: the config parsed absl `values` describe; `extra` gives
    the fields that are not flags (ValueError from the config naming a bad value)."""
    return cls(**flag_values_of(cls, values), **extra)


def count_or_fraction(name: str) -> Callable[[str], int | float]:
    """A `parse` for a count (a whole number >= 1) or a fraction in (0, 1) given as text."""

    def parse(text: str) -> int | float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if value >= 1 and value == int(value):
            return int(value)
        if 0 < value < 1:
            return value
        raise ValueError(
            f"--{name} must be a count or a fraction; got {text!r} (a whole number >= 1, or a "
            "fraction in (0, 1))"
        )

    return parse
