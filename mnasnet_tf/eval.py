"""Top-1/top-5 accuracy of a trained model (.keras or .tflite) on a data split.

Owns `Accuracy`, `evaluate_keras` / `evaluate_tflite` (on any pipeline from `data.load`),
`load_model` (a .keras/.h5/.tflite file, with errors that name the path), `evaluate` (a model
file on a split of a data set, which the `mnasnet-eval` binary (search/cli/mnasnet_eval.py)
calls), so a user sees what float16/int8 quantization costs next to the Keras model.

Imports tflite_bench.runtime lazily, for .tflite files only, and `tflite_bench.files` (TF-free).
Must not import search/ or absl.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tflite_bench import files

KERAS_SUFFIXES = (".keras", ".h5")
TFLITE_SUFFIX = ".tflite"


@dataclasses.dataclass(frozen=True)
class Accuracy:
    """Accuracy of a model on some examples; top5 is None with 5 classes or fewer."""

    top1: float
    top5: float | None
    num_examples: int
    seconds: float

    def describe(self) -> str:
        """'top-1 97.2%, top-5 99.9% on 360 images'."""
        top5 = "" if self.top5 is None else f", top-5 {100 * self.top5:.1f}%"
        return f"top-1 {100 * self.top1:.1f}%{top5} on {self.num_examples} images"


def _accuracy(
    predict: Callable[[np.ndarray], np.ndarray], dataset: Any, max_examples: int | None
) -> Accuracy:
    start = time.perf_counter()
    top1 = top5 = seen = 0
    classes = None
    for images, labels in dataset:
        images, labels = np.asarray(images), np.asarray(labels).reshape(-1)
        if max_examples is not None:
            images, labels = images[: max_examples - seen], labels[: max_examples - seen]
        scores = np.asarray(predict(images)).reshape(len(labels), -1)
        classes = scores.shape[1]
        if labels.max(initial=0) >= classes:
            raise ValueError(
                f"the model has {classes} outputs but the data has label {labels.max()}: "
                "evaluate it on the data set it was trained for"
            )
        order = np.argsort(-scores, axis=1)
        top1 += int(np.sum(order[:, 0] == labels))
        top5 += int(np.sum(np.any(order[:, :5] == labels[:, None], axis=1)))
        seen += len(labels)
        if max_examples is not None and seen >= max_examples:
            break
    if seen == 0:
        raise ValueError("no examples to evaluate on")
    return Accuracy(
        top1=top1 / seen,
        top5=top5 / seen if classes and classes > 5 else None,
        num_examples=seen,
        seconds=time.perf_counter() - start,
    )


def evaluate_keras(model: Any, dataset: Any, *, max_examples: int | None = None) -> Accuracy:
    """Accuracy of a Keras classifier on `(images, int labels)` batches."""
    return _accuracy(lambda x: model(x, training=False), dataset, max_examples)


def evaluate_tflite(
    model: str | os.PathLike[str] | Any,
    dataset: Any,
    *,
    max_examples: int | None = None,
    num_threads: int | None = None,
) -> Accuracy:
    """Accuracy of a .tflite classifier (a path or a LiteRT interpreter) on `(images, int
    labels)` batches; float inputs are quantized for int8-input models."""
    from tflite_bench import runtime

    if isinstance(model, (str, os.PathLike)):
        model = load_model(model, num_threads=num_threads)[1]
    return _accuracy(lambda x: runtime.run(model, x), dataset, max_examples)


def load_model(path: str | os.PathLike[str], *, num_threads: int | None = None) -> tuple[str, Any]:
    """('keras', keras.Model) or ('tflite', LiteRT interpreter) from a model file.

    Raises:
      FileNotFoundError: no file at `path` (named).
      ValueError: an unknown suffix, or a file that is not a loadable model (path named).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path}")
    if path.endswith(TFLITE_SUFFIX):
        from tflite_bench import runtime

        threads = num_threads or min(4, os.cpu_count() or 1)
        return "tflite", runtime.load_interpreter(path, num_threads=threads)
    if not path.endswith(KERAS_SUFFIXES):
        raise ValueError(
            f"model file {path}: expected a {' or '.join(KERAS_SUFFIXES)} Keras model or a "
            f"{TFLITE_SUFFIX} file"
        )
    problem = files.keras_file_problem(path)
    if problem:
        raise ValueError(f"cannot load Keras model {path}: not a Keras model file ({problem})")
    import keras

    try:
        return "keras", keras.models.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001 - Keras raises many types for a bad archive
        raise ValueError(
            f"cannot load Keras model {path}: {type(error).__name__}: {error}"
        ) from None


def model_image_size(kind: str, model: Any) -> int | None:
    """The square input size a loaded model takes, or None if it takes any size."""
    if kind == "tflite":
        shape = model.get_input_details()[0]["shape"]
    else:
        shape = model.inputs[0].shape
    height, width = shape[1], shape[2]
    if height is None or width is None or int(height) <= 0:
        return None
    if int(height) != int(width):
        raise ValueError(f"only square inputs are supported; the model takes {height}×{width}")
    return int(height)


def evaluate(
    model_path: str | os.PathLike[str],
    *,
    dataset: str = "digits",
    split: str = "test",
    image_size: int | None = None,
    batch_size: int = 64,
    data_dir: str | None = None,
    validation_size: int | float | None = None,
    seed: int = 0,
    max_examples: int | None = None,
    num_threads: int | None = None,
) -> Accuracy:
    """Accuracy of the model file at `model_path` on `split` of `dataset` (see `data.load`);
    `image_size` defaults to the model's input size."""
    from mnasnet_tf import data

    kind, model = load_model(model_path, num_threads=num_threads)
    size = model_image_size(kind, model)
    if image_size is None:
        if size is None:
            raise ValueError(f"model {model_path} takes any input size: give image_size")
        image_size = size
    elif size is not None and image_size != size:
        raise ValueError(
            f"model {model_path} takes {size}×{size} images; got image_size={image_size}"
        )
    pipeline, _ = data.load(
        dataset,
        split=split,
        image_size=image_size,
        batch_size=batch_size,
        data_dir=data_dir,
        validation_size=validation_size,
        seed=seed,
    )
    if kind == "tflite":
        return evaluate_tflite(model, pipeline, max_examples=max_examples)
    return evaluate_keras(model, pipeline, max_examples=max_examples)
