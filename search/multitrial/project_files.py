"""A search project's keras-tuner files, read back when some of them are damaged.

keras-tuner stops a resume at the first file it cannot parse, with a bare JSONDecodeError that
names no file. The project's own writers are atomic, but a power cut, a full disk or a copy cut
short can still leave `oracle.json` or a `trial_*/trial.json` empty or truncated. This module owns
what `MnasOracle.reload` (search/multitrial/oracle.py) reads instead, recovering from what is
intact:

- `load_oracle_state(path)`: `oracle.json`; when it is damaged or gone, its backup
  `oracle.json.bak` (the state one save older, which the oracle writes before each save; the
  trial files are newer by at most one step, which reload reconciles as it does after a crash
  between two writes). Neither readable: `CorruptProjectError` naming both and what to do.
- `load_trials(project_dir, state, ...)`: every trial. A damaged trial.json is moved aside to
  `trial.json.corrupt` and its trial rebuilt: one that had not ended runs again with the values
  the controller sampled (kept in the oracle state); one that ended is rebuilt from its row of
  `trials.csv` (status, architecture, metrics; written after every trial) and its trial.json
  written again; failing that it keeps its id as a FAILED trial in memory (its result is lost;
  the reports leave it out).

Imports keras-tuner's Trial (and so TensorFlow); must not import the tuner or the oracle.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import logging
import os
from typing import Any

from keras_tuner.engine.trial import Trial
from keras_tuner.engine.trial import TrialStatus as _STATUS

from mnasnet_tf import arch_string
from tflite_bench import files

logger = logging.getLogger(__name__)

CORRUPT_SUFFIX = ".corrupt"
"""Appended to a damaged trial file's name when it is moved aside."""
REPORT = "trials.csv"
"""The report a damaged trial.json of an ended trial is rebuilt from (search/results/report.py)."""
_NOT_METRICS = ("trial", "status", "arch", "reason", "controller_entropy", "controller_baseline")


class CorruptProjectError(ValueError):
    """A project file that a resume needs is damaged and nothing intact can stand in for it;
    the message names the files and what to do."""


def backup_path(path: str) -> str:
    """Where the oracle keeps the previous version of its state file `path`."""
    return f"{path}.bak"


def _read_state(path: str) -> dict[str, Any]:
    state = files.read_json(path)
    if not isinstance(state, dict) or "mnas" not in state:
        raise files.CorruptFileError(path, "not an oracle state")
    return state


def load_oracle_state(path: str, *, warn: bool = True) -> dict[str, Any]:
    """The oracle state in `path` (oracle.json), else in its backup (with a warning naming
    both, unless `warn` is False); CorruptProjectError when neither can be read."""
    try:
        return _read_state(path)
    except FileNotFoundError:
        damaged = f"{path} is missing"
    except files.CorruptFileError as error:
        damaged = str(error)
    backup = backup_path(path)
    try:
        state = _read_state(backup)
    except FileNotFoundError:
        why = "there is no backup of it"
    except files.CorruptFileError as error:
        why = f"its backup {error}"
    else:
        if not warn:
            return state
        logger.warning(
            "%s; resuming from its backup %s (one save older; the trial files fill in the rest)",
            damaged,
            backup,
        )
        return state
    raise CorruptProjectError(
        f"{damaged} and {why}: restore it from a copy, or start afresh with --overwrite or another "
        "--project_name (trials.csv keeps the results so far)"
    )


def load_trials(
    project_dir: str, state: dict[str, Any], *, space: Any, hyperparameters: Any
) -> dict[str, Trial]:
    """trial id → Trial for every `trial_*/trial.json` of `project_dir` and every trial the
    oracle `state` names; damaged or missing ones rebuilt (see the module doc), with `state`'s
    lists of ongoing and queued trials updated for those that cannot run again. `space` turns a
    sampled point into values; `hyperparameters` is the oracle's (a rebuilt trial's template)."""
    trials: dict[str, Trial] = {}
    damaged: dict[str, str] = {}
    for path in sorted(glob.glob(os.path.join(project_dir, "trial_*", "trial.json"))):
        try:
            trial = Trial.from_state(files.read_json(path))
        except (files.CorruptFileError, KeyError, TypeError, AttributeError) as error:
            trial_id = os.path.basename(os.path.dirname(path))[len("trial_") :]
            damaged[trial_id] = str(error) if path in str(error) else f"{path}: {error!r}"
            with contextlib.suppress(OSError):
                os.replace(path, path + CORRUPT_SUFFIX)
            continue
        trials[trial.trial_id] = trial
    mnas = state.get("mnas") or {}
    samples = {item["trial_id"]: item["choices"] for item in mnas.get("buffer") or []}
    samples.update({key: value["choices"] for key, value in (mnas.get("pending") or {}).items()})
    named = {*state.get("start_order", []), *state.get("end_order", [])}
    named |= {*state.get("retry_queue", []), *(state.get("ongoing_trials") or {}).values()}
    named |= set(samples)
    ended = set(state.get("end_order", []))
    lost = []
    for trial_id in sorted((set(damaged) | named) - set(trials)):
        reason = damaged.get(trial_id, f"trial {trial_id}'s trial.json is missing")
        values = hyperparameters.copy()
        if trial_id in samples and trial_id not in ended:
            values.values = space.to_values(samples[trial_id])
            trials[trial_id] = Trial(values, trial_id=trial_id, status=_STATUS.RUNNING)
            logger.warning("%s; trial %s runs again with the same architecture", reason, trial_id)
            continue
        recovered = _from_report(project_dir, trial_id, space, hyperparameters)
        if recovered is not None:
            trials[trial_id] = recovered
            path = os.path.join(project_dir, f"trial_{trial_id}", "trial.json")
            files.atomic_write_json(path, recovered.get_state(), indent=None, make_dirs=True)
            logger.warning("%s; trial %s rebuilt from %s", reason, trial_id, REPORT)
            continue
        message = f"its trial.json was damaged ({reason}); the result is lost"
        trials[trial_id] = Trial(values, trial_id=trial_id, status=_STATUS.FAILED, message=message)
        lost.append(trial_id)
        logger.warning("%s; trial %s keeps its id but its result is lost", reason, trial_id)
    if lost:  # a trial that cannot run again must not be handed out
        ongoing = state.get("ongoing_trials") or {}
        state["ongoing_trials"] = {k: v for k, v in ongoing.items() if v not in lost}
        state["retry_queue"] = [t for t in state.get("retry_queue", []) if t not in lost]
    return trials


def _from_report(project_dir: str, trial_id: str, space: Any, hyperparameters: Any) -> Any:
    """The ended trial `trial_id` as its row of trials.csv records it (status, architecture,
    metrics, reason), or None when there is no such row or it does not parse."""
    try:
        with open(os.path.join(project_dir, REPORT), newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.DictReader(handle) if row.get("trial") == trial_id]
    except (OSError, csv.Error, UnicodeDecodeError):
        return None
    if not rows or rows[-1].get("status") not in (_STATUS.COMPLETED, _STATUS.FAILED):
        return None
    row = rows[-1]
    try:
        arch = arch_string.decode(row["arch"], **space.conventions)
        values = space.to_values(space.from_arch(arch))
        metrics = {k: float(v) for k, v in row.items() if k not in _NOT_METRICS and v}
    except (ValueError, KeyError, TypeError):
        return None
    template = hyperparameters.copy()
    template.values = values
    trial = Trial(
        template, trial_id=trial_id, status=row["status"], message=row.get("reason") or None
    )
    if "reward" in metrics:
        trial.metrics.register("reward", "max")
    for name, value in metrics.items():
        trial.metrics.update(name, value)
    if row["status"] == _STATUS.COMPLETED and "reward" in metrics:
        trial.score = metrics["reward"]
    return trial
