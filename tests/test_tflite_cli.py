"""Tests for the `tflite-bench` binary (search.cli.tflite_bench), run in-process with absl flags:
clear errors naming bad values, local measurement of zoo models and .tflite files, --compare,
the predictor backend with --build_table, and the adb backend against a fake adb."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest
from absl import flags
from absl.testing import flagsaver

from search.cli import tflite_bench as main

FLAGS = flags.FLAGS
SMALL = {"image_size": 64, "width": 0.35, "classes": 10, "runs": 3, "warmup": 1}


@pytest.fixture(autouse=True)
def parsed_flags():
    if not FLAGS.is_parsed():
        FLAGS(["tflite-bench"])
    with flagsaver.flagsaver():
        yield


def _run(capsys, **values) -> tuple[int, str, str]:
    for name, value in values.items():
        setattr(FLAGS, name, value)
    code = 0
    try:
        main.main(["tflite-bench"])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "values, message",
    [
        ({"model": ["mnasnet-z9"]}, "'mnasnet-z9'"),
        ({"model": ["nowhere/model.tflite"]}, "nowhere/model.tflite"),
        ({"model": ["nowhere/model.keras"]}, "nowhere/model.keras"),
        ({"model": ["r1_k4_s11_o16"]}, "k4"),
        ({"model": []}, "--model is required"),
        (
            {"model": ["mnasnet-a1"], "image_size": 8},
            "--image_size must be an integer >= 32; got 8",
        ),
        ({"model": ["mnasnet-a1"], "runs": 0}, "--runs must be an integer >= 1; got 0"),
        ({"model": ["mnasnet-a1"], "backend": "predictor"}, "need --table"),
        ({"model": ["mnasnet-a1"], "backend": "adb"}, "--benchmark_model"),
        ({"model": ["mnasnet-a1"], "clock": "thread_cpu", "threads": 2}, "--threads=2"),
    ],
)
def test_bad_values_are_named(capsys, values, message):
    code, out, err = _run(capsys, **values)
    assert code == 2 and message in err and "Traceback" not in err


def test_missing_table_is_named(capsys, tmp_path):
    path = str(tmp_path / "none.json")
    code, _, err = _run(capsys, model=["mnasnet-a1"], backend="predictor", table=path)
    assert code == 2 and path in err


@pytest.mark.slow
def test_compare_zoo_models_and_write_json(capsys, tmp_path):
    out_json = tmp_path / "result.json"
    code, out, err = _run(
        capsys,
        model=["mobilenet-v2", "mnasnet-a1"],
        compare=True,
        output_dir=str(tmp_path / "tflite"),
        json=str(out_json),
        **SMALL,
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["model", "params", "M"]
    assert lines[1].startswith("mobilenet-v2") and lines[2].startswith("mnasnet-a1")
    assert "interleaved" in out and str(out_json) in out
    rows = json.loads(out_json.read_text())["rows"]
    assert [row["n"] for row in rows] == [3, 3]
    assert all(os.path.isfile(row["tflite"]) for row in rows)
    assert rows[1]["metadata"]["interleaved_with"] == 2

    # The .tflite written above measures directly, without conversion.
    code, out, err = _run(capsys, model=[rows[0]["tflite"]], compare=False, json=None, runs=2)
    assert code == 0, err
    assert "(file)" in out


@pytest.mark.slow
def test_build_table_then_predict(capsys, tmp_path):
    table = str(tmp_path / "table.json")
    arch = "sep_r1_k3_s11_o16:r2_k3_s22_e6_o24:r1_k5_s22_e3_o40_se0.25"
    code, out, err = _run(capsys, model=[arch], build_table=True, table=table, **SMALL)
    assert code == 0, err
    assert "parts" in out
    code, out, err = _run(capsys, model=[arch], build_table=False, backend="predictor")
    assert code == 0, err
    assert "predicted ms" in out and "NOT calibrated" in out
    assert float(out.splitlines()[1].split()[-2]) > 0


FAKE_ADB = """\
#!{python}
import os, sys
args = sys.argv[1:]
if args == ["devices"]:
    print("List of devices attached\\nSER1\\tdevice")
elif args[2:4] == ["shell", "getprop"]:
    print("Pixel 1" if args[4] == "ro.product.model" else "x")
elif "benchmark_model --graph" in " ".join(args):
    counter = os.environ.get("FAKE_ADB_COUNT")
    if counter:  # count the timed runs; fail after FAKE_ADB_FAIL_AFTER of them
        runs = int(open(counter).read() or 0) if os.path.exists(counter) else 0
        if runs >= int(os.environ.get("FAKE_ADB_FAIL_AFTER", 10**9)):
            print("error: device 'SER1' not found", file=sys.stderr)
            sys.exit(1)
        open(counter, "w").write(str(runs + 1))
    print("count=20 first=9000 curr=8000 min=7900 max=9000 avg=8100 std=50")
    print("Inference timings in us: Init: 100, First inference: 9000, Warmup (avg): 8500, "
          "Inference (avg): 8100")
"""


@pytest.mark.slow
def test_adb_backend_with_fake_adb(capsys, tmp_path):
    adb = tmp_path / "adb"
    adb.write_text(FAKE_ADB.format(python=sys.executable))
    adb.chmod(adb.stat().st_mode | stat.S_IEXEC)
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"fake")
    code, out, err = _run(
        capsys,
        model=["mnasnet-small"],
        backend="adb",
        adb=str(adb),
        benchmark_model=str(binary),
        **SMALL,
    )
    assert code == 0, err
    assert "Pixel 1" in out and "7.900" in out and "8.100" in out


@pytest.mark.slow
def test_keras_file_is_converted_and_measured(capsys, tmp_path):
    import keras

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(x))
    path = tmp_path / "tiny.keras"
    keras.Model(inputs, outputs).save(path)
    code, out, err = _run(capsys, model=[str(path)], runs=2, warmup=0, quantization="dynamic")
    assert code == 0, err
    row = out.splitlines()[1].split()
    assert row[0] == "tiny.keras" and row[3] == "dynamic"


@pytest.mark.slow
def test_whole_space_table_over_adb_resumes(capsys, tmp_path, monkeypatch):
    """--build_table --space over adb (a fake device): every part is timed on the device, a
    device lost midway leaves the parts timed so far, and the rerun times only the rest."""
    import toy_space

    from search.latency import coverage
    from search.latency.table import LatencyTable
    from search.spaces import registry as space_registry

    small = toy_space.small_toy_space()
    monkeypatch.setitem(space_registry.SPACES, "toy", toy_space.small_toy_space)
    adb = tmp_path / "adb"
    adb.write_text(FAKE_ADB.format(python=sys.executable))
    adb.chmod(adb.stat().st_mode | stat.S_IEXEC)
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"fake")
    counter = tmp_path / "runs.txt"
    monkeypatch.setenv("FAKE_ADB_COUNT", str(counter))
    monkeypatch.setenv("FAKE_ADB_FAIL_AFTER", "6")
    table = str(tmp_path / "pixel.json")
    flags_ = dict(
        model=[],
        build_table=True,
        space="toy",
        table=table,
        backend="adb",
        adb=str(adb),
        benchmark_model=str(binary),
        image_size=32,
        classes=10,
        workers=0,
    )
    code, out, err = _run(capsys, **flags_)
    assert code == 2 and "SER1" in err and "Traceback" not in err
    assert len(LatencyTable.load(table).entries) == 6
    monkeypatch.delenv("FAKE_ADB_FAIL_AFTER")
    counter.write_text("0")
    code, out, err = _run(capsys, **flags_)
    assert code == 0, err
    total = len(coverage.space_parts(small, image_size=32, classes=10))
    assert int(counter.read_text()) == total - 6
    saved = LatencyTable.load(table)
    assert len(saved.entries) == total and saved.coverage == ["toy@32x32/c10"]
    assert saved.device == "android x Pixel 1 x x" and "covers toy@32x32/c10" in out
    assert all(entry["min_ms"] == 7.9 for entry in saved.entries.values())
    # This host is not the phone: calibrating the phone's table here is refused.
    code, out, err = _run(
        capsys, model=[], build_table=False, calibrate=True, space="toy", table=table,
        backend="local", image_size=32, classes=10,
    )  # fmt: skip
    assert code == 2 and "android x Pixel 1 x x" in err and "--backend=adb" in err
    assert LatencyTable.load(table).entries == saved.entries
