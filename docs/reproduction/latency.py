"""§2-4 of the reproduction report: measured zoo latency against the papers' Pixel 1 ratios, the
cost of a measurement, the latency predictor's accuracy and the whole-space latency tables.

Must not import TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import fmt, host_line, not_measured, pct, table
from .models import NN_METER, PIXEL1_RATIOS


def _latency_rows(data: Mapping[str, Any], quantization: str) -> list[dict[str, Any]]:
    return [row for row in data.get("rows", []) if row.get("quantization") == quantization]


def section_latency(data: Mapping[str, Any] | None) -> list[str]:
    """Latency of the zoo on the measured host, ratios to MobileNetV2 beside the papers'."""
    lines = ["## 2. Latency on the measured host", ""]
    if data is None:
        return lines + [not_measured("zoo_latency")]
    lines += [
        f"Host: {host_line(data.get('host'))}; LiteRT with XNNPACK, 1 thread, batch 1, "
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
        lines.append(not_measured("zoo_latency"))
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
        return lines + [not_measured("predictor_accuracy")]
    lines += [
        f"Host: {host_line(data.get('backend'))}, {data.get('image_size')}², 1 thread. "
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
        return lines + [not_measured("latency_space_tables")]
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
