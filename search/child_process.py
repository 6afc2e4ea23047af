"""Helper processes that do not outlive their parent.

A `multiprocessing` child blocked on a job queue does not notice that its parent was killed
(`kill -9`, an out-of-memory kill): it lives on as an orphan holding TensorFlow (~1 GB each,
measured after killed searches). `exit_with_parent` ends such a child within a second of its
parent's death. TF-free.
"""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent_pid: int, *, poll_s: float = 1.0) -> threading.Thread:
    """Starts a daemon thread that ends this process (`os._exit(0)`) once its parent, whose
    pid was `parent_pid`, is gone (this process is re-parented); returns the thread."""

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent_pid:
                os._exit(0)

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread
