"""Tests of search/controllers/controller.py and search/controllers/policy.py: exact values,
gradients, learning, state."""

import json
import math

import numpy as np
import pytest

from search.controllers.controller import Controller, UniformController, make_controller
from search.controllers.policy import IndependentPolicy, LSTMPolicy

SIZES = [4, 2, 2, 3, 3, 3] * 2  # two MnasNet blocks
UNIFORM_ENTROPY = sum(math.log(n) for n in SIZES)


def synthetic_target(seed: int = 1000) -> list[int]:
    return [int(x) for x in np.random.default_rng(seed).integers(SIZES)]


def fraction_matching(choices, target) -> float:
    return float(np.mean(np.asarray(choices) == np.asarray(target)))


# ---- exact values ----


def test_fresh_independent_policy_is_uniform():
    controller = Controller(SIZES, policy="independent")
    assert controller.entropy() == pytest.approx(UNIFORM_ENTROPY, abs=1e-12)
    assert controller.log_prob(synthetic_target()) == pytest.approx(-UNIFORM_ENTROPY, abs=1e-12)
    for probs, n in zip(controller.choice_probabilities(), SIZES, strict=True):
        np.testing.assert_allclose(probs, np.full(n, 1.0 / n))


def test_lstm_with_zero_heads_is_uniform_along_every_path():
    controller = Controller(SIZES, policy="lstm", zero_init_heads=True)
    assert controller.entropy() == pytest.approx(UNIFORM_ENTROPY, abs=1e-12)
    choices, log_prob = controller.sample()
    assert log_prob == pytest.approx(-UNIFORM_ENTROPY, abs=1e-12)
    _, entropies, _ = controller.policy.evaluate(np.asarray([choices]))
    assert entropies[0] == pytest.approx(UNIFORM_ENTROPY, abs=1e-12)
    for probs, n in zip(controller.choice_probabilities(num_samples=0), SIZES, strict=True):
        np.testing.assert_allclose(probs, np.full(n, 1.0 / n))


def test_lstm_nasnet_init_is_close_to_uniform():
    controller = Controller(SIZES, policy="lstm")
    weights = np.concatenate([p.ravel() for p in controller.policy.params.values()])
    assert weights.min() >= -0.1 and weights.max() <= 0.1 and weights.std() > 0.05
    assert controller.policy.params["lstm_kernel"].shape == (200, 400)
    assert 0.9 * UNIFORM_ENTROPY < controller.entropy() < UNIFORM_ENTROPY


def test_sampled_log_prob_matches_log_prob():
    for policy in ("lstm", "independent"):
        controller = Controller(SIZES, policy=policy, seed=3)
        controller.policy.params = {
            k: v + np.random.default_rng(0).normal(0, 0.5, v.shape)
            for k, v in controller.policy.params.items()
        }
        for _ in range(5):
            choices, log_prob = controller.sample()
            assert controller.log_prob(choices) == pytest.approx(log_prob, abs=1e-12)


# ---- gradients ----


@pytest.mark.parametrize("kind", ["lstm", "independent"])
def test_gradients_match_finite_differences(kind):
    sizes = [3, 2, 4, 2]
    rng = np.random.default_rng(0)
    if kind == "lstm":
        policy = LSTMPolicy(sizes, hidden_size=5, embedding_size=4, init_range=0.5, seed=1)
    else:
        policy = IndependentPolicy(sizes)
        policy.params["logits"] = rng.normal(size=policy.params["logits"].shape)
    choices, _, _ = policy.sample(rng, 6)
    d_log_prob, d_entropy = rng.normal(size=6), rng.normal(size=6)

    def objective() -> float:
        log_probs, entropies, _ = policy.evaluate(choices)
        return float((d_log_prob * log_probs + d_entropy * entropies).sum())

    _, _, cache = policy.evaluate(choices)
    grads = policy.gradients(cache, d_log_prob, d_entropy)
    eps = 1e-6
    for name, param in policy.params.items():
        numeric = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            old = param[index]
            param[index] = old + eps
            plus = objective()
            param[index] = old - eps
            minus = objective()
            param[index] = old
            numeric[index] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(grads[name], numeric, atol=1e-7, rtol=1e-5, err_msg=name)


def test_ppo_first_epoch_is_reinforce():
    """With old log-probs equal to the current ones, the ratio is 1 and PPO's first step is
    REINFORCE's."""
    batch = [synthetic_target(s) for s in range(4)]
    rewards = [0.1, 0.5, 0.2, 0.9]
    params = []
    for algorithm in ("reinforce", "ppo"):
        controller = Controller(SIZES, algorithm=algorithm, ppo_epochs=1, seed=5)
        controller.update(batch, rewards)
        params.append(controller.policy.params)
    for name in params[0]:
        np.testing.assert_array_equal(params[0][name], params[1][name])


def test_baseline_is_an_ema_of_rewards():
    controller = Controller(SIZES, policy="independent")
    diagnostics = controller.update([synthetic_target()] * 2, [0.4, 0.6])
    assert diagnostics["advantage_mean"] == pytest.approx(0.0)
    assert controller.baseline == pytest.approx(0.95 * (0.95 * 0.5 + 0.05 * 0.4) + 0.05 * 0.6)
    before = controller.baseline
    diagnostics = controller.update([synthetic_target()], [1.0])
    assert diagnostics["advantage_mean"] == pytest.approx(1.0 - before)
    assert controller.baseline == pytest.approx(0.95 * before + 0.05)


def test_ppo_clips():
    controller = Controller(SIZES, algorithm="ppo", learning_rate=0.5, ppo_epochs=5, seed=2)
    batch = [controller.sample()[0] for _ in range(8)]
    controller.update(batch, [0.0] * 8)  # sets the baseline
    diagnostics = controller.update(batch, list(np.linspace(0, 1, 8)))
    assert diagnostics["clip_fraction"] > 0
    assert set(diagnostics) >= {"approx_kl", "entropy", "grad_norm", "baseline", "objective"}


# ---- learning ----


@pytest.mark.slow
@pytest.mark.parametrize(
    ("algorithm", "policy", "budget", "batch"),
    [
        ("reinforce", "independent", 500, 1),
        ("ppo", "independent", 500, 10),
        ("reinforce", "lstm", 300, 1),
        ("ppo", "lstm", 300, 10),
    ],
)
def test_learns_to_sample_a_target_architecture(algorithm, policy, budget, batch):
    """Reward = fraction of decisions equal to a target's; after the budget the controller
    samples the target itself most of the time (fixed seeds)."""
    target = synthetic_target()
    controller = make_controller(SIZES, algorithm=algorithm, policy=policy, seed=0)
    for _ in range(budget // batch):
        samples = [controller.sample() for _ in range(batch)]
        controller.update(
            [choices for choices, _ in samples],
            [fraction_matching(choices, target) for choices, _ in samples],
            old_log_probs=[log_prob for _, log_prob in samples],
        )
    assert controller.greedy() == target
    assert math.exp(controller.log_prob(target)) > 0.5
    hits = sum(controller.sample()[0] == target for _ in range(100))
    assert hits > 50
    probabilities = controller.choice_probabilities()
    assert all(p.argmax() == t for p, t in zip(probabilities, target, strict=True))


def test_random_controller_samples_uniformly_and_learns_nothing():
    controller = make_controller(SIZES, algorithm="random", seed=0)
    assert isinstance(controller, UniformController)
    counts = np.zeros(4)
    for _ in range(1000):
        choices, log_prob = controller.sample()
        assert log_prob == pytest.approx(-UNIFORM_ENTROPY)
        counts[choices[0]] += 1
        controller.update([choices], [1.0])
    assert counts.min() > 180
    assert controller.entropy() == pytest.approx(UNIFORM_ENTROPY)


# ---- state ----


@pytest.mark.parametrize(
    ("algorithm", "policy"),
    [("reinforce", "lstm"), ("ppo", "lstm"), ("reinforce", "independent"), ("random", "lstm")],
)
def test_state_round_trip_continues_identically(algorithm, policy):
    target = synthetic_target()

    def run(controller, steps):
        history = []
        for _ in range(steps):
            samples = [controller.sample() for _ in range(3)]
            choices = [c for c, _ in samples]
            controller.update(
                choices,
                [fraction_matching(c, target) for c in choices],
                old_log_probs=[lp for _, lp in samples],
            )
            history.append(choices)
        return history

    original = make_controller(SIZES, algorithm=algorithm, policy=policy, seed=7)
    run(original, 3)
    state = json.loads(json.dumps(original.get_state()))
    restored = make_controller(SIZES, algorithm=algorithm, policy=policy, seed=99)
    restored.set_state(state)
    assert run(restored, 4) == run(original, 4)
    assert restored.get_state() == original.get_state()
    for name, value in original.policy.params.items():
        np.testing.assert_array_equal(restored.policy.params[name], value)


def test_diagnostics_do_not_consume_the_rng():
    a = Controller(SIZES, seed=4)
    b = Controller(SIZES, seed=4)
    a.choice_probabilities()
    a.entropy()
    a.greedy()
    assert [a.sample() for _ in range(3)] == [b.sample() for _ in range(3)]


# ---- errors ----


def test_errors():
    controller = Controller(SIZES, policy="independent")
    with pytest.raises(ValueError, match="expected choice lists of length 12"):
        controller.update([[0, 1]], [1.0])
    with pytest.raises(ValueError, match=r"choice 4 of decision 0 out of range \[0, 4\)"):
        controller.log_prob([4] + [0] * 11)
    with pytest.raises(ValueError, match="got 1 choice lists but 2 rewards"):
        controller.update([[0] * 12], [1.0, 2.0])
    with pytest.raises(ValueError, match="rewards must be finite"):
        controller.update([[0] * 12], [float("nan")])
    with pytest.raises(ValueError, match="policy must be one of"):
        Controller(SIZES, policy="gru")
    with pytest.raises(ValueError, match="algorithm must be one of"):
        make_controller(SIZES, algorithm="evolution")
    with pytest.raises(ValueError, match="choice_sizes must be a non-empty list"):
        Controller([3, 0])
    other = Controller(SIZES[:6], policy="independent")
    with pytest.raises(ValueError, match="controller state has choice_sizes="):
        other.set_state(controller.get_state())
    with pytest.raises(ValueError, match="controller state has algorithm='reinforce'"):
        Controller(SIZES, policy="independent", algorithm="ppo").set_state(controller.get_state())


# ---- the levers of sample efficiency ----


def test_warmup_ramps_the_learning_rate_and_beta1_reaches_adam():
    controller = Controller(
        SIZES, policy="independent", learning_rate=0.2, warmup_samples=4, adam_beta1=0.0
    )
    assert controller.optimizer.beta1 == 0.0
    rates = []
    for _ in range(6):
        choices, _ = controller.sample()
        rates.append(controller.update([choices], [1.0])["learning_rate"])
    assert rates == pytest.approx([0.05, 0.1, 0.15, 0.2, 0.2, 0.2])


def test_normalized_rewards_make_the_update_independent_of_the_reward_scale():
    target = synthetic_target()

    def run(scale, shift):
        controller = Controller(SIZES, policy="lstm", normalize_rewards=True, seed=3)
        for _ in range(20):
            choices, _ = controller.sample()
            controller.update([choices], [scale * fraction_matching(choices, target) + shift])
        return controller.policy.params

    plain, scaled = run(1.0, 0.0), run(10.0, 3.0)
    for name, value in plain.items():
        np.testing.assert_allclose(scaled[name], value, rtol=1e-6, atol=1e-9)


def test_state_round_trip_keeps_the_new_levers():
    target = synthetic_target()
    kwargs = dict(policy="independent", adam_beta1=0.0, warmup_samples=10, normalize_rewards=True)
    original = Controller(SIZES, seed=5, **kwargs)
    for _ in range(4):
        choices, _ = original.sample()
        original.update([choices], [fraction_matching(choices, target)])
    restored = Controller(SIZES, seed=6, **kwargs)
    restored.set_state(json.loads(json.dumps(original.get_state())))
    assert restored.reward_variance == original.reward_variance
    assert restored.samples_learned == original.samples_learned == 4
    for _ in range(3):
        a, b = original.sample(), restored.sample()
        assert a == b
        assert original.update([a[0]], [0.3]) == restored.update([b[0]], [0.3])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_default_controller_finds_a_target_in_the_mnasnet_space_within_hundreds_of_samples(seed):
    """42 decisions (2.8e18 architectures), reward = fraction of decisions equal to a target's:
    the default controller's most likely architecture matches the target on ≥ 75% of them after
    100 samples and on all but at most one after 400."""
    from search.spaces.registry import get_space

    sizes = get_space("mnasnet").choice_sizes()
    target = [int(x) for x in np.random.default_rng(1000 + seed).integers(sizes)]
    controller = make_controller(sizes, seed=seed)
    matched = {}
    for sample in range(1, 401):
        choices, _ = controller.sample()
        controller.update([choices], [fraction_matching(choices, target)])
        if sample in (100, 400):
            matched[sample] = sum(a == b for a, b in zip(controller.greedy(), target, strict=True))
    assert matched[100] >= 0.75 * len(sizes)
    assert matched[400] >= len(sizes) - 1
