"""Running the search-efficiency benchmark: its searches and the whole pipeline.

Owns the command line of one `search.cli.mnasnet_search` child process (one search project per
method and
seed, its output in `<project>.log`), running and resuming the searches round-robin in chunks,
and `run_benchmark`: check the workdir and fix T (`search_efficiency_workdir`), run (or only
aggregate), summarise with `search_efficiency_stats`, write with `search_efficiency_report`.

Must not read absl flags (the binary turns them into a config) and must not import TensorFlow.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from typing import Any

import search_efficiency_report as report_files
import search_efficiency_stats as stats
import search_efficiency_workdir as workdir_files
from absl import logging
from search_efficiency_config import REPO, SearchEfficiencyConfig, project_name

# ---- the searches ----


def search_command(
    config: SearchEfficiencyConfig, algorithm: str, seed: int, target_ms: float
) -> list[str]:
    """The `search.cli.mnasnet_search` command line of one search (one chunk of it with `chunk`)."""
    search_algorithm, policy = config.method(algorithm)
    command = [
        sys.executable,
        "-m",
        "search.cli.mnasnet_search",
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
        f"--project_name={project_name(algorithm, seed)}",
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
    name = project_name(algorithm, seed)
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
    recorded = "; ".join(workdir_files.search_commands(config.workdir))
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
    extension. Raises SettingsError if the settings do not fit the work directory or table, and
    stats.RecordsError if one of the benchmark's record files there is damaged."""
    started = time.time()
    classes = workdir_files.dataset_classes(config)
    if config.backend == "predictor":
        workdir_files.check_predictor_table(config, classes)
    os.makedirs(config.workdir, exist_ok=True)
    target_ms, target_source = workdir_files.latency_target(config, classes)
    latency_ref = config.hv_ref_factor * target_ms
    logging.info(
        "T = %.3f ms (%s); hypervolume reference %.3f ms", target_ms, target_source, latency_ref
    )
    if config.run:
        # A damaged record fails here, not after the first search's hour of training.
        for seed in config.seeds:
            for algorithm in config.algorithms:
                stats.read_runs(config.project_dir(algorithm, seed))
        workdir_files.record_command(config)
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
