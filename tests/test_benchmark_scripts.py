"""The search-quality benchmark scripts on tiny inputs: the synthetic controller benchmark end to
end, and the search-efficiency aggregation (paired figures, Wilcoxon, budgets) on hand-made
trials.csv files (no search is run)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))


def test_landscape_is_standardised_and_its_noise_is_fixed_per_architecture():
    import controller_efficiency as ce

    from search.spaces.registry import get_space

    sizes = get_space("mnasnet").choice_sizes()
    landscape = ce.Landscape(sizes, seed=3, interaction=0.3)
    rng = np.random.default_rng(0)
    zs = [landscape.z([int(rng.integers(n)) for n in sizes]) for _ in range(4000)]
    assert abs(np.mean(zs)) < 0.06 and abs(np.std(zs) - 1.0) < 0.06
    arch = [0] * len(sizes)
    assert landscape.epsilon(arch) == landscape.epsilon(list(arch))
    assert landscape.epsilon(arch) != ce.Landscape(sizes, seed=4, interaction=0.3).epsilon(arch)


@pytest.mark.slow
def test_controller_benchmark_runs_and_writes_its_table(tmp_path):
    out = tmp_path / "ce"
    subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "benchmarks", "controller_efficiency.py"),
            "--seeds=3",
            "--samples=20",
            "--budgets=10,20",
            "--methods=random,independent β1=0 lr 0.1 (default)",
            f"--out={out}",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    result = json.loads((tmp_path / "ce.json").read_text())
    row = result["table"]["independent β1=0 lr 0.1 (default)"]["20"]
    assert set(row) == {"best_z", "recent_mean_z", "entropy", "vs_random"}
    assert 0 <= row["vs_random"]["wins"] <= 3
    assert "| random |" in (tmp_path / "ce.md").read_text()
    assert (tmp_path / "ce.png").stat().st_size > 0


def _write_project(workdir, name, rewards, cached=()):
    project = workdir / name
    project.mkdir(parents=True)
    with open(project / "trials.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle,
            fieldnames=[
                "trial",
                "status",
                "arch",
                "accuracy",
                "latency_ms",
                "reward",
                "seconds",
                "train_seconds",
                "convert_seconds",
                "measure_seconds",
                "cached_from",
            ],
        )
        writer.writeheader()
        for index, reward in enumerate(rewards):
            writer.writerow(
                {
                    "trial": index,
                    "status": "COMPLETED",
                    "arch": f"a{index}",
                    "accuracy": reward,
                    "latency_ms": 5.0 + index % 3,
                    "reward": reward,
                    "seconds": 10,
                    "train_seconds": 8,
                    "convert_seconds": 1,
                    "measure_seconds": 0.5,
                    "cached_from": "0" if index in cached else "",
                }
            )


@pytest.mark.slow
def test_search_efficiency_aggregates_paired_figures_at_the_common_budget(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "target.json").write_text(json.dumps({"latency_target_ms": 6.0, "source": "test"}))
    for seed in range(5):
        _write_project(workdir, f"random_seed{seed}", [0.5, 0.6, 0.55, 0.6, 0.61, 0.62])
        # RL is better from trial 3 on, but seed 4 has only 4 trials so far.
        rl = [0.5, 0.6, 0.7 + seed / 100, 0.8, 0.81, 0.82][: 4 if seed == 4 else 6]
        _write_project(workdir, f"reinforce-independent_seed{seed}", rl, cached={3})
    subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "benchmarks", "search_efficiency.py"),
            "--seeds=0,1,2,3,4",
            "--algorithms=random,reinforce-independent",
            "--trials=6",
            "--norun",
            f"--workdir={workdir}",
            f"--results_dir={tmp_path / 'results'}",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    result = json.loads((tmp_path / "results" / "search_efficiency.json").read_text())
    paired = result["paired"]["reinforce-independent-random"]
    assert paired["trials"] == [6, 6, 6, 6, 4]  # seed 4 compared after 4 trials
    assert paired["best_reward_wins"] == 5
    assert paired["best_reward_p"] == pytest.approx(0.0625)  # the floor for 5 pairs
    assert paired["best_reward"][0] == pytest.approx(0.2)  # 0.82 - 0.62; 0.8 - 0.6 at 4
    # RL's best reward is ahead from trial 3 on, on every seed (trials 1-2: a tie).
    assert paired["ahead_from"] == {"mean": 3, "every_seed": 3}
    assert [row["trials"] for row in paired["by_budget"]] == [4]  # the pairs' common budget
    assert paired["by_budget"][0]["best_reward_wins"] == 5
    # Means over seeds are taken at the budget every search reached (4 trials).
    assert result["common_budget"] == 4
    assert result["summary"]["reinforce-independent"]["best_reward"][0] == pytest.approx(0.8)
    assert result["summary"]["random"]["best_reward"][0] == pytest.approx(0.6)
    searches = {(s["algorithm"], s["seed"]): s for s in result["searches"]}
    assert searches[("reinforce-independent", 0)]["cached"] == 1
    # best accuracy among models no slower than T = 6 ms (latencies cycle 5, 6, 7 ms)
    assert searches[("random", 0)]["best_accuracy_at_target"] == 0.61
    markdown = (tmp_path / "results" / "search_efficiency.md").read_text()
    assert "| best reward | +" in markdown and "Wilcoxon" in markdown
    assert "| 4 | +0.2000 ± 0.0000 | 5/5 | 0.0625 |" in markdown
    assert "on every seed from trial 3 on" in markdown


def _search_efficiency(workdir, results, *flags):
    return subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "benchmarks", "search_efficiency.py"),
            "--seeds=0,1",
            "--algorithms=random,reinforce-independent",
            "--trials=3",
            "--norun",
            f"--workdir={workdir}",
            f"--results_dir={results}",
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_search_efficiency_on_an_image_folder_has_its_own_files_and_workdir(tmp_path):
    from PIL import Image

    folder = tmp_path / "My Set-2"
    for label in ("cat", "dog", "eel"):
        (folder / label).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (8, 8), (i, 0, 0)).save(folder / label / f"{i}.png")
    workdir, results = tmp_path / "work", tmp_path / "results"
    workdir.mkdir()
    (workdir / "target.json").write_text(
        json.dumps({"latency_target_ms": 6.0, "source": "test", "dataset": f"folder:{folder}"})
    )
    for seed in range(2):
        _write_project(workdir, f"random_seed{seed}", [0.5, 0.6, 0.55])
        _write_project(workdir, f"reinforce-independent_seed{seed}", [0.5, 0.7, 0.8])
    done = _search_efficiency(workdir, results, f"--dataset=folder:{folder}")
    assert done.returncode == 0, done.stderr
    result = json.loads((results / "search_efficiency_my_set_2.json").read_text())
    assert result["config"]["dataset"] == f"folder:{folder}"
    assert result["config"]["classes"] == 3  # the latency models' head width
    assert "Proxy task: folder:" in (results / "search_efficiency_my_set_2.md").read_text()
    assert not (results / "search_efficiency.json").exists()
    # A subset of the methods, aggregated under another name, leaves those files alone.
    subset = _search_efficiency(
        workdir, results, f"--dataset=folder:{folder}", "--results_name=subset", "--seeds=1"
    )
    assert subset.returncode == 0, subset.stderr
    assert json.loads((results / "subset.json").read_text())["config"]["seeds"] == [1]
    assert json.loads((results / "search_efficiency_my_set_2.json").read_text()) == result
    bad_name = _search_efficiency(workdir, results, "--results_name=../x")
    assert bad_name.returncode != 0 and "--results_name must be a file name" in bad_name.stderr
    # The digits figures cannot be mixed into this workdir, nor a missing folder read.
    refused = _search_efficiency(workdir, results, "--dataset=digits")
    assert refused.returncode != 0
    assert "--dataset=digits but the searches in" in refused.stderr
    assert "use another --workdir" in refused.stderr
    missing = _search_efficiency(tmp_path / "other", results, f"--dataset=folder:{tmp_path}/no")
    assert missing.returncode != 0 and "is not a directory" in missing.stderr
    assert "Traceback" not in refused.stderr + missing.stderr + bad_name.stderr


def _two_seed_workdir(tmp_path):
    """A digits workdir with T = 6 ms and 3 trials of random and RL on seeds 0 and 1."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "target.json").write_text(json.dumps({"latency_target_ms": 6.0, "source": "t"}))
    for seed in range(2):
        _write_project(workdir, f"random_seed{seed}", [0.5, 0.6, 0.55])
        _write_project(workdir, f"reinforce-independent_seed{seed}", [0.5, 0.7, 0.8])
    return workdir


@pytest.mark.slow
def test_search_efficiency_norun_names_the_commands_that_ran_the_searches(tmp_path):
    import search_efficiency_workdir as sew
    from search_efficiency_config import SearchEfficiencyConfig

    workdir, results = _two_seed_workdir(tmp_path), tmp_path / "results"
    for command in ("run A", "run B", "run A"):
        sew.record_command(SearchEfficiencyConfig(workdir=str(workdir), command=command))
    assert sew.search_commands(str(workdir)) == ["run A", "run B"]
    done = _search_efficiency(workdir, results)
    assert done.returncode == 0, done.stderr
    config = json.loads((results / "search_efficiency.json").read_text())["config"]
    assert config["command"] == "run A; run B"
    assert "--norun" in config["aggregated_by"]
    markdown = (results / "search_efficiency.md").read_text()
    assert "Command: `run A; run B`" in markdown and "Aggregated by: `" in markdown
    # A workdir that recorded nothing: the previous results lend their command.
    (workdir / sew.COMMANDS_FILE).unlink()
    assert _search_efficiency(workdir, results).returncode == 0
    config = json.loads((results / "search_efficiency.json").read_text())["config"]
    assert config["command"] == "run A; run B"


@pytest.mark.slow
def test_search_efficiency_archives_what_resuming_needs(tmp_path):
    import tarfile

    workdir, results = _two_seed_workdir(tmp_path), tmp_path / "results"
    project = workdir / "random_seed0"
    (project / "trial_000").mkdir()
    (project / "trial_000" / "trial.json").write_text("{}")
    (project / "trial_000" / "model.keras").write_bytes(b"x" * 1000)
    (project / "tensorboard" / "trial_000").mkdir(parents=True)
    (project / "tensorboard" / "trial_000" / "events").write_bytes(b"x")
    (project / "pareto.png").write_bytes(b"x")
    archive = tmp_path / "carry" / "runs.tar.gz"
    done = _search_efficiency(workdir, results, f"--archive={archive}")
    assert done.returncode == 0, done.stderr
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        assert {"work/target.json", "work/random_seed0/trials.csv"} <= names
        assert "work/random_seed0/trial_000/trial.json" in names
        assert not any(n.endswith((".keras", ".png")) or "tensorboard" in n for n in names)
        # Restored on another machine, it aggregates to the same figures.
        tar.extractall(tmp_path / "elsewhere", filter="data")
    again = _search_efficiency(tmp_path / "elsewhere" / "work", tmp_path / "results2")
    assert again.returncode == 0, again.stderr
    first, second = (
        json.loads((folder / "search_efficiency.json").read_text())
        for folder in (results, tmp_path / "results2")
    )
    assert first["paired"] == second["paired"] and first["summary"] == second["summary"]
    bad = _search_efficiency(workdir, results, f"--archive={tmp_path}")
    assert bad.returncode != 0 and "--archive must name a .tar.gz file" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_search_efficiency_names_a_damaged_record_file(tmp_path):
    import search_efficiency_run as se_run
    import search_efficiency_stats as stats
    import search_efficiency_workdir as sew
    from search_efficiency_config import SearchEfficiencyConfig

    workdir, results = _two_seed_workdir(tmp_path), tmp_path / "results"
    runs = workdir / "random_seed1" / "benchmark_runs.json"
    for damaged, problem in (('[{"seconds": 1', "not JSON"), ('{"seconds": 1}', "not a list")):
        runs.write_text(damaged)
        done = _search_efficiency(workdir, results)
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert f"{runs} is not a record file this benchmark wrote ({problem}" in done.stderr
        assert not results.exists()  # nothing half-written
    # A run stops before its first search, not after an hour of it. (With 3 trials every search
    # is already done, so without the early check no search would start either, but the
    # commands record would be written before the aggregation failed.)
    config = SearchEfficiencyConfig(
        workdir=str(workdir),
        seeds=(0, 1),
        algorithms=("random", "reinforce-independent"),
        trials=3,
        run=True,
    )
    with pytest.raises(stats.RecordsError, match="random_seed1"):
        se_run.run_benchmark(config)
    assert not (workdir / sew.COMMANDS_FILE).exists()
    runs.unlink()
    (workdir / sew.COMMANDS_FILE).write_text("[1, 2]")
    done = _search_efficiency(workdir, results)
    assert done.returncode != 0 and "benchmark_commands.json is not a record file" in done.stderr
    assert "Traceback" not in done.stderr


def test_search_efficiency_takes_the_class_count_from_the_workdir(tmp_path):
    import search_efficiency_workdir as sew
    from search_efficiency_config import SearchEfficiencyConfig, SettingsError

    (tmp_path / "target.json").write_text(
        json.dumps(
            {"latency_target_ms": 6.0, "source": "t", "dataset": "folder:gone", "classes": 7}
        )
    )
    # The folder is not read (it no longer exists): target.json has the count.
    config = SearchEfficiencyConfig(workdir=str(tmp_path), dataset="folder:gone")
    assert sew.dataset_classes(config) == 7
    with pytest.raises(SettingsError, match="--dataset=digits but the searches in"):
        sew.dataset_classes(SearchEfficiencyConfig(workdir=str(tmp_path)))
    for corrupt in ('{"latency_target_ms": 6.0', '{"source": "t"}', "[]"):
        (tmp_path / "target.json").write_text(corrupt)
        with pytest.raises(SettingsError, match="target.json is not a target file"):
            sew.dataset_classes(config)


def test_oneshot_benchmark_picks_the_best_at_the_target():
    import oneshot_vs_multitrial as ovm

    rows = [
        {"arch": "a", "accuracy": "0.9", "latency_ms": "0.3"},
        {"arch": "b", "accuracy": "0.8", "latency_ms": "0.2"},
        {"arch": "c", "accuracy": "0.7", "latency_ms": "0.1"},
        {"arch": "d", "accuracy": "", "latency_ms": "0.1"},
    ]
    assert ovm.best_at_target(rows, 0.25)["arch"] == "b"
    assert ovm.best_at_target(rows, 0.05) is None


def test_oneshot_benchmark_gives_multitrial_the_one_shot_seconds():
    import oneshot_vs_multitrial as ovm

    assert ovm.trials_within([10, 10, 10], 35) is None  # not spent yet: run more
    assert ovm.trials_within([10, 10, 10, 10], 34) == 3  # 30 s is nearer 34 s than 40 s
    assert ovm.trials_within([10, 10, 10, 10], 36) == 4
    assert ovm.trials_within([50, 10], 20) == 1  # at least one trial
    text = ovm._multitrial_budget(
        {"multitrial": {"reinforce": {"trials": 21, "seconds": 1012.0}}, "trial_budget": None}
    )
    assert text == "each multi-trial search ran until its trials' own seconds reached it " + (
        "(reinforce 21 trials in 1012 s)"
    )
    fixed = ovm._multitrial_budget({"trial_budget": 26, "trial_seconds": 40.0})
    assert fixed == "i.e. 26 multi-trial trials at 40 s each"


def test_oneshot_benchmark_scales_the_dnas_temperature_decay_to_its_epochs():
    import oneshot_vs_multitrial as ovm

    decay = ovm.scaled_decay(0.956, 100, 25)
    assert decay**25 == pytest.approx(0.956**100)
    assert ovm.scaled_decay(0.956, 100, 100) == pytest.approx(0.956)
    assert ovm._settings_lines({"tunas": {}}) == []
    line = ovm._settings_lines({"dnas": {"epochs": 25, "temperature_decay": decay}})[1]
    assert "epochs = 25" in line and "temperature_decay = 0.835" in line


def test_fashion_mnist_verdict_tables_the_retrain_and_names_what_is_beaten(monkeypatch):
    import fashion_mnist_verdict as fmv
    from absl import flags

    values = flags.FlagValues()  # the script's flags, apart from every other module's
    monkeypatch.setattr(fmv, "FLAGS", values)
    fmv.define_flags(values)
    values(["fashion_mnist_verdict", "--retrain_subset=6000", "--train_subset=3000"])
    summary = {
        "latency_target_ms": 7.4,
        "best": {"trial": 3, "arch": "a", "accuracy": 0.8, "latency_ms": 2.0, "reward": 0.82},
        "references": [
            {"name": "mobilenet-v3-small", "arch": "s", "accuracy": 0.7, "latency_ms": 1.5},
            {"name": "mobilenet-v2", "arch": "v", "accuracy": 0.9, "latency_ms": 7.4},
        ],
        "verdict": ["no found model beats mobilenet-v3-small yet (…)"],
    }

    def result(top1):
        return {"test": {"top1": top1}, "validation": {"top1": top1}, "train_seconds": 9.0}

    retrained = {
        "found": result(0.88),
        "mobilenet-v3-small": result(0.86),
        "mobilenet-v2": result(0.87),
    }
    rows = fmv.table(summary, retrained)
    assert [r["model"] for r in rows] == ["found (trial 3)", "mobilenet-v3-small", "mobilenet-v2"]
    assert [r["test_top1"] for r in rows] == [0.88, 0.86, 0.87]
    config = {name: values[name].value for name in ("max_trials", "epochs_per_trial")}
    config |= {"train_subset": 3000, "retrain_epochs": 5, "retrain_subset": 6000, "image_size": 32}
    text = fmv.markdown(rows, summary, config)
    assert "| mobilenet-v2 | 7.40 | 0.900 | – | 0.8700 |" in text
    assert text.strip().endswith("as fast as: mobilenet-v2")  # v3-small is faster
    assert "--train_subset=6000" in " ".join(fmv.train_command("m", "/tmp/x"))
    assert "--dataset=fashion_mnist" in fmv.search_command("/tmp/w")
