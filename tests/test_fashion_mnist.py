"""Tests for mnasnet_tf/fashion_mnist.py and `data.load('fashion_mnist')`: tiny idx files written
here (each image filled with its own id, so a pipeline's images can be traced to the file), the
splits and the stratified hold-out, where the files are looked for, every malformed file refused
by name, `train_subset` and the default augmentation. One test reads the real files if this
machine has them."""

from __future__ import annotations

import dataclasses
import gzip
import os
import re
import struct

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from mnasnet_tf import data, fashion_mnist, preprocessing

TRAIN, TEST = 40, 20
LOAD = {"image_size": 32, "batch_size": 8}


def _idx(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return struct.pack(f">I{len(dims)}I", magic, *dims) + payload


def _write(path, content: bytes, *, gz: bool = True) -> None:
    if gz:
        with gzip.open(f"{path}.gz", "wb") as handle:
            handle.write(content)
    else:
        with open(path, "wb") as handle:
            handle.write(content)


def _write_set(folder, *, first_id: int = 0, gz: bool = True) -> None:
    """40 train and 20 test 28×28 images, image i filled with `first_id + i` (test: + 100),
    labels i % 10."""
    os.makedirs(folder, exist_ok=True)
    for split, count, offset in (("train", TRAIN, 0), ("test", TEST, 100)):
        ids = np.arange(count, dtype=np.uint8) + first_id + offset
        images = np.repeat(ids, 28 * 28).tobytes()
        labels = (np.arange(count) % 10).astype(np.uint8).tobytes()
        images_name, labels_name = fashion_mnist.FILES[split]
        _write(os.path.join(folder, images_name), _idx(2051, (count, 28, 28), images), gz=gz)
        _write(os.path.join(folder, labels_name), _idx(2049, (count,), labels), gz=gz)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real copy is seen: HOME, Keras' cache and the system folder point into tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", str(tmp_path / "system"))
    return tmp_path


def _examples(split: str, **kwargs) -> list[tuple[int, int]]:
    """(image id, label) of every example of the split, in file order."""
    dataset, _ = data.load(
        "fashion_mnist", split=split, image_size=32, batch_size=64, augment="none",
        shuffle=False, drop_remainder=False, **kwargs,
    )  # fmt: skip
    pairs = []
    for images, labels in dataset:
        ids = np.round(images.numpy()[:, 16, 16, 0]).astype(int).tolist()
        pairs += zip(ids, labels.numpy().tolist(), strict=True)
    return pairs


def _snapshot(root) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
    }


# ---- splits ----


def test_each_split_has_its_counts_shapes_and_labels(isolated):
    folder = isolated / "data"
    _write_set(folder)
    infos = {}
    for split in data.SPLITS:
        dataset, info = data.load("fashion_mnist", split=split, data_dir=str(folder), **LOAD)
        images, labels = next(iter(dataset))
        assert images.shape == (8, 32, 32, 3) and images.dtype.name == "float32"
        assert labels.dtype.name == "int32"
        infos[split] = info
    held = data.default_validation_size(TRAIN)
    assert infos["train"].num_examples == TRAIN - held
    assert infos["validation"].num_examples == held
    assert infos["test"].num_examples == TEST
    assert infos["train"].class_names == fashion_mnist.CLASS_NAMES
    assert fashion_mnist.CLASS_NAMES[0] == "T-shirt/top" and infos["test"].num_classes == 10
    assert fashion_mnist.CLASS_NAMES[7:9] == ("Sneaker", "Bag")  # the published order
    test = _examples("test", data_dir=str(folder))
    assert test == [(100 + i, i % 10) for i in range(TEST)]  # every test image, labels kept


def test_plain_files_without_gz_are_read_too(isolated):
    _write_set(isolated / "data", gz=False)
    assert len(_examples("test", data_dir=str(isolated / "data"))) == TEST


def test_hold_out_is_stratified_reproducible_and_disjoint_from_train(isolated):
    folder = str(isolated / "data")
    _write_set(folder)
    for size in (10, 20):  # 1 and 2 of the 4 images of each class
        validation = _examples("validation", data_dir=folder, validation_size=size)
        train = _examples("train", data_dir=folder, validation_size=size)
        assert sorted(np.bincount([label for _, label in validation])) == [size // 10] * 10
        assert not {i for i, _ in train} & {i for i, _ in validation}
        assert sorted(train + validation) == [(i, i % 10) for i in range(TRAIN)]
    validation = _examples("validation", data_dir=folder, validation_size=10)
    assert _examples("validation", data_dir=folder, validation_size=10) == validation
    other = _examples("validation", data_dir=folder, validation_size=10, seed=1)
    assert other != validation  # another seed, another hold-out
    assert _examples("test", data_dir=folder, seed=1) == _examples("test", data_dir=folder)


# ---- where the files are found ----


def test_search_order_is_data_dir_its_subfolder_keras_cache_then_system(isolated, monkeypatch):
    home = str(isolated / "home")
    assert fashion_mnist.search_dirs("/d") == [
        "/d",
        "/d/fashion-mnist",
        f"{home}/.keras/datasets/fashion-mnist",
        fashion_mnist.SYSTEM_DIR,
    ]
    monkeypatch.setenv("KERAS_HOME", "/k")
    assert fashion_mnist.search_dirs(None)[0] == "/k/datasets/fashion-mnist"


def test_data_dir_comes_before_the_keras_cache_and_the_keras_cache_before_the_system(isolated):
    _write_set(isolated / "home" / ".keras" / "datasets" / "fashion-mnist", first_id=10)
    _write_set(isolated / "system", first_id=20)
    _write_set(isolated / "data" / "fashion-mnist", first_id=30)  # in data_dir's sub-folder
    assert _examples("test", data_dir=str(isolated / "data"))[0][0] == 130
    assert _examples("test", data_dir=str(isolated / "empty"))[0][0] == 110
    assert _examples("test")[0][0] == 110


def test_system_folder_is_the_last_resort(isolated):
    _write_set(isolated / "system", first_id=7)
    assert _examples("test")[0][0] == 107


def test_nothing_found_lists_the_places_and_both_ways_to_get_the_files(isolated):
    data_dir = isolated / "data"
    data_dir.mkdir()
    before = _snapshot(isolated)
    with pytest.raises(data.DatasetNotPreparedError) as error:
        data.load("fashion_mnist", split="train", data_dir=str(data_dir), **LOAD)
    assert isinstance(error.value, FileNotFoundError)
    message = str(error.value)
    for place in fashion_mnist.search_dirs(str(data_dir)):
        assert place in message
    assert "apt-get install -y dataset-fashion-mnist" in message
    assert "keras.datasets.fashion_mnist.load_data()" in message
    assert "train-images-idx3-ubyte" in message
    assert _snapshot(isolated) == before  # nothing written


def test_a_folder_with_some_of_the_files_says_which_it_lacks(isolated):
    _write_set(isolated / "data")
    for name in fashion_mnist.FILES["test"]:
        os.remove(isolated / "data" / f"{name}.gz")
    with pytest.raises(data.DatasetNotPreparedError, match="lacks t10k-images-idx3-ubyte"):
        data.load("fashion_mnist", split="train", data_dir=str(isolated / "data"), **LOAD)


def test_without_idx_files_a_tfds_prepared_copy_is_used(isolated):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):
        _, info = data.load("fashion_mnist", split="test", **LOAD)
        assert info.num_examples == 12 and info.class_names == fashion_mnist.CLASS_NAMES
        with pytest.raises(ValueError, match="train_subset needs the labels in memory"):
            data.load("fashion_mnist", split="train", train_subset=4, **LOAD)


# ---- malformed files ----


def _images(count=TRAIN, size=28, magic=2051) -> bytes:
    return _idx(magic, (count, size, size), bytes(count * size * size))


def _labels(values) -> bytes:
    return _idx(2049, (len(values),), bytes(values))


BAD_FILES = {
    "idx cut short": ("images", _images()[:-100], True, r"cut short: the header says 40 images"),
    "gzip cut short": ("images", None, False, "gzip stream is cut short"),
    "not gzip": ("images", b"not a gzip file at all", False, "not a readable gzip file"),
    "empty": ("labels", b"", True, "0 bytes, too short for an idx header"),
    "wrong magic": ("images", _images(magic=2049), True, r"magic number 2049 \(idx labels\)"),
    "wrong size": ("images", _images(size=32), True, "images of 32×32; expected 28×28"),
    "longer": ("labels", _labels([1] * TRAIN) + b"\0", True, "longer than its header says"),
    "label 12": ("labels", _labels([0] * 5 + [12] + [0] * 34), True, "12 at index 5"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_malformed_file_is_refused_by_name_and_nothing_is_written(isolated, case):
    which, content, compress, match = BAD_FILES[case]
    folder = isolated / "data"
    _write_set(folder)
    name = fashion_mnist.FILES["train"][0 if which == "images" else 1]
    path = folder / f"{name}.gz"
    if case == "gzip cut short":
        content = path.read_bytes()[: path.stat().st_size // 2]
    if compress:
        os.remove(path)
        _write(folder / name, content)
    else:
        path.write_bytes(content)
    before = _snapshot(isolated)
    with pytest.raises(ValueError, match=match) as error:
        data.load("fashion_mnist", split="train", data_dir=str(folder), **LOAD)
    assert str(path) in str(error.value)
    assert _snapshot(isolated) == before


def test_images_and_labels_of_different_counts_name_both_files(isolated):
    folder = isolated / "data"
    _write_set(folder)
    images, labels = (folder / f"{name}.gz" for name in fashion_mnist.FILES["train"])
    os.remove(labels)
    _write(folder / fashion_mnist.FILES["train"][1], _labels([0] * (TRAIN - 1)))
    with pytest.raises(ValueError, match="holds 40 images but .* holds 39 labels") as error:
        data.load("fashion_mnist", split="validation", data_dir=str(folder), **LOAD)
    assert str(images) in str(error.value) and str(labels) in str(error.value)


def test_decoded_arrays_are_cached_per_file_and_read_only(isolated):
    _write_set(isolated / "data")
    first = fashion_mnist.read_split(str(isolated / "data"), "train")
    assert fashion_mnist.read_split(str(isolated / "data"), "train") is first
    images, labels = first
    assert images.shape == (TRAIN, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int32 and not images.flags.writeable and not labels.flags.writeable


# ---- train_subset ----


@pytest.mark.parametrize("subset", [0, -1, 2.5, True, "10"])
def test_train_subset_must_be_a_positive_int(subset):
    match = f"train_subset must be a positive integer or None; got {re.escape(repr(subset))}"
    with pytest.raises(ValueError, match=match):
        data.load("fashion_mnist", split="train", train_subset=subset, **LOAD)


def test_train_subset_larger_than_the_train_split_names_both_counts(isolated):
    _write_set(isolated / "data")
    with pytest.raises(ValueError, match="train_subset=31 is larger than the 30 examples"):
        data.load("fashion_mnist", split="train", data_dir=str(isolated / "data"),
                  validation_size=10, train_subset=31, **LOAD)  # fmt: skip


def test_train_subset_is_stratified_seeded_and_leaves_validation_and_test(isolated):
    folder = str(isolated / "data")
    _write_set(folder)
    kwargs = {"data_dir": folder, "validation_size": 10}
    train = _examples("train", **kwargs)
    subset = _examples("train", train_subset=10, **kwargs)
    assert set(subset) <= set(train)
    assert sorted(label for _, label in subset) == list(range(10))  # one of each class
    assert _examples("train", train_subset=10, **kwargs) == subset
    assert _examples("train", train_subset=30, **kwargs) == train  # all of it
    for split in ("validation", "test"):
        assert _examples(split, train_subset=10, **kwargs) == _examples(split, **kwargs)


def test_train_subset_works_for_digits_and_is_refused_for_tfds_sets():
    _, info = data.load("digits", split="train", train_subset=50, **LOAD)
    assert info.num_examples == 50
    with pytest.raises(ValueError, match="tfds set 'cifar10' does not"):
        data.load("cifar10", split="train", train_subset=50, **LOAD)
    with pytest.raises(ValueError, match="train_subset=5000 is larger than the"):
        data.load("digits", split="train", train_subset=5000, **LOAD)


# ---- augmentation and size ----


def test_default_augmentation_flips_fashion_but_never_digits(isolated):
    for size in (32, 224):
        assert preprocessing.resolve_augment(None, name="fashion_mnist", image_size=size) == (
            "pad_crop_flip"
        )
        assert preprocessing.resolve_augment("auto", name="digits", image_size=size) == "pad_crop"
    _write_set(isolated / "data")
    _, train = data.load("fashion_mnist", split="train", data_dir=str(isolated / "data"), **LOAD)
    _, test = data.load("fashion_mnist", split="test", data_dir=str(isolated / "data"), **LOAD)
    assert train.augment == "pad_crop_flip" and test.augment == "none"
    assert data.default_image_size("fashion_mnist") == data.default_image_size("digits") == 32


# ---- the real files ----

REAL_DIR = fashion_mnist.find(None)[0]


@pytest.mark.skipif(
    REAL_DIR is None,
    reason="Fashion-MNIST's idx files are not in /usr/share/datasets/fashion-mnist/ or "
    "~/.keras/datasets/fashion-mnist/ (apt-get install -y dataset-fashion-mnist)",
)
def test_the_real_files_hold_60000_train_and_10000_test_images():
    counts = {}
    for split in data.SPLITS:
        dataset, info = data.load("fashion_mnist", split=split, **LOAD)
        images, labels = next(iter(dataset))
        assert images.shape == (8, 32, 32, 3) and int(labels.numpy().max()) <= 9
        counts[split] = info.num_examples
    assert counts["train"] + counts["validation"] == 60_000 and counts["test"] == 10_000
    assert counts["validation"] == data.default_validation_size(60_000)


# ---- --train_subset on every binary that trains ----

CONFIGS = (
    ("search.multitrial.config", "SearchConfig"),
    ("search.oneshot.config", "OneShotConfig"),
    ("search.adapt.config", "AdaptConfig"),
    ("search.proxy.check", "ProxyCheckConfig"),
    ("mnasnet_tf.train", "TrainConfig"),
)


@pytest.mark.parametrize("module, name", CONFIGS)
@pytest.mark.parametrize("bad", [0, -5])
def test_every_training_config_refuses_a_train_subset_below_one_by_name(
    module, name, bad, tmp_path
):
    import importlib

    cls = getattr(importlib.import_module(module), name)
    extra = {
        "OneShotConfig": {"output_dir": str(tmp_path)},
        "AdaptConfig": {
            "model": "mnasnet-a1",
            "output_dir": str(tmp_path),
            "latency_fraction": 0.5,
        },
    }.get(name, {})
    with pytest.raises(ValueError, match=rf"train_subset.*{bad}"):
        cls(train_subset=bad, **extra)
    assert cls(train_subset=100, **extra).train_subset == 100


def test_the_search_passes_train_subset_to_its_proxy_data_and_resumes_only_with_it():
    from search.multitrial import config as config_lib

    config = config_lib.SearchConfig(dataset="digits", train_subset=200)
    assert "train_subset" in config_lib.IDENTITY and config.identity()["train_subset"] == 200
    data = config.proxy_data()
    assert data.config()["train_subset"] == 200  # a trial's child rebuilds the same subset
    seen = sum(int(y.shape[0]) for _, y in data.train(0))
    assert seen == 192  # 200 examples in whole batches of 64


def test_adapt_and_proxy_check_refuse_to_resume_with_another_train_subset(tmp_path):
    from search.adapt import outputs
    from search.adapt.config import AdaptConfig
    from search.proxy import check

    adapt = AdaptConfig(model="mnasnet-a1", output_dir=str(tmp_path), latency_fraction=0.5)
    assert outputs._identity(dataclasses.replace(adapt, train_subset=500))["train_subset"] == 500
    proxy = check.ProxyCheckConfig(train_subset=500)
    assert check._identity(proxy)["train_subset"] == 500


def test_a_train_subset_larger_than_the_train_split_is_refused_before_the_search_starts():
    from search.multitrial import config as config_lib

    with pytest.raises(ValueError, match="train_subset=100000 is larger than"):
        config_lib.SearchConfig(dataset="digits", train_subset=100000).proxy_data()
