"""Input pipelines: tfds image-classification sets, image folders, Fashion-MNIST and digits.

`load(name, split=..., image_size=..., batch_size=...)` is the one entry point (and
`verify_folder(path)` checks a folder data set's images). Sources:

- a tfds image-classification set (`cifar10`, `cifar100`, `imagenet2012`, `imagenette/320px-v2`,
  `mnist`, ...), read from `data_dir` (tfds' default `~/tensorflow_datasets` when None). An
  unprepared set fails at once with `DatasetNotPreparedError` saying how to prepare it, unless
  `download=True` and the network answers (probed in ≤ 3 s before any download starts);
- `folder:<path>`: class sub-folders of .jpg/.jpeg/.png images, in either layout
  `<path>/<class>/<image>` (plain: train and validation only) or `<path>/train/<class>/<image>`
  plus an optional `<path>/test/` (or `val/`, `validation/`) folder for the test split; an
  optional `<path>/dataset.json` with {"augment": ...} sets the folder's default augmentation.
  A file that cannot be an image (empty, unreadable, another kind of file, judged by its first
  bytes) is refused by name; `verify_folder` decodes every image once (the search does before
  its first trial), naming those cut short or corrupt. A data set needs two classes or more.
  Labels are the sorted class-folder names, as in `tfds.folder_dataset.ImageFolder`, whose
  conventions this follows; it is not used itself because it needs split folders, has no
  sub-split API for the validation hold-out and decodes every image before a filter could drop
  it;
- `digits`: scikit-learn's bundled 8×8 handwritten digits (1797 real images, 10 classes, no
  download), upsampled to `image_size`: the default offline data set;
- `fashion_mnist`: Fashion-MNIST's four original idx files (60 000 train / 10 000 test 28×28
  grey images, 10 classes), found offline in `data_dir`, Keras' cache or Debian's
  `dataset-fashion-mnist` (fashion_mnist.py reads them); without them, a tfds-prepared
  `fashion_mnist` (or `download=True`) goes the tfds way above.

Splits: `train`; `validation`, a held-out part of the training data (the search reads its reward
from it, as MnasNet held out 50K ImageNet training images), fixed by `seed` and disjoint from
`train`; `test`, the set's own test split (its official validation split when it has no test
split, as for imagenet2012; a fixed 20% stratified split for digits). Fashion-MNIST's hold-out is
stratified (each class in proportion). `train_subset` keeps a stratified, seeded part of the
train split (digits, fashion_mnist's idx files and folders; a tfds set refuses it).

Preprocessing (augmentation, resizing) is in preprocessing.py. One normalisation convention:
every pipeline yields `(float32 RGB images in [0, 255], int32 labels)` batches and the models
rescale inside, so exported .tflite files take 0–255 float RGB as well.

Must not import search/ or tflite_bench/.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import re
import socket

import numpy as np
import tensorflow as tf

from mnasnet_tf import fashion_mnist
from mnasnet_tf.preprocessing import SMALL_IMAGE_MAX, preprocess, resolve_augment
from tflite_bench import checks

SPLITS = ("train", "validation", "test")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
MAX_VALIDATION_SIZE = 50_000
_CACHE_BYTES = 1 << 30
_SHUFFLE_BUFFER = 10_000
_PROBE_HOST = ("storage.googleapis.com", 443)


class DatasetNotPreparedError(FileNotFoundError):
    """A tfds data set is not prepared in data_dir and may not (or cannot) be downloaded."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a pipeline returned by `load` holds.

    Attributes:
      name: the data-set name as given to `load`.
      split: 'train', 'validation' or 'test'.
      num_classes: classifier width the labels need.
      class_names: one name per label index.
      num_examples: examples in this split (before dropping a partial last training batch).
      image_size: height and width of the yielded images.
      batch_size: images per batch.
      augment: the augmentation applied ('none' outside training).
      num_batches: batches per pass over the split.
    """

    name: str
    split: str
    num_classes: int
    class_names: tuple[str, ...]
    num_examples: int
    image_size: int
    batch_size: int
    augment: str
    num_batches: int


def default_validation_size(num_train: int) -> int:
    """Held-out examples by default: 10% of the training data, at least min(300, 25%), at most
    50 000 (MnasNet's ImageNet hold-out)."""
    return min(MAX_VALIDATION_SIZE, max(num_train // 10, min(300, num_train // 4)))


def _validation_count(validation_size: int | float | None, num_train: int) -> int:
    if validation_size is None:
        return default_validation_size(num_train)
    if isinstance(validation_size, float) and 0 < validation_size < 1:
        count = int(round(validation_size * num_train))
    elif checks.is_int(validation_size):
        count = validation_size
    else:
        raise ValueError(
            "validation_size must be a count (int), a fraction in (0, 1) or None; "
            f"got {validation_size!r}"
        )
    if not 0 < count < num_train:
        raise ValueError(
            f"validation_size={validation_size!r} leaves no training or no validation data "
            f"out of {num_train} training examples"
        )
    return count


# ---- sources: each returns (unbatched (image, label) dataset, class names, size, cacheable) ----


def _holdout(num_train: int, count: int, seed: int) -> np.ndarray:
    """Sorted indices of the validation examples among `num_train`, fixed by `seed`."""
    return np.sort(np.random.default_rng(seed).permutation(num_train)[:count])


def _select(split: str, num_train: int, validation_size, seed: int) -> np.ndarray:
    held_out = _holdout(num_train, _validation_count(validation_size, num_train), seed)
    if split == "validation":
        return held_out
    return np.setdiff1d(np.arange(num_train), held_out)


def _stratified(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of `count` of `labels`, each class in proportion to its share (largest
    remainders first, ties to the lower label), drawn within each class by `rng`."""
    _, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    take, remainders = np.divmod(sizes * count, len(labels))
    take[np.argsort(-remainders, kind="stable")[: count - int(take.sum())]] += 1
    picks = [rng.permutation(np.flatnonzero(inverse == c))[:k] for c, k in enumerate(take)]
    return np.sort(np.concatenate(picks))


def _train_subset(keep: np.ndarray, labels: np.ndarray, train_subset, seed: int, name: str):
    """`keep` (positions of the train split in `labels`) cut to a stratified `train_subset` of
    them, fixed by `seed` (a stream apart from the hold-out's); `keep` itself for None."""
    if train_subset is None:
        return keep
    if train_subset > len(keep):
        raise ValueError(
            f"train_subset={train_subset} is larger than the {len(keep)} examples of the 'train' "
            f"split of {name!r} (what the validation hold-out leaves); use at most {len(keep)}"
        )
    return keep[_stratified(labels[keep], train_subset, np.random.default_rng([seed, 1]))]


def _digits(split: str, validation_size, seed: int, train_subset: int | None):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = digits.target.astype(np.int32)
    pool_x, test_x, pool_y, test_y = train_test_split(
        images, labels, test_size=0.2, random_state=0, stratify=labels
    )
    if split == "test":
        x, y = test_x, test_y
    else:
        keep = _select(split, len(pool_x), validation_size, seed)
        if split == "train":
            keep = _train_subset(keep, pool_y, train_subset, seed, "digits")
        x, y = pool_x[keep], pool_y[keep]
    names = tuple(str(i) for i in range(10))
    return tf.data.Dataset.from_tensor_slices((x, y)), names, len(x), False


def _list_classes(root: str) -> dict[str, list[str]]:
    classes = {}
    for entry in sorted(os.listdir(root)):
        folder = os.path.join(root, entry)
        if os.path.isdir(folder):
            files = sorted(
                os.path.join(folder, f)
                for f in os.listdir(folder)
                if f.lower().endswith(IMAGE_EXTENSIONS)
            )
            if files:
                classes[entry] = files
    return classes


_IMAGE_SIGNATURES = (  # what tf.io.decode_image reads: JPEG, PNG, GIF, BMP, JPEG XL (WebP below)
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"\xff\x0a",
    b"\x00\x00\x00\x0cJXL \r\n\x87\n",
)


def _not_an_image(file: str) -> str | None:
    """Why `file` cannot be an image (unreadable, empty, another kind of file), from its first
    bytes; None when it starts like one."""
    try:
        with open(file, "rb") as handle:
            head = handle.read(12)
    except OSError as error:
        return f"unreadable: {error.strerror}"
    if not head:
        return "empty"
    if head.startswith(_IMAGE_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return None
    return "not a JPEG, PNG, GIF, BMP or WebP image"


def _refuse_files(path: str, problems: list[tuple[str, str]], what: str) -> None:
    if problems:
        shown = "; ".join(f"{file} ({why})" for file, why in problems[:5])
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise ValueError(
            f"folder data set {path!r}: {len(problems)} file(s) {what}: {shown}{more}; delete "
            "or replace them"
        )


_HEADERS_CHECKED: set[str] = set()  # digests of the file lists checked in this process


def _check_headers(path: str, files: list[str]) -> None:
    """ValueError naming the files that cannot be images (see `_not_an_image`); each list of
    files is checked once per process (a few ms per thousand files)."""
    key = hashlib.sha256("\0".join(files).encode()).hexdigest()
    if key in _HEADERS_CHECKED:
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        reasons = list(pool.map(_not_an_image, files, chunksize=256))
    problems = [(f, why) for f, why in zip(files, reasons, strict=True) if why]
    _refuse_files(path, problems, "cannot be images")
    _HEADERS_CHECKED.add(key)


def verify_folder(path: str) -> int:
    """Decodes every image of the folder data set at `path` (both layouts, every split) once;
    returns how many there are. ValueError naming the files that do not decode (cut short,
    corrupt) or that are not images, so a search or a training run refuses them before it
    starts rather than failing in the middle of an epoch. Costs one pass of decoding."""
    path = os.path.expanduser(path)
    if not os.path.isdir(path):
        raise ValueError(f"folder data set: {path!r} is not a directory")
    roots = [path] + [os.path.join(path, s) for s in ("train", "test", "val", "validation")]
    classes = [c for root in roots if os.path.isdir(root) for c in _list_classes(root).values()]
    files = sorted({file for images in classes for file in images})
    _check_headers(path, files)

    def decode(file):
        image = tf.io.decode_image(tf.io.read_file(file), channels=3, expand_animations=False)
        return file, tf.shape(image)

    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(files, tf.string))
    dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
    decoded = {file.decode() for file, _ in dataset.as_numpy_iterator()}
    problems = []
    for file in (f for f in files if f not in decoded):
        try:
            decode(file)
            reason = "does not decode"
        except tf.errors.OpError as error:  # "{{function_node …}} Invalid PNG data [Op:…]"
            text = (error.message or type(error).__name__).strip().splitlines()[0]
            reason = re.sub(r"\{\{[^}]*\}\}|\[Op:.*$", "", text).strip() or text
        problems.append((file, reason))
    _refuse_files(path, problems, "do not decode")
    return len(files)


def _folder(path: str, split: str, validation_size, seed: int, train_subset: int | None):
    if not os.path.isdir(path):
        raise ValueError(f"folder data set: {path!r} is not a directory")
    train_root = os.path.join(path, "train")
    split_layout = os.path.isdir(train_root) and bool(_list_classes(train_root))
    if split_layout:
        test_roots = [os.path.join(path, s) for s in ("test", "val", "validation")]
        test_root = next((r for r in test_roots if os.path.isdir(r)), None)
        train_classes = _list_classes(train_root)
        test_classes = _list_classes(test_root) if test_root else {}
    else:
        train_classes, test_classes = _list_classes(path), {}
    if not train_classes:
        raise ValueError(
            f"folder data set {path!r}: found no class folders with {IMAGE_EXTENSIONS} images; "
            "expected <path>/<class>/<image> or <path>/train/<class>/<image>"
        )
    names = tuple(sorted(set(train_classes) | set(test_classes)))
    if split == "test":
        if not test_classes:
            raise ValueError(
                f"folder data set {path!r} has no test split: add <path>/test/<class>/<image> "
                "(with <path>/train/<class>/<image>) or use split='validation'"
            )
        chosen = test_classes
    else:
        chosen = train_classes
    files = [(f, names.index(c)) for c in sorted(chosen) for f in chosen[c]]
    _check_headers(path, [f for f, _ in files])
    if split != "test":
        keep = _select(split, len(files), validation_size, seed)
        if split == "train":
            labels = np.array([label for _, label in files])
            keep = _train_subset(keep, labels, train_subset, seed, f"folder:{path}")
        files = [files[i] for i in keep]
    paths = tf.constant([f for f, _ in files])
    labels = tf.constant([label for _, label in files], tf.int32)

    def decode(file, label):
        image = tf.io.decode_image(tf.io.read_file(file), channels=3, expand_animations=False)
        return image, label

    dataset = tf.data.Dataset.from_tensor_slices((paths, labels))
    return dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE), names, len(files), False


FOLDER_METADATA = "dataset.json"
"""Optional, at the root of a folder data set: {"augment": "<one of AUGMENTATIONS>"} sets the
folder's default augmentation (e.g. "pad_crop" for digits or text, which must not be flipped)."""


def _folder_metadata(path: str) -> dict:
    file = os.path.join(path, FOLDER_METADATA)
    if not os.path.isfile(file):
        return {}
    try:
        with open(file, encoding="utf-8") as handle:
            metadata = json.load(handle)
        if not isinstance(metadata, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as error:
        raise ValueError(f"folder data set: {file!r} is not readable JSON ({error})") from None
    return metadata


def _network_available(timeout: float = 3.0) -> bool:
    """Whether the tfds download host answers within `timeout` seconds (DNS included)."""

    def probe() -> bool:
        with socket.create_connection(_PROBE_HOST, timeout=timeout):
            return True

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(probe).result(timeout=timeout + 0.5)
    except (OSError, concurrent.futures.TimeoutError):
        return False
    finally:
        pool.shutdown(wait=False)


def _how_to_prepare(name, builder, data_dir, manual_dir, *, offline: bool = False) -> str:
    root = data_dir or os.path.join("~", "tensorflow_datasets")
    base = name.split(":")[0]
    if builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
        manual = manual_dir or os.path.join(root, "downloads", "manual")
        instructions = " ".join(builder.MANUAL_DOWNLOAD_INSTRUCTIONS.split())
        return (
            f"put the archives in {manual} ({instructions}), then run "
            f"`tfds build {base} --data_dir={root} --manual_dir={manual}` or call "
            f"load('{name}', ..., download=True, manual_dir='{manual}')"
        )
    how = (
        f"run `tfds build {base} --data_dir={root}` on a machine with network access and copy "
        f"{root}/{base.split('/')[0]} to this one"
    )
    if offline:
        return how
    return f"{how}, or pass download=True (--download for the binaries) where there is network"


def _tfds(name, split, validation_size, seed, data_dir, download, manual_dir):
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(
            f"unknown data set {name!r}: expected 'digits', 'folder:<path>' or a tfds "
            "image-classification set (fashion_mnist, cifar10, cifar100, imagenet2012, "
            "imagenette, mnist, ...)"
        ) from None
    features = builder.info.features
    keys = builder.info.supervised_keys
    if (
        not keys
        or not isinstance(features[keys[0]], tfds.features.Image)
        or not isinstance(features[keys[1]], tfds.features.ClassLabel)
    ):
        raise ValueError(f"{name!r} is not an image-classification data set (image, label)")
    if download and not builder.is_prepared():
        # Manual-download sets (imagenet2012) prepare from local archives: no network needed.
        if not builder.MANUAL_DOWNLOAD_INSTRUCTIONS and not _network_available():
            raise DatasetNotPreparedError(
                f"data set {name!r} is not prepared in {builder.data_dir} and "
                f"{_PROBE_HOST[0]} cannot be reached to download it: "
                + _how_to_prepare(name, builder, data_dir, manual_dir, offline=True)
            )
        config = tfds.download.DownloadConfig(manual_dir=manual_dir)
        try:
            builder.download_and_prepare(download_config=config)
        except AssertionError as error:  # tfds reports missing manual files this way
            raise DatasetNotPreparedError(
                f"{error}; " + _how_to_prepare(name, builder, data_dir, manual_dir)
            ) from None

    def read(tfds_split: str):
        try:
            return builder.as_dataset(split=tfds_split, as_supervised=True, shuffle_files=False)
        except AssertionError:  # "could not find data in ..." (tfds' not-prepared error)
            raise DatasetNotPreparedError(
                f"data set {name!r} is not prepared in {builder.data_dir}: "
                + _how_to_prepare(name, builder, data_dir, manual_dir)
            ) from None

    def count(tfds_split: str) -> int:
        if tfds_split in builder.info.splits:
            return builder.info.splits[tfds_split].num_examples
        return int(read(tfds_split).cardinality())

    if split == "test":
        tfds_split = "test" if "test" in builder.info.splits else "validation"
        if builder.info.splits and tfds_split not in builder.info.splits:
            raise ValueError(f"{name!r} has no test or validation split to use as 'test'")
        dataset, num_examples = read(tfds_split), count(tfds_split)
    else:
        num_train = count("train")
        held = _validation_count(validation_size, num_train)
        start = int(np.random.default_rng(seed).integers(0, num_train - held + 1))
        # tfds shuffles examples when it prepares a set, so a contiguous slice is a random sample
        # and reads only the shards it needs.
        if split == "validation":
            parts, num_examples = [f"train[{start}:{start + held}]"], held
        else:
            parts = [f"train[:{start}]"] if start > 0 else []
            if start + held < num_train:
                parts.append(f"train[{start + held}:]")
            num_examples = num_train - held
        dataset = read("+".join(parts))
    image_shape = features[keys[0]].shape
    cacheable = all(isinstance(d, int) for d in image_shape) and (
        num_examples * int(np.prod(image_shape)) <= _CACHE_BYTES
    )
    names = tuple(features[keys[1]].names)
    return dataset, names, num_examples, cacheable


def _fashion_mnist(split, validation_size, seed, train_subset, data_dir, download, manual_dir):
    directory, searched = fashion_mnist.find(data_dir)
    if directory is None:  # a tfds-prepared fashion_mnist (or download=True) will do
        try:
            source = _tfds(
                "fashion_mnist", split, validation_size, seed, data_dir, download, manual_dir
            )
        except DatasetNotPreparedError as error:
            raise DatasetNotPreparedError(
                f"{fashion_mnist.not_found_message(searched)}. Or, for tfds' copy: {error}"
            ) from None
        if train_subset is not None:
            raise ValueError(_NO_SUBSET.format(name="fashion_mnist (found no idx files)"))
        return source
    images, labels = fashion_mnist.read_split(directory, "test" if split == "test" else "train")
    if split == "test":
        keep = np.arange(len(labels))
    else:
        held = _validation_count(validation_size, len(labels))
        held_out = _stratified(labels, held, np.random.default_rng(seed))
        if split == "validation":
            keep = held_out
        else:
            keep = np.setdiff1d(np.arange(len(labels)), held_out)
            keep = _train_subset(keep, labels, train_subset, seed, "fashion_mnist")
    dataset = tf.data.Dataset.from_tensor_slices((images[keep][..., None], labels[keep]))
    return dataset, fashion_mnist.CLASS_NAMES, len(keep), False


_NO_SUBSET = (
    "train_subset needs the labels in memory: digits, fashion_mnist read from its idx files and "
    "folder:<path> sets take it, the tfds set {name} does not; pass train_subset=None"
)


def default_image_size(name: str, *, data_dir: str | None = None) -> int:
    """A training resolution for `name`: the images' own size (at least 32, the smallest the
    models take) for digits, fashion_mnist and tfds sets of images up to 64 px, else 224."""
    if name in ("digits", "fashion_mnist"):
        return 32
    if name.startswith("folder:"):
        return 224
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        keys = builder.info.supervised_keys
        shape = builder.info.features[keys[0]].shape
    except Exception:  # noqa: BLE001 - `load` reports a bad name properly
        return 224
    if shape[0] is not None and shape[1] is not None and max(shape[:2]) <= SMALL_IMAGE_MAX:
        return max(32, int(max(shape[:2])))
    return 224


def load(
    name: str,
    *,
    split: str,
    image_size: int,
    batch_size: int,
    data_dir: str | None = None,
    download: bool = False,
    manual_dir: str | None = None,
    validation_size: int | float | None = None,
    train_subset: int | None = None,
    seed: int = 0,
    augment: str | None = None,
    shuffle: bool | None = None,
    drop_remainder: bool | None = None,
    shuffle_seed: int | None = None,
) -> tuple[tf.data.Dataset, DatasetInfo]:
    """A batched `(image, label)` pipeline and its DatasetInfo.

    Args:
      name: 'digits', 'fashion_mnist', 'folder:<path>' or a tfds image-classification set.
      split: 'train', 'validation' (held out from train by `seed`) or 'test'.
      image_size: output height and width.
      batch_size: images per batch.
      data_dir: tfds data directory (None: tfds' default); for fashion_mnist, searched first
        for the idx files (directly or in its fashion-mnist/ sub-folder).
      download: let tfds download and prepare a missing set (needs network; fails fast without).
      manual_dir: where manually downloaded archives are (imagenet2012).
      validation_size: held-out count, fraction in (0, 1), or None for `default_validation_size`.
      train_subset: train on this many examples of the train split (after the hold-out), a
        stratified sample fixed by `seed`; None: all. Validation and test never change. Not for
        tfds sets.
      seed: fixes the validation hold-out (and, unless `shuffle_seed` is given, the shuffle
        order and the augmentation).
      shuffle_seed: fixes the shuffle order and the augmentation of the train split (None:
        `seed`). A new pipeline with the same seeds yields the same batches, element by
        element, however many pipelines were made before it.
      augment: one of preprocessing.AUGMENTATIONS; None = 'auto' (pad_crop for digits,
        pad_crop_flip for fashion_mnist and up to 64², resized_crop_flip above). Only the train
        split is augmented.
      shuffle: default True for the train split only.
      drop_remainder: default True for the train split only (every step sees a full batch).

    Returns:
      (dataset of (float32 [B, S, S, 3] in [0, 255], int32 [B]) batches, DatasetInfo).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    for arg, value in (("image_size", image_size), ("batch_size", batch_size)):
        if not checks.is_positive_int(value):
            raise ValueError(f"{arg} must be a positive integer; got {value!r}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"data set name must be a non-empty string; got {name!r}")
    if train_subset is not None and not checks.is_positive_int(train_subset):
        raise ValueError(f"train_subset must be a positive integer or None; got {train_subset!r}")
    training = split == "train"
    if augment is None and name.startswith("folder:"):
        augment = _folder_metadata(os.path.expanduser(name[len("folder:") :])).get("augment")
    augment = resolve_augment(augment, name=name, image_size=image_size) if training else "none"
    if name == "digits":
        source = _digits(split, validation_size, seed, train_subset)
    elif name == "fashion_mnist":
        source = _fashion_mnist(
            split, validation_size, seed, train_subset, data_dir, download, manual_dir
        )
    elif name.startswith("folder:"):
        path = os.path.expanduser(name[len("folder:") :])
        source = _folder(path, split, validation_size, seed, train_subset)
    elif train_subset is not None:
        raise ValueError(_NO_SUBSET.format(name=repr(name)))
    else:
        source = _tfds(name, split, validation_size, seed, data_dir, download, manual_dir)
    dataset, class_names, num_examples, cacheable = source
    if len(class_names) < 2:
        raise ValueError(
            f"data set {name!r} has {len(class_names)} class ({', '.join(class_names)}); a "
            "classifier needs at least two (for a folder: one sub-folder of images per class)"
        )
    shuffle = training if shuffle is None else shuffle
    drop_remainder = training if drop_remainder is None else drop_remainder
    if drop_remainder and num_examples < batch_size:
        raise ValueError(
            f"batch_size={batch_size} is larger than the {num_examples} examples of the "
            f"{split!r} split of {name!r}; use a smaller batch"
        )
    if cacheable:
        dataset = dataset.cache()
    order_seed = seed if shuffle_seed is None else shuffle_seed
    if shuffle:
        dataset = dataset.shuffle(min(num_examples, _SHUFFLE_BUFFER), seed=order_seed)
    # Each element gets its own augmentation seed from a seeded stream (new every epoch), so the
    # stateless augmentation does not depend on the order parallel `map` calls run in.
    seeds = tf.data.Dataset.random(seed=order_seed, rerandomize_each_iteration=True).batch(2)
    dataset = tf.data.Dataset.zip(dataset, seeds)

    def prepare(example, element_seed):
        image, label = example
        image = preprocess(image, image_size=image_size, augment=augment, seed=element_seed)
        return image, tf.cast(label, tf.int32)

    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    batches = num_examples // batch_size if drop_remainder else -(-num_examples // batch_size)
    info = DatasetInfo(
        name=name,
        split=split,
        num_classes=len(class_names),
        class_names=class_names,
        num_examples=num_examples,
        image_size=image_size,
        batch_size=batch_size,
        augment=augment,
        num_batches=batches,
    )
    return dataset, info
