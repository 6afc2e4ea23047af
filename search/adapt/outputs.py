"""A NetAdapt run's files: the resume state, the trajectory, and the final models.

Owns `AdaptResult`, `Run` (state.json plus one weights file per kept iteration, written so
that a kill at any moment leaves the last finished iteration intact: weights first under a new
name, then the state that names them), `write_trajectory` (trajectory.csv and trajectory.png)
and `finish` (the long fine-tune, the .keras / float32 / int8 .tflite exports with their
measured latency and accuracy, adapted_arch.json and summary.json).

Imports TensorFlow through mnasnet_tf; not the NetAdapt loop.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import os
from typing import Any

import keras

from mnasnet_tf import arch_string, builder, specs
from mnasnet_tf import eval as eval_lib
from mnasnet_tf import export as export_lib
from search.adapt import training, units
from search.controllers import reward as reward_lib
from search.latency.meter import LatencyMeter
from search.results import figures, report, run_folder
from search.results.trial_record import TrialRecord
from tflite_bench import files

log = logging.getLogger("mnasnet_tf.adapt")
STATE_FILE = "state.json"
COMMON_REPORTS = ("trials.csv", "pareto.csv", "pareto.png")
TRAJECTORY_COLUMNS = (
    "iteration",
    "unit",
    "width",
    "latency_ms",
    "estimated_cut_ms",
    "accuracy",
    "proposals",
    "training_steps",
    "arch",
)


@dataclasses.dataclass(frozen=True)
class AdaptResult:
    """The outcome: the adapted architecture, its end-to-end latency and held-out accuracy
    before and after, why it stopped, and the files written."""

    arch: specs.ArchSpec
    original_latency_ms: float
    latency_ms: float
    target_ms: float
    original_accuracy: float
    accuracy: float
    iterations: int
    stopped: str
    files: dict[str, str]
    summary: dict[str, Any]


def _identity(config: Any) -> dict[str, Any]:
    """What a resumed run must share with the run in the folder."""
    return {
        "model": config.model,
        "dataset": config.dataset,
        "train_subset": config.train_subset,
        "image_size": config.image_size,
        "latency_image_size": config.latency_image_size,
        "latency_target_ms": config.latency_target_ms,
        "latency_fraction": config.latency_fraction,
        "backend": config.backend,
        "seed": config.seed,
    }


class Run:
    """The resumable state of one NetAdapt run in `output_dir`.

    `state` is None before `start`; then {'identity', 'original_arch', 'original_latency_ms',
    'original_accuracy', 'target_ms', 'trajectory' (one row per kept model, row 0 the original),
    'weights' (the current model's weights file), 'stopped' (None while running), 'final'}.
    """

    def __init__(self, output_dir: str, config: Any) -> None:
        self.output_dir = output_dir
        self.path = os.path.join(output_dir, STATE_FILE)
        self.identity = _identity(config)
        self.state_file = run_folder.StateFile(
            output_dir,
            STATE_FILE,
            what="a NetAdapt run",
            remedy="use another --output_dir",
            settings_key="identity",
        )
        self.state: dict[str, Any] | None = None
        state = self.state_file.read(self.identity)
        if state is not None:
            try:
                state["trajectory"][-1]["arch"]
            except (KeyError, IndexError, TypeError) as error:
                raise run_folder.RunFolderError(
                    f"{self.path} is not a NetAdapt state file (no trajectory: {error!r}); "
                    "delete the folder's state.json to start over, or use another --output_dir"
                ) from None
            self.state = state
            log.info(
                "resuming the NetAdapt run in %s after iteration %d",
                output_dir,
                len(state["trajectory"]) - 1,
            )

    def _save_weights(self, model: keras.Model, iteration: int) -> str:
        name = f"iteration_{iteration:03d}.weights.h5"
        files.atomic_save(
            os.path.join(self.output_dir, name), model.save_weights, suffix=".weights.h5"
        )
        return name

    def save(self) -> None:
        """Writes state.json atomically, then trajectory.csv/png."""
        self.state_file.write(self.state, self.identity)
        write_trajectory(self.state, self.output_dir)

    def start(
        self,
        arch: specs.ArchSpec,
        model: keras.Model,
        *,
        accuracy: float,
        latency: float,
        target: float,
        steps: int,
    ) -> None:
        """Records the original model as row 0."""
        self.state = {
            "identity": self.identity,
            "original_arch": arch_string.to_json_dict(arch),
            "original_latency_ms": latency,
            "original_accuracy": accuracy,
            "target_ms": target,
            "trajectory": [],
            "stopped": None,
            "final": None,
        }
        self._append(
            arch,
            model,
            unit="",
            width=0,
            accuracy=accuracy,
            latency=latency,
            estimate_cut=0.0,
            steps=steps,
            proposals=0,
        )

    def accept(self, arch: specs.ArchSpec, model: keras.Model, **row: Any) -> None:
        """Records a kept proposal as the next row; drops the weights two rows back (the
        original's are kept)."""
        self._append(arch, model, **row)

    def _append(
        self, arch, model, *, unit, width, accuracy, latency, estimate_cut, steps, proposals
    ) -> None:
        iteration = len(self.state["trajectory"])
        previous = self.state.get("weights")
        self.state["weights"] = self._save_weights(model, iteration)
        self.state["trajectory"].append(
            {
                "iteration": iteration,
                "unit": unit,
                "width": width,
                "latency_ms": float(latency),
                "estimated_cut_ms": float(estimate_cut),
                "accuracy": float(accuracy),
                "proposals": proposals,
                "training_steps": int(steps),
                "arch": arch_string.to_json_dict(arch),
                "widths": units.describe(arch),
            }
        )
        self.save()
        if previous and previous != "iteration_000.weights.h5":
            os.remove(os.path.join(self.output_dir, previous))

    def current_model(self, shape: tuple[int, int, int], classes: int):
        """(arch, model) of the last kept row, with its weights."""
        row = self.state["trajectory"][-1]
        arch = arch_string.from_json_dict(row["arch"], source=self.path)
        model = builder.build_model(arch, input_shape=shape, classes=classes)
        model.load_weights(os.path.join(self.output_dir, self.state["weights"]))
        return arch, model

    def original_model(self, shape: tuple[int, int, int], classes: int) -> keras.Model:
        """The original model with its starting weights."""
        arch = arch_string.from_json_dict(self.state["original_arch"], source=self.path)
        model = builder.build_model(arch, input_shape=shape, classes=classes)
        model.load_weights(os.path.join(self.output_dir, "iteration_000.weights.h5"))
        return model


def write_trajectory(state: dict[str, Any], output_dir: str) -> None:
    """trajectory.csv (one row per kept model) and trajectory.png (held-out accuracy and
    measured latency per iteration, the target dashed)."""
    rows = state["trajectory"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(TRAJECTORY_COLUMNS)
    for row in rows:
        values = dict(row, arch=arch_string.encode(arch_string.from_json_dict(row["arch"])))
        writer.writerow([values[c] for c in TRAJECTORY_COLUMNS])
    files.atomic_write(os.path.join(output_dir, "trajectory.csv"), buffer.getvalue())
    plt = figures.pyplot()
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    iterations = [row["iteration"] for row in rows]
    top.plot(iterations, [100 * row["accuracy"] for row in rows], "o-", color="tab:blue")
    top.set_ylabel("held-out accuracy (%)\n(after short fine-tune)")
    top.grid(alpha=0.3)
    bottom.plot(iterations, [row["latency_ms"] for row in rows], "o-", color="tab:red")
    bottom.axhline(state["target_ms"], color="k", linestyle="--", label="target")
    bottom.set_ylabel("measured latency (ms)")
    bottom.set_xlabel("iteration (0 = original)")
    bottom.legend()
    bottom.grid(alpha=0.3)
    for row in rows[1:]:
        bottom.annotate(
            row["unit"],
            (row["iteration"], row["latency_ms"]),
            fontsize=7,
            xytext=(2, 4),
            textcoords="offset points",
        )
    top.set_title(f"NetAdapt: {rows[0]['arch'].get('name', 'model')}")
    figure.tight_layout()
    figures.save_figure(figure, os.path.join(output_dir, "trajectory.png"))
    plt.close(figure)


def finish(
    run: Run,
    arch: specs.ArchSpec,
    model: keras.Model,
    *,
    splits: Any,
    config: Any,
    meter: LatencyMeter,
) -> Any:
    """The long fine-tune, exports, measurements and summary (done once; a resumed finished
    run only reads them back)."""
    state = run.state
    shape = (splits.image_size, splits.image_size, 3)
    if state["final"] is None:
        run.save()
        steps = config.long_term_epochs * splits.steps_per_epoch
        accuracy = training.fine_tune(model, splits, config, steps)
        original = run.original_model(shape, splits.classes)
        int8_meter = LatencyMeter(
            meter.backend,
            image_size=meter.image_size,
            classes=meter.classes,
            runs=config.runs,
            cache_path=meter.cache_path,
            quantization="int8",
            adb_options=config.adb_settings(),
        )
        representative = export_lib.representative_images(
            config.dataset, image_size=splits.image_size, data_dir=config.data_dir
        )
        files, exported = export_lib.export(
            model,
            config.output_dir,
            arch=arch,
            class_names=splits.class_names,
            representative=representative,
            held_out=splits.test,
            eval_examples=100_000,
        )
        arch_path = os.path.join(config.output_dir, "adapted_arch.json")
        arch_string.save_json(arch, arch_path)
        state["final"] = {
            "validation_accuracy": accuracy,
            "test_accuracy": eval_lib.evaluate_keras(model, splits.test).top1,
            "original_test_accuracy": eval_lib.evaluate_keras(original, splits.test).top1,
            "int8_latency_ms": int8_meter.figure(int8_meter.measure(arch, name=arch.name)),
            "tflite_test_accuracy": {name: acc.top1 for name, acc in exported.items()},
            "long_term_steps": steps,
            "files": [os.path.basename(f) for f in files] + ["adapted_arch.json"],
        }
        int8_meter.close()
        run.save()
    final, check = state["final"], state["check"]
    rows = state["trajectory"]
    summary = {
        "model": state["identity"]["model"],
        "original_arch": arch_string.encode(arch_string.from_json_dict(state["original_arch"])),
        "adapted_arch": arch_string.encode(arch),
        "original_widths": state["trajectory"][0]["widths"],
        "adapted_widths": units.describe(arch),
        "original_latency_ms": check["original_ms"],
        "target_ms": check["target_ms"],
        "latency_ms": check["latency_ms"],
        "latency_ratio": check["latency_ms"] / check["original_ms"],
        "latency_note": (
            "original and adapted float32 models measured again, interleaved, median of "
            "3 rounds (each the median of the timed runs)"
        ),
        "first_original_latency_ms": state["original_latency_ms"],
        "int8_latency_ms": final["int8_latency_ms"],
        "original_test_accuracy": final["original_test_accuracy"],
        "test_accuracy": final["test_accuracy"],
        "tflite_test_accuracy": final["tflite_test_accuracy"],
        "iterations": len(rows) - 1,
        "stopped": state["stopped"],
        "training_steps": sum(r["training_steps"] for r in rows) + final["long_term_steps"],
        "latency_image_size": meter.image_size,
        "latency_backend": config.backend,
        "device": meter.provenance().get("latency_device"),
    }
    summary.update(write_common_reports(state, arch, config.output_dir))
    report.write_json(summary, os.path.join(config.output_dir, "summary.json"))
    files = {name: os.path.join(config.output_dir, name) for name in final["files"]}
    for name in COMMON_REPORTS + ("trajectory.csv", "trajectory.png", "summary.json", STATE_FILE):
        files[name] = os.path.join(config.output_dir, name)
    return AdaptResult(
        arch=arch,
        original_latency_ms=check["original_ms"],
        latency_ms=check["latency_ms"],
        target_ms=check["target_ms"],
        original_accuracy=final["original_test_accuracy"],
        accuracy=final["test_accuracy"],
        iterations=len(rows) - 1,
        stopped=state["stopped"],
        files=files,
        summary=summary,
    )


def write_common_reports(state: dict[str, Any], arch: specs.ArchSpec, output_dir: str) -> dict:
    """The reports every search writes, for a finished run: trials.csv (each kept model, then
    the adapted one after its long fine-tune, with MnasNet's soft reward at the target),
    pareto.csv/png against the original model as the reference; returns the summary sections
    they share (`search.results.report.summary`: best, front, references, verdict, counts)."""
    check, final, rows = state["check"], state["final"], state["trajectory"]
    score = reward_lib.soft(target_ms=check["target_ms"])
    kept = [
        (str(row["iteration"]), arch_string.from_json_dict(row["arch"]), row) for row in rows[1:]
    ]
    adapted = {"accuracy": final["validation_accuracy"], "latency_ms": check["latency_ms"]}
    kept.append(("adapted", arch, adapted))
    records = [
        TrialRecord(
            trial=trial,
            arch=arch_string.encode(model),
            accuracy=row["accuracy"],
            latency_ms=row["latency_ms"],
            reward=score(row["accuracy"], row["latency_ms"]).value,
        )
        for trial, model, row in kept
    ]
    original_arch = arch_string.from_json_dict(state["original_arch"])
    original = report.ReferencePoint(
        name=f"{original_arch.name or 'the model'} (original)",
        latency_ms=check["original_ms"],
        accuracy=rows[0]["accuracy"],
        arch=arch_string.encode(original_arch),
    )
    report.write_trials_csv(records, os.path.join(output_dir, "trials.csv"))
    report.write_pareto(
        records,
        os.path.join(output_dir, "pareto.csv"),
        os.path.join(output_dir, "pareto.png"),
        references=[original],
        latency_target_ms=check["target_ms"],
        title=f"NetAdapt: {original_arch.name or state['identity']['model']}",
        accuracy_label="held-out accuracy (validation split, after fine-tuning)",
    )
    return report.summary(
        records, references=[original], latency_target_ms=check["target_ms"], reward=score
    )
