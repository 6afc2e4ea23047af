"""Export of a trained classifier for apps: .keras, float32 and int8 .tflite, arch and labels.

Owns `export` (the files `mnasnet-train --export_dir` writes, and the held-out accuracy of each,
so the cost of int8 is visible) and `representative_images` (int8 calibration data).

The one mnasnet_tf module that imports tflite_bench (convert, lazily; eval.py imports its
runtime for .tflite files). Must not import search/.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mnasnet_tf import arch_string, data, specs
from mnasnet_tf import eval as eval_lib
from tflite_bench import files


def representative_images(name: str, *, count: int = 100, **load_args: Any) -> np.ndarray:
    """Up to `count` un-augmented training images of data set `name` (int8 calibration data);
    `load_args` go to `data.load` (image_size, data_dir, validation_size, seed)."""
    dataset, info = data.load(
        name, split="train", augment="none", batch_size=min(count, 64), **load_args
    )
    batches = [x.numpy() for x, _ in dataset.take(-(-count // info.batch_size))]
    return np.concatenate(batches)[:count]


def export(
    model: keras.Model,
    export_dir: str,
    *,
    arch: specs.ArchSpec | None = None,
    class_names: Sequence[str] = (),
    representative: np.ndarray,
    held_out: tf.data.Dataset | None = None,
    eval_examples: int = 1000,
) -> tuple[list[str], dict[str, eval_lib.Accuracy]]:
    """Writes model.keras (inference only: no optimizer, no regularizers), model_float32.tflite,
    model_int8.tflite (float 0–255 input and output, calibrated on `representative`), arch.json
    and labels.txt to `export_dir`; evaluates the three models on `eval_examples` of
    `held_out`. Returns (files written, {file name: Accuracy})."""
    from tflite_bench import convert

    os.makedirs(export_dir, exist_ok=True)
    # From the config, not clone_model: Keras 3 clones the compile state (optimizer slots, the
    # schedule) into the copy, which would triple the file and need mnasnet_tf to load.
    inference = keras.Model.from_config(model.get_config())
    inference.set_weights(model.get_weights())
    keras_path = os.path.join(export_dir, "model.keras")
    files.atomic_save(keras_path, inference.save, suffix=".keras")
    written = [keras_path]
    for quantization in ("float32", "int8"):
        path = os.path.join(export_dir, f"model_{quantization}.tflite")
        convert.convert(
            inference,
            quantization=quantization,
            representative_data=representative if quantization == "int8" else None,
            output_path=path,
        )
        written.append(path)
    if arch is not None:
        arch_path = os.path.join(export_dir, "arch.json")
        arch_string.save_json(arch, arch_path)
        written.append(arch_path)
    if class_names:
        labels_path = os.path.join(export_dir, "labels.txt")
        files.atomic_write(labels_path, "\n".join(class_names) + "\n")
        written.append(labels_path)
    exported: dict[str, eval_lib.Accuracy] = {}
    if held_out is not None and eval_examples > 0:
        exported["model.keras"] = eval_lib.evaluate_keras(
            inference, held_out, max_examples=eval_examples
        )
        for path in written[1:3]:
            exported[os.path.basename(path)] = eval_lib.evaluate_tflite(
                path, held_out, max_examples=eval_examples
            )
    return written, exported
