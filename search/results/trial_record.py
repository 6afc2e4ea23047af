"""One trial of any of the three searches, as the reports read it: `TrialRecord`.

The multi-trial search rebuilds one per keras-tuner trial file, the one-shot search makes one per
evaluated final architecture and NetAdapt one per kept model; trials.csv is written from them and
`read_trials_csv` reads that file back into the same records, so every report can be rebuilt
from a run folder after the fact. A record is a read-only mapping of its set fields (a field that
is None is absent), so `record["accuracy"]`, `record.get("reward")` and `dict(record)` read it
like the plain dicts users' `on_trial` callbacks have always received. TensorFlow-free.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from tflite_bench import files


@dataclasses.dataclass(frozen=True, eq=False)
class TrialRecord(Mapping):
    """A trial's outcome. Fields in trials.csv order; `source` (which sampler proposed the
    architecture, one-shot only) and `arch_spec` (the decoded ArchSpec) are not csv columns."""

    trial: str | int
    status: str = "COMPLETED"
    arch: str | None = None
    accuracy: float | None = None
    accuracy_std: float | None = None
    latency_ms: float | None = None
    latency_min_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_std_ms: float | None = None
    latency_source: str | None = None
    latency_predicted_ms: float | None = None
    latency_error_pct: float | None = None
    reward: float | None = None
    params: float | None = None
    macs: float | None = None
    seconds: float | None = None
    train_seconds: float | None = None
    convert_seconds: float | None = None
    measure_seconds: float | None = None
    controller_entropy: float | None = None
    controller_baseline: float | None = None
    cached_from: str | None = None
    latency_backend: str | None = None
    latency_device: str | None = None
    latency_runtime: str | None = None
    latency_threads: float | None = None
    latency_clock: str | None = None
    latency_runs: float | None = None
    latency_quantization: str | None = None
    reason: str | None = None
    source: str | None = None
    arch_spec: Any = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TrialRecord:
        """A record from a dict of its fields; a key that is no field is refused by name (a
        misspelt metric would otherwise vanish from every report)."""
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise ValueError(
                f"not a trial record field: {', '.join(map(repr, unknown))} "
                f"(fields: {', '.join(FIELDS)})"
            )
        if "trial" not in data:
            raise ValueError(f"a trial record needs its 'trial' id; got {dict(data)!r}")
        return cls(**data)

    def replace(self, **changes: Any) -> TrialRecord:
        """A copy with `changes` set (None removes a field)."""
        return dataclasses.replace(self, **changes)

    def row(self) -> dict[str, Any]:
        """The trials.csv row: every column, '' where unset, the reason's last line only."""
        row = {key: self.get(key, "") for key in TRIAL_COLUMNS}
        if row["reason"]:
            row["reason"] = str(row["reason"]).strip().splitlines()[-1][:300]
        return row

    def __getitem__(self, key: str) -> Any:
        value = getattr(self, key, None) if key in _FIELD_SET else None
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return (name for name in FIELDS if getattr(self, name) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.items() if k != "arch_spec")
        return f"TrialRecord({shown})"


FIELDS = tuple(field.name for field in dataclasses.fields(TrialRecord))
_FIELD_SET = frozenset(FIELDS)
TRIAL_COLUMNS = tuple(name for name in FIELDS if name not in ("source", "arch_spec"))
"""trials.csv's columns, in order."""

_TEXT_COLUMNS = frozenset(
    name
    for name, field in zip(FIELDS, dataclasses.fields(TrialRecord), strict=True)
    if "float" not in str(field.type)
) - {"arch_spec"}


def as_record(record: Mapping[str, Any]) -> TrialRecord:
    """`record` itself if it is a TrialRecord, else one built from it (`from_mapping`)."""
    return record if isinstance(record, TrialRecord) else TrialRecord.from_mapping(record)


def write_trials_csv(records, path: str) -> None:
    """One row per trial in TRIAL_COLUMNS order (written atomically)."""

    def write(handle):
        writer = csv.DictWriter(handle, fieldnames=TRIAL_COLUMNS)
        writer.writeheader()
        for record in records:
            writer.writerow(as_record(_columns_only(record)).row())

    files.atomic_write(path, write)


def _columns_only(record: Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(record, TrialRecord):
        return record
    return {key: value for key, value in record.items() if key in _FIELD_SET}


def read_trials_csv(path: str) -> list[TrialRecord]:
    """The records `write_trials_csv` wrote (numbers as floats, '' as unset). A file that is no
    trials.csv, or a cell that is no number, is refused naming the file, row and column."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = tuple(reader.fieldnames or ())
            missing = [c for c in ("trial", "status") if c not in header]
            unknown = [c for c in header if c not in TRIAL_COLUMNS]
            if missing or unknown:
                raise ValueError(
                    f"{path} is not a trials.csv: "
                    + (f"no column {', '.join(missing)}" if missing else "")
                    + ("; " if missing and unknown else "")
                    + (f"unknown column {', '.join(unknown)}" if unknown else "")
                )
            records = []
            for line, row in enumerate(reader, start=2):
                values: dict[str, Any] = {}
                for key, text in row.items():
                    if key is None or text in ("", None):
                        continue
                    if key in _TEXT_COLUMNS:
                        values[key] = text
                        continue
                    try:
                        number = float(text)
                    except ValueError:
                        raise ValueError(
                            f"{path}, line {line}: column {key!r} is {text!r}, not a number"
                        ) from None
                    values[key] = number
                records.append(TrialRecord.from_mapping(values))
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not a text trials.csv ({error})") from None
    return records
