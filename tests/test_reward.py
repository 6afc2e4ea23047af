"""Tests of search/controllers/reward.py: exact values and parts, constructors, errors."""

import dataclasses
import math

import pytest

from search.controllers import reward


def test_soft_reward_value_and_parts():
    result = reward.mnas_reward(0.75, 150.0, target_ms=75.0, alpha=-0.07, beta=-0.07)
    assert result.exponent_used == -0.07
    assert result.latency_term == pytest.approx(2.0**-0.07)
    assert result.value == pytest.approx(0.75 * 2.0**-0.07)
    assert (result.accuracy, result.latency_ms, result.target_ms) == (0.75, 150.0, 75.0)


def test_soft_reward_rewards_faster_models_below_target():
    config = reward.soft(target_ms=75.0)
    assert config(0.7, 37.5).value == pytest.approx(0.7 * 0.5**-0.07)
    assert config(0.7, 37.5).value > config(0.7, 75.0).value == pytest.approx(0.7)


def test_hard_reward_is_accuracy_within_target_and_penalised_beyond():
    config = reward.hard(target_ms=80.0)
    assert (config.alpha, config.beta) == (0.0, -1.0)
    within = config(0.6, 40.0)
    assert within.value == 0.6 and within.exponent_used == 0.0 and within.latency_term == 1.0
    at_target = config(0.6, 80.0)
    assert at_target.value == 0.6 and at_target.exponent_used == 0.0
    beyond = config(0.6, 160.0)
    assert beyond.exponent_used == -1.0
    assert beyond.value == pytest.approx(0.3)


def test_soft_tradeoff_two_times_latency_for_five_percent():
    w = reward.w_for_tradeoff()
    assert w == pytest.approx(math.log(1 / 1.05) / math.log(2))
    assert w == pytest.approx(-0.0704, abs=1e-4)
    config = reward.soft(target_ms=10.0, w=w)
    assert config(0.70 * 1.05, 20.0).value == pytest.approx(config(0.70, 10.0).value)
    assert reward.w_for_tradeoff(0.10, 2.0) == pytest.approx(math.log(1 / 1.1) / math.log(2))


def test_from_flags():
    assert reward.RewardConfig.from_flags("soft", 75.0) == reward.soft(target_ms=75.0, w=-0.07)
    assert reward.RewardConfig.from_flags("soft", 50.0, w=-0.15).alpha == -0.15
    assert reward.RewardConfig.from_flags(kind="hard", target_ms=20.0) == reward.hard(
        target_ms=20.0
    )


def test_config_is_frozen_and_round_trips_through_a_dict():
    config = reward.soft(target_ms=75.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.alpha = 0.0
    assert reward.RewardConfig(**config.to_dict()) == config


def test_as_metrics():
    metrics = reward.hard(target_ms=10.0)(0.5, 20.0).as_metrics()
    assert metrics == {"reward": 0.25, "accuracy": 0.5, "latency_ms": 20.0, "latency_term": 0.5}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(accuracy=1.2, latency_ms=10.0), "accuracy must be in"),
        (dict(accuracy=-0.1, latency_ms=10.0), "accuracy must be in"),
        (dict(accuracy=float("nan"), latency_ms=10.0), "accuracy must be a number"),
        (dict(accuracy=0.5, latency_ms=0.0), "latency_ms must be a number > 0"),
        (dict(accuracy=0.5, latency_ms=-3.0), "latency_ms must be a number > 0"),
        (dict(accuracy=0.5, latency_ms=float("inf")), "latency_ms must be a number"),
        (dict(accuracy=0.5, latency_ms=10.0, target_ms=0.0), "target_ms must be a number > 0"),
        (dict(accuracy=0.5, latency_ms=10.0, alpha=float("nan")), "alpha must be a number"),
        (dict(accuracy="0.5", latency_ms=10.0), "accuracy must be a number; got '0.5'"),
    ],
)
def test_mnas_reward_errors(kwargs, match):
    arguments = dict(target_ms=75.0, alpha=-0.07, beta=-0.07) | kwargs
    with pytest.raises(ValueError, match=match):
        reward.mnas_reward(**arguments)


def test_config_errors():
    with pytest.raises(ValueError, match="reward kind must be one of .* got 'medium'"):
        reward.RewardConfig.from_flags("medium", 75.0)
    with pytest.raises(ValueError, match="reward kind must be one of"):
        reward.RewardConfig(kind="exp", target_ms=75.0, alpha=-0.07, beta=-0.07)
    with pytest.raises(ValueError, match="target_ms must be a number > 0; got -1"):
        reward.soft(target_ms=-1)
    with pytest.raises(ValueError, match="target_ms must be a number > 0"):
        reward.hard(target_ms=0)
    with pytest.raises(ValueError, match="w applies to the soft reward only"):
        reward.RewardConfig.from_flags("hard", 75.0, w=-0.07)
    with pytest.raises(ValueError, match="alpha must be <= 0"):
        reward.soft(target_ms=75.0, w=0.07)
    with pytest.raises(ValueError, match="alpha == beta"):
        reward.RewardConfig(kind="soft", target_ms=75.0, alpha=-0.07, beta=-0.1)
    with pytest.raises(ValueError, match="alpha == 0"):
        reward.RewardConfig(kind="hard", target_ms=75.0, alpha=-0.07, beta=-1.0)
    with pytest.raises(ValueError, match="relative_accuracy_gain must be a number > 0"):
        reward.w_for_tradeoff(0.0)
    with pytest.raises(ValueError, match="latency_factor must be a number > 1"):
        reward.w_for_tradeoff(0.05, 1.0)


def test_tunas_absolute_reward():
    """Q + β·|LAT/T − 1|: symmetric around T, exact at T, and bad input named."""
    assert reward.absolute_reward(0.8, 10.0, target_ms=10.0) == 0.8
    slow = reward.absolute_reward(0.8, 12.0, target_ms=10.0)
    fast = reward.absolute_reward(0.8, 8.0, target_ms=10.0)
    assert slow == pytest.approx(0.8 - 0.10 * 0.2) and fast == pytest.approx(slow)
    assert reward.absolute_reward(0.5, 20.0, target_ms=10.0, beta=-1.0) == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="latency_ms must be a number > 0; got 0"):
        reward.absolute_reward(0.5, 0, target_ms=10.0)
    with pytest.raises(ValueError, match="beta must be a number; got nan"):
        reward.absolute_reward(0.5, 1.0, target_ms=10.0, beta=math.nan)
