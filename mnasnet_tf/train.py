"""Training: the `mnasnet-train` binary, `train` (full recipe, resumable) and `train_proxy`.

    mnasnet-train --model=mnasnet-small --dataset=digits --learning_rate=0.004 --epochs=15 \\
        --model_dir=runs/small --export_dir=runs/small/export

Owns `TrainConfig` → `train` (build from `zoo.resolve_arch`, compile with a `recipe.Recipe`,
checkpoint model + optimizer + weight EMA + epoch in `model_dir` after every epoch, resume from
the last checkpoint with the optimizer's step counter and so the learning-rate schedule where
they were, TensorBoard logs in `model_dir/logs`, BN statistics re-estimated before validation
and at the end, export through export.py) and `train_proxy` (the search's short proxy task; a
NaN loss is reported, not raised).

Imports tflite_bench only through export.py and eval.py. Must not import search/.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mnasnet_tf import arch_string, data, zoo
from mnasnet_tf import eval as eval_lib
from mnasnet_tf import export as export_lib
from mnasnet_tf import recipe as recipe_lib

log = logging.getLogger(__name__)

STRATEGIES = ("default", "mirrored", "multi_worker")
RUN_FILE = "run.json"
"""In model_dir: what the checkpoints were trained on; a resume must match it."""
_RUN_IDENTITY = ("arch", "dataset", "image_size", "batch_size", "validation_size", "seed")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One training run (the binary's flags). See `load` in data.py for the data fields.

    Attributes:
      model: a zoo name, arch string or arch JSON path (`zoo.resolve_arch`).
      width: width multiplier.
      image_size: None → `data.default_image_size(dataset)` (32 for digits, 224 for ImageNet).
      batch_size: global batch (split across replicas).
      epochs: total epochs, counting those of a resumed run.
      steps_per_epoch: cap on steps per epoch (None: one pass over the training split).
      model_dir: checkpoints, TensorBoard logs and results.json; None for none (no resume).
      export_dir: where model.keras, model_float32.tflite and model_int8.tflite go; None: none.
      export_eval_examples: held-out examples the exported files are evaluated on (0: none).
      strategy: 'default', 'mirrored' or 'multi_worker' (tf.distribute).
      recipe: the hyperparameters.
      jit_compile: XLA (≈4.5× slower on CPU; off by default).
      verbose: Keras progbar (1), one line per epoch (2) or silent (0).
    """

    model: str = "mnasnet-a1"
    width: float = 1.0
    dataset: str = "digits"
    data_dir: str | None = None
    download: bool = False
    manual_dir: str | None = None
    image_size: int | None = None
    batch_size: int = 64
    epochs: int = 15
    steps_per_epoch: int | None = None
    validation_size: int | float | None = None
    seed: int = 0
    model_dir: str | None = None
    export_dir: str | None = None
    export_eval_examples: int = 1000
    strategy: str = "default"
    recipe: recipe_lib.Recipe = dataclasses.field(default_factory=recipe_lib.Recipe)
    jit_compile: bool = False
    verbose: int = 1

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}; got {self.strategy!r}")
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(
                f"steps_per_epoch must be positive or None; got {self.steps_per_epoch}"
            )


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What `train` did. `model` holds the final (EMA, if any) weights; `history` has one entry
    per epoch run in this call (loss, accuracy, val_*, learning_rate at the epoch's end)."""

    model: keras.Model
    history: dict[str, list[float]]
    initial_epoch: int
    epochs: int
    seconds: float
    validation: eval_lib.Accuracy
    test: eval_lib.Accuracy | None
    exported: dict[str, eval_lib.Accuracy]
    files: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class ProxyResult:
    """A proxy-task run: held-out top-1 (0.0 when the loss went NaN), wall seconds, Keras history,
    whether the loss went NaN/inf, and how many epochs finished."""

    val_accuracy: float
    seconds: float
    history: dict[str, list[float]]
    nan: bool
    epochs_completed: int


def make_strategy(name: str) -> tf.distribute.Strategy:
    """'default' (one device), 'mirrored' (local devices) or 'multi_worker' (TF_CONFIG)."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "default":
        return tf.distribute.get_strategy()
    raise ValueError(f"strategy must be one of {STRATEGIES}; got {name!r}")


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


class _CalibrateBeforeValidation(keras.callbacks.Callback):
    """Re-estimates BN statistics (of the EMA weights, when swapped in) before each validation
    inside `fit`; list it after the WeightEMA callback."""

    def __init__(self, calibrator: recipe_lib.BatchNormCalibrator, dataset, num_batches: int):
        super().__init__()
        self._calibrate = lambda: calibrator(dataset, num_batches)
        self._in_fit = False

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_test_begin(self, logs=None):
        if self._in_fit:
            self._calibrate()


class _EpochEnd(keras.callbacks.Callback):
    """Adds the learning rate to the epoch logs and checkpoints (model, optimizer, EMA, epoch)."""

    def __init__(self, optimizer, epoch: tf.Variable, manager, cleanup_dir: str | None):
        super().__init__()
        self._optimizer = optimizer
        self._epoch = epoch
        self._manager = manager
        self._cleanup_dir = cleanup_dir

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            lr = self._optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))
        self._epoch.assign(epoch + 1)
        if self._manager is not None:
            path = self._manager.save(checkpoint_number=epoch + 1)
            log.info("epoch %d: checkpoint %s", epoch + 1, path)
            if self._cleanup_dir:
                shutil.rmtree(self._cleanup_dir, ignore_errors=True)


def _run_identity(config: TrainConfig, arch, image_size: int) -> dict[str, Any]:
    return {
        "arch": arch_string.to_json_dict(arch),
        "dataset": config.dataset,
        "image_size": image_size,
        "batch_size": config.batch_size,
        "validation_size": config.validation_size,
        "seed": config.seed,
    }


def _check_run_file(model_dir: str, identity: dict[str, Any], write: bool) -> None:
    path = os.path.join(model_dir, RUN_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            previous = json.load(handle)
        changed = [k for k in _RUN_IDENTITY if previous.get(k) != identity[k]]
        if changed:

            def show(key: str) -> str:
                value = previous.get(key)
                if key == "arch" and isinstance(value, dict):
                    value = f"{value.get('name')} ({':'.join(value.get('blocks', []))})"
                return f"{key}={value!r}"

            raise ValueError(
                f"model_dir {model_dir} holds a run with other {', '.join(changed)} "
                f"({', '.join(show(k) for k in changed)}); resuming would mix them: use a new "
                "model_dir or delete this one"
            )
    elif write:
        os.makedirs(model_dir, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(identity, handle, indent=2)


def _history(history: keras.callbacks.History | None) -> dict[str, list[float]]:
    if history is None:
        return {}
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def train(
    config: TrainConfig, *, callbacks: Sequence[keras.callbacks.Callback] = ()
) -> TrainResult:
    """Trains `config.model` with `config.recipe`, resuming from `config.model_dir` if it holds
    a checkpoint of the same run; evaluates the final weights on the validation and test splits
    and exports when `config.export_dir` is set."""
    from mnasnet_tf import builder

    recipe = config.recipe
    strategy = make_strategy(config.strategy)
    chief = _is_chief(strategy)
    arch = zoo.resolve_arch(config.model, width=config.width)
    size = config.image_size or data.default_image_size(config.dataset, data_dir=config.data_dir)
    common = {
        "image_size": size,
        "batch_size": config.batch_size,
        "data_dir": config.data_dir,
        "validation_size": config.validation_size,
        "seed": config.seed,
    }
    train_ds, train_info = data.load(
        config.dataset,
        split="train",
        download=config.download,
        manual_dir=config.manual_dir,
        **common,
    )
    val_ds, val_info = data.load(config.dataset, split="validation", **common)
    steps = train_info.num_batches
    if config.steps_per_epoch:
        steps = min(steps, config.steps_per_epoch)
        train_ds = train_ds.take(steps)
    classes = train_info.num_classes

    with strategy.scope():
        model = builder.build_model(
            arch,
            input_shape=(size, size, 3),
            classes=classes,
            dropout_rate=recipe.dropout_rate,
            bn_momentum=recipe.bn_momentum,
            bn_epsilon=recipe.bn_epsilon,
        )
        optimizer = recipe_lib.compile_for_training(
            model,
            recipe,
            batch_size=config.batch_size,
            steps_per_epoch=steps,
            epochs=config.epochs,
            jit_compile=config.jit_compile,
        )
        ema = recipe_lib.WeightEMA(model, recipe.ema_decay) if recipe.ema_decay else None
        calibrator = recipe_lib.BatchNormCalibrator(model)
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    tracked = {"model": model, "optimizer": optimizer, "epoch": epoch}
    if ema is not None:
        tracked["ema"] = ema.state
    checkpoint = tf.train.Checkpoint(**tracked)

    manager, cleanup_dir = None, None
    if config.model_dir:
        _check_run_file(config.model_dir, _run_identity(config, arch, size), write=chief)
        ckpt_dir = os.path.join(config.model_dir, "checkpoints")
        latest = tf.train.latest_checkpoint(ckpt_dir)
        if latest:
            checkpoint.restore(latest).assert_existing_objects_matched()
            log.info(
                "resuming from %s at epoch %d (step %d)",
                latest,
                int(epoch.numpy()),
                int(optimizer.iterations.numpy()),
            )
        if not chief:  # multi-worker: every worker saves, only the chief's copy is kept
            cleanup_dir = os.path.join(
                config.model_dir, f".worker_{strategy.cluster_resolver.task_id}"
            )
            ckpt_dir = cleanup_dir
        manager = tf.train.CheckpointManager(checkpoint, ckpt_dir, max_to_keep=2)
    initial_epoch = int(epoch.numpy())

    all_callbacks: list[keras.callbacks.Callback] = [keras.callbacks.TerminateOnNaN()]
    if ema is not None:
        all_callbacks.append(ema)
    calibration_batches = min(recipe.bn_recalibration_batches, steps)
    all_callbacks.append(_CalibrateBeforeValidation(calibrator, train_ds, calibration_batches))
    all_callbacks.append(_EpochEnd(optimizer, epoch, manager, cleanup_dir))
    if config.model_dir and chief:
        logs = os.path.join(config.model_dir, "logs")
        all_callbacks.append(keras.callbacks.TensorBoard(log_dir=logs, write_graph=False))
    all_callbacks.extend(callbacks)

    start = time.perf_counter()
    history = None
    if initial_epoch < config.epochs:
        history = model.fit(
            recipe_lib.one_hot_labels(train_ds, classes),
            validation_data=recipe_lib.one_hot_labels(val_ds, classes),
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            callbacks=all_callbacks,
            shuffle=False,  # the pipeline shuffles
            verbose=config.verbose,
        )
    elif ema is not None:
        ema.finalize()
    calibrator(train_ds, calibration_batches)
    seconds = time.perf_counter() - start

    validation = eval_lib.evaluate_keras(model, val_ds)
    try:
        test_ds, _ = data.load(config.dataset, split="test", **common)
    except ValueError as error:  # a folder or tfds set without a test split
        log.info("no test split: %s", error)
        test = None
    else:
        test = eval_lib.evaluate_keras(model, test_ds)
    files: list[str] = []
    exported: dict[str, eval_lib.Accuracy] = {}
    if config.export_dir and chief:
        files, exported = export_lib.export(
            model,
            config.export_dir,
            arch=arch,
            class_names=train_info.class_names,
            representative=export_lib.representative_images(
                config.dataset,
                image_size=size,
                data_dir=config.data_dir,
                validation_size=config.validation_size,
                seed=config.seed,
            ),
            held_out=val_ds,
            eval_examples=config.export_eval_examples,
        )
    result = TrainResult(
        model=model,
        history=_history(history),
        initial_epoch=initial_epoch,
        epochs=config.epochs,
        seconds=seconds,
        validation=validation,
        test=test,
        exported=exported,
        files=tuple(files),
    )
    if config.model_dir and chief:
        _write_results(config, result, val_info)
    return result


def _write_results(config: TrainConfig, result: TrainResult, val_info: data.DatasetInfo) -> None:
    def acc(value: eval_lib.Accuracy | None):
        return None if value is None else dataclasses.asdict(value)

    summary = {
        "config": {**dataclasses.asdict(config), "recipe": dataclasses.asdict(config.recipe)},
        "initial_epoch": result.initial_epoch,
        "epochs": result.epochs,
        "train_seconds": result.seconds,
        "validation": acc(result.validation),
        "test": acc(result.test),
        "exported": {name: acc(value) for name, value in result.exported.items()},
        "files": list(result.files),
        "history": result.history,
        "validation_examples": val_info.num_examples,
    }
    path = os.path.join(config.model_dir, "results.json")
    with open(f"{path}.tmp", "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
    os.replace(f"{path}.tmp", path)


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
        history=_history(history),
        nan=bool(nan),
        epochs_completed=len(losses) - (1 if nan and losses else 0),
    )


# ---- the binary ----

_RECIPE_FLAGS = {  # flag → Recipe field; None keeps the recipe's default
    "optimizer": "optimizer",
    "learning_rate": "base_learning_rate",
    "warmup_epochs": "warmup_epochs",
    "lr_schedule": "schedule",
    "lr_decay_rate": "decay_rate",
    "lr_decay_epochs": "decay_epochs",
    "rmsprop_rho": "rmsprop_rho",
    "momentum": "momentum",
    "optimizer_epsilon": "epsilon",
    "label_smoothing": "label_smoothing",
    "weight_decay": "weight_decay",
    "dropout_rate": "dropout_rate",
    "ema_decay": "ema_decay",
    "bn_momentum": "bn_momentum",
    "bn_epsilon": "bn_epsilon",
    "clip_norm": "clip_norm",
}


def _define_flags() -> None:
    from absl import flags

    f = flags
    f.DEFINE_string("model", "mnasnet-a1", "Zoo name, arch string or arch JSON path.")
    f.DEFINE_float("width", 1.0, "Width multiplier.")
    f.DEFINE_string("dataset", "digits", "'digits', 'folder:<path>' or a tfds set (cifar10, ...).")
    f.DEFINE_string("data_dir", None, "tfds data directory (default ~/tensorflow_datasets).")
    f.DEFINE_bool("download", False, "Let tfds download and prepare a missing data set.")
    f.DEFINE_string("manual_dir", None, "Manually downloaded archives (imagenet2012).")
    f.DEFINE_integer("image_size", None, "Resolution (default: 32 for digits/CIFAR, else 224).")
    f.DEFINE_integer("batch_size", 64, "Global batch size.")
    f.DEFINE_integer("epochs", 15, "Total epochs (ImageNet reference: 350).")
    f.DEFINE_integer("steps_per_epoch", None, "Cap on steps per epoch.")
    f.DEFINE_string("validation_size", None, "Held-out count or fraction (default ~10%, ≤50K).")
    f.DEFINE_integer("seed", 0, "Seed of the validation hold-out and shuffling.")
    f.DEFINE_string("model_dir", None, "Checkpoints, TensorBoard logs, results.json; resumes.")
    f.DEFINE_string("export_dir", None, "Write model.keras and float32/int8 .tflite here.")
    f.DEFINE_integer("export_eval_examples", 1000, "Held-out images to evaluate exports on.")
    f.DEFINE_enum("strategy", "default", list(STRATEGIES), "tf.distribute strategy.")
    f.DEFINE_bool("jit_compile", False, "XLA (≈4.5× slower on CPU).")
    f.DEFINE_integer("verbose", 1, "Keras verbosity: 1 progbar, 2 a line per epoch, 0 none.")
    f.DEFINE_enum("optimizer", None, list(recipe_lib.OPTIMIZERS), "Recipe: optimizer.")
    f.DEFINE_float(
        "learning_rate",
        None,
        "Recipe: peak learning rate per 256 images (reference 0.016, for ImageNet at batch "
        ">= 1024; short CPU runs at batch 64 need ~0.004, e.g. digits).",
    )
    f.DEFINE_float("warmup_epochs", None, "Recipe: linear warm-up epochs (5).")
    f.DEFINE_enum("lr_schedule", None, list(recipe_lib.SCHEDULES), "Recipe: schedule.")
    f.DEFINE_float("lr_decay_rate", None, "Recipe: exponential decay factor (0.97).")
    f.DEFINE_float("lr_decay_epochs", None, "Recipe: epochs per decay step (2.4).")
    f.DEFINE_float("rmsprop_rho", None, "Recipe: RMSProp decay (0.9).")
    f.DEFINE_float("momentum", None, "Recipe: momentum (0.9).")
    f.DEFINE_float("optimizer_epsilon", None, "Recipe: optimizer epsilon (1e-3).")
    f.DEFINE_float("label_smoothing", None, "Recipe: label smoothing (0.1).")
    f.DEFINE_float("weight_decay", None, "Recipe: L2 on kernels (1e-5).")
    f.DEFINE_float("dropout_rate", None, "Recipe: dropout (default: the architecture's).")
    f.DEFINE_float("ema_decay", None, "Recipe: weight EMA decay, 0 for none (0.9999).")
    f.DEFINE_float("bn_momentum", None, "Recipe: BN momentum (0.99).")
    f.DEFINE_float("bn_epsilon", None, "Recipe: BN epsilon (1e-3).")
    f.DEFINE_float("clip_norm", None, "Recipe: global gradient-norm clipping (none).")


def config_from_flags(flag) -> TrainConfig:
    """The TrainConfig the parsed absl flags describe."""
    overrides = {
        field: getattr(flag, name)
        for name, field in _RECIPE_FLAGS.items()
        if getattr(flag, name) is not None
    }
    if overrides.get("ema_decay") == 0:
        overrides["ema_decay"] = None
    return TrainConfig(
        model=flag.model,
        width=flag.width,
        dataset=flag.dataset,
        data_dir=flag.data_dir,
        download=flag.download,
        manual_dir=flag.manual_dir,
        image_size=flag.image_size,
        batch_size=flag.batch_size,
        epochs=flag.epochs,
        steps_per_epoch=flag.steps_per_epoch,
        validation_size=eval_lib.parse_validation_size(flag.validation_size),
        seed=flag.seed,
        model_dir=flag.model_dir,
        export_dir=flag.export_dir,
        export_eval_examples=flag.export_eval_examples,
        strategy=flag.strategy,
        recipe=recipe_lib.Recipe().replace(**overrides),
        jit_compile=flag.jit_compile,
        verbose=flag.verbose,
    )


def _summary(config: TrainConfig, result: TrainResult, wall: float) -> str:
    ran = config.epochs - result.initial_epoch
    resumed = f", resumed at epoch {result.initial_epoch}" if result.initial_epoch else ""
    lines = [
        f"Trained {config.model} on {config.dataset}: {ran} epochs in {result.seconds:.0f} s"
        f"{resumed} (wall {wall:.0f} s).",
        f"  validation: {result.validation.describe()}",
    ]
    if result.test is not None:
        lines.append(f"  test:       {result.test.describe()}")
    for name, accuracy in result.exported.items():
        lines.append(f"  {name + ':':<20} {accuracy.describe()} (held-out)")
    files = list(result.files)
    if config.model_dir:
        files = [
            os.path.join(config.model_dir, p) for p in ("checkpoints", "logs", "results.json")
        ] + files
    lines += ["Wrote:"] + [f"  {path}" for path in files]
    return "\n".join(lines)


def _main(argv: list[str]) -> None:
    import sys

    from absl import app, flags

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    logging.getLogger("absl").setLevel(logging.WARNING)  # TF's per-checkpoint INFO lines
    start = time.perf_counter()
    try:
        config = config_from_flags(flags.FLAGS)
        result = train(config)
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"mnasnet-train: error: {error}")
    print(_summary(config, result, time.perf_counter() - start))


def run_main() -> None:
    """Console entry point of `mnasnet-train`."""
    from absl import app

    _define_flags()
    app.run(_main)


if __name__ == "__main__":
    run_main()
