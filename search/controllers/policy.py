"""Policies over a list of categorical decisions, in numpy: sampling, log-probabilities,
entropies and their exact gradients.

Owns `IndependentPolicy` (one logit vector per decision) and `LSTMPolicy` (the NASNet / MnasNet
autoregressive controller: each step embeds the previous decision, runs a one-layer LSTM and a
per-decision softmax head emits the next decision; backprop-through-time by hand). A policy
knows only the list of choice sizes. Optimisation (REINFORCE, PPO, Adam) lives in
`search/controllers/controller.py`.

Both policies share one interface on batches of choice lists `C` (shape [B, T]):
`evaluate(C) -> (log_probs [B], entropies [B], cache)` and
`gradients(cache, d_log_prob [B], d_entropy [B]) -> {param: grad}`, the gradient of
`Σ_b d_log_prob[b]·log π(C_b) + d_entropy[b]·H_b`, where H_b is the sum of the per-step entropies
along C_b (for the independent policy it is the exact entropy; for the LSTM it depends on the
prefix).

Must not import TensorFlow or Keras.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

try:  # a dependency of scikit-learn, which the project installs
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover
    ThreadpoolController = None

_F = TypeVar("_F", bound=Callable[..., Any])
_THREADPOOLS: list[Any] = []


def single_threaded_blas(func: _F) -> _F:
    """Runs `func` with BLAS on one thread: the matrices here are tiny, and a multi-threaded
    BLAS on a busy machine makes the LSTM's updates ~20× slower."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if ThreadpoolController is None:
            return func(*args, **kwargs)
        if not _THREADPOOLS:
            _THREADPOOLS.append(ThreadpoolController())
        with _THREADPOOLS[0].limit(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _entropy_and_grad(log_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row entropy H = −Σ p log p and dH/dlogits = −p (log p + H)."""
    p = np.exp(log_p)
    entropy = -(p * log_p).sum(axis=-1)
    return entropy, -p * (log_p + entropy[:, None])


def _draw(log_p: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws, one per row, from uniforms in [0, 1)."""
    cdf = np.cumsum(np.exp(log_p), axis=-1)
    index = (cdf < uniforms[:, None] * cdf[:, -1:]).sum(axis=-1)
    return np.minimum(index, log_p.shape[-1] - 1)


class Policy:
    """Common parts: choice sizes, segment offsets into the concatenated logits, checks."""

    kind = "base"

    def __init__(self, choice_sizes: Sequence[int]) -> None:
        sizes = [int(n) for n in choice_sizes]
        if not sizes or any(n < 1 for n in sizes):
            raise ValueError(f"choice_sizes must be a non-empty list of positive ints; got {sizes}")
        self.choice_sizes = sizes
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.params: dict[str, np.ndarray] = {}

    @property
    def num_decisions(self) -> int:
        """T, the length of a choice list."""
        return len(self.choice_sizes)

    def segment(self, t: int) -> slice:
        """Columns of decision `t` in the concatenated logits."""
        return slice(int(self.offsets[t]), int(self.offsets[t + 1]))

    def check_choices(self, choices: Any) -> np.ndarray:
        """Choices as an int array [B, T]; ValueError naming a bad entry."""
        array = np.asarray(choices)
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2 or array.shape[1] != self.num_decisions:
            raise ValueError(
                f"expected choice lists of length {self.num_decisions}; got shape {array.shape}"
            )
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"choices must be integers; got dtype {array.dtype}")
        array = array.astype(np.int64)
        bad = (array < 0) | (array >= np.asarray(self.choice_sizes)[None, :])
        if bad.any():
            b, t = map(int, np.argwhere(bad)[0])
            raise ValueError(
                f"choice {array[b, t]} of decision {t} out of range [0, {self.choice_sizes[t]})"
            )
        return array

    # Implemented by subclasses.
    def sample(
        self, rng: np.random.Generator | None, num: int = 1, *, greedy: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`num` choice lists [num, T] with their log-probs and path entropies; `greedy` takes
        the argmax at each step (no RNG needed)."""
        raise NotImplementedError

    def evaluate(self, choices: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
        """(log_probs [B], path entropies [B], cache for `gradients`)."""
        raise NotImplementedError

    def gradients(
        self, cache: Any, d_log_prob: np.ndarray, d_entropy: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Gradient of Σ_b d_log_prob[b]·log π_b + d_entropy[b]·H_b w.r.t. every param."""
        raise NotImplementedError


class IndependentPolicy(Policy):
    """One independent softmax per decision; logits start at zero (uniform)."""

    kind = "independent"

    def __init__(self, choice_sizes: Sequence[int]) -> None:
        super().__init__(choice_sizes)
        self.params = {"logits": np.zeros(int(self.offsets[-1]))}

    def log_probs(self) -> list[np.ndarray]:
        """Per-decision log-probabilities."""
        logits = self.params["logits"]
        return [_log_softmax(logits[self.segment(t)]) for t in range(self.num_decisions)]

    def sample(self, rng, num=1, *, greedy=False):
        log_ps = self.log_probs()
        choices = np.zeros((num, self.num_decisions), dtype=np.int64)
        for t, log_p in enumerate(log_ps):
            if greedy:
                choices[:, t] = int(np.argmax(log_p))
            else:
                rows = np.broadcast_to(log_p, (num, log_p.size))
                choices[:, t] = _draw(rows, rng.random(num))
        log_probs, entropies, _ = self.evaluate(choices)
        return choices, log_probs, entropies

    def evaluate(self, choices):
        choices = self.check_choices(choices)
        log_ps = self.log_probs()
        log_probs = sum(log_p[choices[:, t]] for t, log_p in enumerate(log_ps))
        entropy = sum(float(-(np.exp(log_p) * log_p).sum()) for log_p in log_ps)
        return np.asarray(log_probs, float), np.full(len(choices), entropy), (choices, log_ps)

    def gradients(self, cache, d_log_prob, d_entropy):
        choices, log_ps = cache
        grad = np.zeros_like(self.params["logits"])
        for t, log_p in enumerate(log_ps):
            p = np.exp(log_p)
            counts = np.bincount(choices[:, t], weights=d_log_prob, minlength=p.size)
            _, d_h = _entropy_and_grad(log_p[None, :])
            grad[self.segment(t)] = counts - d_log_prob.sum() * p + d_entropy.sum() * d_h[0]
        return {"logits": grad}


class LSTMPolicy(Policy):
    """The NASNet / MnasNet controller: one-layer LSTM, autoregressive over decisions.

    Step t reads the embedding of decision t−1's choice (a learned start token at t = 0), runs
    the LSTM cell (gates i, f, o, g) and decision t's own linear head gives its logits. Every
    weight starts uniform in ±`init_range` (0.1 as in NASNet); with `zero_init_heads` the heads
    start at zero so the initial policy is exactly uniform.
    """

    kind = "lstm"

    def __init__(
        self,
        choice_sizes: Sequence[int],
        *,
        hidden_size: int = 100,
        embedding_size: int | None = None,
        init_range: float = 0.1,
        zero_init_heads: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(choice_sizes)
        self.hidden_size = h = int(hidden_size)
        self.embedding_size = e = int(embedding_size or hidden_size)
        rng = np.random.default_rng(seed)
        total = int(self.offsets[-1])

        def uniform(*shape: int) -> np.ndarray:
            return rng.uniform(-init_range, init_range, size=shape)

        self.params = {
            "embedding": uniform(1 + total, e),
            "lstm_kernel": uniform(e + h, 4 * h),
            "lstm_bias": uniform(4 * h),
            "head_kernel": uniform(h, total),
            "head_bias": uniform(total),
        }
        if zero_init_heads:
            self.params["head_kernel"][:] = 0.0
            self.params["head_bias"][:] = 0.0

    def _cell(self, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple:
        hs = self.hidden_size
        xh = np.concatenate([x, h], axis=1)
        z = xh @ self.params["lstm_kernel"] + self.params["lstm_bias"]
        i, f, o = (1.0 / (1.0 + np.exp(-z[:, k * hs : (k + 1) * hs])) for k in range(3))
        g = np.tanh(z[:, 3 * hs :])
        c_new = f * c + i * g
        tanh_c = np.tanh(c_new)
        h_new = o * tanh_c
        return h_new, c_new, (xh, i, f, o, g, c, tanh_c)

    def _head(self, t: int, h: np.ndarray) -> np.ndarray:
        seg = self.segment(t)
        return _log_softmax(h @ self.params["head_kernel"][:, seg] + self.params["head_bias"][seg])

    def _input_rows(self, t: int, previous: np.ndarray) -> np.ndarray:
        """Embedding rows of step t's input: 0 (start token) or 1 + offset + previous choice."""
        if t == 0:
            return np.zeros(len(previous), dtype=np.int64)
        return 1 + int(self.offsets[t - 1]) + previous

    def _run(self, num: int, pick) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        """Runs the LSTM; `pick(t, log_p)` gives step t's choices [num]."""
        h = np.zeros((num, self.hidden_size))
        c = np.zeros((num, self.hidden_size))
        choices = np.zeros((num, self.num_decisions), dtype=np.int64)
        log_probs = np.zeros(num)
        entropies = np.zeros(num)
        steps = []
        previous = np.zeros(num, dtype=np.int64)
        for t in range(self.num_decisions):
            rows = self._input_rows(t, previous)
            h, c, cell_cache = self._cell(self.params["embedding"][rows], h, c)
            log_p = self._head(t, h)
            choice = pick(t, log_p)
            entropy, d_entropy = _entropy_and_grad(log_p)
            choices[:, t] = choice
            log_probs += log_p[np.arange(num), choice]
            entropies += entropy
            steps.append((rows, cell_cache, h, log_p, d_entropy, choice))
            previous = choice
        return choices, log_probs, entropies, steps

    def sample(self, rng, num=1, *, greedy=False):
        def pick(t: int, log_p: np.ndarray) -> np.ndarray:
            if greedy:
                return np.argmax(log_p, axis=1)
            return _draw(log_p, rng.random(len(log_p)))

        choices, log_probs, entropies, _ = self._run(num, pick)
        return choices, log_probs, entropies

    def evaluate(self, choices):
        choices = self.check_choices(choices)
        _, log_probs, entropies, steps = self._run(len(choices), lambda t, _: choices[:, t])
        return log_probs, entropies, steps

    def gradients(self, cache, d_log_prob, d_entropy):
        steps = cache
        hs, es = self.hidden_size, self.embedding_size
        grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        kernel = self.params["lstm_kernel"]
        num = len(d_log_prob)
        dh_next = np.zeros((num, hs))
        dc_next = np.zeros((num, hs))
        for t in reversed(range(self.num_decisions)):
            rows, (xh, i, f, o, g, c_prev, tanh_c), h, log_p, d_ent, choice = steps[t]
            seg = self.segment(t)
            one_hot = np.zeros_like(log_p)
            one_hot[np.arange(num), choice] = 1.0
            d_logits = d_log_prob[:, None] * (one_hot - np.exp(log_p)) + d_entropy[:, None] * d_ent
            grads["head_kernel"][:, seg] += h.T @ d_logits
            grads["head_bias"][seg] += d_logits.sum(axis=0)
            dh = d_logits @ self.params["head_kernel"][:, seg].T + dh_next
            dc = dc_next + dh * o * (1.0 - tanh_c**2)
            dz = np.concatenate(
                [
                    dc * g * i * (1.0 - i),
                    dc * c_prev * f * (1.0 - f),
                    dh * tanh_c * o * (1.0 - o),
                    dc * i * (1.0 - g**2),
                ],
                axis=1,
            )
            grads["lstm_kernel"] += xh.T @ dz
            grads["lstm_bias"] += dz.sum(axis=0)
            dxh = dz @ kernel.T
            np.add.at(grads["embedding"], rows, dxh[:, :es])
            dh_next = dxh[:, es:]
            dc_next = dc * f
        return grads
