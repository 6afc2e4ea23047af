"""Writes docs/REPRODUCTION.md: what this repository reproduces of MnasNet and MobileNetV3, and
what it cannot.

Reads the JSON files the scripts in benchmarks/ write to benchmarks/results/ —
`zoo_latency.json` (benchmarks/zoo_latency.py), `predictor_accuracy.json`
(benchmarks/predictor_accuracy.py), `train_throughput.json`, `search_efficiency[_*].json`,
`int8_agreement.json`, and the `proxy_check_*.json` reports of `mnasnet-proxy-check` — and
renders each into a section; a file that is missing says "not measured yet" instead. Parameter
and multiply-add counts are computed here with `mnasnet_tf.stats` (no TensorFlow). The published
figures are constants below, each with its source. Output is deterministic (no timestamps), so
the committed file changes only when the results do.

Run: .venv/bin/python docs/make_reproduction.py [--results_dir=benchmarks/results]
     [--output=docs/REPRODUCTION.md]
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from mnasnet_tf import stats, zoo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_RESULTS = os.path.join(ROOT, "benchmarks", "results")
DEFAULT_OUTPUT = os.path.join(ROOT, "docs", "REPRODUCTION.md")
NOT_MEASURED = "_Not measured yet: run `{command}` to write `{file}`._"

# ---- published figures ----

MNASNET_PAPER = "MnasNet paper (Tan et al., CVPR 2019)"
MOBILENET_V2_PAPER = "MobileNetV2 paper (Sandler et al., CVPR 2018)"
MOBILENET_V3_PAPER = "MobileNetV3 paper (Howard et al., ICCV 2019)"
PAPERS = {
    # model: (params M, MACs M, ImageNet top-1 %, Pixel 1 float latency ms, source)
    "mnasnet-a1": (3.9, 312, 75.2, 78, MNASNET_PAPER),
    "mnasnet-b1": (4.4, None, 74.5, None, MNASNET_PAPER),
    "mnasnet-small": (2.0, 68, None, None, "tensorflow/tpu mnasnet README (MnasNet-small)"),
    "mobilenet-v2": (3.4, 300, 72.0, 75, MOBILENET_V2_PAPER),
    "mobilenet-v2 ×1.4": (6.9, 585, 74.7, 143, MOBILENET_V2_PAPER),
    "mobilenet-v3-large": (5.4, 219, 75.2, 51, MOBILENET_V3_PAPER),
    "mobilenet-v3-small": (2.5, 56, 67.4, 15.8, MOBILENET_V3_PAPER),
}
REFERENCE_IMPLEMENTATIONS = {
    # model: (params, MACs M, source); exact integers are trainable parameters of the built model
    "mnasnet-a1": (3.9e6, 315.2, "tensorflow/tpu mnasnet README (3.9 M, 315.2 M MACs)"),
    "mnasnet-small": (2.0e6, 68, "tensorflow/tpu mnasnet README (2.0 M, 68 M MACs)"),
    "mobilenet-v2": (3_504_872, None, "keras.applications MobileNetV2, trainable (golden test)"),
    "mobilenet-v2 ×1.4": (6_108_776, None, "keras.applications MobileNetV2(alpha=1.4), trainable"),
    "mobilenet-v3-large": (
        5_483_032,
        217,
        "keras.applications MobileNetV3Large, trainable; MACs from its docstring",
    ),
    "mobilenet-v3-small": (2_542_856, None, "keras.applications MobileNetV3Small, trainable"),
}
PIXEL1_RATIOS = {
    # model: [(latency ÷ MobileNetV2 on a Pixel 1, how)]
    "mobilenet-v2": [(1.0, "75/75 (MnasNet); 64/64 (V3)")],
    "mobilenet-v2 ×1.4": [(143 / 75, "143/75 (MnasNet)")],
    "mnasnet-a1": [(78 / 75, "78/75 (MnasNet)"), (71 / 64, "71/64 (V3)")],
    "mobilenet-v3-large": [(51 / 64, "51/64 (V3)")],
    "mobilenet-v3-small": [(15.8 / 64, "15.8/64 (V3)")],
}
NN_METER = "nn-Meter: 99% of predictions within ±10% on mobile CPUs (fused-kernel predictors)"

# ---- formatting ----


def fmt(value: Any, digits: int = 2) -> str:
    """A table cell: numbers with `digits` decimals, None/NaN as '–', others as text."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else "–"
    return str(value)


def pct(value: float | None, digits: int = 0) -> str:
    """A fraction in [0, 1] as a percentage."""
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Markdown table lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def load_result(results_dir: str, name: str) -> dict[str, Any] | None:
    """`<results_dir>/<name>.json`, or None if it does not exist.

    Raises:
      ValueError: the file exists but is not a JSON object (named).
    """
    path = os.path.join(results_dir, f"{name}.json")
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object; got {type(data).__name__}")
    return data


def _host_line(host: Mapping[str, Any] | None) -> str:
    host = host or {}
    return (
        f"{host.get('cpu_model', 'unknown CPU')} ({host.get('cpu_count', '?')} cores), "
        f"{host.get('runtime', '?')} {host.get('runtime_version', '')}".rstrip()
    )


# ---- sections ----


def section_architectures() -> list[str]:
    """Params and MACs of every zoo model beside the papers' and reference implementations'."""
    lines = [
        "## 1. Architectures: parameters and multiply-adds",
        "",
        "Ours: `mnasnet_tf.stats.arch_stats` (trainable parameters, equal to Keras' count of the "
        "built model; multiply-adds of convolutions and the classifier), 1000 classes, at 224² "
        "(MnasNet-D1-320 at 320²). Papers: the published figures. Reference implementations: "
        "exact trainable counts of keras.applications' built models (checked by golden tests in "
        "`tests/test_zoo.py`), or the figures the reference code's README publishes.",
        "",
    ]
    names = [(name, 1.0) for name in zoo.list_models()] + [("mobilenet-v2", 1.4)]
    rows = []
    for name, width in names:
        label = name if width == 1.0 else f"{name} ×{width:g}"
        size = 320 if name == "mnasnet-d1-320" else 224
        counted = stats.arch_stats(zoo.get_arch(name, width=width), image_size=size)
        paper = PAPERS.get(label, (None,) * 5)
        reference = REFERENCE_IMPLEMENTATIONS.get(label, (None, None, ""))
        ref_params = reference[0]
        if isinstance(ref_params, int):
            ref_params_text = f"{ref_params:,}"
        else:
            ref_params_text = "–" if ref_params is None else f"{ref_params / 1e6:.1f} M"
        rows.append(
            [
                label,
                f"{size}²",
                f"{counted.params:,}",
                fmt(paper[0], 1),
                ref_params_text,
                fmt(counted.macs / 1e6, 1),
                fmt(paper[1], 0),
                fmt(reference[1], 1),
                fmt(paper[2], 1),
            ]
        )
    lines += table(
        [
            "model",
            "res.",
            "params (ours)",
            "params M (paper)",
            "params (reference impl.)",
            "MACs M (ours)",
            "MACs M (paper)",
            "MACs M (reference impl.)",
            "ImageNet top-1 % (paper)",
        ],
        rows,
    )
    lines += ["", "Sources:", ""]
    for label in [name if width == 1.0 else f"{name} ×{width:g}" for name, width in names]:
        parts = []
        if label in PAPERS:
            parts.append(f"published: {PAPERS[label][4]}")
        if label in REFERENCE_IMPLEMENTATIONS:
            parts.append(f"reference implementation: {REFERENCE_IMPLEMENTATIONS[label][2]}")
        if parts:
            lines.append(f"- {label}: " + "; ".join(parts) + ".")
    lines += [
        "",
        "Differences: the MobileNetV2 paper gives 6.9 M parameters for ×1.4, where "
        "keras.applications and we count 6.1 M (same graph); the MobileNetV3 paper's MACs differ "
        "from ours by under 2% (counting conventions: we count the SE and classifier "
        "multiply-adds, not activations); MnasNet-D1/D1-320 are detection backbones "
        "(MnasFPN) with no published classification figures. We do not reproduce ImageNet "
        "top-1 (section 9).",
    ]
    return lines


def _latency_rows(data: Mapping[str, Any], quantization: str) -> list[dict[str, Any]]:
    return [row for row in data.get("rows", []) if row.get("quantization") == quantization]


def section_latency(data: Mapping[str, Any] | None) -> list[str]:
    """Latency of the zoo on the measured host, ratios to MobileNetV2 beside the papers'."""
    lines = ["## 2. Latency on the measured host", ""]
    if data is None:
        return lines + [
            NOT_MEASURED.format(command="python benchmarks/zoo_latency.py", file="zoo_latency.json")
        ]
    lines += [
        f"Host: {_host_line(data.get('host'))}; LiteRT with XNNPACK, 1 thread, batch 1, "
        f"{data.get('image_size')}², {data.get('rounds')} interleaved rounds × "
        f"{data.get('runs_per_round')} runs per model. Latency is the invoking thread's CPU "
        "time (robust to other jobs on a shared machine) and the wall clock. Ratios divide CPU "
        "medians by keras.applications MobileNetV2's; the papers' ratios are float latencies "
        "on a Pixel 1's big core.",
        "",
    ]
    rows = []
    for row in _latency_rows(data, "float32"):
        pixel = PIXEL1_RATIOS.get(row["model"], [])
        rows.append(
            [
                row["model"],
                fmt(row.get("params_m"), 2),
                fmt(row.get("macs_m"), 0),
                fmt(row.get("cpu_median_ms")),
                fmt(row.get("cpu_min_ms")),
                fmt(row.get("wall_median_ms")),
                fmt(row.get("ratio_to_mobilenet_v2")),
                "; ".join(f"{ratio:.2f} = {how}" for ratio, how in pixel) or "–",
                fmt(row.get("ratio_to_keras_same_arch"), 3),
            ]
        )
    lines += table(
        [
            "model (float32)",
            "params M",
            "MACs M",
            "CPU median ms",
            "CPU min ms",
            "wall median ms",
            "÷ keras MobileNetV2 (here)",
            "÷ MobileNetV2 (Pixel 1, papers)",
            "÷ keras same arch",
        ],
        rows,
    )
    int8 = {row["model"]: row for row in _latency_rows(data, "int8")}
    if int8:
        rows = []
        for row in _latency_rows(data, "float32"):
            quantized = int8.get(row["model"])
            if quantized is None:
                continue
            speedup = _ratio(row.get("cpu_median_ms"), quantized.get("cpu_median_ms"))
            rows.append(
                [
                    row["model"],
                    fmt(row.get("cpu_median_ms")),
                    fmt(quantized.get("cpu_median_ms")),
                    fmt(speedup),
                ]
            )
        lines += [
            "",
            "Full-integer int8 against float32 (same host, same interleaved run):",
            "",
            *table(["model", "float32 CPU median ms", "int8 CPU median ms", "speed-up"], rows),
        ]
    return lines


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def section_cost(
    latency: Mapping[str, Any] | None, predictor: Mapping[str, Any] | None
) -> list[str]:
    """What converting and measuring a model costs."""
    lines = ["## 3. Conversion and measurement cost", ""]
    if latency is None:
        lines.append(
            NOT_MEASURED.format(command="python benchmarks/zoo_latency.py", file="zoo_latency.json")
        )
    else:
        rows = []
        for row in _latency_rows(latency, "float32"):
            quantized = next(
                (
                    other
                    for other in _latency_rows(latency, "int8")
                    if other["model"] == row["model"]
                ),
                {},
            )
            rows.append(
                [
                    row["model"],
                    fmt(row.get("convert_fast_s"), 1),
                    fmt(row.get("convert_slow_s"), 1),
                    fmt(quantized.get("convert_fast_s"), 1),
                    fmt(_mb(row.get("tflite_bytes")), 1),
                ]
            )
        lines += [
            "Conversion to a batch-1 .tflite (`tflite_bench.convert`): the fast path (a frozen "
            "`tf.function`) against `TFLiteConverter.from_keras_model`, and full-int8 (random "
            "calibration images; they do not change latency).",
            "",
            *table(
                [
                    "model",
                    "float32 fast s",
                    "float32 from_keras_model s",
                    "int8 fast s",
                    "float32 .tflite MB",
                ],
                rows,
            ),
        ]
        check = latency.get("mnasnet_a1_check")
        if check:
            lines += [
                "",
                f"MnasNet-A1: fast path {fmt(check.get('fast_seconds'))} s vs from_keras_model "
                f"{fmt(check.get('slow_seconds'))} s; same op list: "
                f"{fmt(check.get('same_ops'))}; max output difference fast vs slow "
                f"{check.get('max_abs_diff_fast_vs_slow', float('nan')):.2e}, fast vs Keras "
                f"{check.get('max_abs_diff_fast_vs_keras', float('nan')):.2e}.",
            ]
        runs = (latency.get("rounds") or 0) * (latency.get("runs_per_round") or 0)
        medians = [row.get("cpu_median_ms") or 0.0 for row in latency.get("rows", [])]
        if runs and medians:
            lines += [
                "",
                f"Measuring: {runs} timed runs per model (plus warm-up), interleaved; for all "
                f"{len(medians)} files that is ≈ {fmt(runs * sum(medians) / 1e3, 1)} s of "
                "inference (runs × CPU median, summed).",
            ]
    if predictor is not None:
        lines += [
            "",
            f"Latency table (`search.latency.table`): {predictor.get('table_entries')} parts "
            f"measured in isolation in {fmt(predictor.get('table_seconds'), 0)} s; one "
            f"prediction takes {_predict_time(predictor.get('predict_time') or {})}, against "
            f"{fmt(predictor.get('end_to_end_seconds'), 0)} s to measure its "
            f"{_count(predictor)} calibration and test architectures end to end.",
        ]
    return lines


def _predict_time(times: Mapping[str, Any]) -> str:
    """The time of one `predict` call, in either form predictor_accuracy.py has written."""
    if "repeat_median_ms" in times:
        return (
            f"{fmt(times['repeat_median_ms'], 3)} ms (median of repeated calls, max "
            f"{fmt(times.get('repeat_max_ms'), 3)} ms; first call per architecture "
            f"{fmt(times.get('first_call_median_ms'), 3)} ms median, max "
            f"{fmt(times.get('first_call_max_ms'), 3)} ms)"
        )
    return f"{fmt(times.get('mean_ms'), 3)} ms on average (max {fmt(times.get('max_ms'), 3)} ms)"


def _count(predictor: Mapping[str, Any]) -> int:
    return int(predictor.get("n_calibration", 0)) + int(predictor.get("n_test", 0))


def _mb(value: float | None) -> float | None:
    return None if value is None else value / 1e6


def section_predictor(data: Mapping[str, Any] | None) -> list[str]:
    """Accuracy of the per-layer latency table."""
    lines = ["## 4. Latency predictor accuracy", ""]
    if data is None:
        return lines + [
            NOT_MEASURED.format(
                command="python benchmarks/predictor_accuracy.py",
                file="predictor_accuracy.json",
            )
        ]
    lines += [
        f"Host: {_host_line(data.get('backend'))}, {data.get('image_size')}², 1 thread. "
        f"Per-layer table of {data.get('table_entries')} parts plus a linear calibration fitted "
        f"on {data.get('n_calibration')} random MnasNet-space architectures, tested on "
        f"{data.get('n_test')} others measured end to end. For comparison: {NN_METER}.",
        "",
    ]
    rows = []
    for label, result in data.get("by_statistic", {}).items():
        for name, key in (("test, calibrated", "calibrated"), ("test, raw sum", "uncalibrated")):
            accuracy = result.get("test", {}).get(key)
            if accuracy:
                rows.append(_accuracy_row(label, name, accuracy))
        loo = result.get("calibration", {}).get("leave_one_out")
        if loo:
            rows.append(_accuracy_row(label, "calibration set, leave-one-out", loo))
    lines += table(
        ["clock, statistic", "predictions", "within ±10%", "within ±5%", "MAPE", "Spearman"],
        rows,
    )
    return lines


def section_space_tables(data: Mapping[str, Any] | None) -> list[str]:
    """Whole-space latency tables: build time before/after, accuracy on held-out archs."""
    lines = ["## 4b. Whole-space latency tables", ""]
    if data is None:
        return lines + [
            NOT_MEASURED.format(
                command="python benchmarks/latency_space_tables.py",
                file="latency_space_tables.json",
            )
        ]
    lines += [
        f"Device: {data.get('device')}; 1 thread, thread CPU clock, 10 warm-up + 50 timed runs "
        f"per part, {data.get('image_size')}² input. Each table holds every part any "
        "architecture of its space can contain (`tflite-bench --build_table --space=...`); its "
        "calibration is fitted on random architectures of the space and tested on other random "
        f"ones, measured end to end and interleaved. For comparison: {NN_METER}.",
        "",
    ]
    speed = data.get("speed")
    if speed:
        lines += table(
            ["build of the same parts", "seconds", "s / part"],
            [
                [label, fmt(row.get("seconds"), 1), fmt(row.get("seconds_per_part"), 3)]
                for label, row in speed.get("runs", {}).items()
            ],
        )
        ratio = speed.get("min_ms_ratio_after_over_before", {})
        lines += [
            "",
            f"{speed.get('parts')} parts of {speed.get('space')}: {fmt(speed.get('speed_up'))}× "
            f"faster; the part latencies agree (min ratio after / before: median "
            f"{fmt(ratio.get('median'), 3)}, p10 {fmt(ratio.get('p10'), 3)}, p90 "
            f"{fmt(ratio.get('p90'), 3)}).",
            "",
        ]
    rows = []
    for row in data.get("spaces", []):
        test = row.get("test", {})
        built = sum(build.get("seconds", 0.0) for build in row.get("builds", []))
        rows.append(
            [
                row.get("space"),
                row.get("entries"),
                ", ".join(row.get("coverage", [])),
                fmt(built / 60, 1),
                row.get("calibration", {}).get("n"),
                test.get("n"),
                pct(test.get("within_10pct")),
                pct(test.get("within_5pct")),
                f"{fmt(test.get('mape_pct'), 1)}%",
                fmt(test.get("spearman"), 3),
            ]
        )
    lines += table(
        [
            "space",
            "parts",
            "covers",
            "build (min)",
            "calibrated on",
            "tested on",
            "within ±10%",
            "within ±5%",
            "MAPE",
            "Spearman",
        ],
        rows,
    )
    return lines


def _accuracy_row(label: str, name: str, accuracy: Mapping[str, Any]) -> list[str]:
    return [
        label,
        f"{name} (n={accuracy.get('n')})",
        pct(accuracy.get("within_10pct")),
        pct(accuracy.get("within_5pct")),
        f"{fmt(accuracy.get('mape_pct'), 1)}%",
        fmt(accuracy.get("spearman"), 3),
    ]


def generic_section(
    title: str, data: Mapping[str, Any] | None, command: str, file: str
) -> list[str]:
    """A results file rendered without knowing its schema: top-level scalars as a list, lists of
    objects and objects of objects as tables of their scalar fields."""
    lines = [title, ""]
    if data is None:
        return lines + [NOT_MEASURED.format(command=command, file=file)]
    scalars = [f"- {key}: {fmt(value, 3)}" for key, value in data.items() if _is_scalar(value)]
    blocks = [scalars] if scalars else []
    for key, value in data.items():
        records = _records(value)
        columns = list(dict.fromkeys(c for _, record in records for c in record))
        columns = [
            c
            for c in columns
            if c not in _LABEL_KEYS and any(_is_scalar(r.get(c)) for _, r in records)
        ]
        if not columns:
            continue
        rows = [
            [label, *(fmt(record.get(c), 3) if _is_scalar(record.get(c)) else "" for c in columns)]
            for label, record in records
        ]
        blocks.append([f"{key}:", "", *table(["", *columns], rows)])
    for index, block in enumerate(blocks):
        lines += ([""] if index else []) + block
    return lines


CONTROLLER_EFFICIENCY = (
    (
        "controller_efficiency",
        "30% of the signal from neighbour interactions, noise/signal as measured",
    ),
    ("controller_efficiency_hard", "60% interactions, twice the measured noise"),
)


def section_controller_efficiency(runs: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """The controller on synthetic proxy-shaped rewards: best true quality per budget."""
    lines = ["### The controller on synthetic proxy-shaped rewards", ""]
    if all(data is None for data in runs.values()):
        return lines + [
            NOT_MEASURED.format(
                command="python benchmarks/controller_efficiency.py",
                file="controller_efficiency.json",
            )
        ]
    lines += [
        "`benchmarks/controller_efficiency.py` replaces proxy training with a synthetic landscape "
        "over the MnasNet space's 42 decisions, scaled to what the proxy check measured on digits "
        "(3 epochs: signal 0.174, seed noise 0.053; a resampled architecture gets the same "
        "noisy reward, as the seeded proxy does). Figure: the true quality z (in standard "
        "deviations of the space) of the architecture with the best observed reward, mean ± std "
        "over paired landscapes; 'vs random': mean paired difference, wins, Wilcoxon p.",
    ]
    for (name, description), data in zip(CONTROLLER_EFFICIENCY, runs.values(), strict=True):
        if data is None:
            continue
        config = data.get("config", {})
        table_data = data.get("table", {})
        budgets = sorted({int(b) for row in table_data.values() for b in row})
        lines += [
            "",
            f"**{description}** (`{name}.json`: {config.get('seeds')} landscapes × "
            f"{config.get('samples')} samples, interaction {fmt(config.get('interaction'), 1)}, "
            f"noise/signal {fmt(config.get('noise_over_signal'), 2)})",
            "",
        ]
        rows = []
        for method, row in table_data.items():
            cells = [method]
            for budget in budgets:
                entry = row.get(str(budget), {})
                best = entry.get("best_z", [None, None])
                versus = entry.get("vs_random")
                cell = f"{fmt(best[0])} ± {fmt(best[1])}"
                if versus:
                    cell += (
                        f" ({versus.get('mean_diff', 0):+.2f}, {versus.get('wins')}/"
                        f"{config.get('seeds')}, p={_p(versus.get('p'))})"
                    )
                cells.append(cell)
            cells.append(fmt(row.get(str(budgets[-1]), {}).get("entropy"), 1))
            rows.append(cells)
        lines += table(
            ["method", *[f"best z after {b} (vs random)" for b in budgets], "entropy at end"],
            rows,
        )
    return lines


def _wins(wins: int | None, seeds: int) -> str:
    """'4/5' (or the bare count when the number of seeds is unknown)."""
    return fmt(wins) if not seeds or wins is None else f"{wins}/{seeds}"


def _p(value: float | None) -> str:
    """A p-value with two significant digits ('–' when missing)."""
    return "–" if value is None or value != value else f"{value:.2g}"


def _budget_table(paired: Mapping[str, Any]) -> list[str]:
    """The paired differences after the first N trials, and from which trial on RL stays
    ahead: what budget the controller needs."""
    rows = []
    seeds = len(paired.get("seeds") or [])
    for row in paired.get("by_budget") or []:
        cells = [str(row.get("trials"))]
        for key, digits in (("best_reward", 4), ("best_accuracy_at_target", 3)):
            mean, std = row.get(key) or (None, None)
            cells += [
                f"{fmt(mean, digits)} ± {fmt(std, digits)}",
                _wins(row.get(f"{key}_wins"), seeds),
                _p(row.get(f"{key}_p")),
            ]
        rows.append(cells)
    if not rows:
        return []
    ahead = paired.get("ahead_from") or {}

    def since(value: Any) -> str:
        return "not within this budget" if value is None else f"from trial {value} on"

    return [
        "",
        "What budget the controller needs: the same paired differences after the first N trials.",
        "",
        *table(
            [
                "trials",
                "best reward: difference",
                "wins",
                "p",
                "best accuracy ≤ T: difference",
                "wins",
                "p",
            ],
            rows,
        ),
        "",
        f"RL's best reward stays ahead of random's on the mean over seeds "
        f"{since(ahead.get('mean'))}, and on every seed {since(ahead.get('every_seed'))}.",
    ]


def _paired_verdict(paired: Mapping[str, Any]) -> str:
    """One sentence from the paired best-reward figures."""
    mean = (paired.get("best_reward") or [None])[0]
    p_value = paired.get("best_reward_p")
    seeds = len(paired.get("seeds") or [])
    wins = paired.get("best_reward_wins")
    if mean is None or p_value is None or p_value != p_value:
        return "Too few paired seeds for a test."
    if p_value < 0.05:
        side = "beats" if mean > 0 else "loses to"
        return f"The RL controller {side} random search on best reward (p = {p_value:.3g})."
    if seeds and wins in (0, seeds):
        side = "beat" if wins else "lost to"
        return (
            f"The RL controller {side} random search on best reward on every one of the "
            f"{seeds} seeds; that is the strongest result {seeds} pairs can give a two-sided "
            f"signed-rank test (p = {p_value:.3g}): more seeds are needed for p < 0.05."
        )
    return f"No significant difference on best reward at this budget (p = {p_value:.3g})."


# Further search-efficiency runs: (results file, subsection title), each shown when measured.
SEARCH_EFFICIENCY_RUNS = (
    ("search_efficiency_variants", "Other RL variants on digits"),
    ("search_efficiency_digits_m", "On an image folder: digits-m"),
)


def section_search_efficiency(
    data: Mapping[str, Any] | None,
    controller: Mapping[str, Mapping[str, Any] | None] | None = None,
    others: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> list[str]:
    """RL vs random: the controller on synthetic rewards, then at the same budget on the real
    proxy (per-seed rows, mean ± std, paired differences with Wilcoxon p-values), then the
    `others` runs (subsection title → result, None when not measured) the same way."""
    title = "## 6. Search efficiency: RL controllers vs random search"
    lines = [title, ""]
    if controller is not None:
        lines += section_controller_efficiency(controller) + ["", "### On the real proxy", ""]
    if data is None:
        lines.append(
            NOT_MEASURED.format(
                command="python benchmarks/search_efficiency.py", file="search_efficiency.json"
            )
        )
    else:
        lines += _search_efficiency_run(data)
    for name, other in (others or {}).items():
        if other is not None:
            lines += ["", f"### {name}", ""] + _search_efficiency_run(other)
    return lines


def _search_efficiency_run(data: Mapping[str, Any]) -> list[str]:
    """One search_efficiency*.json: its setting, per-seed and mean rows, paired tests, note."""
    lines: list[str] = []
    config = data.get("config", {})
    steps = config.get("steps_per_epoch") or "all"
    lines += [
        f"`{config.get('command', '')}`: up to {config.get('trials')} trials per search on "
        f"{config.get('dataset')} at {config.get('proxy_image_size')}² "
        f"({config.get('epochs')} epochs × {steps} steps), latency on "
        f"`{config.get('backend')}` at {config.get('latency_image_size')}², target T = "
        f"{fmt(config.get('latency_target_ms'), 3)} ms, hypervolume reference "
        f"{fmt(config.get('latency_ref_ms'), 3)} ms.",
        "",
    ]
    rows = [
        [
            record.get("algorithm"),
            record.get("seed"),
            f"{record.get('trials')} ({record.get('failed')}, {record.get('cached', 0)})",
            fmt(record.get("best_reward"), 4),
            fmt(record.get("best_accuracy_at_target"), 3),
            fmt(record.get("final_hypervolume"), 3),
        ]
        for record in data.get("searches", [])
    ]
    for algorithm, summary in data.get("summary", {}).items():
        best, at_target, hypervolume = (
            summary.get("best_reward", [None, None]),
            summary.get("best_accuracy_at_target", [None, None]),
            summary.get("final_hypervolume", [None, None]),
        )
        budget = data.get("common_budget")
        rows.append(
            [
                f"**{algorithm}**",
                "mean ± std" + (f" at {budget} trials" if budget else ""),
                "",
                f"**{fmt(best[0], 4)} ± {fmt(best[1], 4)}**",
                f"**{fmt(at_target[0], 3)} ± {fmt(at_target[1], 3)}**",
                f"**{fmt(hypervolume[0], 3)} ± {fmt(hypervolume[1], 3)}**",
            ]
        )
    lines += table(
        [
            "method",
            "seed",
            "trials (failed, reused)",
            "best reward",
            "best accuracy at ≤ T",
            "final hypervolume",
        ],
        rows,
    )
    for pair, paired in data.get("paired", {}).items():
        lines += ["", f"Paired by seed, {pair}:", ""]
        pair_rows = []
        for key, label, digits in (
            ("best_reward", "best reward", 4),
            ("best_accuracy_at_target", "best accuracy at ≤ T", 3),
            ("final_hypervolume", "final hypervolume", 3),
        ):
            if key not in paired:
                continue
            mean, std = paired[key]
            pair_rows.append(
                [
                    label,
                    f"{fmt(mean, digits)} ± {fmt(std, digits)}",
                    _wins(paired.get(f"{key}_wins"), len(paired.get("seeds") or [])),
                    _p(paired.get(f"{key}_p")),
                ]
            )
        lines += table(["figure", "mean difference ± std", "wins", "Wilcoxon p"], pair_rows)
        accuracy_noise = fmt(paired.get("identical_abs_accuracy_diff"), 3)
        latency_noise = fmt(paired.get("identical_abs_latency_diff_pct"), 1)
        lines += [
            "",
            f"{_paired_verdict(paired)} {paired.get('identical_archs')} of "
            f"{paired.get('compared_trials')} trial pairs sampled the identical architecture; "
            f"on those, proxy accuracy differed by {accuracy_noise} and latency by "
            f"{latency_noise}% on average.",
        ]
        lines += _budget_table(paired)
    if config.get("note"):
        lines += ["", f"Note: {config['note']}"]
    return lines


def section_int8(data: Mapping[str, Any] | None) -> list[str]:
    """Full-integer int8 against float on held-out digits."""
    title = "## 7. int8 against float"
    if data is None:
        return [
            title,
            "",
            NOT_MEASURED.format(
                command="python benchmarks/int8_agreement.py", file="int8_agreement.json"
            ),
        ]
    lines = [
        title,
        "",
        f"{data.get('model')} trained {data.get('epochs')} epochs on digits at "
        f"{data.get('image_size')}², exported float32 and full-integer int8 (float 0–255 I/O, "
        "representative data from the training set).",
        "",
    ]
    rows = [
        [
            split,
            row.get("n"),
            fmt(row.get("keras_top1"), 4),
            fmt(row.get("float32_top1"), 4),
            fmt(row.get("int8_top1"), 4),
            fmt(row.get("int8_agreement_with_keras"), 4),
        ]
        for split, row in data.get("splits", {}).items()
    ]
    return lines + table(
        ["split", "images", "Keras top-1", "float32 top-1", "int8 top-1", "int8 = float top-1"],
        rows,
    )


PROXY_CHECKS = (
    # (results file, data set, how to write it)
    (
        "proxy_check_digits",
        "digits",
        "mnasnet-proxy-check --dataset=digits --output_dir=runs/proxy_check_digits",
    ),
    (
        "proxy_check_digits_m",
        "digits-m",
        "mnasnet-digits-m --output_dir=data/digits_m && mnasnet-proxy-check "
        "--dataset=folder:data/digits_m --output_dir=runs/proxy_check_digits_m",
    ),
)


def section_proxy_fidelity(
    checks: Mapping[str, Mapping[str, Any] | None], results_dir: str
) -> list[str]:
    """Per data set, each candidate proxy budget's cost, seed noise and rank correlation with
    the long budget (`mnasnet-proxy-check` reports), and the recommended budget."""
    lines = [
        "## 8. Proxy fidelity",
        "",
        "A search is only as good as its proxy: if a short training run ranks architectures "
        "differently from long training, or its seed noise exceeds the differences between "
        "architectures, every reward is noise. MnasNet trained each candidate 5 epochs on "
        "ImageNet; Vertex NAS ships tools that measure a proxy's seed variance and its rank "
        "correlation with full training before a search starts. `mnasnet-proxy-check` does "
        "that here: sampled architectures plus zoo references, trained under each candidate "
        "budget (several seeds) and under a long budget. Seed std: mean over architectures of "
        "the std across seeds; std across archs: the spread of their mean accuracies (the "
        "signal to rank); Spearman and Kendall: rank correlation of the mean accuracy with the "
        "long budget's. Seconds per trial are one proxy run's wall time on this 2-core host "
        "(build, tracing and BN re-estimation included: ~10 s of each run is that overhead). "
        "Both data sets recommend 3 epochs, which is the search's default "
        "(`--epochs_per_trial`). digits-m is `mnasnet-digits-m`'s default output "
        "(3,880 train images).",
    ]
    for name, label, command in PROXY_CHECKS:
        lines += ["", f"### {label}", ""]
        data = checks.get(name)
        if data is None:
            lines.append(
                f"_Not measured yet: run `{command}`, then copy its `proxy_check.json` to "
                f"`benchmarks/results/{name}.json`._"
            )
            continue
        config = data.get("config", {})
        archs = data.get("archs", [])
        long = data.get("long", {})
        references = config.get("references") or []
        steps = config.get("steps_per_epoch")
        rate = config.get("learning_rate")
        rate_text = fmt(rate, 4) if rate else "of the proxy recipe"
        lines += [
            f"{len(archs)} architectures ({config.get('num_archs')} sampled from "
            f"`{config.get('space')}`, references {', '.join(references) or 'none'}) on "
            f"`{config.get('dataset')}` at {config.get('image_size')}², batch "
            f"{config.get('batch_size')}, learning rate {rate_text}"
            f"{f', {steps} steps per epoch' if steps else ''}; {config.get('seeds')} seeds per "
            f"candidate budget, long budget {long.get('epochs', config.get('long_epochs'))} "
            f"epochs ({config.get('long_seeds', 1)} seed, {fmt(long.get('seconds_per_trial'), 1)} "
            "s per trial).",
            "",
        ]
        rows = [
            [
                _budget_label(row.get("epochs"), row.get("steps_per_epoch")),
                fmt(row.get("seconds_per_trial"), 1),
                fmt(row.get("mean_accuracy"), 3),
                fmt(row.get("seed_std"), 4),
                fmt(row.get("arch_std"), 4),
                fmt(row.get("spearman"), 3),
                fmt(row.get("kendall"), 3),
            ]
            for row in data.get("budgets", [])
        ]
        lines += table(
            [
                "budget",
                "seconds / trial",
                "mean accuracy",
                "seed std",
                "std across archs",
                "Spearman",
                "Kendall",
            ],
            rows,
        )
        recommendation = data.get("recommendation", {})
        lines += ["", f"Recommendation: {recommendation.get('message', '–')}"]
    return lines + section_verdicts({name: load_result(results_dir, name) for name, *_ in VERDICTS})


VERDICTS = (
    # (results file: a search's summary.json, data set, the search command)
    (
        "search_verdict_digits",
        "digits",
        "the README's main job (mnasnet-search --dataset=digits --max_trials=16 "
        "--epochs_per_trial=3)",
    ),
    (
        "search_verdict_digits_m",
        "digits-m",
        "mnasnet-search --dataset=folder:data/digits_m --max_trials=8 --epochs_per_trial=3 "
        "--references=mobilenet-v2,mobilenet-v3-small,mnasnet-a1",
    ),
)


def section_verdicts(summaries: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """Each search's verdict on the reference models trained on the same proxy (its
    summary.json): who beats which reference, in numbers and words."""
    lines = []
    for name, label, command in VERDICTS:
        lines += ["", f"### The search's verdict on {label}", ""]
        data = summaries.get(name)
        if data is None:
            lines.append(
                f"_Not measured yet: run {command}, then copy its `summary.json` to "
                f"`benchmarks/results/{name}.json`._"
            )
            continue
        best = data.get("best") or {}
        lines += [
            f"{command}: {data.get('completed')} of {data.get('trials')} trials completed; best "
            f"trial {best.get('trial', '–')} (accuracy {fmt(best.get('accuracy'), 3)}, "
            f"{fmt(best.get('latency_ms'), 2)} ms). Latency at 224² on this host, accuracy on "
            "the proxy (32², 3 epochs).",
            "",
        ]
        rows = [
            [
                ref.get("name"),
                fmt(ref.get("accuracy"), 3),
                fmt(ref.get("latency_ms"), 2),
                ref.get("dominated_by") or "none yet",
            ]
            for ref in data.get("references", [])
        ]
        lines += table(["reference", "proxy accuracy", "latency ms", "beaten by trial"], rows)
        lines += [""] + [f"- {sentence}" for sentence in data.get("verdict", [])]
    return lines


def _budget_label(epochs: Any, steps: Any) -> str:
    label = f"{epochs} epoch{'' if epochs == 1 else 's'}"
    return f"{label} × {steps} steps" if steps else label


_LABEL_KEYS = ("name", "model", "algorithm")
"""Keys that label a record in a list of records (the first present one is used)."""


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _records(value: Any) -> list[tuple[str, Mapping[str, Any]]]:
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        labelled = []
        for index, item in enumerate(value):
            key = next((k for k in _LABEL_KEYS if k in item), None)
            labelled.append((str(item[key]) if key else str(index), item))
        return labelled
    if isinstance(value, dict) and value and all(isinstance(item, dict) for item in value.values()):
        return [(str(key), item) for key, item in value.items()]
    return []


def section_netadapt(data: Mapping[str, Any] | None) -> list[str]:
    """NetAdapt against the width multiplier at equal measured latency."""
    lines = ["## 8b. NetAdapt vs the width multiplier", ""]
    if data is None:
        return lines + [
            "Not measured yet: run `python benchmarks/netadapt_vs_multiplier.py` "
            "(writes netadapt_vs_multiplier.json)."
        ]
    settings = data.get("settings", {})
    lines += [
        "`benchmarks/netadapt_vs_multiplier.py`: a model trained "
        f"{settings.get('pretrain_epochs')} epochs on digits (32²) is adapted by `mnasnet-adapt` "
        "to 75% of its measured latency, then on to 50%; the width-multiplier model (grid of "
        "0.05) with the closest measured latency is trained from scratch with the same total "
        "training steps. Latencies: LiteRT float32 on this host, 1 thread; the two models of a "
        "row measured again side by side, interleaved. Test split: 360 images "
        "(1 image = 0.28 points).",
        "",
    ]
    rows = [
        [
            r["model"],
            pct(r["fraction"]),
            fmt(r["original_ms"], 4),
            f"{fmt(r['netadapt_ms'], 4)} ({fmt(r['netadapt_ms'] / r['original_ms'])}×)",
            pct(r["netadapt_test_accuracy"], 1),
            fmt(r["multiplier"]),
            f"{fmt(r['multiplier_ms'], 4)} ({fmt(r['multiplier_ms'] / r['original_ms'])}×)",
            pct(r["multiplier_test_accuracy"], 1),
            f"{100 * (r['netadapt_test_accuracy'] - r['multiplier_test_accuracy']):+.1f}",
            r["training_steps"],
        ]
        for r in data.get("rows", [])
    ]
    lines += table(
        [
            "model",
            "target",
            "original ms",
            "NetAdapt ms",
            "NetAdapt acc",
            "multiplier",
            "multiplier ms",
            "multiplier acc",
            "Δ acc (points)",
            "steps",
        ],
        rows,
    )
    for s in data.get("extra", []):
        lines += [
            "",
            f"`mnasnet-adapt --model={s['model']} --latency_fraction=…` with its defaults, "
            f"latency at {s.get('latency_image_size', '?')}²: "
            f"{fmt(s['original_latency_ms'], 4)} → {fmt(s['latency_ms'], 4)} ms "
            f"({fmt(s['latency_ratio'])}×, target {fmt(s['target_ms'], 4)} ms) in "
            f"{s['iterations']} iterations; test accuracy {pct(s['original_test_accuracy'], 1)} → "
            f"{pct(s['test_accuracy'], 1)}.",
        ]
    return lines


ONESHOT_RUNS = ("oneshot_vs_multitrial_digits", "oneshot_vs_multitrial_digits_m")
DIGITS_TEST_IMAGES = 360  # the digits run was written before the JSON recorded the count


def section_oneshot(runs: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """One-shot search (TuNAS, DNAS) against multi-trial search at equal wall clock, and the
    rank correlation of one-shot with stand-alone accuracy; one subsection per data set
    (`runs`: result name → its JSON, or None when not measured)."""
    lines = ["## 8c. One-shot search vs multi-trial search", ""]
    measured = {name: data for name, data in runs.items() if data is not None}
    if not measured:
        return lines + [
            "Not measured yet: run `python benchmarks/oneshot_vs_multitrial.py "
            "--latency_table=…` (writes oneshot_vs_multitrial_digits.json)."
        ]
    for i, (name, data) in enumerate(measured.items()):
        images = data.get("test_images") or (
            DIGITS_TEST_IMAGES if data["dataset"] == "digits" else None
        )
        lines += ([""] if i else []) + _oneshot_run(name, data, images)
    return lines


def _oneshot_run(name: str, data: Mapping[str, Any], test_images: int | None) -> list[str]:
    target = data["latency_target_ms"]
    settings = {a: s for a, s in data.get("oneshot_settings", {}).items() if s}
    how = (
        "at its defaults except "
        + "; ".join(
            f"{a}: "
            + ", ".join(f"{k} {fmt(v, 3) if isinstance(v, float) else v}" for k, v in s.items())
            for a, s in settings.items()
        )
        if settings
        else "at its defaults"
    )
    images = (
        f" Test split: {test_images} images (1 image = {100 / test_images:.2g} points)."
        if test_images
        else ""
    )
    if data.get("trial_budget"):
        budget = (
            f"which buys {data['trial_budget']} trials at {fmt(data.get('trial_seconds'), 0)} s "
            "each on an idle machine"
        )
    else:
        budget = "each search running until its trials' own seconds reach it"
    lines = [
        f"### {data['dataset']}",
        "",
        f"`benchmarks/oneshot_vs_multitrial.py` on {data['dataset']}, space "
        f"`{data['space']}`: `mnasnet-oneshot` {how} (both algorithms) against "
        "`mnasnet-search` (REINFORCE on independent categoricals, and random; 3-epoch proxy) "
        f"given the same wall clock ({fmt(data['budget_seconds'], 0)} s, the one-shot runs' "
        f"mean, {budget}), all with table latency "
        f"at 32² and T = {fmt(target, 3)} ms (the space's reference model in the table). "
        "Each method's best architecture at ≤ T is retrained "
        f"stand-alone for {data['retrain_epochs']} epochs and its latency measured end to end "
        f"(LiteRT, 1 thread, median of interleaved rounds).{images}",
        "",
    ]
    rows = []
    for row in data["found"]:
        if not row.get("arch"):
            rows.append([row["method"], "nothing at ≤ T", "", "", "", "", ""])
            continue
        method = row["method"]
        if method in data["oneshot"]:
            info = data["oneshot"][method]
            used = f"{fmt(info['wall_seconds'], 0)} s, {info['distinct_archs']} archs"
        elif method.startswith("multitrial-"):
            info = data["multitrial"][method.split("-", 1)[1]]
            used = f"{fmt(info['seconds'], 0)} s, {info['trials']} trials"
        else:
            used = "—"
        rows.append(
            [
                method,
                used,
                pct(row.get("search_accuracy"), 1) if row.get("search_accuracy") else "",
                fmt(row.get("table_latency_ms"), 3) if row.get("table_latency_ms") else "",
                fmt(row["measured_latency_ms"], 3),
                "yes" if row["within_target"] else "no",
                pct(row["test_accuracy"], 1),
            ]
        )
    lines += table(
        [
            "method",
            "budget used",
            "search accuracy",
            "table ms",
            "measured ms",
            "≤ T",
            "test accuracy",
        ],
        rows,
    )
    rank = data["rank"]
    lines += [
        "",
        f"**Can weight sharing be trusted here?** Over the {rank['archs']} architectures the "
        f"multi-trial searches trained stand-alone ({data['proxy_epochs']}-epoch proxy), their "
        f"one-shot accuracy with the {rank['supernet']} supernet's weights against their "
        "stand-alone accuracy: Spearman "
        f"{fmt(rank['spearman'])} (p = {rank['spearman_p']:.2g}), Kendall {fmt(rank['kendall'])} "
        f"(scatter: {name}.png).",
    ]
    return lines


def section_limits() -> list[str]:
    """What these machines cannot reproduce, and what is reproduced exactly."""
    return [
        "## 9. What this does not reproduce",
        "",
        "- **ImageNet accuracy.** MnasNet-A1's 75.2% top-1 comes from training 350 epochs on "
        "ImageNet on TPUs; the search sampled ~8K models, each trained 5 epochs on ImageNet "
        "(4.5 days on 64 TPUv2). The machines these results come from have no ImageNet and a "
        "couple of CPU cores: accuracies here are on the bundled digits data at 32², a proxy "
        "that checks the pipeline, not the paper's numbers. `mnasnet-train --dataset=imagenet2012` "
        "runs the reference recipe where the data and accelerators exist.",
        "- **Phone latency.** The papers time float models on a Pixel 1's big core; the figures "
        "above come from an x86 server CPU through LiteRT/XNNPACK. Compare ratios, not "
        "milliseconds, and expect the order to hold more often than the ratios. Measure on the "
        "device with "
        "`--backend=adb` (`tflite_bench.adb`).",
        "- **Search results.** Which architectures a search finds depends on the device, the data "
        "and thousands of samples; the search-efficiency section compares RL with "
        "random search at a small scale on this host only.",
        "- **Reproduced exactly:** the architectures (MobileNetV2/V3 trainable parameters equal "
        "keras.applications'; MnasNet follows the reference TPU code's block strings and "
        "conventions; MACs within 2% of the published figures, tested), the search space (432 "
        "choices per block, ≈2.8·10^18 for 7 blocks), the reward ACC·(LAT/T)^w and the "
        "controller's learning rule.",
    ]


def build_report(results_dir: str) -> str:
    """The whole REPRODUCTION.md text for the results in `results_dir`."""
    latency = load_result(results_dir, "zoo_latency")
    predictor = load_result(results_dir, "predictor_accuracy")
    throughput = load_result(results_dir, "train_throughput")
    efficiency = load_result(results_dir, "search_efficiency")
    int8 = load_result(results_dir, "int8_agreement")
    parts = [
        [
            "# Reproduction report",
            "",
            "Generated by `docs/make_reproduction.py` from `benchmarks/results/*.json` "
            "(do not edit by hand; re-run the benchmarks, then the script). Sections whose "
            "benchmark has not been run say so.",
        ],
        section_architectures(),
        section_latency(latency),
        section_cost(latency, predictor),
        section_predictor(predictor),
        section_space_tables(load_result(results_dir, "latency_space_tables")),
        generic_section(
            "## 5. Training throughput",
            throughput,
            "python benchmarks/train_throughput.py",
            "train_throughput.json",
        ),
        section_search_efficiency(
            efficiency,
            {name: load_result(results_dir, name) for name, _ in CONTROLLER_EFFICIENCY},
            {title: load_result(results_dir, name) for name, title in SEARCH_EFFICIENCY_RUNS},
        ),
        section_int8(int8),
        section_proxy_fidelity(
            {name: load_result(results_dir, name) for name, *_ in PROXY_CHECKS}, results_dir
        ),
        section_netadapt(load_result(results_dir, "netadapt_vs_multiplier")),
        section_oneshot({name: load_result(results_dir, name) for name in ONESHOT_RUNS}),
        section_limits(),
    ]
    return "\n\n".join("\n".join(part) for part in parts) + "\n"


def write_report(results_dir: str, output: str) -> str:
    """Writes the report to `output` (atomically); returns the path."""
    text = build_report(results_dir)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(f"{output}.tmp", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(f"{output}.tmp", output)
    return output


def run_main() -> None:
    """Entry point: `python docs/make_reproduction.py [--results_dir] [--output]`."""
    from absl import app, flags

    flags.DEFINE_string("results_dir", DEFAULT_RESULTS, "Where the benchmark JSON files are.")
    flags.DEFINE_string("output", DEFAULT_OUTPUT, "The markdown file to write.")

    def main(argv: Sequence[str]) -> None:
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {argv[1:]}")
        try:
            path = write_report(flags.FLAGS.results_dir, flags.FLAGS.output)
        except ValueError as error:
            raise app.UsageError(str(error)) from None
        print(f"wrote {path}")

    app.run(main)


if __name__ == "__main__":
    run_main()
