"""MnasTuner follows keras-tuner's conventions: it is built like keras-tuner's own tuners
(space, objective, max_trials, directory, project_name) with its own oracle and collaborators,
`search()` honours the arguments it documents and refuses the rest by name, and a search's
result is typed. Proxy training and latency are faked; one slow test runs the defaults."""

from __future__ import annotations

import keras_tuner
import pytest
from latency_fakes import FakeMeter

from search.controllers.reward import soft
from search.multitrial import tuner as tuner_module
from search.multitrial.oracle import MnasOracle
from search.proxy.task import ProxyTask
from search.spaces.registry import get_space

REWARD = soft(target_ms=10.0)


def _tuner(tmp_path, **kwargs):
    options = {
        "reward": REWARD,
        "proxy": ProxyTask(image_size=32, epochs=1, classes=10),
        "meter": FakeMeter(),
        "directory": str(tmp_path),
        "project_name": "p",
        "write_reports": False,
    }
    return tuner_module.MnasTuner(**{**options, **kwargs})


def test_built_like_a_keras_tuner_tuner_it_makes_its_own_oracle(tmp_path):
    tuner = _tuner(tmp_path, space="mobilenetv3-small", max_trials=7, seed=4)
    assert isinstance(tuner.oracle, MnasOracle)
    assert tuner.oracle.max_trials == 7 and tuner.oracle.seed == 4
    assert tuner.oracle.objective.name == "reward" and tuner.oracle.objective.direction == "max"
    assert tuner.space.name == "mobilenetv3-small" and tuner.search_seed == 4
    assert tuner.project_dir == str(tmp_path / "p")


def test_a_ready_oracle_and_the_collaborators_still_work(tmp_path):
    space = get_space("mnasnet")
    oracle = MnasOracle(space, reward=REWARD, max_trials=3, seed=1)
    tuner = _tuner(tmp_path, oracle=oracle, space=space, search_seed=9, tensorboard=True)
    assert tuner.oracle is oracle and tuner.search_seed == 9
    assert tuner.tensorboard is not None
    assert tuner.tensorboard.log_dir.startswith(str(tmp_path / "p"))
    with pytest.raises(ValueError, match="got oracle= with max_trials=5, policy='lstm'"):
        _tuner(tmp_path, oracle=oracle, max_trials=5, policy="lstm")


def test_the_oracle_it_makes_takes_keras_tuners_oracle_arguments(tmp_path):
    tuner = _tuner(
        tmp_path,
        algorithm="random",
        max_retries_per_trial=2,
        max_consecutive_failed_trials=0,
    )
    oracle = tuner.oracle
    assert oracle.algorithm == "random" and oracle.max_retries_per_trial == 2
    assert oracle.consecutive_failure_limit is None  # 0: never stop
    assert oracle.max_trials == 20 and tuner.search_seed == 0  # mnasnet-search's defaults
    assert oracle.worker_timeout_s == 1800.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"algorithm": "evolution"}, "algorithm must be one of .*; got 'evolution'"),
        ({"policy": "gru"}, "policy must be one of .*; got 'gru'"),
        ({"max_trials": 0}, "max_trials must be an integer >= 1; got 0"),
        ({"max_retries_per_trial": -1}, "max_retries_per_trial must be an integer >= 0; got -1"),
        ({"seed": "1"}, "seed must be an integer; got '1'"),
    ],
)
def test_a_bad_oracle_argument_is_refused_before_anything_is_measured(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):  # meter=None: nothing measured before this
        tuner_module.MnasTuner(directory=str(tmp_path), project_name="p", **kwargs)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("objective", [None, "reward", keras_tuner.Objective("reward", "max")])
def test_the_reward_is_the_objective(tmp_path, objective):
    assert _tuner(tmp_path, objective=objective).oracle.objective.name == "reward"


@pytest.mark.parametrize("objective", ["val_accuracy", keras_tuner.Objective("reward", "min")])
def test_another_objective_is_refused_naming_it(tmp_path, objective):
    with pytest.raises(ValueError, match="objective must be None or 'reward'; got"):
        _tuner(tmp_path, objective=objective)


def test_an_unknown_space_is_refused_naming_it(tmp_path):
    with pytest.raises(ValueError, match="'nasnet'"):
        _tuner(tmp_path, space="nasnet")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"callbacks": []}, "does not take callbacks: .* cannot be pickled"),
        ({"batch_size": 32}, "takes data, validation_data, epochs and verbose; got batch_size"),
        ({"epochs": 0}, "epochs must be a positive integer; got 0"),
    ],
)
def test_search_refuses_what_it_does_not_honour_before_any_trial(tmp_path, kwargs, message):
    tuner = _tuner(tmp_path, max_trials=2)
    with pytest.raises(ValueError, match=message):
        tuner.search(**kwargs)
    assert tuner.oracle.trials == {}  # no trial was started


def test_search_epochs_sets_the_proxy_epochs(tmp_path, monkeypatch):
    tuner = _tuner(tmp_path, max_trials=1)
    seen = {}
    monkeypatch.setattr(
        keras_tuner.engine.base_tuner.BaseTuner,
        "search",
        lambda self, *args, **kwargs: seen.update(args=args, kwargs=kwargs),
    )
    tuner.search(epochs=4, verbose=0)
    assert tuner.proxy.epochs == 4 and tuner.proxy.image_size == 32
    assert seen == {"args": (), "kwargs": {"verbose": 0}}  # data: the bundled digits, lazily


def test_search_result_fields_are_typed():
    import typing

    from search.multitrial import oracle, run
    from search.results import export_check, report

    names = {
        "MnasTuner": tuner_module.MnasTuner,
        "FailureStop": oracle.FailureStop,
        "ExportCheck": export_check.ExportCheck,
        "ReferencePoint": report.ReferencePoint,
    }
    hints = typing.get_type_hints(run.SearchResult, localns=names)
    assert hints["tuner"] is tuner_module.MnasTuner
    assert hints["references"] == list[report.ReferencePoint]
    assert hints["failure_stop"] == oracle.FailureStop | None
    assert hints["export_check"] == export_check.ExportCheck | None
    assert typing.Any not in hints.values()


@pytest.mark.slow
def test_the_defaults_measure_the_target_and_a_search_runs_on_digits(tmp_path):
    """No collaborator given: the local meter measures MobileNetV2 for T, the proxy is
    mnasnet-search's, and search() with no data trains on the bundled digits."""
    tuner = tuner_module.MnasTuner(
        space="mnasnet",
        max_trials=1,
        directory=str(tmp_path),
        project_name="defaults",
        proxy=ProxyTask(image_size=32, epochs=1, classes=10, steps_per_epoch=2),
        recycle_every=0,
    )
    assert tuner.reward.target_ms > 0 and tuner.meter.image_size == 224
    tuner.search(verbose=0)
    (record,) = tuner.records()
    assert record["status"] == "COMPLETED" and 0 <= record["accuracy"] <= 1
    tuner.meter.close()
