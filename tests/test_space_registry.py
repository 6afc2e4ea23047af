"""Tests of search/spaces/registry.py: names, errors, a new space in one module + one line, and the
import direction of the space modules (no cycle, no TensorFlow)."""

import ast
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import toy_space  # tests/toy_space.py: the whole definition of the toy space

from mnasnet_tf import arch_string, zoo
from search.controllers.controller import Controller
from search.spaces import registry as space_registry
from search.spaces.base import SearchSpace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPACE_MODULES = ("search.spaces.base", "search.spaces.mnasnet", "search.spaces.mobilenetv3")


def test_list_spaces_is_the_registry_in_order():
    assert space_registry.list_spaces() == list(space_registry.SPACES)
    for name in space_registry.list_spaces():
        space = space_registry.get_space(name)
        assert isinstance(space, SearchSpace) and space.name == name


def test_unknown_space_names_the_value_and_the_known_ones():
    with pytest.raises(ValueError) as error:
        space_registry.get_space("toy")
    assert str(error.value) == (
        "unknown search space 'toy'; expected one of "
        "['mnasnet', 'mnasnet-extended', 'mobilenetv3-large', 'mobilenetv3-small']"
    )


def test_spaces_are_templates_over_zoo_models():
    """The defaults build the zoo's models: the zoo is the one definition of their skeletons."""
    mnasnet = space_registry.get_space("mnasnet")
    v2 = zoo.get_arch("mobilenet-v2")
    assert mnasnet.reference == v2
    built = mnasnet.to_arch(mnasnet.default_choices())
    assert tuple(block.replace(input_filters=None) for block in built.blocks) == v2.blocks
    for name, model in (
        ("mobilenetv3-large", "mobilenet-v3-large"),
        ("mobilenetv3-small", "mobilenet-v3-small"),
    ):
        space = space_registry.get_space(name)
        assert space.reference == zoo.get_arch(model)
        assert space.from_arch(zoo.get_arch(model)) == space.default_choices()


def test_a_toy_space_is_one_module_and_one_registry_line(monkeypatch):
    monkeypatch.setitem(space_registry.SPACES, "toy", toy_space.toy_space)  # the one line

    assert space_registry.list_spaces()[-1] == "toy"
    space = space_registry.get_space("toy")
    assert space.choice_sizes() == [3, 2] * 7
    assert space.names()[:2] == ["block1/kernel", "block1/se_ratio"]
    reference = zoo.get_arch("mnasnet-small")
    assert space.from_arch(reference) == space.default_choices()
    assert space.to_arch(space.default_choices()).blocks == reference.blocks

    rng = np.random.default_rng(0)
    for _ in range(50):
        choices = space.sample(rng)
        arch = space.to_arch(choices, name="toy-sample")
        assert space.from_arch(arch) == choices  # no aliases: the round trip is exact
        assert space.to_arch(space.from_arch(arch), name="toy-sample") == arch
        assert arch_string.decode(arch_string.encode(arch), **space.conventions).blocks == (
            arch.blocks
        )
        assert space.from_values(space.to_values(choices)) == choices

    controller = Controller(space.choice_sizes(), policy="independent", seed=0)
    uniform = sum(math.log(n) for n in space.choice_sizes())
    assert controller.entropy() == pytest.approx(uniform, abs=1e-12)
    for step in range(1, 6):  # 5 updates of 4 samples, rewarding 7×7 kernels
        batch = [controller.sample()[0] for _ in range(4)]
        rewards = [
            sum(block.kernel_size == 7 for block in space.to_arch(choices).blocks) / 7
            for choices in batch
        ]
        diagnostics = controller.update(batch, rewards)
        assert diagnostics["num_updates"] == step and math.isfinite(diagnostics["entropy_after"])
    assert controller.entropy() < uniform
    assert space.from_arch(space.to_arch(controller.greedy())) == controller.greedy()

    blocks = list(reference.blocks)
    blocks[1] = blocks[1].replace(expand_ratio=6)
    with pytest.raises(ValueError, match=r"block 2 \('r1_k3_s22_e6_i8_o16'\) is not a point"):
        space.from_arch(reference.replace(blocks=tuple(blocks)))


def _imports_inside_functions(path: str) -> list[str]:
    """Every module imported by a statement nested in a function or class of `path`."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    nested: dict[int, list[str]] = {}  # line → modules (a statement is seen once per enclosing def)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import):
                    nested[inner.lineno] = [alias.name for alias in inner.names]
                elif isinstance(inner, ast.ImportFrom):
                    nested[inner.lineno] = [str(inner.module)]
    return [module for line in sorted(nested) for module in nested[line]]


@pytest.mark.parametrize("module", SPACE_MODULES + ("search.spaces.registry",))
def test_no_lazy_imports_in_the_space_modules(module):
    """No import is hidden in a function (as a cycle once was), but keras_tuner's in the base."""
    path = os.path.join(ROOT, *module.split(".")) + ".py"
    allowed = ["keras_tuner"] if module == "search.spaces.base" else []
    assert _imports_inside_functions(path) == allowed


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.slow
def test_import_direction_base_then_spaces_then_registry():
    """The base imports neither the concrete spaces nor the registry; they do not import it."""
    loaded = _run(
        "import sys\n"
        "import search.spaces.base\n"
        "print(sorted(m for m in sys.modules if m.startswith('search.spaces.base')))\n"
        "import search.spaces.mnasnet, search.spaces.mobilenetv3\n"
        "print('search.spaces.registry' in sys.modules)\n"
    ).splitlines()
    assert loaded == ["['search.spaces.base']", "False"]


@pytest.mark.slow
def test_space_controller_reward_and_registry_import_no_tensorflow():
    leaked = _run(
        "import sys\n"
        "import search.spaces.base, search.spaces.registry\n"
        "import search.controllers.controller, search.controllers.reward\n"
        "for name in search.spaces.registry.list_spaces(): search.spaces.registry.get_space(name)\n"
        "print([m for m in ('tensorflow', 'keras', 'keras_tuner') if m in sys.modules])\n"
    )
    assert leaked == "[]"
