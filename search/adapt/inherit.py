"""Weight inheritance for a narrowed network: keep the filters with the largest L2 norm.

Owns `channel_groups` (which layers' channels are one and the same feature-map width, found by
walking the functional Keras graph: a Conv2D or Dense starts a new width, depthwise convs, BN,
activations, pooling, Flatten, Add and Multiply keep theirs and tie their inputs together),
`kept_channels` (per width, the indices a narrower model keeps: the largest summed squared L2
norm over the filters that produce it, in their original order, as the NetAdapt paper does) and
`inherit` (copies the kept slices of every weight into a narrower model of the same topology).
`restrict` is its reference: the original model with every consumer weight of a dropped channel
set to zero computes exactly what the inherited narrow model computes (tests rely on this).

Imports Keras and numpy; must not import the rest of search/ or tflite_bench/.
"""

from __future__ import annotations

import keras
import numpy as np

_NEW_WIDTH = (keras.layers.Conv2D, keras.layers.Dense)


class _Union:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def _inputs(layer: keras.layers.Layer) -> list[str]:
    tensors = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
    return [tensor._keras_history.operation.name for tensor in tensors]


def channel_groups(model: keras.Model) -> tuple[dict[str, str], dict[str, str]]:
    """({layer: group of its output channels}, {layer: group of its input channels}) for every
    layer of a functional `model`; a group is named by one of its layers."""
    union = _Union()
    inputs: dict[str, list[str]] = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            union.find(layer.name)
            continue
        sources = _inputs(layer)
        inputs[layer.name] = sources
        if isinstance(layer, _NEW_WIDTH):
            union.find(layer.name)
        else:
            for source in sources:
                union.union(layer.name, source)
    out = {layer.name: union.find(layer.name) for layer in model.layers}
    into = {name: union.find(sources[0]) for name, sources in inputs.items()}
    return out, into


def _filter_norms(layer: keras.layers.Layer) -> np.ndarray:
    kernel = np.asarray(layer.kernel)
    return np.sum(kernel.reshape(-1, kernel.shape[-1]) ** 2, axis=0)


def kept_channels(old: keras.Model, new: keras.Model) -> dict[str, np.ndarray]:
    """{group: sorted indices of the old channels the narrower `new` keeps} for every width
    that `new` narrows."""
    out, _ = channel_groups(old)
    importance: dict[str, np.ndarray] = {}
    for layer in old.layers:
        if isinstance(layer, _NEW_WIDTH):
            group = out[layer.name]
            norms = _filter_norms(layer)
            importance[group] = importance.get(group, 0) + norms
    kept = {}
    new_layers = {layer.name: layer for layer in new.layers}
    for layer in old.layers:
        group = out[layer.name]
        if group in kept or group not in importance or layer.name not in new_layers:
            continue
        size = int(new_layers[layer.name].output.shape[-1])
        old_size = len(importance[group])
        if size > old_size:
            raise ValueError(f"{layer.name}: the new model is wider ({size} > {old_size})")
        if size < old_size:
            order = np.argsort(-importance[group], kind="stable")[:size]
            kept[group] = np.sort(order)
    return kept


def _axes(layer: keras.layers.Layer, weight_rank: int, index: int) -> tuple[str, ...]:
    """Which channel group ('in' or 'out' or '') each axis of weight `index` follows."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return ("", "", "in", "") if weight_rank == 4 else ("in",)
    if isinstance(layer, keras.layers.Conv2D):
        return ("", "", "in", "out") if weight_rank == 4 else ("out",)
    if isinstance(layer, keras.layers.Dense):
        return ("in", "out") if weight_rank == 2 else ("out",)
    return ("in",) * weight_rank  # BatchNormalization and other per-channel layers


def _check_same_topology(old: keras.Model, new: keras.Model) -> None:
    old_names = [layer.name for layer in old.layers]
    new_names = [layer.name for layer in new.layers]
    if old_names != new_names:
        extra = sorted(set(old_names) ^ set(new_names))[:5]
        raise ValueError(f"the narrow model's layers differ from the original's: {extra}")


def inherit(old: keras.Model, new: keras.Model) -> dict[str, np.ndarray]:
    """Sets every weight of `new` (same layers as `old`, some widths smaller) to the slice of
    `old`'s weight at the kept channels; returns `kept_channels(old, new)`.

    Raises:
      ValueError: if the two models' layers differ, or `new` is wider somewhere.
    """
    _check_same_topology(old, new)
    kept = kept_channels(old, new)
    out, into = channel_groups(old)
    for old_layer, new_layer in zip(old.layers, new.layers, strict=True):
        if not old_layer.weights:
            continue
        groups = {"in": into.get(old_layer.name), "out": out[old_layer.name]}
        values = []
        for index, (weight, target) in enumerate(
            zip(old_layer.get_weights(), new_layer.get_weights(), strict=True)
        ):
            for axis, role in enumerate(_axes(old_layer, weight.ndim, index)):
                if weight.shape[axis] != target.shape[axis]:
                    weight = np.take(weight, kept[groups[role]], axis=axis)
            if weight.shape != target.shape:
                raise ValueError(
                    f"{old_layer.name}: cannot narrow a {weight.shape} weight to {target.shape}"
                )
            values.append(weight)
        new_layer.set_weights(values)
    return kept


def restrict(old: keras.Model, kept: dict[str, np.ndarray]) -> keras.Model:
    """A copy of `old` in which every Conv2D and Dense ignores the dropped channels of its input
    (their input weights set to zero): in inference it computes what the inherited narrow model
    computes."""
    copy = keras.Model.from_config(old.get_config())
    copy.set_weights(old.get_weights())
    _, into = channel_groups(old)
    for layer in copy.layers:
        if not isinstance(layer, _NEW_WIDTH) or isinstance(layer, keras.layers.DepthwiseConv2D):
            continue
        group = into[layer.name]
        if group not in kept:
            continue
        weights = layer.get_weights()
        kernel = weights[0]
        dropped = np.setdiff1d(np.arange(kernel.shape[-2]), kept[group])
        kernel[..., dropped, :] = 0
        layer.set_weights([kernel, *weights[1:]])
    return copy
