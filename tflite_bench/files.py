"""Files written whole or not at all, and files read with an error that names them.

Owns `atomic_write` (text, bytes or a writer callback), `atomic_save` (writers that take a file
name), `atomic_write_json`, `temporary_path`, `read_json` (a JSON file, or `CorruptFileError`
naming it) and `keras_file_problem` (whether a file can be a Keras model, from its first bytes).
It sits in the bottom package so that `mnasnet_tf` and `search` can use it without an upward
import.

Must not import TensorFlow, Keras or anything else of the project.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from typing import IO, Any


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


class CorruptFileError(ValueError):
    """A file that should hold JSON does not (cut short, overwritten); the message names it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path} is corrupt ({reason})")
        self.path = path
        self.reason = reason


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON value in the file at `path`. CorruptFileError (a ValueError) naming the file when
    it is empty, cut short or not JSON; FileNotFoundError when there is none."""
    target = os.fspath(path)
    with open(target, "rb") as handle:
        raw = handle.read()
    if not raw.strip():
        raise CorruptFileError(target, "empty")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CorruptFileError(target, "not UTF-8 text") from None
    except json.JSONDecodeError as error:
        cut = " (cut short?)" if error.pos >= len(raw.rstrip()) else ""
        raise CorruptFileError(target, f"invalid JSON at byte {error.pos}{cut}") from None


_ZIP_SIGNATURE = b"PK\x03\x04"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def keras_file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the file at `path` cannot be a Keras model file (a `.keras` file is a zip archive, an
    `.h5` file HDF5), from its first bytes; None when it looks like one. A missing file raises
    FileNotFoundError as `open` does."""
    target = os.fspath(path)
    if os.path.isdir(target):
        return "a folder, not a file"
    with open(target, "rb") as handle:
        head = handle.read(8)
    if not head:
        return "empty"
    if target.endswith(".h5"):
        return None if head.startswith(_HDF5_SIGNATURE) else "not an HDF5 file"
    return None if head.startswith(_ZIP_SIGNATURE) else "not a zip archive"
