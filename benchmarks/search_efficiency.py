"""Search efficiency: RL controllers vs random search at the same trial budget on the proxy.

Runs the real search binary (`python -m search.main`: keras-tuner `MnasOracle` + `MnasTuner`,
proxy training on the bundled digits task, a real latency source) once per method and seed,
each in its own project directory. With --chunk N the searches run round-robin, N trials at a
time (seeds outer, methods inner; `search.main --trials_per_run`), so a benchmark interrupted
at any point has compared like with like, and each chunk is a fresh process. An interrupted
benchmark resumes where it stopped: run the same command again (a finished search is skipped).

Methods: random, reinforce / ppo (with --policy), or reinforce-lstm, reinforce-independent,
ppo-lstm, ppo-independent. From each project's trials.csv it derives, after every trial, the best
reward so far, the best accuracy so far among models no slower than T, and the hypervolume of
the accuracy–latency front (`search.report.hypervolume`, fixed latency reference = factor × T).
T is MobileNetV2's latency on the same backend, measured once per workdir and cached (or
--latency_target_ms). Same seed ⇒ same data split and proxy seeds, so each RL search is paired
with the random search of its seed, at the budget both have reached, with a Wilcoxon
signed-rank p-value per figure (`search.report.wilcoxon_p`).

Writes <results_dir>/search_efficiency.json (config, per-trial curves, summaries), .md (per
method and seed, means at the budget every search reached, paired tests) and .png (mean curves
± one std over seeds). Search projects and their logs go to --workdir.

Run: .venv/bin/python benchmarks/search_efficiency.py --seeds=0,1,2,3,4 \
         --algorithms=random,reinforce-independent --trials=100 --chunk=10 --epochs=3 \
         --steps_per_epoch=0
Aggregate only what is on disk: add --norun (keeps the command and wall time of the run).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shlex
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from absl import app, flags, logging

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from search import report  # noqa: E402  (pure Python, no TensorFlow)

RESULTS = os.path.join(REPO, "benchmarks", "results")
DATASET, CLASSES = "digits", 10

FLAGS = flags.FLAGS
flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds (controller and data split) per algorithm.")
flags.DEFINE_list(
    "algorithms",
    ["reinforce", "random"],
    "Methods compared: random, reinforce, ppo (with --policy), or reinforce-lstm, "
    "reinforce-independent, ppo-lstm, ppo-independent.",
)
flags.DEFINE_integer("trials", 12, "Trials (sampled architectures) per search.", lower_bound=1)
flags.DEFINE_integer(
    "chunk",
    0,
    "Trials per search process, taken round-robin over seeds and methods, so an interrupted "
    "benchmark has compared like with like (0: each search runs to --trials in one process).",
    lower_bound=0,
)
flags.DEFINE_enum(
    "policy", "independent", ["independent", "lstm"], "Controller policy of the RL runs."
)
flags.DEFINE_integer("epochs", 2, "Proxy training epochs per trial.", lower_bound=1)
flags.DEFINE_integer(
    "steps_per_epoch", 12, "Proxy training steps per epoch (0: whole epochs).", lower_bound=0
)
flags.DEFINE_integer("batch_size", 64, "Proxy training batch size.", lower_bound=1)
flags.DEFINE_integer("proxy_image_size", 32, "Proxy training resolution.", lower_bound=32)
flags.DEFINE_enum("backend", "local", ["local", "predictor"], "Latency backend of the search.")
flags.DEFINE_integer(
    "latency_image_size", 224, "Resolution latency is measured at.", lower_bound=32
)
flags.DEFINE_integer(
    "latency_runs", 30, "Timed runs per latency measurement (local).", lower_bound=1
)
flags.DEFINE_enum(
    "latency_clock",
    "thread_cpu",
    ["thread_cpu", "wall"],
    "Local latency clock (the measuring thread's CPU time resists other jobs on the host).",
)
flags.DEFINE_string("predictor_table", None, "Latency table JSON for --backend=predictor.")
flags.DEFINE_float("latency_target_ms", None, "Target T (default: MobileNetV2 on the backend).")
flags.DEFINE_float("hv_ref_factor", 2.0, "Hypervolume latency reference = factor × T.")
flags.DEFINE_string("workdir", os.path.join(REPO, "runs", "search_efficiency"), "Search projects.")
flags.DEFINE_string("results_dir", RESULTS, "Where the .json, .md and .png results are written.")
flags.DEFINE_string("note", None, "Free text added to the .md (what happened during the run).")
flags.DEFINE_bool("run", True, "Run (or resume) the searches; --norun only aggregates.")


# ---- the searches ----


METHODS = (
    "random",
    "reinforce",
    "ppo",
    "reinforce-lstm",
    "reinforce-independent",
    "ppo-lstm",
    "ppo-independent",
)


def _project(algorithm: str, seed: int) -> str:
    return f"{algorithm}_seed{seed}"


def _method(name: str) -> tuple[str, str]:
    """(search algorithm, controller policy) of a method name such as 'reinforce-lstm'."""
    algorithm, _, policy = name.partition("-")
    return algorithm, policy or FLAGS.policy


def _read_trials(project_dir: str) -> list[dict[str, Any]]:
    """Rows of the project's trials.csv (numbers parsed), in trial order; [] if none yet."""
    path = os.path.join(project_dir, "trials.csv")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key, value in row.items():
            if key not in ("trial", "status", "arch", "reason"):
                try:
                    row[key] = float(value) if value != "" else None
                except ValueError:
                    pass
    return sorted(rows, key=lambda row: int(row["trial"]))


def _finished(rows: list[dict[str, Any]]) -> int:
    return sum(row["status"] not in ("RUNNING", "IDLE") for row in rows)


def _load_runs(path: str) -> list[dict[str, Any]]:
    """The benchmark's record of one project's search processes (wall time, exit status)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _latency_target(workdir: str) -> tuple[float, str]:
    """T and where it came from. Fixed per workdir (<workdir>/target.json), since every search
    in it is rewarded with it: --latency_target_ms, else MobileNetV2 measured once on the
    search's backend and clock."""
    path = os.path.join(workdir, "target.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
        wanted = FLAGS.latency_target_ms
        if wanted is not None and not math.isclose(wanted, saved["latency_target_ms"]):
            raise app.UsageError(
                f"--latency_target_ms={wanted} but the searches in {workdir} use "
                f"T = {saved['latency_target_ms']} ms ({path}): use another --workdir"
            )
        return saved["latency_target_ms"], saved["source"]
    if FLAGS.latency_target_ms is not None:
        if FLAGS.latency_target_ms <= 0:
            raise app.UsageError(
                f"--latency_target_ms must be positive; got {FLAGS.latency_target_ms}"
            )
        target, source = FLAGS.latency_target_ms, "--latency_target_ms"
    else:
        from mnasnet_tf import zoo
        from search.latency_meter import LatencyMeter

        meter = LatencyMeter(
            FLAGS.backend,
            image_size=FLAGS.latency_image_size,
            classes=CLASSES,
            runs=max(FLAGS.latency_runs, 100),
            clock=FLAGS.latency_clock,
            predictor_table=FLAGS.predictor_table,
        )
        target = meter.measure(zoo.get_arch("mobilenet-v2"), name="mobilenet-v2").median_ms
        source = (
            f"mobilenet-v2, {FLAGS.latency_clock} median of 100 runs on {FLAGS.backend} "
            f"({FLAGS.latency_image_size}²)"
        )
    report.write_json({"latency_target_ms": target, "source": source}, path)
    return target, source


def _check_predictor_table() -> None:
    """Refuses a table that lacks parts of the space's architectures at the search's setting
    (every such trial would fail), naming what is missing."""
    from search import space as space_module
    from tflite_bench import predictor

    table = predictor.load_table(FLAGS.predictor_table)
    space = space_module.get_space("mnasnet")
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.to_arch(space.sample(rng))
        missing = table.missing(arch, image_size=FLAGS.latency_image_size, classes=CLASSES)
        if missing:
            raise app.UsageError(
                f"latency table {FLAGS.predictor_table} lacks {len(missing)} parts of a random "
                f"architecture of the space at {FLAGS.latency_image_size}² with a {CLASSES}-class "
                f"head, e.g. {missing[:3]}: use --backend=local"
            )


def _search_command(algorithm: str, seed: int, target_ms: float) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "search.main",
        f"--algorithm={_method(algorithm)[0]}",
        f"--policy={_method(algorithm)[1]}",
        f"--dataset={DATASET}",
        f"--proxy_image_size={FLAGS.proxy_image_size}",
        f"--epochs_per_trial={FLAGS.epochs}",
        f"--batch_size={FLAGS.batch_size}",
        f"--max_trials={FLAGS.trials}",
        f"--latency_target_ms={target_ms!r}",
        f"--backend={FLAGS.backend}",
        f"--latency_image_size={FLAGS.latency_image_size}",
        f"--latency_runs={FLAGS.latency_runs}",
        f"--latency_clock={FLAGS.latency_clock}",
        "--references=",
        f"--directory={FLAGS.workdir}",
        f"--project_name={_project(algorithm, seed)}",
        f"--seed={seed}",
        "--noexport",
        "--train_verbose=0",
    ]
    if FLAGS.predictor_table:
        command.append(f"--predictor_table={FLAGS.predictor_table}")
    if FLAGS.steps_per_epoch:
        command.append(f"--steps_per_epoch={FLAGS.steps_per_epoch}")
    if FLAGS.chunk:
        command.append(f"--trials_per_run={FLAGS.chunk}")
    return command


def _run_search(algorithm: str, seed: int, target_ms: float) -> bool:
    """Runs (or resumes) one search in a child process (up to --chunk trials), logging its
    per-trial progress lines; appends the child's wall time to <project>/benchmark_runs.json.
    Returns whether the search still has trials to run after this call."""
    name = _project(algorithm, seed)
    project_dir = os.path.join(FLAGS.workdir, name)
    done = _finished(_read_trials(project_dir))
    if done >= FLAGS.trials:
        logging.info("%s: %d/%d trials already done; skipped", name, done, FLAGS.trials)
        return False
    command = _search_command(algorithm, seed, target_ms)
    logging.info("%s: starting at trial %d/%d", name, done, FLAGS.trials)
    log_path = os.path.join(FLAGS.workdir, f"{name}.log")
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
    runs_path = os.path.join(project_dir, "benchmark_runs.json")
    runs = _load_runs(runs_path)
    runs.append({"started": started, "seconds": seconds, "returncode": returncode})
    report.write_json(runs, runs_path)
    now = _finished(_read_trials(project_dir))
    if now <= done:
        logging.warning("%s: no trial finished in this run; not retried", name)
        return False
    return now < FLAGS.trials


def _run_all(seeds: list[int], target_ms: float) -> None:
    """Every search, interleaved (seeds outer, methods inner) so a partial run compares like
    with like; with --chunk, in rounds of --chunk trials per search."""
    active = [(seed, algorithm) for seed in seeds for algorithm in FLAGS.algorithms]
    rounds = 0
    while active:
        rounds += 1
        logging.info("round %d: %d searches to go on", rounds, len(active))
        active = [key for key in active if _run_search(key[1], key[0], target_ms)]


# ---- the figures ----


CURVES = ("best_reward", "best_accuracy_at_target", "hypervolume")


def _curves(rows: list[dict[str, Any]], latency_ref: float, target_ms: float) -> dict[str, list]:
    """Per trial: the best reward so far, the best accuracy so far among models no slower than
    T, and the hypervolume of the completed trials so far."""
    best, at_target, volume, points = [], [], [], []
    running, running_at_target = -math.inf, -math.inf
    for row in rows:
        if row["status"] == "COMPLETED" and row.get("reward") is not None:
            running = max(running, row["reward"])
            if row["latency_ms"] <= target_ms:
                running_at_target = max(running_at_target, row["accuracy"])
            points.append((row["latency_ms"], row["accuracy"]))
        best.append(running if math.isfinite(running) else None)
        at_target.append(running_at_target if math.isfinite(running_at_target) else None)
        volume.append(report.hypervolume(points, latency_ref=latency_ref))
    return {"best_reward": best, "best_accuracy_at_target": at_target, "hypervolume": volume}


def _mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None]
    if not values:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _search_summary(
    algorithm: str, seed: int, latency_ref: float, target_ms: float
) -> dict[str, Any] | None:
    project_dir = os.path.join(FLAGS.workdir, _project(algorithm, seed))
    rows = _read_trials(project_dir)[: FLAGS.trials]
    if not rows:
        return None
    curves = _curves(rows, latency_ref, target_ms)
    completed = [r for r in rows if r["status"] == "COMPLETED" and r.get("reward") is not None]
    best = max(completed, key=lambda r: r["reward"]) if completed else None
    runs_path = os.path.join(project_dir, "benchmark_runs.json")
    runs = _load_runs(runs_path)

    def total(key: str) -> float:
        return float(sum(r.get(key) or 0.0 for r in completed))

    entropies = [r["controller_entropy"] for r in rows if r.get("controller_entropy") is not None]
    return {
        "algorithm": algorithm,
        "seed": seed,
        "trials": len(rows),
        "failed": len(rows) - len(completed),
        "best_reward": curves["best_reward"][-1],
        "best_accuracy_at_target": curves["best_accuracy_at_target"][-1],
        "cached": sum(row.get("cached_from") not in (None, "") for row in rows),
        "best_trial": None
        if best is None
        else {k: best[k] for k in ("trial", "arch", "accuracy", "latency_ms", "reward")},
        "final_hypervolume": curves["hypervolume"][-1],
        "mean_reward": _mean_std([r["reward"] for r in completed])[0],
        "curves": curves,
        "per_trial": [
            {
                k: r.get(k)
                for k in (
                    "trial",
                    "status",
                    "arch",
                    "accuracy",
                    "latency_ms",
                    "reward",
                    "controller_entropy",
                    "controller_baseline",
                    "cached_from",
                    "train_seconds",
                    "convert_seconds",
                    "measure_seconds",
                    "seconds",
                )
            }
            for r in rows
        ],
        "controller_entropy": [entropies[0], entropies[-1]] if entropies else None,
        "seconds": {
            "wall": float(sum(r["seconds"] for r in runs)),
            "trials": total("seconds"),
            "train": total("train_seconds"),
            "latency": total("convert_seconds") + total("measure_seconds"),
        },
    }


def _aggregate(searches: list[dict[str, Any]]) -> dict[str, Any]:
    summary = {}
    for algorithm in FLAGS.algorithms:
        mine = [s for s in searches if s["algorithm"] == algorithm]
        if not mine:
            continue
        length = max(len(s["curves"]["best_reward"]) for s in mine)
        curves = {}
        for key in CURVES:
            stats = [
                _mean_std([s["curves"][key][t] for s in mine if t < len(s["curves"][key])])
                for t in range(length)
            ]
            curves[key] = {"mean": [m for m, _ in stats], "std": [d for _, d in stats]}
        summary[algorithm] = {
            "seeds": [s["seed"] for s in mine],
            "trials": min(s["trials"] for s in mine),
            "best_reward": _mean_std([s["best_reward"] for s in mine]),
            "best_accuracy_at_target": _mean_std([s["best_accuracy_at_target"] for s in mine]),
            "final_hypervolume": _mean_std([s["final_hypervolume"] for s in mine]),
            "mean_reward": _mean_std([s["mean_reward"] for s in mine]),
            "curves": curves,
        }
    return summary


def _truncate(search: dict[str, Any], trials: int) -> dict[str, Any]:
    """A search's final figures as they stood after `trials` trials."""
    curves = search["curves"]
    per_trial = search["per_trial"][:trials]
    done = [t for t in per_trial if t["status"] == "COMPLETED" and t.get("reward") is not None]
    best = max(done, key=lambda t: t["reward"]) if done else None
    return {
        **search,
        "trials": trials,
        "curves": {key: values[:trials] for key, values in curves.items()},
        "best_reward": curves["best_reward"][trials - 1],
        "best_accuracy_at_target": curves["best_accuracy_at_target"][trials - 1],
        "final_hypervolume": curves["hypervolume"][trials - 1],
        "mean_reward": _mean_std([t["reward"] for t in done])[0],
        "best_trial": None
        if best is None
        else {k: best[k] for k in ("trial", "arch", "accuracy", "latency_ms", "reward")},
        "per_trial": per_trial,
    }


def _paired(searches: list[dict[str, Any]]) -> dict[str, Any]:
    """Same-seed comparisons against random search: per-seed differences of the final figures,
    and the trials where both searches sampled the same architecture (at the same trial index),
    whose differences measure the noise of proxy accuracy and latency."""
    by_key = {(s["algorithm"], s["seed"]): s for s in searches}
    result: dict[str, Any] = {}
    for algorithm in FLAGS.algorithms:
        if algorithm == "random":
            continue
        pairs = [
            (s, by_key[("random", s["seed"])])
            for s in searches
            if s["algorithm"] == algorithm and ("random", s["seed"]) in by_key
        ]
        if not pairs:
            continue
        same = [
            (x, y)
            for a, b in pairs
            for x, y in zip(a["per_trial"], b["per_trial"], strict=False)
            if x["arch"] and x["arch"] == y["arch"] and x["status"] == y["status"] == "COMPLETED"
        ]
        # Compare at the budget both searches of a seed have reached.
        pairs = [
            (
                _truncate(a, min(a["trials"], b["trials"])),
                _truncate(b, min(a["trials"], b["trials"])),
            )
            for a, b in pairs
        ]
        figures = {}
        for key in ("best_reward", "best_accuracy_at_target", "final_hypervolume"):
            diffs = [a[key] - b[key] for a, b in pairs if a[key] is not None and b[key] is not None]
            figures[key] = _mean_std(diffs)
            figures[f"{key}_wins"] = sum(d > 0 for d in diffs)
            figures[f"{key}_p"] = report.wilcoxon_p(diffs)
        result[f"{algorithm}-random"] = {
            "seeds": [a["seed"] for a, _ in pairs],
            "trials": [a["trials"] for a, _ in pairs],
            **figures,
            "identical_archs": len(same),
            "compared_trials": sum(min(a["trials"], b["trials"]) for a, b in pairs),
            "identical_abs_accuracy_diff": _mean_std(
                [abs(x["accuracy"] - y["accuracy"]) for x, y in same]
            )[0],
            "identical_abs_latency_diff_pct": _mean_std(
                [100 * abs(x["latency_ms"] / y["latency_ms"] - 1) for x, y in same]
            )[0],
        }
    return result


def _write_markdown(path: str, result: dict[str, Any]) -> None:
    config, searches, summary = result["config"], result["searches"], result["summary"]
    trials = [t for s in searches for t in s["per_trial"] if t["status"] == "COMPLETED"]
    lines = [
        "# Search efficiency: RL controllers vs random search at the same budget",
        "",
        f"Command: `{config['command']}`",
        "",
        f"Proxy task: {DATASET} ({config['proxy_image_size']}², {config['epochs']} epochs × "
        f"{config['steps_per_epoch']} steps × batch {config['batch_size']}); space `mnasnet`; "
        f"policy `{config['policy']}` for RL; {config['trials']} trials per search; "
        f"seeds {', '.join(map(str, config['seeds']))}. Latency: backend `{config['backend']}` at "
        f"{config['latency_image_size']}², {CLASSES}-class head, median of "
        f"{config['latency_runs']} runs, {config['latency_clock']} clock. "
        f"T = {config['latency_target_ms']:.3f} ms "
        f"({config['target_source']}); soft reward ACC·(LAT/T)^-0.07. Hypervolume of the "
        f"(latency, accuracy) front in ms·accuracy, latency reference "
        f"{config['latency_ref_ms']:.3f} ms ({config['hv_ref_factor']:g}×T), accuracy ≥ 0.",
        "",
        f"Wall time: {sum(s['seconds']['wall'] for s in searches) / 60:.1f} min for the "
        "searches (sum over their processes, across resumed invocations); the invocation that "
        f"wrote this file took {result['wall_seconds'] / 60:.1f} min.",
        "",
        *([f"Note: {config['note']}", ""] if config.get("note") else []),
        "| method | seed | trials (failed, reused) | best reward | best trial: acc / latency ms | "
        "best acc ≤ T | final hypervolume | mean reward | wall min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in searches:
        b = s["best_trial"] or {}
        lines.append(
            f"| {s['algorithm']} | {s['seed']} | {s['trials']} ({s['failed']}, "
            f"{s.get('cached', 0)}) | {s['best_reward']:.4f} | {b.get('accuracy', math.nan):.3f} / "
            f"{b.get('latency_ms', math.nan):.2f} | {_fmt(s.get('best_accuracy_at_target'))} | "
            f"{s['final_hypervolume']:.3f} | "
            f"{s['mean_reward']:.4f} | {s['seconds']['wall'] / 60:.1f} |"
        )
    for algorithm, agg in summary.items():
        (br, brs), (ba, bas), (hv, hvs), (mr, mrs) = (
            agg["best_reward"],
            agg["best_accuracy_at_target"],
            agg["final_hypervolume"],
            agg["mean_reward"],
        )
        lines.append(
            f"| **{algorithm}** | mean ± std ({len(agg['seeds'])} seeds) | at {agg['trials']} | "
            f"**{br:.4f} ± {brs:.4f}** | | **{ba:.3f} ± {bas:.3f}** | **{hv:.3f} ± {hvs:.3f}** | "
            f"{mr:.4f} ± {mrs:.4f} | |"
        )
    lines += [
        "",
        "Rows per seed: each search's figures at its own budget so far. Mean rows: at the budget "
        f"every search has reached ({result['common_budget']} trials), so that a partial run "
        "compares like with like. std: sample standard deviation over seeds (ddof = 1).",
        "",
    ]
    if trials:
        train = np.mean([t["train_seconds"] for t in trials])
        latency = np.mean([t["convert_seconds"] + t["measure_seconds"] for t in trials])
        whole = np.mean([t["seconds"] for t in trials])
        lines += [
            f"Time per completed trial (mean of {len(trials)}): {whole:.1f} s = build + proxy "
            f"training {train:.1f} s + latency {latency:.1f} s (conversion + timed runs). "
            "The rest of each search's wall time is process start-up, data loading and reports.",
            "",
        ]
    entropies = [
        s["controller_entropy"]
        for s in searches
        if s["algorithm"] != "random" and s["controller_entropy"]
    ]
    if entropies:
        from search import space as space_module

        uniform = sum(math.log(n) for n in space_module.get_space("mnasnet").choice_sizes())
        lines += [
            "Controller entropy (nats) at the first → last trial: "
            + ", ".join(f"{a:.3f} → {b:.3f}" for a, b in entropies)
            + f" (uniform policy: Σ log Nᵢ = {uniform:.3f}).",
            "",
        ]
    for name, pair in result["paired"].items():
        n = len(pair["seeds"])
        lines += [
            f"Paired by seed, {name} (at the budget both reached: "
            f"{', '.join(map(str, pair['trials']))} trials):",
            "",
            "| figure | mean difference ± std | wins | Wilcoxon p (two-sided) |",
            "|---|---|---|---|",
            *(
                f"| {label} | {pair[key][0]:+.4f} ± {pair[key][1]:.4f} | "
                f"{pair[f'{key}_wins']}/{n} | {pair[f'{key}_p']:.3g} |"
                for key, label in (
                    ("best_reward", "best reward"),
                    ("best_accuracy_at_target", "best accuracy at ≤ T"),
                    ("final_hypervolume", "hypervolume"),
                )
            ),
            "",
            f"With {n} seeds the smallest two-sided p a signed-rank test can give is "
            f"{2 / 2**n:.3g}. Same seed ⇒ same data split "
            f"and controller RNG stream: {pair['identical_archs']} of "
            f"{pair['compared_trials']} trials sampled the identical architecture in both "
            "searches; on those, proxy accuracy differed by "
            f"{pair['identical_abs_accuracy_diff']:.3f} and latency by "
            f"{pair['identical_abs_latency_diff_pct']:.1f}% on average (|Δ|): the noise of one "
            "trial's measurement.",
            "",
        ]
    lines += ["Per-trial curves are in search_efficiency.json; plot in search_efficiency.png.", ""]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _plot(path: str, summary: dict[str, Any], config: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(14, 4))
    for algorithm, agg in summary.items():
        for ax, key in zip(axes, CURVES, strict=True):
            mean = np.array(agg["curves"][key]["mean"], dtype=float)
            std = np.array(agg["curves"][key]["std"], dtype=float)
            x = np.arange(1, len(mean) + 1)
            (line,) = ax.plot(
                x, mean, "-o", markersize=3, label=f"{algorithm} ({len(agg['seeds'])} seeds)"
            )
            ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    axes[0].set_ylabel("best reward so far")
    axes[1].set_ylabel(f"best accuracy at ≤ T ({config['latency_target_ms']:.2f} ms)")
    axes[2].set_ylabel(f"hypervolume (ms·acc, ref {config['latency_ref_ms']:.2f} ms)")
    for ax in axes:
        ax.set_xlabel("trial")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(f"Search efficiency on {DATASET} (mean ± std over seeds)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str]) -> None:
    del argv
    started = time.time()
    seeds = [int(seed) for seed in FLAGS.seeds]
    for algorithm in FLAGS.algorithms:
        if algorithm not in METHODS:
            raise app.UsageError(f"--algorithms: expected one of {METHODS}; got {algorithm!r}")
    if FLAGS.backend == "predictor":
        if not FLAGS.predictor_table:
            raise app.UsageError("--backend=predictor needs --predictor_table")
        _check_predictor_table()
    os.makedirs(FLAGS.workdir, exist_ok=True)
    target_ms, target_source = _latency_target(FLAGS.workdir)
    latency_ref = FLAGS.hv_ref_factor * target_ms
    logging.info(
        "T = %.3f ms (%s); hypervolume reference %.3f ms", target_ms, target_source, latency_ref
    )
    if FLAGS.run:
        _run_all(seeds, target_ms)
    searches = [
        s
        for seed in seeds
        for a in FLAGS.algorithms
        if (s := _search_summary(a, seed, latency_ref, target_ms))
    ]
    budget = min((s["trials"] for s in searches), default=0)
    config = {
        "command": shlex.join([os.path.relpath(sys.executable, REPO), *sys.argv]),
        "seeds": seeds,
        **{
            name: FLAGS[name].value
            for name in (
                "algorithms",
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
        "dataset": DATASET,
        "classes": CLASSES,
        "latency_target_ms": target_ms,
        "target_source": target_source,
        "latency_ref_ms": latency_ref,
        "workdir": FLAGS.workdir,
        "note": FLAGS.note,
    }
    result = {
        "config": config,
        "wall_seconds": time.time() - started,
        "searches": searches,
        # Means over seeds at the budget every search has reached (a partial run compares like
        # with like); each search's own final figures are in "searches".
        "common_budget": budget,
        "summary": _aggregate([_truncate(s, budget) for s in searches]) if searches else {},
        "paired": _paired(searches),
    }
    os.makedirs(FLAGS.results_dir, exist_ok=True)
    base = os.path.join(FLAGS.results_dir, "search_efficiency")
    if not FLAGS.run and os.path.exists(f"{base}.json"):
        # Re-aggregation: keep the command and wall time of the run that made the searches.
        with open(f"{base}.json", encoding="utf-8") as handle:
            previous = json.load(handle)
        config["command"] = previous["config"]["command"]
        config["note"] = FLAGS.note or previous["config"].get("note")
        result["wall_seconds"] = previous["wall_seconds"]
    report.write_json(result, f"{base}.json")
    _write_markdown(f"{base}.md", result)
    _plot(f"{base}.png", result["summary"], config)
    print(
        f"\nSearch efficiency ({len(searches)} searches) in {result['wall_seconds'] / 60:.1f} min:"
    )
    for algorithm, agg in result["summary"].items():
        (br, brs), (hv, hvs) = agg["best_reward"], agg["final_hypervolume"]
        print(
            f"  {algorithm:<10} best reward {br:.4f} ± {brs:.4f}   hypervolume {hv:.3f} ± {hvs:.3f}"
        )
    print(f"  wrote {base}.json, .md, .png")


if __name__ == "__main__":
    app.run(main)
