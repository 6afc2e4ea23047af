"""The trial records of a search project, and the report files written from them.

Owns `load_records` (one `TrialRecord` per trial, rebuilt from keras-tuner's `trial_*/trial.json`
and the controller's histories in `oracle.json`; read incrementally: only trial files that
changed are parsed again) and `write_reports` (trials.csv, pareto.csv/png, history.png,
summary.json, best_arch.json). Works on a finished, resumed or running project alike, in the
search process or outside it.

Imports keras-tuner's trial files reader (which imports TensorFlow); not the tuner or the oracle.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from typing import Any

from keras_tuner.engine import trial as trial_module

from mnasnet_tf import arch_string
from search.controllers import reward as reward_lib
from search.results import report
from search.results.trial_record import TrialRecord
from search.spaces.base import SearchSpace
from tflite_bench import files

log = logging.getLogger("mnasnet_tf.search")
PROVENANCE_FILE = "latency.json"
"""Beside each trial.json: what the trial's latency depends on (`save_provenance`)."""


def load_records(
    project_dir: str,
    space: SearchSpace,
    *,
    cache: dict[str, Any] | None = None,
    entropies: dict[str, float] | None = None,
    baselines: dict[str, float] | None = None,
) -> list[TrialRecord]:
    """Trial records from `<project_dir>/trial_*/trial.json`, in trial order.

    Args:
      cache: a dict this function keeps between calls: a trial file unchanged since the last
        call (same inode, size and modification time) is not parsed again.
      entropies: the controller entropy per trial id (None: read from `oracle.json`).
      baselines: the controller's reward baseline per trial id when it was sampled (None: read
        from `oracle.json`).
    """
    if entropies is None or baselines is None:
        saved_entropies, saved_baselines = _saved_histories(project_dir)
        entropies = saved_entropies if entropies is None else entropies
        baselines = saved_baselines if baselines is None else baselines
    cache = {} if cache is None else cache
    records = []
    for path in sorted(glob.glob(os.path.join(project_dir, "trial_*", "trial.json"))):
        try:
            info = os.stat(path)
        except OSError:
            continue
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        cached = cache.get(path)
        if cached is not None and cached[0] == stamp:
            record = cached[1]
        else:
            record = _load_record(path, space)
            if record is None:
                continue
            cache[path] = (stamp, record)
        histories = {
            name: values[record["trial"]]
            for name, values in (
                ("controller_entropy", entropies),
                ("controller_baseline", baselines),
            )
            if record["trial"] in values
        }
        if histories:
            record = record.replace(**histories)
        records.append(record)
    # Ids are zero-padded to the width of max_trials at creation, so a resumed search with a
    # larger budget mixes widths ('9', '10'): order by number.
    records.sort(key=lambda r: int(r["trial"]) if str(r["trial"]).isdigit() else -1)
    return records


def _load_record(path: str, space: SearchSpace) -> TrialRecord | None:
    try:
        trial = trial_module.Trial.load(path)
    except (OSError, ValueError, KeyError) as error:
        log.warning("skipping unreadable trial file %s: %s", path, error)
        return None
    record: dict[str, Any] = {"trial": trial.trial_id, "status": trial.status}
    try:
        record["arch_spec"] = space.from_hyperparameters(trial.hyperparameters.values)
        record["arch"] = arch_string.encode(record["arch_spec"])
    except (ValueError, KeyError):
        record["arch"] = ""
    for name in report.TRIAL_COLUMNS:
        if trial.metrics.exists(name):
            record[name] = trial.metrics.get_last_value(name)
    if record.get("cached_from") is not None:  # a trial id, stored as a number
        record["cached_from"] = str(int(record["cached_from"])).zfill(len(trial.trial_id))
    if trial.metrics.exists("latency_measured"):
        measured = trial.metrics.get_last_value("latency_measured")
        record["latency_source"] = "measured" if measured else "predicted"
    record.update(load_provenance(os.path.dirname(path)))
    if trial.message:
        record["reason"] = trial.message
    return TrialRecord.from_mapping(record)


def save_provenance(trial_dir: str, provenance: dict[str, Any]) -> None:
    """Writes what a trial's latency depends on (device, runtime, threads, clock, runs,
    quantization; see `LatencyMeter.provenance`) beside its trial.json (PROVENANCE_FILE)."""
    files.atomic_write_json(os.path.join(trial_dir, PROVENANCE_FILE), provenance, make_dirs=True)


def load_provenance(trial_dir: str) -> dict[str, Any]:
    """What `save_provenance` wrote for a trial ({} if nothing, or unreadable)."""
    try:
        with open(os.path.join(trial_dir, PROVENANCE_FILE), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return {key: value for key, value in data.items() if key in report.TRIAL_COLUMNS}


def history(history: dict[Any, Any]) -> dict[str, float]:
    """A per-trial history (trial id → value) with string keys and float values."""
    return {str(k): float(v) for k, v in dict(history).items() if v is not None}


def _saved_histories(project_dir: str) -> tuple[dict[str, float], dict[str, float]]:
    """The controller entropy and reward baseline per trial, from `oracle.json`."""
    path = os.path.join(project_dir, "oracle.json")
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except (OSError, json.JSONDecodeError):
        return {}, {}
    return (
        history(state.get("entropy_history") or {}),
        history(state.get("baseline_history") or {}),
    )


def write_reports(
    project_dir: str,
    records: list[dict[str, Any]],
    *,
    references: list[report.ReferencePoint] = (),
    latency_target_ms: float | None = None,
    export: dict[str, Any] | None = None,
    reward: reward_lib.RewardConfig | None = None,
) -> dict[str, str]:
    """Writes every report file of a search into `project_dir` (`export`: the check of the
    exported files, for summary.json; `reward`: the search's, which scores the references
    there too); returns their paths."""
    paths = {
        "trials": os.path.join(project_dir, "trials.csv"),
        "pareto_csv": os.path.join(project_dir, "pareto.csv"),
        "pareto_png": os.path.join(project_dir, "pareto.png"),
        "history": os.path.join(project_dir, "history.png"),
        "summary": os.path.join(project_dir, "summary.json"),
        "best_arch": os.path.join(project_dir, "best_arch.json"),
    }
    report.write_trials_csv(records, paths["trials"])
    report.write_pareto(
        records,
        paths["pareto_csv"],
        paths["pareto_png"],
        references=references,
        latency_target_ms=latency_target_ms,
    )
    report.write_history(records, paths["history"])
    report.write_json(
        report.summary(
            records,
            references=references,
            latency_target_ms=latency_target_ms,
            export=export,
            reward=reward,
        ),
        paths["summary"],
    )
    best = report.best_record(records)
    if best and best.get("arch_spec") is not None:
        arch = best["arch_spec"].replace(name=f"search-trial-{best['trial']}")
        arch_string.save_json(arch, paths["best_arch"])
    else:
        paths.pop("best_arch")
    return paths
