"""Settings declared once (tflite_bench/settings.py): a field's type and rule make its flag and
its validation; every binary's flags are its config's fields, with the same defaults."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from absl import flags

from tflite_bench import checks, settings


@dataclasses.dataclass(frozen=True)
class Demo:
    out: str = settings.setting(nonempty=True, flag_default="runs/demo", help="Output.")
    runs: int = settings.setting(50, minimum=1, help="Timed runs.")
    fraction: float = settings.setting(0.5, above=0, below=1, help="A fraction.")
    clock: str = settings.setting("wall", choices=("wall", "cpu"), help="Clock.")
    models: tuple[str, ...] = settings.setting(("a", "b"), choices=("a", "b", "c"), help="Models.")
    target: float | None = settings.setting(None, above=0, help="Target.")
    size: int | float | None = settings.setting(
        None, parse=settings.count_or_fraction("size"), help="Count or fraction."
    )
    verbose: bool = settings.setting(True, help="Talk.")
    hidden: dict | None = None  # not declared: the Python API only

    def __post_init__(self) -> None:
        settings.validate(self)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"out": ""}, "--out must be non-empty; got ''"),
        ({"runs": 0}, "--runs must be an integer >= 1; got 0"),
        ({"runs": True}, "--runs must be an integer >= 1; got True"),
        ({"runs": 2.0}, "--runs must be an integer >= 1; got 2.0"),
        ({"fraction": 1.0}, r"--fraction must be a number in \(0, 1\); got 1.0"),
        ({"fraction": float("nan")}, r"--fraction must be a number in \(0, 1\); got nan"),
        ({"clock": "sun"}, "--clock must be one of wall, cpu; got 'sun'"),
        ({"models": ("a", "z")}, "--models must be one of a, b, c; got 'z'"),
        ({"models": "a"}, "--models must be a list of strings; got 'a'"),
        ({"target": -1.0}, "--target must be a number > 0; got -1.0"),
        ({"verbose": 1}, "--verbose must be True or False; got 1"),
    ],
)
def test_a_bad_value_is_named_with_what_was_expected(changes, message):
    with pytest.raises(ValueError, match=message):
        Demo(**{"out": "x", **changes})


def test_the_error_class_is_the_callers():
    class Usage(ValueError):
        pass

    with pytest.raises(Usage, match="--runs"):
        checks.require_int("runs", 0, minimum=1, error=Usage)


def test_bounds_read_like_maths():
    assert checks.bounds_text("a number", minimum=0, below=1) == "a number in [0, 1)"
    assert checks.bounds_text("a number", above=0, maximum=1) == "a number in (0, 1]"
    assert checks.bounds_text("an integer", maximum=5) == "an integer <= 5"
    assert checks.bounds_text("a number") == "a number"


def test_flags_are_made_from_the_fields_and_read_back_into_the_config():
    values = flags.FlagValues()
    settings.define_flags(Demo, values)
    assert {f.name for f in settings.flag_fields(Demo)} == set(values) - {"hidden"}
    assert "hidden" not in values
    assert values["out"].default == "runs/demo" and values["runs"].default == 50
    assert values["clock"].flag_type() == "string enum"
    assert values["models"].default == ["a", "b"] and values["size"].flag_type() == "string"
    values(["prog"])
    assert settings.from_flags(Demo, values) == Demo(out="runs/demo")
    values(["prog", "--runs=3", "--models=c,a", "--size=0.25", "--noverbose", "--target=2"])
    config = settings.from_flags(Demo, values, hidden={"k": 1})
    assert config == Demo(
        out="runs/demo",
        runs=3,
        models=("c", "a"),
        size=0.25,
        verbose=False,
        target=2.0,
        hidden={"k": 1},
    )
    values(["prog", "--size=12"])
    assert settings.from_flags(Demo, values).size == 12
    values(["prog", "--size=1.5"])
    with pytest.raises(ValueError, match="--size must be a count or a fraction; got '1.5'"):
        settings.from_flags(Demo, values)
    values(["prog", "--size=lots"])
    with pytest.raises(ValueError, match="--size must be a count or a fraction; got 'lots'"):
        settings.from_flags(Demo, values)
    values(["prog", "--runs=0", "--size=1"])  # absl parses it; the config refuses it, naming it
    with pytest.raises(ValueError, match="--runs must be an integer >= 1; got 0"):
        settings.from_flags(Demo, values)


def test_a_mutable_default_is_refused():
    with pytest.raises(TypeError, match="mutable default"):
        settings.setting([1], help="x")


# Every binary: its module and its config class. A binary's flags that are not fields (e.g. the
# training recipe's overrides) are listed in its module's EXTRA_FLAGS, each with why.
BINARIES = {
    "mnasnet-search": ("search.cli.mnasnet_search", "search.multitrial.config.SearchConfig"),
    "mnasnet-oneshot": ("search.cli.mnasnet_oneshot", "search.oneshot.config.OneShotConfig"),
    "mnasnet-adapt": ("search.cli.mnasnet_adapt", "search.adapt.config.AdaptConfig"),
    "tflite-bench": ("search.cli.tflite_bench", "search.cli.tflite_bench.BenchConfig"),
    "mnasnet-proxy-check": (
        "search.cli.mnasnet_proxy_check",
        "search.proxy.check.ProxyCheckConfig",
    ),
    "mnasnet-train": ("search.cli.mnasnet_train", "mnasnet_tf.train.TrainConfig"),
    "mnasnet-eval": ("search.cli.mnasnet_eval", "search.cli.mnasnet_eval.EvalConfig"),
    "mnasnet-models": ("search.cli.mnasnet_models", "search.cli.mnasnet_models.ModelsConfig"),
    "mnasnet-digits-m": ("search.cli.mnasnet_digits_m", "mnasnet_tf.digits_m.DigitsMConfig"),
}

_CHECK = """
import dataclasses, importlib, json
from absl import flags
from tflite_bench import settings
module = importlib.import_module({module!r})
if hasattr(module, "_define_flags"):
    module._define_flags()
path, name = {config!r}.rsplit(".", 1)
cls = getattr(importlib.import_module(path), name)
fields = settings.flag_fields(cls)
own = {{
    n for n, f in flags.FLAGS._flags().items()
    if n == f.name and flags.FLAGS.find_module_defining_flag(n).startswith(
        ("search", "mnasnet_tf", "tflite_bench"))
}}
extra = set(getattr(module, "EXTRA_FLAGS", ()))
out = {{
    "missing": sorted(f.name for f in fields if f.name not in flags.FLAGS),
    "not_fields": sorted(own - {{f.name for f in fields}} - extra),
    "defaults": sorted(
        f.name for f in fields
        if f.name in flags.FLAGS and flags.FLAGS[f.name].default != (
            list(settings.flag_default(f)) if isinstance(settings.flag_default(f), tuple)
            else settings.flag_default(f))
    ),
}}
print(json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.parametrize("binary", sorted(BINARIES))
def test_every_flag_is_a_config_field_with_its_default(binary):
    """Checked in a fresh interpreter per binary: the binaries' flags share names and cannot be
    defined in one process."""
    import json

    module, config = BINARIES[binary]
    code = _CHECK.format(module=module, config=config)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"missing": [], "not_fields": [], "defaults": []}, binary
