"""NetAdapt against the width multiplier at equal measured latency (issue 16).

For each model (MobileNetV3-Large, and the multi-trial search's best digits architecture from
benchmarks/results/search_verdict_digits.json): train it on digits (`--pretrain_epochs`), adapt
it with NetAdapt to 75% of its measured latency, then on from there to 50%. For each adapted
model, pick the width multiplier (a grid of 0.05) whose model has the closest measured latency,
train that model from scratch with the same total number of training steps as the NetAdapt path
(pretraining + every short-term fine-tune + long fine-tunes), and compare test accuracy.

All latencies are end to end on this host (LiteRT, 1 thread, median of `--runs`, thread CPU
time). Resumable: every stage keeps its folder under --workdir and is skipped when done.

Writes benchmarks/results/netadapt_vs_multiplier.{json,md}.
Usage: python benchmarks/netadapt_vs_multiplier.py [--models=mobilenet-v3-large,search-best]
"""

from __future__ import annotations

import json
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["mobilenet-v3-large", "search-best"], "Zoo names or 'search-best'.")
flags.DEFINE_list("fractions", ["0.75", "0.5"], "Latency fractions, adapted in this order.")
flags.DEFINE_integer("pretrain_epochs", 10, "Training before adapting.")
flags.DEFINE_integer("short_term_steps", 10, "Fine-tune steps per proposal.")
flags.DEFINE_integer("long_term_epochs", 3, "Final fine-tune epochs per target.")
flags.DEFINE_float("initial_step", 0.08, "First cut as a fraction of the latency.")
flags.DEFINE_float("step_decay", 0.96, "Per-iteration decay of the cut.")
flags.DEFINE_integer("runs", 100, "Timed runs per latency measurement.")
flags.DEFINE_list("extra_summaries", [], "summary.json files of other NetAdapt runs to list.")
flags.DEFINE_string("workdir", "/tmp/netadapt_bench", "Where the runs are kept (resumable).")
flags.DEFINE_string("output_dir", os.path.join(os.path.dirname(__file__), "results"), "Where to.")

RESULTS = "netadapt_vs_multiplier"
HERE = os.path.dirname(os.path.abspath(__file__))
WIDTHS = [round(0.25 + 0.05 * i, 2) for i in range(16)]  # 0.25 … 1.0


def _arch(name: str):
    from mnasnet_tf import arch_string, zoo

    if name != "search-best":
        return zoo.get_arch(name)
    with open(os.path.join(HERE, "results", "search_verdict_digits.json")) as handle:
        best = json.load(handle)["best"]
    return arch_string.decode(best["arch"]).replace(name="search-best")


def _splits(image_size: int = 32):
    from mnasnet_tf import data

    common = {"image_size": image_size, "batch_size": 64}
    train, info = data.load("digits", split="train", **common)
    validation, _ = data.load("digits", split="validation", **common)
    test, _ = data.load("digits", split="test", **common)
    return train, validation, test, info


def _pretrained(arch, folder: str) -> tuple[str, int]:
    """Trains `arch` once and saves it as folder/model.keras with arch.json beside it."""
    from mnasnet_tf import arch_string, builder, proxy_train

    path = os.path.join(folder, "model.keras")
    train, validation, _, info = _splits()
    steps = FLAGS.pretrain_epochs * info.num_batches
    if os.path.exists(path):
        return path, steps
    os.makedirs(folder, exist_ok=True)
    model = builder.build_model(arch, input_shape=(32, 32, 3), classes=info.num_classes)
    proxy_train.train_proxy(model, train, validation, epochs=FLAGS.pretrain_epochs)
    arch_string.save_json(arch, os.path.join(folder, "arch.json"))
    model.save(path)
    return path, steps


def _train_from_scratch(arch, steps: int, folder: str) -> dict:
    """Trains `arch` from scratch for `steps` steps (cached in folder/result.json)."""
    from mnasnet_tf import builder, proxy_train
    from mnasnet_tf import eval as eval_lib

    path = os.path.join(folder, "result.json")
    if os.path.exists(path):
        with open(path) as handle:
            return json.load(handle)
    train, validation, test, info = _splits()
    epochs = max(1, math.ceil(steps / info.num_batches))
    model = builder.build_model(arch, input_shape=(32, 32, 3), classes=info.num_classes)
    result = proxy_train.train_proxy(model, train, validation, epochs=epochs)
    row = {
        "steps": epochs * info.num_batches,
        "validation_accuracy": result.val_accuracy,
        "test_accuracy": eval_lib.evaluate_keras(model, test).top1,
    }
    os.makedirs(folder, exist_ok=True)
    with open(path, "w") as handle:
        json.dump(row, handle)
    return row


def _multiplier_latencies(arch, meter) -> list[tuple[float, float, object]]:
    from mnasnet_tf import specs

    rows = []
    for width in WIDTHS:
        scaled = specs.scale_arch(arch, width=width).replace(name=f"{arch.name}-w{width}")
        rows.append((width, meter.figure(meter.measure(scaled, name=scaled.name)), scaled))
    return rows


def _case(name: str) -> list[dict]:
    from search.adapt import netadapt
    from search.adapt.sizing import end_to_end, measure_pair

    arch = _arch(name)
    folder = os.path.join(FLAGS.workdir, name)
    model_path, steps = _pretrained(arch, os.path.join(folder, "pretrained"))
    meter = end_to_end("local", output_dir=folder, image_size=32, classes=10, runs=FLAGS.runs)
    grid = _multiplier_latencies(arch, meter)
    rows = []
    original_ms = None
    for fraction in [float(f) for f in FLAGS.fractions]:
        output_dir = os.path.join(folder, f"adapt_{fraction:g}")
        config = netadapt.AdaptConfig(
            model=model_path,
            output_dir=output_dir,
            latency_target_ms=None if original_ms is None else fraction * original_ms,
            latency_fraction=fraction if original_ms is None else None,
            pretrain_epochs=0,
            short_term_steps=FLAGS.short_term_steps,
            long_term_epochs=FLAGS.long_term_epochs,
            initial_step=FLAGS.initial_step,
            step_decay=FLAGS.step_decay,
            runs=FLAGS.runs,
            progress=False,
        )
        result = netadapt.adapt(config)
        original_ms = original_ms or result.original_latency_ms
        steps += result.summary["training_steps"]
        width, _, scaled = min(grid, key=lambda row: abs(row[1] - result.latency_ms))
        adapted_ms, width_ms = measure_pair(
            result.arch, scaled, backend="local", image_size=32, classes=10, runs=FLAGS.runs
        )
        baseline = _train_from_scratch(
            scaled, steps, os.path.join(folder, f"multiplier_{fraction:g}_w{width:g}")
        )
        rows.append(
            {
                "model": name,
                "fraction": fraction,
                "original_ms": original_ms,
                "target_ms": fraction * original_ms,
                "netadapt_ms": adapted_ms,
                "netadapt_check_ms": result.latency_ms,
                "netadapt_test_accuracy": result.accuracy,
                "netadapt_iterations": result.iterations,
                "netadapt_arch": result.summary["adapted_arch"],
                "stopped": result.stopped,
                "training_steps": steps,
                "multiplier": width,
                "multiplier_ms": width_ms,
                "multiplier_test_accuracy": baseline["test_accuracy"],
                "multiplier_steps": baseline["steps"],
                "start_test_accuracy": result.original_accuracy,
            }
        )
        model_path = os.path.join(output_dir, "model.keras")
    meter.close()
    return rows


def _markdown(rows: list[dict], extra: list[dict], seconds: float) -> str:
    lines = [
        "# NetAdapt vs width multiplier at equal measured latency (digits, 32², this host)",
        "",
        f"Pretraining {FLAGS.pretrain_epochs} epochs; NetAdapt: {FLAGS.short_term_steps} "
        f"fine-tune steps per proposal, first cut {FLAGS.initial_step:.0%} of the latency, "
        f"decay {FLAGS.step_decay}, {FLAGS.long_term_epochs} long fine-tune epochs per target; "
        "the 50% model continues from the 75% one. The multiplier model (grid of 0.05) with the "
        "closest measured latency is trained from scratch for the same total number of steps. "
        "Latency: LiteRT float32, 1 thread, median of "
        f"{FLAGS.runs} runs (thread CPU time); the NetAdapt and multiplier models of a row "
        "measured again side by side, interleaved, median of 3 rounds; 'original ms' from "
        "NetAdapt's own interleaved check. Test split: 360 images, so 1 image = 0.28 points.",
        "",
        "| model | target | original ms | NetAdapt ms | NetAdapt test acc | multiplier | "
        "multiplier ms | multiplier test acc | Δ acc (points) | steps |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['fraction']:.0%} | {r['original_ms']:.4f} | "
            f"{r['netadapt_ms']:.4f} ({r['netadapt_ms'] / r['original_ms']:.2f}×) | "
            f"{100 * r['netadapt_test_accuracy']:.1f}% | {r['multiplier']:.2f} | "
            f"{r['multiplier_ms']:.4f} ({r['multiplier_ms'] / r['original_ms']:.2f}×) | "
            f"{100 * r['multiplier_test_accuracy']:.1f}% | "
            f"{100 * (r['netadapt_test_accuracy'] - r['multiplier_test_accuracy']):+.1f} | "
            f"{r['training_steps']} |"
        )
    if extra:
        lines += ["", "Other NetAdapt runs (`mnasnet-adapt` defaults):", ""]
        for s in extra:
            size = s.get("latency_image_size", "?")
            lines.append(
                f"- {s['model']}, latency at {size}²: {s['original_latency_ms']:.4f} → "
                f"{s['latency_ms']:.4f} ms "
                f"({s['latency_ratio']:.2f}×, target {s['target_ms']:.4f}) in {s['iterations']} "
                f"iterations; test accuracy {100 * s['original_test_accuracy']:.1f}% → "
                f"{100 * s['test_accuracy']:.1f}%; int8 {s['int8_latency_ms']:.4f} ms."
            )
    lines += ["", f"({seconds / 60:.0f} min)"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    del argv
    start = time.time()
    rows = []
    for name in FLAGS.models:
        rows += _case(name)
    extra = []
    for path in FLAGS.extra_summaries:
        with open(path) as handle:
            extra.append(json.load(handle))
    results = {
        "settings": {
            k: FLAGS[k].value
            for k in (
                "pretrain_epochs",
                "short_term_steps",
                "long_term_epochs",
                "initial_step",
                "step_decay",
                "runs",
            )
        },
        "rows": rows,
        "extra": extra,
        "seconds": time.time() - start,
    }
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    with open(os.path.join(FLAGS.output_dir, f"{RESULTS}.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    text = _markdown(rows, extra, time.time() - start)
    with open(os.path.join(FLAGS.output_dir, f"{RESULTS}.md"), "w") as handle:
        handle.write(text)
    print(text)


if __name__ == "__main__":
    app.run(main)
