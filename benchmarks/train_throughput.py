"""Training throughput (images/s) of MnasNet-A1 and keras.applications MobileNetV2 at 32² and 224².

    python benchmarks/train_throughput.py [--steps=30] [--models=mnasnet-a1,mobilenetv2]

Steady state: each model is compiled with the reference recipe (RMSProp, L2 on kernels, label
smoothing; `recipe.compile_for_training`), traced by a warm-up `fit`, then timed over `--repeats`
`fit` calls of `--steps / --repeats` steps on synthetic 0–255 images (cached, so the input pipeline
costs nothing). Reports the median and the best window. XLA is off (as in `mnasnet-train`).
Writes benchmarks/results/train_throughput.{md,json}. Timings, never assertions.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from mnasnet_tf import recipe, zoo  # noqa: E402

flags.DEFINE_list("models", ["mnasnet-a1", "mobilenetv2"], "mnasnet-a1 (any zoo name), mobilenetv2")
flags.DEFINE_list("sizes", ["32", "224"], "Resolutions.")
flags.DEFINE_integer("steps", 30, "Timed steps per model and size (split into repeats).")
flags.DEFINE_integer("repeats", 3, "Timed windows.")
flags.DEFINE_integer("warmup_steps", 3, "Untimed steps after tracing.")
flags.DEFINE_integer("batch_32", 64, "Batch size at 32².")
flags.DEFINE_integer("batch_224", 32, "Batch size at 224².")
flags.DEFINE_string(
    "output_dir", os.path.join(os.path.dirname(__file__), "results"), "Where to write."
)
FLAGS = flags.FLAGS

CLASSES = 1000


def _model(name: str, size: int) -> keras.Model:
    if name == "mobilenetv2":
        inputs = keras.Input((size, size, 3))
        x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)  # same 0–255 input contract
        net = keras.applications.MobileNetV2(
            input_shape=(size, size, 3), weights=None, classes=CLASSES
        )
        return keras.Model(inputs, net(x), name="mobilenetv2")
    from mnasnet_tf import builder

    return builder.build_model(zoo.resolve_arch(name), input_shape=(size, size, 3), classes=CLASSES)


def _measure(name: str, size: int, batch: int) -> dict:
    keras.utils.clear_session()
    model = _model(name, size)
    per_window = max(1, FLAGS.steps // FLAGS.repeats)
    recipe.compile_for_training(
        model, recipe.Recipe(), batch_size=batch, steps_per_epoch=per_window, epochs=100
    )
    images = tf.random.uniform((batch, size, size, 3), 0, 255, seed=0)
    labels = tf.one_hot(tf.random.uniform((batch,), 0, CLASSES, tf.int32, seed=1), CLASSES)
    dataset = tf.data.Dataset.from_tensors((images, labels)).cache().repeat()
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=FLAGS.warmup_steps + 1, epochs=1, shuffle=False, verbose=0)
    first = time.perf_counter() - start
    rates = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        model.fit(dataset, steps_per_epoch=per_window, epochs=1, shuffle=False, verbose=0)
        rates.append(per_window * batch / (time.perf_counter() - start))
    return {
        "model": name,
        "image_size": size,
        "batch_size": batch,
        "params": int(model.count_params()),
        "images_per_s_median": statistics.median(rates),
        "images_per_s_best": max(rates),
        "windows": rates,
        "steps_per_window": per_window,
        "trace_and_warmup_s": first,
    }


def _markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        "# Training throughput",
        "",
        f"{meta['date']} · {meta['machine']} · {meta['cpus']} CPU cores visible · TensorFlow "
        f"{meta['tensorflow']} · Keras {meta['keras']} · XLA off · reference recipe (RMSProp, L2,"
        " label smoothing) · 1000 classes · synthetic cached input.",
        "",
        "| model | size | batch | params | images/s median | images/s best | trace + warm-up s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['image_size']}² | {r['batch_size']} | {r['params'] / 1e6:.2f}M"
            f" | {r['images_per_s_median']:.0f} | {r['images_per_s_best']:.0f}"
            f" | {r['trace_and_warmup_s']:.1f} |"
        )
    lines += [
        "",
        f"Steady state: {meta['repeats']} windows of {rows[0]['steps_per_window']} steps after "
        f"tracing and {meta['warmup_steps']} warm-up steps. The machine is shared and noisy: "
        "compare rows from one run only.",
        "",
        "Reproduce: `python benchmarks/train_throughput.py`",
    ]
    return "\n".join(lines) + "\n"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str]) -> None:
    del argv
    rows = []
    for size in (int(s) for s in FLAGS.sizes):
        batch = FLAGS.batch_32 if size <= 64 else FLAGS.batch_224
        for name in FLAGS.models:
            row = _measure(name, size, batch)
            print(
                f"{name:>12} {size:>3}²  batch {batch:>3}: "
                f"{row['images_per_s_median']:7.1f} images/s (best {row['images_per_s_best']:.1f})",
                flush=True,
            )
            rows.append(row)
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": _cpu_name(),
        "cpus": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "repeats": FLAGS.repeats,
        "warmup_steps": FLAGS.warmup_steps,
    }
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    with open(os.path.join(FLAGS.output_dir, "train_throughput.json"), "w") as handle:
        json.dump({"meta": meta, "results": rows}, handle, indent=2)
    with open(os.path.join(FLAGS.output_dir, "train_throughput.md"), "w") as handle:
        handle.write(_markdown(rows, meta))
    print(f"wrote {FLAGS.output_dir}/train_throughput.{{md,json}}")


if __name__ == "__main__":
    app.run(main)
