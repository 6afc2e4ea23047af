"""The proxy-fidelity check behind `mnasnet-proxy-check`: is a short proxy a faithful stand-in
for long training, at what cost, and with how much seed noise?

Trains N architectures sampled from a search space plus zoo reference models under each
candidate proxy budget (epochs) with r seeds, and under one long budget; per candidate budget it
reports the seed std, the Spearman and Kendall rank correlations of the budget's mean accuracy
with the long budget's, and the seconds per trial, and recommends the cheapest budget whose
Spearman reaches a threshold (Vertex NAS ships such a tool; this is an open one).

One (architecture, epochs) cell is one `search.proxy.task.run_proxy` call with `repeats` = the
number of seeds, so its seeds are exactly those a search with that many repeats would use
(`arch_seed(search_seed, arch, repeat)`); `steps_per_epoch` applies to every budget, the long
one included. Each finished cell is written to `runs.json` at once (tmp file + os.replace); a
re-run with the same training settings trains only the cells that are missing.

Owns `ProxyCheckConfig`, the sampling of the architectures, `run_proxy_check` (training with
resume) and the report (proxy_check.json). The statistics are in `search/proxy/check_stats.py`,
the figure in `search/proxy/check_plot.py`, the summary text in the binary.
TF-free at import: `search.proxy.task` (and so TensorFlow) is imported inside the training path
only.
Must not import the tuner, oracle, search binary or reports.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mnasnet_tf import arch_string, data_settings, specs, zoo
from search.proxy.check_stats import RunRecord, budget_stats, recommend
from search.spaces import registry as space_registry
from tflite_bench import checks, files, settings

log = logging.getLogger(__name__)

RESULTS_FILE = "runs.json"
REPORT_FILE = "proxy_check.json"
PLOT_FILE = "proxy_check.png"
DEFAULT_REFERENCES = ("mobilenet-v2", "mobilenet-v3-large", "mobilenet-v3-small", "mnasnet-a1")
_IDENTITY = (
    "dataset",
    "train_subset",
    "image_size",
    "batch_size",
    "learning_rate",
    "steps_per_epoch",
)
"""Config fields that decide a cell's result besides its architecture, epochs and seeds."""


@dataclasses.dataclass(frozen=True)
class ProxyCheckConfig:
    """What to check, one field per `mnasnet-proxy-check` flag: the flags are generated from the
    declared fields (default, help, allowed values; tflite_bench/settings.py). Validated on
    construction; every error names the flag and the bad value.

    The `num_archs` architectures are distinct. Two fields have a hand-written flag (the
    binary's EXTRA_FLAGS), with its default from here:
      budgets: candidate proxy budgets in epochs, each < long_epochs (sorted, distinct); the
        `--budgets` flag is a list of whole numbers.
      search_seed: seeds the sampling and every run (`search.proxy.task.arch_seed`); its flag is
        `--seed` (the field keeps the name stored in runs.json and proxy_check.json).
    """

    space: str = settings.setting(
        "mnasnet",
        nonempty=True,
        help=f"Search space the architectures are sampled from: {space_registry.list_spaces()}.",
    )
    dataset: str = data_settings.dataset()
    data_dir: str | None = settings.setting(
        None, help="tfds data directory (default ~/tensorflow_datasets)."
    )
    train_subset: int | None = data_settings.train_subset()
    num_archs: int = settings.setting(8, minimum=2, help="Architectures sampled from the space.")
    references: tuple[str, ...] = settings.setting(
        DEFAULT_REFERENCES, help="Zoo models trained beside them."
    )
    budgets: tuple[int, ...] = (1, 2, 3)
    long_epochs: int = settings.setting(15, minimum=1, help="The long budget they are ranked by.")
    seeds: int = settings.setting(2, minimum=1, help="Seeded runs per architecture and budget.")
    long_seeds: int = settings.setting(1, minimum=1, help="Seeded runs at the long budget.")
    steps_per_epoch: int | None = settings.setting(
        None, minimum=1, help="Cap on steps per epoch of every run."
    )
    image_size: int = settings.setting(32, minimum=32, help="Proxy resolution.")
    batch_size: int = settings.setting(64, minimum=1, help="Proxy batch size.")
    learning_rate: float | None = settings.setting(
        None,
        above=0,
        help="Proxy learning rate per 256 images (default: the proxy recipe's, as mnasnet-search).",
    )
    search_seed: int = 0
    output_dir: str = settings.setting(
        os.path.join("runs", "proxy_check"),
        nonempty=True,
        help="Where the results and report go.",
    )
    threshold: float = settings.setting(
        0.8, minimum=-1, maximum=1, help="Spearman a budget must reach."
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "references", tuple(self.references))
        budgets = tuple(self.budgets)
        object.__setattr__(self, "budgets", budgets)
        settings.validate(self)
        space_registry.get_space(self.space)  # ValueError naming the space and the known ones
        if self.dataset.startswith("folder:"):
            folder = os.path.expanduser(self.dataset[len("folder:") :])
            if not os.path.isdir(folder):
                raise ValueError(f"dataset {self.dataset!r}: {folder!r} is not a directory")
        for name in self.references:
            zoo.get_arch(name)  # ValueError naming the model and the zoo
        if len(set(self.references)) != len(self.references):
            raise ValueError(f"--references must be distinct; got {list(self.references)}")
        checks.require_int("seed", self.search_seed, minimum=0)
        ok = bool(budgets) and all(checks.is_int(b) and b >= 1 for b in budgets)
        checks.require(ok, "budgets", "a non-empty list of integers >= 1", list(budgets))
        for budget in budgets:
            if budget >= self.long_epochs:
                raise ValueError(
                    f"a proxy-check budget must be shorter than its long budget: budget "
                    f"{budget} epochs ≥ long_epochs={self.long_epochs}"
                )
        if len(set(budgets)) != len(budgets):
            raise ValueError(f"--budgets must be distinct; got {list(budgets)}")
        object.__setattr__(self, "budgets", tuple(sorted(budgets)))


# ---- the architectures and the cells ----


def arch_key(arch: specs.ArchSpec) -> str:
    """A short fingerprint of what builds the model (blocks and conventions, not the name)."""
    data = arch_string.to_json_dict(arch)
    data.pop("name", None)
    text = json.dumps(data, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_archs(config: ProxyCheckConfig) -> list[tuple[str, str, specs.ArchSpec]]:
    """[(name, kind, arch)]: `num_archs` distinct points sampled from the space with
    `np.random.default_rng(search_seed)` ('sample'), then the zoo references ('reference')."""
    space = space_registry.get_space(config.space)
    rng = np.random.default_rng(config.search_seed)
    references = [(name, "reference", zoo.get_arch(name)) for name in config.references]
    seen = {arch_key(arch) for _, _, arch in references}
    sampled, draws = [], 0
    while len(sampled) < config.num_archs:
        draws += 1
        if draws > 100 * config.num_archs:
            raise ValueError(
                f"space {config.space!r}: could not sample {config.num_archs} distinct "
                f"architectures in {draws - 1} draws"
            )
        name = f"{config.space}-sample-{len(sampled)}"
        arch = space.to_arch(space.sample(rng), name=name)
        if arch_key(arch) not in seen:
            seen.add(arch_key(arch))
            sampled.append((name, "sample", arch))
    return sampled + references


def _cell_key(arch: specs.ArchSpec, epochs: int, repeats: int) -> str:
    return f"{arch_key(arch)}/e{epochs}/r{repeats}"


def _identity(config: ProxyCheckConfig) -> dict[str, Any]:
    return {
        **{name: getattr(config, name) for name in _IDENTITY},
        "search_seed": config.search_seed,
    }


def _write_json(path: str, data: Any) -> None:
    files.atomic_write_json(path, _finite(data), indent=1, allow_nan=False)


def _finite(value: Any) -> Any:
    """`value` with NaN and infinite floats as None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def load_results(config: ProxyCheckConfig) -> dict[str, dict[str, Any]]:
    """The finished cells in `output_dir/runs.json` ({} when none).

    Raises:
      ValueError: the file holds runs of other training settings (named).
    """
    path = os.path.join(config.output_dir, RESULTS_FILE)
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        stored = json.load(handle)
    identity = _identity(config)
    previous = stored.get("identity", {})
    changed = [key for key in identity if previous.get(key) != identity[key]]
    if changed:
        details = ", ".join(
            f"{key}={previous.get(key)!r} (now {identity[key]!r})" for key in changed
        )
        raise ValueError(
            f"{path} holds runs with other {details}; resuming would mix them: use another "
            "output_dir or delete this one"
        )
    return dict(stored.get("runs", {}))


def _load_data(config: ProxyCheckConfig):
    from search.proxy import task as proxy

    return proxy.ProxyData(
        config.dataset,
        image_size=config.image_size,
        batch_size=config.batch_size,
        data_dir=config.data_dir,
        train_subset=config.train_subset,
    )


def _train(arch: specs.ArchSpec, *, epochs: int, repeats: int, config, data) -> dict[str, Any]:
    """One cell: `repeats` seeded proxy runs of `arch` for `epochs` epochs, as a JSON record."""
    from search.proxy import task as proxy

    task = proxy.ProxyTask(
        image_size=config.image_size,
        epochs=epochs,
        classes=data.num_classes,
        steps_per_epoch=config.steps_per_epoch,
        learning_rate=config.learning_rate,
        repeats=repeats,
    )
    outcome, _ = proxy.run_proxy(arch, task=task, data=data, search_seed=config.search_seed)
    accuracies = list(outcome.accuracies) + ([0.0] if outcome.nan else [])
    return {
        "accuracy": float(outcome.accuracy),
        "accuracies": [float(a) for a in accuracies],
        "seeds": list(outcome.seeds),
        "seconds_per_trial": outcome.train_seconds / max(1, len(outcome.seeds)),
        "nan": bool(outcome.nan),
    }


@dataclasses.dataclass(frozen=True)
class Progress:
    """One cell done: its place, result and the estimated seconds left (by epochs to run)."""

    done: int
    total: int
    arch: str
    epochs: int
    repeats: int
    accuracy: float
    seconds: float
    eta_seconds: float


def _record(name: str, epochs: int, stored: Mapping[str, Any]) -> RunRecord:
    return RunRecord(
        arch=name,
        epochs=epochs,
        accuracy=float(stored["accuracy"]),
        accuracies=tuple(float(a) for a in stored["accuracies"]),
        seeds=tuple(int(s) for s in stored["seeds"]),
        seconds_per_trial=_nan(stored.get("seconds_per_trial")),
        nan=bool(stored.get("nan", False)),
    )


def run_proxy_check(
    config: ProxyCheckConfig, *, progress: Callable[[Progress], None] | None = None
) -> dict[str, Any]:
    """Trains what `runs.json` lacks, then writes proxy_check.json and proxy_check.png to
    `config.output_dir` and returns the report (proxy_check.json's content).

    Nothing is written before the data set has loaded, so a bad name or path fails cleanly.

    Raises:
      ValueError: a data set that cannot be loaded, or a runs.json of other settings.
    """
    archs = plan_archs(config)
    results = load_results(config)
    cells = [(arch, b, config.seeds) for b in config.budgets for arch in archs]
    cells += [(arch, config.long_epochs, config.long_seeds) for arch in archs]
    keys = [_cell_key(arch[2], epochs, repeats) for arch, epochs, repeats in cells]
    pending = [i for i, key in enumerate(keys) if key not in results]
    data = None
    if pending:
        log.info("proxy check: %d of %d cells to train", len(pending), len(cells))
        data = _load_data(config)
    os.makedirs(config.output_dir, exist_ok=True)
    results_path = os.path.join(config.output_dir, RESULTS_FILE)
    spent, work_done = 0.0, 0
    work_left = sum(cells[i][1] * cells[i][2] for i in pending)
    for count, index in enumerate(pending, start=1):
        (name, _, arch), epochs, repeats = cells[index]
        start = time.perf_counter()
        record = _train(arch, epochs=epochs, repeats=repeats, config=config, data=data)
        seconds = time.perf_counter() - start
        results[keys[index]] = {"arch": name, "epochs": epochs, "repeats": repeats, **record}
        _write_json(results_path, {"identity": _identity(config), "runs": results})
        spent, work_done = spent + seconds, work_done + epochs * repeats
        work_left -= epochs * repeats
        eta = spent / work_done * work_left
        log.info(
            "proxy check %d/%d: %s, %d epoch(s) × %d seed(s): accuracy %.3f in %.0f s; "
            "ETA %.0f min",
            count,
            len(pending),
            name,
            epochs,
            repeats,
            record["accuracy"],
            seconds,
            eta / 60,
        )
        if progress is not None:
            progress(
                Progress(
                    done=count,
                    total=len(pending),
                    arch=name,
                    epochs=epochs,
                    repeats=repeats,
                    accuracy=record["accuracy"],
                    seconds=seconds,
                    eta_seconds=eta,
                )
            )
    report = _finite(build_report(config, archs, results))  # as JSON holds it: NaN → None
    _write_json(os.path.join(config.output_dir, REPORT_FILE), report)
    from search.proxy import check_plot as proxy_check_plot

    proxy_check_plot.plot(report, os.path.join(config.output_dir, PLOT_FILE))
    return report


def build_report(
    config: ProxyCheckConfig,
    archs: Sequence[tuple[str, str, specs.ArchSpec]],
    results: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """proxy_check.json's content from the finished cells (which must cover every arch)."""
    rows, by_budget, long_records = [], {b: [] for b in config.budgets}, []
    for name, kind, arch in archs:
        cells = {b: results[_cell_key(arch, b, config.seeds)] for b in config.budgets}
        long = results[_cell_key(arch, config.long_epochs, config.long_seeds)]
        for budget, cell in cells.items():
            by_budget[budget].append(_record(name, budget, cell))
        long_records.append(_record(name, config.long_epochs, long))
        keep = ("accuracy", "accuracies", "seeds", "seconds_per_trial", "nan")
        rows.append(
            {
                "name": name,
                "kind": kind,
                "arch": arch_string.to_json_dict(arch),
                "budgets": {str(b): {k: c[k] for k in keep} for b, c in cells.items()},
                "long": {k: long[k] for k in keep},
            }
        )
    stats = [
        budget_stats(by_budget[b], long_records, steps_per_epoch=config.steps_per_epoch)
        for b in config.budgets
    ]
    recommendation = recommend(stats, threshold=config.threshold)
    long_seconds = float(np.mean([r.seconds_per_trial for r in long_records]))
    return {
        "config": dataclasses.asdict(config),
        "archs": rows,
        "budgets": [dataclasses.asdict(s) for s in stats],
        "long": {"epochs": config.long_epochs, "seconds_per_trial": long_seconds},
        "recommendation": dataclasses.asdict(recommendation),
    }
