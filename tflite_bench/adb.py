"""Latency on an Android device over adb, with TFLite's `benchmark_model` binary.

Owns locating `adb`, choosing the device, pushing a user-supplied `benchmark_model` and the model
to /data/local/tmp, running it (optionally pinned with `taskset <mask>` to the big cores, as the
MnasNet paper measures: one big core, one thread, batch 1), parsing both forms of its summary
(`Inference timings in us: …` and the older `Average inference timings in us: …`) and its
`count=… min=… avg=… std=… [p5=… median=… p95=…]` line into `LatencyStats`, with the device's
model, SoC and Android version from getprop. Every failure is an `AdbError` that says what to do.

Imports nothing from the project outside tflite_bench (`benchmark.LatencyStats`, `runtime`).
"""

from __future__ import annotations

import datetime
import os
import posixpath
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from tflite_bench import runtime
from tflite_bench.benchmark import LatencyStats, device_fingerprint, sha256_of

REMOTE_DIR = "/data/local/tmp"
DEVICE_PROPERTIES = {
    "model": "ro.product.model",
    "manufacturer": "ro.product.manufacturer",
    "board_platform": "ro.board.platform",
    "soc_model": "ro.soc.model",
    "android_version": "ro.build.version.release",
    "abi": "ro.product.cpu.abi",
}
_TAIL_LINES = 15


class AdbError(RuntimeError):
    """adb, the device or benchmark_model failed; the message says what and what to do."""


def find_adb(adb_path: str | os.PathLike[str] | None = None) -> str:
    """The adb executable: `adb_path` if given (must exist and be executable), else `adb` on
    PATH."""
    if adb_path:
        path = os.fspath(adb_path)
        if not os.path.isfile(path):
            raise AdbError(f"adb not found at {path}")
        if not os.access(path, os.X_OK):
            raise AdbError(f"adb at {path} is not executable")
        return path
    found = shutil.which("adb")
    if found is None:
        raise AdbError(
            "adb not found on PATH; install the Android platform tools (Debian: apt-get install "
            "adb) or pass its path with --adb"
        )
    return found


def _run(
    adb: str, args: Sequence[str], *, serial: str | None = None, timeout_s: float = 120
) -> str:
    command = [adb, *(["-s", serial] if serial else []), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise AdbError(f"'{shlex.join(command)}' timed out after {timeout_s:g} s") from None
    except OSError as error:
        raise AdbError(f"cannot run {adb}: {error}") from None
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise AdbError(
            f"'{shlex.join(command)}' failed with exit status {done.returncode}:\n{_tail(output)}"
        )
    return output


def _tail(text: str, lines: int = _TAIL_LINES) -> str:
    kept = text.strip().splitlines()[-lines:]
    return "\n".join(f"  | {line}" for line in kept) or "  | (no output)"


def list_devices(adb: str) -> dict[str, str]:
    """{serial: state} from `adb devices` (state 'device' means ready)."""
    devices = {}
    for line in _run(adb, ["devices"]).splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith(("List of devices", "*")):
            devices[parts[0]] = parts[1]
    return devices


def pick_device(adb: str, serial: str | None = None) -> str:
    """The serial to use: `serial` if given (must be attached and ready), else the only ready
    device. Raises AdbError with none attached, or several and none chosen."""
    devices = list_devices(adb)
    ready = sorted(name for name, state in devices.items() if state == "device")
    others = ", ".join(f"{name} ({state})" for name, state in sorted(devices.items()))
    if serial:
        if devices.get(serial) == "device":
            return serial
        if serial in devices:
            raise AdbError(f"device {serial} is {devices[serial]!r}, not ready; authorize it")
        raise AdbError(f"device {serial} is not attached; attached: {others or 'none'}")
    if not ready:
        hint = f" (attached but not ready: {others})" if devices else ""
        raise AdbError(f"no Android device ready over adb{hint}; connect one, enable USB debugging")
    if len(ready) > 1:
        raise AdbError(
            f"several devices attached ({', '.join(ready)}); choose one with --adb_serial"
        )
    return ready[0]


def device_info(adb: str, serial: str) -> dict[str, str]:
    """Device metadata from getprop (model, manufacturer, SoC, Android version, ABI)."""
    info = {"serial": serial}
    for key, prop in DEVICE_PROPERTIES.items():
        info[key] = _run(adb, ["shell", "getprop", prop], serial=serial).strip()
    return info


# ---- benchmark_model output ----

_NUMBER = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_COUNT_LINE = re.compile(r"^\s*count=\d+.*$", re.MULTILINE)
_KEY_VALUE = re.compile(r"(\w+)=" + _NUMBER)
_NEW_SUMMARY = re.compile(
    r"Inference timings in us:\s*Init:\s*"
    + _NUMBER
    + r",\s*First inference:\s*"
    + _NUMBER
    + r",\s*Warmup \(avg\):\s*"
    + _NUMBER
    + r",\s*Inference \(avg\):\s*"
    + _NUMBER
)
_OLD_SUMMARY = re.compile(
    r"Average inference timings in us:\s*Warmup:\s*"
    + _NUMBER
    + r",\s*Init:\s*"
    + _NUMBER
    + r",\s*(?:Inference|no stats):\s*"
    + _NUMBER
)


def parse_benchmark_output(text: str) -> LatencyStats:
    """Reads benchmark_model's output: the last `count=` line (the timed runs) gives n, min,
    mean, std and, on newer builds, median and p5/p95; the summary line (either form) gives init,
    first-inference and warmup times. Times become milliseconds. Raises AdbError showing the
    output's tail when no timings are found."""
    counts = _COUNT_LINE.findall(text)
    new, old = _NEW_SUMMARY.search(text), _OLD_SUMMARY.search(text)
    if not counts or not (new or old):
        missing = "a 'count=' line" if not counts else "an inference-timings summary line"
        raise AdbError(
            f"cannot parse benchmark_model output (found no {missing}); its tail:\n{_tail(text)}"
        )
    values = {key: float(value) for key, value in _KEY_VALUE.findall(counts[-1])}
    needed = ("count", "min", "avg", "std")
    if any(key not in values for key in needed):
        raise AdbError(
            f"cannot parse benchmark_model line {counts[-1].strip()!r}: expected "
            f"{', '.join(f'{key}=' for key in needed)}"
        )
    metadata: dict[str, Any] = {}
    if new:
        init, first, warmup, inference = (float(group) for group in new.groups())
        metadata.update(summary_format="new", first_inference_ms=first / 1e3)
    else:
        warmup, init, inference = (float(group) for group in old.groups())
        metadata["summary_format"] = "old"
    metadata.update(
        init_ms=init / 1e3,
        warmup_avg_ms=warmup / 1e3,
        inference_avg_ms=inference / 1e3,
        max_ms=values["max"] / 1e3 if "max" in values else None,
    )
    for key in ("p5", "p95"):
        if key in values:
            metadata[f"{key}_ms"] = values[key] / 1e3
    return LatencyStats(
        min_ms=values["min"] / 1e3,
        median_ms=values["median"] / 1e3 if "median" in values else None,
        mean_ms=values["avg"] / 1e3,
        p90_ms=None,
        std_ms=values["std"] / 1e3,
        n=int(values["count"]),
        metadata=metadata,
    )


# ---- the whole measurement ----


def _input_shape(model_path: str) -> list[int] | None:
    """The model's input shape, read on the host (None if the host runtime cannot load it)."""
    try:
        return list(runtime.input_shape(runtime.load_interpreter(model_path)))
    except (ValueError, RuntimeError):
        return None


def check_mask(mask: str | None) -> str | None:
    """The taskset CPU mask as given (None for none); ValueError unless it is non-zero hex."""
    if mask is None or mask == "":
        return None
    text = str(mask)
    if not re.fullmatch(r"(0x)?[0-9a-fA-F]+", text) or int(text, 16) == 0:
        raise ValueError(
            f"taskset_mask must be a non-zero hexadecimal CPU mask such as 'f0'; got {mask!r}"
        )
    return text


def measure(
    model_path: str | os.PathLike[str],
    *,
    benchmark_model: str | os.PathLike[str],
    adb_path: str | os.PathLike[str] | None = None,
    serial: str | None = None,
    num_threads: int = 1,
    runs: int = 50,
    warmup: int = 10,
    use_xnnpack: bool = True,
    taskset_mask: str | None = None,
    remote_dir: str = REMOTE_DIR,
    timeout_s: float = 600,
) -> LatencyStats:
    """Latency of a .tflite on an Android device: pushes `benchmark_model` (a binary built for
    the device, e.g. android_aarch64_benchmark_model) and the model to `remote_dir`, runs it
    (under `taskset <mask>` if given) and parses its output. Returns LatencyStats whose metadata
    names the device, the flags and the model's sha256."""
    model_path, binary = os.fspath(model_path), os.fspath(benchmark_model)
    for name, value, minimum in (
        ("num_threads", num_threads, 1),
        ("runs", runs, 1),
        ("warmup", warmup, 0),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    mask = check_mask(taskset_mask)
    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"model file not found: {model_path}")
    if not os.path.isfile(binary):
        raise AdbError(
            f"benchmark_model binary not found: {binary}; download the prebuilt "
            "android_aarch64_benchmark_model from the TFLite performance docs and pass its path"
        )
    adb = find_adb(adb_path)
    device = pick_device(adb, serial)
    info = device_info(adb, device)
    remote_binary = posixpath.join(remote_dir, "benchmark_model")
    remote_model = posixpath.join(remote_dir, os.path.basename(model_path))
    _run(adb, ["push", binary, remote_binary], serial=device, timeout_s=timeout_s)
    _run(adb, ["shell", "chmod", "+x", remote_binary], serial=device)
    _run(adb, ["push", model_path, remote_model], serial=device, timeout_s=timeout_s)
    command = [
        *(["taskset", mask] if mask else []),
        remote_binary,
        f"--graph={remote_model}",
        f"--num_threads={num_threads}",
        f"--num_runs={runs}",
        f"--warmup_runs={warmup}",
        f"--use_xnnpack={'true' if use_xnnpack else 'false'}",
    ]
    output = _run(adb, ["shell", shlex.join(command)], serial=device, timeout_s=timeout_s)
    stats = parse_benchmark_output(output)
    metadata = {
        "backend": "adb",
        "device": info,
        "num_threads": num_threads,
        "runs": runs,
        "warmup": warmup,
        "use_xnnpack": use_xnnpack,
        "taskset_mask": mask,
        "runtime": "benchmark_model",
        "benchmark_model": binary,
        "benchmark_model_sha256": sha256_of(binary),
        "model_path": model_path,
        "model_sha256": sha256_of(model_path),
        "input_shape": _input_shape(model_path),
        "command": shlex.join(command),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **stats.metadata,
    }
    metadata["device_fingerprint"] = device_fingerprint(metadata)
    return LatencyStats(**{**stats.to_dict(), "metadata": metadata})
