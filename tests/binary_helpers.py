"""Run a binary's `_main` in the test process, with its flags in a fresh `FlagValues` (so the
binaries' flags, which share names, never meet), for tests where the exit code is not the
point: no process start, and the binary's code is measured by coverage."""

from __future__ import annotations

import importlib

from absl import flags


def run_in_process(module_name: str, args: list[str], monkeypatch) -> None:
    """Defines `module_name`'s flags in a fresh FlagValues (absl's global FLAGS patched to it
    for the call), parses `args` and runs `_main`; a bad flag raises `app.UsageError` or absl's
    flag error, as the binary would print."""
    module = importlib.import_module(module_name)
    values = flags.FlagValues()
    monkeypatch.setattr(flags, "FLAGS", values)
    module._define_flags(values)
    argv = values([module_name, *args])
    module._main(argv)
