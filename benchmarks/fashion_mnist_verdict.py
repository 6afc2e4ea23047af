"""The verdict on Fashion-MNIST, past the proxy (issue 33, item 5).

1. A README-sized `mnasnet-search` on Fashion-MNIST (`--train_subset` images of the 60,000, the
   references trained on the same proxy): pareto.png, summary.json, which reference is beaten,
   and the search judged by its own reward.
2. The best found architecture and each reference retrained with the same recipe and epochs
   (`mnasnet-train --epochs=--retrain_epochs`, `--retrain_subset` training images, the proxy's
   resolution), then scored on the 10,000 test images, beside the latency the search measured
   (same backend, the deployment resolution).

Every stage runs a binary in its own folder under --workdir and resumes where it stopped: re-run
the same command (the search resumes, a finished retrain is read back). Needs the data
(`apt-get install -y dataset-fashion-mnist`). TF-free: the work happens in the binaries.

Writes benchmarks/results/fashion_mnist_verdict.{json,md} and copies the search's pareto.png
(fashion_mnist_verdict.png) and summary.json (search_verdict_fashion_mnist.json).
Usage: python benchmarks/fashion_mnist_verdict.py [--max_trials=16] [--retrain_epochs=5]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from absl import app, flags

FLAGS = flags.FLAGS


def define_flags(values: flags.FlagValues = FLAGS) -> None:
    """The script's flags in `values` (defined when it runs: importing it defines none)."""
    flags.DEFINE_integer(
        "max_trials", 16, "Search trials (the README's main job has 16).", flag_values=values
    )
    flags.DEFINE_integer("epochs_per_trial", 3, "Proxy epochs per trial.", flag_values=values)
    flags.DEFINE_integer(
        "train_subset", 3000, "Training images of the search's proxy.", flag_values=values
    )
    flags.DEFINE_integer(
        "retrain_epochs", 5, "Epochs of the retrain, the same for every model.", flag_values=values
    )
    flags.DEFINE_integer(
        "retrain_subset", 6000, "Training images of the retrain (0: all 54k).", flag_values=values
    )
    flags.DEFINE_float(
        "retrain_warmup_epochs",
        1.0,
        "Warm-up of the retrain (the recipe's 5 would fill a short one).",
        flag_values=values,
    )
    flags.DEFINE_integer(
        "image_size", 32, "Resolution of the proxy and of the retrain.", flag_values=values
    )
    flags.DEFINE_integer("seed", 0, "Seed of the search and of every retrain.", flag_values=values)
    flags.DEFINE_string(
        "workdir",
        "/tmp/fashion_verdict",
        "Where the runs are kept (resumable).",
        flag_values=values,
    )
    flags.DEFINE_string(
        "output_dir",
        os.path.join(os.path.dirname(__file__), "results"),
        "Where to.",
        flag_values=values,
    )


STEM = "fashion_mnist_verdict"


def _run(command: list[str]) -> None:
    print("+", " ".join(command), flush=True)
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{command[2]} failed with status {done.returncode}: re-run to resume")


def _binary(module: str) -> list[str]:
    return [sys.executable, "-m", f"search.cli.{module}"]


def search_command(workdir: str) -> list[str]:
    return [
        *_binary("mnasnet_search"),
        "--dataset=fashion_mnist",
        f"--train_subset={FLAGS.train_subset}",
        f"--max_trials={FLAGS.max_trials}",
        f"--epochs_per_trial={FLAGS.epochs_per_trial}",
        f"--proxy_image_size={FLAGS.image_size}",
        f"--seed={FLAGS.seed}",
        f"--directory={workdir}",
        "--project_name=search",
    ]


def train_command(model: str, model_dir: str) -> list[str]:
    command = [*_binary("mnasnet_train"), f"--model={model}", "--dataset=fashion_mnist"]
    if FLAGS.retrain_subset:
        command.append(f"--train_subset={FLAGS.retrain_subset}")
    return command + [
        f"--epochs={FLAGS.retrain_epochs}",
        f"--warmup_epochs={FLAGS.retrain_warmup_epochs}",
        f"--image_size={FLAGS.image_size}",
        f"--seed={FLAGS.seed}",
        "--export_eval_examples=0",
        "--verbose=2",
        f"--model_dir={model_dir}",
    ]


def _retrained(model: str, model_dir: str) -> dict:
    results = os.path.join(model_dir, "results.json")
    if not os.path.exists(results):
        _run(train_command(model, model_dir))
    with open(results, encoding="utf-8") as handle:
        return json.load(handle)


def table(summary: dict, retrained: dict[str, dict]) -> list[dict]:
    """One row per model: its proxy accuracy, the search's latency, the retrain's test top-1."""
    best = summary["best"]
    rows = [
        {
            "model": f"found (trial {best['trial']})",
            "arch": best["arch"],
            "proxy_accuracy": best["accuracy"],
            "latency_ms": best["latency_ms"],
            "reward": best["reward"],
        }
    ]
    for ref in summary["references"]:
        rows.append(
            {
                "model": ref["name"],
                "arch": ref["arch"],
                "proxy_accuracy": ref["accuracy"],
                "latency_ms": ref["latency_ms"],
                "reward": ref.get("reward"),
            }
        )
    for row, result in zip(rows, retrained.values(), strict=True):
        row["test_top1"] = result["test"]["top1"] if result.get("test") else None
        row["validation_top1"] = result["validation"]["top1"]
        row["train_seconds"] = result["train_seconds"]
    return rows


def markdown(rows: list[dict], summary: dict, config: dict) -> str:
    lines = [
        "# Fashion-MNIST: the search's verdict, then a retrain of each model",
        "",
        f"Search: {config['max_trials']} trials × {config['epochs_per_trial']} proxy epochs on "
        f"{config['train_subset']} of the 54,000 training images at {config['image_size']}², "
        f"target T = {summary['latency_target_ms']:.3g} ms. Retrain: {config['retrain_epochs']} "
        f"epochs ({config.get('retrain_warmup_epochs')} of warm-up) on "
        f"{config['retrain_subset'] or 54000} images, the same recipe for each; test "
        "top-1 on the 10,000 test images. Latency: the search's measurement (same backend).",
        "",
        "| model | latency ms | proxy acc | reward | retrain test top-1 |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        test = "–" if row["test_top1"] is None else f"{row['test_top1']:.4f}"
        reward = "–" if row["reward"] is None else f"{row['reward']:.3f}"
        lines.append(
            f"| {row['model']} | {row['latency_ms']:.2f} | {row['proxy_accuracy']:.3f} | "
            f"{reward} | {test} |"
        )
    lines += ["", "Verdict (the search's summary):", ""]
    lines += [f"- {sentence}" for sentence in summary["verdict"]]
    found = rows[0]
    beaten = [
        r["model"]
        for r in rows[1:]
        if found["test_top1"] is not None
        and r["test_top1"] is not None
        and found["test_top1"] >= r["test_top1"]
        and found["latency_ms"] <= r["latency_ms"]
    ]
    lines += [
        "",
        "After the retrain the found model is at least as accurate and as fast as: "
        + (", ".join(beaten) if beaten else "none of the references"),
    ]
    return "\n".join(lines) + "\n"


def main(argv) -> None:
    del argv
    workdir = os.path.abspath(FLAGS.workdir)
    os.makedirs(workdir, exist_ok=True)
    _run(search_command(workdir))
    project = os.path.join(workdir, "search")
    with open(os.path.join(project, "summary.json"), encoding="utf-8") as handle:
        summary = json.load(handle)
    models = {"found": os.path.join(project, "best_arch.json")}
    models.update({ref["name"]: ref["name"] for ref in summary["references"]})
    retrained = {
        name: _retrained(model, os.path.join(workdir, "train", name))
        for name, model in models.items()
    }
    config = {
        name: FLAGS[name].value
        for name in (
            "max_trials",
            "epochs_per_trial",
            "train_subset",
            "retrain_epochs",
            "retrain_subset",
            "retrain_warmup_epochs",
            "image_size",
            "seed",
        )
    }
    rows = table(summary, retrained)
    report = {"config": config, "rows": rows, "summary": summary}
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    with open(os.path.join(FLAGS.output_dir, f"{STEM}.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    text = markdown(rows, summary, config)
    with open(os.path.join(FLAGS.output_dir, f"{STEM}.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    shutil.copy(os.path.join(project, "pareto.png"), os.path.join(FLAGS.output_dir, f"{STEM}.png"))
    shutil.copy(
        os.path.join(project, "summary.json"),
        os.path.join(FLAGS.output_dir, "search_verdict_fashion_mnist.json"),
    )
    print(text)


if __name__ == "__main__":
    define_flags()
    app.run(main)
