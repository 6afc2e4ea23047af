"""The RL controller: a policy over the search space's decisions and how it learns (numpy only).

Owns `Controller` (REINFORCE or PPO-clip on an LSTM or independent policy, Adam, the EMA reward
baseline, the RNG, and a JSON-serializable state), `UniformController` (uniform random sampling
with the same interface, the 'random' baseline) and `make_controller`. A controller knows only
the list of choice sizes; the policies live in `search/controllers/policy.py`.

Learning rules (NASNet / MnasNet): advantage A = reward − baseline, baseline = EMA of rewards
(decay 0.95, starting at the first batch's mean, updated after the advantages are taken);
REINFORCE maximises mean(A · log π(a)) + entropy_coef · mean(H); PPO-clip maximises
mean(min(r·A, clip(r, 1 ± ε)·A)) + entropy_coef · mean(H) with r = π(a) / π_old(a), over
`ppo_epochs` passes on each batch, π_old being the stored log-probs of the sampling policy.
H is the sum of per-step entropies along each sampled path (exact for the independent policy).

Defaults come from measurement (benchmarks/controller_efficiency.py: synthetic rewards over the
MnasNet space scaled to the digits proxy's measured signal and noise, 20 paired landscapes, with
30% and with 60% of the signal from interactions): REINFORCE on the independent policy with Adam
β1 = 0 (TuNAS) and step size 0.1 finds, after 100 samples, an architecture 0.9–1.3 std (of the
space) better than random search's best (19–20 of 20 paired wins) and 2.2 std better after 300.
A step rising to 0.2 over 50 samples (`warmup_samples=50, learning_rate=0.2`) is as good on the
milder landscape and better on the harder (+1.5 std at 100), but collapses the entropy faster:
on a reward with one optimum it settles 1–2 of 42 decisions wrong where 0.1 finds them all
within 400 samples. The LSTM at its NASNet-style 1e-3 needs ~200 samples to pull ahead (+0.0–0.2
std at 100, +2.1 at 300); larger LSTM rates collapse its entropy to 1–2 nats and settle on worse
architectures; PPO is no better than REINFORCE. NASNet's 3.5e-4 assumes ~10^4 samples; pass
`learning_rate=3.5e-4` for it. `normalize_rewards` (advantages divided by a running reward std)
was measured not to help at these budgets.

State: `get_state()` is a JSON-serializable dict (weights and Adam moments as base64 float64,
baseline, step counters, `np.random.Generator.bit_generator.state`); a controller restored with
`set_state` samples and updates exactly as the original would.

Must not import TensorFlow or Keras.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from search.controllers.policy import IndependentPolicy, LSTMPolicy, Policy, single_threaded_blas

ALGORITHMS = ("reinforce", "ppo", "random")
POLICIES = ("lstm", "independent")
DEFAULT_LEARNING_RATES = {"lstm": 1e-3, "independent": 0.1}
STATE_FORMAT = "mnasnet-tf/controller-v1"


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """A float64 array as a JSON-able dict (exact: base64 of the raw bytes)."""
    array = np.ascontiguousarray(array, dtype="<f8")
    return {"shape": list(array.shape), "f8": base64.b64encode(array.tobytes()).decode("ascii")}


def decode_array(data: dict[str, Any]) -> np.ndarray:
    """The inverse of `encode_array`."""
    raw = base64.b64decode(data["f8"])
    return np.frombuffer(raw, dtype="<f8").reshape(data["shape"]).astype(np.float64)


class Adam:
    """Adam (Kingma & Ba) on a dict of numpy arrays, updated in place."""

    def __init__(
        self, learning_rate: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        self.learning_rate, self.beta1, self.beta2, self.eps = learning_rate, beta1, beta2, eps
        self.t = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """One descent step: params −= lr · m̂ / (√v̂ + eps)."""
        self.t += 1
        correction1 = 1.0 - self.beta1**self.t
        correction2 = 1.0 - self.beta2**self.t
        for name, grad in grads.items():
            m = self.m.setdefault(name, np.zeros_like(grad))
            v = self.v.setdefault(name, np.zeros_like(grad))
            m *= self.beta1
            m += (1.0 - self.beta1) * grad
            v *= self.beta2
            v += (1.0 - self.beta2) * grad * grad
            step = (m / correction1) / (np.sqrt(v / correction2) + self.eps)
            params[name] -= self.learning_rate * step

    def get_state(self) -> dict[str, Any]:
        """JSON-able moments and step."""
        return {
            "t": self.t,
            "m": {k: encode_array(v) for k, v in self.m.items()},
            "v": {k: encode_array(v) for k, v in self.v.items()},
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores `get_state`'s output."""
        self.t = int(state["t"])
        self.m = {k: decode_array(v) for k, v in state["m"].items()}
        self.v = {k: decode_array(v) for k, v in state["v"].items()}


def _check_rewards(rewards: Sequence[float], count: int) -> np.ndarray:
    array = np.asarray(rewards, dtype=float).reshape(-1)
    if len(array) != count:
        raise ValueError(f"got {count} choice lists but {len(array)} rewards")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"rewards must be finite; got {array.tolist()}")
    return array


class _Base:
    """What every controller shares: choice sizes, the RNG, sample/log_prob/state plumbing."""

    algorithm = "base"

    def __init__(self, choice_sizes: Sequence[int], policy: Policy, seed: int) -> None:
        self.choice_sizes = list(policy.choice_sizes)
        self.policy = policy
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.num_updates = 0
        self.num_samples = 0

    @single_threaded_blas
    def sample(self) -> tuple[list[int], float]:
        """One choice list from the policy and its log-probability."""
        choices, log_probs, _ = self.policy.sample(self.rng, 1)
        self.num_samples += 1
        return [int(c) for c in choices[0]], float(log_probs[0])

    @single_threaded_blas
    def log_prob(self, choices: Sequence[int]) -> float:
        """log π(choices) under the current policy."""
        log_probs, _, _ = self.policy.evaluate(self.policy.check_choices(choices))
        return float(log_probs[0])

    @single_threaded_blas
    def greedy(self) -> list[int]:
        """The most likely choice at each step (along the greedy path for the LSTM)."""
        choices, _, _ = self.policy.sample(None, 1, greedy=True)
        return [int(c) for c in choices[0]]

    @single_threaded_blas
    def entropy(self) -> float:
        """Policy entropy: exact for independent decisions; for the LSTM, the sum of per-step
        entropies along the greedy path (no RNG is consumed)."""
        _, _, entropies = self.policy.sample(None, 1, greedy=True)
        return float(entropies[0])

    @single_threaded_blas
    def choice_probabilities(self, num_samples: int = 256) -> list[np.ndarray]:
        """Per-decision marginal probabilities (for a heat map). Exact for independent
        decisions; for the LSTM, a Monte-Carlo estimate from `num_samples` paths drawn with a
        private fixed-seed generator (the controller's RNG is untouched), or with
        `num_samples=0` the conditionals along the greedy path."""
        if isinstance(self.policy, IndependentPolicy):
            return [np.exp(log_p) for log_p in self.policy.log_probs()]
        if num_samples <= 0:
            greedy = self.greedy()
            _, _, steps = self.policy.evaluate(np.asarray([greedy]))
            return [np.exp(step[3][0]) for step in steps]
        choices, _, _ = self.policy.sample(np.random.default_rng(0), num_samples)
        return [
            np.bincount(choices[:, t], minlength=n) / num_samples
            for t, n in enumerate(self.choice_sizes)
        ]

    def _common_state(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "algorithm": self.algorithm,
            "policy": self.policy.kind,
            "choice_sizes": self.choice_sizes,
            "seed": self.seed,
            "rng": self.rng.bit_generator.state,
            "num_updates": self.num_updates,
            "num_samples": self.num_samples,
        }

    def _set_common_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError(f"not a controller state (format {STATE_FORMAT!r} expected)")
        for key, mine in (
            ("algorithm", self.algorithm),
            ("policy", self.policy.kind),
            ("choice_sizes", self.choice_sizes),
        ):
            if state.get(key) != mine:
                raise ValueError(
                    f"controller state has {key}={state.get(key)!r}; this controller has {mine!r}"
                )
        self.seed = int(state["seed"])
        self.rng.bit_generator.state = state["rng"]
        self.num_updates = int(state["num_updates"])
        self.num_samples = int(state["num_samples"])


class Controller(_Base):
    """REINFORCE or PPO-clip on an LSTM or independent policy; see the module docstring.

    Args:
      choice_sizes: number of choices of each decision.
      policy: 'independent' (the default, as in TuNAS) or 'lstm' (NASNet / MnasNet).
      algorithm: 'reinforce' or 'ppo'.
      learning_rate: Adam step size; default per policy (`DEFAULT_LEARNING_RATES`).
      adam_beta1: Adam's first-moment decay (TuNAS: 0, each update follows its own batch).
      warmup_samples: the step size rises linearly from 0 to `learning_rate` over this many
        samples (0: constant), so the first, least informed updates move the policy least.
      normalize_rewards: divide advantages by a running (EMA, `baseline_decay`) standard
        deviation of the rewards, so the step does not depend on the reward's scale.
      entropy_coef: weight of the entropy bonus (NASNet: 1e-5).
      baseline_decay: EMA decay of the reward baseline (0.95).
      clip_epsilon: PPO ratio clipping ε (0.2).
      ppo_epochs: PPO passes over each batch.
      max_grad_norm: optional global gradient-norm clip.
      hidden_size, init_range, zero_init_heads: LSTM settings (100, 0.1, False as in NASNet).
      seed: seeds the weights and the sampling RNG.
    """

    def __init__(
        self,
        choice_sizes: Sequence[int],
        *,
        policy: str = "independent",
        algorithm: str = "reinforce",
        learning_rate: float | None = None,
        adam_beta1: float = 0.0,
        warmup_samples: int = 0,
        normalize_rewards: bool = False,
        entropy_coef: float = 1e-5,
        baseline_decay: float = 0.95,
        clip_epsilon: float = 0.2,
        ppo_epochs: int = 4,
        max_grad_norm: float | None = None,
        hidden_size: int = 100,
        init_range: float = 0.1,
        zero_init_heads: bool = False,
        seed: int = 0,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}; got {policy!r}")
        if algorithm not in ("reinforce", "ppo"):
            raise ValueError(f"algorithm must be 'reinforce' or 'ppo'; got {algorithm!r}")
        if not 0.0 <= baseline_decay < 1.0:
            raise ValueError(f"baseline_decay must be in [0, 1); got {baseline_decay!r}")
        if not clip_epsilon > 0:
            raise ValueError(f"clip_epsilon must be positive; got {clip_epsilon!r}")
        if not 0.0 <= adam_beta1 < 1.0:
            raise ValueError(f"adam_beta1 must be in [0, 1); got {adam_beta1!r}")
        if int(warmup_samples) < 0:
            raise ValueError(f"warmup_samples must be at least 0; got {warmup_samples!r}")
        if int(ppo_epochs) < 1:
            raise ValueError(f"ppo_epochs must be at least 1; got {ppo_epochs!r}")
        if policy == "lstm":
            net: Policy = LSTMPolicy(
                choice_sizes,
                hidden_size=hidden_size,
                init_range=init_range,
                zero_init_heads=zero_init_heads,
                seed=seed,
            )
        else:
            net = IndependentPolicy(choice_sizes)
        super().__init__(choice_sizes, net, seed)
        self.algorithm = algorithm
        self.learning_rate = float(learning_rate or DEFAULT_LEARNING_RATES[policy])
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive; got {learning_rate!r}")
        self.entropy_coef = float(entropy_coef)
        self.baseline_decay = float(baseline_decay)
        self.clip_epsilon = float(clip_epsilon)
        self.ppo_epochs = int(ppo_epochs)
        self.max_grad_norm = max_grad_norm
        self.baseline: float | None = None
        self.warmup_samples = int(warmup_samples)
        self.normalize_rewards = bool(normalize_rewards)
        self.reward_variance: float | None = None
        self.samples_learned = 0
        self.optimizer = Adam(self.learning_rate, beta1=float(adam_beta1))

    def _advantages(self, rewards: np.ndarray) -> np.ndarray:
        """A = reward − baseline (the first batch's mean when none yet); then the EMA update."""
        baseline = float(rewards.mean()) if self.baseline is None else self.baseline
        advantages = rewards - baseline
        variance = self.reward_variance
        for reward in rewards:
            deviation = (reward - baseline) ** 2
            variance = (
                deviation
                if variance is None
                else (self.baseline_decay * variance + (1.0 - self.baseline_decay) * deviation)
            )
            baseline = self.baseline_decay * baseline + (1.0 - self.baseline_decay) * reward
        if self.normalize_rewards and variance is not None and variance > 0:
            # The scale includes this batch, so one surprising reward cannot blow up a step.
            advantages = advantages / math.sqrt(variance)
        self.baseline = float(baseline)
        self.reward_variance = None if variance is None else float(variance)
        return advantages

    def current_learning_rate(self) -> float:
        """The step size now: `learning_rate`, ramped up over the first `warmup_samples`."""
        if self.warmup_samples <= 0:
            return self.learning_rate
        return self.learning_rate * min(1.0, (self.samples_learned + 1) / self.warmup_samples)

    def _step(self, cache: Any, d_log_prob: np.ndarray, num: int) -> float:
        """One Adam step on −objective; returns the gradient norm before clipping."""
        d_entropy = np.full(num, -self.entropy_coef / num)
        grads = self.policy.gradients(cache, d_log_prob, d_entropy)
        norm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
        if self.max_grad_norm and norm > self.max_grad_norm:
            grads = {k: g * (self.max_grad_norm / norm) for k, g in grads.items()}
        self.optimizer.learning_rate = self.current_learning_rate()
        self.optimizer.step(self.policy.params, grads)
        return norm

    @single_threaded_blas
    def update(
        self,
        choices_list: Sequence[Sequence[int]],
        rewards: Sequence[float],
        *,
        old_log_probs: Sequence[float] | None = None,
    ) -> dict[str, float]:
        """One policy update from a batch of sampled choice lists and their rewards.

        For PPO, `old_log_probs` are the sampling policy's log-probs (default: the current
        policy's, i.e. on-policy). Returns diagnostics (plain floats).
        """
        choices = self.policy.check_choices(choices_list)
        num = len(choices)
        if num == 0:
            raise ValueError("update needs at least one sample")
        rewards_array = _check_rewards(rewards, num)
        baseline_before = self.baseline
        advantages = self._advantages(rewards_array)
        log_probs, entropies, cache = self.policy.evaluate(choices)
        diagnostics = {
            "reward_mean": float(rewards_array.mean()),
            "baseline_before": float("nan") if baseline_before is None else baseline_before,
            "baseline": self.baseline,
            "advantage_mean": float(advantages.mean()),
            "log_prob_mean": float(log_probs.mean()),
            "entropy": float(entropies.mean()),
        }
        if self.algorithm == "reinforce":
            objective = float((advantages * log_probs).mean())
            norm = self._step(cache, -advantages / num, num)
            diagnostics.update(objective=objective, grad_norm=norm)
        else:
            old = log_probs.copy() if old_log_probs is None else np.asarray(old_log_probs, float)
            if old.shape != (num,) or not np.all(np.isfinite(old)):
                raise ValueError(f"old_log_probs must be {num} finite numbers; got {old_log_probs}")
            low, high = 1.0 - self.clip_epsilon, 1.0 + self.clip_epsilon
            clipped_fraction, norm, objective = 0.0, 0.0, 0.0
            for _ in range(self.ppo_epochs):
                ratio = np.exp(log_probs - old)
                unclipped = ratio * advantages
                clipped = np.clip(ratio, low, high) * advantages
                # The gradient flows where the unclipped term is the minimum (or equal to it).
                active = (unclipped <= clipped) | ((ratio >= low) & (ratio <= high))
                clipped_fraction = float(1.0 - active.mean())
                objective = float(np.minimum(unclipped, clipped).mean())
                norm = self._step(cache, -(active * ratio * advantages) / num, num)
                log_probs, entropies, cache = self.policy.evaluate(choices)
            diagnostics.update(
                objective=objective,
                grad_norm=norm,
                clip_fraction=clipped_fraction,
                approx_kl=float((old - log_probs).mean()),
            )
        self.num_updates += 1
        self.samples_learned += num
        diagnostics["num_updates"] = float(self.num_updates)
        diagnostics["learning_rate"] = self.optimizer.learning_rate
        diagnostics["entropy_after"] = float(entropies.mean())
        return diagnostics

    def get_state(self) -> dict[str, Any]:
        """JSON-serializable state: weights, Adam moments, baseline, counters, RNG."""
        state = self._common_state()
        state.update(
            params={k: encode_array(v) for k, v in self.policy.params.items()},
            adam=self.optimizer.get_state(),
            baseline=self.baseline,
            learning_rate=self.learning_rate,
            reward_variance=self.reward_variance,
            samples_learned=self.samples_learned,
        )
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores `get_state`'s output (same algorithm, policy and choice sizes)."""
        self._set_common_state(state)
        params = {k: decode_array(v) for k, v in state["params"].items()}
        for name, value in self.policy.params.items():
            if name not in params or params[name].shape != value.shape:
                raise ValueError(f"controller state: parameter {name!r} missing or misshapen")
        self.policy.params = params
        self.optimizer.set_state(state["adam"])
        self.baseline = None if state["baseline"] is None else float(state["baseline"])
        variance = state.get("reward_variance")  # absent in states saved before it existed
        self.reward_variance = None if variance is None else float(variance)
        self.samples_learned = int(state.get("samples_learned", self.num_samples))


class UniformController(_Base):
    """Uniform random sampling over the same space ('random' search); `update` learns nothing."""

    algorithm = "random"

    def __init__(self, choice_sizes: Sequence[int], *, seed: int = 0) -> None:
        super().__init__(choice_sizes, IndependentPolicy(choice_sizes), seed)

    def update(
        self,
        choices_list: Sequence[Sequence[int]],
        rewards: Sequence[float],
        *,
        old_log_probs: Sequence[float] | None = None,
    ) -> dict[str, float]:
        """Checks the batch and counts it; the policy stays uniform."""
        choices = self.policy.check_choices(choices_list)
        rewards_array = _check_rewards(rewards, len(choices))
        self.num_updates += 1
        return {"reward_mean": float(rewards_array.mean()), "num_updates": float(self.num_updates)}

    def get_state(self) -> dict[str, Any]:
        """JSON-serializable state: counters and RNG."""
        return self._common_state()

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores `get_state`'s output."""
        self._set_common_state(state)


def make_controller(
    choice_sizes: Sequence[int],
    *,
    algorithm: str = "reinforce",
    policy: str = "independent",
    seed: int = 0,
    **kwargs: Any,
) -> Controller | UniformController:
    """A controller by algorithm name: 'reinforce', 'ppo' (a `Controller` on `policy`) or
    'random' (a `UniformController`; `policy` and `kwargs` are ignored)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}; got {algorithm!r}")
    if algorithm == "random":
        return UniformController(choice_sizes, seed=seed)
    return Controller(choice_sizes, policy=policy, algorithm=algorithm, seed=seed, **kwargs)
