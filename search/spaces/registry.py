"""The search-space registry: every space by name.

Owns `SPACES` (name → factory of a `search.spaces.base.SearchSpace`), `get_space` and `list_spaces`,
the one place binaries, notebooks and benchmarks look spaces up. It imports the base module and
every concrete space module; none of them imports this one, so there is no import cycle. Adding
a space = one module (a `SearchSpace` subclass or a factory) + one line in `SPACES`.

Must not import TensorFlow or Keras: the search binaries define `--space` from `list_spaces()`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from search.spaces import mnasnet as space_mnasnet
from search.spaces import mobilenetv3 as space_mobilenetv3
from search.spaces.base import SearchSpace

SPACES: dict[str, Callable[[], SearchSpace]] = {
    "mnasnet": space_mnasnet.mnasnet_space,
    "mnasnet-extended": space_mnasnet.mnasnet_extended_space,
    "mobilenetv3-large": functools.partial(space_mobilenetv3.mobilenetv3_space, "large"),
    "mobilenetv3-small": functools.partial(space_mobilenetv3.mobilenetv3_space, "small"),
}
"""Name → a factory that builds the space (called on every `get_space`)."""


def list_spaces() -> list[str]:
    """Names `get_space` accepts, in registration order."""
    return list(SPACES)


def get_space(name: str) -> SearchSpace:
    """A search space by name: 'mnasnet' (the paper's), 'mnasnet-extended' (also holds
    MnasNet-A1/B1), 'mobilenetv3-large', 'mobilenetv3-small' (see `list_spaces()`).

    Raises:
      ValueError: naming `name` and the known names when it is not registered.
    """
    if name not in SPACES:
        raise ValueError(f"unknown search space {name!r}; expected one of {list_spaces()}")
    return SPACES[name]()
