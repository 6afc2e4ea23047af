"""What one search trial costs, phase by phase, and the process's memory over many trials.

    python benchmarks/trial_cost.py --trials=8 --label=after        # the README's proxy
    python benchmarks/trial_cost.py --trials=200 --epochs=1 --steps_per_epoch=3 \\
        --batch_size=32 --latency_image_size=32 --latency_runs=3 --label=after_rss

Runs a real search in this process (`MnasOracle` with the default REINFORCE controller, `MnasTuner`,
`ProxyData` on digits, the local LiteRT latency backend; no reference models) and attributes the
wall time of every trial to phases by timing wrappers installed around the library functions
that do the work (exclusive time: a phase nested in another is not counted twice):

- build: the proxy model (`builder.build_model` outside the latency meter);
- compile: `recipe.compile_for_training`;
- trace: the first training step minus a steady-state step (tracing, graph optimisation,
  first-run kernel set-up);
- steps: training steps in steady state (steps run × the median step time) — the work a trial
  must do; `fit_other` is the rest of `model.fit` (epoch boundaries, iterator set-up);
- bn, eval: BN re-estimation and held-out evaluation (plus their tracing);
- latency_build, convert, latency: the deployment-resolution model, its .tflite conversion and
  the measurement (or the wait for them, when they run beside training);
- oracle, oracle_save: trial creation, policy update and writing the oracle state;
- reports: rebuilding the records and writing trials.csv, pareto.*, history.png, summary.json;
- clear_session, save_best: Keras session reset, and saving the best model so far;
- other: whatever is left of the trial's wall time.

The process RSS is read after every trial. Writes benchmarks/results/trial_cost_<label>.json and
.md. Timings, never assertions. To measure another checkout (a "before"), run this file with
`PYTHONPATH=<that checkout>`; wrappers whose target does not exist there are skipped.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

flags.DEFINE_integer("trials", 8, "Trials to run.")
flags.DEFINE_integer("epochs", 3, "Proxy epochs per trial (the README's search: 3).")
flags.DEFINE_integer("steps_per_epoch", None, "Cap on steps per epoch (None: the split, 17).")
flags.DEFINE_integer("batch_size", 64, "Proxy batch size (the README's: 64).")
flags.DEFINE_integer("latency_image_size", 224, "Deployment resolution of the latency phase.")
flags.DEFINE_integer("latency_runs", 30, "Timed runs per latency measurement.")
flags.DEFINE_enum("backend", "local", ["local", "predictor"], "Latency backend.")
flags.DEFINE_string("predictor_table", None, "Latency table for --backend=predictor.")
flags.DEFINE_integer("seed", 0, "Search seed.")
flags.DEFINE_integer(
    "recycle_every",
    0,
    "Proxy training in a child process replaced after this many trials (search.proxy.worker; "
    "the search's default is 20). 0: in this process, where the per-phase timers can see it.",
)
flags.DEFINE_list("rss_at", ["1", "10", "50", "100", "200"], "Trials after which RSS is reported.")
flags.DEFINE_string("label", "after", "Name of this measurement (files trial_cost_<label>.*).")
flags.DEFINE_string(
    "output_dir", os.path.join(os.path.dirname(__file__), "results"), "Where to write."
)
flags.DEFINE_list(
    "compare",
    None,
    "Instead of running: labels of earlier runs (e.g. before,after) to put side by side in "
    "trial_cost.md.",
)
flags.DEFINE_bool("reports", True, "Write the reports after every trial (as mnasnet-search).")
FLAGS = flags.FLAGS

PHASES = (
    "build",
    "compile",
    "trace",
    "steps",
    "fit_other",
    "bn",
    "eval",
    "latency_build",
    "convert",
    "latency",
    "oracle",
    "oracle_save",
    "reports",
    "clear_session",
    "save_best",
    "other",
)


class PhaseClock:
    """Exclusive wall time per phase: time inside a nested phase counts for the inner one."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.stack: list[list] = []  # [phase, start of its current exclusive stretch]

    def add(self, phase: str, seconds: float) -> None:
        """Adds `seconds` to `phase`."""
        self.totals[phase] = self.totals.get(phase, 0.0) + seconds

    def enter(self, phase: str) -> None:
        """Starts `phase` (pausing the enclosing one)."""
        now = time.perf_counter()
        if self.stack:
            outer = self.stack[-1]
            self.add(outer[0], now - outer[1])
        self.stack.append([phase, now])

    def leave(self) -> None:
        """Ends the innermost phase (resuming the enclosing one)."""
        now = time.perf_counter()
        phase, start = self.stack.pop()
        self.add(phase, now - start)
        if self.stack:
            self.stack[-1][1] = now

    def take(self) -> dict[str, float]:
        """The totals so far, reset to zero."""
        totals, self.totals = self.totals, {}
        return totals

    def wrap(self, owner, name: str, phase: str | Callable[[list], str]) -> bool:
        """Replaces `owner.name` by a timed wrapper; False when `owner` has no such attribute."""
        original = owner.__dict__.get(name) if isinstance(owner, type) else None
        if original is None:
            original = getattr(owner, name, None)
        if original is None:
            return False
        if isinstance(original, (staticmethod, classmethod)):
            return False

        @functools.wraps(original)
        def timed(*args, **kwargs):
            label = phase([p for p, _ in self.stack]) if callable(phase) else phase
            self.enter(label)
            try:
                return original(*args, **kwargs)
            finally:
                self.leave()

        setattr(owner, name, timed)
        return True


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _children_rss_mb() -> float:
    try:
        import psutil

        return sum(c.memory_info().rss for c in psutil.Process().children(recursive=True)) / 2**20
    except Exception:  # noqa: BLE001 - optional figure
        return 0.0


def _install(clock: PhaseClock) -> list[str]:
    """Wraps the library's working functions with phase timers; returns what was wrapped."""
    import keras
    import numpy as np

    from mnasnet_tf import builder, proxy_train, recipe
    from mnasnet_tf import eval as eval_lib
    from search.multitrial import oracle, tuner
    from tflite_bench import benchmark, convert

    installed = []

    def wrap(owner, name, phase):
        if clock.wrap(owner, name, phase):
            installed.append(f"{getattr(owner, '__name__', owner)}.{name}")

    wrap(builder, "build_model", lambda s: "latency_build" if "latency" in s else "build")
    wrap(recipe, "compile_for_training", "compile")
    wrap(recipe.BatchNormCalibrator, "__init__", "bn")
    wrap(recipe.BatchNormCalibrator, "__call__", "bn")
    wrap(eval_lib, "evaluate_keras", "eval")
    for name in ("calibrate_and_evaluate", "ProxyEvaluator"):
        wrap(proxy_train, name, "bn")  # the fused BN + eval pass, where it exists
    wrap(convert, "convert", "convert")
    wrap(benchmark, "measure", "latency")
    wrap(tuner.LatencyMeter, "measure", "latency")
    try:  # where the meter converts in a process of its own: the wait for it
        from search.latency import meter as latency_meter

        wrap(latency_meter.LatencyMeter, "submit", "latency")
        wrap(latency_meter.PendingLatency, "result", "latency")
    except ImportError:
        pass
    wrap(tuner.MnasTuner, "_save_best_model", "save_best")
    wrap(tuner, "load_records", "reports")
    wrap(tuner, "write_reports", "reports")
    wrap(tuner.MnasTuner, "write_all_reports", "reports")
    wrap(oracle.MnasOracle, "create_trial", "oracle")
    wrap(oracle.MnasOracle, "end_trial", "oracle")
    wrap(oracle.MnasOracle, "save", "oracle_save")
    wrap(keras.utils, "clear_session", "clear_session")

    fit = keras.Model.fit

    class BatchTimer(keras.callbacks.Callback):
        """Wall time of every training step."""

        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []
            self._start = 0.0

        def on_train_batch_begin(self, batch, logs=None):
            self._start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    def timed_fit(model, *args, callbacks=None, **kwargs):
        timer = BatchTimer()
        clock.enter("fit")
        try:
            return fit(model, *args, callbacks=[*(callbacks or []), timer], **kwargs)
        finally:
            clock.leave()
            fit_seconds = clock.totals.pop("fit", 0.0)
            if timer.seconds:
                step = float(np.median(timer.seconds))
                steps = step * len(timer.seconds)
                trace = max(timer.seconds[0] - step, 0.0)
                clock.add("steps", steps)
                clock.add("trace", trace)
                clock.add("fit_other", fit_seconds - steps - trace)
                clock.add("_steps_run", len(timer.seconds))
            else:
                clock.add("fit_other", fit_seconds)

    keras.Model.fit = timed_fit
    installed.append("keras.Model.fit")
    return installed


def run(label: str) -> dict:
    """Runs the search and returns the per-trial figures."""
    import keras_tuner
    import numpy as np
    import tensorflow as tf

    from search.controllers import reward
    from search.multitrial import oracle as oracle_module
    from search.multitrial import tuner
    from search.proxy import task as proxy
    from search.spaces import registry as space_registry

    clock = PhaseClock()
    installed = _install(clock)
    data = proxy.ProxyData("digits", image_size=32, batch_size=FLAGS.batch_size)
    task = proxy.ProxyTask(
        image_size=32,
        epochs=FLAGS.epochs,
        classes=data.num_classes,
        steps_per_epoch=FLAGS.steps_per_epoch,
        verbose=0,
    )
    directory = tempfile.mkdtemp(prefix="trial-cost-")
    meter = tuner.LatencyMeter(
        FLAGS.backend,
        image_size=FLAGS.latency_image_size,
        classes=data.num_classes,
        runs=FLAGS.latency_runs,
        cache_path=os.path.join(directory, "latency_cache.json"),
        predictor_table=FLAGS.predictor_table,
    )
    search_space = space_registry.get_space("mnasnet")
    reward_config = reward.RewardConfig.from_flags("soft", target_ms=10.0)
    oracle = oracle_module.MnasOracle(
        search_space, reward=reward_config, max_trials=FLAGS.trials, seed=FLAGS.seed
    )
    search_tuner = tuner.MnasTuner(
        oracle,
        space=search_space,
        reward=reward_config,
        proxy=task,
        meter=meter,
        directory=directory,
        project_name="search",
        write_reports=FLAGS.reports,
        search_seed=FLAGS.seed,
        recycle_every=FLAGS.recycle_every,
    )
    rows: list[dict] = []
    last = [time.perf_counter()]
    end_trial = search_tuner.on_trial_end

    def on_trial_end(trial):
        end_trial(trial)
        now = time.perf_counter()
        phases = clock.take()
        steps_run = int(phases.pop("_steps_run", 0))
        wall = now - last[0]
        last[0] = now
        phases["other"] = wall - sum(phases.values())
        record = search_tuner.oracle.get_trial(trial.trial_id)
        metrics = {
            name: record.metrics.get_last_value(name)
            for name in ("accuracy", "latency_ms", "reward", "convert_seconds", "measure_seconds")
            if record.metrics.exists(name)
        }
        row = {
            "trial": len(rows) + 1,
            "status": record.status,
            "wall_s": wall,
            "phases_s": {p: round(phases.get(p, 0.0), 4) for p in PHASES},
            "steps_run": steps_run,
            "steps_share": phases.get("steps", 0.0) / wall if wall else 0.0,
            "rss_mb": _rss_mb(),
            "children_rss_mb": _children_rss_mb(),
            **metrics,
        }
        rows.append(row)
        print(
            f"[{label}] trial {row['trial']:>3}  {wall:6.2f} s"
            f"  steps {phases.get('steps', 0):5.2f} s"
            f"  ({100 * row['steps_share']:4.1f}%)  rss {row['rss_mb']:7.1f} MB"
            f" (+{row['children_rss_mb']:.0f})  {record.status}",
            flush=True,
        )

    search_tuner.on_trial_end = on_trial_end
    started = time.perf_counter()
    search_tuner.search(data, verbose=0)
    total = time.perf_counter() - started
    return {
        "label": label,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": {
            "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "tensorflow": tf.__version__,
            "keras_tuner": keras_tuner.__version__,
            "numpy": np.__version__,
        },
        "code": {"search.multitrial.tuner": tuner.__file__, "wrapped": installed},
        "config": {
            "trials": FLAGS.trials,
            "epochs": FLAGS.epochs,
            "steps_per_epoch": FLAGS.steps_per_epoch,
            "batch_size": FLAGS.batch_size,
            "latency_image_size": FLAGS.latency_image_size,
            "latency_runs": FLAGS.latency_runs,
            "backend": FLAGS.backend,
            "reports": FLAGS.reports,
            "seed": FLAGS.seed,
            "recycle_every": FLAGS.recycle_every,
        },
        "total_s": total,
        "trials": rows,
        "summary": summarize(rows),
    }


def summarize(rows: list[dict]) -> dict:
    """Median and min seconds per phase, the wall / steps ratio and RSS at the report points."""
    done = [r for r in rows if r["status"] == "COMPLETED"] or rows
    phases = {}
    for phase in PHASES:
        values = [r["phases_s"][phase] for r in done]
        phases[phase] = {"median": statistics.median(values), "min": min(values)}
    ratios = [r["wall_s"] / r["phases_s"]["steps"] for r in done if r["phases_s"]["steps"] > 0]
    rss = {
        str(n): {"rss_mb": rows[n - 1]["rss_mb"], "children_rss_mb": rows[n - 1]["children_rss_mb"]}
        for n in sorted({int(x) for x in FLAGS.rss_at})
        if n <= len(rows)
    }
    walls = [r["wall_s"] for r in done]
    return {
        "completed": len([r for r in rows if r["status"] == "COMPLETED"]),
        "wall_s": {"median": statistics.median(walls), "min": min(walls)},
        "phases_s": phases,
        "wall_over_steps": {
            "median": statistics.median(ratios) if ratios else None,
            "min": min(ratios) if ratios else None,
        },
        "rss_mb": rss,
    }


def _markdown(result: dict) -> str:
    summary, config = result["summary"], result["config"]
    lines = [
        f"# Trial cost: {result['label']}",
        "",
        f"{result['date']} · {result['host']['cpu_count']} cores (shared) · TensorFlow "
        f"{result['host']['tensorflow']} · {config['trials']} trials of the mnasnet space on "
        f"digits 32², {config['epochs']} epochs × "
        f"{config['steps_per_epoch'] or 'all'} steps, batch {config['batch_size']}; latency "
        f"{config['backend']} at {config['latency_image_size']}², {config['latency_runs']} runs. "
        f"{summary['completed']} trials completed; total {result['total_s']:.0f} s.",
        "",
        "| phase | median s | min s |",
        "|---|---|---|",
    ]
    for phase, values in summary["phases_s"].items():
        lines.append(f"| {phase} | {values['median']:.2f} | {values['min']:.2f} |")
    ratio = summary["wall_over_steps"]
    lines += [
        f"| **trial wall** | **{summary['wall_s']['median']:.2f}** "
        f"| **{summary['wall_s']['min']:.2f}** |",
        "",
        f"Wall / training steps: median {ratio['median']:.2f}×, min {ratio['min']:.2f}×."
        if ratio["median"]
        else "",
        "",
        "| after trial | RSS MB | child processes MB | total MB |",
        "|---|---|---|---|",
    ]
    for n, values in summary["rss_mb"].items():
        lines.append(
            f"| {n} | {values['rss_mb']:.0f} | {values['children_rss_mb']:.0f} | "
            f"{values['rss_mb'] + values['children_rss_mb']:.0f} |"
        )
    lines += ["", f"Reproduce: `python benchmarks/trial_cost.py --trials={config['trials']} ...`"]
    return "\n".join(lines) + "\n"


def _comparison(results: list[dict]) -> str:
    """Per-phase medians (min) of several runs side by side, and their RSS figures."""
    head = " | ".join(r["label"] for r in results)
    lines = [
        "# Trial cost, side by side",
        "",
        "Seconds per trial: median (min) over each run's completed trials; see the "
        "trial_cost_<label>.md files for the configurations.",
        "",
        f"| phase | {head} |",
        "|---|" + "---|" * len(results),
    ]
    for phase in PHASES:
        cells = [
            f"{r['summary']['phases_s'][phase]['median']:.2f} "
            f"({r['summary']['phases_s'][phase]['min']:.2f})"
            for r in results
        ]
        lines.append(f"| {phase} | {' | '.join(cells)} |")
    walls = [
        f"{r['summary']['wall_s']['median']:.2f} ({r['summary']['wall_s']['min']:.2f})"
        for r in results
    ]
    ratios = [f"{r['summary']['wall_over_steps']['median']:.2f}×" for r in results]
    lines += [
        f"| **trial wall** | {' | '.join(walls)} |",
        f"| wall / steps | {' | '.join(ratios)} |",
    ]
    points = sorted({int(n) for r in results for n in r["summary"]["rss_mb"]})
    lines += ["", f"| RSS MB after trial | {head} |", "|---|" + "---|" * len(results)]
    for n in points:
        cells = []
        for r in results:
            value = r["summary"]["rss_mb"].get(str(n))
            cells.append(
                "-" if value is None else f"{value['rss_mb']:.0f} (+{value['children_rss_mb']:.0f})"
            )
        lines.append(f"| {n} | {' | '.join(cells)} |")
    lines += ["", "(+N): resident memory of the latency measurement process, where there is one."]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    del argv
    if FLAGS.compare:
        results = []
        for label in FLAGS.compare:
            with open(
                os.path.join(FLAGS.output_dir, f"trial_cost_{label}.json"), encoding="utf-8"
            ) as handle:
                results.append(json.load(handle))
        path = os.path.join(FLAGS.output_dir, "trial_cost.md")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(_comparison(results))
        print(_comparison(results))
        print(f"Wrote {path}")
        return
    result = run(FLAGS.label)
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    stem = os.path.join(FLAGS.output_dir, f"trial_cost_{FLAGS.label}")
    with open(f"{stem}.json", "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    with open(f"{stem}.md", "w", encoding="utf-8") as handle:
        handle.write(_markdown(result))
    print(_markdown(result))
    print(f"Wrote {stem}.json and {stem}.md")


if __name__ == "__main__":
    app.run(main)
