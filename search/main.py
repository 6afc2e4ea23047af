"""`mnasnet-search`: the platform-aware architecture search binary.

Samples architectures with the controller (keras-tuner oracle), proxy-trains each, measures its
latency at the deployment resolution, rewards ACC·(LAT/T)^w, and writes trials.csv, pareto.csv,
pareto.png, history.png, summary.json and best_arch.json after every trial. The reference models
are trained on the same proxy (cached in the project) and drawn as points; the summary says which
found model beats which reference. At the end it exports the best model as float32 and int8
.tflite. Running the same command again resumes. Distributed mode uses
keras-tuner's chief/worker protocol (KERASTUNER_TUNER_ID / _ORACLE_IP / _ORACLE_PORT, or the
--distributed_role flags that set them).
"""

from __future__ import annotations

import logging
import os
import sys
import time

from absl import app, flags

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "space",
    "mnasnet",
    "Search space: mnasnet, mnasnet-extended, mobilenetv3-large, mobilenetv3-small.",
)
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
flags.DEFINE_float(
    "latency_target_ms",
    None,
    "Latency target T in ms. Default: the measured latency of MobileNetV2 on the backend.",
)
flags.DEFINE_enum("reward", "soft", ["soft", "hard"], "Soft (α=β=w) or hard (α=0, β=-1) reward.")
flags.DEFINE_float("w", None, "Soft-reward exponent w (negative; default -0.07, the paper's).")
flags.DEFINE_enum("backend", "local", ["local", "adb", "predictor"], "Latency backend.")
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
flags.DEFINE_string("predictor_table", None, "Latency table JSON for --backend=predictor.")
flags.DEFINE_string("adb", None, "Path of adb (default: found on PATH).")
flags.DEFINE_string("adb_serial", None, "Device serial for --backend=adb.")
flags.DEFINE_string("benchmark_model", None, "Path of the benchmark_model binary for adb.")
flags.DEFINE_string("taskset_mask", None, "CPU mask (hex) to pin benchmark_model on the phone.")
flags.DEFINE_list(
    "references",
    ["mobilenet-v2", "mobilenet-v3-large", "mobilenet-v3-small", "mnasnet-a1"],
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


def _setup_distribution() -> str | None:
    """Sets keras-tuner's distribution variables from the flags; returns the role or None."""
    if FLAGS.distributed_role:
        os.environ["KERASTUNER_ORACLE_IP"] = FLAGS.oracle_ip
        os.environ["KERASTUNER_ORACLE_PORT"] = str(FLAGS.oracle_port)
        if FLAGS.distributed_role == "chief":
            os.environ["KERASTUNER_TUNER_ID"] = "chief"
        else:
            os.environ["KERASTUNER_TUNER_ID"] = FLAGS.tuner_id or f"worker{os.getpid()}"
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def main(argv: list[str]) -> int:
    del argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    role = _setup_distribution()
    started = time.time()

    from search import oracle as oracle_module
    from search import reward as reward_module
    from search import space as space_module

    try:
        space = space_module.get_space(FLAGS.space)
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    if FLAGS.w is not None and FLAGS.w >= 0:
        raise app.UsageError(f"--w must be negative (latency should cost reward); got {FLAGS.w}")
    if FLAGS.latency_target_ms is not None and FLAGS.latency_target_ms <= 0:
        raise app.UsageError(f"--latency_target_ms must be positive; got {FLAGS.latency_target_ms}")

    from search import references as references_module

    try:
        references_module.resolve(FLAGS.references)
    except ValueError as error:
        raise app.UsageError(str(error)) from None

    from search import latency_meter
    from search import tuner as tuner_module

    project_dir = os.path.join(FLAGS.directory, FLAGS.project_name)
    data = _load_data()  # before the project folder exists: a bad data set writes nothing
    os.makedirs(project_dir, exist_ok=True)
    meter = latency_meter.LatencyMeter(
        FLAGS.backend,
        image_size=FLAGS.latency_image_size,
        classes=data.num_classes,
        threads=FLAGS.threads,
        runs=FLAGS.latency_runs,
        clock=FLAGS.latency_clock,
        cache_path=os.path.join(project_dir, "latency_cache.json"),
        predictor_table=FLAGS.predictor_table,
        adb_options=_adb_options(),
    )
    proxy = tuner_module.ProxyTask(
        image_size=FLAGS.proxy_image_size,
        epochs=FLAGS.epochs_per_trial,
        classes=data.num_classes,
        steps_per_epoch=FLAGS.steps_per_epoch,
        learning_rate=FLAGS.learning_rate,
        verbose=FLAGS.train_verbose,
        repeats=FLAGS.proxy_repeats,
    )
    # The references' latency now (the default target needs it); their proxy accuracy now in a
    # single process, after the search on a chief (which owns them but must serve its workers).
    references = (
        _references(meter, proxy, data, project_dir, measure_only=role == "chief")
        if role != "worker"
        else []
    )
    target = FLAGS.latency_target_ms
    if target is None:
        target = _default_target(meter, references)
    try:
        reward_config = reward_module.RewardConfig.from_flags(
            FLAGS.reward, target_ms=target, w=FLAGS.w
        )
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    oracle = oracle_module.MnasOracle(
        space=space,
        algorithm=FLAGS.algorithm,
        policy=FLAGS.policy,
        reward=reward_config,
        max_trials=FLAGS.max_trials,
        seed=FLAGS.seed,
        worker_timeout_s=FLAGS.worker_timeout_s,
        trials_per_run=FLAGS.trials_per_run,
    )
    tuner = tuner_module.MnasTuner(
        oracle,
        space=space,
        reward=reward_config,
        proxy=proxy,
        meter=meter,
        directory=FLAGS.directory,
        project_name=FLAGS.project_name,
        overwrite=FLAGS.overwrite,
        search_seed=FLAGS.seed,
        reuse_results=FLAGS.reuse_results,
        recycle_every=FLAGS.recycle_every,
    )
    tuner.references = references
    log.info(
        "search: space %s (%.3g architectures), %s, %d trials, target %.2f ms (%s), backend %s",
        FLAGS.space,
        space.size(),
        FLAGS.algorithm,
        FLAGS.max_trials,
        target,
        FLAGS.reward,
        FLAGS.backend,
    )
    if role == "chief":
        tuner.search(verbose=0)
    else:
        tuner.search(data, verbose=0)
    if role == "worker":
        print(f"worker {os.environ['KERASTUNER_TUNER_ID']} finished.")
        return 0
    if role == "chief":
        tuner.references = _references(meter, proxy, data, project_dir, measure_only=False)
    paths = tuner.write_all_reports()
    exported = _export_best(tuner, data) if FLAGS.export and role is None else {}
    _print_summary(tuner, paths, exported, time.time() - started)
    return 0


def _load_data():
    from search.proxy import ProxyData

    try:
        return ProxyData(
            FLAGS.dataset,
            image_size=FLAGS.proxy_image_size,
            batch_size=FLAGS.batch_size,
            data_dir=FLAGS.data_dir,
            split_seed=FLAGS.seed,
        )
    except ValueError as error:
        raise app.UsageError(str(error)) from None


def _adb_options() -> dict:
    options = {}
    if FLAGS.adb:
        options["adb_path"] = FLAGS.adb
    if FLAGS.adb_serial:
        options["serial"] = FLAGS.adb_serial
    if FLAGS.benchmark_model:
        options["benchmark_model"] = FLAGS.benchmark_model
    if FLAGS.taskset_mask:
        options["taskset_mask"] = FLAGS.taskset_mask
    return options


def _references(meter, proxy, data, project_dir: str, *, measure_only: bool):
    from search import references as references_module

    def show(point, cached) -> None:
        if point.accuracy is None:
            log.info("reference %-20s %.2f ms on %s", point.name, point.latency_ms, meter.backend)
        else:
            log.info(
                "reference %-20s %.2f ms on %s, proxy accuracy %.4f%s",
                point.name,
                point.latency_ms,
                meter.backend,
                point.accuracy,
                " (cached)" if cached else "",
            )

    if FLAGS.references and not measure_only and FLAGS.train_references:
        log.info("training %d reference models on the proxy", len(FLAGS.references))
    return references_module.proxy_references(
        FLAGS.references,
        meter=meter,
        task=proxy,
        data=data,
        search_seed=FLAGS.seed,
        cache_path=os.path.join(project_dir, "references.json"),
        measure_only=measure_only or not FLAGS.train_references,
        on_reference=show,
    )


def _default_target(meter, references) -> float:
    for point in references:
        if point.name == "mobilenet-v2":
            return point.latency_ms
    from mnasnet_tf import zoo

    return meter.measure(zoo.get_arch("mobilenet-v2"), name="mobilenet-v2").median_ms


def _export_best(tuner, data) -> dict[str, str]:
    """Exports the best trial's trained model as float32 and int8 .tflite."""
    import keras
    import numpy as np

    from search import report
    from tflite_bench import convert

    best = report.best_record(tuner.records())
    if best is None:
        log.warning("no completed trial: nothing to export")
        return {}
    path = os.path.join(tuner.get_trial_dir(best["trial"]), "model.keras")
    if not os.path.exists(path):
        log.info("trial %s's weights were not kept on this machine; retraining it", best["trial"])
        from search.proxy import run_proxy

        _, model = run_proxy(
            best["arch_spec"],
            task=tuner.proxy,
            data=data,
            search_seed=tuner.search_seed,
            keep_model=True,
        )
        model.save(path)
    model = keras.models.load_model(path)
    images = np.concatenate([images.numpy() for images, _ in data.train(0).take(8)])
    written = {}
    for quantization in ("float32", "int8"):
        out = os.path.join(tuner.project_dir, f"best_model_{quantization}.tflite")
        convert.convert(
            model,
            quantization=quantization,
            representative_data=images if quantization == "int8" else None,
            output_path=out,
        )
        written[quantization] = out
    return written


def _print_summary(tuner, paths, exported, seconds) -> None:
    from search import report

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
    """Console-script entry point."""
    app.run(main)


if __name__ == "__main__":
    run_main()
