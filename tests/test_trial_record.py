"""search.results.trial_record: the one trial record the three searches and the reports share."""

import csv

import pytest

from search.results import report
from search.results.trial_record import (
    TRIAL_COLUMNS,
    TrialRecord,
    as_record,
    read_trials_csv,
    write_trials_csv,
)


def _done(trial="3", **fields):
    values = dict(arch="a1", accuracy=0.9, latency_ms=12.5, reward=0.95, params=1234.0)
    values.update(fields)
    return TrialRecord(trial=trial, **values)


def test_reads_like_the_plain_dicts_it_replaces():
    record = _done()
    assert record["accuracy"] == 0.9 and record.get("reason") is None
    assert "reason" not in record and "accuracy" in record
    assert dict(record) == {
        "trial": "3",
        "status": "COMPLETED",
        "arch": "a1",
        "accuracy": 0.9,
        "latency_ms": 12.5,
        "reward": 0.95,
        "params": 1234.0,
    }
    assert record == dict(record)  # compares as a mapping
    with pytest.raises(KeyError):
        record["reason"]
    with pytest.raises(KeyError):
        record["no_such_field"]


def test_is_read_only_and_replace_makes_a_copy():
    record = _done()
    with pytest.raises(TypeError):
        record["accuracy"] = 0.1
    changed = record.replace(controller_entropy=1.5)
    assert changed["controller_entropy"] == 1.5 and "controller_entropy" not in record


def test_an_unknown_field_is_refused_by_name():
    with pytest.raises(ValueError, match="'acuracy'"):
        TrialRecord.from_mapping({"trial": "1", "acuracy": 0.5})
    with pytest.raises(ValueError, match="'trial' id"):
        TrialRecord.from_mapping({"accuracy": 0.5})
    assert as_record({"trial": "1"}) == {"trial": "1", "status": "COMPLETED"}


def test_trials_csv_round_trip(tmp_path):
    records = [
        _done("0", latency_source="measured", cached_from=None),
        TrialRecord(trial="1", status="FAILED", reason="Traceback\n  ...\nValueError: bad arch"),
        _done("2", cached_from="0", source="policy"),  # source is no csv column
    ]
    path = tmp_path / "trials.csv"
    write_trials_csv(records, str(path))
    with open(path, newline="") as handle:
        assert tuple(next(csv.reader(handle))) == TRIAL_COLUMNS
    back = read_trials_csv(str(path))
    assert [dict(r) for r in back] == [
        dict(records[0]),
        {"trial": "1", "status": "FAILED", "reason": "ValueError: bad arch"},
        {k: v for k, v in records[2].items() if k != "source"},
    ]
    # The reports read the records it reads back as they read the originals.
    assert report.best_record(back)["trial"] == "0"
    assert report.summary(back)["completed"] == report.summary(records)["completed"] == 2


def test_plain_dicts_with_other_keys_still_write(tmp_path):
    path = tmp_path / "trials.csv"
    report.write_trials_csv([{"trial": "0", "status": "COMPLETED", "extra": 1}], str(path))
    assert [dict(r) for r in read_trials_csv(str(path))] == [{"trial": "0", "status": "COMPLETED"}]


@pytest.mark.parametrize(
    "text, message",
    [
        ("trial,status,accuracy\n0,COMPLETED,high\n", r"line 2: column 'accuracy' is 'high'"),
        ("trial,status,bogus\n0,COMPLETED,1\n", "unknown column bogus"),
        ("name,value\nx,1\n", "no column trial, status"),
    ],
)
def test_a_bad_trials_csv_is_refused_naming_file_line_and_column(tmp_path, text, message):
    path = tmp_path / "trials.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        read_trials_csv(str(path))
    assert str(path) in str(error.value)


def test_a_binary_file_is_refused(tmp_path):
    path = tmp_path / "trials.csv"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="not a text trials.csv"):
        read_trials_csv(str(path))
