"""The run folder the three searches (multi-trial, one-shot, NetAdapt) share: its state file, the
check that a folder being resumed holds the same run, and the summary printed at the end.

- `StateFile`: one JSON file in the run folder, written atomically (a kill leaves the old file or
  the new one, never half of one), tagged with its format and the settings a resumed run must
  share. Reading it refuses, naming the path and what to do, a file that is not JSON or not of
  its format, and a folder whose run had other settings (each one named, saved → now).
- `format_summary`: the text a binary prints when it ends: its headline, the best model, the
  verdict on each reference, and the files written.

Imports nothing heavy (no TensorFlow, Keras or matplotlib).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from tflite_bench import files


class RunFolderError(ValueError):
    """A run folder that cannot be resumed as asked (corrupt state, other settings)."""


@dataclasses.dataclass(frozen=True)
class StateFile:
    """The state file `name` in `folder`.

    Attributes:
      folder, name: where it is.
      what: the kind of run, for messages ('a one-shot search').
      remedy: what the user can do instead ('use another --output_dir').
      format: the tag stored under 'format' (None: not stored or checked, the layout of older
        NetAdapt state files).
      settings_key: the key the settings are stored under.
    """

    folder: str
    name: str
    what: str
    remedy: str
    format: str | None = None
    settings_key: str = "settings"

    @property
    def path(self) -> str:
        return os.path.join(self.folder, self.name)

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def read(self, settings: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The saved state (None when the folder has none). With `settings`, a run saved with
        other values of any of them is refused, naming each.

        Raises:
          RunFolderError: the file is not JSON, not of this format, or from another run.
        """
        if not self.exists():
            return None
        try:
            with open(self.path, encoding="utf-8") as handle:
                state = json.load(handle)
        except (OSError, ValueError) as error:
            raise RunFolderError(
                f"{self.path} is not a readable state file of {self.what} ({error}); move it "
                f"away to start over in this folder, or {self.remedy}"
            ) from None
        if not isinstance(state, dict) or (
            self.format is not None and state.get("format") != self.format
        ):
            raise RunFolderError(
                f"{self.path} is not a state file of {self.what}"
                + (f" ({self.format})" if self.format else "")
                + f"; move it away to start over in this folder, or {self.remedy}"
            )
        if settings is not None:
            check_same_run(state.get(self.settings_key), settings, self)
        return state

    def write(self, state: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> None:
        """Writes `state` (plus the format tag and, when given, `settings`) atomically."""
        data = dict(state)
        if self.format is not None:
            data["format"] = self.format
        if settings is not None:
            data[self.settings_key] = dict(settings)
        files.atomic_write_json(self.path, data, default=str, make_dirs=True)


def changed_settings(saved: Any, now: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Setting → (saved, now) for every setting of `now` that `saved` records otherwise (JSON
    round trip: tuples and lists compare equal)."""
    saved = saved if isinstance(saved, dict) else {}
    plain = json.loads(json.dumps(dict(now), default=str))
    return {k: (saved.get(k), now[k]) for k in sorted(plain) if saved.get(k) != plain[k]}


def check_same_run(saved: Any, now: Mapping[str, Any], state: StateFile) -> None:
    """Refuses to resume `state.folder` when its run had other settings, naming each."""
    changed = changed_settings(saved, now)
    if changed:
        shown = ", ".join(f"{k}: {old!r} → {new!r}" for k, (old, new) in changed.items())
        raise RunFolderError(
            f"{state.folder} holds {state.what} with other settings ({shown}); resume it with "
            f"its own settings, or {state.remedy}"
        )


def format_summary(
    headline: Sequence[str],
    summary: Mapping[str, Any],
    written: Mapping[str, str] | Sequence[str],
    *,
    best_label: str = "Best",
    notes: Sequence[str] = (),
) -> str:
    """The end-of-run text: `headline`, the best model of `summary` (its 'best' record), the
    verdict on each reference ('verdict'), `notes`, then the files in `written` that exist."""
    lines = list(headline)
    best = summary.get("best")
    if best:
        parts = [f"{best_label}:"]
        if best.get("trial") is not None:
            parts.append(f"trial {best['trial']}")
        for key, label, fmt in (
            ("accuracy", "accuracy", ".4f"),
            ("latency_ms", "latency", ".3f"),
            ("reward", "reward", ".4f"),
        ):
            if isinstance(best.get(key), (int, float)):
                parts.append(f"{label} {best[key]:{fmt}}" + (" ms" if key == "latency_ms" else ""))
        lines.append("  ".join(parts))
        if best.get("arch"):
            lines.append(f"      {best['arch']}")
    verdict = summary.get("verdict") or []
    if verdict:
        lines.append("Against the reference models (same training, same latency backend):")
        lines += [f"  {sentence}" for sentence in verdict]
    lines += list(notes)
    paths = list(written.items()) if isinstance(written, Mapping) else [(None, p) for p in written]
    shown = [(name, path) for name, path in paths if path and os.path.exists(path)]
    if shown:
        lines.append("Wrote:")
        width = max((len(name) for name, _ in shown if name), default=0)
        for name, path in shown:
            lines.append(f"  {name:<{width}}  {path}" if name else f"  {path}")
    return "\n".join(lines)
