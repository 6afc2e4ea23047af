"""The weight-sharing supernet in Keras, and the stand-alone model of any of its paths.

Owns `Supernet` (a `keras.Model` over a `skeleton.Skeleton`: stem, one `SuperLayer` per slot,
head and classifier, called as `net(images, path, gates, training=...)`), `path_tensors` (a
`Skeleton.encode` path as the tensors the supernet takes) and `extract` (the stand-alone
functional model of one architecture, built by `mnasnet_tf.builder` from stock layers, with the
supernet's weights sliced into it).

How one path is computed, per slot (see skeleton.py for the sharing): every op branch of the
slot runs on the input, masked to the path's widths after each batch norm and activation, and
the path's one-hot `op` picks one; a smaller kernel is the centre of the largest kernel (the
rest masked to zero, which with 'same' padding is exactly the smaller convolution at any
stride); SE, the identity residual and the pooled shortcut are switched on or off; an absent
layer passes its input through. Channels outside the masks are zero everywhere, so the logits
equal the stand-alone model's with the same weights (tests/test_oneshot.py checks every op,
kernel, width, SE, skip and depth). Running every branch costs about three single paths of the
widest model per step; it keeps one traced graph for every path.

`gates` (one scalar per slot and `skeleton.SITES` entry, 1.0 in the forward pass) let the
differentiable search pass a decision's straight-through relaxed value to the place it acts.

Imports Keras and TensorFlow; must not import the search loop (search/oneshot/run.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from mnasnet_tf import blocks, builder, specs
from search.oneshot import skeleton as skeleton_lib
from search.spaces.base import SearchSpace

_ACTIVATIONS = {
    "relu": keras.activations.relu,
    "relu6": keras.activations.relu6,
    "hswish": keras.activations.hard_swish,
    "swish": keras.activations.silu,
}
_GATES = {"sigmoid": keras.activations.sigmoid, "hard_sigmoid": keras.activations.hard_sigmoid}
_SITE = {name: i for i, name in enumerate(skeleton_lib.SITES)}


def _bn(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(
        momentum=blocks.DEFAULT_BN_MOMENTUM, epsilon=blocks.DEFAULT_BN_EPSILON, name=name
    )


def _fit(x: Any, channels: int) -> Any:
    """`x` cropped or zero-padded on the channel axis to `channels`."""
    have = x.shape[-1]
    if have == channels:
        return x
    if have > channels:
        return x[..., :channels]
    return ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, channels - have]])


class _SqueezeExcite(layers.Layer):
    """SE over `channels` with a `squeeze`-wide bottleneck, masked to the path's widths."""

    def __init__(self, channels: int, squeeze: int, gate: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channels, self.squeeze, self.gate = channels, squeeze, gate

    def build(self, input_shape: Any) -> None:
        self.reduce_kernel = self.add_weight(
            name="reduce_kernel", shape=(self.channels, self.squeeze), initializer="he_normal"
        )
        self.reduce_bias = self.add_weight(
            name="reduce_bias", shape=(self.squeeze,), initializer="zeros"
        )
        self.expand_kernel = self.add_weight(
            name="expand_kernel", shape=(self.squeeze, self.channels), initializer="he_normal"
        )
        self.expand_bias = self.add_weight(
            name="expand_bias", shape=(self.channels,), initializer="zeros"
        )

    def call(self, x: Any, squeeze_mask: Any) -> Any:
        pooled = ops.mean(x, axis=(1, 2), keepdims=True)
        hidden = ops.relu(ops.matmul(pooled, self.reduce_kernel) + self.reduce_bias)
        hidden = hidden * squeeze_mask
        gate = _GATES[self.gate](ops.matmul(hidden, self.expand_kernel) + self.expand_bias)
        return x * gate


class SuperLayer(layers.Layer):
    """Every op, kernel, width, SE, skip and activation one layer slot can take."""

    def __init__(self, slot: skeleton_lib.SlotShape, *, se_gate: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slot = slot
        self.se_gate = se_gate

    def build(self, input_shape: Any) -> None:
        s = self.slot
        k, init = s.kernel_max, "he_normal"
        self.branches: dict[str, dict[str, Any]] = {}
        for kind in s.ops:
            parts: dict[str, Any] = {}
            if kind == "conv":
                parts["conv"] = self.add_weight(
                    name="conv_kernel", shape=(k, k, s.in_max, s.out_max), initializer=init
                )
                parts["conv_bn"] = _bn("conv_bn")
                width = s.out_max
            else:
                width = s.expanded_max if kind == "mbconv" else s.in_max
                if kind == "mbconv":
                    parts["expand"] = self.add_weight(
                        name="mbconv_expand_kernel",
                        shape=(1, 1, s.in_max, width),
                        initializer=init,
                    )
                    parts["expand_bn"] = _bn("mbconv_expand_bn")
                parts["dw"] = self.add_weight(
                    name=f"{kind}_dw_kernel", shape=(k, k, width, 1), initializer=init
                )
                parts["dw_bn"] = _bn(f"{kind}_dw_bn")
                parts["project"] = self.add_weight(
                    name=f"{kind}_project_kernel",
                    shape=(1, 1, width, s.out_max),
                    initializer=init,
                )
                parts["project_bn"] = _bn(f"{kind}_project_bn")
            if s.squeeze_max:
                parts["se"] = _SqueezeExcite(width, s.squeeze_max, self.se_gate, name=f"{kind}_se")
            parts["width"] = width
            self.branches[kind] = parts
        if "pool" in s.skips:
            if s.stride > 1:
                self.pool = layers.AveragePooling2D(s.stride, s.stride, padding="same")
            if s.pool_conv:
                self.shortcut = self.add_weight(
                    name="shortcut_kernel", shape=(1, 1, s.in_max, s.out_max), initializer=init
                )
                self.shortcut_bn = _bn("shortcut_bn")
        # Build the batch norms (their shapes are known) so weights exist before the first call.
        for parts in self.branches.values():
            for name, value in parts.items():
                if isinstance(value, layers.BatchNormalization):
                    channels = s.out_max if name in ("conv_bn", "project_bn") else parts["width"]
                    value.build((None, None, None, channels))
                elif isinstance(value, _SqueezeExcite):
                    value.build((None, None, None, parts["width"]))
        if hasattr(self, "shortcut_bn"):
            self.shortcut_bn.build((None, None, None, s.out_max))

    def _act(self, x: Any, weights: Any) -> Any:
        if len(self.slot.activations) == 1:
            return _ACTIVATIONS[self.slot.activations[0]](x)
        return sum(
            weights[i] * _ACTIVATIONS[name](x) for i, name in enumerate(self.slot.activations)
        )

    def _se(self, parts: dict[str, Any], x: Any, path: dict[str, Any], gates: Any) -> Any:
        if "se" not in parts:
            return x
        excited = parts["se"](x, path["se_mask"])
        return x + gates[_SITE["se"]] * path["se"] * (excited - x)

    def _branch(self, kind: str, x: Any, path: dict, gates: Any, training: Any) -> Any:
        s, parts = self.slot, self.branches[kind]
        kernel_mask = path["kernel"][:, :, None, None]
        act_gate = gates[_SITE["act"]]
        if kind == "conv":
            y = ops.conv(x, parts["conv"] * kernel_mask, strides=s.stride, padding="same")
            y = self._act(parts["conv_bn"](y, training=training), path["act"]) * act_gate
            y = y * path["out_mask"] * gates[_SITE["kernel"]]
            return self._se(parts, y, path, gates)
        if kind == "mbconv":
            mask = path["exp_mask"]
            y = ops.conv(x, parts["expand"], padding="same")
            y = self._act(parts["expand_bn"](y, training=training), path["act"]) * act_gate
            y = y * mask
        else:
            mask, y = path["in_mask"], x
        y = ops.depthwise_conv(y, parts["dw"] * kernel_mask, strides=s.stride, padding="same")
        y = self._act(parts["dw_bn"](y, training=training), path["act"]) * act_gate
        y = y * mask * gates[_SITE["kernel"]]
        y = self._se(parts, y, path, gates)
        y = ops.conv(y, parts["project"], padding="same")
        return parts["project_bn"](y, training=training) * path["out_mask"]

    def _branch_fn(self, kind: str, path: dict, gates: Any, training: Any) -> Any:
        return lambda h: self._branch(kind, h, path, gates, training)

    def call(self, x: Any, path: dict[str, Any], gates: Any, training: Any = None) -> Any:
        s = self.slot
        if not s.optional:
            return self._layer(x, path, gates, training)
        # Only a present layer is computed; an absent one passes its input through.
        y = ops.cond(
            path["present"] > 0.5, lambda: self._layer(x, path, gates, training), lambda: x
        )
        return x + gates[_SITE["present"]] * (y - x)

    def _layer(self, x: Any, path: dict[str, Any], gates: Any, training: Any) -> Any:
        s = self.slot
        if len(s.ops) == 1:
            y = self._branch(s.ops[0], x, path, gates, training)
        else:  # only the path's op branch runs
            index = ops.argmax(
                ops.stack([path["op"][skeleton_lib.OP_KINDS.index(k)] for k in s.ops])
            )
            y = ops.switch(index, [self._branch_fn(k, path, gates, training) for k in s.ops], x)
        y = y * gates[_SITE["op"]]
        shortcut = 0.0
        if "identity" in s.skips and s.stride == 1:
            shortcut = shortcut + path["residual"] * _fit(x, s.out_max)
        if "pool" in s.skips:
            pooled = self.pool(x) if s.stride > 1 else x
            if s.pool_conv:
                projected = ops.conv(pooled, self.shortcut, padding="same")
                projected = self.shortcut_bn(projected, training=training) * path["out_mask"]
                pooled = path["pool_conv"] * projected + (1.0 - path["pool_conv"]) * _fit(
                    pooled, s.out_max
                )
            else:
                pooled = _fit(pooled, s.out_max)
            shortcut = shortcut + path["pool"] * pooled
        return (y + gates[_SITE["skip"]] * shortcut) * gates[_SITE["width"]]


class Supernet(keras.Model):
    """Stem → one SuperLayer per slot → head → classifier (logits) of a `Skeleton`.

    Called as `net(images, path, gates, training=...)`: images in [0, 255]; `path` from
    `path_tensors` (or a list of per-slot dicts of tensors); `gates` a [slots, len(SITES)]
    float tensor (ones outside the differentiable search).
    """

    def __init__(
        self,
        skeleton: skeleton_lib.Skeleton,
        *,
        classes: int,
        dropout_rate: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.skeleton, self.classes = skeleton, classes
        fixed = skeleton.fixed
        self.activation = fixed["activation"]
        self.stem_kernel = None
        self.stem_bn = _bn("stem_bn")
        self.slot_layers = [
            SuperLayer(slot, se_gate=fixed["se_gate"], name=slot.name.replace("/", "_"))
            for slot in skeleton.slots
        ]
        self.head_bn = _bn("head_bn") if fixed["head_filters"] else None
        self.dropout = layers.Dropout(dropout_rate) if dropout_rate > 0 else None

    def build(self, input_shape: Any) -> None:
        fixed, slots = self.skeleton.fixed, self.skeleton.slots
        channels = input_shape[-1]
        k = fixed["stem_kernel_size"]
        self.stem_kernel = self.add_weight(
            name="stem_kernel",
            shape=(k, k, channels, fixed["stem_filters"]),
            initializer="he_normal",
        )
        self.stem_bn.build((None, None, None, fixed["stem_filters"]))
        for layer, slot in zip(self.slot_layers, slots, strict=True):
            layer.build((None, None, None, slot.in_max))
        width = max(s.out_max for s in slots)
        if fixed["head_filters"]:
            self.head_kernel = self.add_weight(
                name="head_kernel",
                shape=(1, 1, width, fixed["head_filters"]),
                initializer="he_normal",
            )
            self.head_bn.build((None, None, None, fixed["head_filters"]))
            width = fixed["head_filters"]
        if fixed["pre_logits_filters"]:
            self.pre_logits_kernel = self.add_weight(
                name="pre_logits_kernel",
                shape=(1, 1, width, fixed["pre_logits_filters"]),
                initializer="he_normal",
            )
            self.pre_logits_bias = self.add_weight(
                name="pre_logits_bias", shape=(fixed["pre_logits_filters"],), initializer="zeros"
            )
            width = fixed["pre_logits_filters"]
        self.dense_kernel = self.add_weight(
            name="predictions_kernel", shape=(width, self.classes), initializer="glorot_uniform"
        )
        self.dense_bias = self.add_weight(
            name="predictions_bias", shape=(self.classes,), initializer="zeros"
        )
        self.built = True

    def _unpack(self, flat: Any) -> list[dict[str, Any]]:
        """`path_tensors`' flat vector → per slot {name: tensor} (static slices in the graph)."""
        result, offset = [], 0
        for slot in self.skeleton.slots:
            entry = {}
            for key, value in skeleton_lib.Skeleton._empty(slot).items():
                size = int(value.size)
                entry[key] = ops.reshape(flat[offset : offset + size], value.shape)
                offset += size
            result.append(entry)
        return result

    def call(self, images: Any, path: Any, gates: Any, training: Any = None) -> Any:
        fixed = self.skeleton.fixed
        if not isinstance(path, (list, tuple)):
            path = self._unpack(path)
        act = _ACTIVATIONS[self.activation]
        x = images / 127.5 - 1.0
        x = ops.conv(x, self.stem_kernel, strides=fixed["stem_stride"], padding="same")
        x = act(self.stem_bn(x, training=training))
        for i, (layer, slot_path) in enumerate(zip(self.slot_layers, path, strict=True)):
            x = layer(x, slot_path, gates[i], training=training)
        width = max(s.out_max for s in self.skeleton.slots)
        x = _fit(x, width)
        if fixed["head_filters"]:
            x = ops.conv(x, self.head_kernel, padding="same")
            x = act(self.head_bn(x, training=training))
        if fixed["pre_logits_filters"]:
            x = ops.mean(x, axis=(1, 2), keepdims=True)
            x = act(ops.matmul(x, self.pre_logits_kernel[0, 0]) + self.pre_logits_bias)
            x = ops.reshape(x, (-1, x.shape[-1]))
        else:
            x = ops.mean(x, axis=(1, 2))
        if self.dropout is not None:
            x = self.dropout(x, training=training)
        return ops.matmul(x, self.dense_kernel) + self.dense_bias


def path_tensors(path: Sequence[dict[str, np.ndarray]]) -> Any:
    """A `Skeleton.encode` path as one flat float32 tensor (the supernet unpacks it inside its
    graph: one conversion per step instead of one per array, and one traced graph for every
    path)."""
    flat = np.concatenate([value.ravel() for entry in path for value in entry.values()])
    return ops.convert_to_tensor(flat.astype(np.float32))


def ones_gates(skeleton: skeleton_lib.Skeleton) -> np.ndarray:
    """Gates that change nothing: [slots, len(SITES)] ones."""
    return np.ones((len(skeleton.slots), len(skeleton_lib.SITES)), dtype=np.float32)


# ---- the stand-alone model of one path ----


def _centre(kernel: np.ndarray, size: int) -> np.ndarray:
    start = (kernel.shape[0] - size) // 2
    return kernel[start : start + size, start : start + size]


def _bn_weights(bn: layers.BatchNormalization, width: int) -> list[np.ndarray]:
    return [np.asarray(w)[:width] for w in bn.get_weights()]


def extract(
    net: Supernet,
    space: SearchSpace,
    arch: specs.ArchSpec,
    *,
    input_shape: Sequence[int],
    classifier_activation: str | None = "softmax",
    dropout_rate: float | None = None,
) -> keras.Model:
    """The stand-alone functional model of `arch` (a point of `space`) with the supernet's
    weights: the leading channels and centre kernels of each slot's branch for the layer's op.
    """
    model = builder.build_model(
        arch,
        input_shape=tuple(input_shape),
        classes=net.classes,
        classifier_activation=classifier_activation,
        dropout_rate=dropout_rate,
    )
    index = net.skeleton.slot_index()
    fixed = net.skeleton.fixed
    k = fixed["stem_kernel_size"]
    model.get_layer("stem_conv").set_weights([np.asarray(net.stem_kernel)[:k, :k]])
    model.get_layer("stem_bn").set_weights(_bn_weights(net.stem_bn, fixed["stem_filters"]))
    for layer, key in zip(arch.layers(), space.layer_slots(arch), strict=True):
        _copy_layer(model, net.slot_layers[index[key]], layer)
    last = arch.layers()[-1].out_channels
    width = last
    if fixed["head_filters"]:
        head = np.asarray(net.head_kernel)[:, :, :last]
        model.get_layer("head_conv").set_weights([head])
        model.get_layer("head_bn").set_weights(_bn_weights(net.head_bn, fixed["head_filters"]))
        width = fixed["head_filters"]
    if fixed["pre_logits_filters"]:
        kernel = np.asarray(net.pre_logits_kernel)[:, :, :width]
        model.get_layer("pre_logits_conv").set_weights([kernel, np.asarray(net.pre_logits_bias)])
        width = fixed["pre_logits_filters"]
    dense = np.asarray(net.dense_kernel)[:width]
    model.get_layer("predictions").set_weights([dense, np.asarray(net.dense_bias)])
    return model


def _copy_layer(model: keras.Model, sup: SuperLayer, layer: specs.LayerSpec) -> None:
    """Slices one slot's weights into the stand-alone layer `layer`."""
    kind = skeleton_lib.op_kind(layer)
    parts, p = sup.branches[kind], layer.name
    k, cin, cout = layer.block.kernel_size, layer.in_channels, layer.out_channels

    def put(name: str, weights: list[np.ndarray]) -> None:
        model.get_layer(f"{p}_{name}").set_weights(weights)

    if kind == "conv":
        put("regular_conv", [_centre(np.asarray(parts["conv"]), k)[:, :, :cin, :cout]])
        put("regular_bn", _bn_weights(parts["conv_bn"], cout))
        width = cout
    else:
        width = layer.expanded if kind == "mbconv" else cin
        if kind == "mbconv":
            put("expand_conv", [np.asarray(parts["expand"])[:, :, :cin, :width]])
            put("expand_bn", _bn_weights(parts["expand_bn"], width))
        put("dwconv", [_centre(np.asarray(parts["dw"]), k)[:, :, :width]])
        put("dwconv_bn", _bn_weights(parts["dw_bn"], width))
        put("project_conv", [np.asarray(parts["project"])[:, :, :width, :cout]])
        put("project_bn", _bn_weights(parts["project_bn"], cout))
    if layer.se_filters is not None:
        se, squeeze = parts["se"], layer.se_filters
        put(
            "se_reduce",
            [
                np.asarray(se.reduce_kernel)[None, None, :width, :squeeze],
                np.asarray(se.reduce_bias)[:squeeze],
            ],
        )
        put(
            "se_expand",
            [
                np.asarray(se.expand_kernel)[None, None, :squeeze, :width],
                np.asarray(se.expand_bias)[:width],
            ],
        )
    if layer.block.skip == "pool" and cin != cout:
        put("shortcut_conv", [np.asarray(sup.shortcut)[:, :, :cin, :cout]])
        put("shortcut_bn", _bn_weights(sup.shortcut_bn, cout))
