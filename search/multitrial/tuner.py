"""One search trial: build → proxy-train → measure latency → reward, as a keras-tuner tuner.

Owns `MnasTuner` (a `keras_tuner.engine.base_tuner.BaseTuner`: keras-tuner provides the trial loop,
persistence, retries and the chief/worker distribution) and the trial records the reports are
built from (search/multitrial/records.py reads them from the trial files and writes the report
files).
A trial hands its architecture to the `LatencyMeter` (search/latency/meter.py) before training,
so the deployment model converts while the proxy trains.
Imports the builder, data/training and tflite_bench; the controller and reward stay TF-free.
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras_tuner
from keras_tuner.engine import base_tuner

from mnasnet_tf import arch_string, stats
from search.controllers import reward as reward_lib
from search.controllers.reward import RewardConfig
from search.latency.meter import LatencyMeter
from search.multitrial import records as records_lib
from search.multitrial.config import SearchConfig
from search.multitrial.hypermodel import ArchHyperModel
from search.proxy.task import FixedData, ProxyData, ProxyTask
from search.proxy.worker import (
    DEFAULT_RECYCLE_EVERY,
    InProcessTrainer,
    ProxyWorker,
    ProxyWorkerError,
)
from search.results import report
from search.results.tensorboard_log import TensorBoardLog
from search.spaces.base import SearchSpace
from tflite_bench import checks, files

log = logging.getLogger("mnasnet_tf.search")

_REUSED_METRICS = (
    "accuracy",
    "accuracy_std",
    "latency_ms",
    "latency_min_ms",
    "latency_p90_ms",
    "latency_std_ms",
    "latency_measured",
    "latency_predicted_ms",
    "latency_error_pct",
    "params",
    "macs",
)


def _check_objective(objective: Any) -> None:
    """The search maximises the reward: None, 'reward' or Objective('reward', 'max')."""
    name = getattr(objective, "name", objective)
    direction = getattr(objective, "direction", "max")
    if objective is not None and (name != "reward" or direction != "max"):
        raise ValueError(
            "MnasTuner maximises the MnasNet reward ACC·(LAT/T)^w: objective must be None or "
            f"'reward'; got {objective!r} (choose the reward with reward=soft(...)/hard(...))"
        )


def _check_oracle_args(given: dict[str, Any]) -> None:
    """The arguments of the oracle a tuner makes, checked before anything is measured."""
    from search.controllers import controller

    for name, choices in (("algorithm", controller.ALGORITHMS), ("policy", controller.POLICIES)):
        if name in given:
            checks.require_one_of(name, given[name], choices, prefix="")
    for name, least in (
        ("max_trials", 1),
        ("max_retries_per_trial", 0),
        ("max_consecutive_failed_trials", 0),
        ("seed", None),
    ):
        if name in given:
            checks.require_int(name, given[name], minimum=least, prefix="")


def default_target_ms(meter: LatencyMeter) -> float:
    """The default latency target T: MobileNetV2's latency on `meter`."""
    from mnasnet_tf import zoo

    return meter.figure(meter.measure(zoo.get_arch("mobilenet-v2"), name="mobilenet-v2"))


class MnasTuner(base_tuner.BaseTuner):
    """keras-tuner tuner whose trial trains a sampled architecture on the proxy task, measures
    its latency and reports the MnasNet reward. Failures (NaN loss, out of memory, conversion
    errors) end the trial as FAILED with the reason; the search goes on."""

    def __init__(
        self,
        oracle: keras_tuner.Oracle | None = None,
        *,
        space: SearchSpace | str = "mnasnet",
        objective: Any = None,
        max_trials: int | None = None,
        seed: int | None = None,
        algorithm: str | None = None,
        policy: str | None = None,
        max_retries_per_trial: int | None = None,
        max_consecutive_failed_trials: int | None = None,
        reward: RewardConfig | None = None,
        proxy: ProxyTask | None = None,
        meter: LatencyMeter | None = None,
        directory: str = "runs",
        project_name: str = "search",
        overwrite: bool = False,
        write_reports: bool = True,
        search_seed: int | None = None,
        reuse_results: bool = True,
        recycle_every: int = DEFAULT_RECYCLE_EVERY,
        references: Sequence[report.ReferencePoint] = (),
        on_trial: Callable[[dict[str, Any], list[dict[str, Any]]], None] | None = None,
        tensorboard: bool = False,
        **kwargs: Any,
    ) -> None:
        """Built like keras-tuner's own tuners: `MnasTuner(space="mnasnet", max_trials=20,
        directory="runs", project_name="search")` makes its oracle (REINFORCE on independent
        categoricals, `search.multitrial.oracle.MnasOracle`) and its collaborators with
        `mnasnet-search`'s defaults: the proxy task (32², 3 epochs, 10 classes), a local LiteRT
        latency meter at 224² caching in the project, and the soft reward with w = -0.07 and
        T = MobileNetV2's latency on that meter (measured once, here).

        Args:
          oracle: a ready oracle (then the oracle's own arguments below are not given here).
          space: a registered space name or a `SearchSpace`.
          objective: None or 'reward' (maximised): the search maximises the MnasNet reward.
          max_trials, seed: of the oracle this tuner makes (defaults 20 and 0).
          algorithm, policy: its controller (one of `search.controllers.controller.ALGORITHMS`
            and of `POLICIES`; defaults 'reinforce' and 'independent', as mnasnet-search's).
          max_retries_per_trial, max_consecutive_failed_trials: as in keras-tuner's tuners
            (defaults 0 and 10; 0 consecutive failures: never stop).
          reward, proxy, meter: the reward, the proxy task, the latency meter.
          search_seed: seeds every proxy run with the architecture (default: `seed`, or 0).
          references: reference points for the reports (zoo models on the same proxy).
          on_trial: `on_trial(record, records)` after each trial this process ends.
          tensorboard: write TensorBoard logs to <project>/tensorboard as trials end.
          **kwargs: keras-tuner's BaseTuner arguments (e.g. `logger`, `tuner_id`).

        Raises:
          ValueError: naming a bad objective, space, or an oracle argument given with
            `oracle`.
        """
        if not isinstance(recycle_every, int) or recycle_every < 0:
            raise ValueError(f"recycle_every must be an integer ≥ 0; got {recycle_every!r}")
        _check_objective(objective)
        if isinstance(space, str):
            from search.spaces.registry import get_space

            space = get_space(space)
        oracle_args = {
            "max_trials": max_trials,
            "seed": seed,
            "algorithm": algorithm,
            "policy": policy,
            "max_retries_per_trial": max_retries_per_trial,
            "max_consecutive_failed_trials": max_consecutive_failed_trials,
        }
        given = {name: value for name, value in oracle_args.items() if value is not None}
        if oracle is not None and given:
            raise ValueError(
                "give either a ready oracle= or the arguments of the oracle this tuner makes, "
                f"not both; got oracle= with {', '.join(f'{k}={v!r}' for k, v in given.items())}"
            )
        _check_oracle_args(given)  # before the default reward measures MobileNetV2
        defaults = SearchConfig()  # mnasnet-search's defaults
        project_dir = os.path.join(directory, project_name)
        if proxy is None:
            proxy = defaults.proxy_task(classes=10)
        if meter is None:
            os.makedirs(project_dir, exist_ok=True)  # the meter's cache lives in the project
            meter = defaults.latency_meter(
                proxy.classes, cache_path=os.path.join(project_dir, "latency_cache.json")
            )
        if reward is None:
            reward = reward_lib.soft(target_ms=default_target_ms(meter))
        if oracle is None:
            from search.multitrial.oracle import MnasOracle

            oracle = MnasOracle(
                space=space,
                reward=reward,
                max_trials=defaults.max_trials if max_trials is None else max_trials,
                seed=defaults.seed if seed is None else seed,
                algorithm=defaults.algorithm if algorithm is None else algorithm,
                policy=defaults.policy if policy is None else policy,
                worker_timeout_s=defaults.worker_timeout_s,
                max_retries_per_trial=max_retries_per_trial or 0,
                max_consecutive_failed_trials=(
                    defaults.max_consecutive_failed_trials
                    if max_consecutive_failed_trials is None
                    else max_consecutive_failed_trials
                ),
            )
        if search_seed is None:
            search_seed = 0 if seed is None else seed
        self.space = space
        self.reuse_results = reuse_results
        self.recycle_every = recycle_every
        self._in_process = InProcessTrainer()
        self._worker: ProxyWorker | None = None
        self.search_seed = search_seed
        self.reward = reward
        self.proxy = proxy
        self.meter = meter
        self.write_reports = write_reports
        self.references: list[report.ReferencePoint] = list(references)
        self._best_reward = -math.inf
        self._started = time.time()
        self._trials_this_run = 0
        self._record_cache: dict[str, Any] = {}
        # A worker of a distributed search (keras-tuner's variables) runs trials for a chief,
        # which owns the oracle and decides which trained model is kept (see keep_best_model).
        self.is_worker = "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in os.environ.get(
            "KERASTUNER_TUNER_ID", ""
        )
        self._saved_models: list[str] = []  # the model.keras files this process saved
        super().__init__(
            oracle,
            hypermodel=None,
            directory=directory,
            project_name=project_name,
            overwrite=overwrite,
            **kwargs,
        )
        # Set after the base class: given to it, keras-tuner would build a model at start-up.
        self.hypermodel = ArchHyperModel(
            space, image_size=proxy.image_size, classes=proxy.classes, name=project_name
        )
        self.data: ProxyData | FixedData | None = None
        self.on_trial = on_trial
        # TensorBoard logs, written as each trial ends (on a single process or a chief; a
        # chief's trials end in its workers, so run_search writes them after the search). After
        # the base class: `overwrite` empties the project.
        self.tensorboard: TensorBoardLog | None = (
            TensorBoardLog(os.path.join(self.project_dir, "tensorboard"), space)
            if tensorboard
            else None
        )
        # A resumed search keeps the best trained model so far: only a better trial replaces it.
        best = report.best_record(self.records())
        if best is not None:
            self._best_reward = best["reward"]

    # ---- the trial -----------------------------------------------------------------------

    def run_trial(
        self, trial, data=None, validation_data=None, verbose: int = 1
    ) -> dict[str, float]:
        """Builds, proxy-trains (seeded by the search seed and the architecture, `proxy.repeats`
        times) and measures the trial's architecture; returns its metrics. `data` is a
        `ProxyData`, a ready-made training pipeline with `validation_data`, or None (the
        bundled digits at the proxy's resolution)."""
        del verbose  # keras-tuner's display verbosity; proxy training has its own
        arch = self.space.from_hyperparameters(trial.hyperparameters.values)
        if data is None:
            data = self.data if self.data is not None else self.default_data()
        if not isinstance(data, (ProxyData, FixedData)):
            data = FixedData(data, validation_data)
        self.data = data  # for get_best_models, which may retrain
        if self.reuse_results:
            earlier = self._earlier_result(arch, trial.trial_id)
            if earlier is not None:
                return earlier
        start = time.perf_counter()
        oracle = self.oracle
        trainer = self._trainer(data)

        # The deployment model converts in the meter's process while the proxy trains.
        try:
            pending = self.meter.submit(arch, name=f"trial_{trial.trial_id}")
        except ValueError as error:  # a prediction the table cannot make
            raise keras_tuner.errors.FailedTrialError(f"latency measurement: {error}") from error
        try:
            result = trainer.run(
                arch,
                task=self.proxy,
                data=data,
                search_seed=self.search_seed,
                # Tells the (possibly remote) oracle after each epoch that this trial is alive.
                on_epoch=lambda epoch: oracle.get_trial(trial.trial_id),
            )
        except Exception as error:  # noqa: BLE001 - any training failure ends the trial
            pending.cancel()
            kind = error.kind if isinstance(error, ProxyWorkerError) else type(error).__name__
            if kind == "ResourceExhaustedError":
                raise keras_tuner.errors.FailedTrialError(f"out of memory: {error}") from error
            raise
        if result.nan:
            pending.cancel()
            raise keras_tuner.errors.FailedTrialError(
                f"NaN loss during proxy training (epoch {result.epochs_completed + 1})"
            )
        train_seconds = time.perf_counter() - start
        measure = None
        if pending.predicted_ms is not None:  # hybrid: measure what would enter the front
            measure = self._would_enter_front(result.accuracy, pending.predicted_ms)
        try:
            latency = pending.result(measure=measure)
        except ValueError as error:
            raise keras_tuner.errors.FailedTrialError(f"latency measurement: {error}") from error
        latency_ms = self.meter.figure(latency)
        value = self.reward(result.accuracy, latency_ms)
        arch_stats = stats.arch_stats(
            arch, image_size=self.meter.image_size, classes=self.proxy.classes
        )
        if value.value > self._best_reward:
            self._best_reward = value.value
            self._save_best_model(trial.trial_id, trainer)
        metrics = {
            **value.as_metrics(),  # reward, accuracy, latency_ms (the median), latency_term
            "latency_min_ms": latency.min_ms,
            "latency_p90_ms": latency_ms if latency.p90_ms is None else latency.p90_ms,
            "latency_std_ms": latency.std_ms,
            "latency_measured": float(latency.metadata.get("source") != "predicted"),
            "params": float(arch_stats.params),
            "macs": float(arch_stats.macs),
            "train_seconds": train_seconds,
            "convert_seconds": float(latency.metadata.get("convert_seconds", 0.0)),
            "measure_seconds": float(latency.metadata.get("measure_seconds", 0.0)),
            "seconds": time.perf_counter() - start,
        }
        for name in ("predicted_ms", "error_pct"):
            if latency.metadata.get(name) is not None:
                metrics[f"latency_{name}"] = float(latency.metadata[name])
        records_lib.save_provenance(
            self.get_trial_dir(trial.trial_id),
            {**self.meter.provenance(), "latency_runs": latency.n or None},
        )
        if self.proxy.repeats > 1:  # one run has no spread to report
            metrics["accuracy_std"] = result.accuracy_std
        return metrics

    def _would_enter_front(self, accuracy: float, latency_ms: float) -> bool:
        """Whether a model of this accuracy and latency would be on the accuracy-latency front
        of the completed trials (no trial at least as accurate and at least as fast)."""
        for record in self.records():
            if record.get("status") != "COMPLETED" or record.get("accuracy") is None:
                continue
            if record["accuracy"] >= accuracy and record.get("latency_ms", 1e30) <= latency_ms:
                return False
        return True

    def _earlier_result(self, arch, trial_id: str) -> dict[str, float] | None:
        """The metrics of an earlier completed trial of the same architecture (the reward
        cache): proxy runs are seeded by the search seed and the architecture, so training it
        again would give the same result. The reward is recomputed with this search's reward,
        and `cached_from` names the trial that trained it."""
        encoded = arch_string.encode(arch)
        for record in self.records():
            if (
                record["trial"] == trial_id
                or record["status"] != "COMPLETED"
                or record.get("arch") != encoded
                or record.get("accuracy") is None
                or record.get("latency_ms") is None
            ):
                continue
            source = record.get("cached_from") or record["trial"]
            metrics = {
                key: float(record[key]) for key in _REUSED_METRICS if record.get(key) is not None
            }
            metrics.update(
                reward=self.reward(record["accuracy"], record["latency_ms"]).value,
                cached_from=float(int(source)),
                train_seconds=0.0,
                convert_seconds=0.0,
                measure_seconds=0.0,
                seconds=0.0,
            )
            log.info("trial %s: architecture already trained in trial %s; reused", trial_id, source)
            return metrics
        return None

    def _trainer(self, data) -> InProcessTrainer | ProxyWorker:
        """Where proxy training runs: a recycled child process for `ProxyData` (memory stays
        flat over long searches), this process for ready-made datasets or recycle_every=0."""
        if self.recycle_every == 0 or not isinstance(data, ProxyData):
            return self._in_process
        if self._worker is None:
            self._worker = ProxyWorker(data.config(), recycle_every=self.recycle_every)
        return self._worker

    def on_search_end(self) -> None:
        """Stops the proxy training process; closes the TensorBoard log."""
        super().on_search_end()
        self.close_trainer()
        if self.tensorboard is not None:
            self.tensorboard.close()

    def close_trainer(self) -> None:
        """Stops the proxy training process, if any (a later trial starts a new one)."""
        if self._worker is not None:
            self._worker.close()
        self._in_process.close()

    def search(
        self,
        data: Any = None,
        validation_data: Any = None,
        *,
        epochs: int | None = None,
        verbose: int = 1,
        **kwargs: Any,
    ) -> None:
        """keras-tuner's search (in a chief: serving the workers until they are done); then, in a
        single process or the chief, only the best trial's trained model is kept.

        Args:
          data: a `search.proxy.task.ProxyData`, a training pipeline (with `validation_data`),
            or None: the bundled digits at the proxy's resolution.
          validation_data: the held-out pipeline the reward's accuracy is measured on, with a
            ready-made `data` pipeline.
          epochs: proxy epochs per trial (default: the proxy task's); it becomes the tuner's
            `proxy.epochs`, so a best model retrained later trains as long as its trial did.
          verbose: keras-tuner's display (0 silent, 1 a summary per trial).

        Raises:
          ValueError: `callbacks=` (a trial trains in a recycled child process, where Keras
            callbacks cannot be pickled, and the in-process trainer of recycle_every=0 takes
            none; `on_trial=` and `tensorboard=True` report each trial instead), or any other
            keyword of `Model.fit`, named.
        """
        if "callbacks" in kwargs:
            raise ValueError(
                "MnasTuner.search does not take callbacks: each trial trains in a recycled child "
                "process (recycle_every > 0), where Keras callbacks cannot be pickled, and the "
                "in-process trainer (recycle_every=0) takes none either. For per-trial progress "
                "pass on_trial=callable(record, records) or tensorboard=True to MnasTuner."
            )
        if kwargs:
            raise ValueError(
                "MnasTuner.search takes data, validation_data, epochs and verbose; got "
                f"{', '.join(sorted(kwargs))} (the proxy task sets batch size, steps and "
                "learning rate: pass proxy=ProxyTask(...) to MnasTuner)"
            )
        if epochs is not None:
            if not checks.is_positive_int(epochs):
                raise ValueError(f"epochs must be a positive integer; got {epochs!r}")
            self.proxy = dataclasses.replace(self.proxy, epochs=epochs)
        args = () if data is None and validation_data is None else (data, validation_data)
        super().search(*args, verbose=verbose)
        if not self.is_worker:
            self.keep_best_model()

    def default_data(self) -> ProxyData:
        """The bundled digits at the proxy's resolution, split by the search seed."""
        return ProxyData("digits", image_size=self.proxy.image_size, split_seed=self.search_seed)

    def model_path(self, trial_id: str) -> str:
        """Where trial `trial_id`'s trained model is kept (`trial_<id>/model.keras`), if it is."""
        return os.path.join(self.get_trial_dir(trial_id), "model.keras")

    def keep_best_model(self) -> str | None:
        """Deletes every trial's model.keras in the project but the best trial's (for a trial
        that reused an earlier result, the model of the trial that trained it); returns the kept
        path, or None when no trial completed or its model is not on this machine (the export
        then retrains it)."""
        best = report.best_record(self.records())
        keep = None if best is None else self.model_path(best.get("cached_from") or best["trial"])
        for path in glob.glob(os.path.join(self.project_dir, "trial_*", "model.keras")):
            if keep is None or os.path.normpath(path) != os.path.normpath(keep):
                _remove(path)
        return keep if keep is not None and os.path.exists(keep) else None

    def _save_best_model(self, trial_id: str, trainer) -> None:
        """Saves the trial's trained model: it is the best this tuner has seen. A single process
        then deletes every other trial's model; a worker only the ones it saved itself (a file
        of another worker may hold the best model of all: the chief decides at the end)."""
        path = self.model_path(trial_id)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        trainer.save_model(path)
        log.info("trial %s: the best model of this tuner so far; kept in %s", trial_id, path)
        if self.is_worker:
            stale = self._saved_models
        else:
            stale = glob.glob(os.path.join(self.project_dir, "trial_*", "model.keras"))
        for old in stale:
            if old != path:
                _remove(old)
        self._saved_models = [path]

    # ---- progress and reports ---------------------------------------------------------------

    def on_trial_begin(self, trial) -> None:
        """Logs which trial starts and its architecture."""
        super().on_trial_begin(trial)
        try:
            arch = arch_string.encode(self.space.from_hyperparameters(trial.hyperparameters.values))
        except (ValueError, KeyError):
            arch = "?"
        log.info("trial %s/%s starts: %s", trial.trial_id, self.oracle.max_trials, arch)

    def on_trial_end(self, trial) -> None:
        """Ends the trial in the oracle, logs progress and rewrites the reports."""
        super().on_trial_end(trial)
        self._trials_this_run += 1
        records = self.records()
        done = len([r for r in records if r["status"] not in ("RUNNING", "IDLE")])
        total = self.oracle.max_trials or done
        best = report.best_record(records)
        elapsed = time.time() - self._started
        left = max(total - done, 0) * elapsed / max(self._trials_this_run, 1)
        record = next((r for r in records if r["trial"] == trial.trial_id), {})
        if record.get("status") == "COMPLETED":
            summary = (
                f"acc {record['accuracy']:.3f}  latency {record['latency_ms']:.2f} ms  "
                f"reward {record['reward']:.4f}"
            )
        else:
            summary = f"{record.get('status', trial.status)}: {_last_line(trial.message)}"
        best_text = f"{best['reward']:.4f} (trial {best['trial']})" if best else "-"
        log.info(
            "trial %d/%d  %s  |  best reward %s  |  ~%s left",
            done,
            total,
            summary,
            best_text,
            _format_duration(left),
        )
        if self.write_reports:
            self.write_all_reports(records)
        if self.tensorboard is not None:
            self.tensorboard.write(records)
        if self.on_trial is not None and record:
            self.on_trial(record, records)

    def records(self) -> list[dict[str, Any]]:
        """One plain record per trial, rebuilt from the trial files on disk (works for a resumed
        search and for workers sharing the directory); only changed files are parsed again."""
        entropies = getattr(self.oracle, "entropy_history", None)  # a local MnasOracle's
        baselines = getattr(self.oracle, "baseline_history", None)
        return records_lib.load_records(
            self.project_dir,
            self.space,
            cache=self._record_cache,
            entropies=None if entropies is None else records_lib.history(entropies),
            baselines=None if baselines is None else records_lib.history(baselines),
        )

    # ---- keras-tuner's conventions ----------------------------------------------------------

    def save(self) -> None:
        """keras-tuner's save, with `tuner0.json` (this tuner's state) written atomically."""
        path = self._get_tuner_fname()
        if "://" in path:  # gs:// and other remote paths: keras-tuner's own writer
            super().save()
            return
        if not self._is_worker():
            self.oracle.save()
        files.atomic_write_json(path, self.get_state(), indent=None)

    def reload(self) -> None:
        """keras-tuner's reload; a damaged `tuner0.json` (keras-tuner keeps no state of this
        tuner in it) is rewritten instead of stopping the resume."""
        path = self._get_tuner_fname()
        if "://" in path:
            super().reload()
            return
        if not self._is_worker():
            self.oracle.reload()
        try:
            state = files.read_json(path)
        except files.CorruptFileError as error:
            log.warning("%s; it holds nothing the search needs: writing it again", error)
            files.atomic_write_json(path, self.get_state(), indent=None)
            return
        self.set_state(state)

    def get_best_hyperparameters(self, num_trials: int = 1) -> list[keras_tuner.HyperParameters]:
        """The HyperParameters of the `num_trials` best trials by reward;
        `space.from_hyperparameters(hp.values)` (or `hypermodel.build(hp)`) maps one back."""
        return [trial.hyperparameters for trial in self.oracle.get_best_trials(num_trials)]

    def get_best_architectures(self, num_trials: int = 1) -> list[Any]:
        """The `ArchSpec`s of the `num_trials` best trials by reward."""
        return [
            self.space.from_hyperparameters(hp.values)
            for hp in self.get_best_hyperparameters(num_trials)
        ]

    def get_best_models(self, num_models: int = 1) -> list[Any]:
        """Trained Keras models of the `num_models` best trials by reward: the kept best model,
        and the others retrained on the proxy with the trial's seed (the proxy is seeded by the
        search seed and the architecture, so this reproduces the trial's accuracy)."""
        return [self.load_model(trial) for trial in self.oracle.get_best_trials(num_models)]

    def load_model(self, trial) -> Any:
        """The trained proxy model of `trial`: its kept `model.keras`, else retrained."""
        import keras

        path = os.path.join(self.get_trial_dir(trial.trial_id), "model.keras")
        if os.path.exists(path):
            return keras.models.load_model(path)
        if self.data is None:
            raise ValueError(
                f"trial {trial.trial_id}'s model was not kept and this tuner has no data to "
                "retrain it: run `search(data)` first or set `tuner.data = ProxyData(...)`"
            )
        from search.proxy.task import run_proxy

        arch = self.space.from_hyperparameters(trial.hyperparameters.values)
        _, model = run_proxy(
            arch, task=self.proxy, data=self.data, search_seed=self.search_seed, keep_model=True
        )
        return model

    def results_summary(self, num_trials: int = 10) -> None:
        """Prints the `num_trials` best trials: reward, accuracy, latency and architecture."""
        records = report.completed(self.records())
        best = sorted(records, key=lambda r: r["reward"], reverse=True)[:num_trials]
        print(f"Results in {self.project_dir}: {len(best)} best of {len(records)} completed trials")
        print(f"{'trial':>5}  {'reward':>7}  {'accuracy':>8}  {'latency ms':>10}  architecture")
        for record in best:
            print(
                f"{record['trial']:>5}  {record['reward']:7.4f}  {record['accuracy']:8.4f}  "
                f"{record['latency_ms']:10.2f}  {record['arch']}"
            )

    def write_all_reports(
        self, records: list[dict[str, Any]] | None = None, *, export: dict[str, Any] | None = None
    ) -> dict[str, str]:
        """Writes trials.csv, pareto.csv/png, history.png, summary.json (with `export`, the check
        of the exported files, when given) and best_arch.json; returns their paths."""
        records = self.records() if records is None else records
        return records_lib.write_reports(
            self.project_dir,
            records,
            references=self.references,
            latency_target_ms=self.reward.target_ms,
            export=export,
            reward=self.reward,
        )


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:  # removed by another process meanwhile
        pass


def _last_line(message: str | None) -> str:
    lines = [line for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no reason recorded"


def _format_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
