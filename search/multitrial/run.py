"""`run_search(config)`: one architecture search from a `SearchConfig`, as the library runs it.

Owns the sequence of a search: distribution variables, the data, the latency meter, the estimate
of its wall time (search/multitrial/estimate.py; the first log line), the reference models
(latency, and proxy accuracy), the target T, the reward, the oracle and the tuner, the search
itself, the reports and the export of the best model (checked by search/results/export_check.py);
and `SearchResult`, what it returns. The binary `mnasnet-search` (search/cli/mnasnet_search.py) is
flags → `SearchConfig` → `run_search` → a printed summary; a notebook calls `run_search` directly.

Imports TensorFlow (through the tuner and the data) lazily, when the search starts.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from search.multitrial import preflight
from search.multitrial.config import SearchConfig
from search.results import run_folder

if TYPE_CHECKING:  # the types only: the tuner imports keras-tuner and TensorFlow
    from search.latency.meter import LatencyMeter
    from search.multitrial.oracle import FailureStop
    from search.multitrial.tuner import MnasTuner
    from search.proxy.task import ProxyData, ProxyTask
    from search.results.export_check import ExportCheck
    from search.results.report import ReferencePoint

log = logging.getLogger("mnasnet_tf.search")
RUN_FILE = "run.json"
RUN_FORMAT = "mnasnet-tf/search-v1"


class SearchSetupError(ValueError):
    """The search cannot start: a data set, latency table or backend that the config names is
    unusable. Raised before the project folder is created; the message names the value."""


@dataclasses.dataclass
class SearchResult:
    """What a search produced.

    Attributes:
      tuner: the `MnasTuner` (records, best models, the project folder).
      role: None for a single process, else 'chief' or 'worker'.
      paths: report name → path (trials.csv, pareto.csv/png, history.png, summary.json, …).
      exported: quantization → path of the best model's .tflite.
      references: the reference points (latency, and proxy accuracy when trained).
      target_ms: the latency target T of the reward.
      seconds: wall time of the search.
      failure_stop: a `search.multitrial.oracle.FailureStop` when the search stopped early because
        `max_consecutive_failed_trials` trials failed in a row (single process or chief).
      export_check: the `search.results.export_check.ExportCheck` of the exported files (None when
        nothing was exported).
    """

    tuner: MnasTuner
    role: str | None
    paths: dict[str, str]
    exported: dict[str, str]
    references: list[ReferencePoint]
    target_ms: float
    seconds: float
    failure_stop: FailureStop | None = None
    export_check: ExportCheck | None = None

    @property
    def problem(self) -> str | None:
        """One line saying why this search did not end well, with its cause and what to change:
        it stopped after too many failed trials in a row, or no trial completed. None when it
        did (and for a worker: its chief reports)."""
        if self.role == "worker":
            return None
        if self.failure_stop is not None:
            return (
                f"search stopped: {self.failure_stop.describe()}. Fix the cause, or raise "
                f"--max_consecutive_failed_trials (now {self.failure_stop.limit}; 0 never "
                "stops) and run the same command again to go on."
            )
        if self.best is not None:
            return None
        from search.multitrial.oracle import failure_reason

        records = self.records
        if not records:
            return "no trial ran: nothing to report or export."
        failed = [r for r in records if r["status"] in ("FAILED", "INVALID")]
        last = failed[-1] if failed else records[-1]
        return (
            f"no trial completed: {len(failed)} of {len(records)} failed (the last, trial "
            f"{last['trial']}: {failure_reason(last.get('reason'))}); every trial's reason is in "
            f"{os.path.join(self.tuner.project_dir, 'trials.csv')}."
        )

    @property
    def records(self) -> list[dict[str, Any]]:
        """One dict per trial (see search/results/report.py's TRIAL_COLUMNS)."""
        return self.tuner.records()

    @property
    def best(self) -> dict[str, Any] | None:
        """The record of the trial with the highest reward (None if none completed)."""
        from search.results import report

        return report.best_record(self.records)


def setup_distribution(config: SearchConfig) -> str | None:
    """Sets keras-tuner's distribution variables from `config`; returns the role or None."""
    if config.distributed_role:
        os.environ["KERASTUNER_ORACLE_IP"] = config.oracle_ip
        os.environ["KERASTUNER_ORACLE_PORT"] = str(config.oracle_port)
        if config.distributed_role == "chief":
            os.environ["KERASTUNER_TUNER_ID"] = "chief"
        else:
            os.environ["KERASTUNER_TUNER_ID"] = config.tuner_id or f"worker{os.getpid()}"
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    role = "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"
    if role == "chief":  # keras-tuner's gRPC has no authentication
        ip, port = os.environ["KERASTUNER_ORACLE_IP"], os.environ.get("KERASTUNER_ORACLE_PORT")
        preflight.warn_unless_loopback(ip, port or "?")
    return role


@preflight.removes_empty_folders
def run_search(
    config: SearchConfig,
    *,
    on_trial: Callable[[dict[str, Any], list[dict[str, Any]]], None] | None = None,
) -> SearchResult:
    """Runs (or resumes) the search `config` describes and returns what it produced.

    `on_trial(record, records)` is called after each trial this process ends (the trial's
    record, and all records so far), e.g. to update a plot in a notebook; progress is also
    logged (a line per trial, with the best reward and the time left).

    Raises ValueError naming the value for a bad data set, table or reward setting, before the
    project folder is created."""
    role = setup_distribution(config)
    started = time.time()

    from search.controllers import reward as reward_module
    from search.multitrial import oracle as oracle_module
    from search.multitrial import tuner as tuner_module
    from search.spaces.registry import get_space

    space = get_space(config.space)
    project_dir = config.project_dir
    try:  # before the project folder exists: a bad folder, data, table or backend writes nothing
        preflight.check_before_data(config)
        data = load_data(config)
        meter = config.latency_meter(
            data.num_classes,
            cache_path=os.path.join(project_dir, "latency_cache.json"),
            state_dir=project_dir,
        )
        preflight.check_backend(config, meter=meter, space=space)
        run_file = project_run_file(config)
        if not config.overwrite:  # resuming: the project must hold this search
            run_file.read(config.identity())
    except (ValueError, FileNotFoundError) as error:
        raise SearchSetupError(str(error)) from error
    os.makedirs(project_dir, exist_ok=True)
    if role != "worker" and config.log_estimate:  # the first line: what it will take
        from search.multitrial import estimate

        try:
            expected = estimate.estimate(
                config, data=data, meter=meter, startup_s=time.time() - started
            )
            log.info("%s", expected.summary())
        except ValueError as error:  # informative only: the search itself may still work
            log.warning("no estimate of the wall time: %s", error)
    proxy = config.proxy_task(data.num_classes)
    # The references' latency now (the default target needs it); their proxy accuracy now in a
    # single process, after the search on a chief (which owns them but must serve its workers).
    references = (
        proxy_references(config, meter, proxy, data, measure_only=role == "chief")
        if role != "worker"
        else []
    )
    target = config.latency_target_ms
    if target is None:
        target = default_target(meter, references)
    try:
        reward_config = reward_module.RewardConfig.from_flags(
            config.reward, target_ms=target, w=config.w
        )
    except ValueError as error:
        raise SearchSetupError(str(error)) from error
    oracle = oracle_module.MnasOracle(
        space=space,
        algorithm=config.algorithm,
        policy=config.policy,
        reward=reward_config,
        max_trials=config.max_trials,
        seed=config.seed,
        worker_timeout_s=config.worker_timeout_s,
        trials_per_run=config.trials_per_run,
        max_consecutive_failed_trials=config.max_consecutive_failed_trials,
    )
    tuner = tuner_module.MnasTuner(
        oracle,
        space=space,
        reward=reward_config,
        proxy=proxy,
        meter=meter,
        directory=config.directory,
        project_name=config.project_name,
        overwrite=config.overwrite,
        search_seed=config.seed,
        reuse_results=config.reuse_results,
        recycle_every=config.recycle_every,
        references=references,
        on_trial=on_trial,
        tensorboard=config.tensorboard and role != "worker",
    )
    if role != "worker":  # after the tuner: `overwrite` empties the project
        run_file.write({"search": "multi-trial"}, config.identity())
    log.info(
        "search: space %s (%.3g architectures), %s, %d trials, target %.2f ms (%s), backend %s",
        config.space,
        space.size(),
        config.algorithm,
        config.max_trials,
        target,
        config.reward,
        config.backend,
    )
    if role == "chief":
        tuner.search(verbose=0)
    else:
        tuner.search(data, verbose=0)
    paths: dict[str, str] = {}
    exported: dict[str, str] = {}
    checked = None
    if role != "worker":  # a single process, or the chief once its workers are done
        if role == "chief":
            tuner.references = proxy_references(config, meter, proxy, data, measure_only=False)
        paths = tuner.write_all_reports()
        if config.export:
            exported = export_best(tuner, data)
        if exported:
            checked = check_export(config, tuner, data, exported)
            paths = tuner.write_all_reports(export=checked.to_dict())
        if tuner.tensorboard is not None:  # a chief's trials ended in its workers
            tuner.tensorboard.write(tuner.records())
            tuner.tensorboard.close()
            paths["tensorboard"] = tuner.tensorboard.log_dir
    return SearchResult(
        tuner=tuner,
        role=role,
        paths=paths,
        exported=exported,
        references=list(tuner.references),
        target_ms=target,
        seconds=time.time() - started,
        failure_stop=oracle.failure_stop,
        export_check=checked,
    )


def project_run_file(config: SearchConfig) -> run_folder.StateFile:
    """`<project>/run.json`: the settings a resumed project must share with this search."""
    return run_folder.StateFile(
        config.project_dir,
        RUN_FILE,
        what="a search",
        remedy="start afresh with --overwrite, or use another --project_name",
        format=RUN_FORMAT,
    )


def load_data(config: SearchConfig) -> ProxyData:
    """The proxy task's data (`search.proxy.task.ProxyData`); ValueError naming a bad data set."""
    return config.proxy_data()


def proxy_references(
    config: SearchConfig,
    meter: LatencyMeter,
    proxy: ProxyTask,
    data: ProxyData,
    *,
    measure_only: bool,
) -> list[ReferencePoint]:
    """The reference points: each model's latency on `meter`, and (unless `measure_only` or
    `config.train_references` is off) its accuracy on the proxy, cached in the project."""
    from search.multitrial import references as references_module

    def show(point, cached) -> None:
        if point.accuracy is None:
            log.info("reference %-20s %.2f ms on %s", point.name, point.latency_ms, meter.backend)
        else:
            log.info(
                "reference %-20s %.2f ms on %s, proxy accuracy %.4f%s",
                point.name,
                point.latency_ms,
                meter.backend,
                point.accuracy,
                " (cached)" if cached else "",
            )

    if config.references and not measure_only and config.train_references:
        log.info("training %d reference models on the proxy", len(config.references))
    return references_module.proxy_references(
        list(config.references),
        meter=meter,
        task=proxy,
        data=data,
        search_seed=config.seed,
        cache_path=os.path.join(config.project_dir, "references.json"),
        measure_only=measure_only or not config.train_references,
        on_reference=show,
    )


def default_target(meter: LatencyMeter, references: Sequence[ReferencePoint]) -> float:
    """The default latency target T: MobileNetV2's latency on the search's backend."""
    for point in references:
        if point.name == "mobilenet-v2":
            return point.latency_ms
    from search.multitrial.tuner import default_target_ms  # imported by run_search already

    return default_target_ms(meter)


def export_best(tuner: MnasTuner, data: ProxyData) -> dict[str, str]:
    """Exports the best trial's trained model as float32 and int8 .tflite; returns
    quantization → path (empty when no trial completed)."""
    import keras
    import numpy as np

    from search.results import report
    from tflite_bench import convert, files

    best = report.best_record(tuner.records())
    if best is None:
        log.warning("no completed trial: nothing to export")
        return {}
    path = tuner.model_path(best.get("cached_from") or best["trial"])
    if not os.path.exists(path):
        log.info("trial %s's weights were not kept on this machine; retraining it", best["trial"])
        from search.proxy.task import run_proxy

        _, model = run_proxy(
            best["arch_spec"],
            task=tuner.proxy,
            data=data,
            search_seed=tuner.search_seed,
            keep_model=True,
        )
        files.atomic_save(path, model.save, suffix=".keras")
    model = keras.models.load_model(path)
    images = np.concatenate([images.numpy() for images, _ in data.train(0).take(8)])
    written = {}
    for quantization in ("float32", "int8"):
        out = os.path.join(tuner.project_dir, f"best_model_{quantization}.tflite")
        convert.convert(
            model,
            quantization=quantization,
            representative_data=images if quantization == "int8" else None,
            output_path=out,
        )
        written[quantization] = out
    return written


def check_export(
    config: SearchConfig, tuner: MnasTuner, data: ProxyData, exported: dict[str, str]
) -> ExportCheck:
    """The check of the exported files of the best trial: top-1 and int8/float32 agreement on
    the proxy's held-out split, latency on this host at the proxy resolution, and the
    `mnasnet-train` command that trains the architecture for shipping."""
    from search.results import export_check, report
    from tflite_bench.backends import LocalBackend

    best = report.best_record(tuner.records())
    project = tuner.project_dir
    return export_check.check_exports(
        exported,
        held_out=data.validation(),
        trial=best["trial"],
        search_latency_ms=best["latency_ms"],
        deployment_image_size=config.latency_image_size,
        latency_backend=config.backend,
        train_command=export_check.train_command(
            os.path.join(project, "best_arch.json"),
            dataset=config.dataset,
            image_size=config.latency_image_size,
            data_dir=config.data_dir,
            export_dir=os.path.join(project, "shipping"),
        ),
        backend=LocalBackend(
            threads=config.threads, runs=config.latency_runs, clock=config.latency_clock
        ),
    )
