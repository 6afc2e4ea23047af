"""Value checks every layer shares: the predicates `is_int`, `is_positive_int`, `is_number`,
`is_finite_number`, and the checks that raise an error naming the flag, what was expected and the
value (`require`, `require_int`, `require_number`, `require_one_of`): the one set every config
uses. Bools are never numbers here, so a flag or JSON field of `True` is refused as a count.

Must not import TensorFlow, Keras or anything else of the project: specs, spaces, the controller
and the reward import it and must stay fast to import.
"""

from __future__ import annotations

import math


def is_int(value: object) -> bool:
    """True for a Python int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_positive_int(value: object) -> bool:
    """True for a Python int > 0 that is not a bool."""
    return is_int(value) and value > 0


def is_number(value: object) -> bool:
    """True for an int or float that is not a bool (NaN and infinities included)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite_number(value: object) -> bool:
    """True for an int or float that is not a bool, NaN or an infinity."""
    return is_number(value) and math.isfinite(value)


# ---- checks that raise: the message names the flag/field, what was expected and the value ----


def require(
    ok: bool,
    name: str,
    expected: str,
    value: object,
    *,
    error: type = ValueError,
    prefix: str = "--",
) -> None:
    """Raise `error("--<name> must be <expected>; got <value!r>")` unless `ok` (`prefix=""` for
    an argument of the Python API that is not a flag)."""
    if not ok:
        raise error(f"{prefix}{name} must be {expected}; got {value!r}")


def bounds_text(
    kind: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    below: float | None = None,
) -> str:
    """'an integer >= 1', 'a number in (0, 1]', … : the expectation bounds describe."""
    low = (f"[{minimum}", minimum) if minimum is not None else (f"({above}", above)
    high = (f"{maximum}]", maximum) if maximum is not None else (f"{below})", below)
    if low[1] is not None and high[1] is not None:
        return f"{kind} in {low[0]}, {high[0]}"
    if minimum is not None:
        return f"{kind} >= {minimum}"
    if above is not None:
        return f"{kind} > {above}"
    if maximum is not None:
        return f"{kind} <= {maximum}"
    if below is not None:
        return f"{kind} < {below}"
    return kind


def within(
    value: float,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    below: float | None = None,
) -> bool:
    """Whether `value` satisfies every bound given."""
    return (
        (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
        and (above is None or value > above)
        and (below is None or value < below)
    )


def require_int(
    name: str,
    value: object,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    error: type = ValueError,
    prefix: str = "--",
) -> None:
    """`value` is an int (not a bool) within the bounds, or `error` naming it."""
    expected = bounds_text("an integer", minimum=minimum, maximum=maximum)
    ok = is_int(value) and within(value, minimum=minimum, maximum=maximum)
    require(ok, name, expected, value, error=error, prefix=prefix)


def require_number(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    below: float | None = None,
    error: type = ValueError,
    prefix: str = "--",
) -> None:
    """`value` is a finite int or float (not a bool) within the bounds, or `error` naming it."""
    limits = {"minimum": minimum, "maximum": maximum, "above": above, "below": below}
    ok = is_finite_number(value) and within(value, **limits)
    require(ok, name, bounds_text("a number", **limits), value, error=error, prefix=prefix)


def require_one_of(
    name: str, value: object, allowed, *, error: type = ValueError, prefix: str = "--"
) -> None:
    """`value` is one of `allowed`, or `error` naming it and listing them."""
    allowed = tuple(allowed)
    expected = f"one of {', '.join(map(str, allowed))}"
    require(value in allowed, name, expected, value, error=error, prefix=prefix)
