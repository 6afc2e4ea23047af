"""The data set settings every binary that trains or evaluates declares (`--dataset`,
`--data_dir`, `--train_subset`), declared once here (tflite_bench/settings.py fields).
TensorFlow-free, so the search configs stay light."""

from __future__ import annotations

from typing import Any

from tflite_bench import settings

DATASET_HELP = "Data set: digits, fashion_mnist (offline idx files), folder:<path> or a tfds name."


def dataset(default: str = "digits") -> Any:
    """The `--dataset` field (see `mnasnet_tf.data.load`)."""
    return settings.setting(default, nonempty=True, help=DATASET_HELP)


def data_dir() -> Any:
    """The `--data_dir` field."""
    return settings.setting(
        None, help="Where the data set is (tfds data directory; fashion_mnist's idx files)."
    )


def train_subset() -> Any:
    """The `--train_subset` field (None: the whole train split)."""
    return settings.setting(
        None,
        minimum=1,
        help=(
            "Train on a stratified, seeded subset of this many training examples (digits, "
            "fashion_mnist, folder:<path>; after the validation hold-out); default: all of them."
        ),
    )
