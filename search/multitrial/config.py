"""`SearchConfig`: everything a search needs, one field per `mnasnet-search` flag, checked once.

Owns the config dataclass of a search (the binary builds it from its flags; notebooks and scripts
build it directly) and its validation: a bad value raises `ValueError` naming the field (as the
binary's `--flag`) and the value, before anything is written. `run_search`
(search/multitrial/run.py) takes
it.

Must not import TensorFlow, Keras or keras-tuner: a config is checked in milliseconds.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mnasnet_tf import data_settings
from search.controllers import controller
from search.latency.meter import BACKENDS
from search.spaces.registry import list_spaces
from tflite_bench import settings
from tflite_bench.benchmark import CLOCKS

DEFAULT_REFERENCES = ("mobilenet-v2", "mobilenet-v3-large", "mobilenet-v3-small", "mnasnet-a1")
REWARDS = ("soft", "hard")
ROLES = ("chief", "worker")
QUANTIZATIONS = ("float32", "int8")
IDENTITY = (  # SearchConfig.identity: what a resumed project must share
    "space",
    "algorithm",
    "policy",
    "seed",
    "dataset",
    "train_subset",
    "proxy_image_size",
    "epochs_per_trial",
    "proxy_repeats",
    "batch_size",
    "learning_rate",
    "steps_per_epoch",
    "reward",
    "w",
    "latency_target_ms",
    "backend",
    "latency_image_size",
    "threads",
    "latency_clock",
    "quantization",
)


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """A search: the space and controller, the proxy task, the latency backend and target, the
    references, where results go, and (optionally) the distributed role. One field per
    `mnasnet-search` flag: the binary's flags are generated from these fields (default, help,
    allowed values; tflite_bench/settings.py), and `settings.validate` checks each value."""

    space: str = settings.setting("mnasnet", choices=list_spaces, help="Search space.")
    algorithm: str = settings.setting(
        "reinforce", choices=controller.ALGORITHMS, help="Search algorithm."
    )
    policy: str = settings.setting(
        "independent",
        choices=controller.POLICIES,
        help=(
            "Controller policy (RL only): independent categoricals (TuNAS; learns within ~100 "
            "trials) or the MnasNet paper's LSTM (needs a few hundred; docs/REPRODUCTION.md)."
        ),
    )
    max_trials: int = settings.setting(20, minimum=1, help="Number of architectures to sample.")
    trials_per_run: int | None = settings.setting(
        None,
        minimum=1,
        help=(
            "Stop this run after this many new trials; run the same command again to go on (the "
            "project resumes), e.g. to interleave several searches or to fit a time slot."
        ),
    )
    seed: int = settings.setting(
        0,
        help=(
            "Seed of the controller, the data split and every proxy run (each run is seeded from "
            "it and the architecture, so an architecture's proxy accuracy reproduces)."
        ),
    )
    dataset: str = data_settings.dataset()
    data_dir: str | None = data_settings.data_dir()
    train_subset: int | None = data_settings.train_subset()
    proxy_image_size: int = settings.setting(
        32, minimum=32, help="Resolution of the proxy training task."
    )
    epochs_per_trial: int = settings.setting(
        3,
        minimum=1,
        help=(
            "Proxy training epochs per trial. 3 is the cheapest budget whose ranking of "
            "architectures agrees with 10-epoch training (Spearman ≥ 0.8) on digits and digits-m "
            "(mnasnet-proxy-check; docs/REPRODUCTION.md §8); check yours with mnasnet-proxy-check."
        ),
    )
    proxy_repeats: int = settings.setting(
        1,
        minimum=1,
        help=(
            "Seeded proxy runs per architecture (trials and references): the reward uses the mean "
            "accuracy; the std is recorded."
        ),
    )
    batch_size: int = settings.setting(64, minimum=1, help="Proxy training batch size.")
    learning_rate: float | None = settings.setting(
        None, above=0, help="Proxy learning rate (default: the proxy recipe's)."
    )
    steps_per_epoch: int | None = settings.setting(
        None, minimum=1, help="Cap on proxy training steps per epoch (quick runs)."
    )
    recycle_every: int = settings.setting(
        20,
        minimum=0,
        help=(
            "Proxy training runs in a child process replaced after this many trials, so memory "
            "stays flat over long searches (TensorFlow keeps ~65 MB per trained model); 0 trains "
            "in this process."
        ),
    )
    reuse_results: bool = settings.setting(
        True,
        help=(
            "An architecture sampled again reuses its recorded proxy result instead of training "
            "again (its reward still teaches the controller; trials.csv names the trial it came "
            "from)."
        ),
    )
    max_consecutive_failed_trials: int = settings.setting(
        10,
        minimum=0,
        help=(
            "Stop the search when this many trials in a row fail (NaN loss, out of memory, "
            "conversion error); every trial keeps its reason in trials.csv. 0: never stop."
        ),
    )
    train_verbose: int = settings.setting(
        2, help="Keras verbosity of proxy training (0 silent, 1 bar, 2 line per epoch)."
    )
    latency_target_ms: float | None = settings.setting(
        None,
        above=0,
        help="Latency target T in ms. Default: the measured latency of MobileNetV2 on the backend.",
    )
    reward: str = settings.setting(
        "soft", choices=REWARDS, help="Soft (α=β=w) or hard (α=0, β=-1) reward."
    )
    w: float | None = settings.setting(
        None, below=0, help="Soft-reward exponent w (negative; default -0.07, the paper's)."
    )
    backend: str = settings.setting(
        "local",
        choices=BACKENDS,
        help=(
            "Latency backend: local (LiteRT on this host), adb (a phone), predictor (a latency "
            "table), hybrid (the table predicts; every --measure_every-th model and every model "
            "that would enter the Pareto front is also measured on the table's device and refits "
            "the table)."
        ),
    )
    latency_image_size: int = settings.setting(
        224, minimum=32, help="Deployment resolution at which latency is measured."
    )
    threads: int = settings.setting(1, minimum=1, help="Threads for latency measurement.")
    latency_clock: str = settings.setting(
        "thread_cpu",
        choices=CLOCKS,
        help=(
            "Local latency clock: the measuring thread's CPU time (robust to other jobs; 1 thread "
            "only) or wall time."
        ),
    )
    latency_runs: int = settings.setting(30, minimum=1, help="Timed runs per latency measurement.")
    predictor_table: str | None = settings.setting(
        None, help="Latency table JSON for --backend=predictor or hybrid."
    )
    quantization: str = settings.setting(
        "float32",
        choices=QUANTIZATIONS,
        help="Format whose latency is measured (the format the app ships; a table must match).",
    )
    measure_every: int = settings.setting(
        10, minimum=1, help="--backend=hybrid measures every this-many-th model."
    )
    allow_other_device: bool = settings.setting(
        False,
        help=(
            "Use a --predictor_table built on another device or runtime than --backend=hybrid "
            "measures on (not advised)."
        ),
    )
    adb: str | None = settings.setting(None, help="Path of adb (default: found on PATH).")
    adb_serial: str | None = settings.setting(None, help="Device serial for --backend=adb.")
    benchmark_model: str | None = settings.setting(
        None, help="Path of the benchmark_model binary for adb."
    )
    taskset_mask: str | None = settings.setting(
        None, help="CPU mask (hex) to pin benchmark_model on the phone."
    )
    references: tuple[str, ...] = settings.setting(
        DEFAULT_REFERENCES,
        help=(
            "Zoo models trained on the same proxy, measured on the same backend and drawn as "
            "points on the Pareto plot; the summary says which found model beats each."
        ),
    )
    train_references: bool = settings.setting(
        True,
        help=(
            "Train the references on the proxy (cached in the project). False: latency lines only."
        ),
    )
    directory: str = settings.setting("runs", help="Where search projects are written.")
    project_name: str = settings.setting("search", help="Project folder inside --directory.")
    overwrite: bool = settings.setting(
        False, help="Start afresh instead of resuming an existing project."
    )
    export: bool = settings.setting(
        True, help="Export the best model as float32 and int8 .tflite at the end."
    )
    tensorboard: bool = settings.setting(
        True,
        help=(
            "Write TensorBoard logs to <project>/tensorboard as each trial ends: reward, accuracy,"
            " latency, best reward and controller entropy per trial, and the HParams dashboard "
            "(`tensorboard --logdir=<project>/tensorboard`)."
        ),
    )
    estimate: bool = settings.setting(
        False,
        help=(
            "Print the expected wall time of this search and its parts (proxy training measured on"
            " a few steps, conversion and latency on the backend, references, export) and exit, "
            "without searching or writing anything."
        ),
    )
    log_estimate: bool = settings.setting(
        True,
        help=(
            "Measure and log the expected wall time as the first line of the search (~15-30 s on 2"
            " cores; worth it for a long search, skip it for quick runs)."
        ),
    )
    distributed_role: str | None = settings.setting(
        None, choices=ROLES, help="Run as keras-tuner chief or worker."
    )
    oracle_ip: str = settings.setting("127.0.0.1", help="Chief address (the chief binds to it).")
    oracle_port: int = settings.setting(8000, minimum=1, maximum=65535, help="Chief port.")
    tuner_id: str | None = settings.setting(None, help="This worker's id (default: worker<pid>).")
    worker_timeout_s: float = settings.setting(
        1800.0,
        above=0,
        help=(
            "A trial with no news for this long is given to another worker (its worker is presumed"
            " dead)."
        ),
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "references", tuple(self.references))
        settings.validate(self)
        if self.backend in ("predictor", "hybrid") and not self.predictor_table:
            raise ValueError(
                f"--backend={self.backend} needs --predictor_table=PATH (build one with "
                "`tflite-bench --build_table --space=SPACE`)"
            )
        if self.backend == "adb" and not self.benchmark_model:
            raise ValueError(
                "--backend=adb needs --benchmark_model=PATH: a benchmark_model binary built for "
                "the device (the TFLite performance docs link prebuilt ones)"
            )
        from search.multitrial import references

        references.resolve(self.references)  # ValueError naming an unknown model

    @classmethod
    def from_flags(cls, values: Any) -> SearchConfig:
        """The config that parsed absl flag values (`settings.define_flags(SearchConfig)`) say."""
        return settings.from_flags(cls, values)

    def identity(self) -> dict[str, Any]:
        """The settings a resumed project must share with the search that started it (those
        that change what a trial's record means); budgets, outputs and distribution may
        change between runs."""
        return {name: getattr(self, name) for name in IDENTITY}

    @property
    def project_dir(self) -> str:
        """`directory/project_name`: the search project's folder."""
        import os

        return os.path.join(self.directory, self.project_name)

    def proxy_data(self) -> Any:
        """The proxy data (`search.proxy.task.ProxyData`, loads it: imports TensorFlow); ValueError
        naming a bad data set."""
        from search.proxy.task import ProxyData

        return ProxyData(
            self.dataset,
            image_size=self.proxy_image_size,
            batch_size=self.batch_size,
            data_dir=self.data_dir,
            split_seed=self.seed,
            train_subset=self.train_subset,
        )

    def proxy_task(self, classes: int) -> Any:
        """The `search.proxy.task.ProxyTask` every trial and reference of this search trains on."""
        from search.proxy.task import ProxyTask

        return ProxyTask(
            image_size=self.proxy_image_size,
            epochs=self.epochs_per_trial,
            classes=classes,
            steps_per_epoch=self.steps_per_epoch,
            learning_rate=self.learning_rate,
            verbose=self.train_verbose,
            repeats=self.proxy_repeats,
        )

    def latency_meter(
        self, classes: int, *, cache_path: str | None, state_dir: str | None = None
    ) -> Any:
        """The search's `search.latency.meter.LatencyMeter` (deployment resolution, backend,
        timed runs), caching in `cache_path` (None: in memory only); the hybrid backend keeps
        its calibration in `state_dir`."""
        from search.latency.meter import LatencyMeter

        return LatencyMeter(
            self.backend,
            image_size=self.latency_image_size,
            classes=classes,
            threads=self.threads,
            runs=self.latency_runs,
            clock=self.latency_clock,
            cache_path=cache_path,
            predictor_table=self.predictor_table,
            adb_options=self.adb_options(),
            quantization=self.quantization,
            measure_every=self.measure_every,
            allow_other_device=self.allow_other_device,
            state_dir=state_dir,
        )

    def adb_options(self) -> dict[str, Any]:
        """The adb backend's options beyond threads, runs and warm-up (only those given)."""
        names = {
            "adb_path": self.adb,
            "serial": self.adb_serial,
            "benchmark_model": self.benchmark_model,
            "taskset_mask": self.taskset_mask,
        }
        return {name: value for name, value in names.items() if value}
