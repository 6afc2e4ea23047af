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

from search.multitrial.config import SearchConfig
from tflite_bench import settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FLAGS = flags.FLAGS

settings.define_flags(SearchConfig)  # one flag per field: default, help and values from it

log = logging.getLogger("mnasnet_tf.search")


def main(argv: list[str]) -> int:
    """flags → `SearchConfig` → `run_search` → the printed summary (or, with --estimate, the
    printed estimate of its wall time)."""
    del argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
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
    from search.results import report, run_folder

    records = tuner.records()
    failed = [r for r in records if r["status"] not in ("COMPLETED", "RUNNING")]
    summary = report.summary(records, references=tuner.references or (), reward=tuner.reward)
    headline = [
        "",
        f"Search finished in {seconds / 60:.1f} min: {len(records)} trials, {len(failed)} failed.",
    ]
    written = {**paths, **{f"tflite_{k}": v for k, v in exported.items()}}
    print(run_folder.format_summary(headline, summary, written))
    sys.stdout.flush()


def run_main() -> None:
    """Console-script entry point (Ctrl-C or a full disk: one line, no traceback)."""
    from tflite_bench import binary

    binary.run_binary(lambda: app.run(main), program="mnasnet-search", resumable=True)


if __name__ == "__main__":
    run_main()
