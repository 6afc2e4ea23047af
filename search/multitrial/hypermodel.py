"""`ArchHyperModel`: a search space as a keras-tuner HyperModel.

Owns the one class that lets keras-tuner's idiom work on a search:
`tuner.hypermodel.build(tuner.get_best_hyperparameters()[0])` builds the best architecture as an
(untrained, uncompiled) Keras model. `build(hp)` maps the HyperParameters back to an `ArchSpec`
through the space (`SearchSpace.from_hyperparameters`) and builds it with `mnasnet_tf.builder`.

Imports keras-tuner (and so TensorFlow); the builder lazily, when a model is built.
"""

from __future__ import annotations

from typing import Any

import keras_tuner

from search.spaces.base import SearchSpace


class ArchHyperModel(keras_tuner.HyperModel):
    """Builds the architecture a trial's HyperParameters name, at `image_size`² with a
    `classes`-way classifier (the proxy task's by default on a search's tuner)."""

    def __init__(
        self, space: SearchSpace, *, image_size: int = 224, classes: int = 1000, name=None
    ) -> None:
        super().__init__(name=name, tunable=True)
        self.space = space
        self.image_size = image_size
        self.classes = classes

    def declare_hyperparameters(self, hp: keras_tuner.HyperParameters) -> None:
        """Declares the space's decisions (one Choice per decision) in `hp`."""
        hp.merge(self.space.to_hyperparameters())

    def build(self, hp: keras_tuner.HyperParameters | dict[str, Any]) -> Any:
        """The Keras model of the architecture `hp` (HyperParameters or their values) names."""
        from mnasnet_tf import builder

        values = hp.values if isinstance(hp, keras_tuner.HyperParameters) else dict(hp)
        arch = self.space.from_hyperparameters(values)
        return builder.build_model(
            arch, input_shape=(self.image_size, self.image_size, 3), classes=self.classes
        )
