"""End-to-end tests of the search binary: a real (tiny) search on the bundled digits, resume,
a failing trial, and keras-tuner's distributed mode on loopback (chief + two workers)."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import time

import binary_helpers
import pytest

from mnasnet_tf import zoo

pytestmark = pytest.mark.slow


def _search(args: list[str], *, env: dict[str, str] | None = None, **kwargs):
    return binary_helpers.search_process(args, env=env, **kwargs)


def _run(args: list[str], timeout: float = 400) -> str:
    return binary_helpers.run_search_binary(args, timeout)


def _rows(project: str) -> list[dict[str, str]]:
    with open(os.path.join(project, "trials.csv")) as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_search_writes_every_report_and_resumes(tiny_project, tmp_path):
    project = tiny_project.copy_to(tmp_path)
    args = [f"--directory={tmp_path}", "--project_name=demo", "--seed=3"]
    output = tiny_project.output
    for name in (
        "trials.csv",
        "pareto.csv",
        "pareto.png",
        "history.png",
        "best_arch.json",
        "summary.json",
        "references.json",
        "best_model_float32.tflite",
        "best_model_int8.tflite",
    ):
        assert (project / name).exists(), f"{name} missing; output:\n{output[-2000:]}"
    first = _rows(str(project))
    assert [row["trial"] for row in first] == ["0", "1"]
    assert all(row["status"] == "COMPLETED" for row in first)
    for row in first:
        assert 0 <= float(row["accuracy"]) <= 1
        assert float(row["latency_ms"]) > 0
        assert float(row["reward"]) > 0
        assert float(row["train_seconds"]) > 0
    # best_arch.json is what mnasnet-train accepts.
    best = zoo.resolve_arch(str(project / "best_arch.json"))
    assert best.blocks
    assert "Search finished" in output and "best_arch" in output
    # The reference is trained on the same proxy: a point with accuracy, and a verdict.
    summary = json.loads((project / "summary.json").read_text())
    (reference,) = summary["references"]
    assert reference["name"] == "mobilenet-v3-small"
    assert 0 <= reference["accuracy"] <= 1 and reference["latency_ms"] > 0
    assert reference["dominated_by"] in (None, "0", "1")
    assert summary["verdict"][0] in output
    assert "mobilenet-v3-small" in summary["verdict"][0]
    with open(project / "pareto.csv") as handle:
        kinds = [row["kind"] for row in csv.DictReader(handle)]
    assert kinds[-1] == "reference" and set(kinds[:-1]) == {"trial"}
    with open(project / "oracle.json") as handle:
        state_before = json.load(handle)

    # The same command with a larger budget resumes: old trials intact, new ones added.
    resumed = _run([*args, "--max_trials=3", "--log_estimate"])
    assert "(cached)" in resumed  # the reference is not retrained
    assert json.loads((project / "summary.json").read_text())["references"] == [reference]
    second = _rows(str(project))
    assert [row["trial"] for row in second] == ["0", "1", "2"]
    for old, new in zip(first, second[:2], strict=True):
        assert old == new
    with open(project / "oracle.json") as handle:
        state_after = json.load(handle)
    assert set(state_before["entropy_history"]) < set(state_after["entropy_history"])
    # The best trial's trained weights survive the resume (exported from, never retrained).
    best_trial = max(second, key=lambda row: float(row["reward"]))["trial"]
    kept = sorted(path.parent.name for path in project.glob("trial_*/model.keras"))
    assert kept == [f"trial_{best_trial}"]
    # A search logs its estimate first (of what is left: one trial; it costs ~20 s, so only the
    # resumed run pays it); TensorBoard holds every trial once across the resume.
    assert "estimate: ~" in resumed and "for 1 trials" in resumed
    from tensorboard.backend.event_processing import event_accumulator

    board = event_accumulator.EventAccumulator(
        str(project / "tensorboard" / "search"), size_guidance={event_accumulator.TENSORS: 0}
    )
    board.Reload()
    assert [event.step for event in board.Tensors("trial/reward")] == [0, 1, 2]
    sessions = sorted(path.name for path in (project / "tensorboard").glob("trial_*"))
    assert sessions == ["trial_0", "trial_1", "trial_2"]


@pytest.mark.slow
def test_a_trial_whose_loss_goes_nan_is_recorded_as_failed_and_the_search_ends(tmp_path):
    process = _search(
        [
            f"--directory={tmp_path}",
            "--project_name=nan",
            "--max_trials=2",
            "--learning_rate=1e30",
            "--latency_target_ms=5",
            "--references=",  # a reference is trained before the trials: not the point here
        ]
    )
    output, _ = process.communicate(timeout=400)
    assert process.returncode == 1, output[-3000:]  # nothing succeeded: the run failed
    assert "no trial completed" in output and "Traceback" not in output.split("Search finished")[-1]
    rows = _rows(str(tmp_path / "nan"))
    assert [row["status"] for row in rows] == ["FAILED", "FAILED"]
    assert all("NaN" in row["reason"] for row in rows)
    assert "2 trials, 2 failed" in output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_distributed_chief_and_two_workers_survive_a_dead_worker(tmp_path):
    """keras-tuner's distributed mode on loopback: a worker killed with its trial in hand does
    not stop the chief (the trial goes to another worker after --worker_timeout_s); two
    workers then share the remaining trials, each keeping its best model; the chief trains the
    references, keeps one model (the best trial's) and exports it."""
    port = _free_port()
    common = [
        f"--directory={tmp_path}",
        "--project_name=dist",
        "--max_trials=3",
        f"--oracle_port={port}",
        "--oracle_ip=127.0.0.1",
        "--latency_target_ms=5",
        "--worker_timeout_s=20",
    ]
    chief = _search([*common, "--distributed_role=chief"])
    time.sleep(3)
    doomed = _search([*common, "--distributed_role=worker", "--tuner_id=doomed"])
    workers = []
    try:
        # Kill the first worker as soon as it has been handed a trial.
        deadline = time.time() + 120
        project = tmp_path / "dist"
        while time.time() < deadline and not list(project.glob("trial_*/trial.json")):
            time.sleep(0.5)
        assert list(project.glob("trial_*/trial.json")), "the doomed worker never got a trial"
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=30)
        workers = [
            _search([*common, "--distributed_role=worker", f"--tuner_id=worker{i}"])
            for i in range(2)
        ]
        outputs = [w.communicate(timeout=500)[0] for w in workers]
        for worker, output in zip(workers, outputs, strict=True):
            assert worker.returncode == 0, output[-3000:]
        chief_output, _ = chief.communicate(timeout=120)
        assert chief.returncode == 0, chief_output[-3000:]
    finally:
        for process in (chief, doomed, *workers):
            if process.poll() is None:
                process.kill()
    rows = _rows(str(project))
    assert len(rows) == 3
    assert all(row["status"] == "COMPLETED" for row in rows)
    # The chief owns the references: trained on the proxy once the workers are done.
    summary = json.loads((project / "summary.json").read_text())
    assert [r["name"] for r in summary["references"]] == ["mobilenet-v3-small"]
    assert 0 <= summary["references"][0]["accuracy"] <= 1
    # Both surviving workers ran trials, and each kept the best model it had found; the chief
    # keeps only the best trial's and exports it from that file (nothing retrained).
    assert all("finished" in output for output in outputs)
    for output in outputs:
        assert "the best model of this tuner so far" in output, output[-3000:]
    best = summary["best"]["trial"]
    kept = sorted(path.parent.name for path in project.glob("trial_*/model.keras"))
    assert kept == [f"trial_{best}"]
    assert "retraining" not in chief_output
    export = summary["export"]
    assert export["trial"] == best
    assert [(f["quantization"], f["input_size"]) for f in export["files"]] == [
        ("float32", 32),
        ("int8", 32),
    ]
    for entry in export["files"]:
        assert 0 <= entry["top1"] <= 1 and 0 <= entry["agreement"] <= 1
        assert entry["latency_ms"] > 0
    for quantization in ("float32", "int8"):
        assert (project / f"best_model_{quantization}.tflite").exists()
    assert export["train_command"].startswith(f"mnasnet-train --model={project}/best_arch.json")
    assert f"Exported trial {best}" in chief_output
    assert export["note"] in chief_output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flag", "named"),
    [
        ("--proxy_repeats=0", "proxy_repeats"),
        ("--references=mobilenet-v2,mnasnet-z9", "mnasnet-z9"),
        ("--dataset=no_such_set_xyz", "no_such_set_xyz"),
    ],
)
def test_bad_input_names_the_value_and_writes_nothing(tmp_path, flag, named):
    process = _search([f"--directory={tmp_path}", "--project_name=bad", flag])
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0
    assert named in output
    assert "Traceback" not in output
    assert not (tmp_path / "bad").exists()
