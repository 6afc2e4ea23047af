"""Fault injection: every way a search, a training run or a binary can be handed something broken
ends cleanly, with one line that names the file or value and says what to do, before anything
trains and without losing what was already written.

Preconditions of a search (`run_search` raises `SearchSetupError` before the project folder
exists): images that do not decode, one class, the adb backend and the predictor table;
damaged project files (oracle.json, trial.json, tuner0.json, run.json, checkpoints) recovered
from what is intact; Ctrl-C and a full disk in the binaries; garbage Keras files; a chief exposed
beyond loopback. Library functions are called in-process; the binaries run as subprocesses only
to check exit codes and the absence of tracebacks (marked slow, with what trains).
"""

from __future__ import annotations

import errno
import glob
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from search.multitrial.config import SearchConfig
from tflite_bench import binary, files

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_ARCH = "r1_k3_s11_e1_o16:r1_k3_s22_e3_o24"
FAST_SEARCH = dict(
    max_trials=1,
    epochs_per_trial=1,
    steps_per_epoch=1,
    batch_size=4,
    references=(),
    latency_target_ms=5.0,
    latency_image_size=32,
    latency_runs=2,
    recycle_every=0,
    export=False,
    train_verbose=0,
)


# ---- fixtures ------------------------------------------------------------------------------


def write_folder(root, *, classes=("a", "b"), per_class=12, extra=None):
    """An image folder data set of random 16×16 PNGs; `extra` maps a file name (in the first
    class) to the bytes to write there instead of an image."""
    from PIL import Image

    for index, name in enumerate(classes):
        os.makedirs(root / name, exist_ok=True)
        for i in range(per_class):
            pixels = np.random.default_rng(100 * index + i).integers(0, 255, (16, 16, 3))
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.png")
    for name, content in (extra or {}).items():
        (root / classes[0] / name).write_bytes(content)
    return root


def cut_short(path, keep: float = 0.5) -> None:
    """Truncates the file at `path` to `keep` of its bytes, as a full disk or a kill would."""
    data = open(path, "rb").read()
    with open(path, "wb") as handle:
        handle.write(data[: int(len(data) * keep)])


def half_a_png(root) -> bytes:
    """The first half of a valid PNG: the right header, a body cut short."""
    write_folder(root, classes=("z",), per_class=1)
    return (root / "z" / "0.png").read_bytes()[:60]


def search_config(tmp_path, **changes) -> SearchConfig:
    fields = {**FAST_SEARCH, "directory": str(tmp_path / "runs"), "project_name": "p", **changes}
    return SearchConfig(**fields)


def setup_error(config: SearchConfig) -> str:
    """The SearchSetupError message `run_search(config)`, which must fail before the project
    folder exists (and create no --directory either)."""
    from search.multitrial.run import SearchSetupError, run_search

    with pytest.raises(SearchSetupError) as raised:
        run_search(config)
    assert not os.path.exists(config.project_dir)
    assert not os.path.exists(config.directory) or os.listdir(config.directory) == []
    return str(raised.value)


# ---- 1. preconditions: the data set --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("x.png", b"this is not an image\n" * 5, "not a JPEG, PNG"),
        ("e.jpg", b"", "empty"),
    ],
)
def test_a_folder_file_that_is_not_an_image_is_refused_by_name(tmp_path, name, content, why):
    from mnasnet_tf import data

    root = write_folder(tmp_path / "images", extra={name: content})
    for split in ("train", "validation"):
        with pytest.raises(ValueError, match=why) as raised:
            data.load(f"folder:{root}", split=split, image_size=32, batch_size=4)
        assert str(root / "a" / name) in str(raised.value)
        assert "delete or replace" in str(raised.value)


def test_verify_folder_names_an_image_cut_short_and_passes_a_good_folder(tmp_path):
    from mnasnet_tf import data

    good = write_folder(tmp_path / "good")
    assert data.verify_folder(str(good)) == 24
    bad = write_folder(tmp_path / "bad", extra={"t.png": half_a_png(tmp_path / "src")})
    with pytest.raises(ValueError, match="do not decode") as raised:
        data.verify_folder(str(bad))
    assert str(bad / "a" / "t.png") in str(raised.value)


def test_a_data_set_with_one_class_is_refused(tmp_path):
    from mnasnet_tf import data

    root = write_folder(tmp_path / "one", classes=("cat",))
    with pytest.raises(ValueError, match="has 1 class .cat.; a classifier needs at least two"):
        data.load(f"folder:{root}", split="train", image_size=32, batch_size=4)


@pytest.mark.parametrize("fault", ["garbage", "cut_short", "one_class", "missing"])
def test_the_search_refuses_a_bad_folder_before_creating_the_project(tmp_path, fault):
    root = tmp_path / "images"
    if fault == "garbage":
        write_folder(root, extra={"x.png": b"not an image"})
        named = str(root / "a" / "x.png")
    elif fault == "cut_short":
        write_folder(root, extra={"t.png": half_a_png(tmp_path / "src")})
        named = str(root / "a" / "t.png")
    elif fault == "one_class":
        write_folder(root, classes=("a",))
        named = "a classifier needs at least two"
    else:
        named = str(root)
    assert named in setup_error(search_config(tmp_path, dataset=f"folder:{root}"))


@pytest.mark.parametrize(
    ("build", "values"),
    [
        ("train", {"image_size": 0}),
        ("train", {"image_size": 8}),
        ("eval", {"image_size": 0}),
        ("bench", {"image_size": 0}),
        ("search", {"proxy_image_size": 0}),
        ("search", {"latency_image_size": 0}),
    ],
)
def test_an_image_size_below_what_models_take_is_refused_naming_it(build, values):
    from mnasnet_tf import train
    from search.cli import mnasnet_eval as eval_main
    from search.cli import tflite_bench as bench_main

    make = {
        "train": lambda: train.TrainConfig(**values),
        "eval": lambda: eval_main.EvalConfig(model_path="m.keras", **values),
        "bench": lambda: bench_main.BenchConfig(model=("mnasnet-a1",), **values),
        "search": lambda: SearchConfig(**values),
    }[build]
    ((name, value),) = values.items()
    with pytest.raises(ValueError, match=f"{name} must be .*got {value}"):
        make()


# ---- 1. preconditions: the latency backend --------------------------------------------------


def fake_adb(folder, devices: str):
    """An `adb` that lists `devices` ('SERIAL\\tstate' lines) and answers anything else."""
    folder.mkdir(exist_ok=True)
    path = folder / "adb"
    path.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        f"  *devices*) printf 'List of devices attached\\n{devices}\\n';;\n"
        "  *) echo ok;;\n"
        "esac\n"
    )
    path.chmod(0o755)
    return str(path)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "named"),
    [
        ("not_on_path", "adb not found on PATH"),
        ("adb_missing", "adb not found at"),
        ("no_device", "no Android device ready"),
        ("two_devices", "choose one with --adb_serial"),
        ("unauthorized", "not ready; authorize it"),
        ("benchmark_model_missing", "benchmark_model binary not found"),
    ],
)
def test_the_adb_backend_is_checked_before_anything_trains(tmp_path, monkeypatch, fault, named):
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF")
    options = {"backend": "adb", "benchmark_model": str(binary), "dataset": "digits"}
    if fault == "not_on_path":
        monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    elif fault == "adb_missing":
        options["adb"] = str(tmp_path / "no" / "adb")
    elif fault == "no_device":
        options["adb"] = fake_adb(tmp_path / "bin", "")
    elif fault == "two_devices":
        options["adb"] = fake_adb(tmp_path / "bin", "A1\\tdevice\\nB2\\tdevice")
    elif fault == "unauthorized":
        options["adb"] = fake_adb(tmp_path / "bin", "A1\\tunauthorized")
        options["adb_serial"] = "A1"
    else:
        options["adb"] = fake_adb(tmp_path / "bin", "A1\\tdevice")
        options["benchmark_model"] = str(tmp_path / "missing_benchmark_model")
    message = setup_error(search_config(tmp_path, **options))
    assert message.startswith("--backend=adb: ")
    assert named in message


@pytest.mark.slow
def test_a_ready_adb_device_passes_the_check(tmp_path):
    from tflite_bench.backends import AdbBackend

    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF")
    adb = fake_adb(tmp_path / "bin", "A1\\tdevice")
    assert AdbBackend(benchmark_model=str(binary), adb_path=adb).check_ready() == "A1"


def _table(path, entries) -> str:
    payload = {"format": "mnasnet-tf/latency-table-v1", "statistic": "min", "entries": entries}
    path.write_text(json.dumps(payload))
    return str(path)


@pytest.mark.parametrize("fault", ["missing", "cut_short", "lacks_parts"])
def test_the_predictor_table_is_checked_before_anything_trains(tmp_path, fault):
    path = tmp_path / "table.json"
    if fault == "cut_short":
        _table(path, {"stem": {"min_ms": 1.0}})
        cut_short(path)
    elif fault == "lacks_parts":
        _table(path, {"stem": {"kind": "stem", "min_ms": 1.0, "median_ms": 1.0}})
    config = search_config(
        tmp_path, backend="predictor", predictor_table=str(path), dataset="digits"
    )
    message = setup_error(config)
    assert str(path) in message
    if fault == "lacks_parts":
        assert "lacks" in message and "build the table" in message
        assert "mnasnet (default)" in message  # the architectures that need the parts


def test_a_table_that_covers_the_space_passes_the_check(tmp_path):
    from search.latency.parts import image_hw, part_keys
    from search.latency.table import LatencyTable, TableBackend
    from search.multitrial import preflight
    from search.spaces.registry import get_space

    space = get_space("mnasnet")
    config = search_config(tmp_path, backend="predictor", predictor_table="t.json", seed=4)
    # every part of the architectures the check samples (same seed), and nothing more
    rng = np.random.default_rng(config.seed)
    archs = [space.to_arch(space.default_choices())]
    archs += [space.to_arch(space.sample(rng)) for _ in range(preflight.TABLE_SAMPLES)]
    entry = {"kind": "x", "min_ms": 1.0, "median_ms": 1.0, "mean_ms": 1.0}
    keys = {key for arch in archs for key in part_keys(arch, image_hw(32), 10)}
    backend = TableBackend(LatencyTable({k: entry for k in keys}), image_size=32, classes=10)
    preflight.check_table(config, backend=backend, space=space)  # passes: nothing raised
    one_less = {k: entry for k in sorted(keys)[1:]}  # the same table lacking one part is refused
    partial = TableBackend(LatencyTable(one_less), image_size=32, classes=10)
    with pytest.raises(ValueError, match="lacks"):
        preflight.check_table(config, backend=partial, space=space)


# ---- 3. the project folder ------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["directory_is_a_file", "project_is_a_file", "read_only"])
def test_an_unusable_directory_is_refused_in_one_line(tmp_path, monkeypatch, fault):
    import tempfile

    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    if fault == "directory_is_a_file":
        config = search_config(tmp_path, directory=str(a_file / "runs"))
        named = f"{a_file} is a file, not a folder"
    elif fault == "project_is_a_file":
        config = search_config(tmp_path, directory=str(tmp_path), project_name="a_file")
        named = f"{a_file} is a file, not a folder"
    else:  # root may write anywhere: the disk says read-only
        real = tempfile.TemporaryFile

        def read_only(*args, **kwargs):
            if kwargs.get("dir") == str(tmp_path):
                raise OSError(errno.EROFS, "Read-only file system", str(tmp_path))
            return real(*args, **kwargs)

        monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
        config = search_config(tmp_path, directory=str(tmp_path / "runs"))
        named = f"cannot write in {tmp_path} (Read-only file system)"
    from search.multitrial.run import SearchSetupError, run_search

    with pytest.raises(SearchSetupError, match=re.escape(named)):
        run_search(config)
    assert not (tmp_path / "runs").exists()


def test_a_start_up_failure_leaves_no_empty_project_folder(tmp_path, monkeypatch):
    from search.multitrial import run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("search.multitrial.estimate.estimate", interrupted, raising=False)
    monkeypatch.setattr(run, "proxy_references", interrupted)
    config = search_config(tmp_path, directory=str(tmp_path / "new" / "runs"), dataset="digits")
    with pytest.raises(KeyboardInterrupt):
        run.run_search(config)
    assert os.listdir(tmp_path) == []  # new/, runs/ and the project folder all went back
    # an existing folder with something in it is kept
    os.makedirs(config.project_dir)
    (tmp_path / "new" / "runs" / "p" / "keep.txt").write_text("x")
    with pytest.raises(KeyboardInterrupt):
        run.run_search(config)
    assert (tmp_path / "new" / "runs" / "p" / "keep.txt").exists()


# ---- 2. damaged project files ----------------------------------------------------------------


@pytest.fixture
def project(tmp_path):
    """A search project of 3 ended trials and one still running, driven with fake metrics."""
    from oracle_helpers import make_oracle, run_one

    oracle = make_oracle(tmp_path, max_trials=6)
    for _ in range(3):
        run_one(oracle)
    running = oracle.create_trial("tuner0")
    return tmp_path / "search", oracle, running


def resume(tmp_path, **kwargs):
    from oracle_helpers import make_oracle

    oracle = make_oracle(tmp_path, max_trials=6, **kwargs)
    oracle.reload()
    return oracle


def no_temporary_files(folder) -> bool:
    return not [
        p for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True) if ".tmp" in p
    ]


def test_a_cut_short_oracle_json_resumes_from_its_backup(project, tmp_path, caplog):
    from oracle_helpers import run_all

    folder, _, running = project
    assert (folder / "oracle.json.bak").exists()
    cut_short(folder / "oracle.json")
    with caplog.at_level(logging.WARNING):
        oracle = resume(tmp_path)
    assert f"{folder / 'oracle.json'} is corrupt" in caplog.text
    assert "resuming from its backup" in caplog.text
    # the backup is one save older (before the 4th trial was created): reload re-queues it
    assert oracle._retry_queue == [running.trial_id]
    trials = run_all(oracle)
    assert [t.trial_id for t in trials] == ["3", "4", "5"]
    assert trials[0].hyperparameters.values == running.hyperparameters.values
    assert all(t.status == "COMPLETED" for t in oracle.trials.values())


def test_an_unreadable_oracle_state_without_backup_names_both_and_what_to_do(project, tmp_path):
    from search.multitrial import preflight, project_files

    folder, _, _ = project
    (folder / "oracle.json").write_text("")
    (folder / "oracle.json.bak").unlink()
    config = search_config(tmp_path, directory=str(tmp_path), project_name="search")
    for check in (lambda: resume(tmp_path), lambda: preflight.check_project(config)):
        with pytest.raises(project_files.CorruptProjectError) as raised:
            check()
        message = str(raised.value)
        assert f"{folder / 'oracle.json'} is corrupt (empty)" in message
        assert "there is no backup" in message and "--overwrite" in message
    preflight.check_project(search_config(tmp_path, directory=str(tmp_path), overwrite=True))


def test_a_cut_short_trial_json_of_an_ended_trial_keeps_its_id(project, tmp_path, caplog):
    from oracle_helpers import run_all

    folder, _, _ = project
    cut_short(folder / "trial_1" / "trial.json")
    with caplog.at_level(logging.WARNING):
        oracle = resume(tmp_path)
    assert f"{folder / 'trial_1' / 'trial.json'}" in caplog.text
    assert "trial 1 keeps its id but its result is lost" in caplog.text
    assert (folder / "trial_1" / "trial.json.corrupt").exists()
    assert oracle.trials["1"].status == "FAILED"
    new = run_all(oracle)
    assert [t.trial_id for t in new] == ["3", "4", "5"]  # no id is given twice
    assert len(oracle.trials) == 6
    # the next resume still knows the trial (its id is in the oracle state)
    assert resume(tmp_path).trials["1"].status == "FAILED"


def test_a_cut_short_trial_json_of_an_ended_trial_is_rebuilt_from_trials_csv(
    project, tmp_path, caplog
):
    from search.multitrial import records
    from search.results import report
    from search.spaces.registry import get_space

    folder, oracle, _ = project
    space = get_space("mnasnet")
    before = records.load_records(str(folder), space)
    report.write_trials_csv(before, str(folder / "trials.csv"))
    cut_short(folder / "trial_1" / "trial.json")
    with caplog.at_level(logging.WARNING):
        resumed = resume(tmp_path)
    assert "trial 1 rebuilt from trials.csv" in caplog.text
    trial = resumed.trials["1"]
    assert trial.status == "COMPLETED"
    assert trial.score == oracle.trials["1"].score
    arch = space.from_hyperparameters(trial.hyperparameters.values)  # canonical choices
    assert arch == space.from_hyperparameters(oracle.trials["1"].hyperparameters.values)
    after = records.load_records(str(folder), space)  # the rewritten trial.json reads back
    assert [r["reward"] for r in after[:3]] == [r["reward"] for r in before[:3]]


def test_a_cut_short_trial_json_of_a_running_trial_runs_it_again(project, tmp_path, caplog):
    from oracle_helpers import run_one

    folder, _, running = project
    cut_short(folder / f"trial_{running.trial_id}" / "trial.json")
    with caplog.at_level(logging.WARNING):
        oracle = resume(tmp_path)
    assert f"trial {running.trial_id} runs again with the same architecture" in caplog.text
    again = run_one(oracle)
    assert again.trial_id == running.trial_id
    assert again.hyperparameters.values == running.hyperparameters.values
    assert json.loads((folder / f"trial_{running.trial_id}" / "trial.json").read_text())


def test_a_cut_short_tuner_json_is_rewritten(project, tmp_path, caplog):
    from oracle_helpers import make_oracle

    from search.controllers.reward import soft
    from search.latency.meter import LatencyMeter
    from search.multitrial.tuner import MnasTuner
    from search.proxy.task import ProxyTask
    from search.spaces.registry import get_space

    folder, _, _ = project
    (folder / "tuner0.json").write_text('{"uncl')
    oracle = make_oracle(tmp_path, max_trials=6)
    with caplog.at_level(logging.WARNING):
        MnasTuner(
            oracle,
            space=get_space("mnasnet"),
            reward=soft(target_ms=75.0),
            proxy=ProxyTask(),
            meter=LatencyMeter("local", cache_path=None),
            directory=str(tmp_path),
            project_name="search",
        )
    assert f"{folder / 'tuner0.json'} is corrupt" in caplog.text
    assert json.loads((folder / "tuner0.json").read_text()) == {}
    assert len(oracle.trials) == 4  # the oracle was reloaded all the same


def test_a_full_disk_leaves_no_temporary_file_and_the_old_file_intact(project, monkeypatch):
    from mnasnet_tf import arch_string, zoo
    from search.results import report

    folder, oracle, _ = project
    real = files.atomic_save

    def disk_full(path, save, *, suffix=""):
        def save_then_fail(tmp):
            save(tmp)  # the temporary file is there, then the disk fills up
            raise OSError(errno.ENOSPC, "No space left on device", tmp)

        return real(path, save_then_fail, suffix=suffix)

    monkeypatch.setattr(files, "atomic_save", disk_full)
    names = ["oracle.json", "trial_0/trial.json", "best.json", "summary.json", "labels.txt"]
    for name in ("best.json", "summary.json", "labels.txt"):
        (folder / name).write_text("old")
    before = {name: (folder / name).read_bytes() for name in names}
    writers = [
        oracle.save,
        lambda: oracle._save_trial(oracle.trials["0"]),
        lambda: arch_string.save_json(zoo.get_arch("mnasnet-a1"), folder / "best.json"),
        lambda: report.write_json({"a": 1}, str(folder / "summary.json")),
        lambda: files.atomic_write(folder / "labels.txt", "new"),
    ]
    for write in writers:
        with pytest.raises(OSError, match="No space left"):
            write()
    assert {name: (folder / name).read_bytes() for name in names} == before
    assert no_temporary_files(folder)


def test_project_files_are_written_only_through_the_atomic_writers():
    """No library module opens a file for writing or saves a model itself: everything goes
    through tflite_bench/files.py (digits-m writes into a staging folder it renames)."""
    allowed = {"tflite_bench/files.py", "mnasnet_tf/digits_m.py"}
    direct = re.compile(r"open\([^)]*[\"'][wax]b?[\"']|\.write_text\(|\.write_bytes\(")
    model_save = re.compile(r"^\s*[\w.]*model\.save\(", re.MULTILINE)
    offenders = []
    for package in ("mnasnet_tf", "search", "tflite_bench"):
        for path in glob.glob(os.path.join(REPO, package, "**", "*.py"), recursive=True):
            name = os.path.relpath(path, REPO)
            text = open(path, encoding="utf-8").read()
            if name not in allowed and (direct.search(text) or model_save.search(text)):
                offenders.append(name)
    assert offenders == []


def test_a_cut_short_run_json_is_named(tmp_path):
    from mnasnet_tf import train

    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "run.json").write_text('{"arch": {"na')
    config = train.TrainConfig(model=TINY_ARCH, image_size=32, epochs=1, model_dir=str(model_dir))
    with pytest.raises(ValueError, match=re.escape(f"{model_dir / 'run.json'} is corrupt")):
        train.train(config)


@pytest.mark.slow
@pytest.mark.parametrize("part", ["data-00000-of-00001", "index"])
def test_a_cut_short_checkpoint_falls_back_to_the_one_before(tmp_path, caplog, part):
    from mnasnet_tf import train

    def config(epochs: int) -> train.TrainConfig:
        return train.TrainConfig(
            model=TINY_ARCH,
            image_size=32,
            batch_size=16,
            epochs=epochs,
            steps_per_epoch=2,
            model_dir=str(tmp_path / "m"),
            export_eval_examples=0,
            verbose=0,
        )

    train.train(config(2))
    newest = tmp_path / "m" / "checkpoints" / f"ckpt-2.{part}"
    cut_short(newest)
    with caplog.at_level(logging.WARNING):
        result = train.train(config(3))
    assert "checkpoint" in caplog.text and "ckpt-2 is damaged" in caplog.text
    assert result.initial_epoch == 1  # resumed from ckpt-1, the intact one
    assert len(result.history["loss"]) == 2
    # every checkpoint damaged: the folder is named, with what to do
    for index in glob.glob(str(tmp_path / "m" / "checkpoints" / "ckpt-*.index")):
        cut_short(index, keep=0.1)
    with pytest.raises(ValueError, match="no intact checkpoint in .*delete that folder"):
        train.train(config(4))


# ---- 3. Ctrl-C and the disk in the binaries ------------------------------------------------


def test_run_binary_turns_ctrl_c_into_one_line_and_status_130(capsys):
    def interrupted():
        raise KeyboardInterrupt

    for resumable, line in [
        (True, "prog: interrupted; run the same command to resume\n"),
        (lambda: False, "prog: interrupted\n"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            binary.run_binary(interrupted, program="prog", resumable=resumable)
        assert exit_.value.code == 130
        assert capsys.readouterr().err == line


def test_a_swallowed_ctrl_c_still_stops_training_at_the_next_batch(capsys):
    from mnasnet_tf import train

    def swallowed_then_next_batch():
        try:  # what C code that clears Python errors does to the first KeyboardInterrupt
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
        except KeyboardInterrupt:
            pass
        assert binary.ctrl_c_pressed()
        train._StopOnCtrlC().on_train_batch_end(0)
        raise AssertionError("training went on after Ctrl-C")

    with pytest.raises(SystemExit) as exit_:
        binary.run_binary(swallowed_then_next_batch, program="prog", resumable=True)
    assert exit_.value.code == 130
    assert capsys.readouterr().err == "prog: interrupted; run the same command to resume\n"
    assert not binary.ctrl_c_pressed()  # the next binary run in this process starts afresh
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    train._StopOnCtrlC().on_train_batch_end(0)  # and training goes on


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "runs/p/oracle.json"),
            "prog: error: No space left on device: runs/p/oracle.json; free some disk space\n",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "/x/y"),
            "prog: error: Permission denied: /x/y; check its permissions or use another path\n",
        ),
    ],
)
def test_run_binary_turns_a_disk_error_into_one_line(capsys, error, line):
    def fails():
        raise error

    with pytest.raises(SystemExit) as exit_:
        binary.run_binary(fails, program="prog")
    assert exit_.value.code == 1
    assert capsys.readouterr().err == line


def test_run_binary_lets_other_errors_through():
    def bug():
        raise OSError("a socket problem, not a file")  # no errno: a bug to see in full

    with pytest.raises(OSError):
        binary.run_binary(bug, program="prog")


def test_run_job_turns_bad_input_into_a_usage_error_and_prints_its_summary(capsys):
    from absl import app

    def bad_flag():
        raise ValueError("--epochs must be positive; got -1")

    with pytest.raises(app.UsageError, match="--epochs must be positive; got -1"):
        binary.run_job(["prog"], bad_flag, str)
    with pytest.raises(app.UsageError, match=r"unexpected arguments: \['extra'\]"):
        binary.run_job(["prog", "extra"], lambda: 1, str)
    binary.run_job(["prog"], lambda: {"best": 0.9}, lambda result: f"best {result['best']}")
    assert capsys.readouterr().out.splitlines() == ["best 0.9", "(0 s)"]

    def bug():
        raise RuntimeError("a bug, not bad input: seen in full")

    with pytest.raises(RuntimeError):
        binary.run_job(["prog"], bug, str)


def test_every_binary_ends_through_run_binary():
    """Each console script's `run_main` hands its main to `binary.run_binary` under its name (read
    from the source: the binaries define clashing absl flags, so one process cannot run them
    all)."""
    import ast

    binaries = {
        "search/cli/mnasnet_search.py": "mnasnet-search",
        "search/cli/mnasnet_train.py": "mnasnet-train",
        "search/cli/mnasnet_eval.py": "mnasnet-eval",
        "search/cli/tflite_bench.py": "tflite-bench",
        "search/cli/mnasnet_proxy_check.py": "mnasnet-proxy-check",
        "search/cli/mnasnet_digits_m.py": "mnasnet-digits-m",
        "search/cli/mnasnet_models.py": "mnasnet-models",
    }
    setup = open(os.path.join(REPO, "setup.py"), encoding="utf-8").read()
    for path, program in binaries.items():
        module = path[: -len(".py")].replace("/", ".")
        assert f"{program}={module}:run_main" in setup
        tree = ast.parse(open(os.path.join(REPO, path), encoding="utf-8").read())
        (run_main,) = [n for n in tree.body if getattr(n, "name", None) == "run_main"]
        calls = [
            node
            for node in ast.walk(run_main)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "run_binary"
        ]
        names = [k.value.value for call in calls for k in call.keywords if k.arg == "program"]
        assert names == [program], path


def _interrupt(command, marker: str, tmp_dir, *, timeout: float = 400) -> tuple[int, str]:
    """Runs `command` with its temporary files in `tmp_dir`, sends SIGINT once `marker` appears
    in its output; (status, output)."""
    os.makedirs(tmp_dir, exist_ok=True)
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TMPDIR": str(tmp_dir)},
        # Ctrl-C as in a terminal, also when this test runs where SIGINT is ignored (a
        # background job inherits that, and Python then never raises KeyboardInterrupt)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: list[str] = []

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            if marker in line and process.poll() is None:
                time.sleep(0.5)
                process.send_signal(signal.SIGINT)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(10)
    return process.returncode, "".join(lines)


def _own_lines(output: str, prefix: str) -> list[str]:
    """The binary's own lines (TensorFlow's C++ logs of its child processes may come after)."""
    return [line for line in output.splitlines() if line.startswith(prefix)]


def _last_line(output: str) -> str:
    """The last line that is not a TensorFlow C++ log line ('E0000 00:00:17961.. file.cc:52] …',
    which a child process may print after the binary's message)."""
    lines = [
        line
        for line in output.splitlines()
        if line.strip() and not re.match(r"[IWEF]\d{4} \d\d:\d\d:\d\d", line)
    ]
    return lines[-1] if lines else ""


@pytest.mark.slow
def test_ctrl_c_in_the_search_binary_is_one_line_and_the_same_command_resumes(tmp_path):
    command = [
        sys.executable,
        "-m",
        "search.cli.mnasnet_search",
        f"--directory={tmp_path}",
        "--project_name=p",
    ]
    command += ["--dataset=digits", "--max_trials=1", "--epochs_per_trial=2"]
    command += ["--steps_per_epoch=30", "--batch_size=8", "--references=", "--export=false"]
    command += ["--latency_target_ms=5", "--latency_image_size=32", "--latency_runs=2"]
    command += ["--recycle_every=0", "--train_verbose=2", "--nolog_estimate"]
    status, output = _interrupt(command, "Epoch 1/2", tmp_path / "tmp")
    assert status == 130, output[-3000:]
    assert "Traceback" not in output
    assert _own_lines(output, "mnasnet-search:") == [
        "mnasnet-search: interrupted; run the same command to resume"
    ]
    assert no_temporary_files(tmp_path)
    assert os.listdir(tmp_path / "tmp") == []  # the latency meter's folder went too
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, check=False, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = (tmp_path / "p" / "trials.csv").read_text().splitlines()
    assert len(rows) == 2 and ",COMPLETED," in rows[1]


@pytest.mark.slow
def test_ctrl_c_in_mnasnet_train_is_one_line_and_the_same_command_resumes(tmp_path):
    command = [sys.executable, "-m", "search.cli.mnasnet_train", f"--model={TINY_ARCH}"]
    command += ["--image_size=32", "--batch_size=16", "--steps_per_epoch=20", "--epochs=3"]
    command += ["--export_eval_examples=0", "--verbose=2", f"--model_dir={tmp_path / 'm'}"]
    status, output = _interrupt(command, "Epoch 2/3", tmp_path / "tmp")
    assert status == 130, output[-3000:]
    assert "Traceback" not in output
    assert _own_lines(output, "mnasnet-train:") == [
        "mnasnet-train: interrupted; run the same command to resume"
    ]
    assert not glob.glob(str(tmp_path / "**" / "*.tmp*"), recursive=True)
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, check=False, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resumed at epoch 1" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["garbage_image", "no_adb_device", "directory_is_a_file"])
def test_the_search_binary_fails_a_bad_setup_in_one_line(tmp_path, fault):
    command = [
        sys.executable,
        "-m",
        "search.cli.mnasnet_search",
        "--project_name=p",
        "--references=",
    ]
    command += ["--latency_target_ms=5", "--max_trials=1"]
    directory = tmp_path / "runs"
    if fault == "garbage_image":
        root = write_folder(tmp_path / "images", extra={"x.png": b"not an image"})
        command.append(f"--dataset=folder:{root}")
        named = str(root / "a" / "x.png")
    elif fault == "no_adb_device":
        binary = tmp_path / "benchmark_model"
        binary.write_bytes(b"\x7fELF")
        command += ["--backend=adb", f"--adb={fake_adb(tmp_path / 'bin', '')}"]
        command.append(f"--benchmark_model={binary}")
        named = "no Android device ready"
    else:
        directory = tmp_path / "a_file"
        directory.write_text("x")
        named = "is a file, not a folder"
    command.append(f"--directory={directory}")
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, check=False, timeout=300
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert named in _last_line(done.stderr)
    assert not (tmp_path / "runs").exists()


def test_tflite_bench_removes_its_temporary_folder_when_interrupted(tmp_path, monkeypatch):
    import tempfile

    from search.cli import tflite_bench as bench_main

    folder = tmp_path / "tflite_bench_x"
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **kwargs: str(folder.mkdir() or folder))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench_main, "_to_tflite", interrupted)
    with pytest.raises(KeyboardInterrupt):
        bench_main.run(bench_main.BenchConfig(model=("mobilenet-v2",)))
    assert not folder.exists()


# ---- 4. Keras files that are not -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("garbage.keras", b"garbage" * 10, "not a zip archive"),
        ("empty.keras", b"", "empty"),
        ("garbage.h5", b"garbage" * 10, "not an HDF5 file"),
    ],
)
def test_a_garbage_keras_file_is_not_a_keras_model_file(tmp_path, name, content, why):
    from mnasnet_tf import eval as eval_lib
    from search.cli import tflite_bench as bench_main

    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"not a Keras model file \\({why}\\)") as raised:
        eval_lib.load_model(path)
    assert str(path) in str(raised.value) and "not found" not in str(raised.value)
    if name.endswith(".keras"):
        config = bench_main.BenchConfig(model=(str(path),))
        with pytest.raises(bench_main.UsageError, match="not a Keras model file"):
            bench_main._resolve(str(path), config)


# ---- 5. a chief anyone can reach ----------------------------------------------------------------


def test_a_chief_bound_beyond_loopback_warns(caplog):
    from search.multitrial import preflight
    from search.multitrial.run import setup_distribution

    names = ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID")
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        with caplog.at_level(logging.WARNING):
            assert not preflight.warn_unless_loopback("127.0.0.1", 8000)
            assert not preflight.warn_unless_loopback("::1", 8000)
            assert not preflight.warn_unless_loopback("localhost", 8000)
            assert caplog.text == ""
            config = SearchConfig(distributed_role="chief", oracle_ip="0.0.0.0", oracle_port=8123)
            assert setup_distribution(config) == "chief"
    finally:
        for name in names:  # setup_distribution set them
            os.environ.pop(name, None)
        os.environ.update(saved)
    assert "0.0.0.0:8123 without authentication" in caplog.text
    assert "any host that can reach this port can submit trial results" in caplog.text
    assert "SSH tunnel" in caplog.text


@pytest.mark.slow
def test_a_real_project_with_a_cut_short_trial_file_still_reports_the_rest(
    tiny_project, tmp_path, caplog
):
    """A trial.json cut short in a real project: its trial is skipped with a warning naming the
    file, the other trials still report, and the shared project is left untouched."""
    from search.multitrial import records as records_lib
    from search.spaces import registry as space_registry

    project = tiny_project.copy_to(tmp_path)
    damaged = project / "trial_1" / "trial.json"
    damaged.write_text(damaged.read_text()[:40])
    with caplog.at_level("WARNING", logger="mnasnet_tf.search"):
        records = records_lib.load_records(str(project), space_registry.get_space("mnasnet"))
    assert [r["trial"] for r in records] == ["0"]
    assert str(damaged) in caplog.text
    paths = records_lib.write_reports(str(project), records)
    assert os.path.exists(paths["trials"]) and no_temporary_files(project)
    assert (tiny_project.project / "trial_1" / "trial.json").read_text() != damaged.read_text()
