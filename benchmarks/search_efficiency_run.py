"""Running the search-efficiency benchmark: its settings, its searches, and the whole pipeline.

Owns `SearchEfficiencyConfig` (frozen, validated once), the layout of the work directory (one
search project per method and seed, `<project>.log`, the fixed target T in target.json), the
command line of one `search.main` child process, running and resuming the searches round-robin
in chunks, and `run_benchmark`: run (or only aggregate), summarise with
`search_efficiency_stats`, write with `search_efficiency_report`.

Must not read absl flags (the binary turns them into a config) and must not import TensorFlow at
import time: the latency meter, the search space and the latency predictor are imported inside
the functions that need them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time
from typing import Any

import numpy as np
import search_efficiency_report as report_files
import search_efficiency_stats as stats
from absl import logging

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIGITS = "digits"
METHODS = (
    "random",
    "reinforce",
    "ppo",
    "reinforce-lstm",
    "reinforce-independent",
    "ppo-lstm",
    "ppo-independent",
)
# The values the settings may take (the binary's flags declare the same).
CHOICES = {
    "policy": ("independent", "lstm"),
    "backend": ("local", "predictor"),
    "latency_clock": ("thread_cpu", "wall"),
}
MINIMUMS = {
    "trials": 1,
    "chunk": 0,
    "epochs": 1,
    "steps_per_epoch": 0,
    "batch_size": 1,
    "proxy_image_size": 32,
    "latency_image_size": 32,
    "latency_runs": 1,
}


# Files of the work directory beside the search projects.
TARGET_FILE = "target.json"
COMMANDS_FILE = "benchmark_commands.json"


class SettingsError(ValueError):
    """Settings that are invalid, or that do not fit the work directory or latency table."""


@dataclasses.dataclass(frozen=True)
class SearchEfficiencyConfig:
    """Everything one benchmark invocation needs (the binary's flags, one field each).

    `algorithms` are method names (`METHODS`); a plain 'reinforce' or 'ppo' uses `policy`.
    `command` is the invocation's command line, recorded in the results."""

    seeds: tuple[int, ...] = (0, 1, 2)
    dataset: str = DIGITS
    algorithms: tuple[str, ...] = ("reinforce", "random")
    trials: int = 12
    chunk: int = 0
    policy: str = "independent"
    epochs: int = 2
    steps_per_epoch: int = 12
    batch_size: int = 64
    proxy_image_size: int = 32
    backend: str = "local"
    latency_image_size: int = 224
    latency_runs: int = 30
    latency_clock: str = "thread_cpu"
    predictor_table: str | None = None
    latency_target_ms: float | None = None
    hv_ref_factor: float = 2.0
    workdir: str = os.path.join(REPO, "runs", "search_efficiency")
    results_dir: str = os.path.join(REPO, "benchmarks", "results")
    results_name: str | None = None
    archive: str | None = None
    note: str | None = None
    run: bool = True
    command: str = ""

    def __post_init__(self) -> None:
        for algorithm in self.algorithms:
            if algorithm not in METHODS:
                raise SettingsError(f"--algorithms: expected one of {METHODS}; got {algorithm!r}")
        if self.backend == "predictor" and not self.predictor_table:
            raise SettingsError("--backend=predictor needs --predictor_table")
        if self.latency_target_ms is not None and self.latency_target_ms <= 0:
            raise SettingsError(
                f"--latency_target_ms must be positive; got {self.latency_target_ms}"
            )
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise SettingsError(
                    f"--{name}: expected one of {choices}; got {getattr(self, name)!r}"
                )
        if self.results_name is not None and not re.fullmatch(
            r"[A-Za-z0-9_.-]+", self.results_name
        ):
            raise SettingsError(
                "--results_name must be a file name without a folder (letters, digits, _ . -); "
                f"got {self.results_name!r}"
            )
        for name, minimum in MINIMUMS.items():
            if getattr(self, name) < minimum:
                raise SettingsError(
                    f"--{name} must be at least {minimum}; got {getattr(self, name)}"
                )

    def method(self, name: str) -> tuple[str, str]:
        """(search algorithm, controller policy) of a method name such as 'reinforce-lstm'."""
        algorithm, _, policy = name.partition("-")
        return algorithm, policy or self.policy

    @property
    def basename(self) -> str:
        """The results' file name without extension: `results_name`, else search_efficiency for
        digits and search_efficiency_<name> for another data set (a folder's last path
        component)."""
        return self.results_name or report_files.basename(self.dataset)

    def project_dir(self, algorithm: str, seed: int) -> str:
        """The search project of one method and seed in the work directory."""
        return os.path.join(self.workdir, _project(algorithm, seed))


def _project(algorithm: str, seed: int) -> str:
    return f"{algorithm}_seed{seed}"


# ---- before the searches ----


def _saved_target(config: SearchEfficiencyConfig) -> dict[str, Any] | None:
    """<workdir>/target.json (T, its source, the data set and its class count), or None before
    the first search; SettingsError if its searches ran on another data set or T."""
    path = os.path.join(config.workdir, TARGET_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        saved = json.load(handle)
    if saved.get("dataset", DIGITS) != config.dataset:
        raise SettingsError(
            f"--dataset={config.dataset} but the searches in {config.workdir} ran on "
            f"{saved.get('dataset', DIGITS)} ({path}): use another --workdir"
        )
    wanted = config.latency_target_ms
    if wanted is not None and not math.isclose(wanted, saved["latency_target_ms"]):
        raise SettingsError(
            f"--latency_target_ms={wanted} but the searches in {config.workdir} use "
            f"T = {saved['latency_target_ms']} ms ({path}): use another --workdir"
        )
    return saved


def dataset_classes(config: SearchEfficiencyConfig) -> int:
    """The data set's class count (the latency models' head width): from target.json when the
    workdir has one (no TensorFlow import), else from the data set's listing (no image is
    decoded); a data set that cannot be read raises SettingsError naming it."""
    saved = _saved_target(config)
    if saved is not None and "classes" in saved:
        return saved["classes"]
    if config.dataset == DIGITS:
        return 10
    from mnasnet_tf import data

    try:
        _, info = data.load(config.dataset, split="train", image_size=32, batch_size=1)
    except (ValueError, OSError) as error:
        raise SettingsError(f"--dataset={config.dataset!r}: {error}") from error
    return info.num_classes


def latency_target(config: SearchEfficiencyConfig, classes: int) -> tuple[float, str]:
    """T and where it came from. Fixed per workdir (<workdir>/target.json), since every search
    in it is rewarded with it: `latency_target_ms`, else MobileNetV2 measured once on the
    search's backend and clock."""
    saved = _saved_target(config)
    if saved is not None:
        return saved["latency_target_ms"], saved["source"]
    if config.latency_target_ms is not None:
        target, source = config.latency_target_ms, "--latency_target_ms"
    else:
        from mnasnet_tf import zoo
        from search.latency.meter import LatencyMeter

        meter = LatencyMeter(
            config.backend,
            image_size=config.latency_image_size,
            classes=classes,
            runs=max(config.latency_runs, 100),
            clock=config.latency_clock,
            predictor_table=config.predictor_table,
        )
        target = meter.figure(meter.measure(zoo.get_arch("mobilenet-v2"), name="mobilenet-v2"))
        source = (
            f"mobilenet-v2, {config.latency_clock} median of 100 runs on {config.backend} "
            f"({config.latency_image_size}²)"
        )
    report_files.write_json(
        {
            "latency_target_ms": target,
            "source": source,
            "dataset": config.dataset,
            "classes": classes,
        },
        os.path.join(config.workdir, TARGET_FILE),
    )
    return target, source


def check_predictor_table(config: SearchEfficiencyConfig, classes: int) -> None:
    """Refuses a table that lacks parts of the space's architectures at the search's setting
    (every such trial would fail), naming what is missing."""
    from search import space_registry
    from search.latency import table as predictor

    table = predictor.load_table(config.predictor_table)
    space = space_registry.get_space("mnasnet")
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.to_arch(space.sample(rng))
        missing = table.missing(arch, image_size=config.latency_image_size, classes=classes)
        if missing:
            raise SettingsError(
                f"latency table {config.predictor_table} lacks {len(missing)} parts of a random "
                f"architecture of the space at {config.latency_image_size}² with a "
                f"{classes}-class head, e.g. {missing[:3]}: use --backend=local"
            )


# ---- the searches ----


def search_command(
    config: SearchEfficiencyConfig, algorithm: str, seed: int, target_ms: float
) -> list[str]:
    """The `search.main` command line of one search (one chunk of it with `chunk`)."""
    search_algorithm, policy = config.method(algorithm)
    command = [
        sys.executable,
        "-m",
        "search.main",
        f"--algorithm={search_algorithm}",
        f"--policy={policy}",
        f"--dataset={config.dataset}",
        f"--proxy_image_size={config.proxy_image_size}",
        f"--epochs_per_trial={config.epochs}",
        f"--batch_size={config.batch_size}",
        f"--max_trials={config.trials}",
        f"--latency_target_ms={target_ms!r}",
        f"--backend={config.backend}",
        f"--latency_image_size={config.latency_image_size}",
        f"--latency_runs={config.latency_runs}",
        f"--latency_clock={config.latency_clock}",
        "--references=",
        f"--directory={config.workdir}",
        f"--project_name={_project(algorithm, seed)}",
        f"--seed={seed}",
        "--noexport",
        "--train_verbose=0",
    ]
    if config.predictor_table:
        command.append(f"--predictor_table={config.predictor_table}")
    if config.steps_per_epoch:
        command.append(f"--steps_per_epoch={config.steps_per_epoch}")
    if config.chunk:
        command.append(f"--trials_per_run={config.chunk}")
    return command


def run_search(config: SearchEfficiencyConfig, algorithm: str, seed: int, target_ms: float) -> bool:
    """Runs (or resumes) one search in a child process (up to `chunk` trials), logging its
    per-trial progress lines; appends the child's wall time to <project>/benchmark_runs.json.
    Returns whether the search still has trials to run after this call."""
    name = _project(algorithm, seed)
    project_dir = config.project_dir(algorithm, seed)
    done = stats.finished(stats.read_trials(project_dir))
    if done >= config.trials:
        logging.info("%s: %d/%d trials already done; skipped", name, done, config.trials)
        return False
    command = search_command(config, algorithm, seed, target_ms)
    logging.info("%s: starting at trial %d/%d", name, done, config.trials)
    log_path = os.path.join(config.workdir, f"{name}.log")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    started = time.time()
    with open(log_path, "a", encoding="utf-8") as log_file:
        log_file.write(f"\n$ {shlex.join(command)}\n")
        child = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for line in child.stdout:
            log_file.write(line)
            log_file.flush()
            if "best reward" in line:
                logging.info("%s: %s", name, line.split("] ", 1)[-1].strip())
        returncode = child.wait()
    seconds = time.time() - started
    if returncode != 0:
        logging.warning(
            "%s: search exited with %d after %.0f s; see %s", name, returncode, seconds, log_path
        )
    os.makedirs(project_dir, exist_ok=True)
    runs = stats.read_runs(project_dir)
    runs.append({"started": started, "seconds": seconds, "returncode": returncode})
    report_files.write_json(runs, os.path.join(project_dir, stats.RUNS_FILE))
    now = stats.finished(stats.read_trials(project_dir))
    if now <= done:
        logging.warning("%s: no trial finished in this run; not retried", name)
        return False
    return now < config.trials


def record_command(config: SearchEfficiencyConfig) -> None:
    """Appends this invocation (command line, start time, seeds, methods) to
    <workdir>/benchmark_commands.json: the searches' provenance, which a later `--norun`
    aggregation reports as the command that made them."""
    path = os.path.join(config.workdir, COMMANDS_FILE)
    records = stats.read_records(path)
    records.append(
        {
            "command": config.command,
            "started": time.time(),
            "seeds": list(config.seeds),
            "algorithms": list(config.algorithms),
        }
    )
    report_files.write_json(records, path)


def search_commands(workdir: str) -> list[str]:
    """The distinct command lines that ran searches in `workdir`, in order of first use."""
    return list(
        dict.fromkeys(
            record["command"] for record in stats.read_records(os.path.join(workdir, COMMANDS_FILE))
        )
    )


def run_all(config: SearchEfficiencyConfig, target_ms: float) -> None:
    """Every search, interleaved (seeds outer, methods inner) so a partial run compares like
    with like; with `chunk`, in rounds of `chunk` trials per search."""
    active = [(seed, algorithm) for seed in config.seeds for algorithm in config.algorithms]
    rounds = 0
    while active:
        rounds += 1
        logging.info("round %d: %d searches to go on", rounds, len(active))
        active = [key for key in active if run_search(config, key[1], key[0], target_ms)]


# ---- the benchmark ----


def _result_config(
    config: SearchEfficiencyConfig,
    classes: int,
    target_ms: float,
    target_source: str,
    latency_ref: float,
) -> dict[str, Any]:
    """The "config" entry of the results: the settings, and T with where it came from. Its
    command is the one that ran the searches: this invocation's, or with --norun those
    recorded in the workdir (None if none were: the previous results then lend theirs), and
    the --norun invocation is `aggregated_by`."""
    recorded = "; ".join(search_commands(config.workdir))
    return {
        "command": config.command if config.run else recorded or None,
        "aggregated_by": None if config.run else config.command,
        "seeds": list(config.seeds),
        "algorithms": list(config.algorithms),
        **{
            name: getattr(config, name)
            for name in (
                "trials",
                "chunk",
                "policy",
                "epochs",
                "steps_per_epoch",
                "batch_size",
                "proxy_image_size",
                "backend",
                "latency_image_size",
                "latency_runs",
                "latency_clock",
                "predictor_table",
                "hv_ref_factor",
            )
        },
        "dataset": config.dataset,
        "classes": classes,
        "latency_target_ms": target_ms,
        "target_source": target_source,
        "latency_ref_ms": latency_ref,
        "workdir": config.workdir,
        "note": config.note,
    }


def run_benchmark(config: SearchEfficiencyConfig) -> tuple[dict[str, Any], str]:
    """Runs (or resumes) every search unless `config.run` is false, then aggregates what is on
    disk and writes the results; returns the result document and the results' path without
    extension. Raises SettingsError if the settings do not fit the work directory or table."""
    started = time.time()
    classes = dataset_classes(config)
    if config.backend == "predictor":
        check_predictor_table(config, classes)
    os.makedirs(config.workdir, exist_ok=True)
    target_ms, target_source = latency_target(config, classes)
    latency_ref = config.hv_ref_factor * target_ms
    logging.info(
        "T = %.3f ms (%s); hypervolume reference %.3f ms", target_ms, target_source, latency_ref
    )
    if config.run:
        record_command(config)
        run_all(config, target_ms)
    searches = [
        s
        for seed in config.seeds
        for a in config.algorithms
        if (
            s := stats.search_summary(
                config.project_dir(a, seed),
                algorithm=a,
                seed=seed,
                trials=config.trials,
                latency_ref=latency_ref,
                target_ms=target_ms,
            )
        )
    ]
    budget = min((s["trials"] for s in searches), default=0)
    result = {
        "config": _result_config(config, classes, target_ms, target_source, latency_ref),
        "wall_seconds": time.time() - started,
        "searches": searches,
        # Means over seeds at the budget every search has reached (a partial run compares like
        # with like); each search's own final figures are in "searches".
        "common_budget": budget,
        "summary": (
            stats.aggregate([stats.truncate(s, budget) for s in searches], config.algorithms)
            if searches
            else {}
        ),
        "paired": stats.paired(searches, config.algorithms),
    }
    base = report_files.write_results(
        result, config.results_dir, config.basename, reaggregation=not config.run
    )
    if config.archive:
        members = report_files.write_runs_archive(config.workdir, config.archive)
        logging.info("wrote %d files of %s to %s", len(members), config.workdir, config.archive)
    return result, base
