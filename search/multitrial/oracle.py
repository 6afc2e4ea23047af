"""`MnasOracle`: a keras-tuner oracle whose trials are sampled by the RL controller.

Owns the link between keras-tuner's trial life cycle and the controller: `populate_space`
samples a point of the `SearchSpace` (declared up front as HyperParameters, so the space never
grows), `end_trial` feeds the trial's `reward` metric back to the policy, and
`get_state`/`set_state` carry the controller (weights, Adam moments, baseline, RNG), the samples
of running trials and the PPO buffer inside keras-tuner's `oracle.json`.

Trial outcomes (keras-tuner 1.4.8 semantics):
- COMPLETED with a finite reward: the policy learns from it (REINFORCE: every `update_every`
  trials, default 1; PPO: buffered, one update of `ppo_epochs` passes per `update_every`
  trials, default 8, with the log-probs stored when each trial was sampled).
- INVALID (run_trial raised): keras-tuner re-queues it up to `max_retries_per_trial`; nothing
  is learned until it ends. COMPLETED without any reward, or with a NaN one, becomes INVALID /
  FAILED like keras-tuner does for NaN scores.
- FAILED: by default the policy does not learn from it; with `failed_reward=r` it learns reward
  r (a penalty, e.g. 0.0, that steers the policy away from architectures that do not build).
  After `max_consecutive_failed_trials` FAILED trials in a row (by end order) the oracle stops
  handing out new trials and says why in `failure_stop`. keras-tuner itself raises RuntimeError
  inside `end_trial` instead, before the trial file is written and with the oracle's lock held
  (a chief then hangs), so this oracle turns that check off and stops cleanly: every trial file
  says how its trial ended.

Resuming (the tuner calls `reload()` when `<directory>/<project>/tuner0.json` exists, i.e.
after its first trial ended): keras-tuner reloads every `trial_*/trial.json`, restores this
oracle's state from `oracle.json` (written after each `create_trial` and each `end_trial`)
and re-queues the trials that were running; `create_trial` then hands them out again with the
same values and trial id, before sampling anything new. Since the oracle state is saved right
after sampling, a search killed mid-trial resumes with exactly the controller it had, and a
sequential search killed and resumed ends in the same state as one never interrupted. This
class adds: atomic writes of `oracle.json` and `trial.json` (a kill mid-write leaves the
previous file, never a truncated one); one save per `end_trial` holding both the trial's end
and the policy update; on reload, a trial whose `trial.json` already says COMPLETED is
finished without re-running it, and a RUNNING trial missing from `oracle.json` (killed between
the two writes of `create_trial`) is re-queued. A re-run trial whose reward was already
reported keeps its first metrics (keras-tuner ignores the second report). Damaged files do not
stop a resume: each save first keeps the previous state as `oracle.json.bak`, and reload reads
through search/multitrial/project_files.py (a damaged oracle.json falls back to that backup; a
damaged
trial.json is rebuilt from the sampled values, or its trial marked FAILED with the file named).

Distributed search (chief + workers): with `worker_timeout_s`, a trial with no news (created,
updated, or a `get_trial` heartbeat the tuner sends after every proxy epoch) for that long is
presumed lost with its worker: the next worker asking for a trial gets it (same id and values)
and the dead worker's id is dropped so the chief can exit. While other workers' trials are still
running after max_trials, a worker asking for more is told IDLE (after a short pause) instead of
STOPPED, so that someone is left to take over such a trial. A late `end_trial` for a trial
that already ended is ignored.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from typing import Any

import keras_tuner
import numpy as np
from keras_tuner.engine.trial import Trial
from keras_tuner.engine.trial import TrialStatus as _STATUS

from search.controllers.controller import make_controller
from search.controllers.reward import RewardConfig
from search.multitrial import project_files
from search.spaces.base import SearchSpace
from tflite_bench import checks, files

STATE_FORMAT = "mnasnet-tf/mnas-oracle-v1"
DEFAULT_UPDATE_EVERY = {"reinforce": 1, "ppo": 8, "random": 1}
IDLE_PAUSE_S = 1.0
"""How long a worker told IDLE waits before asking again (keras-tuner retries at once)."""

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FailureStop:
    """Why the oracle stopped handing out trials: `count` trials failed in a row (`limit` was the
    most allowed), the last of them `trial_id`, which failed because of `reason` (the last line
    of its message)."""

    count: int
    limit: int
    trial_id: str
    reason: str

    def describe(self) -> str:
        """'3 trials failed in a row (the last, trial 7: NaN loss during proxy training ...)'."""
        return (
            f"{self.count} trials failed in a row (the last, trial {self.trial_id}: {self.reason})"
        )


def _is_local(path: str) -> bool:
    return "://" not in path


class MnasOracle(keras_tuner.Oracle):
    """Samples trials from an RL controller over a `SearchSpace`; learns from their reward.

    Args:
      space: the search space; its decisions are declared as HyperParameters up front.
      algorithm: 'reinforce', 'ppo' or 'random' (uniform sampling, for comparison).
      policy: 'independent' (default; TuNAS) or 'lstm' (NASNet / MnasNet controller).
      reward: the reward the tuner computes (kept here so the tuner and reports can read it,
        and stored in the state to warn when a resumed search changes it).
      max_trials: number of trials.
      seed: seeds the controller (None: keras-tuner's random seed).
      objective: must be a single maximised objective; `reward` by default.
      update_every: trials per policy update (default 1 for REINFORCE, 8 for PPO).
      failed_reward: None (failed trials teach nothing) or the reward a failed trial gets.
      controller_kwargs: passed to `search.controllers.controller.Controller` (learning_rate,
        entropy_coef, baseline_decay, clip_epsilon, ppo_epochs, …).
      worker_timeout_s: distributed search: seconds without news after which a running trial
        is handed to another worker (None: never).
      trials_per_run: stop this process after sampling this many new trials (None: run to
        `max_trials`); the project resumes from there, e.g. to interleave several searches.
      max_retries_per_trial: as in keras_tuner.Oracle.
      max_consecutive_failed_trials: stop handing out trials after this many FAILED trials in a
        row (0 or None: never); `failure_stop` then says why. Unlike keras_tuner.Oracle, which
        raises, the search ends normally with every trial file written.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        algorithm: str = "reinforce",
        policy: str = "independent",
        reward: RewardConfig | None = None,
        max_trials: int = 100,
        seed: int | None = None,
        objective: keras_tuner.Objective | None = None,
        update_every: int | None = None,
        failed_reward: float | None = None,
        controller_kwargs: dict[str, Any] | None = None,
        worker_timeout_s: float | None = None,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int | None = 10,
        trials_per_run: int | None = None,
    ) -> None:
        objective = objective or keras_tuner.Objective("reward", "max")
        if not isinstance(objective, keras_tuner.Objective) or objective.direction != "max":
            raise ValueError(
                f"MnasOracle needs one objective to maximise (the reward); got {objective!r}"
            )
        if not isinstance(max_trials, int) or max_trials < 1:
            raise ValueError(f"max_trials must be a positive integer; got {max_trials!r}")
        if failed_reward is not None and not np.isfinite(failed_reward):
            raise ValueError(f"failed_reward must be None or finite; got {failed_reward!r}")
        if trials_per_run is not None and (
            not isinstance(trials_per_run, int) or trials_per_run < 1
        ):
            raise ValueError(
                f"trials_per_run must be a positive integer or None; got {trials_per_run!r}"
            )
        if worker_timeout_s is not None and not worker_timeout_s > 0:
            raise ValueError(f"worker_timeout_s must be positive or None; got {worker_timeout_s!r}")
        limit = max_consecutive_failed_trials
        if limit is not None and not (checks.is_int(limit) and limit >= 0):
            raise ValueError(
                "max_consecutive_failed_trials must be an integer >= 0 (0: never stop) or None; "
                f"got {limit!r}"
            )
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=space.to_hyperparameters(),
            allow_new_entries=False,
            tune_new_entries=False,
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=None,  # keras-tuner's raising check off; see end_trial
        )
        self.consecutive_failure_limit = limit or None
        self.failure_stop: FailureStop | None = None
        self.space = space
        self.algorithm = algorithm
        self.reward_config = reward
        self.failed_reward = failed_reward
        self.update_every = int(update_every or DEFAULT_UPDATE_EVERY.get(algorithm, 1))
        if self.update_every < 1:
            raise ValueError(f"update_every must be at least 1; got {update_every!r}")
        self.controller = make_controller(
            space.choice_sizes(),
            algorithm=algorithm,
            policy=policy,
            seed=self.seed if seed is None else seed,
            **(controller_kwargs or {}),
        )
        self.pending: dict[str, dict[str, Any]] = {}  # trial_id -> sampled choices, log-prob
        self.buffer: list[dict[str, Any]] = []  # ended trials not yet learned from
        self.last_update: dict[str, float] = {}
        self.entropy_history: dict[str, float] = {}  # trial_id -> policy entropy when sampled
        self.baseline_history: dict[str, float] = {}  # trial_id -> reward baseline when sampled
        self.worker_timeout_s = worker_timeout_s
        self.clock = time.monotonic
        self._last_news: dict[str, float] = {}  # trial_id -> clock() of its last create/update
        self._defer_save = False
        self._saved_text: str | None = None  # the state last written: the next save's backup
        self.trials_per_run = trials_per_run
        self._sampled_this_run = 0

    # ---- keras-tuner hooks ----

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        """Samples the next architecture from the controller (or STOPPED at max_trials, or
        after `trials_per_run` new trials in this process)."""
        if self.max_trials and len(self.trials) >= self.max_trials:
            return {"status": _STATUS.STOPPED, "values": None}
        if self.trials_per_run is not None and self._sampled_this_run >= self.trials_per_run:
            return {"status": _STATUS.STOPPED, "values": None}
        if self.failure_stop is not None:
            return {"status": _STATUS.STOPPED, "values": None}
        self._sampled_this_run += 1
        self.entropy_history[trial_id] = self.controller.entropy()
        baseline = getattr(self.controller, "baseline", None)  # None: random, or no reward yet
        if baseline is not None:
            self.baseline_history[trial_id] = baseline
        choices, log_prob = self.controller.sample()
        self.pending[trial_id] = {"choices": choices, "log_prob": log_prob}
        return {"status": _STATUS.RUNNING, "values": self.space.to_values(choices)}

    def create_trial(self, tuner_id: str) -> Trial:
        """keras-tuner's create_trial, plus the worker time-out (see the module docstring)."""
        trial = self._create_trial(tuner_id)
        if trial.status == _STATUS.IDLE:
            time.sleep(IDLE_PAUSE_S)  # outside the oracle's lock
        return trial

    @keras_tuner.synchronized
    def _create_trial(self, tuner_id: str) -> Trial:
        if self.worker_timeout_s is not None:
            self._requeue_lost_trials(tuner_id)
            others = [t for tid, t in self.ongoing_trials.items() if tid != tuner_id]
            if (
                others
                and tuner_id not in self.ongoing_trials
                and not self._retry_queue
                and (
                    self.failure_stop is not None
                    or (self.max_trials and len(self.trials) >= self.max_trials)
                )
            ):
                return Trial(self.get_space(), status=_STATUS.IDLE)
        trial = super().create_trial(tuner_id)
        if trial.status == _STATUS.RUNNING:
            self._last_news[trial.trial_id] = self.clock()
        return trial

    def _requeue_lost_trials(self, tuner_id: str) -> None:
        """Hands trials of other tuners with no news for worker_timeout_s back to the queue."""
        now = self.clock()
        for other, trial in list(self.ongoing_trials.items()):
            last = self._last_news.setdefault(trial.trial_id, now)
            if other == tuner_id or now - last < self.worker_timeout_s:
                continue
            logger.warning(
                "trial %s: no news from %s for %.0f s; handing it to another worker",
                trial.trial_id,
                other,
                now - last,
            )
            del self.ongoing_trials[other]
            self.tuner_ids.discard(other)
            self._retry_queue.append(trial.trial_id)  # keras-tuner 1.4.8's private queue

    @keras_tuner.synchronized
    def update_trial(self, trial_id: str, metrics: dict[str, float], step: int = 0) -> Trial:
        """keras-tuner's update_trial; also counts as news from the trial's worker."""
        self._last_news[trial_id] = self.clock()
        return super().update_trial(trial_id, metrics, step=step)

    @keras_tuner.synchronized
    def get_trial(self, trial_id: str) -> Trial:
        """keras-tuner's get_trial; for a running trial it also counts as news (the tuner calls
        it after every proxy epoch as a heartbeat, since update_trial demands the reward)."""
        if trial_id in self._last_news:
            self._last_news[trial_id] = self.clock()
        return super().get_trial(trial_id)

    @keras_tuner.synchronized
    def end_trial(self, trial: Trial) -> None:
        """Ends the trial as keras-tuner does (scores, retries), then updates the policy; one
        save holds both."""
        if trial.trial_id in self.end_order:
            logger.warning("trial %s already ended; ignoring a second end_trial", trial.trial_id)
            return
        self._last_news.pop(trial.trial_id, None)
        stored = self.trials[trial.trial_id]
        if trial.status == _STATUS.COMPLETED and not stored.metrics.exists(self.objective.name):
            trial.status = _STATUS.INVALID
            trial.message = (trial.message or "") + "no reward was reported for this trial"
        self._defer_save = True
        try:
            super().end_trial(trial)
        finally:
            self._defer_save = False
        self._learn(self.trials[trial.trial_id])
        self._check_failure_streak()
        self.save()

    def _learn(self, trial: Trial) -> None:
        """Buffers the ended trial's reward and updates the policy every `update_every`."""
        if trial.status not in (_STATUS.COMPLETED, _STATUS.FAILED):
            return  # INVALID: queued for a retry; learn when it ends
        sample = self.pending.pop(trial.trial_id, None)
        if trial.status == _STATUS.COMPLETED and np.isfinite(trial.score):
            reward = float(trial.score)
        elif self.failed_reward is not None:
            reward = float(self.failed_reward)
        else:
            logger.info("trial %s failed or has no finite reward; not learned from", trial.trial_id)
            return
        if sample is None:  # sampled before a crash that lost it: recompute from the values
            choices = self.space.from_values(trial.hyperparameters.values)
            sample = {"choices": choices, "log_prob": self.controller.log_prob(choices)}
        self.buffer.append({"trial_id": trial.trial_id, "reward": reward, **sample})
        if len(self.buffer) >= self.update_every:
            self.last_update = self.controller.update(
                [item["choices"] for item in self.buffer],
                [item["reward"] for item in self.buffer],
                old_log_probs=[item["log_prob"] for item in self.buffer],
            )
            self.buffer = []

    def _check_failure_streak(self) -> None:
        """Sets `failure_stop` when the last `consecutive_failure_limit` ended trials failed (a
        resumed search counts the failures it ended with: one more stops it again)."""
        if self.consecutive_failure_limit is None or self.failure_stop is not None:
            return
        streak = []
        for trial_id in reversed(self.end_order):
            if self.trials[trial_id].status != _STATUS.FAILED:
                break
            streak.append(trial_id)
        if len(streak) < self.consecutive_failure_limit:
            return
        last = self.trials[streak[0]]
        self.failure_stop = FailureStop(
            count=len(streak),
            limit=self.consecutive_failure_limit,
            trial_id=last.trial_id,
            reason=failure_reason(last.message),
        )
        logger.error("stopping the search: %s", self.failure_stop.describe())

    def get_state(self) -> dict[str, Any]:
        """keras-tuner's oracle state plus the controller, pending samples and buffer."""
        state = super().get_state()
        state["mnas"] = {
            "format": STATE_FORMAT,
            "space": self.space.name,
            "choice_sizes": self.space.choice_sizes(),
            "algorithm": self.algorithm,
            "reward": None if self.reward_config is None else self.reward_config.to_dict(),
            "update_every": self.update_every,
            "controller": self.controller.get_state(),
            "pending": self.pending,
            "buffer": self.buffer,
            "last_update": self.last_update,
        }
        state["entropy_history"] = self.entropy_history
        state["baseline_history"] = self.baseline_history
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores `get_state`'s output; ValueError if it was saved for another space or
        algorithm (a resumed search must use the same ones)."""
        mnas = state.get("mnas")
        if not isinstance(mnas, dict) or mnas.get("format") != STATE_FORMAT:
            raise ValueError("oracle state has no MnasOracle part (saved by another oracle?)")
        for key, mine in (
            ("space", self.space.name),
            ("choice_sizes", self.space.choice_sizes()),
            ("algorithm", self.algorithm),
        ):
            if mnas[key] != mine:
                raise ValueError(
                    f"the saved search used {key}={mnas[key]!r}; this oracle has {mine!r} "
                    "(use another project name or overwrite=True to start afresh)"
                )
        mine = None if self.reward_config is None else self.reward_config.to_dict()
        if mnas["reward"] != mine:
            logger.warning("resuming with reward %s; the search used %s", mine, mnas["reward"])
        super().set_state(state)
        self.controller.set_state(mnas["controller"])
        self.pending = dict(mnas["pending"])
        self.buffer = list(mnas["buffer"])
        self.last_update = dict(mnas["last_update"])
        self.entropy_history = dict(state.get("entropy_history") or {})
        self.baseline_history = dict(state.get("baseline_history") or {})

    def save(self) -> None:
        """Writes `oracle.json` atomically (skipped inside `end_trial` until the policy update
        is done, so one write holds both)."""
        if self._defer_save:
            return
        # keras-tuner has no public name for the file; 1.4.8 writes `<project_dir>/oracle.json`.
        path = self._get_oracle_fname()
        if _is_local(path):  # the previous state first: what a damaged oracle.json falls back to
            text = json.dumps(self.get_state()) + "\n"
            if self._saved_text is not None:
                files.atomic_write(project_files.backup_path(path), self._saved_text)
            files.atomic_write(path, text)
            self._saved_text = text
        else:  # gs:// and other remote paths: keras-tuner's own writer
            super().save()

    def _save_trial(self, trial: Trial) -> None:
        # Overrides keras-tuner 1.4.8's private writer of `trial_<id>/trial.json` to make it
        # atomic; there is no public hook for it.
        path = os.path.join(self._get_trial_dir(trial.trial_id), "trial.json")
        if _is_local(path):
            files.atomic_write_json(path, trial.get_state(), indent=None)
        else:
            super()._save_trial(trial)

    def reload(self) -> None:
        """keras-tuner's reload, from damaged files too (search/multitrial/project_files.py), then
        the two
        crash windows it leaves open (see module doc)."""
        path = self._get_oracle_fname()
        if _is_local(path):  # keras-tuner 1.4.8's reload, reading through project_files
            state = project_files.load_oracle_state(path)
            self.trials.update(
                project_files.load_trials(
                    self._project_dir,
                    state,
                    space=self.space,
                    hyperparameters=self.hyperparameters,
                )
            )
            self.set_state(state)
            self._retry_queue.extend(t.trial_id for t in self.ongoing_trials.values())
            self.ongoing_trials = {}
            self._saved_text = json.dumps(state) + "\n"
        else:
            super().reload()
        queue = self._retry_queue  # keras-tuner 1.4.8's private queue of trials to re-run
        for trial_id, trial in sorted(self.trials.items()):
            if trial.status == _STATUS.RUNNING and trial_id not in queue:
                logger.warning("re-queueing trial %s, lost while it was being created", trial_id)
                queue.append(trial_id)
        for trial_id in [t for t in queue if self.trials[t].status == _STATUS.COMPLETED]:
            logger.info("finishing trial %s, which completed before the process died", trial_id)
            queue.remove(trial_id)
            verbose, self.verbose = self.verbose, 0  # its start time was never saved
            try:
                self.end_trial(self.trials[trial_id])
            finally:
                self.verbose = verbose

    # ---- helpers for the tuner and reports ----

    def arch_of(self, trial: Trial):  # -> specs.ArchSpec
        """The architecture a trial runs (named 'trial-<id>')."""
        return self.space.from_hyperparameters(
            trial.hyperparameters.values, name=f"trial-{trial.trial_id}"
        )


def failure_reason(message: str | None) -> str:
    """The last line of a trial's message (keras-tuner stores the whole traceback), without the
    `FailedTrialError:` prefix the tuner's own failures carry."""
    lines = [line.strip() for line in (message or "").strip().splitlines() if line.strip()]
    if not lines:
        return "no reason recorded"
    head, _, rest = lines[-1].partition(": ")
    return rest if rest and head.endswith("FailedTrialError") else lines[-1]
