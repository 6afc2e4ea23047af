"""The shared pieces of the structure: atomic writes (tflite_bench/files.py) and value checks
(tflite_bench/checks.py), the
latency-backend protocol (tflite_bench/backends.py, search/latency/table.py's TableBackend) and
`SearchConfig` (search/multitrial/config.py), all TF-free."""

from __future__ import annotations

import json
import os

import pytest

from mnasnet_tf import zoo
from search.latency import parts
from search.latency.table import LatencyTable, TableBackend
from search.multitrial.config import SearchConfig
from tflite_bench import backends, checks, files

# ---- files and checks ----


@pytest.mark.parametrize("content", ["text ü\n", b"\x00bytes", lambda handle: handle.write("cb")])
def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path, content):
    path = tmp_path / "sub" / "file"
    files.atomic_write(path, content, make_dirs=True)
    files.atomic_write(path, content)
    assert os.listdir(tmp_path / "sub") == ["file"]
    expected = content if isinstance(content, (str, bytes)) else "cb"
    mode = "rb" if isinstance(expected, bytes) else "r"
    with open(path, mode) as handle:
        assert handle.read() == expected


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "state.json"
    files.atomic_write_json(path, {"good": 1})

    def explode(handle):
        handle.write('{"half": ')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        files.atomic_write(path, explode)
    with pytest.raises(ValueError):
        files.atomic_write_json(path, {"bad": float("nan")}, allow_nan=False)
    assert json.loads(path.read_text()) == {"good": 1}
    assert os.listdir(tmp_path) == ["state.json"]


def test_temporary_names_are_private_to_the_process(tmp_path):
    assert files.temporary_path(tmp_path / "x.png", ".png").endswith(f".tmp{os.getpid()}.png")


def test_value_checks():
    assert checks.is_int(3) and not checks.is_int(True) and not checks.is_int(3.0)
    assert checks.is_positive_int(1) and not checks.is_positive_int(0)
    assert checks.is_number(2.5) and not checks.is_number(False) and checks.is_number(float("nan"))
    assert checks.is_finite_number(1) and not checks.is_finite_number(float("inf"))


# ---- backends ----


def test_make_backend_names_bad_names_and_options():
    assert backends.make_backend("local", runs=3).runs == 3
    with pytest.raises(ValueError, match="'gpu'"):
        backends.make_backend("gpu")
    with pytest.raises(ValueError, match="one of \\('local', 'adb'\\); got 'predictor'"):
        backends.make_backend("predictor")


def test_the_bottom_layer_names_no_backend_of_the_layers_above():
    """tflite_bench knows device backends only: 'predictor' and 'hybrid' are the search's
    (search/latency/meter.py BACKENDS), so no string constant in tflite_bench/ names them."""
    import ast
    import pathlib

    named = []
    for path in sorted(pathlib.Path(backends.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in ("predictor", "hybrid"):
                named.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert not named, named
    from search.latency.meter import BACKENDS

    assert BACKENDS == (*backends.DEVICE_BACKENDS, "predictor", "hybrid")
    with pytest.raises(ValueError, match="'rnus'"):
        backends.make_backend("local", rnus=3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"runs": 0}, "runs must be an integer >= 1; got 0"),
        ({"threads": True}, "threads"),
        ({"clock": "cpu"}, "'cpu'"),
        ({"clock": "thread_cpu", "threads": 2}, "threads=2"),
    ],
)
def test_local_backend_checks_its_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        backends.LocalBackend(**kwargs)


def test_adb_backend_needs_a_benchmark_binary_before_anything_runs():
    with pytest.raises(ValueError, match="benchmark_model"):
        backends.AdbBackend(benchmark_model="")
    backend = backends.AdbBackend(benchmark_model="/bin/true", threads=2)
    assert isinstance(backend, backends.LatencyBackend) and backend.name == "adb"


def _table(arch, image_size=64, classes=10) -> LatencyTable:
    table = LatencyTable(backend={"backend": "local", "cpu_model": "test cpu"})
    for part in parts.arch_parts(arch, image_size=image_size, classes=classes):
        table.entries[part.key] = {"kind": part.kind, "min_ms": 0.5, "bytes": 0}
    return table


def test_table_backend_predicts_architectures_through_the_protocol():
    arch = zoo.get_arch("mnasnet-small")
    backend = TableBackend(_table(arch), image_size=64, classes=10)
    assert isinstance(backend, backends.LatencyBackend) and backend.name == "predictor"
    stats = backend.measure(arch)
    n_parts = len(parts.arch_parts(arch, image_size=64, classes=10))
    assert stats.latency_ms == stats.min_ms == pytest.approx(0.5 * n_parts)
    assert stats.metadata["measured_on"] == "local" and stats.metadata["predicted"]
    assert [s.min_ms for s in backend.measure_many([arch, arch])] == [stats.min_ms] * 2
    with pytest.raises(ValueError, match="not files"):
        backend.measure("model.tflite")
    with pytest.raises(ValueError, match="lacks"):
        backend.measure(zoo.get_arch("mobilenet-v2"))


def test_the_meter_takes_a_backend_object(tmp_path):
    from search.latency.meter import LatencyMeter

    arch = zoo.get_arch("mnasnet-small")
    meter = LatencyMeter(TableBackend(_table(arch), image_size=64, classes=10), image_size=64)
    assert meter.backend == "predictor"
    assert meter.measure(arch).median_ms == pytest.approx(
        TableBackend(_table(arch)).table.predict(arch, image_size=64, classes=10)
    )


# ---- SearchConfig ----


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"space": "nope"}, "--space must be one of .*'nope'"),
        ({"max_trials": 0}, "--max_trials must be an integer >= 1; got 0"),
        ({"w": 0.07}, "--w must be a number < 0; got 0.07"),
        ({"latency_target_ms": -1.0}, "--latency_target_ms must be a number > 0; got -1.0"),
        ({"backend": "predictor"}, "--predictor_table"),
        ({"backend": "adb"}, "--benchmark_model"),
        ({"references": ("mobilenet-v2", "mnasnet-z9")}, "mnasnet-z9"),
        ({"oracle_port": 70000}, "70000"),
        ({"proxy_image_size": 16}, "--proxy_image_size must be an integer >= 32; got 16"),
        ({"learning_rate": float("nan")}, "--learning_rate"),
    ],
)
def test_search_config_names_a_bad_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SearchConfig(**kwargs)
