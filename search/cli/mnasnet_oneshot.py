"""The `mnasnet-oneshot` binary: one-shot architecture search over a weight-sharing supernet.

    mnasnet-oneshot --algorithm=tunas --space=mnasnet --dataset=digits \\
        --latency_table=host32.json --output_dir=runs/oneshot

`--algorithm=tunas` learns the policy by REINFORCE on one-shot accuracy and table latency
(TuNAS); `--algorithm=dnas` by gradient through a Gumbel-softmax relaxation (FBNet). Without
`--latency_table` the table of the space at the latency resolution is measured on this host into
the output folder first (once; later runs and resumes reuse it). Writes trials.csv (every
architecture evaluated with shared weights), pareto.csv/png, history.csv/png, best_arch.json
(which `mnasnet-train --model=` accepts) and summary.json; re-running with the same flags
resumes after the last finished epoch. Bad flags fail with a usage error before anything is
written.

Owns the flags and their translation into `search.oneshot.config.OneShotConfig`; the work is in
search/oneshot/.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from search.oneshot.config import ALGORITHMS, REWARDS, OneShotConfig


def _define_flags() -> None:
    from absl import flags

    f = flags
    d = OneShotConfig(output_dir="-")
    f.DEFINE_string("algorithm", d.algorithm, f"One of {ALGORITHMS}.")
    f.DEFINE_string("space", d.space, "Search space (mnasnet, mobilenetv3-large, ...).")
    f.DEFINE_string("dataset", d.dataset, "'digits', 'folder:<path>' or a tfds set.")
    f.DEFINE_string("data_dir", None, "tfds data directory.")
    f.DEFINE_integer("image_size", None, "Training resolution (default: the data set's).")
    f.DEFINE_string("validation_size", None, "Held-out count or fraction (default ~20%).")
    f.DEFINE_string("latency_table", None, "Whole-space latency table (default: build one).")
    f.DEFINE_integer("latency_image_size", None, "Latency resolution (default: --image_size).")
    f.DEFINE_float("latency_target_ms", None, "T (default: the space's reference model's).")
    f.DEFINE_integer("epochs", d.epochs, "Epochs over the train split (the budget).")
    f.DEFINE_integer("batch_size", d.batch_size, "Images per weight step.")
    f.DEFINE_float("learning_rate", d.learning_rate, "Shared weights' SGD step per 256 images.")
    f.DEFINE_float("warmup_fraction", d.warmup_fraction, "Epochs with the policy frozen.")
    f.DEFINE_float(
        "default_fraction", d.default_fraction, "Warm-up: start from the reference model (0-1)."
    )
    f.DEFINE_float(
        "widest_fraction", d.widest_fraction, "Warm-up: start at the widest widths (0-1)."
    )
    f.DEFINE_string("reward", d.reward, f"tunas reward: one of {REWARDS}.")
    f.DEFINE_float("absolute_beta", d.absolute_beta, "β of the absolute reward (≤ 0).")
    f.DEFINE_float("soft_w", d.soft_w, "w of the soft MnasNet reward (≤ 0).")
    f.DEFINE_float("rl_learning_rate", d.rl_learning_rate, "tunas: Adam step of the policy.")
    f.DEFINE_float("temperature", d.temperature, "dnas: initial Gumbel temperature (> 0).")
    f.DEFINE_float("temperature_decay", d.temperature_decay, "dnas: factor per epoch.")
    f.DEFINE_float("arch_learning_rate", d.arch_learning_rate, "dnas: Adam step of the logits.")
    f.DEFINE_float("latency_alpha", d.latency_alpha, "dnas: α of CE·α·(log LAT)^β.")
    f.DEFINE_float("latency_beta", d.latency_beta, "dnas: β of CE·α·(log LAT)^β.")
    f.DEFINE_integer("eval_batch_size", d.eval_batch_size, "Images per one-shot evaluation.")
    f.DEFINE_integer("final_archs", d.final_archs, "Distinct architectures evaluated at the end.")
    f.DEFINE_float("checkpoint_seconds", d.checkpoint_seconds, "Checkpoint at most this often (s).")
    f.DEFINE_integer("seed", d.seed, "Seed of the data split, the weights and the policy.")
    f.DEFINE_string("output_dir", "runs/oneshot", "Where every output and the checkpoint go.")


def _validation_size(text: str | None) -> int | float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--validation_size must be a count or a fraction; got {text!r}") from None
    return int(value) if value >= 1 else value


def config_from_flags(values: Any) -> OneShotConfig:
    """The OneShotConfig the parsed flag values describe (ValueError naming a bad one)."""
    return OneShotConfig(
        output_dir=values.output_dir,
        algorithm=values.algorithm,
        space=values.space,
        dataset=values.dataset,
        data_dir=values.data_dir,
        image_size=values.image_size,
        validation_size=_validation_size(values.validation_size),
        latency_table=values.latency_table,
        latency_image_size=values.latency_image_size,
        latency_target_ms=values.latency_target_ms,
        epochs=values.epochs,
        batch_size=values.batch_size,
        learning_rate=values.learning_rate,
        warmup_fraction=values.warmup_fraction,
        default_fraction=values.default_fraction,
        widest_fraction=values.widest_fraction,
        reward=values.reward,
        absolute_beta=values.absolute_beta,
        soft_w=values.soft_w,
        rl_learning_rate=values.rl_learning_rate,
        temperature=values.temperature,
        temperature_decay=values.temperature_decay,
        arch_learning_rate=values.arch_learning_rate,
        latency_alpha=values.latency_alpha,
        latency_beta=values.latency_beta,
        eval_batch_size=values.eval_batch_size,
        final_archs=values.final_archs,
        checkpoint_seconds=values.checkpoint_seconds,
        seed=values.seed,
    )


def format_summary(summary: dict[str, Any], output_dir: str) -> str:
    """A short human summary: what was searched, the best and most likely architectures, the
    reference, and the files written."""
    best, likely = summary.get("best") or {}, summary.get("most_likely") or {}
    lines = [
        f"one-shot {summary['algorithm']} on {summary['space']} / {summary['dataset']}: "
        f"{summary['distinct_archs']} architectures evaluated with shared weights "
        f"(search {summary['search_seconds']:.0f} s, evaluation {summary['evaluate_seconds']:.0f} s"
        f", target {summary['latency_target_ms']:.3f} ms)",
        f"  best:        one-shot accuracy {best.get('accuracy', float('nan')):.3f}, "
        f"{best.get('latency_ms', float('nan')):.3f} ms  {best.get('arch', '')}",
        f"  most likely: one-shot accuracy {likely.get('accuracy', float('nan')):.3f}, "
        f"{likely.get('latency_ms', float('nan')):.3f} ms",
    ]
    lines += [f"  {sentence}" for sentence in summary.get("verdict", [])]
    lines.append(f"Train the best: {summary['train_command']}")
    lines.append("Wrote:")
    for name in ("trials.csv", "pareto.png", "history.png", "best_arch.json", "summary.json"):
        lines.append(f"  {os.path.join(output_dir, name)}")
    return "\n".join(lines)


def _main(argv: Sequence[str]) -> None:
    from absl import flags

    from tflite_bench import binary

    def job() -> tuple[dict[str, Any], str]:
        config = config_from_flags(flags.FLAGS)  # bad flags fail before TensorFlow loads
        from search.oneshot import run as search

        return search.run(config), config.output_dir

    binary.run_job(
        argv, job, lambda done: format_summary(*done), progress_loggers=("mnasnet_tf.oneshot",)
    )


def run_main() -> None:
    """Console entry point of `mnasnet-oneshot`."""
    from absl import app

    from tflite_bench import binary

    _define_flags()
    binary.run_binary(lambda: app.run(_main), program="mnasnet-oneshot", resumable=True)


if __name__ == "__main__":
    run_main()
