"""Shared pytest fixtures, and the guard that keeps the `slow` marker true.

TensorFlow is imported lazily, so TF-free test files stay fast. A test that is not marked
`slow` may not start a process (subprocess, multiprocessing), train a Keras model or convert one
to TFLite: the guard turns each of these into an error naming the test and what to do, so the
fast tier (`pytest -m "not slow"`) is only pure-Python work. Training and conversion are caught
once Keras or TensorFlow is imported in the test process (after the first such test
of a worker, that is every later test).
"""

from __future__ import annotations

import dataclasses
import fcntl
import multiprocessing.process
import os
import pathlib
import platform
import shutil
import subprocess
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Importing TensorFlow asks platform.processor(), which runs `uname -p` once per process and
# caches it: ask now, so a test that first imports TensorFlow is not taken for starting a process.
platform.processor()


class UnmarkedSlowWork(RuntimeError):
    """A test not marked `slow` did work that makes it slow."""


def _refuse(test: str, what: str):
    def refuse(*args, **kwargs):
        raise UnmarkedSlowWork(
            f"{test} {what} but is not marked slow: add @pytest.mark.slow (or fake the work)"
        )

    return refuse


@pytest.fixture(autouse=True)
def _slow_work_needs_the_slow_marker(request, monkeypatch):
    if request.node.get_closest_marker("slow") is not None:
        yield
        return
    test = request.node.nodeid
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse(test, "starts a process"))
    monkeypatch.setattr(
        multiprocessing.process.BaseProcess, "start", _refuse(test, "starts a process")
    )
    if "keras" in sys.modules:
        import keras

        for method in ("fit", "evaluate", "predict"):
            monkeypatch.setattr(keras.Model, method, _refuse(test, f"runs Model.{method}"))
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        monkeypatch.setattr(
            tf.lite.TFLiteConverter, "convert", _refuse(test, "converts a model to TFLite")
        )
    yield


@pytest.fixture(scope="session")
def zoo_model():
    """`zoo_model(name, **build_kwargs)`: the zoo model built once per session and shared
    (default: 224×224×3, include_top, 1000 classes). Do not train or mutate it."""
    cache = {}

    def get(name: str, **build_kwargs):
        key = (name, tuple(sorted(build_kwargs.items())))
        if key not in cache:
            from mnasnet_tf import zoo

            cache[key] = zoo.create_model(name, **build_kwargs)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def count_trainable():
    """`count_trainable(model)`: the number of trainable scalars of a Keras model."""

    def count(model) -> int:
        return sum(_prod(weight.shape) for weight in model.trainable_weights)

    return count


def _prod(shape) -> int:
    result = 1
    for value in shape:
        result *= int(value)
    return result


@dataclasses.dataclass(frozen=True)
class TinyProject:
    """A real 2-trial mnasnet-search project on the bundled digits (binary_helpers'
    TINY_SEARCH + TINY_PROJECT_ARGS), built once per test session and shared: read it, or
    `copy_to(folder)` before changing anything."""

    directory: pathlib.Path  # the --directory it was built in
    project: pathlib.Path  # directory/demo
    output: str  # what the binary printed

    def copy_to(self, folder: pathlib.Path) -> pathlib.Path:
        """A private copy as `folder/demo` (resumable with --directory=folder)."""
        shutil.copytree(self.project, folder / "demo")
        return folder / "demo"


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory) -> TinyProject:
    """The shared TinyProject. Built once for the whole run: pytest-xdist's workers share the
    folder and take a file lock, so the first to need it builds it and the others wait. Tests
    that use it start no process themselves but must be marked slow (it trains)."""
    from binary_helpers import TINY_PROJECT_ARGS, run_search_binary

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' common folder
    directory = root / "tiny_project"
    with open(root / "tiny_project.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = directory / "output.txt"
        if not done.exists():
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir()
            output = run_search_binary([f"--directory={directory}", *TINY_PROJECT_ARGS])
            (directory / "output.tmp").write_text(output)
            os.replace(directory / "output.tmp", done)
    return TinyProject(directory, directory / "demo", done.read_text())
