"""Training recipes: hyperparameters, learning-rate schedule, optimizer, loss, weight EMA, BN stats.

Owns `Recipe` (the MnasNet reference recipe as defaults, DESIGN.md §4), `PROXY_RECIPE` (the short
budget the search trains each candidate with), `make_schedule` (the learning rate as a pure
function of the optimizer's step counter, so a restored optimizer resumes the schedule exactly),
`make_optimizer`, `make_loss`, `apply_weight_decay`, `compile_for_training`, `WeightEMA`,
`BatchNormCalibrator` and `history_dict` (a `fit` history as plain floats), which the full
training (train.py) and the proxy task (proxy_train.py) share.

Choices that differ in form from the reference TPU code, and why:
- Weight decay is an L2 loss term on conv, depthwise and dense kernels, `weight_decay/2 · Σw²`
  (`tf.nn.l2_loss`, as in the reference), set with `variable.regularizer`; biases and BN are not
  decayed. Keras' `weight_decay=` optimizer argument would be decoupled decay (AdamW-style),
  ~1/lr times weaker at the same number.
- The weight EMA uses the reference's `tf.train.ExponentialMovingAverage(decay, num_updates=step)`
  rule, decay_t = min(decay, (1 + t) / (10 + t)), so 0.9999 still warms up in a short run
  (after 600 steps it averages over ~65 steps). Keras' `use_ema` has a fixed momentum, under which
  0.9999 keeps a short run at its random initial weights.
- BN moving statistics are re-estimated from training batches ("precise BN",
  `BatchNormCalibrator`) before each validation and at the end: with momentum 0.99 they need
  ~10^3 steps to forget their initial values, so short runs and proxy candidates would otherwise
  be scored near chance.

Must not import search/ or tflite_bench/.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

OPTIMIZERS = ("rmsprop", "sgd", "adam")
SCHEDULES = ("exponential", "cosine")
REFERENCE_BATCH = 256
"""`base_learning_rate` is per this many images; the schedule scales it linearly by batch size."""


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Training hyperparameters; the defaults are MnasNet's reference ImageNet recipe.

    Attributes:
      optimizer: 'rmsprop' (reference), 'sgd' (Nesterov momentum) or 'adam'.
      base_learning_rate: peak learning rate per REFERENCE_BATCH images.
      warmup_epochs: linear warm-up from 0 to the peak.
      schedule: 'exponential' (reference: ×decay_rate every decay_epochs, counted from step 0,
        staircase) or 'cosine' (to 0 at the last epoch, after the warm-up).
      decay_rate, decay_epochs: of the exponential schedule.
      rmsprop_rho, momentum, epsilon: optimizer constants (RMSProp decay 0.9, momentum 0.9,
        epsilon 1e-3 in the reference).
      label_smoothing: of the cross-entropy loss.
      weight_decay: L2 coefficient on kernels (see the module docstring).
      dropout_rate: before the classifier; None takes the architecture's (0.2 for MnasNet-A1).
      ema_decay: weight EMA decay (num-updates aware); None or 0 for none.
      bn_momentum, bn_epsilon: of every BatchNormalization layer.
      clip_norm: global gradient-norm clipping; None for none.
      bn_recalibration_batches: training batches that re-estimate the BN statistics before
        validation and at the end (`BatchNormCalibrator`); 0 for none. Not in the reference,
        where 0.99 momentum converges over ~10^5 steps.
    """

    optimizer: str = "rmsprop"
    base_learning_rate: float = 0.016
    warmup_epochs: float = 5.0
    schedule: str = "exponential"
    decay_rate: float = 0.97
    decay_epochs: float = 2.4
    rmsprop_rho: float = 0.9
    momentum: float = 0.9
    epsilon: float = 1e-3
    label_smoothing: float = 0.1
    weight_decay: float = 1e-5
    dropout_rate: float | None = None
    ema_decay: float | None = 0.9999
    bn_momentum: float = 0.99
    bn_epsilon: float = 1e-3
    clip_norm: float | None = None
    bn_recalibration_batches: int = 50

    def __post_init__(self) -> None:
        def check(ok: bool, field: str, expected: str) -> None:
            if not ok:
                value = getattr(self, field)
                raise ValueError(f"recipe {field} must be {expected}; got {value!r}")

        check(self.optimizer in OPTIMIZERS, "optimizer", f"one of {OPTIMIZERS}")
        check(self.schedule in SCHEDULES, "schedule", f"one of {SCHEDULES}")
        check(self.base_learning_rate > 0, "base_learning_rate", "> 0")
        check(self.warmup_epochs >= 0, "warmup_epochs", ">= 0")
        check(0 < self.decay_rate <= 1, "decay_rate", "in (0, 1]")
        check(self.decay_epochs > 0, "decay_epochs", "> 0")
        check(0 <= self.label_smoothing < 1, "label_smoothing", "in [0, 1)")
        check(self.weight_decay >= 0, "weight_decay", ">= 0")
        check(self.dropout_rate is None or 0 <= self.dropout_rate < 1, "dropout_rate", "in [0, 1)")
        check(self.ema_decay is None or 0 <= self.ema_decay < 1, "ema_decay", "in [0, 1)")
        check(0 < self.bn_momentum < 1, "bn_momentum", "in (0, 1)")
        check(self.bn_epsilon > 0, "bn_epsilon", "> 0")
        check(self.clip_norm is None or self.clip_norm > 0, "clip_norm", "> 0 or None")
        check(self.bn_recalibration_batches >= 0, "bn_recalibration_batches", ">= 0")

    def replace(self, **changes: object) -> Recipe:
        """A copy with `changes` applied (validated again)."""
        return dataclasses.replace(self, **changes)


PROXY_RECIPE = Recipe(
    optimizer="sgd",
    base_learning_rate=0.1,
    warmup_epochs=0.5,
    schedule="cosine",
    ema_decay=None,
)
"""The search's proxy task: 1–5 epochs per candidate. Nesterov SGD at the classic 0.1 per 256
images, half an epoch of warm-up, cosine to 0, no EMA; otherwise the reference recipe. On digits
at 32² (5 epochs, batch 64) it beat RMSProp at 0.004/0.008 per 256 for MnasNet-A1 and -small
(93%/89% held-out vs ≤ 88%/84%) and steps ~1.5× faster; RMSProp at the reference 0.016 is unstable
at batch 64."""


@keras.saving.register_keras_serializable(package="mnasnet_tf")
class WarmupExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The reference schedule: linear warm-up from 0 to `peak` over `warmup_steps`, then
    `peak · decay_rate^floor(step / decay_steps)` (the exponent counts from step 0)."""

    def __init__(self, *, peak: float, warmup_steps: int, decay_steps: float, decay_rate: float):
        self.peak = float(peak)
        self.warmup_steps = int(warmup_steps)
        self.decay_steps = float(decay_steps)
        self.decay_rate = float(decay_rate)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        decayed = self.peak * tf.pow(self.decay_rate, tf.floor(step / self.decay_steps))
        if self.warmup_steps <= 0:
            return decayed
        warm = self.peak * step / self.warmup_steps
        return tf.where(step < self.warmup_steps, warm, decayed)

    def get_config(self) -> dict:
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
        }


def make_schedule(
    recipe: Recipe, *, batch_size: int, steps_per_epoch: int, epochs: int
) -> keras.optimizers.schedules.LearningRateSchedule:
    """The recipe's learning rate as a function of the optimizer step, for a run of `epochs` ×
    `steps_per_epoch` steps of `batch_size` images. The cosine form is Keras' own CosineDecay
    (a model saved compiled with it loads without custom objects)."""
    peak = recipe.base_learning_rate * batch_size / REFERENCE_BATCH
    warmup = int(round(recipe.warmup_epochs * steps_per_epoch))
    if recipe.schedule == "cosine":
        total = max(1, epochs * steps_per_epoch - warmup)
        if warmup <= 0:
            return keras.optimizers.schedules.CosineDecay(peak, decay_steps=total)
        return keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=total, warmup_target=peak, warmup_steps=warmup
        )
    return WarmupExponentialDecay(
        peak=peak,
        warmup_steps=warmup,
        decay_steps=max(1.0, recipe.decay_epochs * steps_per_epoch),
        decay_rate=recipe.decay_rate,
    )


def make_optimizer(recipe: Recipe, learning_rate) -> keras.optimizers.Optimizer:
    """The recipe's optimizer on `learning_rate` (a float or a schedule)."""
    clip = {"global_clipnorm": recipe.clip_norm} if recipe.clip_norm else {}
    if recipe.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(
            learning_rate=learning_rate,
            rho=recipe.rmsprop_rho,
            momentum=recipe.momentum,
            epsilon=recipe.epsilon,
            **clip,
        )
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(
            learning_rate=learning_rate, momentum=recipe.momentum, nesterov=True, **clip
        )
    return keras.optimizers.Adam(learning_rate=learning_rate, epsilon=recipe.epsilon, **clip)


def make_loss(recipe: Recipe) -> keras.losses.Loss:
    """Cross-entropy on one-hot labels (label smoothing needs them) and softmax outputs."""
    return keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)


def apply_weight_decay(model: keras.Model, weight_decay: float) -> int:
    """Puts an L2 regularizer `weight_decay/2 · Σw²` on every conv, depthwise and dense kernel
    of `model` (not biases, not BN); returns how many kernels it decays."""
    if weight_decay <= 0:
        return 0
    regularizer = keras.regularizers.L2(weight_decay / 2)
    count = 0
    for layer in _all_layers(model):
        for attribute in ("kernel", "depthwise_kernel", "pointwise_kernel"):
            variable = getattr(layer, attribute, None)
            if isinstance(variable, keras.Variable) and variable.trainable:
                variable.regularizer = regularizer
                count += 1
    return count


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    layers, stack = [], list(model.layers)
    while stack:
        layer = stack.pop(0)
        layers.append(layer)
        stack.extend(getattr(layer, "layers", []) or [])
    return layers


def one_hot_labels(dataset: tf.data.Dataset, classes: int) -> tf.data.Dataset:
    """`(images, int labels)` batches → `(images, one-hot labels)` (what `make_loss` takes)."""
    return dataset.map(
        lambda x, y: (x, tf.one_hot(y, classes)), num_parallel_calls=tf.data.AUTOTUNE
    )


def history_dict(history: keras.callbacks.History | None) -> dict[str, list[float]]:
    """A `fit` history as `{metric: [one float per epoch]}` ({} for None), ready for JSON."""
    if history is None:
        return {}
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def compile_for_training(
    model: keras.Model,
    recipe: Recipe,
    *,
    batch_size: int,
    steps_per_epoch: int,
    epochs: int,
    jit_compile: bool = False,
) -> keras.optimizers.Optimizer:
    """Adds the recipe's weight decay to `model`, compiles it for one-hot labels (accuracy and,
    above 5 classes, top-5) and builds the optimizer's variables; returns the optimizer."""
    apply_weight_decay(model, recipe.weight_decay)
    schedule = make_schedule(
        recipe, batch_size=batch_size, steps_per_epoch=steps_per_epoch, epochs=epochs
    )
    optimizer = make_optimizer(recipe, schedule)
    metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    if model.outputs[0].shape[-1] > 5:
        metrics.append(keras.metrics.TopKCategoricalAccuracy(k=5, name="top5"))
    model.compile(
        optimizer=optimizer,
        loss=make_loss(recipe),
        metrics=metrics,
        jit_compile=jit_compile,
    )
    optimizer.build(model.trainable_variables)
    return optimizer


class BatchNormCalibrator:
    """Re-estimates the moving mean and variance of every BatchNormalization layer of a model
    from training batches ("precise BN"): the batch statistics each layer sees in training mode,
    averaged over `num_batches`, replace the moving averages.

    Why: with BN momentum 0.99 the moving statistics keep (0.99^steps) of their initial value, so
    after a few hundred steps (every short run, every proxy-task candidate) the inference-mode
    model is far from the trained one — near chance on held-out data while training accuracy is
    high. The weight EMA makes it worse (statistics of other weights). Recalibrating costs
    `num_batches` forward passes and changes no trainable weight.

    Works on functional models whose BN layers are called once at the top level (the builder's
    models, keras.applications); for others `num_layers` is 0 and calling it does nothing.
    """

    def __init__(self, model: keras.Model):
        layers = [x for x in model.layers if isinstance(x, keras.layers.BatchNormalization)]
        try:
            probe = keras.Model(model.inputs, [layer.input for layer in layers]) if layers else None
        except (AttributeError, ValueError):  # a BN layer used twice, or a nested model
            probe, layers = None, []
        self._layers = layers
        self._probe = probe

    @property
    def num_layers(self) -> int:
        """BatchNormalization layers this calibrator updates."""
        return len(self._layers)

    @tf.function
    def _moments(self, images):
        outputs = self._probe(images, training=True)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        result = []
        for x in outputs:
            axes = list(range(len(x.shape) - 1))
            result.append((tf.reduce_mean(x, axes), tf.reduce_mean(tf.square(x), axes)))
        return result

    def __call__(self, dataset: tf.data.Dataset, num_batches: int) -> int:
        """Recalibrates from up to `num_batches` batches of `(images, labels)` `dataset`;
        returns how many batches it used."""
        if self._probe is None or num_batches <= 0:
            return 0
        sums = None
        used = 0
        for batch in dataset.take(num_batches):
            images = batch[0] if isinstance(batch, (tuple, list)) else batch
            moments = self._moments(images)
            if sums is None:
                sums = [[m.numpy(), s.numpy()] for m, s in moments]
            else:
                for total, (m, s) in zip(sums, moments, strict=True):
                    total[0] += m.numpy()
                    total[1] += s.numpy()
            used += 1
        if not used:
            return 0
        for layer, (mean_sum, square_sum) in zip(self._layers, sums, strict=True):
            mean = mean_sum / used
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(tf.maximum(square_sum / used - mean**2, 0.0))
        return used


class WeightEMA(keras.callbacks.Callback):
    """Exponential moving average of the trainable weights, decay min(decay, (1+t)/(10+t)).

    During `fit` the averaged weights are swapped in for validation; at the end of `fit` they
    replace the trained weights (the model is the EMA model). `state` (a tf.Module with the
    averages and the update count) belongs in the training checkpoint. Create it under the
    distribution strategy's scope, after the model is built.
    """

    def __init__(self, model: keras.Model, decay: float):
        super().__init__()
        self.decay = float(decay)
        self._weights = list(model.trainable_weights)
        self.state = tf.Module(name="weight_ema")
        self.state.averages = [
            tf.Variable(tf.convert_to_tensor(w), trainable=False, name="ema") for w in self._weights
        ]
        self.state.num_updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="updates")
        self._in_fit = False

    @tf.function
    def _update(self):
        self.state.num_updates.assign_add(1)
        step = tf.cast(self.state.num_updates, tf.float32)
        decay = tf.minimum(self.decay, (1.0 + step) / (10.0 + step))
        for average, weight in zip(self.state.averages, self._weights, strict=True):
            average.assign(decay * average + (1.0 - decay) * tf.convert_to_tensor(weight))

    @tf.function
    def _swap(self):
        for average, weight in zip(self.state.averages, self._weights, strict=True):
            live = tf.identity(tf.convert_to_tensor(weight))
            weight.assign(average)
            average.assign(live)

    @tf.function
    def _copy(self):
        for average, weight in zip(self.state.averages, self._weights, strict=True):
            weight.assign(average)

    def swap(self) -> None:
        """Exchanges the model's weights with the averages."""
        self._swap()

    def finalize(self) -> None:
        """Overwrites the model's weights with the averages."""
        self._copy()

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_batch_end(self, batch, logs=None):
        self._update()

    def on_test_begin(self, logs=None):
        if self._in_fit:
            self._swap()

    def on_test_end(self, logs=None):
        if self._in_fit:
            self._swap()

    def on_train_end(self, logs=None):
        self._in_fit = False
        self._copy()
