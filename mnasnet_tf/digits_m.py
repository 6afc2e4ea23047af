"""digits-m: an MNIST-M-style image folder built from bundled real images, no download.

    mnasnet-digits-m --output_dir=data/digits_m     # then --dataset=folder:data/digits_m

scikit-learn's 1797 handwritten 8×8 digits saturate a proxy within a few epochs, so they cannot
tell a good architecture from an average one. Here every digit is upsampled to `image_size`² at
a random scale and shift and blended into a random patch of the real photographs scikit-learn
bundles (`load_sample_images`: china.jpg, flower.jpg; random crop size, flips and channel order)
as MNIST-M does (Ganin et al. 2016): `output = |patch − mask·255|` per channel. The stroke stays
legible where the patch is far from mid-grey and fades where it is not, which makes the set hard.

The source digits are split 80/20 (stratified, `random_state=0`, as `data.py` splits `digits`)
*before* variants are made, so no source digit reaches both train and test. Layout, which
`data.load('folder:<path>', ...)` reads (labels '0'…'9'): `<out>/train/<class>/<n>.png`,
`<out>/test/<class>/<n>.png`, and `<out>/dataset.json` saying how the set was made (and, for
`data.load`, that it is augmented with `pad_crop`, never flipped). Variants of one source digit
are consecutive files. The output is a function of the arguments (seed
included) and the library versions only.

Two things to know when training on it: the `validation` split `data.load` holds out of train/
is drawn over files, so other variants of a validation image's source digit are in `train`
(`test` shares none). `dataset.json` says `"augment": "pad_crop"`, which `data.load` takes as
the folder's default: its usual flips would mirror the digits.

Owns `DigitsMConfig` (the arguments, validated), `write_digits_m` and `render`; the
`mnasnet-digits-m` binary is search/cli/mnasnet_digits_m.py. Numpy, PIL and scikit-learn, and of
the project `tflite_bench.settings`/`checks` (the declared fields, TF-free): must not import
TensorFlow, absl (settings imports it only to define flags), search/ or the rest of tflite_bench/.

The set is staged in a sibling folder and renamed into place (a directory, so not through
`tflite_bench.files.atomic_write`, which writes one file).
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

import numpy as np

from tflite_bench import checks, settings

log = logging.getLogger(__name__)

CLASSES = tuple(str(digit) for digit in range(10))
METADATA_FILE = "dataset.json"
"""The folder's metadata, which `data.load` reads for its default augmentation."""
MIN_IMAGE_SIZE = 16
MAX_IMAGE_SIZE = 256
"""Patches are cropped from 427×640 photographs: larger images would only be upsampled."""
DIGIT_SCALE = (0.7, 1.0)
"""The digit's side as a fraction of `image_size` (its position is uniform in what is left)."""
PATCH_SCALE = (0.25, 1.0)
"""The cropped patch's side as a multiple of `image_size`, resized down to `image_size`."""
BACKGROUND_CONTRAST = 0.5
"""The photo patch is scaled by this before the blend: at 1.0 (MNIST-M's) a 3-epoch proxy stays
near chance on ~4K images; at 0.5 the digits stand out more and the proxy learns."""
_SPLIT_STREAMS = {"train": 0, "test": 1}


@dataclasses.dataclass(frozen=True)
class DigitsMConfig:
    """How a digits-m set is made: the arguments of `write_digits_m`, by name, one per
    `mnasnet-digits-m` flag: the flags are generated from these fields (default, help, range;
    tflite_bench/settings.py). Validated on construction; every error names the bad value.
    `output_dir` may be given as an `os.PathLike` (kept as its str); its parent is created.
    """

    output_dir: str = settings.setting(
        nonempty=True, help="New or empty directory to write the set to."
    )
    variants: int = settings.setting(
        3, minimum=1, help="Images made from each of the 1797 source digits."
    )
    image_size: int = settings.setting(
        32, minimum=MIN_IMAGE_SIZE, maximum=MAX_IMAGE_SIZE, help="Side of the square RGB images."
    )
    seed: int = settings.setting(
        0, minimum=0, help="Seed of every random draw (same seed, same images)."
    )

    def __post_init__(self) -> None:
        if isinstance(self.output_dir, os.PathLike):
            object.__setattr__(self, "output_dir", os.fspath(self.output_dir))
        settings.validate(self)
        checks.require(bool(self.output_dir.strip()), "output_dir", "non-empty", self.output_dir)


def _check_output(path: str) -> None:
    if os.path.isdir(path):
        if os.listdir(path):
            raise ValueError(
                f"output_dir {path!r} exists and is not empty; choose another path or delete it"
            )
    elif os.path.exists(path):
        raise ValueError(f"output_dir {path!r} exists and is not a directory")


def _source_digits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (float32 [N, 8, 8] digits in [0, 1], int labels)}, split as data.py splits them."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    labels = digits.target.astype(np.int64)
    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, test_size=0.2, random_state=0, stratify=labels
    )
    return {"train": (train_x, train_y), "test": (test_x, test_y)}


def _photos() -> list[np.ndarray]:
    """The bundled photographs as uint8 [H, W, 3] arrays."""
    from sklearn.datasets import load_sample_images

    return [np.asarray(image, dtype=np.uint8) for image in load_sample_images().images]


def _resize(array: np.ndarray, size: int) -> np.ndarray:
    """A float32 [H, W] mask resized bicubically, or a uint8 RGB image box-filtered."""
    from PIL import Image

    image = Image.fromarray(array)  # mode 'F' or 'RGB' from the dtype and shape
    smooth = Image.Resampling.BICUBIC if image.mode == "F" else Image.Resampling.BOX
    return np.asarray(image.resize((size, size), resample=smooth))


def _patch(photos: Sequence[np.ndarray], size: int, rng: np.random.Generator) -> np.ndarray:
    """A random size² float32 RGB patch: random photo, crop size and place, flips, channels."""
    photo = photos[int(rng.integers(len(photos)))]
    height, width = photo.shape[:2]
    side = min(height, width, int(round(size * rng.uniform(*PATCH_SCALE))))
    top = int(rng.integers(height - side + 1))
    left = int(rng.integers(width - side + 1))
    crop = photo[top : top + side, left : left + side]
    if side != size:
        crop = _resize(np.ascontiguousarray(crop), size)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.5:
        crop = crop[::-1]
    return crop[..., rng.permutation(3)].astype(np.float32)


def _mask(digit: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """The digit as a size² mask in [0, 1], randomly scaled and shifted."""
    side = int(round(size * rng.uniform(*DIGIT_SCALE)))
    stroke = np.clip(_resize(np.ascontiguousarray(digit), side), 0.0, 1.0)
    top = int(rng.integers(size - side + 1))
    left = int(rng.integers(size - side + 1))
    mask = np.zeros((size, size), np.float32)
    mask[top : top + side, left : left + side] = stroke
    return mask


def render(
    digit: np.ndarray, photos: Sequence[np.ndarray], *, image_size: int, rng: np.random.Generator
) -> np.ndarray:
    """One digits-m image (uint8 [S, S, 3]) of an 8×8 digit in [0, 1], drawing from `rng`."""
    mask = _mask(digit, image_size, rng)
    patch = _patch(photos, image_size, rng)
    blended = np.abs(BACKGROUND_CONTRAST * patch - 255.0 * mask[..., None])
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def _write_split(root: str, split: str, digits, photos, *, variants, image_size, seed) -> dict:
    from PIL import Image

    images, labels = digits
    rng = np.random.default_rng([seed, _SPLIT_STREAMS[split]])
    counts = dict.fromkeys(CLASSES, 0)
    for name in CLASSES:
        os.makedirs(os.path.join(root, split, name))
    for index, (digit, label) in enumerate(zip(images, labels, strict=True)):
        for variant in range(variants):
            image = render(digit, photos, image_size=image_size, rng=rng)
            name = CLASSES[int(label)]
            file = os.path.join(root, split, name, f"{index * variants + variant:05d}.png")
            Image.fromarray(image).save(file)
            counts[name] += 1
    return counts


def write_digits_m(
    output_dir: str | os.PathLike[str],
    *,
    variants: int = DigitsMConfig.variants,
    image_size: int = DigitsMConfig.image_size,
    seed: int = DigitsMConfig.seed,
) -> dict[str, Any]:
    """Writes the digits-m image folder to `output_dir` and returns what it wrote.

    Args:
      output_dir: a new or empty directory (its parent is created). The set is written into
        `<output_dir>.tmp-<pid>` and renamed into place when complete, so an interrupted run
        never leaves a folder that looks complete.
      variants: images made from each source digit (3: 4311 train and 1080 test images).
      image_size: side of the square RGB images.
      seed: decides every random draw; the same arguments write the same images.

    Returns:
      {'output_dir', 'train': image count, 'test': image count, 'classes': 10,
       'per_class': {'train': {class: count}, 'test': {class: count}}, 'seconds'}.

    Raises:
      ValueError: a bad argument (named), or `output_dir` exists and is not an empty directory.
    """
    DigitsMConfig(output_dir=output_dir, variants=variants, image_size=image_size, seed=seed)
    path = os.path.normpath(os.path.expanduser(os.fspath(output_dir)))
    _check_output(path)
    start = time.perf_counter()
    source = _source_digits()
    photos = _photos()
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    staging = f"{path}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        os.makedirs(staging)
        per_class = {
            split: _write_split(
                staging,
                split,
                source[split],
                photos,
                variants=variants,
                image_size=image_size,
                seed=seed,
            )
            for split in ("train", "test")
        }
        counts = {split: sum(per_class[split].values()) for split in per_class}
        metadata = {
            "name": "digits-m",
            "augment": "pad_crop",
            "variants": variants,
            "image_size": image_size,
            "seed": seed,
            "source_split": "sklearn load_digits, 80/20 stratified, random_state=0",
            "backgrounds": "sklearn load_sample_images (china.jpg, flower.jpg)",
            "blend": f"|{BACKGROUND_CONTRAST} * patch - mask * 255| per channel",
            "digit_scale": list(DIGIT_SCALE),
            "patch_scale": list(PATCH_SCALE),
            "counts": counts,
            "per_class": per_class,
        }
        with open(os.path.join(staging, METADATA_FILE), "w", encoding="utf-8") as handle:
            json.dump(metadata, handle, indent=2)
        _check_output(path)  # another process may have written it meanwhile
        if os.path.isdir(path):
            os.rmdir(path)  # empty: replace it
        os.rename(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    seconds = time.perf_counter() - start
    log.info("wrote %d train and %d test images to %s", counts["train"], counts["test"], path)
    return {
        "output_dir": path,
        **counts,
        "classes": len(CLASSES),
        "per_class": per_class,
        "seconds": seconds,
    }
