"""Whole-space latency tables on this host: build time before/after, and prediction accuracy.

For each --spaces entry: builds (or resumes) the table of every part the space can contain at
--image_size, for each --classes count (one table file: the layers are shared, only the
classifier differs), calibrates it on --n_calibration random architectures of the space and
measures its accuracy on --n_test other random architectures (share within ±10% and ±5%, MAPE,
Spearman); both sets are timed end to end, interleaved in one session. A table already built is
only resumed (nothing to measure), so a rerun costs the calibration and test alone, and keeps
the build figures of the run that built it. With --speed_parts N it first times building the same
N parts of the first space twice, in fresh tables: the way tables were built before (one
part at a time: build, convert, time; `workers=0, chunk=1`) and the default (conversion in
parallel processes, chunks timed on a quiet machine), and extrapolates both to the whole space.

Writes benchmarks/results/latency_space_tables.{json,md}; the tables go to
benchmarks/results/latency_table_<space>_<size>.json (resumed on the next run).

Run: .venv/bin/python benchmarks/latency_space_tables.py --spaces=mnasnet,mobilenetv3-large
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from search.latency import build, calibration, coverage  # noqa: E402
from search.latency.table import LatencyTable  # noqa: E402
from search.spaces import registry as space_registry  # noqa: E402
from tflite_bench import files  # noqa: E402
from tflite_bench.backends import LocalBackend  # noqa: E402

RESULTS = os.path.join(REPO, "benchmarks", "results")

FLAGS = flags.FLAGS
flags.DEFINE_list("spaces", ["mnasnet", "mobilenetv3-large"], "Search spaces to tabulate.")
flags.DEFINE_integer("image_size", 224, "Input resolution.")
flags.DEFINE_list("classes", ["1000", "10"], "Class counts the tables cover.")
flags.DEFINE_integer("speed_parts", 300, "Parts timed before/after the speed-up (0: skip).")
flags.DEFINE_integer("n_calibration", 30, "Random architectures the calibration is fitted on.")
flags.DEFINE_integer("n_test", 100, "Other random architectures the accuracy is measured on.")
flags.DEFINE_integer("seed", 0, "Calibration sampling seed (the test set uses seed + 1).")
flags.DEFINE_integer("workers", None, "Conversion processes (default: one per core).")
flags.DEFINE_string("results_dir", RESULTS, "Where results and tables are written.")


def backend() -> LocalBackend:
    """The device backend of every table here: 1 thread, thread CPU clock (resists a busy
    host), 10 warm-up and 50 timed runs."""
    return LocalBackend(threads=1, warmup=10, runs=50, clock="thread_cpu")


def speed(space_name: str, n: int) -> dict:
    """Seconds per part building the same `n` parts the old way and the new way."""
    space = space_registry.get_space(space_name)
    parts = coverage.space_parts(space, image_size=FLAGS.image_size, classes=1000)[:n]
    rows = {}
    tables = {}
    for label, options in (
        ("before (one part at a time)", {"workers": 0, "chunk": 1}),
        ("after (parallel conversion, quiet timing)", {"workers": FLAGS.workers}),
    ):
        table = LatencyTable()
        start = time.perf_counter()
        build.measure_parts(parts, table, backend=backend(), progress=False, **options)
        seconds = time.perf_counter() - start
        rows[label] = {"seconds": seconds, "seconds_per_part": seconds / len(parts)}
        tables[label] = table
        logging.info("%s: %.1f s for %d parts", label, seconds, len(parts))
    before, after = (tables[label] for label in rows)
    ratios = sorted(
        after.entries[key]["min_ms"] / before.entries[key]["min_ms"]
        for key in before.entries
        if before.entries[key]["min_ms"] > 0
    )
    return {
        "space": space_name,
        "parts": len(parts),
        "runs": rows,
        "speed_up": rows[list(rows)[0]]["seconds"] / rows[list(rows)[1]]["seconds"],
        "min_ms_ratio_after_over_before": {
            "median": ratios[len(ratios) // 2],
            "p10": ratios[len(ratios) // 10],
            "p90": ratios[(9 * len(ratios)) // 10],
        },
    }


def tabulate(space_name: str) -> dict:
    """Builds / resumes the space's table for every class count, then calibrates and tests."""
    space = space_registry.get_space(space_name)
    path = os.path.join(FLAGS.results_dir, f"latency_table_{space_name}_{FLAGS.image_size}.json")
    builds = []
    for classes in map(int, FLAGS.classes):
        before = len(LatencyTable.load(path).entries) if os.path.exists(path) else 0
        start = time.perf_counter()
        table = build.build_space_table(
            space,
            path,
            image_size=FLAGS.image_size,
            classes=classes,
            backend=backend(),
            workers=FLAGS.workers,
        )
        builds.append(
            {
                "classes": classes,
                "parts": len(
                    coverage.space_parts(space, image_size=FLAGS.image_size, classes=classes)
                ),
                "measured_now": len(table.entries) - before,
                "seconds": time.perf_counter() - start,
            }
        )
    classes = int(FLAGS.classes[0])

    def sample(seed: int, n: int) -> list:
        return calibration.sample_archs(
            lambda rng: space.to_arch(space.sample(rng), name=f"{space_name}-random"), n, seed=seed
        )

    calibration_archs = sample(FLAGS.seed, FLAGS.n_calibration)
    test_archs = sample(FLAGS.seed + 1, FLAGS.n_test)
    # One interleaved session for both sets: the drift of a shared host between two sessions
    # (a few % within minutes here) would otherwise count as prediction error.
    measured = calibration.table_figures(
        table, calibration_archs + test_archs, image_size=FLAGS.image_size, classes=classes
    )
    report = calibration.calibrate(
        table,
        calibration_archs,
        image_size=FLAGS.image_size,
        classes=classes,
        measured_ms=measured[: len(calibration_archs)],
    )
    test = calibration.evaluate(
        table,
        test_archs,
        image_size=FLAGS.image_size,
        classes=classes,
        measured_ms=measured[len(calibration_archs) :],
    )
    return {
        "space": space_name,
        "table": os.path.relpath(path, REPO),
        "entries": len(table.entries),
        "coverage": table.coverage,
        "device": table.device,
        "builds": builds,
        "calibration": {k: report[k] for k in ("n", "coefficients", "leave_one_out")},
        "test": test,
    }


def markdown(result: dict) -> str:
    """The report."""
    lines = [
        "# Whole-space latency tables on this host",
        "",
        f"Device: {result['device']}; 1 thread, thread CPU clock, 10 warm-up + 50 runs per part; "
        f"{result['image_size']}² input. Generated by `benchmarks/latency_space_tables.py`.",
        "",
    ]
    if result.get("speed"):
        s = result["speed"]
        lines += [
            f"## Build time ({s['space']}, the same {s['parts']} parts, fresh tables)",
            "",
            "| build | seconds | s / part |",
            "|---|---|---|",
        ]
        for label, row in s["runs"].items():
            lines.append(f"| {label} | {row['seconds']:.1f} | {row['seconds_per_part']:.3f} |")
        ratio = s["min_ms_ratio_after_over_before"]
        lines += [
            "",
            f"Speed-up {s['speed_up']:.2f}×. Part latencies agree: min-ms ratio after / before "
            f"median {ratio['median']:.3f} (p10 {ratio['p10']:.3f}, p90 {ratio['p90']:.3f}).",
            "",
        ]
    lines += [
        "## Tables and accuracy on random architectures kept out of the calibration",
        "",
        "| space | parts | build (s) | calibrated on | test archs | within ±10% | ±5% | MAPE | "
        "Spearman |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["spaces"]:
        test = row["test"]
        built = " + ".join(
            f"{b['seconds']:.0f} ({b['measured_now']} parts, c{b['classes']})"
            for b in row["builds"]
        )
        lines.append(
            f"| {row['space']} | {row['entries']} | {built} | {row['calibration']['n']} | "
            f"{test['n']} | {test['within_10pct']:.0%} | {test['within_5pct']:.0%} | "
            f"{test['mape_pct']:.1f}% | {test['spearman']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    del argv
    result = {"image_size": FLAGS.image_size, "spaces": []}
    path = os.path.join(FLAGS.results_dir, "latency_space_tables.json")
    if FLAGS.speed_parts:
        result["speed"] = speed(FLAGS.spaces[0], FLAGS.speed_parts)
    earlier = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            earlier = json.load(handle)
    if not FLAGS.speed_parts and earlier.get("speed"):  # keep the earlier build comparison
        result["speed"] = earlier["speed"]
    built = {row["space"]: row["builds"] for row in earlier.get("spaces", [])}
    for name in FLAGS.spaces:
        row = tabulate(name)
        if name in built and not any(b["measured_now"] for b in row["builds"]):
            row["builds"] = built[name]  # resumed with nothing to measure: the original build
        result["spaces"].append(row)
    result["device"] = result["spaces"][0]["device"] if result["spaces"] else ""
    files.atomic_write_json(path, result, indent=1)
    text = markdown(result)
    files.atomic_write(os.path.join(FLAGS.results_dir, "latency_space_tables.md"), text.encode())
    print(text)


if __name__ == "__main__":
    app.run(main)
