"""Tests for search/results/report.py: Pareto front, hypervolume and the report files."""

import csv
import json
import math
import os

import pytest

from search.results import report


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


# ---- the verdict on the reference models ----


def _ref(name="mobilenet-v2", lat=10.0, acc=0.8, std=None):
    return report.ReferencePoint(name, lat, accuracy=acc, accuracy_std=std, arch="r1_k3_s11_o8")


@pytest.mark.parametrize(
    ("lat", "acc", "beats"),
    [
        (10.0, 0.8, False),  # a tie in both is no win
        (9.0, 0.8, True),  # as accurate, faster
        (10.0, 0.81, True),  # as fast, more accurate
        (8.0, 0.9, True),  # better in both
        (11.0, 0.95, False),  # more accurate but slower
        (5.0, 0.79, False),  # faster but less accurate
    ],
)
def test_a_trial_dominates_a_reference_only_if_no_worse_in_both_and_better_in_one(lat, acc, beats):
    assert report.dominates(_record(0, lat, acc), _ref()) is beats


def test_a_reference_without_accuracy_is_never_dominated():
    point = report.ReferencePoint("mobilenet-v2", 10.0)
    assert not report.dominates(_record(0, 1.0, 0.99), point)
    assert report.dominating_trial([_record(0, 1.0, 0.99)], point) is None
    assert "no proxy accuracy" in report.verdict([_record(0, 1.0, 0.99)], point)


def test_of_several_winners_the_highest_reward_is_named_and_failed_trials_never_win():
    records = [
        _record(0, 9.0, 0.85, reward=0.70),
        _record(1, 8.0, 0.82, reward=0.75),
        _record(2, 12.0, 0.99, reward=0.99),  # slower: does not beat it
        {"trial": 3, "status": "FAILED", "accuracy": 0.99, "latency_ms": 1.0, "reward": 2.0},
    ]
    assert report.dominating_trial(records, _ref())["trial"] == 1
    text = report.verdict(records, _ref())
    assert text.startswith("trial 1 beats mobilenet-v2: +2.0 points at 20% less latency")
    assert report.verdict(records[2:], _ref()) == (
        "no found model beats mobilenet-v2 yet (accuracy 0.800, 10.00 ms)"
    )


def test_summary_names_the_winner_of_each_reference_the_best_and_the_front():
    records = [_record(0, 9.0, 0.85), _record(1, 20.0, 0.95), _record(2, 30.0, 0.90)]
    refs = [_ref("a", 10.0, 0.8, std=0.01), _ref("b", 15.0, 0.99)]
    data = report.summary(records, references=refs, latency_target_ms=12.0)
    assert [r["dominated_by"] for r in data["references"]] == ["0", None]
    assert data["references"][0] == {
        "name": "a",
        "arch": "r1_k3_s11_o8",
        "accuracy": 0.8,
        "accuracy_std": 0.01,
        "latency_ms": 10.0,
        "reward": None,  # no reward given: references are not scored
        "dominated_by": "0",
    }
    assert data["best"]["trial"] == 1
    assert [r["trial"] for r in data["front"]] == [0, 1]
    assert data["latency_target_ms"] == 12.0
    assert (data["trials"], data["completed"], data["failed"]) == (3, 3, 0)
    assert data["verdict"][0].startswith("trial 0 beats a:")
    assert data["verdict"][1].startswith("no found model beats b yet")


def test_pareto_csv_has_a_kind_column_with_every_reference(tmp_path):
    records = [_record(0, 9.0, 0.85), _record(1, 20.0, 0.95)]
    refs = [_ref("a", 10.0, 0.8), report.ReferencePoint("b", 15.0)]
    report.write_pareto(records, str(tmp_path / "p.csv"), str(tmp_path / "p.png"), references=refs)
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert [(r["kind"], r["name"]) for r in rows] == [
        ("trial", "trial 0"),
        ("trial", "trial 1"),
        ("reference", "a"),
        ("reference", "b"),
    ]
    assert rows[2]["dominated_by"] == "0" and float(rows[2]["accuracy"]) == 0.8
    assert rows[3]["accuracy"] == "" and rows[3]["dominated_by"] == ""
    assert os.path.getsize(tmp_path / "p.png") > 1000


def test_wilcoxon_p_is_exact_for_small_paired_samples():
    assert report.wilcoxon_p([0.1, 0.2, 0.3, 0.4, 0.5]) == pytest.approx(0.0625)
    assert report.wilcoxon_p([0.1, -0.2, 0.3, -0.4, 0.5]) > 0.5
    assert math.isnan(report.wilcoxon_p([0.0, 0.0, 0.1]))


def test_the_latency_axis_says_how_many_latencies_were_predicted():
    measured = {"latency_source": "measured"}
    predicted = {"latency_source": "predicted"}
    assert report._latency_label([measured, {}]) == "measured latency (ms, median)"
    assert report._latency_label([predicted] * 2) == "latency predicted by the latency table (ms)"
    assert report._latency_label([measured, predicted, predicted]) == (
        "latency (ms): 1 of 3 measured, the rest predicted by the table"
    )


# ---- the shared tiny real project ----------------------------------------------------------


@pytest.mark.slow
def test_the_reports_rebuild_from_a_real_project_and_from_its_trials_csv(tiny_project, tmp_path):
    """Every report is rebuilt from the trial files of a real search, byte for byte where it
    holds no timing, and the trials.csv it wrote reads back into the same records."""
    import shutil

    from search.multitrial import records as records_lib
    from search.results import trial_record
    from search.spaces import registry as space_registry

    records = records_lib.load_records(
        str(tiny_project.project), space_registry.get_space("mnasnet")
    )
    assert [r["trial"] for r in records] == ["0", "1"]
    assert all(isinstance(r, trial_record.TrialRecord) for r in records)
    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir()
    shutil.copy(tiny_project.project / "references.json", rebuilt)
    records_lib.write_reports(str(rebuilt), records)
    for name in ("trials.csv", "best_arch.json"):
        assert (rebuilt / name).read_bytes() == (tiny_project.project / name).read_bytes(), name
    back = trial_record.read_trials_csv(str(tiny_project.project / "trials.csv"))
    assert [r.row() for r in back] == [r.row() for r in records]
    written = json.loads((tiny_project.project / "summary.json").read_text())
    assert report.summary(back)["best"] == written["best"]


def test_by_its_own_reward_a_faster_reference_can_score_more_and_the_verdict_says_so():
    from search.controllers import reward as reward_lib

    # The README's run on landed main 40ca845: trial 13 at 0.933 / 5.06 ms, T = 7.43 ms.
    soft = reward_lib.soft(target_ms=7.43)
    best = _record(13, 5.06, 0.933, reward=soft(0.933, 5.06).value)
    slow = _record(2, 12.0, 0.94, reward=soft(0.94, 12.0).value)
    refs = [_ref("mobilenet-v3-small", 1.56, 0.917), _ref("mobilenet-v2", 7.43, 0.92)]
    data = report.summary([best, slow], references=refs, reward=soft)
    own = data["by_reward"]
    assert own["best_trial"] == "13" and own["best_trial_reward"] == pytest.approx(0.959, abs=2e-3)
    assert own["reference_rewards"]["mobilenet-v3-small"] == pytest.approx(1.022, abs=2e-3)
    assert own["best_reference"] == "mobilenet-v3-small" and own["search_wins"] is False
    assert [r["reward"] for r in data["references"]] == [
        own["reference_rewards"]["mobilenet-v3-small"],
        own["reference_rewards"]["mobilenet-v2"],
    ]
    assert data["verdict"][-2] == (
        "by its own reward (T = 7.43 ms, w = -0.07) the search's best is trial 13 (0.958); "
        "reference mobilenet-v3-small (1.023) scores more"
    )
    volume = own["hypervolume"]
    assert volume["latency_ref_ms"] == pytest.approx(1.1 * 12.0)
    # references' front: v3-small from 1.56 ms to v2, then v2 to the bound
    assert volume["references"] == pytest.approx((7.43 - 1.56) * 0.917 + (13.2 - 7.43) * 0.92)
    assert volume["found"] == pytest.approx((12.0 - 5.06) * 0.933 + (13.2 - 12.0) * 0.94)
    assert data["verdict"][-1].startswith("front hypervolume (accuracy × ms, latency ≤ 13.2 ms)")

    faster = _record(14, 1.2, 0.95, reward=soft(0.95, 1.2).value)
    won = report.summary([best, faster], references=refs, reward=soft)["by_reward"]
    assert won["search_wins"] is True and won["best_trial"] == "14"
    assert "the search's best, trial 14" in won["sentence"] and "scores at least" in won["sentence"]
    hard = report.by_own_reward([best], refs, reward_lib.hard(target_ms=7.43))
    assert hard["sentence"].startswith("by its own reward (hard, T = 7.43 ms)")


def test_no_reward_verdict_without_a_trained_reference_or_a_completed_trial():
    from search.controllers import reward as reward_lib

    soft = reward_lib.soft(target_ms=5.0)
    untrained = [report.ReferencePoint("mobilenet-v2", 5.0)]
    data = report.summary([_record(0, 4.0, 0.9)], references=untrained, reward=soft)
    assert "by_reward" not in data and data["references"][0]["reward"] is None
    failed = [_record(0, 4.0, 0.9, status="FAILED")]
    assert report.by_own_reward(failed, [_ref()], soft) is None
