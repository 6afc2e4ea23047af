"""Shared pieces of the reproduction report: table and number formatting, reading a result
JSON (or saying "not measured yet"), the host line, win counts and p-values, and the generic
section that shows every scalar of a result.

Must not import TensorFlow.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

NOT_MEASURED = "_Not measured yet: run `{command}` to write `{file}`._"


def not_measured(benchmark: str) -> str:
    """The line a section shows while `benchmarks/<benchmark>.py` has not written its
    `<benchmark>.json` into the results."""
    return NOT_MEASURED.format(
        command=f"python benchmarks/{benchmark}.py", file=f"{benchmark}.json"
    )


def fmt(value: Any, digits: int = 2) -> str:
    """A table cell: numbers with `digits` decimals, None/NaN as '–', others as text."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else "–"
    return str(value)


def pct(value: float | None, digits: int = 0) -> str:
    """A fraction in [0, 1] as a percentage."""
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Markdown table lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def load_result(results_dir: str, name: str) -> dict[str, Any] | None:
    """`<results_dir>/<name>.json`, or None if it does not exist.

    Raises:
      ValueError: the file exists but is not a JSON object (named).
    """
    path = os.path.join(results_dir, f"{name}.json")
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object; got {type(data).__name__}")
    return data


def host_line(host: Mapping[str, Any] | None) -> str:
    host = host or {}
    return (
        f"{host.get('cpu_model', 'unknown CPU')} ({host.get('cpu_count', '?')} cores), "
        f"{host.get('runtime', '?')} {host.get('runtime_version', '')}".rstrip()
    )


def generic_section(
    title: str, data: Mapping[str, Any] | None, command: str, file: str
) -> list[str]:
    """A results file rendered without knowing its schema: top-level scalars as a list, lists of
    objects and objects of objects as tables of their scalar fields."""
    lines = [title, ""]
    if data is None:
        return lines + [NOT_MEASURED.format(command=command, file=file)]
    scalars = [f"- {key}: {fmt(value, 3)}" for key, value in data.items() if _is_scalar(value)]
    blocks = [scalars] if scalars else []
    for key, value in data.items():
        records = _records(value)
        columns = list(dict.fromkeys(c for _, record in records for c in record))
        columns = [
            c
            for c in columns
            if c not in _LABEL_KEYS and any(_is_scalar(r.get(c)) for _, r in records)
        ]
        if not columns:
            continue
        rows = [
            [label, *(fmt(record.get(c), 3) if _is_scalar(record.get(c)) else "" for c in columns)]
            for label, record in records
        ]
        blocks.append([f"{key}:", "", *table(["", *columns], rows)])
    for index, block in enumerate(blocks):
        lines += ([""] if index else []) + block
    return lines


def wins_cell(wins: int | None, seeds: int) -> str:
    """'4/5' (or the bare count when the number of seeds is unknown)."""
    return fmt(wins) if not seeds or wins is None else f"{wins}/{seeds}"


def p_cell(value: float | None) -> str:
    """A p-value with two significant digits ('–' when missing)."""
    return "–" if value is None or value != value else f"{value:.2g}"


# Keys that label a record in a list of records (the first present one is used).
_LABEL_KEYS = ("name", "model", "algorithm")


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _records(value: Any) -> list[tuple[str, Mapping[str, Any]]]:
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        labelled = []
        for index, item in enumerate(value):
            key = next((k for k in _LABEL_KEYS if k in item), None)
            labelled.append((str(item[key]) if key else str(index), item))
        return labelled
    if isinstance(value, dict) and value and all(isinstance(item, dict) for item in value.values()):
        return [(str(key), item) for key, item in value.items()]
    return []
