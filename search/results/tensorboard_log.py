"""TensorBoard logs of a search: per-trial scalars and the HParams dashboard, as trials end.

Owns `TensorBoardLog`, which writes each completed trial of a project's records once, under
`log_dir` (the search writes `<project>/tensorboard`; view it with `tensorboard --logdir=...`):

    search/         scalars, step = trial number: trial/reward, trial/accuracy,
                    trial/latency_ms, search/best_reward (best so far in trial order) and
                    controller/entropy (the policy's entropy when the trial was sampled)
    trial_<id>/     the trial as an HParams session: the space's decisions as hparams, and
                    reward, accuracy, latency_ms as its metrics (step 0)
    (the root)      the HParams experiment: every decision with its values, and the metrics
    written.json    the trial ids already written

A trial is written once: a resumed search reads `written.json` and skips those trials (a crash
between writing a trial's events and updating the file writes that one trial again on resume).
Only the single or chief process writes (workers share the project but not these files).

Imports TensorFlow and tensorboard's hparams API lazily, in the methods that write; the search
process has TensorFlow loaded already. Must not import the tuner, the oracle or the reports.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from search.spaces.base import SearchSpace
from tflite_bench import files

SCALARS = {
    "trial/reward": "reward",
    "trial/accuracy": "accuracy",
    "trial/latency_ms": "latency_ms",
    "controller/entropy": "controller_entropy",
}
"""Scalar tag in the `search` run → the trial record field it plots."""
BEST_REWARD = "search/best_reward"
METRICS = ("reward", "accuracy", "latency_ms")
"""The HParams dashboard's metrics: scalars of each trial's run, under these tags."""
WRITTEN = "written.json"


class TensorBoardLog:
    """Writes a search's completed trials to TensorBoard, each once (see the module docstring).

    Args:
      log_dir: the log folder (created on the first write).
      space: the search space (its decisions are the hparams).
    """

    def __init__(self, log_dir: str, space: SearchSpace) -> None:
        self.log_dir = log_dir
        self.space = space
        self._writer = None
        self._state = _load_state(os.path.join(log_dir, WRITTEN))

    @property
    def written(self) -> set[str]:
        """Ids of the trials already in the logs."""
        return set(self._state["trials"])

    def write(self, records: Sequence[dict[str, Any]]) -> list[str]:
        """Writes the completed trials of `records` (all trials so far, as `records.load_records`
        gives them) not written yet; returns their ids, in trial order."""
        completed = sorted(
            (r for r in records if r.get("status") == "COMPLETED" and r.get("reward") is not None),
            key=_trial_number,
        )
        new = [r for r in completed if str(r["trial"]) not in self._state["trials"]]
        if not new:
            return []
        import tensorflow as tf

        if not self._state["experiment"]:
            self._write_experiment()
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "search"))
        best, bests = float("-inf"), {}
        for record in completed:  # the best so far in trial order, over every completed trial
            best = max(best, float(record["reward"]))
            bests[str(record["trial"])] = best
        with self._writer.as_default():
            for record in new:
                step = _trial_number(record)
                for tag, field in SCALARS.items():
                    if record.get(field) is not None:
                        tf.summary.scalar(tag, float(record[field]), step=step)
                tf.summary.scalar(BEST_REWARD, bests[str(record["trial"])], step=step)
        self._writer.flush()
        for record in new:
            self._write_session(record)
        self._state["trials"] += [str(r["trial"]) for r in new]
        files.atomic_write_json(os.path.join(self.log_dir, WRITTEN), self._state)
        return [str(r["trial"]) for r in new]

    def close(self) -> None:
        """Closes the `search` run's event file (a later `write` opens a new one)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _write_experiment(self) -> None:
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hp

        os.makedirs(self.log_dir, exist_ok=True)
        writer = tf.summary.create_file_writer(self.log_dir)
        with writer.as_default():
            hp.hparams_config(
                hparams=[
                    hp.HParam(decision.name, hp.Discrete(list(decision.values)))
                    for decision in self.space.decisions
                ],
                metrics=[hp.Metric(name, display_name=name) for name in METRICS],
            )
        writer.close()
        self._state["experiment"] = True

    def _write_session(self, record: dict[str, Any]) -> None:
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hp

        trial = str(record["trial"])
        writer = tf.summary.create_file_writer(os.path.join(self.log_dir, f"trial_{trial}"))
        with writer.as_default():
            if record.get("arch_spec") is not None:
                values = self.space.to_values(self.space.from_arch(record["arch_spec"]))
                hp.hparams(values, trial_id=trial)
            for name in METRICS:
                if record.get(name) is not None:
                    tf.summary.scalar(name, float(record[name]), step=0)
        writer.close()


def _trial_number(record: dict[str, Any]) -> int:
    trial = str(record["trial"])
    return int(trial) if trial.isdigit() else -1


def _load_state(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
        return {
            "trials": [str(t) for t in state["trials"]],
            "experiment": bool(state["experiment"]),
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {"trials": [], "experiment": False}
