"""NetAdapt's data and training: the three splits, the starting model, and the fine-tunes.

Owns `Splits` (train fine-tunes, validation scores proposals, test reports), `starting_model`
(a trained `.keras` read back with its arch.json, or an architecture trained here first) and
`fine_tune` (short-term and long-term fine-tuning with the proxy task's recipe, then held-out
accuracy after BN re-estimation).

Imports TensorFlow and mnasnet_tf; not the loop or its outputs.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

import keras

from mnasnet_tf import builder, data, specs, zoo
from mnasnet_tf import eval as eval_lib
from mnasnet_tf import proxy_train as proxy_lib
from mnasnet_tf import recipe as recipe_lib

log = logging.getLogger("mnasnet_tf.adapt")
BN_BATCHES = 20


class Splits:
    """The three splits: train (fine-tunes), validation (scores proposals), test (reports)."""

    def __init__(self, config: Any) -> None:
        self.image_size = config.image_size or data.default_image_size(
            config.dataset, data_dir=config.data_dir
        )
        common = {
            "image_size": self.image_size,
            "data_dir": config.data_dir,
            "validation_size": config.validation_size,
            "seed": config.seed,
            "batch_size": config.batch_size,
        }
        self.train, info = data.load(
            config.dataset, split="train", train_subset=config.train_subset, **common
        )
        self.validation, _ = data.load(config.dataset, split="validation", **common)
        self.test, _ = data.load(config.dataset, split="test", **common)
        self.classes = info.num_classes
        self.class_names = info.class_names
        self.steps_per_epoch = info.num_batches


def starting_model(config: Any, splits: Splits) -> tuple[specs.ArchSpec, keras.Model, float, int]:
    """The model to adapt, trained: (arch, model, its held-out accuracy, training steps spent
    on it here)."""
    shape = (splits.image_size, splits.image_size, 3)
    if config.model.endswith(".keras"):
        arch_path = os.path.join(os.path.dirname(os.path.abspath(config.model)), "arch.json")
        if not os.path.isfile(config.model):
            raise ValueError(f"model file {config.model!r} does not exist")
        if not os.path.isfile(arch_path):
            raise ValueError(
                f"{config.model!r} has no arch.json beside it ({arch_path}); export the model "
                "with mnasnet-train, or give its architecture (--model=ARCH) and retrain"
            )
        arch = zoo.resolve_arch(arch_path)
        loaded = keras.models.load_model(config.model, compile=False)
        classes = int(loaded.outputs[0].shape[-1])
        if classes != splits.classes or tuple(loaded.inputs[0].shape[1:3]) != shape[:2]:
            raise ValueError(
                f"{config.model!r} takes {tuple(loaded.inputs[0].shape[1:])} images to {classes} "
                f"classes; {config.dataset!r} needs {shape} to {splits.classes}"
            )
        model = builder.build_model(arch, input_shape=shape, classes=splits.classes)
        model.set_weights(loaded.get_weights())
        return arch, model, fine_tune(model, splits, config, 0), 0
    arch = zoo.resolve_arch(config.model)
    keras.utils.set_random_seed(config.seed)
    model = builder.build_model(arch, input_shape=shape, classes=splits.classes)
    if not config.pretrain_epochs:
        return arch, model, fine_tune(model, splits, config, 0), 0
    log.info("training %s for %d epochs before adapting it", arch.name, config.pretrain_epochs)
    result = proxy_lib.train_proxy(  # re-estimates BN and scores the validation split
        model, splits.train, splits.validation, epochs=config.pretrain_epochs, verbose=1
    )
    return arch, model, result.val_accuracy, config.pretrain_epochs * splits.steps_per_epoch


def fine_tune(model: keras.Model, splits: Splits, config: Any, steps: int) -> float:
    """Fine-tunes `model` `steps` steps at `config.learning_rate` (none: re-estimates its BN
    statistics only) and returns its held-out (validation) accuracy."""
    if not steps:
        recipe_lib.BatchNormCalibrator(model)(splits.train, BN_BATCHES)
        return eval_lib.evaluate_keras(model, splits.validation).top1
    epochs = math.ceil(steps / splits.steps_per_epoch)
    result = proxy_lib.train_proxy(
        model,
        splits.train,
        splits.validation,
        epochs=epochs,
        steps_per_epoch=math.ceil(steps / epochs),
        learning_rate=config.learning_rate,
    )
    return result.val_accuracy
