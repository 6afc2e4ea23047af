"""Fashion-MNIST read offline from its four original idx files (`data.load('fashion_mnist')`).

Owns where the files are looked for (`search_dirs`: `data_dir` or its `fashion-mnist/` sub-folder,
then Keras' cache `~/.keras/datasets/fashion-mnist/` (`$KERAS_HOME` when set), then
`/usr/share/datasets/fashion-mnist/`, where Debian's `dataset-fashion-mnist` puts them), the idx
reader (a big-endian header: magic 2051 for images, 2049 for labels, then the count and the
sizes; then uint8 data; gzip-compressed or not) with its checks, the class names and the
per-process cache of decoded arrays. A file cut short, corrupt or of another kind is a ValueError
naming the file and what is wrong; nothing is ever written. Splits and the tf.data pipeline are
data.py's.

Pure numpy: must not import TensorFlow, search/ or tflite_bench/.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import zlib

import numpy as np

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""Label i's name as Zalando Research publishes it (tfds agrees): 7 is Sneaker, 8 Bag."""
IMAGE_SIZE = 28
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""Images and labels file of each split, as published (each also accepted with `.gz`)."""
SUBFOLDER = "fashion-mnist"
SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"
"""Where Debian's `dataset-fashion-mnist` package installs the files."""
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
HOW_TO_GET = (
    "`apt-get install -y dataset-fashion-mnist` (Debian; puts them in "
    f'{SYSTEM_DIR}/), or `python -c "import keras; keras.datasets.fashion_mnist.load_data()"` '
    "on a machine with network access (caches them in ~/.keras/datasets/fashion-mnist/; copy "
    "that folder to this machine or pass it as data_dir)"
)


def keras_cache_dir() -> str:
    """Where `keras.datasets.fashion_mnist.load_data()` caches the files on this machine."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "datasets", SUBFOLDER)


def search_dirs(data_dir: str | None) -> list[str]:
    """The folders searched for the four files, in order."""
    dirs = []
    if data_dir:
        data_dir = os.path.expanduser(data_dir)
        dirs += [data_dir, os.path.join(data_dir, SUBFOLDER)]
    return dirs + [keras_cache_dir(), SYSTEM_DIR]


def _file_in(directory: str, name: str) -> str | None:
    for candidate in (name + ".gz", name):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


def find(data_dir: str | None) -> tuple[str | None, list[str]]:
    """(the first searched folder that holds all four files or None, what was searched: one
    line per folder, saying which files a folder that holds some of them lacks)."""
    names = [name for pair in FILES.values() for name in pair]
    searched = []
    for directory in search_dirs(data_dir):
        missing = [name for name in names if _file_in(directory, name) is None]
        if not missing:
            return directory, searched
        if len(missing) < len(names):
            searched.append(f"{directory} (lacks {', '.join(missing)})")
        else:
            searched.append(directory)
    return None, searched


def not_found_message(searched: list[str]) -> str:
    """Why `find` found nothing and how to get the files."""
    files = ", ".join(f"{name}[.gz]" for pair in FILES.values() for name in pair)
    return (
        f"Fashion-MNIST: its four idx files ({files}) are in none of the folders searched: "
        f"{'; '.join(searched)}. Get them with {HOW_TO_GET}"
    )


def _raw_bytes(path: str) -> bytes:
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                return handle.read()
        with open(path, "rb") as handle:
            raw = handle.read()
    except EOFError:
        raise ValueError(f"{path}: the gzip stream is cut short (a truncated download?)") from None
    except (OSError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        what = "not a readable gzip file" if path.endswith(".gz") else "unreadable"
        raise ValueError(f"{path}: {what} ({reason})") from None
    if raw[:2] == b"\x1f\x8b":
        raise ValueError(f"{path}: gzip-compressed data in a file without .gz; rename it to .gz")
    return raw


def _parse(path: str, raw: bytes, *, magic: int) -> np.ndarray:
    kind, ndim = ("images", 3) if magic == IMAGES_MAGIC else ("labels", 1)
    header = 4 + 4 * ndim
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for an idx header")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        known = {IMAGES_MAGIC: "idx images", LABELS_MAGIC: "idx labels"}.get(found, "not idx")
        raise ValueError(
            f"{path}: magic number {found} ({known}); expected {magic} (idx {kind} of uint8)"
        )
    if len(raw) < header:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for the {header}-byte idx header")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    if ndim == 3 and dims[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(
            f"{path}: images of {dims[1]}×{dims[2]}; expected {IMAGE_SIZE}×{IMAGE_SIZE}"
        )
    if dims[0] == 0:
        raise ValueError(f"{path}: the header says it holds no {kind}")
    expected = header + math.prod(dims)
    if len(raw) != expected:
        what = "cut short" if len(raw) < expected else "longer than its header says"
        raise ValueError(
            f"{path}: {what}: the header says {dims[0]} {kind} ({expected} bytes), the file "
            f"has {len(raw)} bytes"
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


@functools.lru_cache(maxsize=4)
def _read_pair(
    images_path: str, images_stamp: tuple, labels_path: str, labels_stamp: tuple
) -> tuple[np.ndarray, np.ndarray]:
    del images_stamp, labels_stamp  # part of the cache key: a changed file is read again
    images = _parse(images_path, _raw_bytes(images_path), magic=IMAGES_MAGIC)
    raw_labels = _parse(labels_path, _raw_bytes(labels_path), magic=LABELS_MAGIC)
    if len(images) != len(raw_labels):
        raise ValueError(
            f"Fashion-MNIST: {images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(raw_labels)} labels; they must match one to one"
        )
    bad = np.flatnonzero(raw_labels >= len(CLASS_NAMES))
    if bad.size:
        raise ValueError(
            f"{labels_path}: {bad.size} label(s) outside 0..{len(CLASS_NAMES) - 1} (the first: "
            f"{int(raw_labels[bad[0]])} at index {int(bad[0])})"
        )
    labels = raw_labels.astype(np.int32)
    labels.setflags(write=False)  # shared by every caller in this process
    return images, labels


def _stamp(path: str) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_size


def read_split(directory: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images [N, 28, 28], int32 labels [N]) of the 'train' or 'test' file pair in
    `directory` (a folder `find` returned), both read-only. Decoded once per process while the
    files are unchanged; ValueError naming the file and the fault when one is not valid idx."""
    paths = [_file_in(directory, name) for name in FILES[split]]
    for name, path in zip(FILES[split], paths, strict=True):
        if path is None:
            raise FileNotFoundError(f"Fashion-MNIST: no {name}[.gz] in {directory}")
    return _read_pair(paths[0], _stamp(paths[0]), paths[1], _stamp(paths[1]))
