"""The proxy task: how a candidate architecture is trained briefly and scored, reproducibly.

Owns `ProxyTask` (the budget every candidate and every reference model gets), `arch_seed` (the
seeding policy: weights, data order and augmentation of a proxy run follow from the search seed
and the architecture, so re-running an architecture reproduces its accuracy on the same
machine), `ProxyData` (the data, loaded once, with a freshly and deterministically shuffled
training pipeline per seed) and `run_proxy` (k seeded runs → mean and std of held-out top-1).

`ProxyTask` and `arch_seed` are TF-free; TensorFlow and the training code are imported lazily
by `ProxyData` and `run_proxy`. Must not import the tuner, oracle or reports.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from collections.abc import Sequence
from typing import Any

from mnasnet_tf import arch_string, specs
from tflite_bench import checks


@dataclasses.dataclass(frozen=True)
class ProxyTask:
    """The proxy every sampled model (and every reference model) is trained on.

    Attributes:
      image_size: proxy training resolution.
      epochs: proxy epochs.
      classes: classes of the data set.
      steps_per_epoch: cap on steps per epoch (None: one pass over the training split).
      learning_rate: proxy learning rate (None: the proxy recipe's).
      verbose: Keras verbosity of proxy training.
      repeats: seeded runs per architecture; the accuracy is their mean, its std is recorded.
    """

    image_size: int = 32
    epochs: int = 5
    classes: int = 10
    steps_per_epoch: int | None = None
    learning_rate: float | None = None
    verbose: int = 0
    repeats: int = 1

    def __post_init__(self) -> None:
        for name in ("image_size", "epochs", "classes", "repeats"):
            value = getattr(self, name)
            if not checks.is_positive_int(value):
                raise ValueError(f"proxy {name} must be a positive integer; got {value!r}")
        if self.classes < 2:
            raise ValueError(f"proxy classes must be at least 2; got {self.classes}")
        if self.steps_per_epoch is not None and (
            not isinstance(self.steps_per_epoch, int) or self.steps_per_epoch < 1
        ):
            raise ValueError(
                f"proxy steps_per_epoch must be a positive integer or None; "
                f"got {self.steps_per_epoch!r}"
            )
        if self.learning_rate is not None and not (
            isinstance(self.learning_rate, (int, float))
            and math.isfinite(self.learning_rate)
            and self.learning_rate > 0
        ):
            raise ValueError(
                f"proxy learning_rate must be positive and finite; got {self.learning_rate!r}"
            )

    def identity(self) -> dict[str, Any]:
        """What decides a proxy result (everything but verbosity): the key of cached results."""
        data = dataclasses.asdict(self)
        data.pop("verbose")
        return data


def _arch_text(arch: specs.ArchSpec | str) -> str:
    if isinstance(arch, str):
        return arch
    # The blocks and the conventions decide the model; the name does not.
    data = arch_string.to_json_dict(arch)
    data.pop("name", None)
    return repr(sorted(data.items()))


def arch_seed(search_seed: int, arch: specs.ArchSpec | str, repeat: int = 0) -> int:
    """The seed of one proxy run: a 31-bit integer from the search seed, the architecture (an
    `ArchSpec` or its string) and the repeat index. Pure and stable across processes."""
    text = f"{int(search_seed)}|{int(repeat)}|{_arch_text(arch)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


VALIDATION_IN_MEMORY_BYTES = 256 * 2**20
"""A validation split up to this size (as float32 images) is kept in memory as batches."""


class ProxyData:
    """The proxy data set: the validation split is loaded once (and kept in memory as batches
    when it is small, as digits and CIFAR's are, so no trial runs its pipeline again);
    `train(seed)` makes a training pipeline whose order and augmentation are fixed by `seed`
    (a new one per call, so a run's batches do not depend on the runs before it)."""

    def __init__(
        self,
        dataset: str = "digits",
        *,
        image_size: int = 32,
        batch_size: int = 64,
        data_dir: str | None = None,
        split_seed: int = 0,
        train_subset: int | None = None,
    ) -> None:
        from mnasnet_tf import data

        self.dataset = dataset
        self.image_size = image_size
        self.batch_size = batch_size
        self.data_dir = data_dir
        self.split_seed = split_seed
        self.train_subset = train_subset
        self._validation, info = data.load(
            dataset,
            split="validation",
            image_size=image_size,
            batch_size=batch_size,
            data_dir=data_dir,
            seed=split_seed,
        )
        self.num_classes = info.num_classes
        if info.num_examples * image_size * image_size * 3 * 4 <= VALIDATION_IN_MEMORY_BYTES:
            self._validation = [(x.numpy(), y.numpy()) for x, y in self._validation]
        # Fails now (a bad name, a batch larger than the split) rather than in the first trial.
        self.train(split_seed)

    def config(self) -> dict[str, Any]:
        """The constructor's arguments: another process builds the same data from them."""
        return {
            "dataset": self.dataset,
            "image_size": self.image_size,
            "batch_size": self.batch_size,
            "data_dir": self.data_dir,
            "split_seed": self.split_seed,
            "train_subset": self.train_subset,
        }

    def train(self, shuffle_seed: int):
        """The training split, shuffled and augmented as `shuffle_seed` decides."""
        from mnasnet_tf import data

        dataset, _ = data.load(
            self.dataset,
            split="train",
            image_size=self.image_size,
            batch_size=self.batch_size,
            data_dir=self.data_dir,
            seed=self.split_seed,
            shuffle_seed=shuffle_seed,
            train_subset=self.train_subset,
        )
        return dataset

    def validation(self):
        """The held-out split the proxy accuracy is measured on: `(images, labels)` batches."""
        return self._validation


class FixedData:
    """Ready-made `(train, validation)` pipelines as proxy data (no per-seed shuffling: the
    weights are still seeded). For callers that pass datasets to `tuner.search`."""

    def __init__(self, train_ds, validation_ds) -> None:
        self._train = train_ds
        self._validation = validation_ds

    def train(self, shuffle_seed: int):
        """The training pipeline as given (its order is not re-seeded)."""
        del shuffle_seed
        return self._train

    def validation(self):
        """The validation pipeline as given."""
        return self._validation


@dataclasses.dataclass(frozen=True)
class ProxyOutcome:
    """The proxy result of one architecture over `len(seeds)` seeded runs."""

    accuracy: float
    accuracy_std: float
    accuracies: tuple[float, ...]
    seeds: tuple[int, ...]
    train_seconds: float
    nan: bool
    epochs_completed: int


def run_proxy(
    arch: specs.ArchSpec,
    *,
    task: ProxyTask,
    data: ProxyData | FixedData,
    search_seed: int,
    callbacks: Sequence[Any] = (),
    keep_model: bool = False,
) -> tuple[ProxyOutcome, Any]:
    """Trains `arch` on the proxy `task.repeats` times, seeded by `arch_seed(search_seed, arch,
    repeat)`, and returns the outcome (mean and std of held-out top-1) and, with `keep_model`,
    the model of the first run (None otherwise). A NaN loss in any run ends the runs with
    `nan=True`; training errors propagate."""
    import keras

    from mnasnet_tf import builder, proxy_train

    accuracies, seeds, kept = [], [], None
    seconds, epochs_completed, nan = 0.0, 0, False
    for repeat in range(task.repeats):
        seed = arch_seed(search_seed, arch, repeat)
        keras.utils.clear_session(free_memory=True)
        keras.utils.set_random_seed(seed)
        start = time.perf_counter()
        model = builder.build_model(
            arch, input_shape=(task.image_size, task.image_size, 3), classes=task.classes
        )
        result = proxy_train.train_proxy(
            model,
            data.train(seed),
            data.validation(),
            epochs=task.epochs,
            steps_per_epoch=task.steps_per_epoch,
            learning_rate=task.learning_rate,
            verbose=task.verbose,
            callbacks=list(callbacks),
        )
        seconds += time.perf_counter() - start
        seeds.append(seed)
        epochs_completed = result.epochs_completed
        if result.nan:
            nan = True
            break
        accuracies.append(float(result.val_accuracy))
        if keep_model and kept is None:
            kept = model
    mean = sum(accuracies) / len(accuracies) if accuracies and not nan else 0.0
    std = (
        math.sqrt(sum((a - mean) ** 2 for a in accuracies) / (len(accuracies) - 1))
        if len(accuracies) > 1 and not nan
        else 0.0
    )
    outcome = ProxyOutcome(
        accuracy=mean,
        accuracy_std=std,
        accuracies=tuple(accuracies),
        seeds=tuple(seeds),
        train_seconds=seconds,
        nan=nan,
        epochs_completed=epochs_completed,
    )
    return outcome, kept
