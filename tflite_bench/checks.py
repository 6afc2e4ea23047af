"""Value checks every layer shares: `is_int`, `is_positive_int`, `is_number`, `is_finite_number`
(bools are never numbers here, so a flag or JSON field of `True` is refused as a count).

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
