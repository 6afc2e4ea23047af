"""§7, §8b-c and §9 of the reproduction report: int8 against float, NetAdapt against the width
multiplier, one-shot against multi-trial search, and what this does not reproduce.

Must not import TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import fmt, not_measured, pct, table


def section_int8(data: Mapping[str, Any] | None) -> list[str]:
    """Full-integer int8 against float on held-out digits."""
    title = "## 7. int8 against float"
    if data is None:
        return [
            title,
            "",
            not_measured("int8_agreement"),
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


README_QUICK_START = (
    "On a 2-core machine the first command takes about 8–11 minutes from a clean clone "
    "(measured on 2026-12-08 at 66a2ea7 on an idle machine: 10 min 30 s, of which the search "
    "9.5 min — install, the four reference models trained on the proxy, 16 trials, the export "
    "and its check). Its verdict there: no reference is dominated. Every trial was slower than "
    "the target (8.9–19.5 ms against T = MobileNetV2's 6.24 ms; the references sit at "
    "1.60–7.91 ms); the best, trial 14, reached 0.953 held-out at 15.8 ms. By the search's own "
    "reward (w = −0.07) it scores 0.893 against MobileNetV3-Small's 0.887 (0.807 at 1.60 ms), "
    "a win within seed noise, and the found front's hypervolume (11.5 accuracy·ms up to "
    "21.4 ms) is below the references' own (16.9): the search still explores only above T "
    "(issue 34). The exported int8 model agrees with the float one on 99.3% of the held-out "
    "digits. An earlier run (landed main 40ca845) had trial 13 at 0.933 / 5.06 ms scoring 0.959 "
    "against MobileNetV3-Small's 1.022. 16 trials is a demonstration, not a search budget "
    "(see `--policy` below). Before issue 31 the second command took about 25–30 minutes "
    "(measured: 29 min 6 s from a clean clone, the main job running beside it for 10 minutes "
    "of that). With the suite on pytest-xdist (2 workers), true slow markers, a shared tiny "
    "project and in-process binaries (issue 31) its fast tier runs in 23 s (796 tests) and the "
    "whole `.ci/run` from a clean clone took 18 min 58 s (1,015 tests; one Ctrl-C test lost "
    "its race, since fixed) and, after trimming what tests did not check, 19 min 35 s with "
    "other tests run beside it for ~4 of those minutes (1,016 passed): about 18 min, "
    "still above the 15-minute goal. What is left is per-trial graph overhead (tracing, BN "
    "re-estimation), which every tiny search in the suite pays (issue 32)."
)
"""The README's two commands as measured (moved from the README; figures from those runs)."""
README_ONESHOT = (
    "Measured here (digits, MobileNetV3-Large space, this 2-core host): TuNAS took 12.7 min "
    "and DNAS 14.0 min at their defaults (100 epochs over the supernet, 100 distinct "
    "architectures evaluated each; the 32² table of the space took 98 s to measure, once). "
    "Against multi-trial search given the same wall clock (45 trials each), the architectures"
    " found at ≤ T, retrained alike, are within 3 of 360 test images of each other (DNAS "
    "99.2%, TuNAS 98.9%, random 98.6%, REINFORCE 98.3%; MobileNetV3-Large 97.2% and slower), "
    "and on digits one-shot accuracy does not rank architectures as stand-alone training does"
    " (Spearman 0.01 over 88): weight sharing is fast here, not yet trustworthy. On digits-m "
    "(harder; 1,080 test images; one-shot 32 epochs, 16–18 min) the one-shot finds win: DNAS "
    "96.7% at 0.175 ms (half of T), TuNAS 97.6% at 0.346 ms (2% over T measured, under it in "
    "the table), multi-trial REINFORCE 95.4% at 0.315 ms after 26 trials, random search found"
    " nothing under T in 26 trials, MobileNetV3-Large 92.8% at 0.386 ms; the ranking is weak "
    "but no longer flat (Spearman 0.21 over 50). The MnasNet space's supernet is supported "
    "and exact but does not train on digits in this budget (its regular-conv op and its "
    "no-skip and pooled-skip choices make most random paths deep plain networks): use "
    "`--space=mobilenetv3-large`, the default ([docs/REPRODUCTION.md](docs/REPRODUCTION.md) "
    "§8c)."
)
"""The README's one-shot how-to as measured (moved from the README; §8c has the tables)."""


def section_readme_commands() -> list[str]:
    """The README's commands, measured: how long they take here and what they found."""
    return [
        "## 10. The README's commands, measured",
        "",
        "### The two commands (main job, test suite)",
        "",
        README_QUICK_START,
        "",
        "### One-shot search",
        "",
        README_ONESHOT,
        "",
    ]
