"""Tests for search/report.py: Pareto front, hypervolume and the report files."""

import csv
import os

import pytest

from search import report


def _record(trial, lat, acc, status="COMPLETED", reward=None):
    return {
        "trial": trial,
        "status": status,
        "arch": f"r1_k3_s11_e1_o{8 * (trial + 1)}",
        "accuracy": acc,
        "latency_ms": lat,
        "reward": acc if reward is None else reward,
        "controller_entropy": 10.0 - trial,
    }


def test_pareto_front_keeps_only_non_dominated_points():
    points = [(10, 0.5), (5, 0.6), (20, 0.9), (15, 0.8), (12, 0.7), (25, 0.85), (5, 0.55)]
    front = report.pareto_front(points)
    assert [points[i] for i in front] == [(5, 0.6), (12, 0.7), (15, 0.8), (20, 0.9)]


def test_pareto_front_of_nothing_is_empty():
    assert report.pareto_front([]) == []


def test_hypervolume_is_the_staircase_area():
    # Two points: (2 ms, 0.5) and (4 ms, 0.8), reference latency 10 ms.
    # Area = (4 - 2) * 0.5 + (10 - 4) * 0.8 = 1.0 + 4.8
    assert report.hypervolume([(2, 0.5), (4, 0.8)], latency_ref=10) == pytest.approx(5.8)
    # A dominated point adds nothing; a point beyond the reference adds nothing.
    assert report.hypervolume(
        [(2, 0.5), (4, 0.8), (5, 0.6), (11, 0.99)], latency_ref=10
    ) == pytest.approx(5.8)


def test_reports_are_written_and_failed_trials_are_kept(tmp_path):
    records = [
        _record(0, 10.0, 0.5),
        _record(1, 5.0, 0.7),
        {"trial": 2, "status": "FAILED", "arch": "r1_k3_s11_o8", "reason": "Traceback\nNaN loss"},
        _record(3, 20.0, 0.9),
    ]
    csv_path = tmp_path / "trials.csv"
    report.write_trials_csv(records, str(csv_path))
    rows = list(csv.DictReader(open(csv_path)))
    assert [r["status"] for r in rows] == ["COMPLETED", "COMPLETED", "FAILED", "COMPLETED"]
    assert rows[2]["reason"] == "NaN loss"

    front = report.write_pareto(
        records,
        str(tmp_path / "pareto.csv"),
        str(tmp_path / "pareto.png"),
        references=[report.ReferencePoint("mobilenet-v2", 12.0)],
        latency_target_ms=15.0,
    )
    assert [r["trial"] for r in front] == [1, 3]
    report.write_history(records, str(tmp_path / "history.png"))
    for name in ("pareto.png", "history.png"):
        assert os.path.getsize(tmp_path / name) > 1000
    assert report.best_record(records)["trial"] == 3
    assert not list(tmp_path.glob("*.tmp*"))


def test_best_record_without_completed_trials_is_none():
    assert report.best_record([{"trial": 0, "status": "FAILED"}]) is None
