"""NetAdapt (Yang et al. 2018, as MobileNetV3 uses it): shrink a trained model's widths, one
proposal per iteration, against measured latency, until a latency target is met.

Owns `AdaptConfig` (validated once), `adapt` (the loop) and `AdaptResult`. Each iteration
asks every `units.WidthUnit` for the largest narrower width whose estimated latency cut reaches
the iteration's step (the step starts at `initial_step` of the original latency and decays by
`step_decay` per iteration, as in the NetAdapt paper), builds it with the current weights'
largest-norm filters (`inherit`), fine-tunes it `short_term_steps` steps, scores it on the
held-out split, and keeps the proposal with the best ΔAcc/|ΔLatency| (MobileNetV3's rule). The
kept model is measured end to end; the loop stops when that measurement meets the target, or
with a clear "no layer can shrink further" result. A long fine-tune and the exports follow.

Resumable between iterations: `state.json`, the current model's weights and architecture are
rewritten atomically after every iteration (outputs.py); a rerun continues where it stopped.

Imports TensorFlow, mnasnet_tf and search.latency; not the multi-trial search.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

import keras

from mnasnet_tf import arch_string, builder, specs
from search.adapt import inherit, outputs, training, units
from search.adapt.outputs import AdaptResult
from search.adapt.sizing import ESTIMATORS, Estimator, end_to_end, measure_pair
from tflite_bench import checks

log = logging.getLogger("mnasnet_tf.adapt")
__all__ = ["AdaptConfig", "AdaptResult", "adapt"]


@dataclasses.dataclass(frozen=True)
class AdaptConfig:
    """What `adapt` does.

    Attributes:
      model: a zoo name, an arch string, an arch JSON file, or a trained `.keras` with the
        `arch.json` it was exported with beside it.
      output_dir: where every output and the resume state go.
      dataset: 'digits', 'folder:<path>' or a prepared tfds set.
      latency_target_ms / latency_fraction: the target (give exactly one); a fraction in (0, 1)
        of the original model's measured latency.
      backend: how proposals are sized: 'table' (per-part lookups measured on this host),
        'local' or 'adb' (every proposal measured end to end). The end-to-end measurements are
        on the phone for 'adb', on this host otherwise.
      initial_step: the first iteration's latency cut, as a fraction of the original latency.
      step_decay: the cut is multiplied by this every iteration.
      short_term_steps: fine-tune steps per proposal.
      long_term_epochs: fine-tune epochs of the final model.
      pretrain_epochs: training of a model given by name or string (a `.keras` is not retrained).
      max_iterations: a bound on the loop.
      image_size: training resolution; None takes the data set's default.
      latency_image_size: the resolution latency is measured at (the deployment's); None: the
        training resolution, which is what the exported .tflite files take.
      batch_size, learning_rate (per 256 images; fine-tunes), seed, runs (timed runs per
      measurement), adb_options, data_dir, validation_size, progress.
    """

    model: str
    output_dir: str
    dataset: str = "digits"
    latency_target_ms: float | None = None
    latency_fraction: float | None = None
    backend: str = "table"
    initial_step: float = 0.04
    step_decay: float = 0.96
    short_term_steps: int = 40
    long_term_epochs: int = 5
    pretrain_epochs: int = 10
    max_iterations: int = 100
    image_size: int | None = None
    latency_image_size: int | None = None
    batch_size: int = 64
    learning_rate: float = 0.02
    seed: int = 0
    runs: int = 100
    adb_options: dict[str, Any] | None = None
    data_dir: str | None = None
    validation_size: int | float | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        given = [v for v in (self.latency_target_ms, self.latency_fraction) if v is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of latency_target_ms and latency_fraction; got "
                f"latency_target_ms={self.latency_target_ms!r}, "
                f"latency_fraction={self.latency_fraction!r}"
            )
        if self.latency_fraction is not None and not (
            checks.is_finite_number(self.latency_fraction) and 0 < self.latency_fraction < 1
        ):
            raise ValueError(f"latency_fraction must be in (0, 1); got {self.latency_fraction!r}")
        if self.latency_target_ms is not None and not (
            checks.is_finite_number(self.latency_target_ms) and self.latency_target_ms > 0
        ):
            raise ValueError(
                f"latency_target_ms must be a positive number; got {self.latency_target_ms!r}"
            )
        if self.backend not in ESTIMATORS:
            raise ValueError(f"backend must be one of {ESTIMATORS}; got {self.backend!r}")
        if not checks.is_finite_number(self.initial_step) or not 0 < self.initial_step < 1:
            raise ValueError(f"initial_step must be in (0, 1); got {self.initial_step!r}")
        if not checks.is_finite_number(self.step_decay) or not 0 < self.step_decay <= 1:
            raise ValueError(f"step_decay must be in (0, 1]; got {self.step_decay!r}")
        for name in ("short_term_steps", "long_term_epochs", "pretrain_epochs"):
            value = getattr(self, name)
            if not checks.is_int(value) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0; got {value!r}")
        for name in ("max_iterations", "batch_size", "runs"):
            if not checks.is_positive_int(getattr(self, name)):
                raise ValueError(f"{name} must be a positive integer; got {getattr(self, name)!r}")
        if not checks.is_finite_number(self.learning_rate) or self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be a positive number; got {self.learning_rate!r}")
        if self.latency_image_size is not None and (
            not checks.is_int(self.latency_image_size) or self.latency_image_size < 32
        ):
            raise ValueError(
                f"latency_image_size must be an integer >= 32 or None; got "
                f"{self.latency_image_size!r}"
            )
        if not isinstance(self.output_dir, str) or not self.output_dir:
            raise ValueError(f"output_dir must be a folder path; got {self.output_dir!r}")


def adapt(config: AdaptConfig) -> AdaptResult:
    """Runs NetAdapt as `config` says (resuming from `config.output_dir` if it holds a run)."""
    os.makedirs(config.output_dir, exist_ok=True)
    splits = training.Splits(config)
    shape = (splits.image_size, splits.image_size, 3)
    run = outputs.Run(config.output_dir, config)
    device = {
        "image_size": config.latency_image_size or splits.image_size,
        "classes": splits.classes,
        "runs": config.runs,
    }
    meter = end_to_end(
        config.backend, output_dir=config.output_dir, adb_options=config.adb_options, **device
    )
    estimator = Estimator(config.backend, meter=meter, output_dir=config.output_dir, **device)
    if run.state is None:
        arch, model, accuracy, steps = training.starting_model(config, splits)
        latency = meter.figure(meter.measure(arch, name=arch.name))
        target = config.latency_target_ms or config.latency_fraction * latency
        if target >= latency:
            raise ValueError(
                f"latency target {target:.3f} ms is not below {arch.name}'s measured latency "
                f"{latency:.3f} ms; nothing to adapt"
            )
        run.start(arch, model, accuracy=accuracy, latency=latency, target=target, steps=steps)
    arch, model = run.current_model(shape, splits.classes)
    state = run.state
    while state["stopped"] is None:
        iteration = len(state["trajectory"])
        if state["trajectory"][-1]["latency_ms"] <= state["target_ms"]:
            if _confirmed(run, arch, config, device):
                state["stopped"] = "target met"
                break
        if iteration > config.max_iterations:
            state["stopped"] = f"max_iterations ({config.max_iterations}) reached"
            break
        step = (
            config.initial_step
            * state["original_latency_ms"]
            * config.step_decay ** (iteration - 1)
        )
        estimate = estimator.estimate(arch)
        scale = estimate / state["trajectory"][-1]["latency_ms"]
        proposals = units.propose(arch, estimator, estimate, step * scale)
        if not proposals:
            state["stopped"] = (
                f"stopped at {state['trajectory'][-1]['latency_ms']:.3f} ms: no layer can shrink "
                "further"
            )
            break
        bar = keras.utils.Progbar(len(proposals), unit_name="proposal") if config.progress else None
        current_accuracy = state["trajectory"][-1]["accuracy"]
        for proposal in proposals:
            keras.utils.set_random_seed(config.seed + iteration)
            proposal.model = builder.build_model(
                proposal.arch, input_shape=shape, classes=splits.classes
            )
            inherit.inherit(model, proposal.model)
            proposal.accuracy = training.fine_tune(
                proposal.model, splits, config, config.short_term_steps
            )
            log.info(
                "iteration %d: %s %d → %d: cut %.3f (estimated), accuracy %.4f",
                iteration,
                proposal.unit.name,
                units.current_width(arch, proposal.unit),
                proposal.width,
                proposal.cut_ms / scale,
                proposal.accuracy,
            )
            if bar:
                bar.add(1)
        best = max(
            proposals,
            key=lambda p: ((p.accuracy - current_accuracy) / (p.cut_ms / scale), p.cut_ms),
        )
        latency = meter.figure(meter.measure(best.arch, name=best.arch.name))
        arch, model = best.arch, best.model
        run.accept(
            arch,
            model,
            unit=best.unit.name,
            width=best.width,
            accuracy=best.accuracy,
            latency=latency,
            estimate_cut=best.cut_ms / scale,
            steps=config.short_term_steps * len(proposals),
            proposals=len(proposals),
        )
        log.info(
            "iteration %d: kept %s → %d; %.3f ms measured (target %.3f), held-out %.4f",
            iteration,
            best.unit.name,
            best.width,
            latency,
            state["target_ms"],
            best.accuracy,
        )
    check = state.get("check") or {}
    if state["final"] is None and check.get("iteration") != len(state["trajectory"]) - 1:
        _confirmed(run, arch, config, device)  # the final figures rest on this measurement
    return outputs.finish(run, arch, model, splits=splits, config=config, meter=meter)


def _confirmed(
    run: outputs.Run, arch: specs.ArchSpec, config: AdaptConfig, device: dict[str, Any]
) -> bool:
    """Measures the original and `arch` again, interleaved (PAIR_ROUNDS rounds each, nothing
    cached), records both in the state, and says whether `arch` meets the target by them: a
    fraction is checked against the original measured alongside, an absolute target directly.
    One lucky measurement therefore never ends the run."""
    original = arch_string.from_json_dict(run.state["original_arch"], source=run.path)
    original_ms, latency_ms = measure_pair(
        original, arch, backend=config.backend, adb_options=config.adb_options, **device
    )
    target = (
        config.latency_target_ms
        if config.latency_target_ms is not None
        else config.latency_fraction * original_ms
    )
    run.state["check"] = {
        "iteration": len(run.state["trajectory"]) - 1,
        "original_ms": original_ms,
        "latency_ms": latency_ms,
        "target_ms": target,
    }
    run.save()
    met = latency_ms <= target
    log.info(
        "measured again, interleaved with the original: %.4f ms vs %.4f ms (%.3f×): target %s",
        latency_ms,
        original_ms,
        latency_ms / original_ms,
        "met" if met else "not met yet; continuing",
    )
    return met
