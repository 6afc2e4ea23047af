"""search.tuner.load_records rebuilds trial records from keras-tuner's trial files."""

import os

from keras_tuner.engine import trial as trial_module

from search import space as space_module
from search import tuner


def test_records_come_back_in_trial_order_whatever_the_id_width(tmp_path):
    space = space_module.get_space("mnasnet")
    hp = space.to_hyperparameters()
    # A search resumed with a larger budget mixes id widths: '8', '9', then '10', '11'.
    for trial_id in ("8", "11", "9", "10"):
        trial = trial_module.Trial(hp.copy(), trial_id=trial_id, status="COMPLETED")
        trial.hyperparameters.values = space.to_values(space.default_choices())
        trial.metrics.update("accuracy", 0.5 + int(trial_id) / 100)
        os.makedirs(tmp_path / f"trial_{trial_id}")
        trial.save(str(tmp_path / f"trial_{trial_id}" / "trial.json"))
    records = tuner.load_records(str(tmp_path), space)
    assert [r["trial"] for r in records] == ["8", "9", "10", "11"]
    assert records[0]["accuracy"] == 0.58
    # The default point of the MnasNet space is MobileNetV2's skeleton.
    assert records[0]["arch"].startswith("r1_k3_s11_e1_i32_o16")
