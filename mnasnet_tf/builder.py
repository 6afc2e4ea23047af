"""Builds Keras models from an `ArchSpec`: the whole classifier, or one piece of it.

Owns the keras.applications-style keyword API (`build_model`) and its input validation, and the
piece models a per-layer latency table needs (`build_stem_model`, `build_layer_model`,
`build_head_model`); the pieces are built by the same `blocks` functions as the whole model, so
stem + layers + head is exactly the whole network. Graph details live in `blocks.py`.

Imports Keras and `mnasnet_tf.specs`/`blocks`, and of tflite_bench only the TF-free
`tflite_bench.checks`; must not import search/ or the rest of tflite_bench/.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from mnasnet_tf import blocks, specs
from tflite_bench import checks

POOLINGS = (None, "avg", "max")
MIN_INPUT_SIZE = 32


def _check_arch(arch: object) -> specs.ArchSpec:
    if not isinstance(arch, specs.ArchSpec):
        raise ValueError(f"arch must be an ArchSpec; got {type(arch).__name__}: {arch!r}")
    return arch


def _check_input_shape(input_shape: object) -> tuple[int | None, int | None, int]:
    """(H, W, C) with C 3 or 1, and H, W ≥ 32 or None (any size)."""
    expected = f"(height, width, 3 or 1) with height and width >= {MIN_INPUT_SIZE} or None"
    if not isinstance(input_shape, Sequence) or isinstance(input_shape, str):
        raise ValueError(f"input_shape must be {expected}; got {input_shape!r}")
    shape = tuple(input_shape)
    if len(shape) != 3 or any(isinstance(v, bool) for v in shape):
        raise ValueError(f"input_shape must be {expected}; got {input_shape!r}")
    height, width, channels = shape
    for size in (height, width):
        if size is not None and (not isinstance(size, int) or size < MIN_INPUT_SIZE):
            raise ValueError(f"input_shape must be {expected}; got {input_shape!r}")
    if channels not in (1, 3) or not isinstance(channels, int):
        raise ValueError(f"input_shape must be {expected}; got {input_shape!r}")
    return height, width, channels


def _check_bn(bn_momentum: object, bn_epsilon: object) -> None:
    if not checks.is_number(bn_momentum) or not 0 < bn_momentum < 1:
        raise ValueError(f"bn_momentum must be in (0, 1); got {bn_momentum!r}")
    if not checks.is_number(bn_epsilon) or not bn_epsilon > 0:
        raise ValueError(f"bn_epsilon must be a positive number; got {bn_epsilon!r}")


def _check_top(
    arch: specs.ArchSpec,
    *,
    classes: object,
    dropout_rate: object,
    classifier_activation: object,
    pooling: object,
) -> float:
    """Validates the classifier arguments; returns the dropout rate to use."""
    if not checks.is_positive_int(classes):
        raise ValueError(f"classes must be a positive integer; got {classes!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}; got {pooling!r}")
    rate = arch.dropout_rate if dropout_rate is None else dropout_rate
    if not checks.is_number(rate) or not 0 <= rate < 1:
        raise ValueError(f"dropout_rate must be in [0, 1) or None; got {dropout_rate!r}")
    if classifier_activation is not None:
        try:
            keras.activations.get(classifier_activation)
        except (ValueError, TypeError):
            raise ValueError(
                f"classifier_activation must be a Keras activation name or None; "
                f"got {classifier_activation!r}"
            ) from None
    return float(rate)


def _input(shape: tuple[int | None, ...], name: str = "image") -> keras.KerasTensor:
    return keras.Input(shape=shape, name=name)


def _finish_top(
    x: keras.KerasTensor,
    arch: specs.ArchSpec,
    *,
    include_top: bool,
    pooling: str | None,
    classes: int,
    dropout_rate: float,
    classifier_activation: str | None,
) -> keras.KerasTensor:
    if include_top:
        return blocks.apply_top(
            x,
            arch,
            classes=classes,
            dropout_rate=dropout_rate,
            classifier_activation=classifier_activation,
        )
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def build_model(
    arch: specs.ArchSpec,
    *,
    input_shape: Sequence[int | None] = (224, 224, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classes: int = 1000,
    dropout_rate: float | None = None,
    classifier_activation: str | None = "softmax",
    include_preprocessing: bool = True,
    bn_momentum: float = blocks.DEFAULT_BN_MOMENTUM,
    bn_epsilon: float = blocks.DEFAULT_BN_EPSILON,
    name: str | None = None,
) -> keras.Model:
    """Builds the classifier described by `arch` as a functional Keras model.

    Input convention: float RGB (or grey) images with values in **[0, 255]**. With
    `include_preprocessing` (default) a `Rescaling(1/127.5, offset=-1)` layer named `rescaling`
    maps them to [-1, 1], as keras.applications MobileNetV3 does; without it the model expects
    inputs already in [-1, 1].

    Graph: [rescaling] → stem (conv + BN + act) → every `arch.layers()` layer → head 1×1 conv +
    BN + act (iff `arch.head_filters`) → top. The top (`include_top=True`) is
    [pooled 1×1 pre-logits conv with bias + act + Flatten iff `arch.pre_logits_filters`, else
    GlobalAveragePooling2D] → Dropout (iff the rate > 0) → Dense(`classes`) named 'predictions'.
    Without the top, `pooling` None returns the 4D feature map, 'avg'/'max' a global pooling.

    Args:
      arch: the architecture.
      input_shape: (height, width, channels); channels 3 or 1; height and width ≥ 32, or None
        for any size.
      include_top: whether to add the classifier.
      pooling: None, 'avg' or 'max'; used only when `include_top` is False.
      classes: classifier outputs (≥ 1).
      dropout_rate: dropout before the classifier; None takes `arch.dropout_rate`.
      classifier_activation: activation of 'predictions' (None for logits).
      include_preprocessing: add the [0, 255] → [-1, 1] rescaling layer.
      bn_momentum, bn_epsilon: of every BatchNormalization layer.
      name: model name; None takes `arch.name`.

    Raises:
      ValueError: naming the bad argument and its value.
    """
    arch = _check_arch(arch)
    shape = _check_input_shape(input_shape)
    rate = _check_top(
        arch,
        classes=classes,
        dropout_rate=dropout_rate,
        classifier_activation=classifier_activation,
        pooling=pooling,
    )
    _check_bn(bn_momentum, bn_epsilon)
    bn = {"bn_momentum": bn_momentum, "bn_epsilon": bn_epsilon}

    inputs = _input(shape)
    x = inputs
    if include_preprocessing:
        x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescaling")(x)
    x = blocks.apply_stem(x, arch, **bn)
    for layer in arch.layers():
        x = blocks.apply_layer(x, layer, se_gate=arch.se_gate, **bn)
    x = blocks.apply_head(x, arch, **bn)
    x = _finish_top(
        x,
        arch,
        include_top=include_top,
        pooling=pooling,
        classes=classes,
        dropout_rate=rate,
        classifier_activation=classifier_activation,
    )
    return keras.Model(inputs, x, name=name or arch.name)


def _check_hw(input_hw: object) -> tuple[int, int]:
    if (
        not isinstance(input_hw, Sequence)
        or len(input_hw) != 2
        or not all(checks.is_positive_int(v) for v in input_hw)
    ):
        raise ValueError(f"input_hw must be (height, width) of positive integers; got {input_hw!r}")
    return int(input_hw[0]), int(input_hw[1])


def build_stem_model(
    arch: specs.ArchSpec,
    *,
    input_shape: Sequence[int | None] = (224, 224, 3),
    include_preprocessing: bool = True,
    bn_momentum: float = blocks.DEFAULT_BN_MOMENTUM,
    bn_epsilon: float = blocks.DEFAULT_BN_EPSILON,
    name: str | None = None,
) -> keras.Model:
    """Just the stem of `build_model(arch, ...)`: image (0–255, as in `build_model`) →
    [rescaling] → stem conv + BN + act. Output: (H/stride, W/stride, `arch.stem_filters`)."""
    arch = _check_arch(arch)
    shape = _check_input_shape(input_shape)
    _check_bn(bn_momentum, bn_epsilon)
    inputs = _input(shape)
    x = inputs
    if include_preprocessing:
        x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescaling")(x)
    x = blocks.apply_stem(x, arch, bn_momentum=bn_momentum, bn_epsilon=bn_epsilon)
    return keras.Model(inputs, x, name=name or f"{arch.name}_stem")


def build_layer_model(
    layer: specs.LayerSpec,
    arch: specs.ArchSpec,
    *,
    input_hw: tuple[int, int],
    bn_momentum: float = blocks.DEFAULT_BN_MOMENTUM,
    bn_epsilon: float = blocks.DEFAULT_BN_EPSILON,
    name: str | None = None,
) -> keras.Model:
    """One layer of `arch` (an element of `arch.layers()`) as a model: input
    (*input_hw, `layer.in_channels`) → exactly the layers `build_model` builds for it.

    `input_hw` is the layer's input resolution in the whole model (see
    `stats.layer_input_sizes`); any positive size is accepted. The layer names are the same as in
    the whole model, so per-layer latencies line up with a whole-model profile.
    """
    arch = _check_arch(arch)
    if not isinstance(layer, specs.LayerSpec):
        raise ValueError(f"layer must be a LayerSpec; got {type(layer).__name__}: {layer!r}")
    height, width = _check_hw(input_hw)
    _check_bn(bn_momentum, bn_epsilon)
    inputs = _input((height, width, layer.in_channels), name=f"{layer.name}_input")
    x = blocks.apply_layer(
        inputs, layer, se_gate=arch.se_gate, bn_momentum=bn_momentum, bn_epsilon=bn_epsilon
    )
    return keras.Model(inputs, x, name=name or f"{arch.name}_{layer.name}")


def build_head_model(
    arch: specs.ArchSpec,
    *,
    input_hw: tuple[int, int],
    include_top: bool = True,
    pooling: str | None = None,
    classes: int = 1000,
    dropout_rate: float | None = None,
    classifier_activation: str | None = "softmax",
    bn_momentum: float = blocks.DEFAULT_BN_MOMENTUM,
    bn_epsilon: float = blocks.DEFAULT_BN_EPSILON,
    name: str | None = None,
) -> keras.Model:
    """Everything after the last block as a model: input (*input_hw, channels of the last block)
    → head conv + BN + act (iff `arch.head_filters`) → the top exactly as in `build_model`
    (same keyword meanings). `input_hw` is the last block's output resolution."""
    arch = _check_arch(arch)
    height, width = _check_hw(input_hw)
    rate = _check_top(
        arch,
        classes=classes,
        dropout_rate=dropout_rate,
        classifier_activation=classifier_activation,
        pooling=pooling,
    )
    _check_bn(bn_momentum, bn_epsilon)
    channels = arch.blocks[-1].output_filters
    inputs = _input((height, width, channels), name="head_input")
    x = blocks.apply_head(inputs, arch, bn_momentum=bn_momentum, bn_epsilon=bn_epsilon)
    x = _finish_top(
        x,
        arch,
        include_top=include_top,
        pooling=pooling,
        classes=classes,
        dropout_rate=rate,
        classifier_activation=classifier_activation,
    )
    return keras.Model(inputs, x, name=name or f"{arch.name}_head")
