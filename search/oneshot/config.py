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

from mnasnet_tf import data_settings
from search.controllers import reward as reward_lib
from search.spaces.registry import list_spaces
from tflite_bench import checks, settings

ALGORITHMS = ("tunas", "dnas")
REWARDS = ("absolute", "soft", "hard")


@dataclasses.dataclass(frozen=True)
class OneShotConfig:
    """What `search.oneshot.run.run` does: one field per `mnasnet-oneshot` flag (the binary's
    flags are generated from them, tflite_bench/settings.py); every field is validated once."""

    output_dir: str = settings.setting(
        nonempty=True, flag_default="runs/oneshot", help="Where every output and the checkpoint go."
    )
    algorithm: str = settings.setting(
        "tunas",
        choices=ALGORITHMS,
        help=(
            "tunas: REINFORCE on one-shot accuracy and table latency (TuNAS); dnas: gradient "
            "through a Gumbel-softmax relaxation (FBNet)."
        ),
    )
    space: str = settings.setting("mobilenetv3-large", choices=list_spaces, help="Search space.")
    dataset: str = data_settings.dataset()
    data_dir: str | None = data_settings.data_dir()
    train_subset: int | None = data_settings.train_subset()
    image_size: int | None = settings.setting(
        None, minimum=32, help="Training resolution (default: the data set's)."
    )
    validation_size: int | float | None = settings.setting(
        None,
        parse=settings.count_or_fraction("validation_size"),
        help="Held-out count or fraction (default ~20%).",
    )
    latency_table: str | None = settings.setting(
        None, help="Whole-space latency table (default: build one)."
    )
    latency_image_size: int | None = settings.setting(
        None, minimum=32, help="Latency resolution (default: --image_size)."
    )
    latency_target_ms: float | None = settings.setting(
        None, above=0, help="T (default: the space's reference model's)."
    )
    epochs: int = settings.setting(100, minimum=1, help="Epochs over the train split (the budget).")
    batch_size: int = settings.setting(64, minimum=1, help="Images per weight step.")
    learning_rate: float = settings.setting(
        0.1, above=0, help="Shared weights' SGD step per 256 images."
    )
    warmup_fraction: float = settings.setting(
        0.25, minimum=0, below=1, help="Epochs with the policy frozen."
    )
    default_fraction: float = settings.setting(
        1.0, minimum=0, maximum=1, help="Warm-up: start from the reference model (0-1)."
    )
    widest_fraction: float = settings.setting(
        1.0, minimum=0, maximum=1, help="Warm-up: start at the widest widths (0-1)."
    )
    reward: str = settings.setting(
        "absolute",
        choices=REWARDS,
        help="tunas reward: absolute (TuNAS's Q + β·|LAT/T − 1|), soft or hard (MnasNet's).",
    )
    absolute_beta: float = settings.setting(
        reward_lib.TUNAS_BETA, maximum=0, help="β of the absolute reward (≤ 0)."
    )
    soft_w: float = settings.setting(-0.07, maximum=0, help="w of the soft MnasNet reward (≤ 0).")
    rl_learning_rate: float = settings.setting(
        0.05, above=0, help="tunas: Adam step of the policy."
    )
    temperature: float = settings.setting(
        5.0, above=0, help="dnas: initial Gumbel temperature (> 0)."
    )
    temperature_decay: float = settings.setting(
        0.956, above=0, maximum=1, help="dnas: factor per epoch."
    )
    arch_learning_rate: float = settings.setting(
        0.01, above=0, help="dnas: Adam step of the logits."
    )
    latency_alpha: float = settings.setting(0.2, above=0, help="dnas: α of CE·α·(log LAT)^β.")
    latency_beta: float = settings.setting(0.6, above=0, help="dnas: β of CE·α·(log LAT)^β.")
    eval_batch_size: int = settings.setting(128, minimum=1, help="Images per one-shot evaluation.")
    final_archs: int = settings.setting(
        100, minimum=1, help="Distinct architectures evaluated at the end."
    )
    checkpoint_seconds: float = settings.setting(
        60.0, minimum=0, help="Checkpoint at most this often (s)."
    )
    seed: int = settings.setting(0, help="Seed of the data split, the weights and the policy.")

    def __post_init__(self) -> None:
        settings.validate(self)
        size = self.validation_size
        if size is not None and not (
            (checks.is_int(size) and size >= 1) or (checks.is_finite_number(size) and 0 < size < 1)
        ):
            raise ValueError(
                f"--validation_size must be a count >= 1 or a fraction in (0, 1); got {size!r}"
            )

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
