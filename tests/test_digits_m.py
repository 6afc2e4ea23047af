"""Tests for mnasnet_tf/digits_m.py: layout and counts, no source digit in both splits,
determinism, atomic writing, argument checks, the binary, and that data.load reads the folder."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mnasnet_tf import digits_m


def _tree_digest(root) -> dict[str, str]:
    """{relative path: sha1} of every file under `root`."""
    digests = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                digests[os.path.relpath(path, root)] = hashlib.sha1(handle.read()).hexdigest()
    return digests


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A variants=1, 32² digits-m folder and what write_digits_m returned."""
    path = tmp_path_factory.mktemp("digits_m") / "set"
    return path, digits_m.write_digits_m(str(path), variants=1, image_size=32, seed=0)


def _sklearn_split_counts() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    labels = load_digits().target
    train, test = train_test_split(labels, test_size=0.2, random_state=0, stratify=labels)
    return {"train": np.bincount(train, minlength=10), "test": np.bincount(test, minlength=10)}


@pytest.mark.slow
def test_layout_counts_and_metadata(folder):
    from PIL import Image

    path, result = folder
    assert sorted(os.listdir(path)) == ["dataset.json", "test", "train"]
    assert result["train"] == 1437 and result["test"] == 360 and result["classes"] == 10
    expected = _sklearn_split_counts()
    for split in ("train", "test"):
        assert sorted(os.listdir(path / split)) == [str(d) for d in range(10)]
        counts = [len(os.listdir(path / split / str(d))) for d in range(10)]
        # Each class holds exactly its sklearn split's source digits: none crossed splits.
        assert counts == expected[split].tolist()
        assert [result["per_class"][split][str(d)] for d in range(10)] == counts
    image = Image.open(path / "train" / "3" / sorted(os.listdir(path / "train" / "3"))[0])
    assert image.mode == "RGB" and image.size == (32, 32)
    metadata = json.loads((path / "dataset.json").read_text(encoding="utf-8"))
    assert metadata["counts"] == {"train": 1437, "test": 360}
    assert metadata["seed"] == 0 and metadata["variants"] == 1
    assert not [p for p in os.listdir(path.parent) if ".tmp-" in p]


@pytest.mark.slow
def test_variants_multiply_the_counts_and_size_is_respected(tmp_path):
    from PIL import Image

    result = digits_m.write_digits_m(str(tmp_path / "v2"), variants=2, image_size=16, seed=3)
    assert (result["train"], result["test"]) == (2 * 1437, 2 * 360)
    files = sorted(os.listdir(tmp_path / "v2" / "test" / "7"))
    assert len(files) == 2 * _sklearn_split_counts()["test"][7]
    assert Image.open(tmp_path / "v2" / "test" / "7" / files[0]).size == (16, 16)


@pytest.mark.slow
def test_same_seed_same_images_other_seed_other_images(folder, tmp_path):
    path, _ = folder
    again = tmp_path / "again"
    digits_m.write_digits_m(str(again), variants=1, image_size=32, seed=0)
    assert _tree_digest(again) == _tree_digest(path)
    other = tmp_path / "other"
    digits_m.write_digits_m(str(other), variants=1, image_size=32, seed=1)
    first, second = _tree_digest(path), _tree_digest(other)
    assert first.keys() == second.keys()
    images = [key for key in first if key.endswith(".png")]
    assert sum(first[key] != second[key] for key in images) > 0.99 * len(images)


def test_render_blends_the_digit_into_the_patch():
    rng = np.random.default_rng(0)
    photo = np.full((100, 100, 3), 40, np.uint8)
    digit = np.zeros((8, 8), np.float32)
    image = digits_m.render(digit, [photo], image_size=32, rng=rng)
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    background = 40 * digits_m.BACKGROUND_CONTRAST
    assert np.all(image == background)  # no stroke: the (dimmed) patch itself
    digit[:, 3:5] = 1.0  # a vertical bar
    image = digits_m.render(digit, [photo], image_size=32, rng=rng)
    assert image.max() == 255 - background  # |patch - 255| on the stroke
    assert np.mean(image == background) > 0.5  # the patch around it


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"variants": 0}, "--variants must be an integer >= 1; got 0"),
        ({"variants": True}, "--variants must be an integer >= 1; got True"),
        ({"variants": 1.5}, "--variants must be an integer >= 1; got 1.5"),
        ({"image_size": 8}, r"--image_size must be an integer in \[16, 256\]; got 8"),
        ({"image_size": 512}, "got 512"),
        ({"seed": -1}, "--seed must be an integer >= 0; got -1"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        digits_m.write_digits_m(str(tmp_path / "out"), **kwargs)
    assert not os.path.exists(tmp_path / "out")


def test_bad_output_dirs_are_named(tmp_path):
    with pytest.raises(ValueError, match="--output_dir must be non-empty; got ''"):
        digits_m.write_digits_m("")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ValueError, match=f"output_dir '{full}' exists and is not empty"):
        digits_m.write_digits_m(str(full), variants=1)
    assert os.listdir(full) == ["keep.txt"]
    file = tmp_path / "file"
    file.write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        digits_m.write_digits_m(str(file), variants=1)


@pytest.mark.slow
def test_an_empty_output_dir_is_filled(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = digits_m.write_digits_m(str(empty) + os.sep, variants=1, image_size=16)
    assert result["output_dir"] == str(empty) and result["train"] == 1437
    assert sorted(os.listdir(tmp_path)) == ["empty"]


def test_an_interrupted_run_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    calls = []
    render = digits_m.render

    def failing_render(*args, **kwargs):
        calls.append(1)
        if len(calls) > 50:
            raise KeyboardInterrupt
        return render(*args, **kwargs)

    monkeypatch.setattr(digits_m, "render", failing_render)
    with pytest.raises(KeyboardInterrupt):
        digits_m.write_digits_m(str(tmp_path / "out"), variants=1, image_size=16)
    assert os.listdir(tmp_path) == []  # neither the folder nor its staging copy


@pytest.mark.slow
def test_binary_prints_what_it_wrote_and_rejects_bad_flags(tmp_path, monkeypatch, capsys):
    from absl import app
    from binary_helpers import run_in_process

    out = tmp_path / "bin"
    binary = "search.cli.mnasnet_digits_m"
    run_in_process(binary, [f"--output_dir={out}", "--variants=1", "--image_size=16"], monkeypatch)
    printed = capsys.readouterr().out
    assert f"{out / 'train'}: 1437 images" in printed
    assert f"--dataset=folder:{out}" in printed
    with pytest.raises(app.UsageError, match="--variants must be an integer >= 1; got 0"):
        run_in_process(binary, [f"--output_dir={out}2", "--variants=0"], monkeypatch)
    with pytest.raises(app.UsageError, match=f"output_dir '{out}' exists and is not empty"):
        run_in_process(binary, [f"--output_dir={out}"], monkeypatch)
    assert not os.path.exists(f"{out}2")
    done = subprocess.run(  # the console binary: a usage error exits non-zero, naming it
        [sys.executable, "-m", binary, f"--output_dir={out}"], capture_output=True, text=True
    )
    assert done.returncode != 0 and f"output_dir '{out}' exists and is not empty" in done.stderr


@pytest.mark.slow
def test_data_load_reads_it_with_ten_classes(folder):
    from mnasnet_tf import data

    path, _ = folder
    expected = {"train": 1437 - 300, "validation": 300, "test": 360}
    for split, count in expected.items():
        dataset, info = data.load(f"folder:{path}", split=split, image_size=32, batch_size=16)
        assert info.num_classes == 10 and info.class_names == digits_m.CLASSES
        assert info.num_examples == count, split
        images, labels = next(iter(dataset))
        assert tuple(images.shape) == (16, 32, 32, 3) and tuple(labels.shape) == (16,)
        assert 0 <= float(np.min(images)) and float(np.max(images)) <= 255
        assert set(np.asarray(labels).tolist()) <= set(range(10))
