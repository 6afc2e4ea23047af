"""The search's TensorBoard logs (search/results/tensorboard_log.py): hand-made trial records of the
toy
space are written, read back from the event files, and written once across a resume."""

from __future__ import annotations

import numpy as np
import pytest

from search.results import tensorboard_log
from tests.toy_space import toy_space

tf = pytest.importorskip("tensorflow")


def _record(space, trial: str, choices, *, reward, accuracy, latency, entropy):
    return {
        "trial": trial,
        "status": "COMPLETED",
        "arch_spec": space.to_arch(choices),
        "reward": reward,
        "accuracy": accuracy,
        "latency_ms": latency,
        "controller_entropy": entropy,
    }


def _records(space):
    rng = np.random.default_rng(0)
    return [
        _record(space, "0", space.sample(rng), reward=0.5, accuracy=0.6, latency=9.0, entropy=3.0),
        {"trial": "1", "status": "FAILED", "reason": "NaN loss"},
        _record(space, "2", space.sample(rng), reward=0.7, accuracy=0.8, latency=8.0, entropy=2.9),
        _record(space, "3", space.sample(rng), reward=0.6, accuracy=0.7, latency=7.0, entropy=2.8),
        {"trial": "4", "status": "RUNNING"},
    ]


def _accumulator(run_dir: str):
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(
        run_dir, size_guidance={event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    return accumulator


def _scalars(run_dir: str) -> dict[str, list[tuple[int, float]]]:
    """tag → [(step, value rounded to 5 places)] of every scalar in a run (float32 on disk)."""
    accumulator = _accumulator(run_dir)
    return {
        tag: [(e.step, round(float(tf.make_ndarray(e.tensor_proto)), 5)) for e in events]
        for tag in accumulator.PluginTagToContent("scalars")
        for events in [accumulator.Tensors(tag)]
    }


def _plugin_content(run_dir: str, plugin: str) -> dict[str, bytes]:
    """tag → the plugin's metadata content, for the plugin's tags in a run."""
    return _accumulator(run_dir).PluginTagToContent(plugin)


def test_completed_trials_become_scalars_sessions_and_an_experiment(tmp_path):
    space = toy_space()
    log = tensorboard_log.TensorBoardLog(str(tmp_path / "tb"), space)
    assert log.write(_records(space)) == ["0", "2", "3"]
    log.close()

    scalars = _scalars(str(tmp_path / "tb" / "search"))
    assert scalars == {
        "trial/reward": [(0, 0.5), (2, 0.7), (3, 0.6)],
        "trial/accuracy": [(0, 0.6), (2, 0.8), (3, 0.7)],
        "trial/latency_ms": [(0, 9.0), (2, 8.0), (3, 7.0)],
        "search/best_reward": [(0, 0.5), (2, 0.7), (3, 0.7)],
        "controller/entropy": [(0, 3.0), (2, 2.9), (3, 2.8)],
    }

    # The HParams dashboard: the experiment at the root, one session per completed trial.
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    root = _plugin_content(str(tmp_path / "tb"), metadata.PLUGIN_NAME)
    experiment = plugin_data_pb2.HParamsPluginData.FromString(root[metadata.EXPERIMENT_TAG])
    declared = {h.name: list(h.domain_discrete.values) for h in experiment.experiment.hparam_infos}
    assert list(declared) == space.names()
    assert [v.number_value for v in declared["block1/kernel"]] == [3, 5, 7]
    assert [m.name.tag for m in experiment.experiment.metric_infos] == [
        "reward",
        "accuracy",
        "latency_ms",
    ]
    sessions = sorted(path.name for path in (tmp_path / "tb").glob("trial_*"))
    assert sessions == ["trial_0", "trial_2", "trial_3"]
    session = str(tmp_path / "tb" / "trial_2")
    start = _plugin_content(session, metadata.PLUGIN_NAME)[metadata.SESSION_START_INFO_TAG]
    info = plugin_data_pb2.HParamsPluginData.FromString(start).session_start_info
    expected = space.to_values(space.from_arch(_records(space)[2]["arch_spec"]))
    assert set(info.hparams) == set(space.names())
    for name, value in expected.items():
        assert info.hparams[name].number_value == pytest.approx(value)
    assert _scalars(session) == {
        "reward": [(0, 0.7)],
        "accuracy": [(0, 0.8)],
        "latency_ms": [(0, 8.0)],
    }


def test_a_resumed_search_writes_each_trial_once(tmp_path):
    space = toy_space()
    records = _records(space)
    first = tensorboard_log.TensorBoardLog(str(tmp_path / "tb"), space)
    assert first.write(records[:3]) == ["0", "2"]
    assert first.write(records[:3]) == []  # nothing new
    first.close()

    # A new process (a resumed search) with the same trials and one more.
    resumed = tensorboard_log.TensorBoardLog(str(tmp_path / "tb"), space)
    assert resumed.written == {"0", "2"}
    assert resumed.write(records) == ["3"]
    resumed.close()

    scalars = _scalars(str(tmp_path / "tb" / "search"))
    for tag in ("trial/reward", "search/best_reward", "controller/entropy"):
        steps = [step for step, _ in scalars[tag]]
        assert steps == [0, 2, 3], tag
    assert scalars["search/best_reward"][-1] == (3, pytest.approx(0.7))
    root_files = list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert len(root_files) == 1  # the experiment is written once too
