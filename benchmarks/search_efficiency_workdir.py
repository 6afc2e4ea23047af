"""The work directory of the search-efficiency benchmark, beyond its search projects: the fixed
target T with its data set and class count (target.json), the record of the commands that ran
searches in it (benchmark_commands.json), and the checks made before any search runs (the data
set is the workdir's, the latency table covers the space).

Must not import TensorFlow at import time: the data loader, the latency meter, the search space
and the latency predictor are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

import numpy as np
import search_efficiency_report as report_files
import search_efficiency_stats as stats
from search_efficiency_config import DIGITS, SearchEfficiencyConfig, SettingsError

TARGET_FILE = "target.json"
COMMANDS_FILE = "benchmark_commands.json"


def _saved_target(config: SearchEfficiencyConfig) -> dict[str, Any] | None:
    """<workdir>/target.json (T, its source, the data set and its class count), or None before
    the first search; SettingsError if its searches ran on another data set or T."""
    path = os.path.join(config.workdir, TARGET_FILE)
    if not os.path.exists(path):
        return None
    problem = None
    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
    except ValueError as error:
        problem = f"not JSON: {error}"
    else:
        if not isinstance(saved, dict) or not isinstance(
            saved.get("latency_target_ms"), (int, float)
        ):
            problem = "no latency_target_ms"
        elif "source" not in saved:
            problem = "no source"
    if problem:
        raise SettingsError(
            f"{path} is not a target file this benchmark wrote ({problem}): restore it from the "
            "runs archive, or use another --workdir"
        )
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
    from search.latency import table as predictor
    from search.spaces import registry as space_registry

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
