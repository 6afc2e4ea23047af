"""Small helpers every layer shares: atomic file writes and value checks.

Owns `atomic_write` (text, bytes or a writer callback), `atomic_save` (writers that take a file
name), `atomic_write_json`, `read_json` (a JSON file, or an error naming it), the value checks
`is_int`, `is_positive_int`, `is_number` and `is_finite_number`, `keras_file_problem` (whether
a file can be a Keras model, from its first bytes), `run_binary`, how every binary ends on
Ctrl-C or a disk problem (one line, no traceback), and `run_job`, the body of a job binary's
absl main (bad input as a usage error, then a summary and the time taken). It sits in the
bottom package so that `mnasnet_tf` and `search` can use it without an upward import.

Must not import TensorFlow, Keras or anything else of the project: specs, spaces, the controller
and the reward import it and must stay fast to import.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, Any, TypeVar

_Result = TypeVar("_Result")


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


INTERRUPTED_STATUS = 130
"""Exit status of a binary stopped by Ctrl-C (128 + SIGINT, as shells report it)."""
_OS_ADVICE = {
    errno.ENOSPC: "free some disk space",
    errno.EDQUOT: "free some disk space",
    errno.EROFS: "use a writable folder",
    errno.EACCES: "check its permissions or use another path",
    errno.EPERM: "check its permissions or use another path",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder, not a file",
}


def run_binary(
    main: Callable[[], object], *, program: str, resumable: bool | Callable[[], bool] = False
) -> None:
    """Runs a binary's `main` (e.g. `lambda: app.run(_main)`) so that it ends in one line on
    stderr and no traceback when the user presses Ctrl-C (`<program>: interrupted`, plus
    `; run the same command to resume` when `resumable` is or returns True; exit status 130)
    or the disk refuses a file (full, read-only, no permission, a file where a folder should be:
    `<program>: error: ...` naming the file and what to do; status 1). Partly written files go
    with the writers (`atomic_write` removes its temporary file) and the exit handlers, which
    still run. Other exceptions propagate."""
    try:
        main()
    except KeyboardInterrupt:
        again = resumable() if callable(resumable) else resumable
        advice = "; run the same command to resume" if again else ""
        print(f"{program}: interrupted{advice}", file=sys.stderr)
        sys.exit(INTERRUPTED_STATUS)
    except OSError as error:
        disk_full = error.errno in (errno.ENOSPC, errno.EDQUOT)
        if error.errno not in _OS_ADVICE or (error.filename is None and not disk_full):
            raise
        print(f"{program}: error: {describe_os_error(error)}", file=sys.stderr)
        sys.exit(1)


def run_job(
    argv: Sequence[str],
    job: Callable[[], _Result],
    summary: Callable[[_Result], str],
    *,
    progress_loggers: Sequence[str] = (),
) -> None:
    """The body of a job binary's absl main: refuses stray arguments, quiets absl's INFO lines
    (TensorFlow's) but keeps `progress_loggers` at INFO, runs `job` (its flags are read inside,
    so a ValueError or FileNotFoundError from bad flags, data or files becomes absl's
    UsageError with its message, and no traceback), then prints `summary(result)` and the
    seconds taken."""
    from absl import app

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {list(argv[1:])}")
    logging.getLogger("absl").setLevel(logging.WARNING)
    for name in progress_loggers:
        logging.getLogger(name).setLevel(logging.INFO)
    start = time.perf_counter()
    try:
        result = job()
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error)) from None
    print(summary(result))
    print(f"({time.perf_counter() - start:.0f} s)")


def describe_os_error(error: OSError) -> str:
    """'No space left on device: runs/p/oracle.json; free some disk space' (the file, when
    known, and what to do)."""
    where = f": {error.filename}" if error.filename is not None else ""
    advice = _OS_ADVICE.get(error.errno)
    return f"{error.strerror or error}{where}" + (f"; {advice}" if advice else "")
