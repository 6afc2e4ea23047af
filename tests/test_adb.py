"""Tests for tflite_bench.adb, end to end against a fake `adb` executable put first on PATH that
records its calls and prints canned getprop and benchmark_model output. No TensorFlow."""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap

import pytest

from tflite_bench import adb

NEW_OUTPUT = """\
STARTING!
Num threads: [1]
Graph: [/data/local/tmp/model.tflite]
Use xnnpack: [1]
INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
Initialized session in 34.543ms.
Running benchmark for at least 10 iterations and at least 0.5 seconds.
count=10 first=77066 curr=62208 min=62061 max=77066 avg=64221.4 std=4892 p5=62061 median=62500 p95=77066

Running benchmark for at least 50 iterations and at least 1 seconds.
count=50 first=62263 curr=62110 min=61975 max=63193 avg=62228.6 std=234 p5=61990 median=62150 p95=62900

Inference timings in us: Init: 34543, First inference: 77066, Warmup (avg): 64221.4, Inference (avg): 62228.6
Memory footprint delta from the start of the tool (MB): init=5.94 overall=11.6
"""  # noqa: E501

OLD_OUTPUT = """\
Initialized session in 38.467ms
Running benchmark for 1 iterations
count=1 curr=83235
Running benchmark for 50 iterations
count=50 first=80123 curr=79543 min=79011 max=81234 avg=79760.9 std=512
Average inference timings in us: Warmup: 83235, Init: 38467, Inference: 79760.9
"""

PROPS = {
    "ro.product.model": "Pixel 1",
    "ro.product.manufacturer": "Google",
    "ro.board.platform": "msm8996",
    "ro.soc.model": "",
    "ro.build.version.release": "10",
    "ro.product.cpu.abi": "arm64-v8a",
}

FAKE_ADB = """\
#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_ADB_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[:1] == ["-s"]:
    args = args[2:]
if args == ["devices"]:
    print("List of devices attached")
    print(os.environ.get("FAKE_ADB_DEVICES", ""))
elif args[:1] == ["push"]:
    if not os.path.exists(args[1]):
        print("adb: error: cannot stat '%s': No such file or directory" % args[1], file=sys.stderr)
        sys.exit(1)
    print("%s: 1 file pushed." % args[1])
elif args[:2] == ["shell", "getprop"]:
    print(json.loads(os.environ["FAKE_ADB_PROPS"]).get(args[2], ""))
elif args[:2] == ["shell", "chmod"]:
    pass
elif args[:1] == ["shell"] and "benchmark_model" in args[1]:
    with open(os.environ["FAKE_ADB_OUTPUT"]) as handle:
        sys.stdout.write(handle.read())
    sys.exit(int(os.environ.get("FAKE_ADB_RC", "0")))
else:
    print("fake adb: unexpected %r" % (args,), file=sys.stderr)
    sys.exit(2)
"""


@pytest.fixture
def fake_adb(tmp_path, monkeypatch):
    """A fake adb first on PATH; returns a helper to set its output and read its calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "adb"
    script.write_text(FAKE_ADB.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "adb_calls.jsonl"
    output = tmp_path / "benchmark_output.txt"
    output.write_text(NEW_OUTPUT)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_ADB_LOG", str(log))
    monkeypatch.setenv("FAKE_ADB_OUTPUT", str(output))
    monkeypatch.setenv("FAKE_ADB_PROPS", json.dumps(PROPS))
    monkeypatch.setenv("FAKE_ADB_DEVICES", "HT123\tdevice")

    class Fake:
        path = str(script)

        @staticmethod
        def calls() -> list[list[str]]:
            if not log.exists():
                return []
            return [json.loads(line) for line in log.read_text().splitlines()]

        @staticmethod
        def set_output(text: str) -> None:
            output.write_text(text)

    return Fake


@pytest.fixture
def files(tmp_path):
    model = tmp_path / "mnasnet.tflite"
    model.write_bytes(b"not really a model; the fake device does not care")
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF fake")
    return model, binary


def test_parse_new_format_takes_the_timed_runs():
    stats = adb.parse_benchmark_output(NEW_OUTPUT)
    assert stats.n == 50
    assert stats.min_ms == pytest.approx(61.975)
    assert stats.mean_ms == pytest.approx(62.2286)
    assert stats.median_ms == pytest.approx(62.150)
    assert stats.std_ms == pytest.approx(0.234)
    assert stats.p90_ms is None
    assert stats.metadata["summary_format"] == "new"
    assert stats.metadata["init_ms"] == pytest.approx(34.543)
    assert stats.metadata["first_inference_ms"] == pytest.approx(77.066)
    assert stats.metadata["p95_ms"] == pytest.approx(62.9)


def test_parse_old_format_without_median():
    stats = adb.parse_benchmark_output(OLD_OUTPUT)
    assert stats.n == 50 and stats.median_ms is None
    assert stats.latency_ms == stats.mean_ms == pytest.approx(79.7609)
    assert stats.min_ms == pytest.approx(79.011)
    assert stats.metadata["summary_format"] == "old"
    assert stats.metadata["warmup_avg_ms"] == pytest.approx(83.235)


def test_parse_garbage_shows_the_tail():
    text = "\n".join(f"line {i}" for i in range(40)) + "\nERROR: Could not open model"
    with pytest.raises(adb.AdbError, match="Could not open model") as info:
        adb.parse_benchmark_output(text)
    assert "line 39" in str(info.value) and "line 0\n" not in str(info.value)


@pytest.mark.slow
def test_measure_end_to_end(fake_adb, files):
    model, binary = files
    stats = adb.measure(
        model, benchmark_model=binary, num_threads=1, runs=50, warmup=10, taskset_mask="f0"
    )
    assert stats.median_ms == pytest.approx(62.15)
    device = stats.metadata["device"]
    assert device["model"] == "Pixel 1" and device["board_platform"] == "msm8996"
    assert device["android_version"] == "10" and device["serial"] == "HT123"
    assert stats.metadata["backend"] == "adb" and len(stats.metadata["model_sha256"]) == 64
    json.dumps(stats.to_dict())  # JSON-serializable
    calls = fake_adb.calls()
    assert calls[0] == ["devices"]
    assert ["-s", "HT123", "push", str(binary), "/data/local/tmp/benchmark_model"] in calls
    assert ["-s", "HT123", "shell", "chmod", "+x", "/data/local/tmp/benchmark_model"] in calls
    assert ["-s", "HT123", "push", str(model), "/data/local/tmp/mnasnet.tflite"] in calls
    run = calls[-1]
    assert run[:3] == ["-s", "HT123", "shell"]
    assert run[3].split() == [
        "taskset",
        "f0",
        "/data/local/tmp/benchmark_model",
        "--graph=/data/local/tmp/mnasnet.tflite",
        "--num_threads=1",
        "--num_runs=50",
        "--warmup_runs=10",
        "--use_xnnpack=true",
    ]


@pytest.mark.slow
def test_measure_with_explicit_adb_path_and_old_output(fake_adb, files, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    fake_adb.set_output(OLD_OUTPUT)
    model, binary = files
    stats = adb.measure(model, benchmark_model=binary, adb_path=fake_adb.path, use_xnnpack=False)
    assert stats.mean_ms == pytest.approx(79.7609)
    assert "taskset" not in fake_adb.calls()[-1][3]
    assert "--use_xnnpack=false" in fake_adb.calls()[-1][3]


def test_adb_missing(files, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    model, binary = files
    with pytest.raises(adb.AdbError, match="adb not found on PATH"):
        adb.measure(model, benchmark_model=binary)
    with pytest.raises(adb.AdbError, match="nowhere/adb"):
        adb.find_adb("/nowhere/adb")


@pytest.mark.slow
def test_no_device(fake_adb, files, monkeypatch):
    monkeypatch.setenv("FAKE_ADB_DEVICES", "")
    with pytest.raises(adb.AdbError, match="no Android device"):
        adb.measure(files[0], benchmark_model=files[1])


@pytest.mark.slow
def test_unauthorized_device_is_named(fake_adb, files, monkeypatch):
    monkeypatch.setenv("FAKE_ADB_DEVICES", "HT9\tunauthorized")
    with pytest.raises(adb.AdbError, match=r"HT9 \(unauthorized\)"):
        adb.measure(files[0], benchmark_model=files[1])


@pytest.mark.slow
def test_several_devices_need_a_serial(fake_adb, files, monkeypatch):
    monkeypatch.setenv("FAKE_ADB_DEVICES", "AAA\tdevice\nBBB\tdevice")
    with pytest.raises(adb.AdbError, match="several devices.*AAA, BBB.*--adb_serial"):
        adb.measure(files[0], benchmark_model=files[1])
    stats = adb.measure(files[0], benchmark_model=files[1], serial="BBB")
    assert stats.metadata["device"]["serial"] == "BBB"
    assert all(call[:2] == ["-s", "BBB"] for call in fake_adb.calls()[2:])
    with pytest.raises(adb.AdbError, match="CCC is not attached"):
        adb.measure(files[0], benchmark_model=files[1], serial="CCC")


def test_binary_missing(fake_adb, files, tmp_path):
    with pytest.raises(adb.AdbError, match="benchmark_model binary not found.*nope"):
        adb.measure(files[0], benchmark_model=tmp_path / "nope")
    assert fake_adb.calls() == []


def test_model_missing(fake_adb, files, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.tflite"):
        adb.measure(tmp_path / "missing.tflite", benchmark_model=files[1])


@pytest.mark.slow
def test_unparsable_output_shows_its_tail(fake_adb, files):
    fake_adb.set_output(
        textwrap.dedent("""\
        STARTING!
        ERROR: Didn't find op for builtin opcode 'CONV_2D' version '6'
        Failed to construct interpreter
        """)
    )
    with pytest.raises(adb.AdbError, match="(?s)cannot parse.*Failed to construct interpreter"):
        adb.measure(files[0], benchmark_model=files[1])


@pytest.mark.slow
def test_failing_benchmark_shows_exit_status(fake_adb, files, monkeypatch):
    monkeypatch.setenv("FAKE_ADB_RC", "1")
    fake_adb.set_output("Segmentation fault\n")
    with pytest.raises(adb.AdbError, match="exit status 1(.|\n)*Segmentation fault"):
        adb.measure(files[0], benchmark_model=files[1])


@pytest.mark.parametrize("mask", ["0", "xyz", "0x"])
def test_bad_taskset_mask_names_the_value(files, mask):
    with pytest.raises(ValueError, match=repr(mask)):
        adb.measure(files[0], benchmark_model=files[1], taskset_mask=mask)
