"""Helper processes that do not outlive their parent.

A `multiprocessing` child blocked on a job queue does not notice that its parent was killed
(`kill -9`, an out-of-memory kill): it lives on as an orphan holding TensorFlow (~1 GB each,
measured after killed searches). `exit_with_parent` ends such a child within a second of its
parent's death. A Ctrl-C in a terminal reaches the whole process group; such a child ignores it
(no traceback of its own): its parent stops and ends it. `init_tf_worker` is the initializer
of converting helpers. TF-free at import (the initializer imports TensorFlow in the child).
"""

from __future__ import annotations

import os
import signal
import threading
import time


def exit_with_parent(parent_pid: int, *, poll_s: float = 1.0) -> threading.Thread:
    """Starts a daemon thread that ends this process (`os._exit(0)`) once its parent, whose
    pid was `parent_pid`, is gone (this process is re-parented); returns the thread. From now
    on this process ignores Ctrl-C (SIGINT): the parent handles it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent_pid:
                os._exit(0)

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread


def init_tf_worker(parent_pid: int | None = None) -> None:
    """Initializer of a helper process that converts models: quiet TensorFlow, one thread for
    graph work (it must not take the cores of the trainer or of the timed runs), imported before
    the first job arrives; the process ends with its parent (`exit_with_parent`)."""
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
