"""Tests for mnasnet_tf/recipe.py and mnasnet_tf/train.py: the learning-rate schedule, weight
decay, weight EMA, resuming an interrupted run with the schedule where it was, the proxy task
(NaN reported, not raised) and a tiny end-to-end train → export → eval."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

from mnasnet_tf import data, proxy_train, recipe, train
from mnasnet_tf import eval as eval_lib

TINY = "r1_k3_s11_e1_o16:r1_k3_s22_e3_o24"


def _tiny_model(classes: int = 10) -> keras.Model:
    from mnasnet_tf import builder, zoo

    return builder.build_model(zoo.resolve_arch(TINY), input_shape=(32, 32, 3), classes=classes)


# ---- recipe ----


def test_reference_recipe_defaults_are_mnasnet_s():
    r = recipe.Recipe()
    assert (r.optimizer, r.rmsprop_rho, r.momentum, r.epsilon) == ("rmsprop", 0.9, 0.9, 1e-3)
    assert (r.base_learning_rate, r.warmup_epochs, r.decay_rate, r.decay_epochs) == (
        0.016, 5.0, 0.97, 2.4,
    )  # fmt: skip
    assert (r.label_smoothing, r.weight_decay, r.ema_decay) == (0.1, 1e-5, 0.9999)
    assert (r.bn_momentum, r.bn_epsilon) == (0.99, 1e-3)


def test_exponential_schedule_warms_up_then_decays_in_stairs():
    schedule = recipe.make_schedule(recipe.Recipe(), batch_size=512, steps_per_epoch=10, epochs=9)
    peak = 0.016 * 2
    lr = [float(schedule(step)) for step in (0, 25, 49, 50, 71, 72, 200)]
    np.testing.assert_allclose(lr[:3], [0.0, peak / 2, peak * 49 / 50], rtol=1e-6)
    # After warm-up: peak · 0.97^floor(step / 24), the exponent counted from step 0.
    np.testing.assert_allclose(lr[3:], [peak * 0.97**2, peak * 0.97**2, peak * 0.97**3,
                                        peak * 0.97**8], rtol=1e-6)  # fmt: skip


def test_cosine_schedule_ends_at_zero():
    r = recipe.Recipe(schedule="cosine", warmup_epochs=1)
    schedule = recipe.make_schedule(r, batch_size=256, steps_per_epoch=10, epochs=5)
    np.testing.assert_allclose(
        [float(schedule(s)) for s in (0, 5, 10, 30, 50)], [0, 0.008, 0.016, 0.008, 0], atol=1e-7
    )


@pytest.mark.parametrize(
    ("field", "value"), [("optimizer", "lamb"), ("ema_decay", 1.0), ("label_smoothing", -0.1)]
)
def test_bad_recipe_values_are_named(field, value):
    with pytest.raises(ValueError, match=f"recipe {field} must be"):
        recipe.Recipe(**{field: value})


def test_weight_decay_is_half_l2_on_kernels_only():
    model = _tiny_model()
    count = recipe.apply_weight_decay(model, 1e-5)
    kernels = [
        v for v in model.trainable_weights if v.path.endswith(("kernel", "depthwise_kernel"))
    ]
    assert count == len(kernels) == len(model.losses) > 0
    expected = 1e-5 / 2 * sum(float(np.sum(np.square(v.numpy()))) for v in kernels)
    np.testing.assert_allclose(float(sum(model.losses)), expected, rtol=1e-5)


def test_weight_ema_decay_warms_up_with_the_update_count():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    model.layers[0].kernel.assign(np.zeros((2, 1), np.float32))
    ema = recipe.WeightEMA(model, decay=0.9999)
    model.layers[0].kernel.assign(np.ones((2, 1), np.float32))
    ema.on_train_batch_end(0)  # update 1: decay = min(0.9999, 2/11)
    np.testing.assert_allclose(ema.state.averages[0].numpy(), 1 - 2 / 11, rtol=1e-6)
    ema.finalize()
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), 1 - 2 / 11, rtol=1e-6)


# ---- train: resume ----


class _Interrupt(keras.callbacks.Callback):
    """Stands for a killed process: raises at `batch` of `epoch` (0-based)."""

    def __init__(self, epoch: int, batch: int):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, -1

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            raise KeyboardInterrupt("killed")


def _config(model_dir, epochs: int, **changes) -> train.TrainConfig:
    fields = {
        "model": TINY,
        "dataset": "digits",
        "image_size": 32,
        "batch_size": 32,
        "epochs": epochs,
        "steps_per_epoch": 4,
        "model_dir": str(model_dir),
        "export_eval_examples": 0,
        "verbose": 0,
        "recipe": recipe.Recipe(warmup_epochs=1.5, decay_epochs=0.5),
    }
    return train.TrainConfig(**{**fields, **changes})


@pytest.mark.slow
def test_killed_run_resumes_at_the_next_epoch_with_the_learning_rate_where_it_was(tmp_path):
    straight = train.train(_config(tmp_path / "straight", epochs=3))

    with pytest.raises(KeyboardInterrupt):
        train.train(_config(tmp_path / "killed", epochs=3), callbacks=[_Interrupt(1, 2)])
    latest = tf.train.latest_checkpoint(str(tmp_path / "killed" / "checkpoints"))
    assert latest.endswith("ckpt-1")  # saved after epoch 1; epoch 2 died at its third step
    resumed = train.train(_config(tmp_path / "killed", epochs=3))

    assert straight.initial_epoch == 0 and resumed.initial_epoch == 1  # epoch 1 is redone
    assert len(resumed.history["loss"]) == 2
    np.testing.assert_allclose(
        resumed.history["learning_rate"], straight.history["learning_rate"][1:], rtol=1e-6
    )
    optimizer = resumed.model.optimizer
    assert int(optimizer.iterations) == 3 * 4
    schedule = recipe.make_schedule(_config("", 3).recipe, batch_size=32, steps_per_epoch=4,
                                    epochs=3)  # fmt: skip
    np.testing.assert_allclose(float(optimizer.learning_rate), float(schedule(12)), rtol=1e-6)

    again = train.train(_config(tmp_path / "killed", epochs=4))  # one more epoch
    assert again.initial_epoch == 3 and len(again.history["loss"]) == 1
    assert int(again.model.optimizer.iterations) == 16
    results = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert results["initial_epoch"] == 3 and results["epochs"] == 4
    assert os.listdir(tmp_path / "killed" / "logs")  # TensorBoard


@pytest.mark.slow
def test_resume_refuses_a_model_dir_of_another_run(tmp_path):
    train.train(_config(tmp_path, epochs=1))
    with pytest.raises(ValueError, match="holds a run with other batch_size"):
        train.train(_config(tmp_path, epochs=2, batch_size=16))


# ---- the proxy task ----


@pytest.mark.slow
def test_train_proxy_returns_held_out_accuracy():
    train_ds, _ = data.load("digits", split="train", image_size=32, batch_size=32)
    val_ds, _ = data.load("digits", split="validation", image_size=32, batch_size=64)
    result = proxy_train.train_proxy(_tiny_model(), train_ds, val_ds, epochs=2, steps_per_epoch=5)
    assert not result.nan and result.epochs_completed == 2
    assert 0.0 <= result.val_accuracy <= 1.0 and result.seconds > 0
    assert len(result.history["loss"]) == 2


@pytest.mark.slow
def test_train_proxy_reports_nan_loss_instead_of_raising():
    images = np.full((64, 32, 32, 3), np.nan, np.float32)
    labels = np.zeros(64, np.int32)
    train_ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16, drop_remainder=True)
    result = proxy_train.train_proxy(_tiny_model(), train_ds, train_ds, epochs=3)
    assert result.nan and result.val_accuracy == 0.0 and result.epochs_completed == 0


# ---- end to end ----


@pytest.mark.slow
def test_tiny_train_export_and_eval_agree(tmp_path):
    """Train a tiny model on digits, export it, and evaluate the files with mnasnet-eval's
    function: float32 .tflite equals Keras and int8 stays within 2 points of it."""
    config = train.TrainConfig(
        model=TINY,
        dataset="digits",
        image_size=32,
        batch_size=32,
        epochs=5,
        model_dir=str(tmp_path / "run"),
        export_dir=str(tmp_path / "export"),
        export_eval_examples=300,
        verbose=0,
        recipe=recipe.Recipe(base_learning_rate=0.008, warmup_epochs=1),
    )
    result = train.train(config)
    names = {os.path.basename(p) for p in result.files}
    assert {"model.keras", "model_float32.tflite", "model_int8.tflite", "arch.json"} <= names
    assert result.validation.top1 > 0.5, result.history
    scores = {
        name: eval_lib.evaluate(
            tmp_path / "export" / name, dataset="digits", split="validation"
        ).top1
        for name in ("model.keras", "model_float32.tflite", "model_int8.tflite")
    }
    assert scores["model.keras"] == pytest.approx(result.validation.top1, abs=1e-6)
    assert scores["model_float32.tflite"] == pytest.approx(scores["model.keras"], abs=0.005)
    assert abs(scores["model_int8.tflite"] - scores["model.keras"]) <= 0.02, scores
    assert result.exported["model_int8.tflite"].top1 == pytest.approx(scores["model_int8.tflite"])
    # The int8 file predicts the float model's class on >= 95% of held-out images.
    from tflite_bench import convert

    held_out, _ = data.load("digits", split="validation", image_size=32, batch_size=300)
    images = next(iter(held_out))[0].numpy()
    keras_model = keras.models.load_model(tmp_path / "export" / "model.keras")
    check = convert.parity(keras_model, tmp_path / "export" / "model_int8.tflite", images)
    assert check.n == len(images) and check.top1_agreement >= 0.95, check
