"""`tflite-bench`: convert models to .tflite and measure (or predict) their latency.

Examples:
  tflite-bench --model=mnasnet-a1
  tflite-bench --model=mobilenet-v2,mnasnet-a1,mobilenet-v3-large --compare --runs=100
  tflite-bench --model=m.tflite --backend=adb --benchmark_model=./benchmark_model --taskset_mask=f0
  tflite-bench --build_table --space=mnasnet --calibrate --table=host.json
  tflite-bench --build_table --space=mnasnet --backend=adb --benchmark_model=./bm --table=px.json
  tflite-bench --build_table --calibrate --table=pixel.json --model=a.json,b.json,...
  tflite-bench --backend=predictor --table=pixel.json --model='r1_k3_s11_e1_o16:...'

`--model` takes a comma list of zoo names, arch strings, arch JSON files, .keras or .tflite files.
Owns the flags, `BenchConfig` (flags → a validated config; only `main` reads FLAGS), model
resolution, `run(config)` and the printed table; the work is done by convert, the device backends
(tflite_bench/backends.py) and the latency tables (search/latency). A binary: it may import every
package, and imports mnasnet_tf and search lazily, to resolve models and use tables.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
from typing import Any

from absl import app, flags, logging

from tflite_bench import backends, binary, convert, files, settings
from tflite_bench.benchmark import CLOCKS

FLAGS = flags.FLAGS

BACKENDS = (*backends.DEVICE_BACKENDS, "predictor")
"""Where latency comes from: a device backend, or a latency table ('predictor')."""


class UsageError(ValueError):
    """A bad flag value or combination (printed without a traceback)."""


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """Everything a `tflite-bench` run needs, one field per flag: the flags are generated from
    these fields (default, help, allowed values; tflite_bench/settings.py). Validated on
    construction: a bad value raises UsageError naming the flag and the value."""

    model: tuple[str, ...] = settings.setting(
        flag_default=(),
        help="Comma list of zoo names, arch strings, arch JSON, .keras or .tflite files.",
    )
    compare: bool = settings.setting(
        False, help="Measure the --model list interleaved in one process."
    )
    image_size: int = settings.setting(
        224, minimum=32, help="Input resolution (square) of models built here."
    )
    width: float = settings.setting(
        1.0, above=0, help="Width multiplier for zoo names and arch strings."
    )
    classes: int = settings.setting(
        1000, minimum=1, help="Classifier outputs of models built here."
    )
    quantization: str = settings.setting(
        "float32", choices=convert.QUANTIZATIONS, help="TFLite quantization."
    )
    backend: str = settings.setting("local", choices=BACKENDS, help="Where latency comes from.")
    threads: int = settings.setting(1, minimum=1, help="Inference threads.")
    runs: int = settings.setting(
        50, minimum=1, help="Timed runs (per model; with --compare, in total)."
    )
    warmup: int = settings.setting(10, minimum=0, help="Untimed warm-up runs.")
    clock: str = settings.setting(
        "wall", choices=CLOCKS, help="Local clock; thread_cpu resists a busy machine."
    )
    adb: str | None = settings.setting(None, help="Path to adb (default: adb on PATH).")
    adb_serial: str | None = settings.setting(None, help="Device serial when several are attached.")
    benchmark_model: str | None = settings.setting(
        None, help="benchmark_model binary built for the device."
    )
    taskset_mask: str | None = settings.setting(
        None, help="CPU mask for taskset on the device, e.g. f0."
    )
    use_xnnpack: bool = settings.setting(True, help="benchmark_model --use_xnnpack.")
    table: str | None = settings.setting(
        None, help="Latency table JSON (predictor backend, build, calibrate)."
    )
    build_table: bool = settings.setting(
        False,
        help=(
            "Add to --table every part of the --space (every architecture it holds at "
            "--image_size and --classes), or of the --model archs. Resumable: run it again after "
            "an interruption."
        ),
    )
    space: str | None = settings.setting(
        None, help="Search space whose every part --build_table measures (e.g. mnasnet)."
    )
    workers: int | None = settings.setting(
        None, minimum=0, help="Conversion processes for --build_table (default: one per core)."
    )
    calibrate: bool = settings.setting(
        False,
        help=(
            "Calibrate --table on the --model archs (>= 2), else on --calibration_archs random "
            "archs of --space, measured end to end."
        ),
    )
    calibration_archs: int = settings.setting(
        30, minimum=2, help="Random --space archs --calibrate measures."
    )
    seed: int = settings.setting(0, help="Seed of the random --space archs of --calibrate.")
    allow_other_device: bool = settings.setting(
        False,
        help=(
            "Use a --table measured on another device or runtime than the backend's (not advised)."
        ),
    )
    output_dir: str | None = settings.setting(None, help="Keep the converted .tflite files here.")
    json: str | None = settings.setting(None, help="Also write the results to this JSON file.")

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", tuple(self.model))
        settings.validate(self, error=UsageError)
        if self.space is not None:
            from search.spaces import registry as space_registry

            if self.space not in space_registry.SPACES:
                raise UsageError(
                    f"--space: unknown search space {self.space!r}; known: "
                    f"{', '.join(space_registry.list_spaces())}"
                )
            if not (self.build_table or self.calibrate):
                raise UsageError("--space is for --build_table and --calibrate")
        if (self.build_table or self.calibrate) and self.quantization not in ("float32", "int8"):
            raise UsageError(
                f"latency tables are float32 or int8; got --quantization={self.quantization}"
            )
        if not self.model and not (self.space and (self.build_table or self.calibrate)):
            raise UsageError(
                "--model is required (a zoo name, arch string, arch JSON, .keras or "
                ".tflite; comma-separated for several)"
            )
        if self.clock == "thread_cpu" and self.threads != 1:
            raise UsageError(f"--clock=thread_cpu needs --threads=1; got --threads={self.threads}")
        if (self.backend == "predictor" or self.build_table or self.calibrate) and not self.table:
            raise UsageError("--backend=predictor, --build_table and --calibrate need --table=PATH")
        if self.backend == "adb" and not self.benchmark_model:
            raise UsageError("--backend=adb needs --benchmark_model=PATH (a binary for the device)")

    @classmethod
    def from_flags(cls, values: flags.FlagValues) -> BenchConfig:
        """The config the parsed flags (`settings.define_flags(BenchConfig)`) say."""
        return settings.from_flags(cls, values)

    def device_backend(self) -> backends.LocalBackend | backends.AdbBackend:
        """The device backend that times .tflite files: this host, or the adb device (tables
        are built and calibrated on it too)."""
        if self.backend == "adb":
            return backends.AdbBackend(
                benchmark_model=self.benchmark_model,
                adb_path=self.adb,
                serial=self.adb_serial,
                threads=self.threads,
                runs=self.runs,
                warmup=self.warmup,
                use_xnnpack=self.use_xnnpack,
                taskset_mask=self.taskset_mask,
            )
        return backends.LocalBackend(
            threads=self.threads, warmup=self.warmup, runs=self.runs, clock=self.clock
        )


settings.define_flags(BenchConfig)  # one flag per field: default, help and values from it


@dataclasses.dataclass
class Item:
    """One --model entry: an ArchSpec, a Keras model file or a .tflite file."""

    label: str
    arch: Any = None
    keras_path: str | None = None
    tflite_path: str | None = None
    tflite_from: str = ""


def _resolve(value: str, config: BenchConfig) -> Item:
    if value.endswith(".tflite"):
        if not os.path.isfile(value):
            raise UsageError(f"--model: .tflite file not found: {value}")
        return Item(label=os.path.basename(value), tflite_path=value)
    if value.endswith(".keras"):
        if not os.path.isfile(value):
            raise UsageError(f"--model: .keras file not found: {value}")
        problem = files.keras_file_problem(value)
        if problem:
            raise UsageError(f"--model: {value} is not a Keras model file ({problem})")
        return Item(label=os.path.basename(value), keras_path=value)
    from mnasnet_tf import zoo

    try:
        arch = zoo.resolve_arch(value, width=config.width)
    except ValueError as error:
        raise UsageError(f"--model={value!r}: {error}") from None
    label = value if len(value) <= 40 else f"{arch.name} ({value[:24]}…)"
    if config.width != 1.0 and not label.endswith(f"w{config.width:g}"):
        label += f" ×{config.width:g}"
    return Item(label=label, arch=arch)


def _stats_of(arch: Any, config: BenchConfig) -> tuple[float | None, float | None]:
    from mnasnet_tf import stats

    result = stats.arch_stats(arch, image_size=config.image_size, classes=config.classes)
    return result.params / 1e6, result.macs / 1e6


def _to_tflite(item: Item, folder: str, config: BenchConfig) -> str:
    if item.tflite_path:
        return item.tflite_path
    import numpy as np

    from tflite_bench import convert

    if item.keras_path:
        import keras

        try:
            model = keras.models.load_model(item.keras_path, compile=False)
        except Exception as error:  # keras raises assorted errors on bad files
            raise UsageError(f"--model: cannot load {item.keras_path}: {error}") from None
    else:
        from mnasnet_tf import builder

        model = builder.build_model(
            item.arch, input_shape=(config.image_size, config.image_size, 3), classes=config.classes
        )
    data = None
    if config.quantization == "int8":
        shape = tuple(model.inputs[0].shape[1:])
        data = np.random.default_rng(0).uniform(0, 255, (32, *shape)).astype(np.float32)
        logging.info("int8 calibration on random images (latency only; not for accuracy)")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in item.label)[:60]
    path = os.path.join(folder, f"{safe}_{config.quantization}.tflite")
    result = convert.convert(
        model, quantization=config.quantization, representative_data=data, output_path=path
    )
    item.tflite_from = f"converted in {result.seconds:.1f} s"
    return path


def _measure(paths: list[str], config: BenchConfig) -> list[Any]:
    backend = config.device_backend()
    if config.compare and len(paths) > 1:
        return backend.measure_many(paths)
    return [backend.measure(path) for path in paths]


def _table_commands(items: list[Item], config: BenchConfig) -> list[str]:
    import time

    from search.latency import build, calibration
    from search.spaces import registry as space_registry

    archs = [item.arch for item in items]
    if any(arch is None for arch in archs):
        bad = [item.label for item in items if item.arch is None]
        raise UsageError(f"--build_table/--calibrate need architectures, not files: {bad}")
    space = space_registry.get_space(config.space) if config.space else None
    notes = []
    options = dict(
        image_size=config.image_size,
        classes=config.classes,
        backend=config.device_backend(),
        quantization=config.quantization,
        workers=config.workers,
    )
    start = time.perf_counter()
    if config.build_table and space is not None:
        table = build.build_space_table(space, config.table, **options)
    if config.build_table and archs:
        table = build.build_table(archs, config.table, **options)
    if not config.build_table:
        from search.latency.table import LatencyTable

        table = LatencyTable.load(config.table)
    table.save()
    covers = f"; covers {', '.join(table.coverage)}" if table.coverage else ""
    notes.append(
        f"latency table {config.table}: {len(table.entries)} parts ({table.quantization}) "
        f"measured on {table.device}{covers}"
        + (f"; built in {time.perf_counter() - start:.0f} s" if config.build_table else "")
    )
    if config.calibrate:
        if not archs:
            archs = calibration.sample_archs(
                lambda rng: space.to_arch(space.sample(rng), name=f"{space.name}-random"),
                config.calibration_archs,
                seed=config.seed,
            )
        if len(archs) < 2:
            raise UsageError(f"--calibrate needs >= 2 architectures in --model; got {len(archs)}")
        report = calibration.calibrate(
            table,
            archs,
            image_size=config.image_size,
            classes=config.classes,
            backend=config.device_backend() if config.backend == "adb" else None,
        )
        loo = report["leave_one_out"]
        notes.append(
            f"calibrated on {report['n']} archs: "
            + ", ".join(f"{name} × {value:.3g}" for name, value in report["coefficients"].items())
            + f"; leave-one-out within ±10% {loo['within_10pct']:.0%}, "
            f"MAPE {loo['mape_pct']:.1f}%, Spearman {loo['spearman']:.3f}"
        )
    return notes


def _format(rows: list[dict[str, Any]], *, predicted: bool) -> str:
    def cell(value: Any, digits: int = 3) -> str:
        if value is None:
            return "-"
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    first = rows[0]["latency_ms"] if rows else None
    headers = ["model", "params M", "MACs M", "quant"]
    if predicted:
        headers += ["predicted ms"]
    else:
        headers += ["min ms", "median ms", "mean ms", "p90 ms", "n"]
    headers.append("× first")
    body = []
    for row in rows:
        cells = [
            row["model"],
            cell(row["params_m"], 2),
            cell(row["macs_m"], 0),
            row["quantization"],
        ]
        if predicted:
            cells.append(cell(row["latency_ms"]))
        else:
            cells += [cell(row[key]) for key in ("min_ms", "median_ms", "mean_ms", "p90_ms", "n")]
        cells.append(cell(row["latency_ms"] / first, 2) if first else "-")
        body.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class BenchResult:
    """What a run produced: one row per model, notes for the reader, and the .json path (if
    written)."""

    rows: list[dict[str, Any]]
    notes: list[str]
    predicted: bool
    json_path: str | None = None


def run(config: BenchConfig) -> BenchResult:
    """Converts and measures (or predicts, or tabulates) the models `config` names."""
    measuring = config.backend == "local" and not (config.build_table or config.calibrate)
    if len(config.model) > 1 and not config.compare and measuring:
        logging.warning(
            "several models without --compare: measured one after another, so "
            "their figures are not comparable on a noisy machine"
        )
    items = [_resolve(value, config) for value in config.model]
    if config.backend == "adb":  # adb, the device and benchmark_model, before converting anything
        config.device_backend().check_ready()
    notes: list[str] = []
    if config.build_table or config.calibrate:
        notes += _table_commands(items, config)
        if config.backend != "predictor":
            return BenchResult(rows=[], notes=notes, predicted=False)
    rows = []
    if config.backend == "predictor":
        from search.latency.table import LatencyTable, TableBackend

        table = LatencyTable.load(config.table)
        if config.quantization != table.quantization:
            raise UsageError(
                f"--table {config.table} holds {table.quantization} latencies; got "
                f"--quantization={config.quantization}"
            )
        backend = TableBackend(table, image_size=config.image_size, classes=config.classes)
        for item in items:
            if item.arch is None:
                raise UsageError(f"--backend=predictor needs architectures; got {item.label}")
            ms = backend.measure(item.arch).latency_ms
            params, macs = _stats_of(item.arch, config)
            rows.append(
                {
                    "model": item.label,
                    "params_m": params,
                    "macs_m": macs,
                    "quantization": table.quantization,
                    "latency_ms": ms,
                }
            )
        calibrated = "calibrated" if table.calibration else "NOT calibrated (raw sum)"
        notes.append(f"predicted from {config.table} ({table.statistic} ms, {calibrated})")
    else:
        folder = config.output_dir or tempfile.mkdtemp(prefix="tflite_bench_")
        os.makedirs(folder, exist_ok=True)
        try:
            paths = [_to_tflite(item, folder, config) for item in items]
            results = _measure(paths, config)
        except BaseException:  # an error or Ctrl-C: no half-filled temporary folder is left
            if not config.output_dir:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        for item, path, stats in zip(items, paths, results, strict=True):
            params, macs = _stats_of(item.arch, config) if item.arch is not None else (None, None)
            rows.append(
                {
                    "model": item.label,
                    "params_m": params,
                    "macs_m": macs,
                    "quantization": config.quantization if not item.tflite_path else "(file)",
                    **{k: getattr(stats, k) for k in ("min_ms", "median_ms", "mean_ms", "p90_ms")},
                    "n": stats.n,
                    "latency_ms": stats.latency_ms,
                    "tflite": path,
                    "metadata": dict(stats.metadata),
                }
            )
        meta = results[0].metadata
        adb = config.backend == "adb"
        where = meta.get("device", {}).get("model") if adb else meta.get("cpu_model")
        notes.append(
            f"{config.backend} backend ({where}), {config.threads} thread(s), "
            f"{'interleaved' if config.compare and len(paths) > 1 else 'sequential'}; "
            f".tflite files in {folder}"
        )
    if config.json:
        files.atomic_write_json(config.json, {"rows": rows, "notes": notes}, indent=1, default=str)
    return BenchResult(
        rows=rows, notes=notes, predicted=config.backend == "predictor", json_path=config.json
    )


def main(argv: list[str]) -> None:
    """Entry point for absl.app: flags → BenchConfig → `run`; prints the table and notes."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}; every option is a --flag")
    from tflite_bench import adb

    try:
        result = run(BenchConfig.from_flags(FLAGS))
    except (UsageError, ValueError, FileNotFoundError, adb.AdbError) as error:
        print(f"tflite-bench: error: {error}", file=sys.stderr)
        sys.exit(2)
    if result.rows:
        print(_format(result.rows, predicted=result.predicted))
    notes = result.notes + ([f"wrote {result.json_path}"] if result.json_path else [])
    print("\n".join(notes))


def run_main() -> None:
    """Console-script entry point (`tflite-bench`; Ctrl-C or a full disk: one line)."""
    binary.run_binary(
        lambda: app.run(main), program="tflite-bench", resumable=lambda: FLAGS.build_table
    )


if __name__ == "__main__":
    run_main()
