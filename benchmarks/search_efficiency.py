"""Search efficiency: RL controllers vs random search at the same trial budget on the proxy.

Runs the real search binary (`python -m search.cli.mnasnet_search`: keras-tuner `MnasOracle` +
`MnasTuner`,
proxy training on --dataset, the bundled digits by default, a real latency source or the
predictor) once per method and seed, each in its own project directory. With --chunk N the
searches run round-robin, N trials at a time (seeds outer, methods inner; `search.cli.mnasnet_search
--trials_per_run`), so a benchmark interrupted at any point has compared like with like, and
each chunk is a fresh process. An interrupted
benchmark resumes where it stopped: run the same command again (a finished search is skipped).

Methods: random, reinforce / ppo (with --policy), or reinforce-lstm, reinforce-independent,
ppo-lstm, ppo-independent. From each project's trials.csv it derives, after every trial, the best
reward so far, the best accuracy so far among models no slower than T, and the hypervolume of
the accuracy–latency front (`search.results.report.hypervolume`, fixed latency reference = factor ×
T).
T is MobileNetV2's latency on the same backend, measured once per workdir and cached (or
--latency_target_ms). Same seed ⇒ same data split and proxy seeds, so each RL search is paired
with the random search of its seed, at the budget both have reached, with a Wilcoxon
signed-rank p-value per figure (`search.results.report.wilcoxon_p`).

Writes <results_dir>/search_efficiency.json (config, per-trial curves, summaries), .md (per
method and seed, means at the budget every search reached, paired tests) and .png (mean curves
± one std over seeds); on another data set, search_efficiency_<name>.* (a folder's last path
component). Search projects and their logs go to --workdir, which belongs to one data set.

Run: .venv/bin/python benchmarks/search_efficiency.py --seeds=0,1,2,3,4 \
         --algorithms=random,reinforce-independent --trials=100 --chunk=10 --epochs=3 \
         --steps_per_epoch=0
Aggregate only what is on disk: add --norun (the results name the commands that ran the
searches, recorded in the workdir's benchmark_commands.json, and the aggregation's own).
Carry unfinished searches to another machine: add --archive=runs.tar.gz (the workdir's resumable
files), then `tar xzf runs.tar.gz -C <workdir's parent>` there and run the same command.
An image folder (here mnasnet-digits-m's), with the latency predictor so trials only train:
     .venv/bin/python benchmarks/search_efficiency.py --dataset=folder:data/digits_m \
         --workdir=runs/search_efficiency_digits_m --backend=predictor \
         --predictor_table=benchmarks/results/latency_table_mnasnet_224.json ... (as above)

This file is the binary: it owns the flags and their translation into
`search_efficiency_config.SearchEfficiencyConfig`, and the summary it prints. The workdir's own
files (T, commands) and the checks before the searches are in search_efficiency_workdir.py,
running and resuming the searches in search_efficiency_run.py, the figures in
search_efficiency_stats.py, the .json/.md/.png and the runs archive in
search_efficiency_report.py. Must not import TensorFlow at import time; no
other module reads FLAGS.
"""

from __future__ import annotations

import os
import shlex
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import search_efficiency_config as se_config  # noqa: E402
import search_efficiency_run as se_run  # noqa: E402
import search_efficiency_stats as stats  # noqa: E402

_DEFAULT = se_config.SearchEfficiencyConfig()

FLAGS = flags.FLAGS
flags.DEFINE_list(
    "seeds", [str(s) for s in _DEFAULT.seeds], "Seeds (controller and data split) per algorithm."
)
flags.DEFINE_string(
    "dataset",
    _DEFAULT.dataset,
    "Proxy data set: digits, folder:<path> or a prepared tfds set. Results other than digits' "
    "are written as search_efficiency_<name>.*; give each data set its own --workdir.",
)
flags.DEFINE_list(
    "algorithms",
    list(_DEFAULT.algorithms),
    "Methods compared: random, reinforce, ppo (with --policy), or reinforce-lstm, "
    "reinforce-independent, ppo-lstm, ppo-independent.",
)
flags.DEFINE_integer(
    "trials",
    _DEFAULT.trials,
    "Trials (sampled architectures) per search.",
    lower_bound=se_config.MINIMUMS["trials"],
)
flags.DEFINE_integer(
    "chunk",
    _DEFAULT.chunk,
    "Trials per search process, taken round-robin over seeds and methods, so an interrupted "
    "benchmark has compared like with like (0: each search runs to --trials in one process).",
    lower_bound=se_config.MINIMUMS["chunk"],
)
flags.DEFINE_enum(
    "policy",
    _DEFAULT.policy,
    list(se_config.CHOICES["policy"]),
    "Controller policy of the RL runs.",
)
flags.DEFINE_integer(
    "epochs",
    _DEFAULT.epochs,
    "Proxy training epochs per trial.",
    lower_bound=se_config.MINIMUMS["epochs"],
)
flags.DEFINE_integer(
    "steps_per_epoch",
    _DEFAULT.steps_per_epoch,
    "Proxy training steps per epoch (0: whole epochs).",
    lower_bound=se_config.MINIMUMS["steps_per_epoch"],
)
flags.DEFINE_integer(
    "batch_size",
    _DEFAULT.batch_size,
    "Proxy training batch size.",
    lower_bound=se_config.MINIMUMS["batch_size"],
)
flags.DEFINE_integer(
    "proxy_image_size",
    _DEFAULT.proxy_image_size,
    "Proxy training resolution.",
    lower_bound=se_config.MINIMUMS["proxy_image_size"],
)
flags.DEFINE_enum(
    "backend",
    _DEFAULT.backend,
    list(se_config.CHOICES["backend"]),
    "Latency backend of the search.",
)
flags.DEFINE_integer(
    "latency_image_size",
    _DEFAULT.latency_image_size,
    "Resolution latency is measured at.",
    lower_bound=se_config.MINIMUMS["latency_image_size"],
)
flags.DEFINE_integer(
    "latency_runs",
    _DEFAULT.latency_runs,
    "Timed runs per latency measurement (local).",
    lower_bound=se_config.MINIMUMS["latency_runs"],
)
flags.DEFINE_enum(
    "latency_clock",
    _DEFAULT.latency_clock,
    list(se_config.CHOICES["latency_clock"]),
    "Local latency clock (the measuring thread's CPU time resists other jobs on the host).",
)
flags.DEFINE_string(
    "predictor_table", _DEFAULT.predictor_table, "Latency table JSON for --backend=predictor."
)
flags.DEFINE_float(
    "latency_target_ms",
    _DEFAULT.latency_target_ms,
    "Target T (default: MobileNetV2 on the backend).",
)
flags.DEFINE_float(
    "hv_ref_factor", _DEFAULT.hv_ref_factor, "Hypervolume latency reference = factor × T."
)
flags.DEFINE_string("workdir", _DEFAULT.workdir, "Search projects.")
flags.DEFINE_string(
    "results_dir", _DEFAULT.results_dir, "Where the .json, .md and .png results are written."
)
flags.DEFINE_string(
    "results_name",
    None,
    "Results' file name without extension (default: search_efficiency, or "
    "search_efficiency_<name> on another data set), e.g. to aggregate a subset of the methods "
    "of a workdir without overwriting the main results.",
)
flags.DEFINE_string(
    "archive",
    None,
    "Also write the workdir's resumable files (no TensorBoard logs, figures or models) to this "
    ".tar.gz, to carry unfinished searches to another machine: restore with "
    "`tar xzf ARCHIVE -C <workdir's parent>` and run the same command.",
)
flags.DEFINE_string(
    "note", _DEFAULT.note, "Free text added to the .md (what happened during the run)."
)
flags.DEFINE_bool("run", _DEFAULT.run, "Run (or resume) the searches; --norun only aggregates.")


def main(argv: list[str]) -> None:
    """Flags → config → `run_benchmark`, then a short summary of what was written where."""
    del argv
    try:
        config = se_config.SearchEfficiencyConfig(
            seeds=tuple(int(seed) for seed in FLAGS.seeds),
            dataset=FLAGS.dataset,
            algorithms=tuple(FLAGS.algorithms),
            trials=FLAGS.trials,
            chunk=FLAGS.chunk,
            policy=FLAGS.policy,
            epochs=FLAGS.epochs,
            steps_per_epoch=FLAGS.steps_per_epoch,
            batch_size=FLAGS.batch_size,
            proxy_image_size=FLAGS.proxy_image_size,
            backend=FLAGS.backend,
            latency_image_size=FLAGS.latency_image_size,
            latency_runs=FLAGS.latency_runs,
            latency_clock=FLAGS.latency_clock,
            predictor_table=FLAGS.predictor_table,
            latency_target_ms=FLAGS.latency_target_ms,
            hv_ref_factor=FLAGS.hv_ref_factor,
            workdir=FLAGS.workdir,
            results_dir=FLAGS.results_dir,
            results_name=FLAGS.results_name,
            archive=FLAGS.archive,
            note=FLAGS.note,
            run=FLAGS.run,
            command=shlex.join([os.path.relpath(sys.executable, REPO), *sys.argv]),
        )
        result, base = se_run.run_benchmark(config)
    except (se_config.SettingsError, stats.RecordsError) as error:
        raise app.UsageError(str(error)) from error
    print(
        f"\nSearch efficiency ({len(result['searches'])} searches) in "
        f"{result['wall_seconds'] / 60:.1f} min:"
    )
    for algorithm, agg in result["summary"].items():
        (br, brs), (hv, hvs) = agg["best_reward"], agg["final_hypervolume"]
        print(
            f"  {algorithm:<10} best reward {br:.4f} ± {brs:.4f}   hypervolume {hv:.3f} ± {hvs:.3f}"
        )
    print(f"  wrote {base}.json, .md, .png")
    if config.archive:
        print(f"  wrote the runs archive {config.archive}")


if __name__ == "__main__":
    app.run(main)
