"""The settings of the search-efficiency benchmark: `SearchEfficiencyConfig` (frozen, validated
once, one field per flag of the binary), the methods it compares, the values and minimums the
settings may take, and the names of the search projects in the work directory.

Must not import TensorFlow or absl flags, and must not run or read anything.
"""

from __future__ import annotations

import dataclasses
import os
import re

import search_efficiency_report as report_files

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
        if self.archive is not None and (
            not self.archive.endswith(".tar.gz") or os.path.isdir(self.archive)
        ):
            raise SettingsError(f"--archive must name a .tar.gz file; got {self.archive!r}")
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
        return os.path.join(self.workdir, project_name(algorithm, seed))


def project_name(algorithm: str, seed: int) -> str:
    """The name of one method's search project for one seed (its folder in the workdir)."""
    return f"{algorithm}_seed{seed}"
