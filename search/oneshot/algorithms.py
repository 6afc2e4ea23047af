"""The two ways a one-shot search learns its architecture distribution.

Owns `TunasPolicy` (REINFORCE with the project's controller, search/controllers/controller.py, on
rewards
from one-shot accuracy and table latency) and `DnasPolicy` (FBNet's Gumbel-softmax over each
decision; the architecture logits learn from the gradient of CE · α·(log LAT)^β), their
sampling for weight steps, their final distributions and their JSON state. Both know the space
only as its choice sizes and the latency function they are given.

DNAS's relaxation here: each step draws a hard Gumbel-max sample per decision (so the supernet
runs one real path, like TuNAS) and passes the decision's straight-through relaxed value
y = onehot + softmax((θ+g)/τ) − stop_gradient(softmax(…)) — exactly 1 in the forward pass — to
the place the decision acts (`Skeleton.gate_indices`), as GDAS does; the expected latency's
gradient is exact at the sample: ∂LAT/∂y[d, c] is the table latency of the sample with
decision d set to c.

Imports TensorFlow (DNAS's step); the loop is in search/oneshot/run.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from search.controllers.controller import Controller, decode_array, encode_array

NEG = -1e9


class TunasPolicy:
    """REINFORCE on independent categoricals; see the module docstring."""

    name = "tunas"

    def __init__(
        self, choice_sizes: Sequence[int], *, learning_rate: float, ramp_samples: int, seed: int
    ) -> None:
        self.controller = Controller(
            choice_sizes,
            policy="independent",
            algorithm="reinforce",
            learning_rate=learning_rate,
            adam_beta1=0.0,
            baseline_decay=0.95,
            warmup_samples=ramp_samples,
            seed=seed,
        )

    def sample(self) -> list[int]:
        """A path from the current policy."""
        return list(self.controller.sample()[0])

    def learn(self, choices: Sequence[int], reward: float) -> dict[str, float]:
        """One REINFORCE step on one sample."""
        return self.controller.update([list(choices)], [reward])

    def entropy(self) -> float:
        """Σ per-decision entropies (nats)."""
        return float(self.controller.entropy())

    def greedy(self) -> list[int]:
        """The most likely path."""
        return list(self.controller.greedy())

    def final_sample(self) -> list[int]:
        """A path from the final distribution."""
        return self.sample()

    def get_state(self) -> dict[str, Any]:
        return self.controller.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        self.controller.set_state(state)


class DnasPolicy:
    """FBNet-style architecture logits with straight-through Gumbel-softmax; see the module
    docstring."""

    name = "dnas"

    def __init__(
        self,
        choice_sizes: Sequence[int],
        *,
        learning_rate: float,
        alpha: float,
        beta: float,
        seed: int,
    ) -> None:
        self.sizes = list(choice_sizes)
        self.width = max(self.sizes)
        self.valid = np.zeros((len(self.sizes), self.width), dtype=bool)
        for d, size in enumerate(self.sizes):
            self.valid[d, :size] = True
        self.theta = tf.Variable(tf.zeros((len(self.sizes), self.width)), name="dnas_theta")
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build([self.theta])
        self.alpha, self.beta = float(alpha), float(beta)
        self.rng = np.random.default_rng(seed)
        self._step_fn: Callable | None = None

    # -- sampling --

    def _logits(self) -> np.ndarray:
        return np.where(self.valid, self.theta.numpy(), NEG)

    def probabilities(self) -> np.ndarray:
        """[decisions, max size] softmax(θ), zero beyond each decision's size."""
        logits = self._logits()
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    def gumbel(self) -> tuple[list[int], np.ndarray]:
        """Gumbel noise and the hard sample argmax(θ + g) it gives."""
        noise = self.rng.gumbel(size=self.valid.shape).astype(np.float32)
        choices = np.argmax(self._logits() + noise, axis=1)
        return [int(c) for c in choices], noise

    def sample(self) -> list[int]:
        """A path for a weight step: a hard Gumbel-max sample (a draw from softmax(θ))."""
        return self.gumbel()[0]

    def final_sample(self) -> list[int]:
        """A path from the final distribution softmax(θ)."""
        return self.sample()

    def greedy(self) -> list[int]:
        """argmax θ per decision."""
        return [int(c) for c in np.argmax(self._logits(), axis=1)]

    def entropy(self) -> float:
        """Σ per-decision entropies of softmax(θ) (nats)."""
        p = self.probabilities()
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p > 0, -p * np.log(p), 0.0)
        return float(terms.sum())

    # -- learning --

    def step(
        self,
        net: keras.Model,
        images: Any,
        labels: Any,
        path: Any,
        *,
        choices: Sequence[int],
        noise: np.ndarray,
        temperature: float,
        latency_us: float,
        marginal_us: np.ndarray,
        gate_indices: np.ndarray,
    ) -> dict[str, float]:
        """One Adam step on θ from one architecture batch: the sampled path's cross-entropy
        with its decisions' relaxed values as `net`'s gates, times α·(log LAT)^β;
        `marginal_us[d, c]` is the latency (µs) of the sample with decision d set to c."""
        if not latency_us > 1.0:
            raise ValueError(
                f"DNAS needs latencies above 1 µs for log LAT > 0; the table gives {latency_us}"
            )
        onehot = np.zeros(self.valid.shape, dtype=np.float32)
        onehot[np.arange(len(self.sizes)), list(choices)] = 1.0
        if self._step_fn is None:
            self._step_fn = self._make_step(net)
        loss, ce = self._step_fn(
            images,
            labels,
            path,
            tf.constant(gate_indices),
            tf.constant(noise),
            tf.constant(onehot),
            tf.constant(temperature, tf.float32),
            tf.constant(latency_us, tf.float32),
            tf.constant(marginal_us.astype(np.float32)),
        )
        return {"loss": float(loss), "ce": float(ce)}

    def _make_step(self, net: keras.Model) -> Callable:
        valid = tf.constant(self.valid)
        alpha, beta = self.alpha, self.beta

        @tf.function
        def step(images, labels, path, gate_indices, noise, onehot, tau, latency, marginal):
            with tf.GradientTape() as tape:
                z = tf.where(valid, (self.theta + noise) / tau, NEG)
                soft = tf.nn.softmax(z, axis=1)
                relaxed = onehot + soft - tf.stop_gradient(soft)
                flat = tf.concat([tf.reshape(relaxed, [-1]), tf.ones([1])], axis=0)
                gates = tf.gather(flat, gate_indices)
                logits = net(images, path, gates, training=True)
                ce = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
                )
                expected = latency + tf.reduce_sum((relaxed - tf.stop_gradient(relaxed)) * marginal)
                loss = ce * alpha * tf.pow(tf.math.log(expected), beta)
            grad = tape.gradient(loss, self.theta)
            self.optimizer.apply_gradients([(grad, self.theta)])
            return loss, ce

        return step

    # -- state --

    def get_state(self) -> dict[str, Any]:
        moments = [encode_array(np.asarray(v)) for v in self.optimizer.variables]
        return {
            "theta": encode_array(self.theta.numpy()),
            "optimizer": moments,
            "rng": self.rng.bit_generator.state,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        theta = decode_array(state["theta"])
        if theta.shape != self.valid.shape:
            raise ValueError(
                f"DNAS state: logits of shape {theta.shape}; expected {self.valid.shape}"
            )
        self.theta.assign(theta.astype(np.float32))
        for variable, saved in zip(self.optimizer.variables, state["optimizer"], strict=True):
            variable.assign(decode_array(saved).astype(variable.dtype))
        self.rng.bit_generator.state = state["rng"]
