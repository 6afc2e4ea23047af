"""What a one-shot search keeps on disk: its checkpoint, and the same reports as a multi-trial
search.

Owns `Checkpoint` (oneshot_state.json — settings, epochs done, policy state, RNG, history, the
final evaluation so far — plus the supernet's weights and its optimizer's slots per epoch under
checkpoints/; written after every epoch, the state last and atomically, so a kill at any point
resumes from the last whole epoch) and `write_reports` (trials.csv: every architecture evaluated
with shared weights; pareto.csv/png with the space's reference model on the same footing;
history.csv/png: reward, entropy and temperature per policy step; best_arch.json, which
`mnasnet-train --model=` accepts; summary.json).

Imports TensorFlow through the supernet's weights only; reports go through search/results/report.py.
"""

from __future__ import annotations

import csv
import glob
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from mnasnet_tf import arch_string
from search.oneshot.config import OneShotConfig
from search.results import export_check, figures, report, run_folder
from tflite_bench import checks, files

STATE_FILE = "oneshot_state.json"
STATE_FORMAT = "mnasnet-tf/oneshot-v1"
TRIAL_COLUMNS = ("trial", "source", "arch", "accuracy", "latency_ms", "latency_source", "reward")
HISTORY_COLUMNS = (
    "step",
    "epoch",
    "arch",
    "batch_accuracy",
    "latency_ms",
    "reward",
    "baseline",
    "entropy",
    "temperature",
    "ce",
)


class Checkpoint:
    """The resumable state of one search in `config.output_dir`."""

    def __init__(self, config: OneShotConfig) -> None:
        self.config = config
        self.state_file = run_folder.StateFile(
            config.output_dir,
            STATE_FILE,
            what="a one-shot search",
            remedy="use another --output_dir",
            format=STATE_FORMAT,
            settings_key="config",
        )
        self.path = self.state_file.path
        self.folder = os.path.join(config.output_dir, "checkpoints")

    def _read(self) -> dict[str, Any] | None:
        return self.state_file.read(self.config.fingerprint())

    def load(self, net: Any, policy: Any, optimizer: Any) -> dict[str, Any]:
        """Restores what a previous run saved (nothing if this is a fresh folder); returns the
        loop's state: epochs_done, history, rng, seconds, final, evaluate_seconds."""
        state = self._read()
        if state is None:
            return {
                "epochs_done": 0,
                "history": [],
                "rng": None,
                "seconds": 0.0,
                "final": [],
                "evaluate_seconds": 0.0,
            }
        epochs = int(state["epochs_done"])
        if epochs:
            net.load_weights(self._weights(epochs))
            slots = np.load(self._slots(epochs))
            for i, variable in enumerate(optimizer.variables):
                variable.assign(slots[f"v{i}"])
        policy.set_state(state["policy"])
        return {
            "epochs_done": epochs,
            "history": state["history"],
            "rng": state["rng"],
            "seconds": float(state["seconds"]),
            "final": state.get("final", []),
            "evaluate_seconds": float(state.get("evaluate_seconds", 0.0)),
        }

    def _weights(self, epoch: int) -> str:
        return os.path.join(self.folder, f"supernet_{epoch:03d}.weights.h5")

    def _slots(self, epoch: int) -> str:
        return os.path.join(self.folder, f"optimizer_{epoch:03d}.npz")

    def save(self, search: Any, epochs_done: int, history: list, seconds: float) -> None:
        """Saves the supernet, its optimizer and the state after `epochs_done` epochs, then
        removes older weights."""
        os.makedirs(self.folder, exist_ok=True)
        weights = self._weights(epochs_done)
        files.atomic_save(weights, search.net.save_weights, suffix=".weights.h5")
        slots = {f"v{i}": np.asarray(v) for i, v in enumerate(search.optimizer.variables)}
        files.atomic_save(
            self._slots(epochs_done), lambda tmp: np.savez(tmp, **slots), suffix=".npz"
        )
        self._write(
            {
                "epochs_done": epochs_done,
                "policy": search.policy.get_state(),
                "rng": search.rng.bit_generator.state,
                "history": history,
                "seconds": seconds,
                "final": [],
            }
        )
        for old in glob.glob(os.path.join(self.folder, "*_[0-9][0-9][0-9].*")):
            if f"_{epochs_done:03d}." not in os.path.basename(old):
                os.remove(old)

    def save_final(self, records: list[dict[str, Any]]) -> None:
        """Records the final evaluation so far."""
        state = self._read() or {}
        state["final"] = [dict(record) for record in records]
        self._write(state)

    def _write(self, state: dict[str, Any]) -> None:
        self.state_file.write(state, self.config.fingerprint())


def _write_csv(path: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    def write(handle):
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: row.get(key, "") for key in columns})

    files.atomic_write(path, write)


def write_history_png(history: Sequence[dict[str, Any]], path: str, algorithm: str) -> None:
    """Reward (and baseline) per policy step; entropy and, for DNAS, the temperature."""
    plt = figures.pyplot()
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    steps = list(range(len(history)))
    rewards = [h["reward"] for h in history]
    top.plot(steps, rewards, ".", markersize=2, color="#9aa5b1", label="reward per step")
    if len(rewards) >= 20:
        window = max(10, len(rewards) // 50)
        smooth = np.convolve(rewards, np.ones(window) / window, mode="valid")
        top.plot(steps[window - 1 :], smooth, "-", color="#d1495b", label=f"mean of {window}")
    baseline = [
        (i, h["baseline"])
        for i, h in enumerate(history)
        if checks.is_finite_number(h.get("baseline"))
    ]
    if baseline:
        top.plot(*zip(*baseline, strict=True), "--", color="#2e86ab", label="baseline (EMA)")
    top.set_ylabel("reward" if algorithm == "tunas" else "−loss")
    top.legend(fontsize=8)
    top.grid(alpha=0.3)
    bottom.plot(steps, [h["entropy"] for h in history], "-", color="#2e86ab", label="entropy")
    bottom.set_ylabel("policy entropy (nats)")
    if algorithm == "dnas":
        twin = bottom.twinx()
        twin.plot(steps, [h["temperature"] for h in history], "-", color="#edae49")
        twin.set_ylabel("Gumbel temperature", color="#edae49")
    bottom.set_xlabel("policy step")
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    figures.save_figure(figure, path)
    plt.close(figure)


def write_reports(
    search: Any,
    records: list[dict[str, Any]],
    history: list[dict[str, Any]],
    *,
    search_seconds: float,
    evaluate_seconds: float,
    wall_seconds: float,
) -> dict[str, Any]:
    """Writes every report of a finished search; returns the summary."""
    config, out = search.config, search.config.output_dir
    _write_csv(os.path.join(out, "trials.csv"), TRIAL_COLUMNS, records)
    rows = [{"step": i, **h} for i, h in enumerate(history)]
    _write_csv(os.path.join(out, "history.csv"), HISTORY_COLUMNS, rows)
    if history:
        write_history_png(history, os.path.join(out, "history.png"), config.algorithm)
    references = reference_points(search)
    report.write_pareto(
        records,
        os.path.join(out, "pareto.csv"),
        os.path.join(out, "pareto.png"),
        references=references,
        latency_target_ms=search.target_ms,
        title=f"One-shot search ({config.algorithm}) on {config.space}",
        accuracy_label="one-shot accuracy (shared weights, validation split)",
    )
    best = report.best_record(records)
    best_path = os.path.join(out, "best_arch.json")
    if best is not None:
        arch = arch_string.decode(best["arch"], **search.space.conventions)
        arch_string.save_json(arch.replace(name=f"oneshot-{config.algorithm}-best"), best_path)
    most_likely = next((r for r in records if r.get("source") == "most_likely"), None)
    summary = report.summary(records, references=references, latency_target_ms=search.target_ms)
    summary.update(
        algorithm=config.algorithm,
        space=config.space,
        dataset=config.dataset,
        image_size=search.image_size,
        latency_image_size=search.latency_image_size,
        latency_table=search.table.path,
        reference_latency_ms=search.reference_ms,
        epochs=config.epochs,
        warmup_epochs=config.warmup_epochs,
        steps_per_epoch=search.steps_per_epoch,
        policy_steps=len(history),
        distinct_archs=len({r["arch"] for r in records}),
        sources={
            s: sum(r.get("source") == s for r in records)
            for s in ("most_likely", "policy", "uniform")
        },
        most_likely=None if most_likely is None else report.brief(most_likely),
        final_entropy=search.policy.entropy(),
        search_seconds=round(search_seconds, 1),
        evaluate_seconds=round(evaluate_seconds, 1),
        wall_seconds=round(wall_seconds, 1),
        config=config.fingerprint(),
        train_command=export_check.train_command(
            best_path,
            dataset=config.dataset,
            image_size=search.image_size,
            data_dir=config.data_dir,
            export_dir=os.path.join(out, "shipping"),
        ),
    )
    report.write_json(summary, os.path.join(out, "summary.json"))
    return summary


def reference_points(search: Any) -> list[report.ReferencePoint]:
    """The space's reference model (its default point, in the space's conventions), scored like
    the trials: one-shot accuracy and table latency."""
    default = search.space.to_arch(search.space.default_choices())
    reference = getattr(search.space, "reference", None)
    name = f"{reference.name} (space default)" if reference is not None else "space default"
    return [
        report.ReferencePoint(
            name=name,
            latency_ms=search.latency(default),
            accuracy=search.accuracy(default),
            arch=arch_string.encode(default),
        )
    ]
