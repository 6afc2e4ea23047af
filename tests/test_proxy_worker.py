"""search/proxy/worker.py: proxy training in a recycled child process gives the parent's result,
is replaced after `recycle_every` runs, saves the last model, reports errors with their type,
and survives a dead child. Tiny proxy (digits, 32², 1 epoch of 2 steps)."""

from __future__ import annotations

import errno
import os
import signal

import pytest
import toy_space

from search.proxy.task import ProxyData, ProxyTask, run_proxy
from search.proxy.worker import ProxyWorker, ProxyWorkerError

# Two small architectures (what is tested is the worker, not the model; these build and trace
# in a fraction of a MnasNet-space sample's time).
SPACE = toy_space.small_toy_space()
ARCHS = [SPACE.to_arch(choices) for choices in ([0, 0, 0, 0], [2, 1, 1, 1])]
TASK = ProxyTask(image_size=32, epochs=1, classes=10, steps_per_epoch=2)
DATA_CONFIG = {"dataset": "digits", "image_size": 32, "batch_size": 32, "split_seed": 0}


@pytest.fixture(scope="module")
def worker():
    worker = ProxyWorker(DATA_CONFIG, recycle_every=2)
    yield worker
    worker.close()


@pytest.mark.slow
def test_a_run_in_the_child_equals_a_run_in_this_process(worker):
    epochs = []
    outcome = worker.run(ARCHS[0], task=TASK, search_seed=7, on_epoch=epochs.append)
    expected, _ = run_proxy(ARCHS[0], task=TASK, data=ProxyData(**DATA_CONFIG), search_seed=7)
    assert outcome.accuracy == expected.accuracy
    assert outcome.seeds == expected.seeds
    assert epochs == [0]


@pytest.mark.slow
def test_the_child_is_replaced_after_recycle_every_runs_and_saves_the_last_model(worker, tmp_path):
    worker.close()
    worker.run(ARCHS[0], task=TASK, search_seed=1)
    first = worker.pid
    worker.run(ARCHS[1], task=TASK, search_seed=1)
    assert worker.pid == first
    worker.save_model(str(tmp_path / "model.keras"))
    assert (tmp_path / "model.keras").stat().st_size > 0
    worker.run(ARCHS[0], task=TASK, search_seed=1)  # third run: a new child
    assert worker.pid != first and worker.runs_in_child == 1
    assert worker.children_started >= 2


@pytest.mark.slow
def test_errors_keep_their_type_and_a_dead_child_is_replaced():
    worker = ProxyWorker(DATA_CONFIG, recycle_every=10)
    worker.run(ARCHS[0], task=TASK, search_seed=1)
    pid = worker.pid
    worker._connection.send(("run", "not an arch", TASK, 1))  # fails inside run_proxy
    with pytest.raises(ProxyWorkerError) as caught:
        worker._receive(lambda message: None, expect="done")
    assert (
        caught.value.kind not in ("ChildDied", "") and "Traceback" in caught.value.child_traceback
    )
    assert worker.run(ARCHS[1], task=TASK, search_seed=1).accuracy >= 0.0
    assert worker.pid == pid  # an error does not cost the child
    os.kill(pid, signal.SIGKILL)
    worker._process.join()
    outcome = worker.run(ARCHS[1], task=TASK, search_seed=1)  # a new child takes over
    assert worker.pid != pid and 0.0 <= outcome.accuracy <= 1.0
    worker.close()
    assert worker.pid is None
    with pytest.raises(RuntimeError, match="no trained model"):
        ProxyWorker(DATA_CONFIG).save_model("x.keras")
    with pytest.raises(ValueError, match="recycle_every must be a positive integer"):
        ProxyWorker(DATA_CONFIG, recycle_every=0)


@pytest.mark.slow
def test_a_bad_data_set_is_reported_from_the_child():
    worker = ProxyWorker({**DATA_CONFIG, "dataset": "no-such-dataset"})
    with pytest.raises(ProxyWorkerError, match="no-such-dataset"):
        worker.run(ARCHS[0], task=TASK, search_seed=1)
    assert worker.pid is None


@pytest.mark.parametrize(
    ("code", "quiet"), [(errno.EPIPE, True), (errno.EBADF, True), (errno.ENOSPC, False)]
)
def test_the_child_ends_quietly_only_when_its_pipe_to_the_parent_is_gone(monkeypatch, code, quiet):
    from search.proxy import worker

    def serve(connection, data_config):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(worker, "exit_with_parent", lambda pid: None)
    monkeypatch.setattr(worker, "_serve", serve)
    if quiet:
        assert worker._child_main(None, {}, 1) is None
    else:
        with pytest.raises(OSError, match=os.strerror(code)):
            worker._child_main(None, {}, 1)
