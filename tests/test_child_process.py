"""tflite_bench/processes.py: a helper process ends when its parent is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

SCRIPT = """
import multiprocessing, os, sys, time
from tflite_bench.processes import exit_with_parent

def helper(parent_pid):
    exit_with_parent(parent_pid, poll_s=0.2)
    time.sleep(120)

if __name__ == "__main__":
    child = multiprocessing.get_context("fork").Process(target=helper, args=(os.getpid(),))
    child.start()
    print(child.pid, flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:  # a zombie is gone too
        return handle.read().split()[2] != "Z"


@pytest.mark.slow
def test_a_helper_ends_within_a_second_of_its_parents_kill():
    parent = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    helper = int(parent.stdout.readline())
    assert _alive(helper)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(helper)
