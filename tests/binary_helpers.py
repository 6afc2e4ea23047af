"""Run a binary's `_main` in the test process, with its flags in a fresh `FlagValues` (so the
binaries' flags, which share names, never meet), for tests where the exit code is not the
point: no process start, and the binary's code is measured by coverage."""

from __future__ import annotations

import importlib

from absl import flags


def run_in_process(module_name: str, args: list[str], monkeypatch) -> None:
    """Defines `module_name`'s flags in a fresh FlagValues (absl's global FLAGS patched to it
    for the call), parses `args` and runs `_main`; a bad flag raises `app.UsageError` or absl's
    flag error, as the binary would print."""
    module = importlib.import_module(module_name)
    values = flags.FlagValues()
    monkeypatch.setattr(flags, "FLAGS", values)
    module._define_flags(values)
    argv = values([module_name, *args])
    module._main(argv)


TINY_SEARCH = (
    "--dataset=digits",
    "--epochs_per_trial=1",
    "--steps_per_epoch=3",
    "--batch_size=32",
    "--latency_image_size=32",
    "--latency_runs=3",
    "--references=mobilenet-v3-small",
    "--train_verbose=0",
    "--nolog_estimate",  # measured by the resume test only: it costs ~20 s per search
)
"""The flags of the tiny real mnasnet-search the tests run (on the bundled digits)."""

TINY_PROJECT_ARGS = ("--project_name=demo", "--seed=3", "--max_trials=2")
"""What the shared tiny project (`tiny_project` in conftest.py) adds to TINY_SEARCH."""


def search_process(args, *, env=None, **kwargs):
    """mnasnet-search with TINY_SEARCH and `args`, started (stdout and stderr together)."""
    import os
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "search.cli.mnasnet_search", *TINY_SEARCH, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
        **kwargs,
    )


def run_search_binary(args, timeout: float = 400) -> str:
    """Runs `search_process(args)` to the end; fails the test with its output unless it exits 0."""
    process = search_process(args)
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return output
