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

from search.controllers import controller
from search.latency.meter import BACKENDS
from search.spaces.registry import list_spaces
from tflite_bench import checks
from tflite_bench.benchmark import CLOCKS

DEFAULT_REFERENCES = ("mobilenet-v2", "mobilenet-v3-large", "mobilenet-v3-small", "mnasnet-a1")
REWARDS = ("soft", "hard")
ROLES = ("chief", "worker")


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """A search: the space and controller, the proxy task, the latency backend and target, the
    references, where results go, and (optionally) the distributed role. Field names are the
    binary's flag names; `mnasnet-search --help` describes each."""

    # the space and the controller
    space: str = "mnasnet"
    algorithm: str = "reinforce"
    policy: str = "independent"
    max_trials: int = 20
    trials_per_run: int | None = None
    seed: int = 0
    # the proxy task
    dataset: str = "digits"
    data_dir: str | None = None
    proxy_image_size: int = 32
    epochs_per_trial: int = 3
    proxy_repeats: int = 1
    batch_size: int = 64
    learning_rate: float | None = None
    steps_per_epoch: int | None = None
    recycle_every: int = 20
    reuse_results: bool = True
    max_consecutive_failed_trials: int = 10
    train_verbose: int = 2
    # latency and the reward
    latency_target_ms: float | None = None
    reward: str = "soft"
    w: float | None = None
    backend: str = "local"
    latency_image_size: int = 224
    threads: int = 1
    latency_clock: str = "thread_cpu"
    latency_runs: int = 30
    predictor_table: str | None = None
    quantization: str = "float32"
    measure_every: int = 10
    allow_other_device: bool = False
    adb: str | None = None
    adb_serial: str | None = None
    benchmark_model: str | None = None
    taskset_mask: str | None = None
    # references, output
    references: tuple[str, ...] = DEFAULT_REFERENCES
    train_references: bool = True
    directory: str = "runs"
    project_name: str = "search"
    overwrite: bool = False
    export: bool = True
    tensorboard: bool = True
    estimate: bool = False
    log_estimate: bool = True
    # distribution (keras-tuner chief / workers)
    distributed_role: str | None = None
    oracle_ip: str = "127.0.0.1"
    oracle_port: int = 8000
    tuner_id: str | None = None
    worker_timeout_s: float = 1800.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "references", tuple(self.references))
        _one_of("space", self.space, list_spaces())
        _one_of("algorithm", self.algorithm, controller.ALGORITHMS)
        _one_of("policy", self.policy, controller.POLICIES)
        _one_of("reward", self.reward, REWARDS)
        _one_of("backend", self.backend, BACKENDS)
        _one_of("latency_clock", self.latency_clock, CLOCKS)
        if self.distributed_role is not None:
            _one_of("distributed_role", self.distributed_role, ROLES)
        for name, minimum in (
            ("max_trials", 1),
            ("proxy_image_size", 32),
            ("epochs_per_trial", 1),
            ("proxy_repeats", 1),
            ("batch_size", 1),
            ("recycle_every", 0),
            ("max_consecutive_failed_trials", 0),
            ("latency_image_size", 32),
            ("threads", 1),
            ("latency_runs", 1),
            ("oracle_port", 1),
        ):
            _at_least(name, getattr(self, name), minimum)
        for name in ("trials_per_run", "steps_per_epoch"):
            if getattr(self, name) is not None:
                _at_least(name, getattr(self, name), 1)
        if self.oracle_port > 65535:
            raise ValueError(f"--oracle_port must be at most 65535; got {self.oracle_port}")
        if not checks.is_finite_number(self.worker_timeout_s) or self.worker_timeout_s <= 0:
            raise ValueError(f"--worker_timeout_s must be positive; got {self.worker_timeout_s!r}")
        if self.w is not None and not (checks.is_finite_number(self.w) and self.w < 0):
            raise ValueError(f"--w must be negative (latency should cost reward); got {self.w}")
        if self.latency_target_ms is not None and not (
            checks.is_finite_number(self.latency_target_ms) and self.latency_target_ms > 0
        ):
            raise ValueError(f"--latency_target_ms must be positive; got {self.latency_target_ms}")
        if self.learning_rate is not None and not (
            checks.is_finite_number(self.learning_rate) and self.learning_rate > 0
        ):
            raise ValueError(f"--learning_rate must be positive; got {self.learning_rate}")
        if self.backend in ("predictor", "hybrid") and not self.predictor_table:
            raise ValueError(
                f"--backend={self.backend} needs --predictor_table=PATH (build one with "
                "`tflite-bench --build_table --space=SPACE`)"
            )
        _one_of("quantization", self.quantization, ("float32", "int8"))
        _at_least("measure_every", self.measure_every, 1)
        if self.backend == "adb" and not self.benchmark_model:
            raise ValueError(
                "--backend=adb needs --benchmark_model=PATH: a benchmark_model binary built for "
                "the device (the TFLite performance docs link prebuilt ones)"
            )
        from search.multitrial import references

        references.resolve(self.references)  # ValueError naming an unknown model

    @classmethod
    def from_flags(cls, values: Any) -> SearchConfig:
        """The config that parsed absl flag values (with one flag per field) say."""
        return cls(**{field.name: getattr(values, field.name) for field in dataclasses.fields(cls)})

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


def _one_of(name: str, value: object, allowed) -> None:
    if value not in tuple(allowed):
        raise ValueError(f"--{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def _at_least(name: str, value: object, minimum: int) -> None:
    if not checks.is_int(value) or value < minimum:
        raise ValueError(f"--{name} must be an integer >= {minimum}; got {value!r}")
