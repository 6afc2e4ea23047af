"""How well the per-layer latency table predicts whole-model latency on this host.

Samples architectures from a MnasNet-like space on the MobileNetV2 skeleton (ConvOp in {conv,
sep, mbconv e3, mbconv e6}, kernel 3/5, SE 0/0.25, skip identity/pool/none, filters ×{0.75, 1,
1.25}, layers ±1), builds a latency table over their layers, calibrates it on one set and
measures a separate test set end to end (interleaved), then reports the share of test
predictions within ±10%, MAPE, Spearman rank correlation and the time of one prediction.

Writes benchmarks/results/predictor_accuracy.{json,md}; the table itself goes to
benchmarks/results/latency_table_local.json (reused and extended on the next run, unless
--fresh_table).

Run: .venv/bin/python benchmarks/predictor_accuracy.py [--n_test 30 --n_calibration 20]
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from absl import app, flags, logging

from mnasnet_tf import arch_string, specs
from search.latency import build, parts
from search.latency import calibration as calibration_lib
from search.latency import table as table_lib
from tflite_bench import benchmark
from tflite_bench.backends import LocalBackend

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

FLAGS = flags.FLAGS
flags.DEFINE_string("results_dir", RESULTS, "Where the .json and .md results are written.")
flags.DEFINE_integer("n_test", 30, "Held-out random architectures to evaluate on.")
flags.DEFINE_integer("n_calibration", 20, "Random architectures the calibration is fitted on.")
flags.DEFINE_integer("image_size", 224, "Input resolution.")
flags.DEFINE_integer("seed", 0, "Sampling seed (calibration seed; test uses seed + 1).")
flags.DEFINE_string(
    "table", os.path.join(RESULTS, "latency_table_local.json"), "Latency table path."
)
flags.DEFINE_bool("fresh_table", False, "Delete the table first (else extend/resume it).")
flags.DEFINE_enum(
    "clock",
    "thread_cpu",
    ["thread_cpu", "wall"],
    "Clock of the table and the end-to-end measurements; thread CPU time resists other jobs on "
    "a shared machine (wall figures are reported too).",
)

# MobileNetV2's skeleton: (expansion, output filters, repeats, stride) per block.
MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip
CONV_OPS = (("conv", 1), ("sep", 1), ("mbconv", 3), ("mbconv", 6))


def sample_mnasnet_arch(rng: np.random.Generator) -> specs.ArchSpec:
    """One architecture of the MnasNet factorized hierarchical space (DESIGN.md §4)."""
    blocks = []
    for _, filters, repeats, stride in MOBILENET_V2:
        op, expansion = CONV_OPS[rng.integers(len(CONV_OPS))]
        blocks.append(
            specs.BlockSpec(
                num_repeat=max(1, repeats + int(rng.integers(-1, 2))),
                kernel_size=int(rng.choice([3, 5])),
                stride=stride,
                output_filters=specs.make_divisible(filters * float(rng.choice([0.75, 1, 1.25]))),
                expand_ratio=expansion,
                se_ratio=None if rng.random() < 0.5 else 0.25,
                skip=str(rng.choice(["identity", "pool", "none"])),
                op=op,
            )
        )
    return specs.ArchSpec(blocks=tuple(blocks), name="sampled")


def _named(archs: list[specs.ArchSpec], prefix: str) -> list[specs.ArchSpec]:
    return [arch.replace(name=f"{prefix}{index:02d}") for index, arch in enumerate(archs)]


def _evaluate(table: table_lib.LatencyTable, archs, measured, size) -> dict:
    predicted = [table.predict(arch, image_size=size) for arch in archs]
    raw = [table.raw_sum(arch, image_size=size) for arch in archs]
    return {
        "calibrated": calibration_lib.accuracy(predicted, measured),
        "uncalibrated": calibration_lib.accuracy(raw, measured),
        "rows": [
            {"name": a.name, "measured_ms": m, "predicted_ms": p, "raw_sum_ms": r}
            for a, m, p, r in zip(archs, measured, predicted, raw, strict=True)
        ],
    }


def _predict_time_ms(table: table_lib.LatencyTable, archs, size) -> dict:
    """Time of `predict` on architectures it has not seen (as in a search) and repeated."""
    parts.part_keys.cache_clear()
    first, again = [], []
    for times in (first, again):
        for arch in archs:
            start = time.perf_counter()
            table.predict(arch, image_size=size)
            times.append(1e3 * (time.perf_counter() - start))
    return {
        "first_call_median_ms": float(np.median(first)),
        "first_call_max_ms": float(np.max(first)),
        "repeat_median_ms": float(np.median(again)),
        "repeat_max_ms": float(np.max(again)),
    }


def _markdown(result: dict) -> str:
    lines = [
        "# Latency predictor accuracy (per-layer table + calibration on latency and weight sums)",
        "",
        f"Host: {result['backend'].get('cpu_model')} ({result['backend'].get('cpu_count')} "
        f"cores), {result['backend'].get('runtime')} {result['backend'].get('runtime_version')}, "
        f"{result['backend'].get('num_threads')} thread, {result['image_size']}², batch 1, "
        "float32. Machine shared with other jobs: figures are noisy.",
        "",
        f"Table: {result['table_entries']} parts (stem, layers, head) measured in isolation, "
        f"built in {result['table_seconds']:.0f} s. Calibration on {result['n_calibration']} "
        f"random MnasNet-space archs, test on {result['n_test']} other ones, both measured end "
        "to end interleaved.",
        "",
        "| clock, statistic | predictions | within ±10% | within ±5% | MAPE | max error "
        "| Spearman |",
        "|---|---|---|---|---|---|---|",
    ]
    for statistic, data in result["by_statistic"].items():
        for label, key in (("test, calibrated", "calibrated"), ("test, raw sum", "uncalibrated")):
            acc = data["test"][key]
            lines.append(
                f"| {statistic} | {label} | {acc['within_10pct']:.0%} | {acc['within_5pct']:.0%} "
                f"| {acc['mape_pct']:.1f}% | {acc['max_error_pct']:.1f}% | {acc['spearman']:.3f} |"
            )
        cal = data["calibration"]
        lines.append(
            f"| {statistic} | calibration set, leave-one-out | "
            f"{cal['leave_one_out']['within_10pct']:.0%} | "
            f"{cal['leave_one_out']['within_5pct']:.0%} | "
            f"{cal['leave_one_out']['mape_pct']:.1f}% | "
            f"{cal['leave_one_out']['max_error_pct']:.1f}% | "
            f"{cal['leave_one_out']['spearman']:.3f} |"
        )
    lines += [
        "",
        "Fits (measured ms ≈ a · Σ part ms + b · Σ part MB + c): "
        + "; ".join(
            f"{s}: a {d['calibration']['coefficients']['parts_ms']:.3f}, "
            f"b {d['calibration']['coefficients']['weights_mb']:.3f}, "
            f"c {d['calibration']['coefficients']['constant']:.3f}"
            for s, d in result["by_statistic"].items()
        ),
        "",
        f"predict() per architecture (pure Python): first call median "
        f"{result['predict_time']['first_call_median_ms']:.3f} ms, max "
        f"{result['predict_time']['first_call_max_ms']:.3f} ms; repeated median "
        f"{result['predict_time']['repeat_median_ms']:.4f} ms.",
        "",
        f"Test architectures ({result['clock']} min):",
        "",
        "| arch | measured ms | predicted ms | error |",
        "|---|---|---|---|",
    ]
    for row in result["by_statistic"][f"{result['clock']} min"]["test"]["rows"]:
        error = (row["predicted_ms"] - row["measured_ms"]) / row["measured_ms"]
        lines.append(
            f"| {row['name']} | {row['measured_ms']:.2f} | {row['predicted_ms']:.2f} | "
            f"{error:+.1%} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    del argv
    size = FLAGS.image_size
    calibration = _named(
        calibration_lib.sample_archs(sample_mnasnet_arch, FLAGS.n_calibration, seed=FLAGS.seed),
        "cal",
    )
    test = _named(
        calibration_lib.sample_archs(sample_mnasnet_arch, FLAGS.n_test, seed=FLAGS.seed + 1), "test"
    )
    if FLAGS.fresh_table and os.path.exists(FLAGS.table):
        os.unlink(FLAGS.table)
    start = time.perf_counter()
    table = build.build_table(
        calibration + test,
        FLAGS.table,
        image_size=size,
        backend=LocalBackend(clock=FLAGS.clock, warmup=10, runs=50),
    )
    table_seconds = time.perf_counter() - start
    logging.info("table: %d entries in %.0f s", len(table.entries), table_seconds)

    # Both sets are measured in one interleaved run so that they see the same machine state.
    start = time.perf_counter()
    stats = calibration_lib.measure_archs(calibration + test, image_size=size, clock=FLAGS.clock)
    e2e_seconds = time.perf_counter() - start
    cal_stats, test_stats = stats[: len(calibration)], stats[len(calibration) :]
    other = "wall" if FLAGS.clock == "thread_cpu" else "thread_cpu"

    def values(items, label: str) -> list[float]:
        statistic = label.rsplit(" ", 1)[-1]
        if label.startswith(FLAGS.clock):
            return [getattr(item, f"{statistic}_ms") for item in items]
        return [item.metadata[f"{other}_{statistic}_ms"] for item in items]

    by_statistic = {}
    for label in (f"{FLAGS.clock} min", f"{FLAGS.clock} median", f"{other} min", f"{other} median"):
        view = table_lib.LatencyTable(entries=table.entries, statistic=label.split()[-1])
        report = calibration_lib.calibrate(
            view, calibration, image_size=size, measured_ms=values(cal_stats, label), save=False
        )
        by_statistic[label] = {
            "calibration": report,
            "test": _evaluate(view, test, values(test_stats, label), size),
        }
        if label == f"{FLAGS.clock} {table.statistic}":
            table.calibration = view.calibration
            table.save()
    result = {
        "backend": table.backend,
        "image_size": size,
        "n_calibration": len(calibration),
        "n_test": len(test),
        "table_entries": len(table.entries),
        "table_seconds": table_seconds,
        "end_to_end_seconds": e2e_seconds,
        "clock": FLAGS.clock,
        "table_path": os.path.relpath(FLAGS.table, FLAGS.results_dir),
        "by_statistic": by_statistic,
        "predict_time": _predict_time_ms(table, test, size),
        "test_archs": {arch.name: arch_string.encode(arch) for arch in test},
        "host_metadata": benchmark.host_metadata(1),
    }
    os.makedirs(FLAGS.results_dir, exist_ok=True)
    with open(
        os.path.join(FLAGS.results_dir, "predictor_accuracy.json"), "w", encoding="utf-8"
    ) as out:
        json.dump(result, out, indent=1)
    with open(
        os.path.join(FLAGS.results_dir, "predictor_accuracy.md"), "w", encoding="utf-8"
    ) as out:
        out.write(_markdown(result))
    test_min = by_statistic[f"{FLAGS.clock} min"]["test"]["calibrated"]
    print(
        f"test ({len(test)} archs, {FLAGS.clock} min): within ±10% {test_min['within_10pct']:.0%}, "
        f"MAPE {test_min['mape_pct']:.1f}%, Spearman {test_min['spearman']:.3f}; "
        f"wrote {FLAGS.results_dir}/predictor_accuracy.{{json,md}}",
        file=sys.stdout,
    )


if __name__ == "__main__":
    app.run(main)
