"""The run folder the three searches share (search/results/run_folder.py): the state file is
atomic and tagged, a resume with other settings is refused naming each, a corrupt file is named
with what to do, and the printed summary shows the best model, the verdict and the files."""

from __future__ import annotations

import json
import os

import pytest

from search.results import run_folder


def _state(tmp_path, **kwargs):
    options = {"what": "a demo run", "remedy": "use another --output_dir", "format": "demo-v1"}
    return run_folder.StateFile(str(tmp_path / "run"), "state.json", **{**options, **kwargs})


def test_state_round_trips_with_its_format_and_settings(tmp_path):
    state = _state(tmp_path)
    assert state.read({"seed": 1}) is None  # a fresh folder
    state.write({"epochs_done": 2}, {"seed": 1, "sizes": (32, 64)})
    saved = json.load(open(state.path))
    assert saved == {
        "epochs_done": 2,
        "format": "demo-v1",
        "settings": {"seed": 1, "sizes": [32, 64]},
    }
    assert state.read({"seed": 1, "sizes": (32, 64)})["epochs_done"] == 2  # tuples ≡ lists
    assert not [n for n in os.listdir(state.folder) if n != "state.json"]  # no temp file left


def test_other_settings_are_refused_naming_each(tmp_path):
    state = _state(tmp_path)
    state.write({"epochs_done": 2}, {"seed": 1, "space": "mnasnet", "epochs": 3})
    with pytest.raises(run_folder.RunFolderError) as info:
        state.read({"seed": 1, "space": "mobilenetv3-large", "epochs": 4})
    message = str(info.value)
    assert "holds a demo run with other settings" in message
    assert "epochs: 3 → 4" in message and "space: 'mnasnet' → 'mobilenetv3-large'" in message
    assert "seed" not in message and "use another --output_dir" in message


@pytest.mark.parametrize(
    "content, message",
    [
        ("{half", "is not a readable state file of a demo run"),
        ('{"format": "other-v9"}', r"is not a state file of a demo run \(demo-v1\)"),
        ("[1, 2]", "is not a state file of a demo run"),
    ],
)
def test_a_corrupt_or_foreign_file_is_named_with_what_to_do(tmp_path, content, message):
    state = _state(tmp_path)
    os.makedirs(state.folder)
    with open(state.path, "w") as handle:
        handle.write(content)
    with pytest.raises(run_folder.RunFolderError, match=message) as info:
        state.read()
    assert state.path in str(info.value) and "move it away" in str(info.value)
    assert open(state.path).read() == content  # nothing overwritten


def test_a_legacy_layout_without_format_is_read_under_its_own_key(tmp_path):
    state = _state(tmp_path, format=None, settings_key="identity")
    state.write({"trajectory": []}, {"model": "m"})
    assert "format" not in json.load(open(state.path))
    with pytest.raises(run_folder.RunFolderError, match="model: 'm' → 'n'"):
        state.read({"model": "n"})


def test_the_printed_summary_shows_best_verdict_and_existing_files(tmp_path):
    written = tmp_path / "trials.csv"
    written.write_text("x")
    summary = {
        "best": {"trial": "7", "arch": "r1_k3", "accuracy": 0.9, "latency_ms": 1.25, "reward": 0.8},
        "verdict": ["trial 7 beats mobilenet-v3-small: +1.0 points at 10% less latency"],
    }
    text = run_folder.format_summary(
        ["Search finished."],
        summary,
        {"trials": str(written), "pareto": str(tmp_path / "missing.png")},
        notes=["a note"],
    )
    lines = text.splitlines()
    assert lines[0] == "Search finished."
    assert lines[1] == "Best:  trial 7  accuracy 0.9000  latency 1.250 ms  reward 0.8000"
    assert lines[2].strip() == "r1_k3"
    assert "  trial 7 beats mobilenet-v3-small" in text and "a note" in lines
    assert f"  trials  {written}" in lines and "missing.png" not in text


@pytest.mark.slow
def test_a_search_project_resumed_with_other_settings_is_refused_before_anything(tmp_path):
    from search.multitrial.config import SearchConfig
    from search.multitrial.run import SearchSetupError, project_run_file, run_search

    options = {
        "directory": str(tmp_path),
        "project_name": "p",
        "references": ("mobilenet-v3-small",),
        "latency_image_size": 32,
        "latency_runs": 1,
        "log_estimate": False,
    }
    first = SearchConfig(**options)
    project_run_file(first).write({"search": "multi-trial"}, first.identity())
    before = sorted(os.listdir(tmp_path / "p"))
    with pytest.raises(SearchSetupError, match="epochs_per_trial: 3 → 5") as info:
        run_search(SearchConfig(**options, epochs_per_trial=5, space="mobilenetv3-small"))
    assert "space: 'mnasnet' → 'mobilenetv3-small'" in str(info.value)
    assert "--overwrite" in str(info.value)
    assert sorted(os.listdir(tmp_path / "p")) == before  # nothing written
