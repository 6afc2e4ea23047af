"""Settings of a one-shot search: `OneShotConfig` (frozen, validated once, named errors).

Defaults follow the papers where they apply and measurement on the bundled digits where they
do not (docs/REPRODUCTION.md, "One-shot search"):
- both: the policy is frozen for the first `warmup_fraction` = 25% of the epochs while the
  shared weights warm up on uniformly sampled paths (TuNAS), with TuNAS's filter warm-up (a
  sampled path trained at its slots' widest widths with a probability falling from 1 to 0 over
  the warm-up); shared weights by SGD with Nesterov momentum 0.9 and a cosine-decayed step.
- tunas: REINFORCE on independent categoricals (search/controllers/controller.py) with Adam β1 = 0,
  the
  EMA reward baseline (0.95), a step rising linearly over the first quarter of the RL phase;
  TuNAS's absolute reward Q + β·|LAT/T − 1| with β = −0.10 (or MnasNet's soft / hard reward).
- dnas: FBNet's Gumbel-softmax over each decision, temperature 5.0 × 0.956 per epoch, Adam on
  the architecture logits (step 0.01), loss CE · α·(log LAT)^β with α = 0.2, β = 0.6 and LAT
  the table latency in microseconds (FBNet's milliseconds on a phone were tens; a host at 32²
  runs a model in well under one, where log would be negative).

No TensorFlow import.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from search.controllers import reward as reward_lib

ALGORITHMS = ("tunas", "dnas")
REWARDS = ("absolute", "soft", "hard")


@dataclasses.dataclass(frozen=True)
class OneShotConfig:
    """What `search.oneshot.run.run` does. Every field is validated in `__post_init__`."""

    output_dir: str
    algorithm: str = "tunas"
    space: str = "mobilenetv3-large"
    dataset: str = "digits"
    data_dir: str | None = None
    image_size: int | None = None
    validation_size: int | float | None = None
    latency_table: str | None = None
    latency_image_size: int | None = None
    latency_target_ms: float | None = None
    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 0.1
    warmup_fraction: float = 0.25
    default_fraction: float = 1.0
    widest_fraction: float = 1.0
    reward: str = "absolute"
    absolute_beta: float = reward_lib.TUNAS_BETA
    soft_w: float = -0.07
    rl_learning_rate: float = 0.05
    temperature: float = 5.0
    temperature_decay: float = 0.956
    arch_learning_rate: float = 0.01
    latency_alpha: float = 0.2
    latency_beta: float = 0.6
    eval_batch_size: int = 128
    final_archs: int = 100
    checkpoint_seconds: float = 60.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}; got {self.algorithm!r}")
        if self.reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}; got {self.reward!r}")
        if not isinstance(self.output_dir, str) or not self.output_dir:
            raise ValueError(f"output_dir must be a non-empty path; got {self.output_dir!r}")
        _positive_int(self, "epochs", "batch_size", "eval_batch_size", "final_archs")
        _positive_number(
            self,
            "learning_rate",
            "rl_learning_rate",
            "arch_learning_rate",
            "latency_alpha",
            "latency_beta",
        )
        if not (_finite(self.checkpoint_seconds) and self.checkpoint_seconds >= 0):
            raise ValueError(f"checkpoint_seconds must be >= 0; got {self.checkpoint_seconds!r}")
        if not (_finite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be > 0; got {self.temperature!r}")
        if not (_finite(self.temperature_decay) and 0 < self.temperature_decay <= 1):
            raise ValueError(f"temperature_decay must be in (0, 1]; got {self.temperature_decay!r}")
        for name in ("default_fraction", "widest_fraction"):
            value = getattr(self, name)
            if not (_finite(value) and 0 <= value <= 1):
                raise ValueError(f"{name} must be in [0, 1]; got {value!r}")
        if not (_finite(self.warmup_fraction) and 0 <= self.warmup_fraction < 1):
            raise ValueError(f"warmup_fraction must be in [0, 1); got {self.warmup_fraction!r}")
        for name in ("absolute_beta", "soft_w"):
            value = getattr(self, name)
            if not (_finite(value) and value <= 0):
                raise ValueError(
                    f"{name} must be <= 0 (slower must never score higher); got {value!r}"
                )
        for name in ("image_size", "latency_image_size"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and value >= 32):
                raise ValueError(f"{name} must be an integer >= 32 or unset; got {value!r}")
        target = self.latency_target_ms
        if target is not None and not (_finite(target) and target > 0):
            raise ValueError(f"latency_target_ms must be > 0 or unset; got {target!r}")

    @property
    def warmup_epochs(self) -> int:
        """Epochs with the policy frozen (at least 0, fewer than `epochs`)."""
        return min(self.epochs - 1, int(math.floor(self.warmup_fraction * self.epochs)))

    def fingerprint(self) -> dict[str, Any]:
        """The settings a resumed run must share with the one that wrote the checkpoint (all
        but the output directory and how often it checkpoints)."""
        data = dataclasses.asdict(self)
        del data["output_dir"], data["checkpoint_seconds"]
        return data


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive_int(config: OneShotConfig, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")


def _positive_number(config: OneShotConfig, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not (_finite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number; got {value!r}")
