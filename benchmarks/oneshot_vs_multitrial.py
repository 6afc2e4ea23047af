"""One-shot search (TuNAS, DNAS) against multi-trial search (RL, random) at equal wall clock
(issue 15), and whether weight sharing ranks architectures as stand-alone training does.

1. One-shot: `mnasnet-oneshot` at its defaults, both algorithms, on --dataset / --space with the
   latency table --latency_table (T: the space's reference model's table latency).
2. Multi-trial: `mnasnet-search` (REINFORCE on independent categoricals, and random) on the same
   space, proxy (3 epochs), table latency (`--backend=predictor`) and T, each until its trials'
   own seconds (trials.csv, training and latency) add up to the one-shot runs' mean wall time:
   both sides are measured on the same machine under the same load. With `--trial_seconds`,
   instead a fixed count: that wall time divided by the given seconds per trial.
3. Found architecture of each method: its best accuracy at ≤ T (one-shot accuracy for one-shot,
   proxy accuracy for multi-trial), retrained stand-alone with one recipe
   (`--retrain_epochs`), test accuracy; latency measured end to end on this host (LiteRT,
   1 thread, thread CPU time, `--rounds` interleaved rounds, median), not predicted.
4. Rank correlation: every architecture the multi-trial searches trained stand-alone (3-epoch
   proxy, validation split), scored again with the TuNAS supernet's shared weights on the same
   split; Spearman and Kendall between one-shot and stand-alone accuracy.

Every stage keeps its files under --workdir and is skipped when done (resumable).
Writes benchmarks/results/oneshot_vs_multitrial_<dataset>.{json,md,png}.
Usage: python benchmarks/oneshot_vs_multitrial.py --latency_table=host32.json
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS


def _define_flags() -> None:
    """The flags (defined only when run as a script, so tests can import the helpers)."""
    flags.DEFINE_string("dataset", "digits", "'digits' or 'folder:<path>'.")
    flags.DEFINE_string("space", "mobilenetv3-large", "Search space.")
    flags.DEFINE_string("latency_table", None, "Whole-space latency table at the proxy resolution.")
    flags.DEFINE_list("algorithms", ["tunas", "dnas"], "One-shot algorithms.")
    flags.DEFINE_integer(
        "oneshot_epochs",
        None,
        "One-shot epochs (default: the binary's 100). On a larger train split, fewer epochs "
        "keep the one-shot budget in weight steps near digits'; the DNAS temperature decay is "
        "then scaled so the temperature ends where 100 epochs would end it.",
    )
    flags.DEFINE_list("multitrial", ["reinforce", "random"], "Multi-trial algorithms.")
    flags.DEFINE_float(
        "trial_seconds",
        None,
        "Fix the multi-trial budget at the one-shot wall time divided by this many seconds per "
        "trial (default: measured, each search runs until its trials' own seconds reach the "
        "one-shot wall time).",
        lower_bound=0.1,
    )
    flags.DEFINE_integer("retrain_epochs", 10, "Stand-alone training of each found architecture.")
    flags.DEFINE_integer("proxy_epochs", 3, "The multi-trial searches' proxy epochs.")
    flags.DEFINE_integer("rounds", 3, "Interleaved latency rounds.")
    flags.DEFINE_integer("runs", 50, "Timed runs per latency measurement.")
    flags.DEFINE_integer("seed", 0, "Seed of every search and training.")
    flags.DEFINE_string("workdir", "/tmp/oneshot_bench", "Where the runs are kept (resumable).")
    flags.DEFINE_string(
        "output_dir", os.path.join(os.path.dirname(__file__), "results"), "Where to."
    )


BIN = os.path.dirname(sys.executable)


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _read_csv(path: str) -> list[dict[str, str]]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


def _float(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


# ---- 1. one-shot ----


def oneshot_settings(algorithm: str) -> dict:
    """The `OneShotConfig` fields the benchmark sets beyond the binary's defaults (also what a
    resumed checkpoint must match)."""
    from search.oneshot.config import OneShotConfig

    settings = {"image_size": 32}  # the multi-trial proxy's (a folder's default is 224)
    if FLAGS.oneshot_epochs:
        defaults = OneShotConfig(output_dir="unused")
        settings["epochs"] = FLAGS.oneshot_epochs
        if algorithm == "dnas":
            settings["temperature_decay"] = scaled_decay(
                defaults.temperature_decay, defaults.epochs, FLAGS.oneshot_epochs
            )
    return settings


def scaled_decay(decay: float, epochs: int, new_epochs: int) -> float:
    """The per-epoch factor that reaches over `new_epochs` the temperature `decay` reaches over
    `epochs`."""
    return decay ** (epochs / new_epochs)


def run_oneshot(algorithm: str) -> dict:
    out = os.path.join(FLAGS.workdir, f"oneshot_{algorithm}")
    summary = os.path.join(out, "summary.json")
    if not os.path.exists(summary):
        _log(f"one-shot {algorithm}")
        command = [
            os.path.join(BIN, "mnasnet-oneshot"),
            f"--algorithm={algorithm}",
            f"--space={FLAGS.space}",
            f"--dataset={FLAGS.dataset}",
            f"--latency_table={FLAGS.latency_table}",
            f"--seed={FLAGS.seed}",
            f"--output_dir={out}",
            *(f"--{k}={v!r}" for k, v in oneshot_settings(algorithm).items()),
        ]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    with open(summary) as handle:
        return json.load(handle)


# ---- 2. multi-trial at equal wall clock ----


def trials_within(seconds: list[float], budget_seconds: float) -> int | None:
    """How many trials, taken in order, spend `budget_seconds`: once their cumulative seconds
    reach it, the count whose sum is nearest to it (at least 1); None before they reach it."""
    total = 0.0
    for count, cost in enumerate(seconds, 1):
        before, total = total, total + cost
        if total >= budget_seconds:
            return count if total - budget_seconds <= budget_seconds - before else max(1, count - 1)
    return None


def run_multitrial(
    algorithm: str, target_ms: float, *, trials: int | None = None, seconds: float = 0.0
) -> tuple[list[dict], float]:
    """The completed trials of one multi-trial search and the seconds they took, running (or
    resuming) it first: `trials` trials when given, else until its trials' seconds reach
    `seconds` (more are run in rounds sized by the mean trial so far)."""
    directory = os.path.join(FLAGS.workdir, "multitrial")
    project = f"{algorithm}_seed{FLAGS.seed}"
    trials_csv = os.path.join(directory, project, "trials.csv")
    ran = -1
    while True:
        rows = _read_csv(trials_csv) if os.path.exists(trials_csv) else []
        done = [r for r in rows if r["status"] == "COMPLETED"]
        costs = [_float(r["seconds"]) for r in done]
        if trials is not None:
            count = min(trials, len(done)) if len(rows) >= trials else None
            wanted = trials
        else:
            count = trials_within(costs, seconds)
            mean = sum(costs) / len(costs) if costs else 20.0
            wanted = len(rows) + max(1, math.ceil((seconds - sum(costs)) / mean))
        if count is not None:
            return done[:count], sum(costs[:count])
        if len(rows) == ran:
            raise RuntimeError(f"multi-trial {algorithm}: no trial finished in {trials_csv}")
        ran = len(rows)
        _log(f"multi-trial {algorithm}: {len(done)} trials, {sum(costs):.0f} s so far")
        command = [
            os.path.join(BIN, "mnasnet-search"),
            f"--space={FLAGS.space}",
            f"--algorithm={algorithm}",
            f"--dataset={FLAGS.dataset}",
            "--backend=predictor",
            f"--predictor_table={FLAGS.latency_table}",
            "--latency_image_size=32",
            f"--latency_target_ms={target_ms}",
            f"--max_trials={wanted}",
            f"--epochs_per_trial={FLAGS.proxy_epochs}",
            "--references=",
            "--train_references=false",
            "--export=false",
            "--train_verbose=0",
            f"--seed={FLAGS.seed}",
            f"--directory={directory}",
            f"--project_name={project}",
        ]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def best_at_target(rows: list[dict], target_ms: float) -> dict | None:
    """The row with the highest accuracy among those with latency ≤ T."""
    within = [
        r
        for r in rows
        if _float(r["latency_ms"]) <= target_ms and _float(r["accuracy"]) == _float(r["accuracy"])
    ]
    return max(within, key=lambda r: _float(r["accuracy"])) if within else None


# ---- 3. stand-alone training and end-to-end latency ----


def _data():
    from mnasnet_tf import data

    common = {"image_size": 32, "batch_size": 64, "seed": FLAGS.seed}
    train, info = data.load(FLAGS.dataset, split="train", **common)
    validation, _ = data.load(FLAGS.dataset, split="validation", **common)
    test, test_info = data.load(FLAGS.dataset, split="test", **common)
    return train, validation, test, info.num_classes, test_info.num_examples


def train_standalone(arch_text: str, epochs: int, cache: dict, key: str) -> dict:
    if key in cache:
        return cache[key]
    import keras

    from mnasnet_tf import arch_string, builder, proxy_train
    from mnasnet_tf import eval as eval_lib
    from search.spaces import registry as space_registry

    space = space_registry.get_space(FLAGS.space)
    arch = arch_string.decode(arch_text, **space.conventions)
    train, validation, test, classes, _ = _data()
    keras.backend.clear_session()
    keras.utils.set_random_seed(FLAGS.seed)
    model = builder.build_model(arch, input_shape=(32, 32, 3), classes=classes)
    result = proxy_train.train_proxy(model, train, validation, epochs=epochs)
    test_top1 = eval_lib.evaluate_keras(model, test).top1
    cache[key] = {
        "validation_accuracy": result.val_accuracy,
        "test_accuracy": float(test_top1),
        "seconds": result.seconds,
    }
    return cache[key]


def measure(archs: dict[str, str], classes: int) -> dict[str, float]:
    import statistics

    from mnasnet_tf import arch_string
    from search.latency.meter import LatencyMeter
    from search.spaces import registry as space_registry

    space = space_registry.get_space(FLAGS.space)
    specs = {k: arch_string.decode(v, **space.conventions) for k, v in archs.items()}
    times: dict[str, list[float]] = {k: [] for k in specs}
    with LatencyMeter("local", image_size=32, classes=classes, runs=FLAGS.runs) as meter:
        for r in range(FLAGS.rounds):
            order = list(specs) if r % 2 == 0 else list(reversed(specs))
            for key in order:
                meter.forget(specs[key])
                times[key].append(meter.figure(meter.measure(specs[key], name=key)))
    return {k: float(statistics.median(v)) for k, v in times.items()}


# ---- 4. rank correlation ----


def one_shot_accuracies(algorithm: str, archs: list[str], cache: dict, cache_path: str) -> dict:
    """One-shot accuracy (the finished supernet's weights, whole validation split) of each of
    `archs`; cached."""
    missing = [a for a in archs if f"oneshot:{algorithm}:{a}" not in cache]
    if missing:
        from mnasnet_tf import arch_string
        from search.oneshot import outputs
        from search.oneshot import run as oneshot_search
        from search.oneshot.config import OneShotConfig

        config = OneShotConfig(
            output_dir=os.path.join(FLAGS.workdir, f"oneshot_{algorithm}"),
            algorithm=algorithm,
            space=FLAGS.space,
            dataset=FLAGS.dataset,
            latency_table=FLAGS.latency_table,
            seed=FLAGS.seed,
            **oneshot_settings(algorithm),
        )
        search = oneshot_search.Search(config)
        outputs.Checkpoint(config).load(search.net, search.policy, search.optimizer)
        for i, text in enumerate(missing):
            arch = arch_string.decode(text, **search.space.conventions)
            cache[f"oneshot:{algorithm}:{text}"] = search.accuracy(arch)
            if i % 10 == 9:
                _log(f"one-shot accuracy of multi-trial architectures: {i + 1}/{len(missing)}")
        _save(cache, cache_path)
    return {a: cache[f"oneshot:{algorithm}:{a}"] for a in archs}


def _cache(name: str) -> tuple[dict, str]:
    path = os.path.join(FLAGS.workdir, name)
    if os.path.exists(path):
        with open(path) as handle:
            return json.load(handle), path
    return {}, path


def _save(data: dict, path: str) -> None:
    with open(path + ".tmp", "w") as handle:
        json.dump(data, handle, indent=1)
    os.replace(path + ".tmp", path)


def main(argv) -> None:
    del argv
    if not FLAGS.latency_table:
        raise app.UsageError("--latency_table is required (a whole-space table at 32²)")
    os.makedirs(FLAGS.workdir, exist_ok=True)
    started = time.time()
    oneshot = {a: run_oneshot(a) for a in FLAGS.algorithms}
    target = next(iter(oneshot.values()))["latency_target_ms"]
    budget = sum(s["wall_seconds"] for s in oneshot.values()) / len(oneshot)
    trial_budget = max(1, round(budget / FLAGS.trial_seconds)) if FLAGS.trial_seconds else None
    found: dict[str, dict] = {}
    for algorithm in FLAGS.algorithms:
        rows = _read_csv(os.path.join(FLAGS.workdir, f"oneshot_{algorithm}", "trials.csv"))
        found[algorithm] = best_at_target(rows, target) or {}
    multitrial = {}
    for algorithm in FLAGS.multitrial:
        rows, spent = run_multitrial(algorithm, target, trials=trial_budget, seconds=budget)
        multitrial[algorithm] = {"trials": len(rows), "seconds": spent}
        found[f"multitrial-{algorithm}"] = best_at_target(rows, target) or {}
    cache, cache_path = _cache("standalone.json")
    _, _, _, classes, test_images = _data()
    rows_out = []
    for method, row in found.items():
        if not row:
            rows_out.append({"method": method, "arch": None})
            continue
        _log(f"retraining the architecture {method} found")
        trained = train_standalone(row["arch"], FLAGS.retrain_epochs, cache, f"retrain:{method}")
        _save(cache, cache_path)
        rows_out.append(
            {
                "method": method,
                "arch": row["arch"],
                "search_accuracy": _float(row["accuracy"]),
                "table_latency_ms": _float(row["latency_ms"]),
                **trained,
            }
        )
    from search.spaces import registry as space_registry

    space = space_registry.get_space(FLAGS.space)
    from mnasnet_tf import arch_string

    reference = arch_string.encode(space.to_arch(space.default_choices()))
    trained = train_standalone(reference, FLAGS.retrain_epochs, cache, "retrain:reference")
    _save(cache, cache_path)
    rows_out.append({"method": "reference (space default)", "arch": reference, **trained})
    _log("measuring latency end to end")
    latency = measure({r["method"]: r["arch"] for r in rows_out if r["arch"]}, classes)
    for row in rows_out:
        row["measured_latency_ms"] = latency.get(row["method"])
        row["within_target"] = (
            None if row["measured_latency_ms"] is None else row["measured_latency_ms"] <= target
        )
    # rank correlation: the multi-trial runs' architectures (already trained stand-alone on the
    # same 3-epoch proxy, scored on the same validation split), scored again with the weights of
    # the first one-shot algorithm's supernet
    import numpy as np
    from scipy import stats

    source = FLAGS.algorithms[0]
    standalone_rows = {}
    for algorithm in FLAGS.multitrial:
        rows, _ = run_multitrial(algorithm, target, trials=trial_budget, seconds=budget)
        for row in rows:
            standalone_rows.setdefault(row["arch"], _float(row["accuracy"]))
    one_shot_scores = one_shot_accuracies(source, list(standalone_rows), cache, cache_path)
    pairs = [(one_shot_scores[a], standalone_rows[a], a) for a in standalone_rows]
    one_shot = np.array([p[0] for p in pairs])
    standalone = np.array([p[1] for p in pairs])
    rank = {
        "supernet": source,
        "archs": len(pairs),
        "spearman": float(stats.spearmanr(one_shot, standalone).statistic),
        "spearman_p": float(stats.spearmanr(one_shot, standalone).pvalue),
        "kendall": float(stats.kendalltau(one_shot, standalone).statistic),
        "pairs": [{"one_shot": a, "standalone": b, "arch": c} for a, b, c in pairs],
    }
    result = {
        "dataset": FLAGS.dataset,
        "space": FLAGS.space,
        "latency_table": FLAGS.latency_table,
        "latency_target_ms": target,
        "budget_seconds": budget,
        "trial_seconds": FLAGS.trial_seconds,
        "trial_budget": trial_budget,
        "retrain_epochs": FLAGS.retrain_epochs,
        "test_images": test_images,
        "proxy_epochs": FLAGS.proxy_epochs,
        "oneshot_settings": {a: oneshot_settings(a) for a in oneshot},
        "oneshot": {
            a: {
                k: s[k]
                for k in (
                    "wall_seconds",
                    "search_seconds",
                    "evaluate_seconds",
                    "distinct_archs",
                    "epochs",
                    "policy_steps",
                    "final_entropy",
                )
            }
            for a, s in oneshot.items()
        },
        "multitrial": multitrial,
        "found": rows_out,
        "rank": rank,
        "seconds": time.time() - started,
        "command": " ".join(sys.argv),
    }
    write_results(result)


def _settings_lines(settings: dict) -> list[str]:
    changed = {a: s for a, s in settings.items() if s}
    if not changed:
        return []
    text = "; ".join(
        f"{a}: " + ", ".join(f"{k} = {v:.4g}" for k, v in s.items()) for a, s in changed.items()
    )
    return ["", f"One-shot settings beyond the binary's defaults: {text}."]


def _multitrial_budget(result: dict) -> str:
    """How the multi-trial searches were given that wall clock."""
    if result.get("trial_budget"):
        return (
            f"i.e. {result['trial_budget']} multi-trial trials at "
            f"{result['trial_seconds']:.0f} s each"
        )
    spent = ", ".join(
        f"{name} {info['trials']} trials in {info['seconds']:.0f} s"
        for name, info in result["multitrial"].items()
    )
    return f"each multi-trial search ran until its trials' own seconds reached it ({spent})"


def write_results(result: dict) -> None:
    name = f"oneshot_vs_multitrial_{result['dataset'].replace('folder:', '').split('/')[-1]}"
    base = os.path.join(FLAGS.output_dir, name)
    with open(base + ".json", "w") as handle:
        json.dump(result, handle, indent=1)
    target = result["latency_target_ms"]
    lines = [
        f"# One-shot vs multi-trial search on {result['dataset']} ({result['space']})",
        "",
        f"T = {target:.3f} ms (the space's reference model in the table, 32², this host). "
        f"Budget per method: {result['budget_seconds']:.0f} s of wall clock (the one-shot runs' "
        f"mean), {_multitrial_budget(result)}. Found architectures retrained stand-alone for "
        f"{result['retrain_epochs']} epochs; latency measured end to end "
        "(LiteRT, 1 thread, thread CPU, median of interleaved rounds).",
        *_settings_lines(result.get("oneshot_settings", {})),
        "",
        "| method | budget used | search accuracy | table ms | measured ms | ≤ T | test accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["found"]:
        method = row["method"]
        if not row.get("arch"):
            lines.append(f"| {method} | | nothing found at ≤ T | | | | |")
            continue
        if method in result["oneshot"]:
            used = (
                f"{result['oneshot'][method]['wall_seconds']:.0f} s, "
                f"{result['oneshot'][method]['distinct_archs']} archs"
            )
        elif method.startswith("multitrial-"):
            info = result["multitrial"][method.split("-", 1)[1]]
            used = f"{info['seconds']:.0f} s, {info['trials']} trials"
        else:
            used = "—"
        search_acc = row.get("search_accuracy")
        lines.append(
            f"| {method} | {used} | "
            f"{'' if search_acc is None else f'{search_acc:.3f}'} | "
            f"{row.get('table_latency_ms', float('nan')):.3f} | "
            f"{row['measured_latency_ms']:.3f} | {'yes' if row['within_target'] else 'no'} | "
            f"{row['test_accuracy']:.3f} |"
        )
    rank = result["rank"]
    lines += [
        "",
        f"Rank correlation over the {rank['archs']} architectures the multi-trial searches "
        f"trained ({result['proxy_epochs']}-epoch stand-alone proxy) against their one-shot "
        f"accuracy with the {rank['supernet']} supernet's weights: "
        f"Spearman {rank['spearman']:.2f} (p = {rank['spearman_p']:.3g}), Kendall "
        f"{rank['kendall']:.2f}.",
        "",
        f"Generated by `{result['command']}` in {result['seconds'] / 60:.0f} min.",
    ]
    with open(base + ".md", "w") as handle:
        handle.write("\n".join(lines) + "\n")
    from search.results import figures

    plt = figures.pyplot()
    figure, axes = plt.subplots(figsize=(5, 4))
    pairs = rank["pairs"]
    axes.scatter([p["one_shot"] for p in pairs], [p["standalone"] for p in pairs], s=16)
    axes.set_xlabel("one-shot accuracy (shared weights)")
    axes.set_ylabel(f"stand-alone proxy accuracy ({result['proxy_epochs']} epochs)")
    axes.set_title(f"Spearman {rank['spearman']:.2f} over {rank['archs']} architectures")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(base + ".png", dpi=120)
    print("\n".join(lines))


if __name__ == "__main__":
    _define_flags()
    app.run(main)
