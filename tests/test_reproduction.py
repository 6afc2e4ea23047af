"""Tests for docs/make_reproduction.py: the report's figures are the JSON's (fixture results in a
tmp dir), missing results read "not measured yet", and the real results dir renders."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mnasnet_tf import stats, zoo

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "make_reproduction.py"


@pytest.fixture(scope="module")
def repro():
    spec = importlib.util.spec_from_file_location("make_reproduction", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HOST = {
    "cpu_model": "Test CPU 9000",
    "cpu_count": 2,
    "runtime": "ai-edge-litert",
    "runtime_version": "2.3.0",
    "num_threads": 1,
}


def _row(model, quantization, median, **extra):
    return {
        "model": model,
        "quantization": quantization,
        "params_m": 3.504872,
        "macs_m": 300.8,
        "convert_fast_s": 2.345,
        "convert_slow_s": 11.5 if quantization == "float32" else None,
        "tflite_bytes": 14_000_000,
        "cpu_min_ms": median * 0.9,
        "cpu_median_ms": median,
        "wall_min_ms": median * 0.95,
        "wall_median_ms": median * 1.1,
        **extra,
    }


ZOO_LATENCY = {
    "image_size": 224,
    "rounds": 30,
    "runs_per_round": 3,
    "host": HOST,
    "rows": [
        _row("mobilenet-v2", "float32", 12.3456, ratio_to_mobilenet_v2=1.0123),
        _row("mobilenet-v2", "int8", 8.7654, ratio_to_mobilenet_v2=0.9876),
        _row("mnasnet-a1", "float32", 14.4444, ratio_to_mobilenet_v2=1.1717),
        _row("mobilenet-v2 ×1.4", "float32", 23.2323, ratio_to_mobilenet_v2=1.8844),
        _row("keras MobileNetV2", "float32", 12.1951, ratio_to_mobilenet_v2=1.0),
    ],
    "mnasnet_a1_check": {
        "fast_seconds": 3.21,
        "slow_seconds": 15.43,
        "same_ops": True,
        "max_abs_diff_fast_vs_slow": 1.5e-7,
        "max_abs_diff_fast_vs_keras": 2.5e-6,
    },
}
ACCURACY = {
    "n": 30,
    "within_10pct": 0.6333,
    "within_5pct": 0.4333,
    "mape_pct": 7.4567,
    "max_error_pct": 20.1,
    "spearman": 0.98234,
}
PREDICTOR = {
    "backend": HOST,
    "image_size": 224,
    "n_calibration": 20,
    "n_test": 30,
    "table_entries": 530,
    "table_seconds": 191.4,
    "end_to_end_seconds": 358.2,
    "predict_time": {"mean_ms": 0.1971, "max_ms": 9.2944},
    "by_statistic": {
        "thread_cpu min": {
            "calibration": {"leave_one_out": {**ACCURACY, "n": 20, "within_10pct": 0.9}},
            "test": {
                "calibrated": ACCURACY,
                "uncalibrated": {**ACCURACY, "within_10pct": 0.3, "mape_pct": 13.3333},
            },
        }
    },
}
SEARCH = {
    "config": {"command": "search_efficiency.py --trials=40", "trials": 40, "dataset": "digits"},
    "searches": [
        {
            "algorithm": "reinforce",
            "seed": 0,
            "trials": 40,
            "failed": 1,
            "best_reward": 0.81234,
            "best_accuracy_at_target": 0.9,
            "cached": 2,
            "final_hypervolume": 12.5,
        },
        {
            "algorithm": "random",
            "seed": 0,
            "trials": 40,
            "failed": 0,
            "best_reward": 0.75432,
            "best_accuracy_at_target": 0.85,
            "final_hypervolume": 10.25,
        },
    ],
    "summary": {
        "reinforce": {
            "best_reward": [0.81234, 0.01],
            "best_accuracy_at_target": [0.9, 0.01],
            "final_hypervolume": [12.5, 1.5],
        },
        "random": {
            "best_reward": [0.75432, 0.02],
            "best_accuracy_at_target": [0.85, 0.02],
            "final_hypervolume": [10.25, 2.0],
        },
    },
    "paired": {
        "reinforce-random": {
            "best_reward": [0.05802, 0.01],
            "best_reward_wins": 5,
            "best_reward_p": 0.0625,
            "final_hypervolume": [2.25, 0.5],
            "final_hypervolume_wins": 4,
            "final_hypervolume_p": 0.125,
            "identical_archs": 3,
            "compared_trials": 40,
        }
    },
}
CONTROLLER = {
    "config": {"seeds": 20, "samples": 300, "interaction": 0.3, "noise_over_signal": 0.305},
    "table": {
        "random": {"100": {"best_z": [2.5, 0.4], "entropy": 42.5}},
        "independent": {
            "100": {
                "best_z": [3.8, 0.5],
                "entropy": 13.7,
                "vs_random": {"mean_diff": 1.29, "wins": 20, "p": 1.9e-06},
            }
        },
    },
}
INT8 = {
    "model": "mnasnet-small",
    "epochs": 15,
    "image_size": 32,
    "splits": {
        "validation": {
            "n": 300,
            "keras_top1": 0.97,
            "float32_top1": 0.97,
            "int8_top1": 0.96,
            "int8_agreement_with_keras": 0.9867,
        },
    },
}
THROUGHPUT = {"rows": [{"model": "mnasnet-a1", "images_per_second": 123.456}]}


def _budget(epochs, seconds, spearman, kendall):
    return {
        "epochs": epochs,
        "steps_per_epoch": None,
        "num_archs": 12,
        "mean_accuracy": 0.6123,
        "seed_std": 0.01234,
        "arch_std": 0.04567,
        "spearman": spearman,
        "spearman_p": 0.001,
        "kendall": kendall,
        "kendall_p": 0.002,
        "seconds_per_trial": seconds,
        "nan_runs": 0,
    }


PROXY_CHECK = {
    "config": {
        "space": "mnasnet",
        "dataset": "digits",
        "num_archs": 8,
        "references": ["mobilenet-v2", "mnasnet-a1"],
        "budgets": [1, 3],
        "long_epochs": 15,
        "seeds": 2,
        "long_seeds": 1,
        "steps_per_epoch": None,
        "image_size": 32,
        "batch_size": 64,
        "learning_rate": None,
        "threshold": 0.8,
    },
    "archs": [{"name": f"a{i}"} for i in range(10)],
    "budgets": [_budget(1, 4.567, 0.512, 0.401), _budget(3, 12.345, None, None)],
    "long": {"epochs": 15, "seconds_per_trial": 61.23},
    "recommendation": {"epochs": None, "message": "No candidate budget reaches Spearman ≥ 0.80"},
}
PROXY_CHECK_DIGITS_M = {
    **PROXY_CHECK,
    "config": {**PROXY_CHECK["config"], "dataset": "folder:data/digits_m", "steps_per_epoch": 50},
    "budgets": [{**_budget(3, 20.0, 0.9123, 0.8), "steps_per_epoch": 50}],
    "recommendation": {"epochs": 3, "message": "Use 3 epochs × 50 steps per candidate"},
}


def _section(text: str, number: int) -> str:
    """The text of section `number` ('## <number>. ...' up to the next '## ')."""
    start = text.index(f"\n## {number}. ")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


VERDICT = {
    "trials": 4,
    "completed": 3,
    "failed": 1,
    "best": {"trial": "2", "accuracy": 0.9312, "latency_ms": 4.5678},
    "references": [
        {"name": "mobilenet-v2", "accuracy": 0.8123, "latency_ms": 6.789, "dominated_by": "2"},
        {"name": "mobilenet-v3-small", "accuracy": 0.95, "latency_ms": 1.5, "dominated_by": None},
    ],
    "verdict": ["trial 2 beats mobilenet-v2: +11.9 points at 33% less latency (…)"],
}


RETRAIN = {
    "config": {"retrain_epochs": 5, "retrain_subset": 12000, "image_size": 32},
    "rows": [
        {
            "model": "found (trial 3)",
            "latency_ms": 2.5,
            "proxy_accuracy": 0.8,
            "test_top1": 0.88,
            "train_seconds": 300.0,
        },
        {
            "model": "mobilenet-v3-small",
            "latency_ms": 1.6,
            "proxy_accuracy": 0.7,
            "test_top1": 0.86,
            "train_seconds": 200.0,
        },
    ],
}


@pytest.fixture
def results(tmp_path):
    for name, data in (
        ("zoo_latency", ZOO_LATENCY),
        ("predictor_accuracy", PREDICTOR),
        ("latency_space_tables", SPACE_TABLES),
        ("search_efficiency", SEARCH),
        ("controller_efficiency", CONTROLLER),
        ("train_throughput", THROUGHPUT),
        ("int8_agreement", INT8),
        ("netadapt_vs_multiplier", NETADAPT),
        ("oneshot_vs_multitrial_digits", ONESHOT),
        ("proxy_check_digits", PROXY_CHECK),
        ("proxy_check_digits_m", PROXY_CHECK_DIGITS_M),
        ("search_verdict_digits", VERDICT),
        ("search_verdict_digits_m", VERDICT),
        ("proxy_check_fashion_mnist", PROXY_CHECK),
        ("search_verdict_fashion_mnist", VERDICT),
        ("fashion_mnist_verdict", RETRAIN),
    ):
        (tmp_path / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")
    return tmp_path


def test_architecture_figures_come_from_stats(repro, tmp_path):
    text = repro.build_report(str(tmp_path))
    for name in zoo.list_models():
        size = 320 if name == "mnasnet-d1-320" else 224
        counted = stats.arch_stats(zoo.get_arch(name), image_size=size)
        assert f"| {name} | {size}² | {counted.params:,} |" in text
        assert f"| {counted.macs / 1e6:.1f} |" in text
    assert "| mnasnet-a1 | 224² | 3,887,038 | 3.9 | 3.9 M | 311.6 | 312 | 315.2 | 75.2 |" in text
    assert "| 3,504,872 | 3.4 | 3,504,872 |" in text  # MobileNetV2: ours = keras.applications


def test_latency_figures_match_the_json(repro, results):
    assert "Not measured yet" not in repro.build_report(str(results))
    text = _section(repro.build_report(str(results)), 2)
    assert "Test CPU 9000 (2 cores), ai-edge-litert 2.3.0" in text
    for row in ZOO_LATENCY["rows"]:
        if row["quantization"] == "float32":
            line = next(
                line for line in text.splitlines() if line.startswith(f"| {row['model']} |")
            )
            for key in ("cpu_median_ms", "cpu_min_ms", "wall_median_ms", "ratio_to_mobilenet_v2"):
                assert f"| {row[key]:.2f} |" in line, (key, line)
    a1 = next(line for line in text.splitlines() if line.startswith("| mnasnet-a1 | 3.50 |"))
    assert "1.04 = 78/75 (MnasNet); 1.11 = 71/64 (V3)" in a1
    v2_14 = next(
        line for line in text.splitlines() if line.startswith("| mobilenet-v2 ×1.4 | 3.50")
    )
    assert "1.91 = 143/75 (MnasNet)" in v2_14
    # int8 vs float32: 12.3456 / 8.7654 = 1.408...
    assert "| mobilenet-v2 | 12.35 | 8.77 | 1.41 |" in text


def test_cost_figures_match_the_json(repro, results):
    text = repro.build_report(str(results))
    assert "| mobilenet-v2 | 2.3 | 11.5 | 2.3 | 14.0 |" in text
    assert "fast path 3.21 s vs from_keras_model 15.43 s; same op list: yes" in text
    assert "1.50e-07" in text and "2.50e-06" in text
    total = 90 * sum(row["cpu_median_ms"] for row in ZOO_LATENCY["rows"]) / 1e3
    assert f"≈ {total:.1f} s of inference" in text
    assert "530 parts measured in isolation in 191 s" in text
    assert "0.197 ms on average (max 9.294 ms), against 358 s" in text
    assert "its 50 calibration and test architectures" in text


def test_predict_time_in_its_newer_form(repro, results):
    times = {
        "first_call_median_ms": 1.2345,
        "first_call_max_ms": 3.4567,
        "repeat_median_ms": 0.0123,
        "repeat_max_ms": 0.0456,
    }
    path = results / "predictor_accuracy.json"
    path.write_text(json.dumps({**PREDICTOR, "predict_time": times}), encoding="utf-8")
    text = repro.build_report(str(results))
    assert (
        "0.012 ms (median of repeated calls, max 0.046 ms; first call per architecture "
        "1.234 ms median, max 3.457 ms)" in text
    )


def test_predictor_figures_match_the_json(repro, results):
    text = repro.build_report(str(results))
    assert "| thread_cpu min | test, calibrated (n=30) | 63% | 43% | 7.5% | 0.982 |" in text
    assert "| thread_cpu min | test, raw sum (n=30) | 30% | 43% | 13.3% | 0.982 |" in text
    assert (
        "| thread_cpu min | calibration set, leave-one-out (n=20) | 90% | 43% | 7.5% | 0.982 |"
        in text
    )


def test_generic_sections_show_every_scalar(repro, results):
    text = repro.build_report(str(results))
    assert "| mnasnet-a1 | 123.456 |" in text


def test_search_efficiency_and_int8_figures_match_the_json(repro, results):
    text = _section(repro.build_report(str(results)), 6)
    assert "| independent | 3.80 ± 0.50 (+1.29, 20/20, p=1.9e-06) | 13.7 |" in text
    assert "| random | 2.50 ± 0.40 | 42.5 |" in text
    real = text[text.index("### On the real proxy") :]
    assert "| reinforce | 0 | 40 (1, 2) | 0.8123 | 0.900 | 12.500 |" in real
    assert (
        "| **reinforce** | mean ± std |  | **0.8123 ± 0.0100** | **0.900 ± 0.010** | "
        "**12.500 ± 1.500** |"
    ) in real
    assert "| best reward | 0.0580 ± 0.0100 | 5 | 0.062 |" in real
    assert "| final hypervolume | 2.250 ± 0.500 | 4 | 0.12 |" in real
    assert "No significant difference on best reward at this budget (p = 0.0625)" in real
    assert "3 of 40 trial pairs" in real
    text = _section(repro.build_report(str(results)), 7)
    assert "| validation | 300 | 0.9700 | 0.9700 | 0.9600 | 0.9867 |" in text


def test_proxy_fidelity_figures_match_the_json(repro, results):
    text = _section(repro.build_report(str(results)), 8)
    assert text.startswith("\n## 8. Proxy fidelity")
    digits = text[text.index("### digits\n") : text.index("### digits-m")]
    assert "10 architectures (8 sampled from `mnasnet`, references mobilenet-v2, mnasnet-a1)" in (
        digits
    )
    assert "learning rate of the proxy recipe; 2 seeds per candidate budget" in digits
    assert "long budget 15 epochs (1 seed, 61.2 s per trial)" in digits
    assert "| 1 epoch | 4.6 | 0.612 | 0.0123 | 0.0457 | 0.512 | 0.401 |" in digits
    assert "| 3 epochs | 12.3 | 0.612 | 0.0123 | 0.0457 | – | – |" in digits
    assert "Recommendation: No candidate budget reaches Spearman ≥ 0.80" in digits
    digits_m = text[text.index("### digits-m") :]
    assert "on `folder:data/digits_m` at 32², batch 64, learning rate of the proxy recipe, 50 " in (
        digits_m
    )
    assert "| 3 epochs × 50 steps | 20.0 | 0.612 | 0.0123 | 0.0457 | 0.912 | 0.800 |" in digits_m
    assert "Recommendation: Use 3 epochs × 50 steps per candidate" in digits_m


def test_search_verdict_figures_match_the_json(repro, results):
    text = _section(repro.build_report(str(results)), 8)
    verdict = text[text.index("### The search's verdict on digits\n") :]
    assert "3 of 4 trials completed; best trial 2 (accuracy 0.931, 4.57 ms)" in verdict
    assert "| mobilenet-v2 | 0.812 | 6.79 | – | 2 |" in verdict
    assert "| mobilenet-v3-small | 0.950 | 1.50 | – | none yet |" in verdict
    retrain = text[text.index("### Fashion-MNIST: the found model and the references retrained") :]
    assert (
        "Each model trained 5 epochs (5 of warm-up) on 12000 of the 54,000 training images"
        in retrain
    )
    assert "| mobilenet-v3-small | 1.60 | 0.700 | 0.8600 | 200 |" in retrain
    assert "- trial 2 beats mobilenet-v2: +11.9 points at 33% less latency (…)" in verdict


def test_missing_results_say_not_measured_yet(repro, tmp_path):
    text = repro.build_report(str(tmp_path))
    for file in (
        "zoo_latency.json",
        "predictor_accuracy.json",
        "train_throughput.json",
        "search_efficiency.json",
        "int8_agreement.json",
        "latency_space_tables.json",
    ):
        assert f"Not measured yet: run `python benchmarks/{file[:-5]}.py` to write `{file}`" in (
            text
        )
    assert "## 9. What this does not reproduce" in text
    proxy = _section(text, 8)
    for name in ("proxy_check_digits", "proxy_check_digits_m"):
        assert f"copy its `proxy_check.json` to `benchmarks/results/{name}.json`" in proxy
    assert "mnasnet-digits-m --output_dir=data/digits_m && mnasnet-proxy-check" in proxy


def test_a_corrupt_results_file_is_named(repro, tmp_path):
    (tmp_path / "zoo_latency.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="zoo_latency.json is not valid JSON"):
        repro.build_report(str(tmp_path))
    (tmp_path / "zoo_latency.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="must hold a JSON object; got list"):
        repro.build_report(str(tmp_path))


@pytest.mark.slow
def test_script_writes_the_report_from_the_real_results(tmp_path):
    output = tmp_path / "REPRODUCTION.md"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), f"--output={output}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    text = output.read_text(encoding="utf-8")
    assert text.startswith("# Reproduction report")
    assert "## 1. Architectures" in text and "## 7." in text


def test_further_search_efficiency_runs_get_their_own_subsections(repro, results):
    text = _section(repro.build_report(str(results)), 6)
    assert "### On an image folder" not in text  # not measured: no subsection
    folder = {**SEARCH, "config": {**SEARCH["config"], "dataset": "folder:data/digits_m"}}
    (results / "search_efficiency_digits_m.json").write_text(json.dumps(folder))
    text = _section(repro.build_report(str(results)), 6)
    subsection = text[text.index("### On an image folder: digits-m") :]
    assert "on folder:data/digits_m at" in subsection
    assert "| reinforce | 0 | 40 (1, 2) | 0.8123 | 0.900 | 12.500 |" in subsection


def test_a_clean_sweep_of_five_seeds_is_called_what_it_is(repro):
    paired = {**SEARCH["paired"]["reinforce-random"], "seeds": [0, 1, 2, 3, 4]}
    text = "\n".join(repro.section_search_efficiency({**SEARCH, "paired": {"rl-random": paired}}))
    assert "| best reward | 0.0580 ± 0.0100 | 5/5 | 0.062 |" in text
    assert "beat random search on best reward on every one of the 5 seeds" in text
    assert "more seeds are needed for p < 0.05" in text

    budgets = [
        {
            "trials": 10,
            "best_reward": [-0.01, 0.02],
            "best_reward_wins": 2,
            "best_reward_p": 0.81,
            "best_accuracy_at_target": [0.004, 0.03],
            "best_accuracy_at_target_wins": 3,
            "best_accuracy_at_target_p": 1.0,
        }
    ]
    paired = {**paired, "by_budget": budgets, "ahead_from": {"mean": 14, "every_seed": None}}
    text = "\n".join(repro.section_search_efficiency({**SEARCH, "paired": {"rl-random": paired}}))
    assert "| 10 | -0.0100 ± 0.0200 | 2/5 | 0.81 | 0.004 ± 0.030 | 3/5 | 1 |" in text
    assert "on the mean over seeds from trial 14 on, and on every seed not within" in text


SPACE_TABLES = {
    "image_size": 224,
    "device": "host Test CPU 9000 x86_64",
    "speed": {
        "space": "mnasnet",
        "parts": 300,
        "runs": {
            "before (one part at a time)": {"seconds": 146.8, "seconds_per_part": 0.4893},
            "after (parallel conversion)": {"seconds": 92.1, "seconds_per_part": 0.307},
        },
        "speed_up": 1.594,
        "min_ms_ratio_after_over_before": {"median": 0.9975, "p10": 0.866, "p90": 1.096},
    },
    "spaces": [
        {
            "space": "mnasnet",
            "entries": 2455,
            "coverage": ["mnasnet@224x224/c1000", "mnasnet@224x224/c10"],
            "builds": [{"seconds": 570.0}, {"seconds": 4.0}],
            "calibration": {"n": 30},
            "test": {"n": 100, "within_10pct": 0.97, "within_5pct": 0.81, "mape_pct": 3.14,
                     "spearman": 0.9951},
        }
    ],
}  # fmt: skip


def test_space_table_figures_match_the_json(repro, tmp_path):
    (tmp_path / "latency_space_tables.json").write_text(json.dumps(SPACE_TABLES))
    text = repro.build_report(str(tmp_path))
    section = text[text.index("## 4b. Whole-space latency tables") :]
    assert "Device: host Test CPU 9000 x86_64" in section
    assert "| before (one part at a time) | 146.8 | 0.489 |" in section
    assert "300 parts of mnasnet: 1.59× faster" in section
    assert (
        "| mnasnet | 2455 | mnasnet@224x224/c1000, mnasnet@224x224/c10 | 9.6 | 30 | 100 | 97% "
        "| 81% | 3.1% | 0.995 |"
    ) in section


NETADAPT = {
    "settings": {"pretrain_epochs": 10},
    "rows": [
        {"model": "mobilenet-v3-large", "fraction": 0.75, "original_ms": 0.2, "netadapt_ms": 0.148,
         "netadapt_test_accuracy": 0.95, "multiplier": 0.65, "multiplier_ms": 0.15,
         "multiplier_test_accuracy": 0.923, "training_steps": 400},
    ],
    "extra": [
        {"model": "mobilenet-v3-small", "original_latency_ms": 0.1, "latency_ms": 0.074,
         "latency_ratio": 0.74, "target_ms": 0.075, "iterations": 6, "latency_image_size": 32,
         "original_test_accuracy": 0.97, "test_accuracy": 0.96},
    ],
}  # fmt: skip


def test_netadapt_section_matches_the_json(repro, tmp_path):
    text = repro.build_report(str(tmp_path))
    assert "## 8b. NetAdapt vs the width multiplier" in text and "Not measured yet" in text
    (tmp_path / "netadapt_vs_multiplier.json").write_text(json.dumps(NETADAPT))
    section = repro.build_report(str(tmp_path)).split("## 8b.")[1].split("\n## ")[0]
    assert (
        "| mobilenet-v3-large | 75% | 0.2000 | 0.1480 (0.74×) | 95.0% | 0.65 | 0.1500 (0.75×) "
        "| 92.3% | +2.7 | 400 |"
    ) in section
    assert "latency at 32²: 0.1000 → 0.0740 ms (0.74×, target 0.0750 ms) in 6 iterations" in section


ONESHOT = {
    "dataset": "digits", "space": "mobilenetv3-large", "latency_target_ms": 0.2,
    "budget_seconds": 600.0, "retrain_epochs": 10, "proxy_epochs": 3,
    "oneshot": {"tunas": {"wall_seconds": 610.0, "distinct_archs": 101}},
    "multitrial": {"random": {"seconds": 605.0, "trials": 27}},
    "found": [
        {"method": "tunas", "arch": "a", "search_accuracy": 0.9, "table_latency_ms": 0.19,
         "measured_latency_ms": 0.195, "within_target": True, "test_accuracy": 0.95},
        {"method": "multitrial-random", "arch": "b", "search_accuracy": 0.93,
         "table_latency_ms": 0.2, "measured_latency_ms": 0.21, "within_target": False,
         "test_accuracy": 0.96},
        {"method": "multitrial-reinforce", "arch": None},
    ],
    "rank": {"supernet": "tunas", "archs": 20, "spearman": 0.5, "spearman_p": 0.02,
             "kendall": 0.4},
}  # fmt: skip


def test_oneshot_section_matches_the_json(repro, tmp_path):
    text = repro.build_report(str(tmp_path))
    assert "## 8c. One-shot search vs multi-trial search" in text and "Not measured yet" in text
    (tmp_path / "oneshot_vs_multitrial_digits.json").write_text(json.dumps(ONESHOT))
    section = repro.build_report(str(tmp_path)).split("## 8c.")[1].split("\n## ")[0]
    assert "| tunas | 610 s, 101 archs | 90.0% | 0.190 | 0.195 | yes | 95.0% |" in section
    random_row = "| multitrial-random | 605 s, 27 trials | 93.0% | 0.200 | 0.210 | no | 96.0% |"
    assert random_row in section
    assert "| multitrial-reinforce | nothing at ≤ T |" in section
    assert "Spearman 0.50 (p = 0.02), Kendall 0.40" in section


def test_oneshot_section_has_one_subsection_per_data_set(repro, tmp_path):
    (tmp_path / "oneshot_vs_multitrial_digits.json").write_text(json.dumps(ONESHOT))
    folder = {
        **ONESHOT,
        "dataset": "folder:data/digits_m",
        "test_images": 1080,
        "oneshot_settings": {"tunas": {"epochs": 25}, "dnas": {}},
    }
    (tmp_path / "oneshot_vs_multitrial_digits_m.json").write_text(json.dumps(folder))
    section = repro.build_report(str(tmp_path)).split("## 8c.")[1].split("\n## ")[0]
    assert "### digits" in section and "### folder:data/digits_m" in section
    assert "Test split: 360 images (1 image = 0.28 points)" in section
    assert "Test split: 1080 images (1 image = 0.093 points)" in section
    assert "at its defaults except tunas: epochs 25" in section
    assert "(scatter: oneshot_vs_multitrial_digits_m.png)" in section
