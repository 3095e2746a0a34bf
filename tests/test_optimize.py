"""lattice-optimize: a tiny study end to end, resume, presets that compose back, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lattice.configure import compose
from lattice.optimize import evaluate, main, pareto_mask, parse_args, setup_from_args

# Tiny competitive release: 5 % resistant, fast division, so every replicate progresses in ~100 days.
TINY = ["experiment=competitive_release", "grid.shape=[12,12]", "duration_h=3600",
        "tumour.initial.resistant_fraction=0.05", "tumour.cycle_h=200"]


def test_tiny_study_writes_table_plot_presets_and_resumes(tmp_path, capsys):
    out = tmp_path / "study"
    main(["--out", str(out), "--trials", "2", "--replicates", "2", "--validation-replicates", "1",
          "--report-every-days", "30", *TINY])
    table = pd.read_csv(out / "trials.csv")
    assert list(table["trial"]) == [0, 1]
    done = table[table["state"] == "COMPLETE"]
    assert len(done) >= 1
    # the objective is the median censored TTP, in days, within the run
    assert ((done["objective_ttp"] > 0) & (done["objective_ttp"] <= 150)).all()
    assert (out / "pareto.png").stat().st_size > 10_000
    summary = json.loads((out / "summary.json").read_text())
    best = summary["presets"][0]
    assert best["values"][0] == pytest.approx(done["objective_ttp"].max())
    # the preset composes back to the trial's schedule through an extra config path
    cfg = compose(TINY + [f"treatment={best['name']}", f"hydra.searchpath=[file://{out / 'conf'}]"])
    config = json.loads(table.loc[table["trial"] == best["trial"], "config"].iloc[0])
    for key, value in config.items():
        node = cfg
        for part in key.split("."):
            node = node[part]
        assert node == value
    assert f"treatment={best['name']}" in best["command"] and not best["extra_overrides"]
    # common random numbers: the best trial's schedule, re-run at the study seed, gives its objective again
    setup = setup_from_args(parse_args(["--out", str(out), "--replicates", "2", *TINY]))
    again = evaluate(setup, config, seed=0, replicates=2)
    assert again["median_ttp_days"] == best["values"][0]
    # fresh-seed validation: the best schedule and the reference, same fresh seed
    val = pd.read_csv(out / "validation.csv")
    assert list(val["schedule"]) == [best["name"], "reference:adaptive"]
    assert ((val["median_ttp_days"] > 0) & (val["median_ttp_days"] <= 150)).all()
    # resume: the same command with more trials continues the SQLite study
    main(["--out", str(out), "--trials", "3", "--replicates", "2", "--validation-replicates", "0",
          "--report-every-days", "30", *TINY])
    assert list(pd.read_csv(out / "trials.csv")["trial"]) == [0, 1, 2]
    assert "2 trials done, 1 to run" in capsys.readouterr().out


def test_two_objectives_use_nsga2_and_write_a_front(tmp_path):
    out = tmp_path / "mo"
    main(["--out", str(out), "--trials", "2", "--replicates", "1", "--validation-replicates", "0",
          "--objectives", "ttp,dose", "--space", "schedule", "--presets", "2", *TINY])
    table = pd.read_csv(out / "trials.csv")
    assert {"objective_ttp", "objective_dose"} <= set(table.columns)
    summary = json.loads((out / "summary.json").read_text())
    assert 1 <= len(summary["presets"]) <= 2
    assert all(len(p["values"]) == 2 for p in summary["presets"])


def test_pareto_mask():
    x = np.array([1.0, 2.0, 0.5, 2.0])   # dose (minimise)
    y = np.array([10.0, 20.0, 5.0, 15.0])  # TTP (maximise)
    assert list(pareto_mask(x, y)) == [True, True, True, False]


@pytest.mark.parametrize("args, key", [
    (["--objectives", "speed"], "--objectives"),
    (["--objectives", "dose,ttp"], "ttp or rmst must come first"),
    (["--space", "nope"], "--space"),
    (["--trials", "0"], "--trials"),
    (["--drug", "aspirin"], "--drug"),
    (["--reference", "no_such_preset"], "no_such_preset"),
    (["--space", "addon"], "--space addon"),
    (["tumour.cycle_hh=3"], "tumour.cycle_hh"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, args, key):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(out), *args, *TINY])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and key in err and err.startswith("lattice-optimize: error:")
    assert not out.exists()


def test_best_trial_breaks_ties_by_least_drug():
    """Medians censored at the end of the run tie: the least drug among the best wins."""
    import optuna

    from lattice.optimize import best_trials

    study = optuna.create_study(direction="maximize")
    for value, dose in [(100.0, 0.9), (200.0, 0.8), (200.0, 0.7), (150.0, 0.1)]:
        study.add_trial(optuna.trial.create_trial(value=value, user_attrs={"dose_per_day": dose},
                                                  distributions={}, params={}))

    from types import SimpleNamespace

    best = best_trials(study, SimpleNamespace(objectives=["ttp"]))
    assert [t.number for t in best] == [2]


def test_rmst_objective_is_the_censored_mean(tmp_path):
    out = tmp_path / "rmst"
    main(["--out", str(out), "--trials", "1", "--replicates", "2", "--validation-replicates", "0",
          "--objectives", "rmst", *TINY])
    row = pd.read_csv(out / "trials.csv").iloc[0]
    assert row["objective_rmst"] == pytest.approx(row["mean_ttp_days"])
