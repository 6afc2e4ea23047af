"""Proxy training in a child process that is replaced every few trials, so memory stays flat.

TensorFlow/Keras keep memory after every `model.fit` that `keras.utils.clear_session` and `gc`
do not give back (measured here: ~65 MB per proxy trial; upstream: keras-team/keras #17458 and
#20552, open). Over a search of hundreds of trials that is tens of GB. `ProxyWorker` runs
`search.proxy.task.run_proxy` in a spawned child that loads the proxy data once, trains one
architecture per request, keeps the last run's model until the next (so the tuner can save the
best) and is replaced after `recycle_every` runs: the memory goes back to the OS with the process.
A run gives exactly the result it gives in the parent (same seeds, same code).

The parent sees the child's epochs (for the tuner's heartbeat to a remote oracle), its errors (as
`ProxyWorkerError` carrying the child's exception type name, message and traceback) and its death
(a new child is started for the next run). `InProcessTrainer` is the same interface in this
process, for ready-made datasets (`FixedData`) and `recycle_every=0`.
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import traceback
from collections.abc import Callable
from typing import Any

from search.proxy.task import ProxyOutcome, ProxyTask, run_proxy
from tflite_bench import files
from tflite_bench.processes import exit_with_parent

log = logging.getLogger("mnasnet_tf.search")

DEFAULT_RECYCLE_EVERY = 20


class ProxyWorkerError(RuntimeError):
    """A proxy run failed in the child; `kind` is the child's exception type name."""

    def __init__(self, kind: str, message: str, child_traceback: str = "") -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.child_traceback = child_traceback


class InProcessTrainer:
    """Runs `run_proxy` in this process; keeps the first run's model of the last call."""

    def __init__(self) -> None:
        self._model = None

    def run(
        self,
        arch,
        *,
        task: ProxyTask,
        data,
        search_seed: int,
        on_epoch: Callable[[int], None] | None = None,
    ) -> ProxyOutcome:
        """Trains `arch` as `run_proxy` does; `on_epoch(epoch)` after every epoch."""
        outcome, self._model = run_proxy(
            arch,
            task=task,
            data=data,
            search_seed=search_seed,
            callbacks=_epoch_callbacks(on_epoch),
            keep_model=True,
        )
        return outcome

    def save_model(self, path: str) -> None:
        """Saves the last run's model (`.keras`)."""
        if self._model is None:
            raise RuntimeError("no trained model to save")
        files.atomic_save(path, self._model.save, suffix=".keras")

    def close(self) -> None:
        self._model = None


def _epoch_callbacks(on_epoch: Callable[[int], None] | None) -> list[Any]:
    if on_epoch is None:
        return []
    import keras

    class EpochNews(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            on_epoch(epoch)

    return [EpochNews()]


def _child_main(connection, data_config: dict[str, Any], parent_pid: int) -> None:
    """The child: loads the data, then serves 'run' / 'save' requests until 'stop' or EOF (or
    the parent's death, noticed within a second even in the middle of training)."""
    exit_with_parent(parent_pid)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        _serve(connection, data_config)
    except OSError as error:
        # the parent closed its end (it stopped, or its process ended) while this child was
        # still writing: nothing is left to tell, so end quietly, without a traceback
        if error.errno not in (errno.EPIPE, errno.EBADF):
            raise


def _serve(connection, data_config: dict[str, Any]) -> None:
    from search.proxy.task import ProxyData

    try:
        data = ProxyData(**data_config)
    except Exception as error:  # noqa: BLE001 - reported to the parent
        connection.send(("error", type(error).__name__, str(error), traceback.format_exc()))
        return
    trainer = InProcessTrainer()
    connection.send(("ready",))
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if request[0] == "stop":
            return
        try:
            if request[0] == "run":
                _, arch, task, search_seed = request
                outcome = trainer.run(
                    arch,
                    task=task,
                    data=data,
                    search_seed=search_seed,
                    on_epoch=lambda epoch: connection.send(("epoch", epoch)),
                )
                connection.send(("done", outcome))
            elif request[0] == "save":
                trainer.save_model(request[1])
                connection.send(("saved",))
            else:
                raise ValueError(f"unknown request {request[0]!r}")
        except Exception as error:  # noqa: BLE001 - reported to the parent
            connection.send(("error", type(error).__name__, str(error), traceback.format_exc()))


class ProxyWorker:
    """Proxy training in a child process replaced every `recycle_every` runs.

    Args:
      data_config: keyword arguments of `search.proxy.task.ProxyData` (the child loads its own
      copy).
      recycle_every: runs per child before it is replaced (≥ 1).
    """

    def __init__(self, data_config: dict[str, Any], *, recycle_every: int = DEFAULT_RECYCLE_EVERY):
        if not isinstance(recycle_every, int) or recycle_every < 1:
            raise ValueError(f"recycle_every must be a positive integer; got {recycle_every!r}")
        self.data_config = dict(data_config)
        self.recycle_every = recycle_every
        self.runs_in_child = 0
        self.children_started = 0
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection = None
        self._has_model = False

    # ---- the child's life ----

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        process = context.Process(
            target=_child_main, args=(child_end, self.data_config, os.getpid()), daemon=True
        )
        process.start()
        child_end.close()
        self._process, self._connection = process, parent_end
        self.runs_in_child = 0
        self.children_started += 1
        self._has_model = False
        self._receive(lambda message: None, expect="ready")

    def _stop(self) -> None:
        process, connection = self._process, self._connection
        self._process = self._connection = None
        self._has_model = False
        if process is None:
            return
        try:
            connection.send(("stop",))
        except (OSError, ValueError):
            pass
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()
        connection.close()

    def _receive(self, on_message: Callable[[tuple], None], *, expect: str) -> tuple:
        """Messages until `expect` (returned) or an error (raised); a dead child is stopped and
        reported as a ProxyWorkerError of kind 'ChildDied'."""
        while True:
            try:
                message = self._connection.recv()
            except (EOFError, OSError):
                code = self._process.exitcode if self._process is not None else None
                self._process.join(timeout=5)
                code = self._process.exitcode if code is None else code
                self._stop()
                raise ProxyWorkerError(
                    "ChildDied", f"the proxy training process died (exit code {code})"
                ) from None
            if message[0] == expect:
                return message
            if message[0] == "error":
                _, kind, text, child_traceback = message
                if expect == "ready":
                    self._stop()
                raise ProxyWorkerError(kind, text, child_traceback)
            on_message(message)

    # ---- the interface ----

    def run(
        self,
        arch,
        *,
        task: ProxyTask,
        data=None,
        search_seed: int,
        on_epoch: Callable[[int], None] | None = None,
    ) -> ProxyOutcome:
        """Trains `arch` in the child (starting or replacing it when due); `data` is ignored
        (the child has its own copy of the proxy data)."""
        del data
        if self._process is not None and not self._process.is_alive():
            log.warning("the proxy training process died between trials; starting a new one")
            self._stop()
        if self._process is not None and self.runs_in_child >= self.recycle_every:
            self._stop()
        if self._process is None:
            self._start()
        self.runs_in_child += 1
        self._has_model = False
        self._connection.send(("run", arch, task, search_seed))

        def forward(message: tuple) -> None:
            if message[0] == "epoch" and on_epoch is not None:
                on_epoch(message[1])

        _, outcome = self._receive(forward, expect="done")
        self._has_model = True
        return outcome

    def save_model(self, path: str) -> None:
        """Saves the last run's model (`.keras`) from the child."""
        if self._process is None or not self._has_model:
            raise RuntimeError("no trained model to save")
        self._connection.send(("save", path))
        self._receive(lambda message: None, expect="saved")

    @property
    def pid(self) -> int | None:
        """The current child's process id (None when none runs)."""
        return None if self._process is None else self._process.pid

    def close(self) -> None:
        """Stops the child."""
        self._stop()

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        try:
            self._stop()
        except Exception:  # noqa: BLE001
            pass
