"""search/proxy/task.py: the seeding policy of proxy runs, the proxy task's validation and, slow,
that re-running an architecture with the same seed reproduces its proxy accuracy."""

from __future__ import annotations

import pytest

from mnasnet_tf import arch_string, zoo
from search.proxy import task as proxy


def test_arch_seed_is_stable_and_depends_on_seed_arch_and_repeat():
    arch = zoo.get_arch("mnasnet-small")
    seed = proxy.arch_seed(0, arch)
    assert seed == proxy.arch_seed(0, arch)
    assert 0 <= seed < 2**31
    # The name is not part of the architecture.
    assert seed == proxy.arch_seed(0, arch.replace(name="renamed"))
    others = {
        proxy.arch_seed(1, arch),
        proxy.arch_seed(0, arch, repeat=1),
        proxy.arch_seed(0, zoo.get_arch("mnasnet-a1")),
    }
    assert seed not in others and len(others) == 3
    assert proxy.arch_seed(0, "r1_k3_s11_o8") == proxy.arch_seed(0, "r1_k3_s11_o8")


@pytest.mark.parametrize(
    ("field", "value"),
    [("epochs", 0), ("repeats", 0), ("classes", 1), ("steps_per_epoch", 0), ("learning_rate", -1)],
)
def test_proxy_task_names_a_bad_value(field, value):
    with pytest.raises(ValueError, match=f"{field}.*{value}"):
        proxy.ProxyTask(**{field: value})


def test_identity_ignores_verbosity():
    assert proxy.ProxyTask(verbose=2).identity() == proxy.ProxyTask().identity()
    assert proxy.ProxyTask(repeats=2).identity() != proxy.ProxyTask().identity()


@pytest.mark.slow
def test_rerunning_an_architecture_with_the_same_seed_reproduces_its_accuracy():
    import numpy as np

    arch = arch_string.decode("r1_k3_s22_e1_i16_o16:r1_k3_s22_e3_i16_o24")
    data = proxy.ProxyData("digits", image_size=32, batch_size=32)
    task = proxy.ProxyTask(epochs=2, steps_per_epoch=4, learning_rate=0.01, repeats=2)
    first, model = proxy.run_proxy(arch, task=task, data=data, search_seed=7, keep_model=True)
    weights = [w.copy() for w in model.get_weights()]
    # Other runs in between must not change the next run's data order or weights.
    proxy.run_proxy(arch, task=task, data=data, search_seed=8)
    again, model = proxy.run_proxy(arch, task=task, data=data, search_seed=7, keep_model=True)
    assert again == first.__class__(**{**first.__dict__, "train_seconds": again.train_seconds})
    for a, b in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(first.accuracies) == 2 and first.seeds[0] != first.seeds[1]
    assert first.accuracy == pytest.approx(sum(first.accuracies) / 2)
    # A fresh training pipeline with the same seed yields the same batches.
    a = [x.numpy() for x, _ in data.train(5).take(2)]
    b = [x.numpy() for x, _ in data.train(5).take(2)]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
