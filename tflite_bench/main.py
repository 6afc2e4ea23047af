"""`tflite-bench`: convert models to .tflite and measure (or predict) their latency.

Examples:
  tflite-bench --model=mnasnet-a1
  tflite-bench --model=mobilenet-v2,mnasnet-a1,mobilenet-v3-large --compare --runs=100
  tflite-bench --model=m.tflite --backend=adb --benchmark_model=./benchmark_model --taskset_mask=f0
  tflite-bench --build_table --calibrate --table=pixel.json --model=a.json,b.json,...
  tflite-bench --backend=predictor --table=pixel.json --model='r1_k3_s11_e1_o16:...'

`--model` takes a comma list of zoo names, arch strings, arch JSON files, .keras or .tflite files.
Owns flag parsing, model resolution and the printed table; the work is done by convert,
benchmark, adb and predictor. Imports mnasnet_tf (zoo, builder, stats) lazily to resolve models.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from typing import Any

from absl import app, flags, logging

FLAGS = flags.FLAGS
flags.DEFINE_list(
    "model", [], "Comma list of zoo names, arch strings, arch JSON, .keras or .tflite files."
)
flags.DEFINE_bool("compare", False, "Measure the --model list interleaved in one process.")
flags.DEFINE_integer("image_size", 224, "Input resolution (square) of models built here.")
flags.DEFINE_float("width", 1.0, "Width multiplier for zoo names and arch strings.")
flags.DEFINE_integer("classes", 1000, "Classifier outputs of models built here.")
flags.DEFINE_enum(
    "quantization", "float32", ["float32", "float16", "dynamic", "int8"], "TFLite quantization."
)
flags.DEFINE_enum("backend", "local", ["local", "adb", "predictor"], "Where latency comes from.")
flags.DEFINE_integer("threads", 1, "Inference threads.")
flags.DEFINE_integer("runs", 50, "Timed runs (per model; with --compare, in total).")
flags.DEFINE_integer("warmup", 10, "Untimed warm-up runs.")
flags.DEFINE_enum(
    "clock", "wall", ["wall", "thread_cpu"], "Local clock; thread_cpu resists a busy machine."
)
flags.DEFINE_string("adb", None, "Path to adb (default: adb on PATH).")
flags.DEFINE_string("adb_serial", None, "Device serial when several are attached.")
flags.DEFINE_string("benchmark_model", None, "benchmark_model binary built for the device.")
flags.DEFINE_string("taskset_mask", None, "CPU mask for taskset on the device, e.g. f0.")
flags.DEFINE_bool("use_xnnpack", True, "benchmark_model --use_xnnpack.")
flags.DEFINE_string("table", None, "Latency table JSON (predictor backend, build, calibrate).")
flags.DEFINE_bool("build_table", False, "Add every part of the --model archs to --table.")
flags.DEFINE_bool("calibrate", False, "Calibrate --table on the --model archs (>= 2).")
flags.DEFINE_string("output_dir", None, "Keep the converted .tflite files here.")
flags.DEFINE_string("json", None, "Also write the results to this JSON file.")


class UsageError(ValueError):
    """A bad flag value or combination (printed without a traceback)."""


@dataclasses.dataclass
class Item:
    """One --model entry: an ArchSpec, a Keras model file or a .tflite file."""

    label: str
    arch: Any = None
    keras_path: str | None = None
    tflite_path: str | None = None
    tflite_from: str = ""


def _resolve(value: str) -> Item:
    if value.endswith(".tflite"):
        if not os.path.isfile(value):
            raise UsageError(f"--model: .tflite file not found: {value}")
        return Item(label=os.path.basename(value), tflite_path=value)
    if value.endswith(".keras"):
        if not os.path.isfile(value):
            raise UsageError(f"--model: .keras file not found: {value}")
        return Item(label=os.path.basename(value), keras_path=value)
    from mnasnet_tf import zoo

    try:
        arch = zoo.resolve_arch(value, width=FLAGS.width)
    except ValueError as error:
        raise UsageError(f"--model={value!r}: {error}") from None
    label = value if len(value) <= 40 else f"{arch.name} ({value[:24]}…)"
    if FLAGS.width != 1.0 and not label.endswith(f"w{FLAGS.width:g}"):
        label += f" ×{FLAGS.width:g}"
    return Item(label=label, arch=arch)


def _check_flags() -> None:
    if not FLAGS.model:
        raise UsageError(
            "--model is required (a zoo name, arch string, arch JSON, .keras or "
            ".tflite; comma-separated for several)"
        )
    if FLAGS.image_size < 32:
        raise UsageError(f"--image_size must be >= 32; got {FLAGS.image_size}")
    if not FLAGS.width > 0:
        raise UsageError(f"--width must be positive; got {FLAGS.width}")
    for name in ("threads", "runs", "classes"):
        if getattr(FLAGS, name) < 1:
            raise UsageError(f"--{name} must be >= 1; got {getattr(FLAGS, name)}")
    if FLAGS.warmup < 0:
        raise UsageError(f"--warmup must be >= 0; got {FLAGS.warmup}")
    if FLAGS.clock == "thread_cpu" and FLAGS.threads != 1:
        raise UsageError(f"--clock=thread_cpu needs --threads=1; got --threads={FLAGS.threads}")
    if (FLAGS.backend == "predictor" or FLAGS.build_table or FLAGS.calibrate) and not FLAGS.table:
        raise UsageError("--backend=predictor, --build_table and --calibrate need --table=PATH")
    if FLAGS.backend == "adb" and not FLAGS.benchmark_model:
        raise UsageError("--backend=adb needs --benchmark_model=PATH (a binary for the device)")
    measuring = FLAGS.backend == "local" and not (FLAGS.build_table or FLAGS.calibrate)
    if len(FLAGS.model) > 1 and not FLAGS.compare and measuring:
        logging.warning(
            "several models without --compare: measured one after another, so "
            "their figures are not comparable on a noisy machine"
        )


def _stats_of(arch: Any) -> tuple[float | None, float | None]:
    from mnasnet_tf import stats

    result = stats.arch_stats(arch, image_size=FLAGS.image_size, classes=FLAGS.classes)
    return result.params / 1e6, result.macs / 1e6


def _to_tflite(item: Item, folder: str) -> str:
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
            item.arch, input_shape=(FLAGS.image_size, FLAGS.image_size, 3), classes=FLAGS.classes
        )
    data = None
    if FLAGS.quantization == "int8":
        shape = tuple(model.inputs[0].shape[1:])
        data = np.random.default_rng(0).uniform(0, 255, (32, *shape)).astype(np.float32)
        logging.info("int8 calibration on random images (latency only; not for accuracy)")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in item.label)[:60]
    path = os.path.join(folder, f"{safe}_{FLAGS.quantization}.tflite")
    result = convert.convert(
        model, quantization=FLAGS.quantization, representative_data=data, output_path=path
    )
    item.tflite_from = f"converted in {result.seconds:.1f} s"
    return path


def _measure(items: list[Item], paths: list[str]) -> list[Any]:
    from tflite_bench import adb, benchmark

    if FLAGS.backend == "adb":
        return [
            adb.measure(
                path,
                benchmark_model=FLAGS.benchmark_model,
                adb_path=FLAGS.adb,
                serial=FLAGS.adb_serial,
                num_threads=FLAGS.threads,
                runs=FLAGS.runs,
                warmup=FLAGS.warmup,
                use_xnnpack=FLAGS.use_xnnpack,
                taskset_mask=FLAGS.taskset_mask,
            )
            for path in paths
        ]
    if FLAGS.compare and len(paths) > 1:
        rounds = max(1, FLAGS.runs // 5)
        result = benchmark.measure_interleaved(
            paths,
            rounds=rounds,
            runs_per_round=5 if FLAGS.runs >= 5 else FLAGS.runs,
            num_threads=FLAGS.threads,
            warmup=FLAGS.warmup,
            clock=FLAGS.clock,
        )
        return [result[os.fspath(path)] for path in paths]
    return [
        benchmark.measure(
            path,
            num_threads=FLAGS.threads,
            warmup=FLAGS.warmup,
            runs=FLAGS.runs,
            clock=FLAGS.clock,
        )
        for path in paths
    ]


def _table_commands(items: list[Item]) -> list[str]:
    from tflite_bench import predictor

    archs = [item.arch for item in items]
    if any(arch is None for arch in archs):
        bad = [item.label for item in items if item.arch is None]
        raise UsageError(f"--build_table/--calibrate need architectures, not files: {bad}")
    notes = []
    table = predictor.build_table(
        archs,
        FLAGS.table,
        image_size=FLAGS.image_size,
        classes=FLAGS.classes,
        measure=predictor.local_measure(
            num_threads=FLAGS.threads, warmup=FLAGS.warmup, runs=FLAGS.runs, clock=FLAGS.clock
        ),
    )
    table.save()
    notes.append(f"latency table {FLAGS.table}: {len(table.entries)} parts")
    if FLAGS.calibrate:
        if len(archs) < 2:
            raise UsageError(f"--calibrate needs >= 2 architectures in --model; got {len(archs)}")
        report = predictor.calibrate(
            table, archs, image_size=FLAGS.image_size, classes=FLAGS.classes
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


def _run() -> None:
    _check_flags()
    items = [_resolve(value) for value in FLAGS.model]
    notes: list[str] = []
    if FLAGS.build_table or FLAGS.calibrate:
        notes += _table_commands(items)
        if FLAGS.backend != "predictor":
            print("\n".join(notes))
            return
    rows = []
    if FLAGS.backend == "predictor":
        from tflite_bench import predictor

        table = predictor.LatencyTable.load(FLAGS.table)
        for item in items:
            if item.arch is None:
                raise UsageError(f"--backend=predictor needs architectures; got {item.label}")
            ms = table.predict(item.arch, image_size=FLAGS.image_size, classes=FLAGS.classes)
            params, macs = _stats_of(item.arch)
            rows.append(
                {
                    "model": item.label,
                    "params_m": params,
                    "macs_m": macs,
                    "quantization": "float32",
                    "latency_ms": ms,
                }
            )
        calibrated = "calibrated" if table.calibration else "NOT calibrated (raw sum)"
        notes.append(f"predicted from {FLAGS.table} ({table.statistic} ms, {calibrated})")
    else:
        folder = FLAGS.output_dir or tempfile.mkdtemp(prefix="tflite_bench_")
        os.makedirs(folder, exist_ok=True)
        paths = [_to_tflite(item, folder) for item in items]
        results = _measure(items, paths)
        for item, path, stats in zip(items, paths, results, strict=True):
            params, macs = _stats_of(item.arch) if item.arch is not None else (None, None)
            rows.append(
                {
                    "model": item.label,
                    "params_m": params,
                    "macs_m": macs,
                    "quantization": FLAGS.quantization if not item.tflite_path else "(file)",
                    **{k: getattr(stats, k) for k in ("min_ms", "median_ms", "mean_ms", "p90_ms")},
                    "n": stats.n,
                    "latency_ms": stats.latency_ms,
                    "tflite": path,
                    "metadata": dict(stats.metadata),
                }
            )
        meta = results[0].metadata
        where = (
            meta.get("device", {}).get("model") if FLAGS.backend == "adb" else meta.get("cpu_model")
        )
        notes.append(
            f"{FLAGS.backend} backend ({where}), {FLAGS.threads} thread(s), "
            f"{'interleaved' if FLAGS.compare and len(paths) > 1 else 'sequential'}; "
            f".tflite files in {folder}"
        )
    print(_format(rows, predicted=FLAGS.backend == "predictor"))
    if FLAGS.json:
        with open(FLAGS.json, "w", encoding="utf-8") as out:
            json.dump({"rows": rows, "notes": notes}, out, indent=1, default=str)
        notes.append(f"wrote {FLAGS.json}")
    print("\n".join(notes))


def main(argv: list[str]) -> None:
    """Entry point for absl.app."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}; every option is a --flag")
    from tflite_bench import adb

    try:
        _run()
    except (UsageError, ValueError, FileNotFoundError, adb.AdbError) as error:
        print(f"tflite-bench: error: {error}", file=sys.stderr)
        sys.exit(2)


def run_main() -> None:
    """Console-script entry point (`tflite-bench`)."""
    app.run(main)


if __name__ == "__main__":
    run_main()
