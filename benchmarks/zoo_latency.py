"""Latency of every zoo model beside keras.applications' MobileNets, float32 and int8, on this host.

Builds every zoo model (plus MobileNetV2 ×1.4) and keras.applications MobileNetV2 (1.0, 1.4),
MobileNetV3Large and MobileNetV3Small (weights=None, 224², 1000 classes), converts each on the
fast path (float32, and int8 with random representative images) and measures all .tflite files
interleaved in one process (1 thread, XNNPACK). Reports params, MACs, latency min / median
(wall clock, and thread CPU time, which resists other jobs on a shared machine), the ratio to
keras MobileNetV2, the ratio of our model to keras' for the same architecture with the op-count
differences of the two graphs, and conversion time on the fast path vs `from_keras_model`. Also
checks MnasNet-A1: fast-path conversion time and equality of its outputs with the slow path.

Writes benchmarks/results/zoo_latency.{json,md}.
Run: .venv/bin/python benchmarks/zoo_latency.py [--rounds 30] [--noslow]
"""

from __future__ import annotations

import collections
import json
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from absl import app, flags, logging

from mnasnet_tf import builder, stats, zoo
from tflite_bench import benchmark, convert, runtime

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
FLAGS = flags.FLAGS
flags.DEFINE_string("results_dir", RESULTS, "Where the .json and .md results are written.")
flags.DEFINE_integer("image_size", 224, "Input resolution.")
flags.DEFINE_integer("rounds", 30, "Interleaved rounds (each times every model runs_per_round×).")
flags.DEFINE_integer("runs_per_round", 3, "Runs of each model per round.")
flags.DEFINE_integer(
    "pair_rounds", 150, "Rounds of the head-to-head run of each model against keras' twin."
)
flags.DEFINE_bool("slow", True, "Also time TFLiteConverter.from_keras_model for float32.")
flags.DEFINE_bool("int8", True, "Also measure full-int8 models.")

KERAS_MODELS = {
    "keras MobileNetV2": lambda shape: keras.applications.MobileNetV2(
        weights=None, input_shape=shape
    ),
    "keras MobileNetV2 1.4": lambda shape: keras.applications.MobileNetV2(
        weights=None, input_shape=shape, alpha=1.4
    ),
    "keras MobileNetV3Large": lambda shape: keras.applications.MobileNetV3Large(
        weights=None, input_shape=shape
    ),
    "keras MobileNetV3Small": lambda shape: keras.applications.MobileNetV3Small(
        weights=None, input_shape=shape
    ),
}
SAME_ARCH = {
    "mobilenet-v2": "keras MobileNetV2",
    "mobilenet-v2 ×1.4": "keras MobileNetV2 1.4",
    "mobilenet-v3-large": "keras MobileNetV3Large",
    "mobilenet-v3-small": "keras MobileNetV3Small",
}


def _trainable(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def _randomize_bn(model: keras.Model) -> None:
    """Random BN statistics so that outputs differ between inputs (fresh init is degenerate)."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            weights = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in weights])


def _models(shape):
    """(name, keras model, arch or None) for every model compared."""
    result = []
    for name in zoo.list_models():
        arch = zoo.get_arch(name)
        result.append((name, builder.build_model(arch, input_shape=shape), arch))
    arch = zoo.get_arch("mobilenet-v2", width=1.4)
    result.append(("mobilenet-v2 ×1.4", builder.build_model(arch, input_shape=shape), arch))
    for name, make in KERAS_MODELS.items():
        result.append((name, make(shape), None))
    return result


def _op_diff(ours: list[str], theirs: list[str]) -> dict[str, int]:
    """Op counts of our graph minus keras' (non-zero only)."""
    diff = collections.Counter(ours)
    diff.subtract(collections.Counter(theirs))
    return {op: count for op, count in sorted(diff.items()) if count}


def _a1_check(shape, folder) -> dict:
    model = builder.build_model(zoo.get_arch("mnasnet-a1"), input_shape=shape)
    _randomize_bn(model)
    fast = convert.convert(model, output_path=os.path.join(folder, "a1_fast.tflite"))
    slow = convert.convert(model, output_path=os.path.join(folder, "a1_slow.tflite"), slow=True)
    images = np.random.default_rng(1).uniform(0, 255, (4, *shape)).astype(np.float32)
    out_fast = runtime.run(runtime.load_interpreter(fast.path), images)
    out_slow = runtime.run(runtime.load_interpreter(slow.path), images)
    parity = convert.parity(model, fast.path, images)
    return {
        "fast_seconds": fast.seconds,
        "slow_seconds": slow.seconds,
        "same_ops": fast.ops == slow.ops,
        "max_abs_diff_fast_vs_slow": float(np.max(np.abs(out_fast - out_slow))),
        "max_abs_diff_fast_vs_keras": parity.max_abs_diff,
        "top1_agreement_fast_vs_keras": parity.top1_agreement,
        "output_max": float(np.max(out_fast)),
    }


def _markdown(result: dict) -> str:
    host = result["host"]
    lines = [
        "# Zoo latency on this host (LiteRT, XNNPACK, 1 thread, batch 1)",
        "",
        f"Host: {host['cpu_model']} ({host['cpu_count']} cores, shared with other jobs), "
        f"{host['runtime']} {host['runtime_version']}, {result['image_size']}², interleaved "
        f"{result['rounds']} rounds × {result['runs_per_round']} runs per model. Wall clock "
        "and the invoking thread's CPU time (robust to other jobs); ratios use CPU-time medians. "
        f"'× keras same arch' comes from a separate head-to-head run ({result['pair_rounds']} "
        "rounds × 3 runs, the two models only): median ratio (min ratio).",
        "",
        "| model | quant | params M | MACs M | wall min ms | wall median ms | CPU min ms "
        "| CPU median ms | × keras MobileNetV2 | × keras same arch | convert s (fast / slow) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        same = ""
        if row.get("ratio_to_keras_same_arch"):
            same = (
                f"{row['ratio_to_keras_same_arch']:.3f} ({row['ratio_to_keras_same_arch_min']:.3f})"
            )
        slow = f"{row['convert_slow_s']:.1f}" if row.get("convert_slow_s") is not None else "-"
        macs = f"{row['macs_m']:.0f}" if row["macs_m"] is not None else "-"
        lines.append(
            f"| {row['model']} | {row['quantization']} | {row['params_m']:.2f} | {macs} "
            f"| {row['wall_min_ms']:.2f} | {row['wall_median_ms']:.2f} | {row['cpu_min_ms']:.2f} "
            f"| {row['cpu_median_ms']:.2f} | {row['ratio_to_mobilenet_v2']:.2f} | {same} "
            f"| {row['convert_fast_s']:.1f} / {slow} |"
        )
    lines += ["", "## Graph differences, ours minus keras (float32 op counts)", ""]
    for pair, diff in result["op_diffs"].items():
        lines.append(f"- {pair}: {diff or 'identical op counts'}")
    a1 = result["mnasnet_a1_check"]
    lines += [
        "",
        "## MnasNet-A1 conversion",
        "",
        f"Fast path {a1['fast_seconds']:.2f} s vs from_keras_model {a1['slow_seconds']:.2f} s; "
        f"same op list: {a1['same_ops']}; max |fast − slow| output difference "
        f"{a1['max_abs_diff_fast_vs_slow']:.2e}; "
        f"max |fast − Keras| {a1['max_abs_diff_fast_vs_keras']:.2e}"
        f" (outputs up to {a1['output_max']:.3f}; random BN statistics), top-1 agreement "
        f"{a1['top1_agreement_fast_vs_keras']:.0%}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    del argv
    shape = (FLAGS.image_size, FLAGS.image_size, 3)
    folder = tempfile.mkdtemp(prefix="zoo_latency_")
    images = np.random.default_rng(0).uniform(0, 255, (32, *shape)).astype(np.float32)
    quantizations = ["float32", "int8"] if FLAGS.int8 else ["float32"]
    rows, paths, ops = [], [], {}
    for name, model, arch in _models(shape):
        macs = stats.arch_stats(arch, image_size=FLAGS.image_size).macs / 1e6 if arch else None
        slow_seconds = None
        if FLAGS.slow:
            slow_seconds = convert.convert(model, slow=True).seconds
        for quantization in quantizations:
            safe = name.replace(" ", "_").replace("×", "x")
            path = os.path.join(folder, f"{safe}_{quantization}.tflite")
            # keras MobileNetV2 expects [-1, 1]; the data only calibrate int8 ranges.
            data = images / 127.5 - 1 if name.startswith("keras MobileNetV2") else images
            result = convert.convert(
                model,
                quantization=quantization,
                representative_data=data if quantization == "int8" else None,
                output_path=path,
            )
            logging.info("%s %s: converted in %.1f s", name, quantization, result.seconds)
            if quantization == "float32":
                ops[name] = list(result.ops)
            paths.append(path)
            rows.append(
                {
                    "model": name,
                    "quantization": quantization,
                    "params_m": _trainable(model) / 1e6,
                    "macs_m": macs,
                    "convert_fast_s": result.seconds,
                    "convert_slow_s": slow_seconds if quantization == "float32" else None,
                    "tflite_bytes": result.size_bytes,
                    "path": path,
                }
            )
        keras.backend.clear_session()
    logging.info("measuring %d models interleaved", len(paths))
    measured = benchmark.measure_interleaved(
        paths,
        rounds=FLAGS.rounds,
        runs_per_round=FLAGS.runs_per_round,
        warmup=10,
        clock="thread_cpu",
    )
    for row in rows:
        item = measured[row["path"]]
        row.update(
            cpu_min_ms=item.min_ms,
            cpu_median_ms=item.median_ms,
            wall_min_ms=item.metadata["wall_min_ms"],
            wall_median_ms=item.metadata["wall_median_ms"],
        )
    by_key = {(row["model"], row["quantization"]): row for row in rows}
    for row in rows:
        base = by_key[("keras MobileNetV2", row["quantization"])]
        row["ratio_to_mobilenet_v2"] = row["cpu_median_ms"] / base["cpu_median_ms"]
        twin = SAME_ARCH.get(row["model"])
        if twin:
            # A dedicated head-to-head run: two models, many rounds, so that a few-percent
            # difference is not lost in the noise of the 26-model run.
            other = by_key[(twin, row["quantization"])]
            pair = benchmark.measure_interleaved(
                [row["path"], other["path"]],
                rounds=FLAGS.pair_rounds,
                runs_per_round=3,
                warmup=10,
                clock="thread_cpu",
            )
            ours, theirs = pair[row["path"]], pair[other["path"]]
            row["pair_run"] = {
                "ours_cpu_min_ms": ours.min_ms,
                "ours_cpu_median_ms": ours.median_ms,
                "keras_cpu_min_ms": theirs.min_ms,
                "keras_cpu_median_ms": theirs.median_ms,
                "n": ours.n,
            }
            row["ratio_to_keras_same_arch"] = ours.median_ms / theirs.median_ms
            row["ratio_to_keras_same_arch_min"] = ours.min_ms / theirs.min_ms
    result = {
        "image_size": FLAGS.image_size,
        "rounds": FLAGS.rounds,
        "runs_per_round": FLAGS.runs_per_round,
        "pair_rounds": FLAGS.pair_rounds,
        "host": benchmark.host_metadata(1),
        "rows": [{k: v for k, v in row.items() if k != "path"} for row in rows],
        "op_diffs": {
            f"{ours} vs {theirs}": _op_diff(ops[ours], ops[theirs])
            for ours, theirs in SAME_ARCH.items()
        },  # fmt: skip
        "op_counts": {name: dict(collections.Counter(o)) for name, o in ops.items()},
        "mnasnet_a1_check": _a1_check(shape, folder),
    }
    os.makedirs(FLAGS.results_dir, exist_ok=True)
    with open(os.path.join(FLAGS.results_dir, "zoo_latency.json"), "w", encoding="utf-8") as out:
        json.dump(result, out, indent=1)
    with open(os.path.join(FLAGS.results_dir, "zoo_latency.md"), "w", encoding="utf-8") as out:
        out.write(_markdown(result))
    print(_markdown(result))
    print(f"wrote {FLAGS.results_dir}/zoo_latency.{{json,md}}; .tflite files in {folder}")


if __name__ == "__main__":
    app.run(main)
