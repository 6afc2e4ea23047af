"""Small helpers every layer shares: atomic file writes and value checks.

Owns `atomic_write` (text, bytes or a writer callback), `atomic_save` (writers that take a file
name), `atomic_write_json`, and the value checks `is_int`, `is_positive_int`, `is_number` and
`is_finite_number`. It sits in the bottom package so that `mnasnet_tf` and `search` can use it
without an upward import.

Must not import TensorFlow, Keras or anything else of the project: specs, spaces, the controller
and the reward import it and must stay fast to import.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable
from typing import IO, Any


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


def temporary_path(path: str | os.PathLike[str], suffix: str = "") -> str:
    """A sibling of `path` private to this process: `<path>.tmp<pid><suffix>`.

    The process id keeps two processes writing the same file (distributed workers) from sharing
    a temporary file; `suffix` keeps an extension some writers need (matplotlib picks the format
    from `.png`)."""
    return f"{os.fspath(path)}.tmp{os.getpid()}{suffix}"


def atomic_write(
    path: str | os.PathLike[str],
    content: str | bytes | Callable[[IO[Any]], None],
    *,
    make_dirs: bool = False,
) -> str:
    """Writes `content` to `path` through a private temporary file and `os.replace`, so a reader
    sees the old file or the new one, never half of one; returns the path.

    `content` is text, bytes, or a callback that writes to the open (text) handle. On any error
    (disk full, an exception in the callback, Ctrl-C) the temporary file is removed and the file
    at `path` is left as it was."""
    target = os.fspath(path)
    if make_dirs:
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)

    def save(tmp: str) -> None:
        if isinstance(content, (bytes, bytearray)):
            with open(tmp, "wb") as handle:
                handle.write(content)
            return
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            if isinstance(content, str):
                handle.write(content)
            else:
                content(handle)

    return atomic_save(target, save)


def atomic_save(
    path: str | os.PathLike[str], save: Callable[[str], None], *, suffix: str = ""
) -> str:
    """Like `atomic_write` for writers that take a file name (matplotlib's `savefig`, a model's
    `save`): `save(tmp)` writes a private temporary file named with `suffix` (the extension the
    writer needs), which then replaces `path`; on any error it is removed. Returns the path."""
    target = os.fspath(path)
    tmp = temporary_path(target, suffix)
    try:
        save(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return target


def atomic_write_json(
    path: str | os.PathLike[str],
    data: Any,
    *,
    indent: int | None = 2,
    make_dirs: bool = False,
    **dump_kwargs: Any,
) -> str:
    """`atomic_write` of `json.dumps(data)` with a final newline; returns the path.

    The JSON is serialised before the file is opened, so a value that cannot be written (e.g.
    NaN with `allow_nan=False`) raises without touching the disk."""
    text = json.dumps(data, indent=indent, **dump_kwargs) + "\n"
    return atomic_write(path, text, make_dirs=make_dirs)
