"""§8 of the reproduction report: proxy fidelity (`mnasnet-proxy-check` per data set) and the
searches' verdicts against the zoo.

Must not import TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import fmt, load_result, table

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
    (
        "proxy_check_fashion_mnist",
        "Fashion-MNIST",
        "apt-get install -y dataset-fashion-mnist && mnasnet-proxy-check "
        "--dataset=fashion_mnist --train_subset=3000 --num_archs=4 "
        "--references=mobilenet-v3-small --budgets=1,3 --long_epochs=8 "
        "--output_dir=runs/proxy_check_fashion_mnist",
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
            f"`{config.get('dataset')}`"
            + (f" ({config['train_subset']} training images)" if config.get("train_subset") else "")
            + f" at {config.get('image_size')}², batch "
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
    lines += section_verdicts({name: load_result(results_dir, name) for name, *_ in VERDICTS})
    return lines + section_retrain(load_result(results_dir, RETRAIN))


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
    (
        "search_verdict_fashion_mnist",
        "Fashion-MNIST",
        "python benchmarks/fashion_mnist_verdict.py (mnasnet-search --dataset=fashion_mnist "
        "--train_subset=3000 --max_trials=16 --epochs_per_trial=3)",
    ),
)
RETRAIN = "fashion_mnist_verdict"
"""benchmarks/fashion_mnist_verdict.py's report: the found model and the references retrained."""


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
                fmt(ref.get("reward"), 3),
                ref.get("dominated_by") or "none yet",
            ]
            for ref in data.get("references", [])
        ]
        rows.append(
            [
                f"(best found: trial {best.get('trial', '–')})",
                fmt(best.get("accuracy"), 3),
                fmt(best.get("latency_ms"), 2),
                fmt(best.get("reward"), 3),
                "",
            ]
        )
        header = ["reference", "proxy accuracy", "latency ms", "reward", "beaten by trial"]
        lines += table(header, rows)
        lines += [""] + [f"- {sentence}" for sentence in data.get("verdict", [])]
    return lines


def section_retrain(data: Mapping[str, Any] | None) -> list[str]:
    """Fashion-MNIST past the proxy: the best found architecture and each reference retrained
    with the same recipe and epochs, test top-1 beside the search's latency."""
    lines = ["", "### Fashion-MNIST: the found model and the references retrained", ""]
    if data is None:
        return lines + [
            "_Not measured yet: run `python benchmarks/fashion_mnist_verdict.py` (it writes "
            f"`benchmarks/results/{RETRAIN}.json`)._"
        ]
    config = data.get("config", {})
    lines += [
        f"Each model trained {config.get('retrain_epochs')} epochs "
        f"({config.get('retrain_warmup_epochs', 5)} of warm-up) on "
        f"{config.get('retrain_subset') or 54000} of the 54,000 training images at "
        f"{config.get('image_size')}² with the same recipe and seed (`mnasnet-train`); test "
        "top-1 on the 10,000 test images; latency as the search measured it (224², this host).",
        "",
    ]
    rows = [
        [
            row.get("model"),
            fmt(row.get("latency_ms"), 2),
            fmt(row.get("proxy_accuracy"), 3),
            fmt(row.get("test_top1"), 4),
            fmt(row.get("train_seconds"), 0),
        ]
        for row in data.get("rows", [])
    ]
    return lines + table(
        ["model", "latency ms", "proxy accuracy", "test top-1", "train seconds"], rows
    )


def _budget_label(epochs: Any, steps: Any) -> str:
    label = f"{epochs} epoch{'' if epochs == 1 else 's'}"
    return f"{label} × {steps} steps" if steps else label
