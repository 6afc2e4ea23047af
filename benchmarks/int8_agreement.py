"""Does full-integer int8 keep the float model's predictions? Trains a zoo model briefly on the
bundled digits, exports float32 and int8 .tflite (representative data from the training set) and
measures, on the held-out validation and test images: top-1 of Keras / float32 / int8, the share
of images where int8 predicts the float model's class, and the largest output difference.

Writes benchmarks/results/int8_agreement.{json,md}.
Usage: python benchmarks/int8_agreement.py [--model=mnasnet-small] [--epochs=15]
"""

from __future__ import annotations

import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "mnasnet-small", "Zoo name or arch string.")
flags.DEFINE_integer("epochs", 15, "Training epochs (brief: about a minute on 2 cores).")
flags.DEFINE_integer("image_size", 32, "Resolution.")
flags.DEFINE_float("learning_rate", 0.004, "Peak learning rate per 256 images.")
flags.DEFINE_string("output_dir", os.path.join(os.path.dirname(__file__), "results"), "Where to.")

RESULTS = "int8_agreement"


def main(argv: list[str]) -> None:
    del argv
    import numpy as np

    from mnasnet_tf import data, recipe, train
    from tflite_bench import convert, runtime

    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        config = train.TrainConfig(
            model=FLAGS.model,
            dataset="digits",
            image_size=FLAGS.image_size,
            batch_size=64,
            epochs=FLAGS.epochs,
            model_dir=os.path.join(tmp, "run"),
            export_dir=os.path.join(tmp, "export"),
            verbose=0,
            recipe=recipe.Recipe(base_learning_rate=FLAGS.learning_rate),
        )
        result = train.train(config)
        export = os.path.join(tmp, "export")
        import keras

        model = keras.models.load_model(os.path.join(export, "model.keras"))
        rows = {}
        for split in ("validation", "test"):
            dataset, _ = data.load(
                "digits", split=split, image_size=FLAGS.image_size, batch_size=512
            )
            images = np.concatenate([x.numpy() for x, _ in dataset])
            labels = np.concatenate([y.numpy() for _, y in dataset])
            keras_top1 = float(np.mean(model.predict(images, verbose=0).argmax(-1) == labels))
            row: dict[str, float] = {"n": int(len(images)), "keras_top1": keras_top1}
            for quantization in ("float32", "int8"):
                path = os.path.join(export, f"model_{quantization}.tflite")
                outputs = runtime.run(runtime.load_interpreter(path), images)
                check = convert.parity(model, path, images)
                row[f"{quantization}_top1"] = float(np.mean(outputs.argmax(-1) == labels))
                row[f"{quantization}_agreement_with_keras"] = check.top1_agreement
                row[f"{quantization}_max_abs_diff"] = check.max_abs_diff
            rows[split] = row
    figures = {
        "model": FLAGS.model,
        "epochs": FLAGS.epochs,
        "image_size": FLAGS.image_size,
        "train_seconds": result.seconds,
        "wall_seconds": time.time() - start,
        "splits": rows,
    }
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    with open(os.path.join(FLAGS.output_dir, f"{RESULTS}.json"), "w") as handle:
        json.dump(figures, handle, indent=2)
    lines = [
        "# int8 vs float on held-out digits",
        "",
        f"{FLAGS.model} trained {FLAGS.epochs} epochs at {FLAGS.image_size}² "
        f"({result.seconds:.0f} s); full-integer int8 with float 0–255 I/O, representative data "
        "from the training set.",
        "",
        "| split | images | Keras top-1 | float32 top-1 | int8 top-1 | int8 = float top-1 "
        "| int8 max |Δ| |",
        "|---|---|---|---|---|---|---|",
    ]
    for split, row in rows.items():
        lines.append(
            f"| {split} | {row['n']} | {row['keras_top1']:.4f} | {row['float32_top1']:.4f} | "
            f"{row['int8_top1']:.4f} | {row['int8_agreement_with_keras']:.4f} | "
            f"{row['int8_max_abs_diff']:.3f} |"
        )
    text = "\n".join(lines) + "\n"
    with open(os.path.join(FLAGS.output_dir, f"{RESULTS}.md"), "w") as handle:
        handle.write(text)
    print(text)


if __name__ == "__main__":
    app.run(main)
