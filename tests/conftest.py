"""Shared pytest fixtures. TensorFlow is imported lazily, so TF-free test files stay fast."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def zoo_model():
    """`zoo_model(name, **build_kwargs)`: the zoo model built once per session and shared
    (default: 224×224×3, include_top, 1000 classes). Do not train or mutate it."""
    cache = {}

    def get(name: str, **build_kwargs):
        key = (name, tuple(sorted(build_kwargs.items())))
        if key not in cache:
            from mnasnet_tf import zoo

            cache[key] = zoo.create_model(name, **build_kwargs)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def count_trainable():
    """`count_trainable(model)`: the number of trainable scalars of a Keras model."""

    def count(model) -> int:
        return sum(_prod(weight.shape) for weight in model.trainable_weights)

    return count


def _prod(shape) -> int:
    result = 1
    for value in shape:
        result *= int(value)
    return result
