"""The search's proxy task: a short training run of a freshly built model → held-out top-1.

Owns `train_proxy` and `ProxyResult`: compile with `recipe.PROXY_RECIPE` (or another recipe),
fit for a few epochs, re-estimate BN statistics and score the validation split. A NaN or
infinite loss is reported (`nan=True`, accuracy 0.0), never raised, so one diverging candidate
does not end a search. No checkpoints, no files: search/proxy/task.py decides seeds, data and
repeats.

Full, resumable training with checkpoints and export is train.py.

Must not import search/, tflite_bench/ or absl.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from mnasnet_tf import eval as eval_lib
from mnasnet_tf import recipe as recipe_lib


@dataclasses.dataclass(frozen=True)
class ProxyResult:
    """A proxy-task run: held-out top-1 (0.0 when the loss went NaN), wall seconds, Keras history,
    whether the loss went NaN/inf, and how many epochs finished."""

    val_accuracy: float
    seconds: float
    history: dict[str, list[float]]
    nan: bool
    epochs_completed: int


def train_proxy(
    model: keras.Model,
    train_ds: tf.data.Dataset,
    val_ds: tf.data.Dataset,
    *,
    epochs: int,
    steps_per_epoch: int | None = None,
    learning_rate: float | None = None,
    recipe: recipe_lib.Recipe = recipe_lib.PROXY_RECIPE,
    verbose: int = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> ProxyResult:
    """Trains a freshly built `model` on the proxy task and returns its held-out top-1.

    Args:
      model: an uncompiled classifier (softmax outputs), e.g. from `builder.build_model`.
      train_ds, val_ds: `(images, int labels)` batches from `data.load` (train and validation).
      epochs: proxy epochs (MnasNet: 5).
      steps_per_epoch: cap on steps per epoch (None: one pass over `train_ds`).
      learning_rate: overrides `recipe.base_learning_rate` (per 256 images).
      recipe: defaults to PROXY_RECIPE (short warm-up, cosine, no EMA).
      verbose: Keras verbosity.
      callbacks: extra Keras callbacks (the search's per-epoch heartbeat, say).

    A NaN or infinite loss stops training (`TerminateOnNaN`) and is reported as `nan=True` with
    `val_accuracy=0.0`, never raised.
    """
    if learning_rate is not None:
        recipe = recipe.replace(base_learning_rate=learning_rate)
    steps = int(train_ds.cardinality())
    if steps <= 0:
        raise ValueError("train_ds must have a known, finite number of batches (from data.load)")
    if steps_per_epoch:
        steps = min(steps, steps_per_epoch)
        train_ds = train_ds.take(steps)
    batch = train_ds.element_spec[0].shape[0]
    if batch is None:
        raise ValueError("train_ds must have a static batch size (data.load's train split has)")
    classes = int(model.outputs[0].shape[-1])
    recipe_lib.compile_for_training(
        model, recipe, batch_size=int(batch), steps_per_epoch=steps, epochs=epochs
    )
    start = time.perf_counter()
    history = model.fit(
        recipe_lib.one_hot_labels(train_ds, classes),
        epochs=epochs,
        callbacks=[keras.callbacks.TerminateOnNaN(), *callbacks],
        shuffle=False,  # the pipeline shuffles
        verbose=verbose,
    )
    losses = history.history.get("loss", [])
    nan = not losses or not np.all(np.isfinite(losses))
    accuracy = 0.0
    if not nan:
        calibrator = recipe_lib.BatchNormCalibrator(model)
        calibrator(train_ds, min(recipe.bn_recalibration_batches, steps))
        accuracy = eval_lib.evaluate_keras(model, val_ds).top1
    return ProxyResult(
        val_accuracy=float(accuracy),
        seconds=time.perf_counter() - start,
        history=recipe_lib.history_dict(history),
        nan=bool(nan),
        epochs_completed=len(losses) - (1 if nan and losses else 0),
    )
