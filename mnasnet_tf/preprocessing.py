"""Image preprocessing: one image in, float32 RGB in [0, 255] of the training resolution out.

Owns the augmentations (`AUGMENTATIONS`: pad-and-crop for small images, Inception-style random
resized crop for large ones, each with or without a horizontal flip), evaluation resizing (a
centre crop of image_size / (image_size + 32) of the short side above 64², as the reference
MnasNet), grey/RGBA → RGB, and the choice of augmentation per data set and resolution. Values stay
in [0, 255]: the models rescale inside.

Must not import search/ or tflite_bench/.
"""

from __future__ import annotations

import tensorflow as tf

AUGMENTATIONS = ("auto", "none", "pad_crop", "pad_crop_flip", "resized_crop", "resized_crop_flip")
SMALL_IMAGE_MAX = 64
"""Resolutions up to this use pad-and-crop augmentation and no centre crop at evaluation."""
CROP_PADDING = 32
"""Evaluation at larger resolutions centre-crops image_size / (image_size + 32) of the short side
(the reference MnasNet / EfficientNet preprocessing)."""


def resolve_augment(augment: str | None, *, name: str, image_size: int) -> str:
    """The augmentation `augment` means for data set `name` at `image_size`: None or 'auto' →
    'pad_crop' for digits (a flipped digit is another digit or none), 'pad_crop_flip' for
    fashion_mnist at any size (28² photos upsampled: a random resized crop would cut most of the
    garment away; a flipped garment is the same garment) and up to 64², 'resized_crop_flip'
    above; anything else must be one of AUGMENTATIONS."""
    augment = "auto" if augment is None else augment
    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {AUGMENTATIONS} or None; got {augment!r}")
    if augment != "auto":
        return augment
    if name == "digits":
        return "pad_crop"
    if name == "fashion_mnist":
        return "pad_crop_flip"
    return "pad_crop_flip" if image_size <= SMALL_IMAGE_MAX else "resized_crop_flip"


def _to_rgb(image: tf.Tensor) -> tf.Tensor:
    channels = image.shape[-1]
    if channels == 1:
        image = tf.image.grayscale_to_rgb(image)
    elif channels == 4:
        image = image[..., :3]
    elif channels != 3:
        raise ValueError(f"images must have 1, 3 or 4 channels; got shape {image.shape}")
    return tf.cast(image, tf.float32)


def _center_square(image: tf.Tensor, fraction: float) -> tf.Tensor:
    shape = tf.shape(image)
    side = tf.cast(tf.cast(tf.minimum(shape[0], shape[1]), tf.float32) * fraction, tf.int32)
    top = (shape[0] - side + 1) // 2
    left = (shape[1] - side + 1) // 2
    return image[top : top + side, left : left + side]


def _resize(image: tf.Tensor, size: int) -> tf.Tensor:
    if image.shape[0] == size and image.shape[1] == size:
        return image
    return tf.image.resize(image, (size, size), method="bilinear")


def _eval_image(image: tf.Tensor, size: int) -> tf.Tensor:
    fraction = 1.0 if size <= SMALL_IMAGE_MAX else size / (size + CROP_PADDING)
    if fraction == 1.0 and image.shape[0] is not None and image.shape[0] == image.shape[1]:
        return _resize(image, size)
    return _resize(_center_square(image, fraction), size)


def _resized_crop(image: tf.Tensor, size: int, seed: tf.Tensor) -> tf.Tensor:
    begin, extent, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        seed=seed,
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        min_object_covered=0.1,
        aspect_ratio_range=(3 / 4, 4 / 3),
        area_range=(0.08, 1.0),
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    crop = tf.slice(image, begin, extent)
    return tf.image.resize(crop, (size, size), method="bilinear")


def _pad_crop(image: tf.Tensor, size: int, seed: tf.Tensor) -> tf.Tensor:
    image = _eval_image(image, size)
    pad = max(1, size // 8)
    image = tf.image.pad_to_bounding_box(image, pad, pad, size + 2 * pad, size + 2 * pad)
    return tf.image.stateless_random_crop(image, (size, size, 3), seed=seed)


def preprocess(
    image: tf.Tensor,
    *,
    image_size: int,
    augment: str = "none",
    seed: tf.Tensor | None = None,
) -> tf.Tensor:
    """One image (uint8 or float, 1/3/4 channels, any size) → float32 RGB in [0, 255] of
    `image_size`², augmented by `augment` (one of AUGMENTATIONS other than 'auto').

    The augmentation is stateless: `seed` (int32/int64 shape [2]) decides it, so a pipeline that
    gives each element its own seed (`data.load` does) is reproducible element by element even
    under parallel `map`. None draws a seed from TensorFlow's global generator."""
    image = _to_rgb(image)
    if augment != "none" and seed is None:
        seed = tf.random.uniform((2,), maxval=2**31 - 1, dtype=tf.int32)
    if augment == "none":
        image = _eval_image(image, image_size)
    elif augment.startswith("pad_crop"):
        crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        image = _pad_crop(image, image_size, crop_seed)
    elif augment.startswith("resized_crop"):
        crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        image = _resized_crop(image, image_size, crop_seed)
    else:
        raise ValueError(f"augment must be one of {AUGMENTATIONS[1:]}; got {augment!r}")
    if augment.endswith("_flip"):
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    image = tf.clip_by_value(image, 0.0, 255.0)
    return tf.ensure_shape(image, (image_size, image_size, 3))
