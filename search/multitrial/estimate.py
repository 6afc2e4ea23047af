"""How long a search will take, measured on this machine before it starts.

Owns `Estimate` (the expected wall time of a search and its parts: start-up, this measurement,
the reference models, the trials, the export; for this machine and for N workers) and
`estimate(config)`, which measures the parts a trial is made of instead of guessing them:

- proxy training: the space's default architecture is built at the proxy resolution and trained
  on the real proxy data for two short epochs of a few steps (`proxy_train.train_proxy`, so
  compile, BN re-estimation and evaluation are the real ones); the callback's timestamps split
  the first epoch's extra cost (tracing, graph optimisation: ~5 s per architecture) from the
  steady step time and the epoch boundaries, which are then scaled to the search's epochs ×
  steps (`benchmarks/results/trial_cost*.md` has what each phase of a real trial costs);
- conversion and latency: MobileNetV2 at the deployment resolution converted and timed on the
  search's backend through its `LatencyMeter`, after the training measurement (in a trial the
  conversion runs beside the training: it adds only what does not fit beside it, though it
  slows the steps by ~5–10% on 2 cores); a table backend or a cached figure costs nothing;
- references: the proxy runs of those not in the project's `references.json`, and the latency
  of those not in its latency cache;
- export: a float32 conversion of the trained model, twice (the int8 conversion of a proxy-size
  model took as long as the float32 one), plus `EXPORT_OTHER_S` for the rest of the end.

The measurement takes ~15–30 s on 2 cores and writes nothing but, inside `run_search`, the
latency cache entry of MobileNetV2 (which the default target needs anyway). An architecture
sampled twice is not trained twice, so the trials part is an upper bound.

Imports TensorFlow only inside `estimate` (through the data, builder and proxy training). Must
not import the tuner, the oracle or `search.multitrial.run` (which imports this module).
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import statistics
import sys
import tempfile
import time
from typing import Any

from mnasnet_tf import zoo
from search.multitrial.config import SearchConfig
from search.spaces.registry import get_space

MEASURE_STEPS = 6
"""Steps per measured epoch (two epochs are measured), or fewer when an epoch has fewer."""
TF_IMPORT_S = 8.0
"""Importing TensorFlow and Keras in a fresh process, when this process cannot measure it (it
imported them already): 5–12 s on the 2-core development machine."""
BOOKKEEPING_S = 1.0
"""Per trial, outside training and latency: the controller update and oracle state (0.07 s),
the reports (0.24 s), the Keras session reset (0.29 s), saving the best model (0.18 s) and the
rest, as medians of benchmarks/results/trial_cost_after.md."""
EXPORT_OTHER_S = 8.0
"""The end of a search beside its two conversions (float32 and int8 take about as long as each
other): loading the kept best model (2.7 s measured on the loaded 2-core machine), the export
check (both files evaluated on the held-out split and timed) and the final reports."""
BN_FORWARD_FRACTION = 1 / 3
"""A BN re-estimation batch (a training-mode forward pass) costs about this share of a step."""
WORKER_COUNTS = (2, 4)
_FINISHED = ("COMPLETED", "FAILED", "INVALID", "STOPPED")


@dataclasses.dataclass(frozen=True)
class Estimate:
    """The expected wall time of a search, in seconds, and its measured parts.

    Attributes:
      trials: the new trials this run will train (the budget less the trials already done).
      epochs, steps_per_epoch, repeats: the proxy budget per architecture.
      build_s: building and compiling one proxy model.
      first_epoch_extra_s: what the first epoch costs beyond a later one (tracing, graph
        optimisation, first-run kernel set-up).
      step_s: one steady-state training step.
      epoch_overhead_s: an epoch's cost beyond its steps (iterator set-up, callbacks).
      finish_s: BN re-estimation and held-out evaluation after training.
      convert_s: converting a deployment model to .tflite (runs beside the proxy training).
      latency_s: the timed runs of a deployment model on the backend.
      cores: CPU cores of this machine (the conversion takes one from the proxy training).
      bookkeeping_s: per trial, the controller, the oracle state and the reports.
      startup_s: importing TensorFlow and loading the data, in this process and again in each
        new proxy training process (one per `recycle_every` trials).
      processes: proxy training processes the trials will start.
      measure_s: this measurement (every search runs it before its first trial).
      references_trained: references to train on the proxy (not cached in the project).
      references_measured: references whose latency is to be measured (not cached).
      export_s: the end: the best model converted to float32 and int8 .tflite, the export
        check and the final reports.
    """

    trials: int
    epochs: int
    steps_per_epoch: int
    repeats: int
    build_s: float
    first_epoch_extra_s: float
    step_s: float
    epoch_overhead_s: float
    finish_s: float
    convert_s: float
    latency_s: float
    cores: int
    bookkeeping_s: float
    startup_s: float
    processes: int
    measure_s: float
    references_trained: int
    references_measured: int
    export_s: float

    @property
    def first_epoch_s(self) -> float:
        """The first proxy epoch: tracing plus an ordinary epoch."""
        return self.first_epoch_extra_s + self.epoch_s

    @property
    def epoch_s(self) -> float:
        """A later proxy epoch: its steps and its overhead."""
        return self.steps_per_epoch * self.step_s + self.epoch_overhead_s

    @property
    def proxy_run_s(self) -> float:
        """One proxy run (one seed of one architecture): build, epochs, BN and evaluation."""
        return self.build_s + self.first_epoch_s + (self.epochs - 1) * self.epoch_s + self.finish_s

    @property
    def proxy_s(self) -> float:
        """The proxy training of one architecture (`repeats` runs)."""
        return self.repeats * self.proxy_run_s

    @property
    def exposed_latency_s(self) -> float:
        """What latency adds to a trial: the timed runs, the part of the conversion that does
        not fit beside the proxy training, and what the part that does takes from it (one core
        of `cores` for its duration)."""
        hidden = min(self.convert_s, self.proxy_s)
        return self.latency_s + (self.convert_s - hidden) + hidden / self.cores

    @property
    def trial_s(self) -> float:
        """One trial: proxy training, exposed latency and bookkeeping."""
        return self.proxy_s + self.exposed_latency_s + self.bookkeeping_s

    @property
    def references_s(self) -> float:
        """Training and measuring the references that are not cached."""
        return self.references_trained * self.proxy_s + self.references_measured * (
            self.convert_s + self.latency_s
        )

    @property
    def total_s(self) -> float:
        """The whole search on this machine, one process."""
        return self.total_for(1)

    def total_for(self, workers: int) -> float:
        """The whole search with `workers` workers, each on a machine like this one and the
        trials divided evenly among them (the references and the export stay with one
        process)."""
        if workers < 1:
            raise ValueError(f"workers must be at least 1; got {workers}")
        trials = math.ceil(self.trials / workers)
        processes = math.ceil(self.processes / workers)
        return (
            self.startup_s * (1 + processes)
            + self.measure_s
            + self.references_s
            + trials * self.trial_s
            + self.export_s
        )

    def parts(self) -> dict[str, float]:
        """The total's parts on this machine: start-up (this process and the proxy training
        processes), the measurement, references, trials, export; they sum to `total_s`."""
        return {
            "startup": self.startup_s * (1 + self.processes),
            "measure": self.measure_s,
            "references": self.references_s,
            "trials": self.trials * self.trial_s,
            "export": self.export_s,
        }

    def summary(self) -> str:
        """One line: the total, its parts, and the totals with more workers."""
        parts = self.parts()
        workers = ", ".join(f"{n} workers ~{_duration(self.total_for(n))}" for n in WORKER_COUNTS)
        return (
            f"estimate: ~{_duration(self.total_s)} for {self.trials} trials (start-up "
            f"{_duration(parts['startup'])}, estimate {_duration(parts['measure'])}, references "
            f"{_duration(parts['references'])}, trials {self.trials} × {self.trial_s:.1f}s "
            f"[proxy {self.proxy_s:.1f}s, latency {self.exposed_latency_s:.1f}s], export "
            f"{_duration(parts['export'])}); {workers}"
        )

    def describe(self) -> str:
        """A few lines for a person: the total, each part and how it was obtained, and the
        totals with 2 and 4 workers."""
        parts = self.parts()
        lines = [
            f"Expected wall time: ~{_duration(self.total_s)} for {self.trials} new trials on this "
            "machine",
            f"  start-up     {_duration(parts['startup']):>7}  TensorFlow import and data "
            f"{self.startup_s:.1f}s, here and in {self.processes} proxy training process(es)",
            f"  estimate     {_duration(parts['measure']):>7}  this measurement (every search "
            "runs it first)",
            f"  references   {_duration(parts['references']):>7}  {self.references_trained} to "
            f"train × {self.proxy_s:.1f}s, {self.references_measured} latencies × "
            f"{self.convert_s + self.latency_s:.1f}s",
            f"  trials       {_duration(parts['trials']):>7}  {self.trials} × {self.trial_s:.1f}s",
            f"    proxy        {self.proxy_s:5.1f}s  {self.repeats} × (build + compile "
            f"{self.build_s:.1f}s, first epoch {self.first_epoch_s:.1f}s with "
            f"{self.first_epoch_extra_s:.1f}s tracing, {self.epochs - 1} later × "
            f"{self.epoch_s:.1f}s [{self.steps_per_epoch} steps × {self.step_s:.3f}s], "
            f"BN + evaluation {self.finish_s:.1f}s)",
            f"    latency      {self.exposed_latency_s:5.1f}s  timed runs {self.latency_s:.1f}s; "
            f"conversion {self.convert_s:.1f}s beside the proxy training (one of {self.cores} "
            "cores)",
            f"    bookkeeping  {self.bookkeeping_s:5.1f}s  controller, oracle state, reports",
            f"  export       {_duration(parts['export']):>7}  best model → float32 + int8 .tflite",
        ]
        lines += [
            f"  with {n} workers: ~{_duration(self.total_for(n))} (trials divided evenly, each "
            "worker on a machine like this one)"
            for n in WORKER_COUNTS
        ]
        lines.append(
            "  An architecture sampled again reuses its result: the trials part is an upper bound."
        )
        return "\n".join(lines)


def trials_to_run(config: SearchConfig) -> int:
    """The new trials a run of `config` will train: the budget less the trials already ended in
    the project (none with `overwrite`), at most `trials_per_run`."""
    done = 0
    if not config.overwrite:
        for path in glob.glob(os.path.join(config.project_dir, "trial_*", "trial.json")):
            try:
                with open(path, encoding="utf-8") as handle:
                    done += json.load(handle).get("status") in _FINISHED
            except (OSError, ValueError, AttributeError):
                continue
    left = max(config.max_trials - done, 0)
    return min(left, config.trials_per_run) if config.trials_per_run else left


def estimate(
    config: SearchConfig, *, data: Any = None, meter: Any = None, startup_s: float | None = None
) -> Estimate:
    """Measures what the search `config` describes will take on this machine (~15–30 s).

    Args:
      config: the search.
      data: its loaded `ProxyData` (None: loaded here, and the load is timed).
      meter: its `LatencyMeter` (None: one without a cache file is made and closed here; the
        project's latency cache is only read).
      startup_s: what the caller spent importing TensorFlow and loading the data (None:
        measured here).

    Raises ValueError naming a bad data set, latency table or backend setting. Writes nothing
    (a given `meter` caches MobileNetV2's latency).
    """
    started = time.perf_counter()
    tf_import_s = None
    if "tensorflow" not in sys.modules:
        import tensorflow  # noqa: F401 - timed: every proxy training process pays it

        tf_import_s = time.perf_counter() - started
    if data is None:
        data = config.proxy_data()
    if startup_s is None:
        startup_s = time.perf_counter() - started
        if tf_import_s is None:
            startup_s += TF_IMPORT_S
    measure_started = time.perf_counter()
    task = config.proxy_task(data.num_classes)
    trials = trials_to_run(config)
    references_to_train = 0
    if config.train_references and config.distributed_role != "worker":
        from search.multitrial import references

        references_to_train = len(
            references.untrained(
                config.references,
                task=task,
                data=data,
                search_seed=config.seed,
                cache_path=os.path.join(config.project_dir, "references.json"),
            )
        )
    own_meter = meter is None
    project_cache = os.path.join(config.project_dir, "latency_cache.json")
    if own_meter:
        meter = config.latency_meter(data.num_classes, cache_path=None)
        cached = config.latency_meter(
            data.num_classes, cache_path=project_cache if os.path.exists(project_cache) else None
        )
    else:
        cached = meter
    try:
        steps = _steps_per_epoch(config, data)
        timing = (
            _measure_proxy(config, task=task, data=data, steps=steps)
            if trials or references_to_train
            else _ProxyTiming(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        )
        # After the training, not beside it: the measurement process's start (a TensorFlow
        # import) would slow the first epoch more than a trial's conversion does.
        latency = meter.measure(zoo.get_arch("mobilenet-v2"), name="mobilenet-v2")
        # MobileNetV2 is measured first by every search (above), so its latency is cached then.
        references_to_measure = sum(
            name != "mobilenet-v2" and not cached.is_cached(zoo.get_arch(name))
            for name in config.references
        )
    finally:
        if own_meter:
            meter.close()
    processes = 0
    if trials and config.recycle_every:
        processes = math.ceil(trials / config.recycle_every)
    return Estimate(
        trials=trials,
        epochs=config.epochs_per_trial,
        steps_per_epoch=steps,
        repeats=config.proxy_repeats,
        build_s=timing.build_s,
        first_epoch_extra_s=timing.first_epoch_extra_s,
        step_s=timing.step_s,
        epoch_overhead_s=timing.epoch_overhead_s,
        finish_s=timing.finish_s + timing.bn_batch_s * (_bn(steps) - _bn(timing.steps)),
        convert_s=float(latency.metadata.get("convert_seconds", 0.0)),
        latency_s=float(latency.metadata.get("measure_seconds", 0.0)),
        cores=os.cpu_count() or 1,
        bookkeeping_s=BOOKKEEPING_S,
        startup_s=startup_s,
        processes=processes,
        measure_s=time.perf_counter() - measure_started,
        references_trained=references_to_train,
        references_measured=references_to_measure,
        export_s=2 * timing.float32_convert_s + EXPORT_OTHER_S if config.export else 0.0,
    )


@dataclasses.dataclass(frozen=True)
class _ProxyTiming:
    """What the measured proxy run took; `finish_s` re-estimated BN on `_bn(steps)` batches of
    `bn_batch_s` each (estimated: a training-mode forward pass)."""

    steps: int
    build_s: float
    first_epoch_extra_s: float
    step_s: float
    epoch_overhead_s: float
    finish_s: float
    bn_batch_s: float
    float32_convert_s: float


def _steps_per_epoch(config: SearchConfig, data) -> int:
    steps = int(data.train(config.seed).cardinality())
    return min(steps, config.steps_per_epoch) if config.steps_per_epoch else steps


def _measure_proxy(config: SearchConfig, *, task, data, steps: int) -> _ProxyTiming:
    """Trains the space's default architecture for two epochs of a few steps and splits the
    time into build, first-epoch extra, step, epoch overhead and BN + evaluation."""
    import keras

    from mnasnet_tf import builder, proxy_train
    from tflite_bench import convert

    space = get_space(config.space)
    arch = space.to_arch(space.default_choices())
    measured = min(steps, MEASURE_STEPS)
    events: list[tuple[str, float]] = []
    stamp = time.perf_counter
    timer = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: events.append(("begin", stamp())),
        on_train_batch_end=lambda batch, logs: events.append(("batch", stamp())),
        on_epoch_end=lambda epoch, logs: events.append(("epoch", stamp())),
    )
    keras.utils.clear_session(free_memory=True)
    keras.utils.set_random_seed(config.seed)
    start = stamp()
    model = builder.build_model(
        arch, input_shape=(task.image_size, task.image_size, 3), classes=task.classes
    )
    result = proxy_train.train_proxy(
        model,
        data.train(config.seed),
        data.validation(),
        epochs=2,
        steps_per_epoch=measured,
        learning_rate=task.learning_rate,
        verbose=0,
        callbacks=[timer],
    )
    total = stamp() - start
    convert_start = stamp()
    with tempfile.TemporaryDirectory(prefix="mnas-estimate-") as tmp:
        convert.convert(model, quantization="float32", output_path=os.path.join(tmp, "m.tflite"))
    float32_convert_s = stamp() - convert_start
    del model
    keras.utils.clear_session(free_memory=True)

    begin = next(t for kind, t in events if kind == "begin")
    epoch_ends = [t for kind, t in events if kind == "epoch"]
    if len(epoch_ends) < 2:
        raise ValueError(
            f"the proxy of {arch.name!r} did not train for two epochs while estimating "
            "(NaN loss?); the estimate needs a trainable default architecture"
        )
    epochs = [[], []]
    for kind, t in events:
        if kind == "batch":
            epochs[0 if t <= epoch_ends[0] else 1].append(t)
    intervals = [b - a for batches in epochs for a, b in zip(batches, batches[1:], strict=False)]
    first_s, second_s = epoch_ends[0] - begin, epoch_ends[1] - epoch_ends[0]
    step_s = statistics.median(intervals) if intervals else second_s / measured
    epoch_overhead_s = max(second_s - measured * step_s, 0.0)
    return _ProxyTiming(
        steps=measured,
        build_s=total - result.seconds,
        first_epoch_extra_s=max(first_s - second_s, 0.0),
        step_s=step_s,
        epoch_overhead_s=epoch_overhead_s,
        finish_s=result.seconds - (epoch_ends[1] - begin),
        bn_batch_s=step_s * BN_FORWARD_FRACTION,
        float32_convert_s=float32_convert_s,
    )


def _bn(steps: int) -> int:
    """BN re-estimation batches of a proxy run with `steps` steps per epoch (`train_proxy`)."""
    from mnasnet_tf import recipe

    return min(recipe.PROXY_RECIPE.bn_recalibration_batches, steps)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
