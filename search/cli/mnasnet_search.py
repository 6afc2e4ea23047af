"""`mnasnet-search`: the platform-aware architecture search binary.

Samples architectures with the controller (keras-tuner oracle), proxy-trains each, measures its
latency at the deployment resolution, rewards ACC·(LAT/T)^w, and writes trials.csv, pareto.csv,
pareto.png, history.png, summary.json and best_arch.json after every trial. The reference models
are trained on the same proxy (cached in the project) and drawn as points; the summary says which
found model beats which reference. At the end it exports the best model as float32 and int8
.tflite. Running the same command again resumes. Distributed mode uses
keras-tuner's chief/worker protocol (KERASTUNER_TUNER_ID / _ORACLE_IP / _ORACLE_PORT, or the
--distributed_role flags that set them).

A binary: flags → `search.multitrial.config.SearchConfig` → `search.multitrial.run.run_search`; only
`main` reads FLAGS.
"""

from __future__ import annotations

import logging
import os
import sys

from absl import app, flags

from search.multitrial.config import DEFAULT_REFERENCES
from search.spaces import registry as space_registry

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FLAGS = flags.FLAGS

flags.DEFINE_enum("space", "mnasnet", space_registry.list_spaces(), "Search space.")
flags.DEFINE_enum("algorithm", "reinforce", ["reinforce", "ppo", "random"], "Search algorithm.")
flags.DEFINE_enum(
    "policy",
    "independent",
    ["independent", "lstm"],
    "Controller policy (RL only): independent categoricals (TuNAS; learns within ~100 trials) "
    "or the MnasNet paper's LSTM (needs a few hundred; docs/REPRODUCTION.md).",
)
flags.DEFINE_string("dataset", "digits", "Data set: digits, folder:<path> or a tfds name.")
flags.DEFINE_string("data_dir", None, "tfds data directory.")
flags.DEFINE_integer(
    "proxy_image_size", 32, "Resolution of the proxy training task.", lower_bound=32
)
flags.DEFINE_integer(
    "epochs_per_trial",
    3,
    "Proxy training epochs per trial. 3 is the cheapest budget whose ranking of architectures "
    "agrees with 10-epoch training (Spearman ≥ 0.8) on digits and digits-m "
    "(mnasnet-proxy-check; docs/REPRODUCTION.md §8); check yours with mnasnet-proxy-check.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "proxy_repeats",
    1,
    "Seeded proxy runs per architecture (trials and references): the reward uses the mean "
    "accuracy; the std is recorded.",
    lower_bound=1,
)
flags.DEFINE_integer("batch_size", 64, "Proxy training batch size.", lower_bound=1)
flags.DEFINE_float("learning_rate", None, "Proxy learning rate (default: the proxy recipe's).")
flags.DEFINE_integer("max_trials", 20, "Number of architectures to sample.", lower_bound=1)
flags.DEFINE_integer(
    "trials_per_run",
    None,
    "Stop this run after this many new trials; run the same command again to go on (the "
    "project resumes), e.g. to interleave several searches or to fit a time slot.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "recycle_every",
    20,
    "Proxy training runs in a child process replaced after this many trials, so memory stays "
    "flat over long searches (TensorFlow keeps ~65 MB per trained model); 0 trains in this "
    "process.",
    lower_bound=0,
)
flags.DEFINE_bool(
    "reuse_results",
    True,
    "An architecture sampled again reuses its recorded proxy result instead of training again "
    "(its reward still teaches the controller; trials.csv names the trial it came from).",
)
flags.DEFINE_integer(
    "max_consecutive_failed_trials",
    10,
    "Stop the search when this many trials in a row fail (NaN loss, out of memory, conversion "
    "error); every trial keeps its reason in trials.csv. 0: never stop.",
    lower_bound=0,
)
flags.DEFINE_float(
    "latency_target_ms",
    None,
    "Latency target T in ms. Default: the measured latency of MobileNetV2 on the backend.",
)
flags.DEFINE_enum("reward", "soft", ["soft", "hard"], "Soft (α=β=w) or hard (α=0, β=-1) reward.")
flags.DEFINE_float("w", None, "Soft-reward exponent w (negative; default -0.07, the paper's).")
flags.DEFINE_enum(
    "backend",
    "local",
    ["local", "adb", "predictor", "hybrid"],
    "Latency backend: local (LiteRT on this host), adb (a phone), predictor (a latency table), "
    "hybrid (the table predicts; every --measure_every-th model and every model that would "
    "enter the Pareto front is also measured on the table's device and refits the table).",
)
flags.DEFINE_enum(
    "quantization",
    "float32",
    ["float32", "int8"],
    "Format whose latency is measured (the format the app ships; a table must match).",
)
flags.DEFINE_integer(
    "measure_every", 10, "--backend=hybrid measures every this-many-th model.", lower_bound=1
)
flags.DEFINE_bool(
    "allow_other_device",
    False,
    "Use a --predictor_table built on another device or runtime than --backend=hybrid measures "
    "on (not advised).",
)
flags.DEFINE_integer(
    "latency_image_size", 224, "Deployment resolution at which latency is measured.", lower_bound=32
)
flags.DEFINE_integer("threads", 1, "Threads for latency measurement.", lower_bound=1)
flags.DEFINE_enum(
    "latency_clock",
    "thread_cpu",
    ["thread_cpu", "wall"],
    "Local latency clock: the measuring thread's CPU time (robust to other jobs; 1 thread only) "
    "or wall time.",
)
flags.DEFINE_integer("latency_runs", 30, "Timed runs per latency measurement.", lower_bound=1)
flags.DEFINE_string(
    "predictor_table", None, "Latency table JSON for --backend=predictor or hybrid."
)
flags.DEFINE_string("adb", None, "Path of adb (default: found on PATH).")
flags.DEFINE_string("adb_serial", None, "Device serial for --backend=adb.")
flags.DEFINE_string("benchmark_model", None, "Path of the benchmark_model binary for adb.")
flags.DEFINE_string("taskset_mask", None, "CPU mask (hex) to pin benchmark_model on the phone.")
flags.DEFINE_list(
    "references",
    list(DEFAULT_REFERENCES),
    "Zoo models trained on the same proxy, measured on the same backend and drawn as points on "
    "the Pareto plot; the summary says which found model beats each.",
)
flags.DEFINE_bool(
    "train_references",
    True,
    "Train the references on the proxy (cached in the project). False: latency lines only.",
)
flags.DEFINE_string("directory", "runs", "Where search projects are written.")
flags.DEFINE_string("project_name", "search", "Project folder inside --directory.")
flags.DEFINE_integer(
    "train_verbose", 2, "Keras verbosity of proxy training (0 silent, 1 bar, 2 line per epoch)."
)
flags.DEFINE_integer(
    "seed",
    0,
    "Seed of the controller, the data split and every proxy run (each run is seeded from it "
    "and the architecture, so an architecture's proxy accuracy reproduces).",
)
flags.DEFINE_bool("overwrite", False, "Start afresh instead of resuming an existing project.")
flags.DEFINE_bool("export", True, "Export the best model as float32 and int8 .tflite at the end.")
flags.DEFINE_bool(
    "tensorboard",
    True,
    "Write TensorBoard logs to <project>/tensorboard as each trial ends: reward, accuracy, "
    "latency, best reward and controller entropy per trial, and the HParams dashboard "
    "(`tensorboard --logdir=<project>/tensorboard`).",
)
flags.DEFINE_bool(
    "estimate",
    False,
    "Print the expected wall time of this search and its parts (proxy training measured on a "
    "few steps, conversion and latency on the backend, references, export) and exit, without "
    "searching or writing anything.",
)
flags.DEFINE_bool(
    "log_estimate",
    True,
    "Measure and log the expected wall time as the first line of the search (~15-30 s on 2 "
    "cores; worth it for a long search, skip it for quick runs).",
)
flags.DEFINE_integer(
    "steps_per_epoch", None, "Cap on proxy training steps per epoch (quick runs).", lower_bound=1
)
flags.DEFINE_enum(
    "distributed_role", None, ["chief", "worker"], "Run as keras-tuner chief or worker."
)
flags.DEFINE_string("oracle_ip", "127.0.0.1", "Chief address (the chief binds to it).")
flags.DEFINE_integer("oracle_port", 8000, "Chief port.", lower_bound=1, upper_bound=65535)
flags.DEFINE_string("tuner_id", None, "This worker's id (default: worker<pid>).")
flags.DEFINE_float(
    "worker_timeout_s",
    1800,
    "A trial with no news for this long is given to another worker (its worker is presumed dead).",
    lower_bound=1,
)

log = logging.getLogger("mnasnet_tf.search")


def main(argv: list[str]) -> int:
    """flags → `SearchConfig` → `run_search` → the printed summary (or, with --estimate, the
    printed estimate of its wall time)."""
    del argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    from search.multitrial.config import SearchConfig
    from search.multitrial.run import SearchSetupError, run_search

    try:
        config = SearchConfig.from_flags(FLAGS)
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    if config.estimate:
        from search.multitrial.estimate import estimate

        try:
            print(estimate(config).describe())
        except ValueError as error:
            raise app.UsageError(str(error)) from None
        return 0
    try:
        result = run_search(config)
    except SearchSetupError as error:
        raise app.UsageError(str(error)) from None
    if result.role == "worker":
        print(f"worker {os.environ['KERASTUNER_TUNER_ID']} finished.")
        return 0
    _print_summary(result.tuner, result.paths, result.exported, result.seconds)
    if result.export_check is not None:
        print("\n".join(result.export_check.lines()))
    if result.problem:  # stopped after too many failures in a row, or nothing completed
        sys.stdout.flush()
        print(f"mnasnet-search: {result.problem}", file=sys.stderr)
        return 1
    return 0


def _print_summary(tuner, paths, exported, seconds) -> None:
    from search.results import report

    records = tuner.records()
    best = report.best_record(records)
    failed = [r for r in records if r["status"] not in ("COMPLETED", "RUNNING")]
    print()
    print(
        f"Search finished in {seconds / 60:.1f} min: {len(records)} trials, {len(failed)} failed."
    )
    if best:
        print(
            f"Best: trial {best['trial']}  accuracy {best['accuracy']:.4f}  "
            f"latency {best['latency_ms']:.2f} ms  reward {best['reward']:.4f}"
        )
        print(f"      {best['arch']}")
    if tuner.references:
        print("Against the reference models (same proxy, same latency backend):")
        for line in report.summary(records, references=tuner.references)["verdict"]:
            print(f"  {line}")
    for name, path in {**paths, **{f"tflite_{k}": v for k, v in exported.items()}}.items():
        print(f"  {name:<14} {path}")
    sys.stdout.flush()


def run_main() -> None:
    """Console-script entry point (Ctrl-C or a full disk: one line, no traceback)."""
    from tflite_bench import binary

    binary.run_binary(lambda: app.run(main), program="mnasnet-search", resumable=True)


if __name__ == "__main__":
    run_main()
