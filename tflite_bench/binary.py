"""How every absl binary of the project runs and ends.

Owns `run_binary` (a binary ends on Ctrl-C or a disk problem in one line, no traceback),
`ctrl_c_pressed` (for loops that must stop even where C code swallowed the KeyboardInterrupt),
`INTERRUPTED_STATUS`, `describe_os_error`, and `run_job`, the body of a job binary's absl main
(bad input as a usage error, then a summary and the time taken). absl is imported only inside
`run_job`. Must not import TensorFlow, Keras or anything else of the project.
"""

from __future__ import annotations

import errno
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

_Result = TypeVar("_Result")


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
_CTRL_C = threading.Event()


def ctrl_c_pressed() -> bool:
    """True once Ctrl-C (SIGINT) reached the binary `run_binary` is running. Python raises the
    KeyboardInterrupt wherever the main thread is, and C code that clears Python errors (seen
    once in a Keras epoch under load: the run went on to its end) can swallow it; a long loop
    checks this between steps and raises KeyboardInterrupt again."""
    return _CTRL_C.is_set()


def _on_ctrl_c(signum, frame) -> None:
    _CTRL_C.set()
    raise KeyboardInterrupt


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
    own_handler = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    _CTRL_C.clear()
    if own_handler:
        signal.signal(signal.SIGINT, _on_ctrl_c)
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
    finally:
        _CTRL_C.clear()
        if own_handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)


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
