"""The MnasNet reward: ACC(m) · [LAT(m) / T]^w, with w = α if LAT ≤ T else β (pure functions).

Owns `mnas_reward` (one value with its diagnostics), `RewardConfig` (which reward a search uses,
frozen, JSON-able), the `soft` / `hard` constructors of the paper and `w_for_tradeoff`, which turns
"a latency factor buys this much relative accuracy" into the exponent; and TuNAS's absolute
reward `absolute_reward` (Q + β·|LAT/T − 1|), which the one-shot search uses by default.

Soft reward (α = β = w, w ≈ −0.07): a Pareto-optimal trade-off everywhere. Hard reward
(α = 0, β = −1): accuracy alone while within the target, penalised sharply above it.

Must not import TensorFlow, Keras or keras-tuner: the controller tests and the oracle read it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

from tflite_bench import checks

KINDS = ("soft", "hard")
DEFAULT_W = -0.07
"""The paper's soft exponent: 2× latency buys ≈ 5% relative accuracy (MobileNetV3-Large too)."""

RewardKind = Literal["soft", "hard"]
TUNAS_BETA = -0.10
"""TuNAS's absolute-reward cost: 10% of latency off the target costs 0.01 of accuracy."""


def _require_finite(name: str, value: object) -> float:
    checks.require_number(name, value, prefix="")
    return float(value)


def _require_positive(name: str, value: object) -> float:
    checks.require_number(name, value, above=0, prefix="")
    return float(value)


@dataclasses.dataclass(frozen=True)
class RewardResult:
    """One reward with its parts: value = accuracy · latency_term, latency_term =
    (latency_ms / target_ms) ** exponent_used."""

    value: float
    accuracy: float
    latency_ms: float
    target_ms: float
    exponent_used: float
    latency_term: float

    def as_metrics(self) -> dict[str, float]:
        """The parts as a flat dict of metrics (what the tuner reports to the oracle)."""
        return {
            "reward": self.value,
            "accuracy": self.accuracy,
            "latency_ms": self.latency_ms,
            "latency_term": self.latency_term,
        }


def mnas_reward(
    accuracy: float, latency_ms: float, *, target_ms: float, alpha: float, beta: float
) -> RewardResult:
    """ACC · (LAT / T)^w with w = `alpha` if LAT ≤ T else `beta`.

    Raises ValueError for accuracy outside [0, 1], non-positive latency or target, and
    non-finite exponents.
    """
    accuracy = _require_finite("accuracy", accuracy)
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy must be in [0, 1]; got {accuracy!r}")
    latency_ms = _require_positive("latency_ms", latency_ms)
    target_ms = _require_positive("target_ms", target_ms)
    alpha = _require_finite("alpha", alpha)
    beta = _require_finite("beta", beta)
    exponent = alpha if latency_ms <= target_ms else beta
    latency_term = (latency_ms / target_ms) ** exponent
    return RewardResult(
        value=accuracy * latency_term,
        accuracy=accuracy,
        latency_ms=latency_ms,
        target_ms=target_ms,
        exponent_used=exponent,
        latency_term=latency_term,
    )


def absolute_reward(
    accuracy: float, latency_ms: float, *, target_ms: float, beta: float = TUNAS_BETA
) -> float:
    """TuNAS's absolute reward: Q + β·|LAT/T − 1| (β < 0), which penalises a latency off the
    target on either side, so the search lands near T instead of trading accuracy for speed.

    Raises ValueError for a non-finite accuracy or β, and a non-positive latency or target."""
    accuracy = _require_finite("accuracy", accuracy)
    latency_ms = _require_positive("latency_ms", latency_ms)
    target_ms = _require_positive("target_ms", target_ms)
    beta = _require_finite("beta", beta)
    return accuracy + beta * abs(latency_ms / target_ms - 1.0)


def w_for_tradeoff(relative_accuracy_gain: float = 0.05, latency_factor: float = 2.0) -> float:
    """The exponent w such that a model `latency_factor`× slower needs `relative_accuracy_gain`
    more relative accuracy for the same reward: log(1 / (1 + gain)) / log(factor).

    The defaults give the paper's ≈ −0.0704 ("2× latency buys 5% accuracy").
    """
    gain = _require_positive("relative_accuracy_gain", relative_accuracy_gain)
    checks.require_number("latency_factor", latency_factor, above=1, prefix="")
    factor = float(latency_factor)
    return math.log(1.0 / (1.0 + gain)) / math.log(factor)


@dataclasses.dataclass(frozen=True)
class RewardConfig:
    """Which reward a search optimises. Build with `soft`, `hard` or `RewardConfig.from_flags`.

    Attributes:
      kind: 'soft' (alpha == beta) or 'hard' (alpha == 0).
      target_ms: the latency target T in milliseconds.
      alpha: exponent when latency ≤ target.
      beta: exponent when latency > target.
    """

    kind: RewardKind
    target_ms: float
    alpha: float
    beta: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"reward kind must be one of {KINDS}; got {self.kind!r}")
        _require_positive("target_ms", self.target_ms)
        for name in ("alpha", "beta"):
            if _require_finite(name, getattr(self, name)) > 0:
                raise ValueError(
                    f"{name} must be <= 0 (slower must never score higher); "
                    f"got {getattr(self, name)!r}"
                )
        if self.kind == "soft" and self.alpha != self.beta:
            raise ValueError(
                f"a soft reward has alpha == beta; got alpha={self.alpha!r}, beta={self.beta!r}"
            )
        if self.kind == "hard" and self.alpha != 0:
            raise ValueError(f"a hard reward has alpha == 0; got alpha={self.alpha!r}")

    def __call__(self, accuracy: float, latency_ms: float) -> RewardResult:
        """The reward of one model under this config."""
        return mnas_reward(
            accuracy, latency_ms, target_ms=self.target_ms, alpha=self.alpha, beta=self.beta
        )

    @classmethod
    def from_flags(
        cls, kind: str = "soft", target_ms: float = 75.0, w: float | None = None
    ) -> RewardConfig:
        """From the search binary's flags: `kind` 'soft' (w defaults to −0.07) or 'hard' (w must
        be None: the hard reward's exponents are fixed at α = 0, β = −1)."""
        if kind == "soft":
            return soft(target_ms=target_ms, w=DEFAULT_W if w is None else w)
        if kind == "hard":
            if w is not None:
                raise ValueError(
                    f"w applies to the soft reward only; got w={w!r} with kind='hard' "
                    "(the hard reward uses alpha=0, beta=-1)"
                )
            return hard(target_ms=target_ms)
        raise ValueError(f"reward kind must be one of {KINDS}; got {kind!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (inverse: `RewardConfig(**d)`)."""
        return dataclasses.asdict(self)


def soft(*, target_ms: float, w: float = DEFAULT_W) -> RewardConfig:
    """The soft reward: α = β = w (Pareto-optimal trade-off on both sides of the target)."""
    w = _require_finite("w", w)
    return RewardConfig(kind="soft", target_ms=target_ms, alpha=w, beta=w)


def hard(*, target_ms: float) -> RewardConfig:
    """The hard reward: α = 0, β = −1 (accuracy within the target, sharp penalty beyond)."""
    return RewardConfig(kind="hard", target_ms=target_ms, alpha=0.0, beta=-1.0)
