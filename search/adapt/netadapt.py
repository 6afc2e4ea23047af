"""NetAdapt (Yang et al. 2018, as MobileNetV3 uses it): shrink a trained model's widths, one
proposal per iteration, against measured latency, until a latency target is met.

Owns `adapt` (the loop; its `AdaptConfig` is in search/adapt/config.py) and `AdaptResult`. Each
iteration asks every `units.WidthUnit` for the largest narrower width whose estimated latency cut
reaches the iteration's step (the step starts at `initial_step` of the original latency and decays
by `step_decay` per iteration, as in the NetAdapt paper), builds it with the current weights'
largest-norm filters (`inherit`), fine-tunes it `short_term_steps` steps, scores it on the held-out
split, and keeps the proposal with the best ΔAcc/|ΔLatency| (MobileNetV3's rule). The kept model is
measured end to end; the loop stops when that measurement meets the target, or with a clear "no
layer can shrink further" result. A long fine-tune and the exports follow.

Resumable between iterations: `state.json`, the current model's weights and architecture are
rewritten atomically after every iteration (outputs.py); a rerun continues where it stopped.

Imports TensorFlow, mnasnet_tf and search.latency; not the multi-trial search.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import keras

from mnasnet_tf import arch_string, builder, specs
from search.adapt import inherit, outputs, training, units
from search.adapt.config import AdaptConfig
from search.adapt.outputs import AdaptResult
from search.adapt.sizing import Estimator, end_to_end, measure_pair

log = logging.getLogger("mnasnet_tf.adapt")
__all__ = ["AdaptConfig", "AdaptResult", "adapt"]


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
        config.backend, output_dir=config.output_dir, adb_options=config.adb_settings(), **device
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
        original, arch, backend=config.backend, adb_options=config.adb_settings(), **device
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
