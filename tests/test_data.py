"""Tests for mnasnet_tf/data.py: digits, image folders, mocked tfds sets, fail-fast when a set is
not prepared, the validation hold-out, preprocessing and argument errors."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from mnasnet_tf import data, preprocessing

WORDS = ("zero", "one", "two")


def _hashes(dataset) -> list[bytes]:
    return [image.tobytes() for images, _ in dataset for image in images.numpy()]


def _check_batch(dataset, *, batch: int, size: int, classes: int) -> None:
    images, labels = next(iter(dataset))
    assert images.shape == (batch, size, size, 3)
    assert images.dtype == tf.float32 and labels.dtype == tf.int32
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 255.0
    assert 0 <= int(tf.reduce_min(labels)) and int(tf.reduce_max(labels)) < classes


# ---- digits ----


@pytest.mark.slow
def test_digits_splits_cover_the_set_and_yield_0_255_rgb():
    sizes = {}
    for split in data.SPLITS:
        dataset, info = data.load("digits", split=split, image_size=32, batch_size=16)
        _check_batch(dataset, batch=16, size=32, classes=10)
        assert info.class_names == tuple(str(i) for i in range(10))
        sizes[split] = info.num_examples
    assert sum(sizes.values()) == 1797
    assert sizes["test"] == 360 and sizes["validation"] == data.default_validation_size(1437)


def test_digits_train_is_augmented_without_flip_and_eval_is_not():
    _, train = data.load("digits", split="train", image_size=32, batch_size=8)
    _, val = data.load("digits", split="validation", image_size=32, batch_size=8)
    assert train.augment == "pad_crop" and val.augment == "none"
    assert train.num_batches == train.num_examples // 8  # partial last batch dropped
    assert val.num_batches == -(-val.num_examples // 8)


@pytest.mark.slow
def test_validation_is_disjoint_from_train_and_fixed_by_seed():
    def split(name, seed):
        dataset, _ = data.load(
            "digits", split=name, image_size=32, batch_size=64, augment="none", seed=seed,
            drop_remainder=False,
        )  # fmt: skip
        return _hashes(dataset)

    train, validation = split("train", 0), split("validation", 0)
    test = split("test", 0)
    assert not set(train) & set(validation)
    assert not (set(train) | set(validation)) & set(test)
    assert len(set(train)) + len(set(validation)) == 1437
    assert sorted(split("validation", 0)) == sorted(validation)  # reproducible
    assert set(split("validation", 1)) != set(validation)  # another seed, another hold-out
    assert sorted(split("test", 1)) == sorted(test)  # the test split never moves


@pytest.mark.parametrize(("size", "expected"), [(0.25, 359), (100, 100)])
def test_validation_size_as_fraction_or_count(size, expected):
    _, info = data.load(
        "digits", split="validation", image_size=32, batch_size=8, validation_size=size
    )
    assert info.num_examples == expected


@pytest.mark.parametrize("size", [0, 1437, 1.5, -3, "10%"])
def test_bad_validation_size_is_refused(size):
    with pytest.raises(ValueError, match="validation_size"):
        data.load("digits", split="train", image_size=32, batch_size=8, validation_size=size)


# ---- image folders ----


def _write_folder(root, layout: str) -> dict[str, int]:
    """Digits images as PNGs in class folders named zero/one/two; returns files per split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    counts = {}
    splits = {"": 60} if layout == "plain" else {"train": 45, "test": 15}
    start = 0
    for split, per_split in splits.items():
        counts[split or "train"] = 0
        for label, word in enumerate(WORDS):
            folder = os.path.join(root, split, word)
            os.makedirs(folder)
            indices = np.flatnonzero(digits.target == label)[start : start + per_split // 3]
            for i in indices:
                image = np.repeat((digits.images[i] * 255 / 16).astype(np.uint8)[..., None], 3, -1)
                png = tf.io.encode_png(image).numpy()
                with open(os.path.join(folder, f"{i}.png"), "wb") as handle:
                    handle.write(png)
            counts[split or "train"] += len(indices)
        start += per_split // 3
    return counts


@pytest.mark.slow
def test_plain_image_folder_loads_with_its_class_names(tmp_path):
    counts = _write_folder(tmp_path, "plain")
    name = f"folder:{tmp_path}"
    train, info = data.load(name, split="train", image_size=32, batch_size=4, validation_size=12)
    val, val_info = data.load(name, split="validation", image_size=32, batch_size=4,
                              validation_size=12)  # fmt: skip
    assert info.class_names == ("one", "two", "zero")  # sorted folder names
    assert info.num_examples + val_info.num_examples == counts["train"] == 60
    assert val_info.num_examples == 12 and info.augment == "pad_crop_flip"
    _check_batch(train, batch=4, size=32, classes=3)
    labels = np.concatenate([y.numpy() for _, y in val])
    assert set(labels) <= {0, 1, 2}
    with pytest.raises(ValueError, match="no test split"):
        data.load(name, split="test", image_size=32, batch_size=4)


def test_split_image_folder_has_a_test_split(tmp_path):
    counts = _write_folder(tmp_path, "split")
    name = f"folder:{tmp_path}"
    test, info = data.load(name, split="test", image_size=32, batch_size=5)
    _, train_info = data.load(name, split="train", image_size=32, batch_size=5)
    assert info.num_examples == counts["test"] == 15
    assert train_info.num_examples == counts["train"] - data.default_validation_size(45)
    assert info.class_names == train_info.class_names == ("one", "two", "zero")
    _check_batch(test, batch=5, size=32, classes=3)


def test_empty_or_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no class folders"):
        data.load(f"folder:{tmp_path}", split="train", image_size=32, batch_size=4)
    with pytest.raises(ValueError, match="not a directory"):
        data.load(f"folder:{tmp_path}/nope", split="train", image_size=32, batch_size=4)


# ---- tfds (mocked) ----


@pytest.mark.slow
def test_mock_cifar10_shapes_and_classes():
    with tfds.testing.mock_data(num_examples=24):
        for split in data.SPLITS:
            dataset, info = data.load("cifar10", split=split, image_size=32, batch_size=4)
            _check_batch(dataset, batch=4, size=32, classes=10)
            assert info.num_classes == len(info.class_names) == 10
    assert data.default_image_size("cifar10") == 32


@pytest.mark.slow
@pytest.mark.parametrize("size", [64, 224])
def test_mock_imagenet2012_shapes_at_two_resolutions(size):
    with tfds.testing.mock_data(num_examples=6):
        train, info = data.load("imagenet2012", split="train", image_size=size, batch_size=2)
        test, test_info = data.load("imagenet2012", split="test", image_size=size, batch_size=2)
        _check_batch(train, batch=2, size=size, classes=1000)
        _check_batch(test, batch=2, size=size, classes=1000)
    assert info.num_classes == 1000
    assert info.augment == ("pad_crop_flip" if size <= 64 else "resized_crop_flip")
    assert test_info.augment == "none"


# ---- fail fast when a set is not prepared ----


def _forbid_downloads(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("load must not start a download here")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", refuse)


def test_unprepared_set_without_download_says_how_to_prepare(tmp_path, monkeypatch):
    _forbid_downloads(monkeypatch)
    with pytest.raises(data.DatasetNotPreparedError) as error:
        data.load("cifar10", split="train", image_size=32, batch_size=8, data_dir=str(tmp_path))
    message = str(error.value)
    assert f"tfds build cifar10 --data_dir={tmp_path}" in message
    assert "download=True" in message


def test_unprepared_set_with_download_but_no_network_fails_before_downloading(
    tmp_path, monkeypatch
):
    _forbid_downloads(monkeypatch)

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr("socket.create_connection", no_network)
    with pytest.raises(data.DatasetNotPreparedError, match="cannot be reached") as error:
        data.load(
            "cifar10", split="test", image_size=32, batch_size=8, data_dir=str(tmp_path),
            download=True,
        )  # fmt: skip
    assert "tfds build cifar10" in str(error.value)


def test_unprepared_imagenet_names_the_manual_archives(tmp_path, monkeypatch):
    _forbid_downloads(monkeypatch)
    with pytest.raises(data.DatasetNotPreparedError) as error:
        data.load("imagenet2012", split="train", image_size=224, batch_size=8,
                  data_dir=str(tmp_path))  # fmt: skip
    message = str(error.value)
    assert "ILSVRC2012_img_train.tar" in message and "--manual_dir=" in message


# ---- argument errors and preprocessing ----


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "no_such_set"}, "expected 'digits', 'folder:<path>' or a tfds"),
        ({"name": "glue/cola"}, "not an image-classification"),
        ({"split": "val"}, "split must be one of"),
        ({"augment": "flip"}, "augment must be one of"),
        ({"image_size": 0}, "image_size must be a positive integer"),
        ({"batch_size": 5000}, "larger than the"),
    ],
)
def test_bad_arguments_name_what_is_accepted(kwargs, match):
    args = {"name": "digits", "split": "train", "image_size": 32, "batch_size": 8, **kwargs}
    name = args.pop("name")
    with pytest.raises(ValueError, match=match):
        data.load(name, **args)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("augment", ["none", "pad_crop_flip", "resized_crop_flip"])
def test_preprocess_any_image_to_0_255_rgb(channels, augment):
    image = tf.random.uniform((50, 70, channels), 0, 256, dtype=tf.int32)
    out = preprocessing.preprocess(tf.cast(image, tf.uint8), image_size=40, augment=augment)
    assert out.shape == (40, 40, 3) and out.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(out)) and float(tf.reduce_max(out)) <= 255.0


def test_eval_preprocessing_centre_crops_large_images_only():
    image = tf.reshape(tf.range(256 * 256, dtype=tf.float32) % 251, (256, 256, 1))
    small = preprocessing.preprocess(image, image_size=64, augment="none")
    large = preprocessing.preprocess(image, image_size=224, augment="none")
    resized = tf.image.resize(tf.image.grayscale_to_rgb(image), (64, 64))
    np.testing.assert_allclose(small.numpy(), resized.numpy(), atol=1e-3)
    crop = 256 * 224 // (224 + preprocessing.CROP_PADDING)
    offset = (256 - crop + 1) // 2
    expected = tf.image.resize(
        tf.image.grayscale_to_rgb(image)[offset : offset + crop, offset : offset + crop], (224, 224)
    )
    np.testing.assert_allclose(large.numpy(), expected.numpy(), atol=1e-3)
