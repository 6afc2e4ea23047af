"""Full training of one architecture with a recipe, resumable: `TrainConfig` → `train`.

Owns `TrainConfig` → `train` (build from `zoo.resolve_arch`, compile with a `recipe.Recipe`,
checkpoint model + optimizer + weight EMA + epoch in `model_dir` after every epoch, resume from
the last checkpoint with the optimizer's step counter and so the learning-rate schedule where
they were, TensorBoard logs in `model_dir/logs`, BN statistics re-estimated before validation
and at the end, export through export.py) and the files a run leaves in `model_dir`
(run.json, the run's identity a resume must match; results.json).

The search's short proxy training is proxy_train.py; the `mnasnet-train` binary (flags →
`TrainConfig` → `train`) is search/cli/mnasnet_train.py.

Imports tflite_bench only through export.py and eval.py, `tflite_bench.files` for atomic writes
and `tflite_bench.settings` for the declared, validated fields. Must not import search/ or absl
flags.
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import os
import shutil
import time
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from mnasnet_tf import arch_string, data, data_settings, zoo
from mnasnet_tf import eval as eval_lib
from mnasnet_tf import export as export_lib
from mnasnet_tf import recipe as recipe_lib
from tflite_bench import binary, files, settings

log = logging.getLogger(__name__)

STRATEGIES = ("default", "mirrored", "multi_worker")
VERBOSITIES = (0, 1, 2)
"""Keras verbosity: silent, progbar, one line per epoch."""
RUN_FILE = "run.json"
"""In model_dir: what the checkpoints were trained on; a resume must match it."""
RESULTS_FILE = "results.json"
"""In model_dir: the config, the accuracies, the exported files and the history of the run."""
_RUN_IDENTITY = (
    "arch",
    "dataset",
    "train_subset",
    "image_size",
    "batch_size",
    "validation_size",
    "seed",
)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One training run, one field per `mnasnet-train` flag but the recipe's: the flags are
    generated from the declared fields (default, help, allowed values; tflite_bench/settings.py).
    Validated on construction with errors that name the flag and the bad value. The data fields
    are those of `data.load`, which checks them further.

    Beyond the flags' help: `image_size` is at least 32 (the smallest input the models take);
    `batch_size` is split across replicas; `epochs` counts those of a resumed run;
    `steps_per_epoch` None is one pass over the training split; `export_eval_examples` 0
    evaluates no export. `recipe` (the hyperparameters) is not a flag: the binary's recipe flags
    override fields of `recipe.Recipe()`.
    """

    model: str = settings.setting(
        "mnasnet-a1", nonempty=True, help="Zoo name, arch string or arch JSON path."
    )
    width: float = settings.setting(1.0, above=0, help="Width multiplier.")
    dataset: str = data_settings.dataset()
    data_dir: str | None = settings.setting(
        None, help="tfds data directory (default ~/tensorflow_datasets)."
    )
    train_subset: int | None = data_settings.train_subset()
    download: bool = settings.setting(
        False, help="Let tfds download and prepare a missing data set."
    )
    manual_dir: str | None = settings.setting(
        None, help="Manually downloaded archives (imagenet2012)."
    )
    image_size: int | None = settings.setting(
        None,
        minimum=32,
        help="Resolution (default: 32 for digits/CIFAR, else 224).",
    )
    batch_size: int = settings.setting(64, minimum=1, help="Global batch size.")
    epochs: int = settings.setting(
        15,
        minimum=1,
        help="Total epochs (ImageNet reference: 350).",
    )
    steps_per_epoch: int | None = settings.setting(None, minimum=1, help="Cap on steps per epoch.")
    validation_size: int | float | None = settings.setting(
        None,
        parse=settings.count_or_fraction("validation_size"),
        help="Held-out count or fraction (default ~10%, ≤50K).",
    )
    seed: int = settings.setting(0, help="Seed of the validation hold-out and shuffling.")
    model_dir: str | None = settings.setting(
        None, help="Checkpoints, TensorBoard logs, results.json; resumes."
    )
    export_dir: str | None = settings.setting(
        None, help="Write model.keras and float32/int8 .tflite here."
    )
    export_eval_examples: int = settings.setting(
        1000, minimum=0, help="Held-out images to evaluate exports on."
    )
    strategy: str = settings.setting("default", choices=STRATEGIES, help="tf.distribute strategy.")
    recipe: recipe_lib.Recipe = dataclasses.field(default_factory=recipe_lib.Recipe)
    jit_compile: bool = settings.setting(False, help="XLA (≈4.5× slower on CPU).")
    verbose: int = settings.setting(
        1,
        choices=VERBOSITIES,
        help="Keras verbosity: 1 progbar, 2 a line per epoch, 0 none.",
    )

    def __post_init__(self) -> None:
        settings.validate(self)
        if not isinstance(self.recipe, recipe_lib.Recipe):
            raise ValueError(f"recipe must be a recipe.Recipe; got {self.recipe!r}")


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


class _StopOnCtrlC(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at the next batch once Ctrl-C reached the binary
    (`binary.ctrl_c_pressed`), should TensorFlow's C code have swallowed the first one."""

    def _check(self, *args, **kwargs):
        if binary.ctrl_c_pressed():
            raise KeyboardInterrupt

    on_train_batch_end = on_test_batch_end = on_epoch_end = _check


def _run_identity(config: TrainConfig, arch, image_size: int) -> dict[str, Any]:
    return {
        "arch": arch_string.to_json_dict(arch),
        "dataset": config.dataset,
        "train_subset": config.train_subset,
        "image_size": image_size,
        "batch_size": config.batch_size,
        "validation_size": config.validation_size,
        "seed": config.seed,
    }


def _check_run_file(model_dir: str, identity: dict[str, Any], write: bool) -> None:
    path = os.path.join(model_dir, RUN_FILE)
    if os.path.exists(path):
        try:
            previous = files.read_json(path)
        except files.CorruptFileError as error:
            raise ValueError(
                f"{error}: it says what the checkpoints in {model_dir} were trained on; delete "
                "it to resume without that check, or use another model_dir"
            ) from None
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
        files.atomic_write_json(path, identity, indent=2, make_dirs=True)


def _checkpoint_number(index_file: str) -> int:
    stem = os.path.basename(index_file)[: -len(".index")]
    number = stem.rpartition("-")[2]
    return int(number) if number.isdigit() else -1


def restore_latest_intact(checkpoint: tf.train.Checkpoint, ckpt_dir: str) -> str | None:
    """Restores into `checkpoint` the newest checkpoint in `ckpt_dir` that reads back whole and
    returns its path (None when there is none). A damaged one (cut short by a full disk or a
    kill while it was written) is named in a warning and the one before it is used; ValueError
    naming the folder when none is intact. Leftover `*_temp` folders of an interrupted save are
    removed."""
    for leftover in glob.glob(os.path.join(ckpt_dir, "*_temp")):
        shutil.rmtree(leftover, ignore_errors=True)
    indexes = sorted(glob.glob(os.path.join(ckpt_dir, "*.index")), key=_checkpoint_number)
    damaged = []
    for index in reversed(indexes):
        path = index[: -len(".index")]
        try:
            reader = tf.train.load_checkpoint(path)
            for name in reader.get_variable_to_shape_map():
                reader.get_tensor(name)  # reads every tensor: a cut-short data file fails here
            checkpoint.restore(path).assert_existing_objects_matched()
        except (tf.errors.OpError, ValueError, IndexError, AssertionError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            log.warning(
                "checkpoint %s is damaged (%s: %s); trying the one before it",
                path,
                type(error).__name__,
                reason[:200],
            )
            damaged.append(os.path.basename(path))
            continue
        return path
    if damaged:
        raise ValueError(
            f"no intact checkpoint in {ckpt_dir} ({', '.join(damaged)} damaged): delete that "
            "folder to train from the start, or use another model_dir"
        )
    return None


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
        train_subset=config.train_subset,
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
        latest = restore_latest_intact(checkpoint, ckpt_dir)
        if latest:
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
    all_callbacks.append(_StopOnCtrlC())
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
        history=recipe_lib.history_dict(history),
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
    files.atomic_write_json(os.path.join(config.model_dir, RESULTS_FILE), summary, indent=2)
