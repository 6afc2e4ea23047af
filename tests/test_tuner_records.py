"""search.multitrial.records.load_records rebuilds trial records from keras-tuner's trial files."""

import os

from keras_tuner.engine import trial as trial_module

from search.multitrial import records as records_lib
from search.spaces import registry as space_registry


def test_records_come_back_in_trial_order_whatever_the_id_width(tmp_path):
    space = space_registry.get_space("mnasnet")
    hp = space.to_hyperparameters()
    # A search resumed with a larger budget mixes id widths: '8', '9', then '10', '11'.
    for trial_id in ("8", "11", "9", "10"):
        trial = trial_module.Trial(hp.copy(), trial_id=trial_id, status="COMPLETED")
        trial.hyperparameters.values = space.to_values(space.default_choices())
        trial.metrics.update("accuracy", 0.5 + int(trial_id) / 100)
        os.makedirs(tmp_path / f"trial_{trial_id}")
        trial.save(str(tmp_path / f"trial_{trial_id}" / "trial.json"))
    records = records_lib.load_records(str(tmp_path), space)
    assert [r["trial"] for r in records] == ["8", "9", "10", "11"]
    assert records[0]["accuracy"] == 0.58
    # The default point of the MnasNet space is MobileNetV2's skeleton.
    assert records[0]["arch"].startswith("r1_k3_s11_e1_i32_o16")


def test_only_changed_trial_files_are_parsed_again(tmp_path, monkeypatch):
    space = space_registry.get_space("mnasnet")
    hp = space.to_hyperparameters()

    def save(trial_id: str, accuracy: float) -> None:
        trial = trial_module.Trial(hp.copy(), trial_id=trial_id, status="COMPLETED")
        trial.hyperparameters.values = space.to_values(space.default_choices())
        trial.metrics.update("accuracy", accuracy)
        os.makedirs(tmp_path / f"trial_{trial_id}", exist_ok=True)
        path = tmp_path / f"trial_{trial_id}" / "trial.json"
        trial.save(str(path) + ".tmp")
        os.replace(str(path) + ".tmp", path)  # as the oracle writes them: a new file

    for trial_id in ("0", "1", "2"):
        save(trial_id, 0.5)
    parsed = []
    load = records_lib._load_record
    monkeypatch.setattr(
        records_lib, "_load_record", lambda path, s: parsed.append(path) or load(path, s)
    )
    cache = {}
    first = records_lib.load_records(
        str(tmp_path), space, cache=cache, entropies={"1": 3.0}, baselines={"2": 0.4}
    )
    assert len(parsed) == 3
    assert [r.get("controller_entropy") for r in first] == [None, 3.0, None]
    assert [r.get("controller_baseline") for r in first] == [None, None, 0.4]
    save("1", 0.75)
    again = records_lib.load_records(str(tmp_path), space, cache=cache, entropies={}, baselines={})
    assert parsed[3:] == [os.path.join(str(tmp_path), "trial_1", "trial.json")]
    assert [r["accuracy"] for r in again] == [0.5, 0.75, 0.5]
    assert "controller_entropy" not in again[1]
    # The same records as a fresh read.
    fresh = records_lib.load_records(str(tmp_path), space, entropies={}, baselines={})
    assert [{k: v for k, v in r.items() if k != "arch_spec"} for r in fresh] == [
        {k: v for k, v in r.items() if k != "arch_spec"} for r in again
    ]
