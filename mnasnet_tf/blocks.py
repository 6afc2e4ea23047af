"""Functional building blocks: conv-BN-activation, squeeze-and-excitation, and one layer of a block.

Owns the Keras graph of a single `specs.LayerSpec` (ops 'mbconv', 'sep', 'conv'; skips
'identity', 'pool', 'none'), of the stem and of the head. Built from **stock Keras layers only**
(no Lambda, no custom Layer subclasses, no raw ops on KerasTensors), so a `.keras` file loads
without custom objects and every layer name survives into the converted .tflite graph. Names say
where a layer sits: `stem_conv`, `block3b_expand_conv`, `block3b_dwconv`, `block3b_se_reduce`,
`block3b_project_bn`, `block3b_add`, `head_conv`, ...

Graph of one layer (`p` is `LayerSpec.name`, e.g. 'block3b'; E = `layer.expanded`):

- 'mbconv' / 'sep': [1×1 conv to E + BN + act iff the block is expanded: `p_expand_*`] →
  k×k depthwise conv with the stride, padding 'same' + BN + act (`p_dwconv*`) → [SE on E] →
  1×1 project conv + BN, no activation (`p_project_*`). 'sep' is the same graph with expansion 1.
- 'conv', expanded (a fused MBConv): k×k regular conv with the stride to E + BN + act
  (`p_regular_*`) → [SE on E] → 1×1 project conv + BN, no activation.
- 'conv', not expanded (the paper's "regular conv"): k×k regular conv with the stride straight to
  the output channels + BN + act → [SE on the output channels]. (As EfficientNetV2's fused
  block with expansion 1, this keeps its activation.)
- skip 'identity': `Add` iff `layer.has_residual`; 'pool': a shortcut that is always added,
  AveragePooling2D(2, strides 2, 'same') iff the layer strides, then 1×1 conv + BN iff the channel
  counts differ; 'none': no shortcut.

SE: GlobalAveragePooling2D(keepdims) → 1×1 conv with bias to `layer.se_filters` → ReLU →
1×1 conv with bias back to the gated width → sigmoid or hard-sigmoid gate → Multiply.

Stride-2 convolutions use padding 'same' (no ZeroPadding2D + 'valid' as keras.applications
does; the numbers are identical and TFLite needs no separate PAD op).

Imports Keras; must not import the builder, search/ or tflite_bench/.
"""

from __future__ import annotations

import keras
from keras import layers

from mnasnet_tf import specs

DEFAULT_BN_MOMENTUM = 0.99
DEFAULT_BN_EPSILON = 1e-3

_GATES = {"sigmoid": "sigmoid", "hard_sigmoid": "hard_sigmoid"}


def activation_layer(kind: str, *, name: str) -> layers.Layer:
    """A stock Keras layer for one of `specs.ACTIVATIONS` (relu6 → ReLU(6.), hswish →
    Activation('hard_swish'))."""
    if kind == "relu":
        return layers.ReLU(name=name)
    if kind == "relu6":
        return layers.ReLU(6.0, name=name)
    if kind == "hswish":
        return layers.Activation("hard_swish", name=name)
    if kind == "swish":
        return layers.Activation("swish", name=name)
    raise ValueError(f"activation must be one of {specs.ACTIVATIONS}; got {kind!r} for {name!r}")


def batch_norm(*, name: str, momentum: float, epsilon: float) -> layers.Layer:
    """BatchNormalization over the channel (last) axis."""
    return layers.BatchNormalization(axis=-1, momentum=momentum, epsilon=epsilon, name=name)


def conv_bn_act(
    x: keras.KerasTensor,
    *,
    filters: int,
    kernel_size: int,
    strides: int = 1,
    activation: str | None,
    name: str,
    bn_momentum: float = DEFAULT_BN_MOMENTUM,
    bn_epsilon: float = DEFAULT_BN_EPSILON,
) -> keras.KerasTensor:
    """Conv2D ('same', no bias) → BN → activation (none if `activation` is None); layers are
    named `{name}_conv`, `{name}_bn`, `{name}_act`."""
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        name=f"{name}_conv",
    )(x)
    x = batch_norm(name=f"{name}_bn", momentum=bn_momentum, epsilon=bn_epsilon)(x)
    if activation is not None:
        x = activation_layer(activation, name=f"{name}_act")(x)
    return x


def squeeze_excite(
    x: keras.KerasTensor, *, squeeze_filters: int, gate: str, name: str
) -> keras.KerasTensor:
    """Squeeze-and-excitation on `x`: pooled 1×1 convs (with bias) to `squeeze_filters` and back,
    ReLU between, a 'sigmoid' or 'hard_sigmoid' gate, then a Multiply with `x`."""
    filters = x.shape[-1]
    se = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_squeeze")(x)
    se = layers.Conv2D(squeeze_filters, 1, use_bias=True, name=f"{name}_se_reduce")(se)
    se = layers.ReLU(name=f"{name}_se_reduce_act")(se)
    se = layers.Conv2D(filters, 1, use_bias=True, name=f"{name}_se_expand")(se)
    se = layers.Activation(_GATES[gate], name=f"{name}_se_gate")(se)
    return layers.Multiply(name=f"{name}_se_excite")([x, se])


def apply_layer(
    x: keras.KerasTensor,
    layer: specs.LayerSpec,
    *,
    se_gate: str,
    bn_momentum: float = DEFAULT_BN_MOMENTUM,
    bn_epsilon: float = DEFAULT_BN_EPSILON,
) -> keras.KerasTensor:
    """Applies one concrete layer of a block (see the module docstring for the graph).

    `x` must have `layer.in_channels` channels; `se_gate` is the model's `ArchSpec.se_gate`.
    """
    block = layer.block
    prefix = layer.name
    bn = {"bn_momentum": bn_momentum, "bn_epsilon": bn_epsilon}
    inputs = x
    if block.op == "conv":
        filters = layer.expanded if block.is_expanded else layer.out_channels
        x = conv_bn_act(
            x,
            filters=filters,
            kernel_size=block.kernel_size,
            strides=layer.stride,
            activation=layer.activation,
            name=f"{prefix}_regular",
            **bn,
        )
    else:  # 'mbconv' and 'sep'
        if block.is_expanded:
            x = conv_bn_act(
                x,
                filters=layer.expanded,
                kernel_size=1,
                activation=layer.activation,
                name=f"{prefix}_expand",
                **bn,
            )
        x = layers.DepthwiseConv2D(
            block.kernel_size,
            strides=layer.stride,
            padding="same",
            use_bias=False,
            name=f"{prefix}_dwconv",
        )(x)
        x = batch_norm(name=f"{prefix}_dwconv_bn", momentum=bn_momentum, epsilon=bn_epsilon)(x)
        x = activation_layer(layer.activation, name=f"{prefix}_dwconv_act")(x)
    if layer.se_filters is not None:
        x = squeeze_excite(x, squeeze_filters=layer.se_filters, gate=se_gate, name=prefix)
    if block.op != "conv" or block.is_expanded:
        x = conv_bn_act(
            x,
            filters=layer.out_channels,
            kernel_size=1,
            activation=None,
            name=f"{prefix}_project",
            **bn,
        )
    if block.skip == "identity" and layer.has_residual:
        x = layers.Add(name=f"{prefix}_add")([x, inputs])
    elif block.skip == "pool":
        shortcut = inputs
        if layer.stride != 1:
            shortcut = layers.AveragePooling2D(
                pool_size=layer.stride,
                strides=layer.stride,
                padding="same",
                name=f"{prefix}_shortcut_pool",
            )(shortcut)
        if layer.in_channels != layer.out_channels:
            shortcut = conv_bn_act(
                shortcut,
                filters=layer.out_channels,
                kernel_size=1,
                activation=None,
                name=f"{prefix}_shortcut",
                **bn,
            )
        x = layers.Add(name=f"{prefix}_add")([x, shortcut])
    return x


def apply_stem(
    x: keras.KerasTensor,
    arch: specs.ArchSpec,
    *,
    bn_momentum: float = DEFAULT_BN_MOMENTUM,
    bn_epsilon: float = DEFAULT_BN_EPSILON,
) -> keras.KerasTensor:
    """The stem: k×k conv with the stem stride to `arch.stem_filters` + BN + act (`stem_*`)."""
    return conv_bn_act(
        x,
        filters=arch.stem_filters,
        kernel_size=arch.stem_kernel_size,
        strides=arch.stem_stride,
        activation=arch.activation,
        name="stem",
        bn_momentum=bn_momentum,
        bn_epsilon=bn_epsilon,
    )


def apply_head(
    x: keras.KerasTensor,
    arch: specs.ArchSpec,
    *,
    bn_momentum: float = DEFAULT_BN_MOMENTUM,
    bn_epsilon: float = DEFAULT_BN_EPSILON,
) -> keras.KerasTensor:
    """The head: 1×1 conv to `arch.head_filters` + BN + act (`head_*`); identity if unset."""
    if arch.head_filters is None:
        return x
    return conv_bn_act(
        x,
        filters=arch.head_filters,
        kernel_size=1,
        activation=arch.activation,
        name="head",
        bn_momentum=bn_momentum,
        bn_epsilon=bn_epsilon,
    )


def apply_top(
    x: keras.KerasTensor,
    arch: specs.ArchSpec,
    *,
    classes: int,
    dropout_rate: float,
    classifier_activation: str | None,
) -> keras.KerasTensor:
    """The classifier on a feature map: [pooled 1×1 pre-logits conv with bias + act + Flatten
    (`pre_logits_*`, iff `arch.pre_logits_filters`) | GlobalAveragePooling2D (`avg_pool`)] →
    Dropout (`top_dropout`, iff rate > 0) → Dense (`predictions`)."""
    if arch.pre_logits_filters is not None:
        x = layers.GlobalAveragePooling2D(keepdims=True, name="pre_logits_pool")(x)
        x = layers.Conv2D(arch.pre_logits_filters, 1, use_bias=True, name="pre_logits_conv")(x)
        x = activation_layer(arch.activation, name="pre_logits_act")(x)
        x = layers.Flatten(name="pre_logits_flatten")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout_rate > 0:
        x = layers.Dropout(dropout_rate, name="top_dropout")(x)
    return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
