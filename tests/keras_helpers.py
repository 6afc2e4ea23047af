"""Helpers for tests that compare Keras models numerically."""

from __future__ import annotations

import numpy as np


def randomize_batch_norm(model, *, seed: int = 0, spread: float = 0.1) -> None:
    """Random BN statistics (scale and variance in [0.5, 1.5], offset and mean N(0, `spread`)),
    so that outputs differ visibly between layers and a wrong channel shows."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape),
                    rng.normal(0, spread, beta.shape),
                    rng.normal(0, spread, mean.shape),
                    rng.uniform(0.5, 1.5, var.shape),
                ]
            )
