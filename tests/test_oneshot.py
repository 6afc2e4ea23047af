"""One-shot search (search/oneshot/): the supernet's shape and paths, every path equal to its
extracted stand-alone model, the Gumbel relaxation, both algorithms end to end, resume, and the
errors on bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import toy_space

from search.latency import coverage
from search.latency.table import LatencyTable
from search.oneshot import skeleton as skeleton_lib
from search.oneshot.config import OneShotConfig
from search.spaces import registry as space_registry


def fake_table(space, path, *, image_size: int = 32, classes: int = 10) -> str:
    """A table covering `space` with made-up latencies (a layer costs more the wider, the larger
    its kernel and with SE), so searches run without measuring anything."""
    table = LatencyTable()
    for part in coverage.space_parts(space, image_size=image_size, classes=classes):
        cost = 0.01
        if part.layer is not None:
            layer = part.layer
            cost += 1e-5 * layer.expanded * layer.block.kernel_size**2 / layer.stride**2
            cost += 0.002 * (layer.se_filters is not None)
        entry = {"kind": part.kind, "min_ms": cost, "median_ms": cost, "mean_ms": cost}
        table.entries[part.key] = {**entry, "p90_ms": cost, "std_ms": 0.0, "n": 1, "bytes": 0}
    table.add_coverage(coverage.coverage_id(space.name, image_size, classes))
    table.save(path)
    return str(path)


@pytest.fixture
def toy(monkeypatch):
    """The small toy space (two blocks: a supernet that builds and steps fast) as "toy"."""
    monkeypatch.setitem(space_registry.SPACES, "toy", toy_space.small_toy_space)
    return toy_space.small_toy_space()


# ---- the skeleton (no TensorFlow) ----


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mnasnet", "mobilenetv3-large"])
def test_skeleton_covers_random_points(name):
    space = space_registry.get_space(name)
    skeleton = skeleton_lib.Skeleton.from_space(space)
    rng = np.random.default_rng(0)
    index = skeleton.slot_index()
    for _ in range(50):
        arch = space.to_arch(space.sample(rng))
        path = skeleton.encode(space, arch)
        for layer, key in zip(arch.layers(), space.layer_slots(arch), strict=True):
            slot, entry = skeleton.slots[index[key]], path[index[key]]
            assert layer.in_channels <= slot.in_max and layer.out_channels <= slot.out_max
            assert entry["present"] == 1 and entry["out_mask"].sum() == layer.out_channels
            assert entry["kernel"].sum() == layer.block.kernel_size**2
        assert sum(float(e["present"]) for e in path) == len(arch.layers())


@pytest.mark.slow
def test_skeleton_shapes_of_the_mnasnet_space():
    space = space_registry.get_space("mnasnet")
    skeleton = skeleton_lib.Skeleton.from_space(space)
    # MobileNetV2 has 17 layers; a block may have one more (the +1 choice), and blocks of
    # two or more layers one fewer (the -1 choice; a block keeps at least one).
    assert len(skeleton.slots) == 24
    assert sum(s.optional for s in skeleton.slots) == 12  # 1 + 2 + 2 + 2 + 2 + 2 + 1
    first = skeleton.slots[0]
    assert (first.in_max, first.out_max, first.kernel_max) == (32, 24, 5)
    assert first.ops == skeleton_lib.OP_KINDS and first.pool_conv
    # The widest expansion of block 2's first layer: 6 × block 1's widest output (24).
    assert skeleton.slots[2].expanded_max == 144


@pytest.mark.slow
def test_gate_indices_point_at_the_chosen_values():
    space = space_registry.get_space("mnasnet")
    skeleton = skeleton_lib.Skeleton.from_space(space)
    choices = space.default_choices()
    gates = skeleton.gate_indices(choices)
    width = max(space.choice_sizes())
    constant = len(choices) * width
    kernel = skeleton_lib.SITES.index("kernel")
    assert gates[0, kernel] == space.names().index("block1/kernel") * width + choices[1]
    # Block 1's second slot is optional: its presence is the 'layers' decision; the first
    # slot's presence is fixed (a constant 1).
    present = skeleton_lib.SITES.index("present")
    assert gates[0, present] == constant
    assert gates[1, present] == space.names().index("block1/layers") * width + choices[5]


def test_config_errors_name_the_value():
    with pytest.raises(ValueError, match="algorithm must be one of .*'evolution'"):
        OneShotConfig(output_dir="x", algorithm="evolution")
    with pytest.raises(ValueError, match="--temperature must be a number > 0; got 0.0"):
        OneShotConfig(output_dir="x", temperature=0.0)
    with pytest.raises(ValueError, match="--temperature must be a number > 0; got -1"):
        OneShotConfig(output_dir="x", temperature=-1.0)
    with pytest.raises(ValueError, match="--validation_size must be a count >= 1 or a fraction"):
        OneShotConfig(output_dir="x", validation_size=1.5)
    with pytest.raises(ValueError, match="--epochs must be an integer >= 1; got 0"):
        OneShotConfig(output_dir="x", epochs=0)
    with pytest.raises(ValueError, match="reward must be one of"):
        OneShotConfig(output_dir="x", reward="median")


def test_binary_refuses_an_unknown_algorithm():
    from absl import flags

    from search.cli import mnasnet_oneshot as oneshot_main

    values = flags.FlagValues()
    oneshot_main._define_flags(values)
    with pytest.raises(flags.IllegalFlagValueError, match="darts"):
        values(["prog", "--algorithm=darts"])
    values(["prog", "--validation_size=0.3", "--epochs=7"])
    config = oneshot_main.config_from_flags(values)
    assert config == OneShotConfig(output_dir="runs/oneshot", validation_size=0.3, epochs=7)
    values(["prog", "--validation_size=many"])
    with pytest.raises(ValueError, match="--validation_size must be a count or a fraction"):
        oneshot_main.config_from_flags(values)


# ---- the supernet (TensorFlow) ----


def _randomize(net, rng):
    import keras

    for layer in net._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                    rng.normal(0, 0.2, beta.shape).astype("float32"),
                    rng.normal(0, 0.2, mean.shape).astype("float32"),
                    rng.uniform(0.5, 1.5, variance.shape).astype("float32"),
                ]
            )


def _extreme(space, pick):
    return [pick(size) for size in space.choice_sizes()]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "samples"), [("mnasnet", 3), ("mobilenetv3-large", 1)], ids=["mnasnet", "v3"]
)
def test_every_path_equals_its_extracted_model(name, samples):
    """The supernet on a path computes what the stand-alone model built from the path's arch
    computes with the sliced weights: random points plus the all-first / all-last choices (every
    op, kernel, width, SE, skip and depth is among them)."""
    from search.oneshot import supernet as sn

    space = space_registry.get_space(name)
    skeleton = skeleton_lib.Skeleton.from_space(space)
    net = sn.Supernet(skeleton, classes=10)
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    gates = sn.ones_gates(skeleton)
    default = space.to_arch(space.default_choices())
    net(images, sn.path_tensors(skeleton.encode(space, default)), gates)
    _randomize(net, rng)
    points = [_extreme(space, lambda n: 0), _extreme(space, lambda n: n - 1)]
    points += [space.sample(rng) for _ in range(samples)]
    seen = {"ops": set(), "skips": set(), "kernels": set()}
    for choices in points:
        arch = space.to_arch(choices)
        for layer in arch.layers():
            seen["ops"].add(skeleton_lib.op_kind(layer))
            seen["skips"].add(layer.block.skip)
            seen["kernels"].add(layer.block.kernel_size)
        ours = np.asarray(
            net(images, sn.path_tensors(skeleton.encode(space, arch)), gates, training=False)
        )
        model = sn.extract(net, space, arch, input_shape=(32, 32, 3), classifier_activation=None)
        theirs = np.asarray(model(images, training=False))
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())
    if name == "mnasnet":
        assert seen["ops"] == set(skeleton_lib.OP_KINDS)
        assert seen["skips"] == {"identity", "pool", "none"}
        assert seen["kernels"] == {3, 5}


# ---- the Gumbel relaxation ----


def test_gumbel_max_samples_follow_the_softmax():
    from search.oneshot.algorithms import DnasPolicy

    policy = DnasPolicy([3, 2], learning_rate=0.01, alpha=0.2, beta=0.6, seed=0)
    policy.theta.assign(np.array([[1.0, 0.0, -1.0], [0.5, 0.0, 0.0]], dtype=np.float32))
    draws = np.array([policy.gumbel()[0] for _ in range(4000)])
    p = policy.probabilities()
    for d, size in enumerate([3, 2]):
        counts = np.bincount(draws[:, d], minlength=size) / len(draws)
        np.testing.assert_allclose(counts, p[d, :size], atol=0.03)
    assert p[1, 2] == 0.0  # beyond the decision's size


def test_relaxed_gates_are_one_forward_and_carry_the_latency_gradient():
    """The straight-through gates are exactly 1 in the forward pass, and the latency term pushes
    the logits toward the faster choice when accuracy does not care."""
    import tensorflow as tf

    from search.oneshot.algorithms import DnasPolicy

    policy = DnasPolicy([2, 3], learning_rate=0.05, alpha=0.2, beta=0.6, seed=0)
    seen_gates = []

    class Net:
        def __call__(self, images, path, gates, training=None):
            seen_gates.append(gates)
            return tf.zeros((2, 4)) + tf.reduce_sum(gates) * 0.0

    policy._step_fn = None
    for _ in range(60):
        choices, noise = policy.gumbel()
        idx = np.array([[choices[0], 3 + choices[1], 6]], dtype=np.int32)
        marginal = np.array([[100.0, 400.0, 0.0], [300.0, 200.0, 100.0]], dtype=np.float32)
        latency = 200.0
        policy.step(
            Net(),
            tf.zeros((2, 4, 4, 3)),
            tf.zeros((2,), tf.int32),
            [],
            choices=choices,
            noise=noise,
            temperature=1.0,
            latency_us=latency,
            marginal_us=marginal,
            gate_indices=idx,
        )
    assert seen_gates  # traced at least once
    p = policy.probabilities()
    assert p[0, 0] > 0.6 and p[1, 2] > p[1, 0]  # the faster choices gained
    with pytest.raises(ValueError, match="above 1 µs"):
        policy.step(
            Net(),
            tf.zeros((2, 4, 4, 3)),
            tf.zeros((2,), tf.int32),
            [],
            choices=[0, 0],
            noise=np.zeros((2, 3), np.float32),
            temperature=1.0,
            latency_us=0.5,
            marginal_us=np.zeros((2, 3), np.float32),
            gate_indices=np.zeros((1, 3), np.int32),
        )


# ---- whole searches ----


def _config(tmp_path, table, **changes):
    fields = dict(
        output_dir=str(tmp_path / "run"),
        space="toy",
        latency_table=table,
        epochs=2,
        warmup_fraction=0.5,
        batch_size=64,
        final_archs=6,
        eval_batch_size=128,
        checkpoint_seconds=0.0,
    )
    fields.update(changes)
    return OneShotConfig(**fields)


def _check_outputs(tmp_path, toy, summary):
    from mnasnet_tf import arch_string

    out = tmp_path / "run"
    for name in (
        "trials.csv",
        "pareto.csv",
        "pareto.png",
        "history.csv",
        "history.png",
        "best_arch.json",
        "summary.json",
    ):
        assert (out / name).is_file(), name
    assert summary["distinct_archs"] == 6 and summary["sources"]["most_likely"] == 1
    arch = arch_string.load_json(out / "best_arch.json")
    toy.from_arch(arch, check_conventions=False)  # a point of the space
    assert "mnasnet-train --model=" in summary["train_command"]
    assert summary["references"][0]["accuracy"] is not None


@pytest.mark.slow
def test_dnas_search_writes_every_output(tmp_path, toy):
    from search.oneshot import run as search

    table = fake_table(toy, tmp_path / "table.json")
    summary = search.run(_config(tmp_path, table, algorithm="dnas"), progress=False)
    _check_outputs(tmp_path, toy, summary)
    assert summary["policy_steps"] == summary["steps_per_epoch"]  # one active epoch


@pytest.mark.slow
def test_tunas_search_resumes_after_an_interruption(tmp_path, toy, monkeypatch):
    """Killed in its third epoch, the search resumes from the second epoch's checkpoint and
    writes every output; other settings in the same folder are refused."""
    from search.oneshot import run as search

    table = fake_table(toy, tmp_path / "table.json")
    config = _config(tmp_path, table, epochs=3, warmup_fraction=0.34)
    real = search.Search.epoch
    calls = []

    def interrupted(self, epoch, history, progress):
        calls.append(epoch)
        if epoch == 2:
            raise KeyboardInterrupt
        return real(self, epoch, history, progress)

    monkeypatch.setattr(search.Search, "epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        search.run(config, progress=False)
    state = json.loads((tmp_path / "run" / "oneshot_state.json").read_text())
    assert state["epochs_done"] == 2 and len(state["history"]) > 0
    steps = len(state["history"])
    monkeypatch.setattr(search.Search, "epoch", real)
    resumed = []
    monkeypatch.setattr(
        search.Search,
        "epoch",
        lambda self, e, h, p: (resumed.append(e), real(self, e, h, p))[1],
    )
    summary = search.run(config, progress=False)
    assert resumed == [2]  # only the epoch that was lost
    assert summary["policy_steps"] == steps * 2  # history kept, one more active epoch
    assert sorted(os.listdir(tmp_path / "run" / "checkpoints")) == [
        "optimizer_003.npz",
        "supernet_003.weights.h5",
    ]
    _check_outputs(tmp_path, toy, summary)
    # Other settings in the same folder are refused, naming what changed.
    with pytest.raises(ValueError, match="epochs: 3 → 4"):
        search.run(_config(tmp_path, table, epochs=4, warmup_fraction=0.34), progress=False)


@pytest.mark.slow
def test_a_table_that_does_not_cover_the_space_is_refused(tmp_path, toy):
    from search.oneshot import run as search

    table = fake_table(toy, tmp_path / "table.json", image_size=64)
    build = "Build one: tflite-bench --build_table --space=toy"
    with pytest.raises(ValueError, match=build) as info:
        search.run(_config(tmp_path, table), progress=False)
    assert "pass the --image_size (or --latency_image_size) it was built at" in str(info.value)
    assert str(info.value).count("Build one") == 1
    with pytest.raises(ValueError, match="does not exist"):
        search.run(_config(tmp_path, str(tmp_path / "none.json")), progress=False)


def test_the_search_datasets_run_without_the_autotuning_thread():
    """Deleting an iterator waits for tf.data's autotuning thread to wake (it sleeps in
    doubling periods): with it, epochs took up to twice their work (REPRODUCTION §8c)."""
    import tensorflow as tf

    from search.oneshot.run import without_autotune

    dataset = without_autotune(tf.data.Dataset.range(4).batch(2))
    assert dataset.options().autotune.enabled is False
    assert [list(batch.numpy()) for batch in dataset] == [[0, 1], [2, 3]]
