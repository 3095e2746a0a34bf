"""lattice-sweep: one row per run and replicate, censoring, arms, KM/log-rank, population curves.

The fast tests build sweep directories by hand (``summary.h5`` through :func:`lattice.io.write_summary`
and Hydra's ``.hydra/overrides.yaml``); one test runs a real ``lattice-run -m`` sweep of the
competitive-release preset (2 arms × 3 seeds on a 20 × 20 lattice) and analyses it.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lattice.events import compute_events
from lattice.io import read_summary, write_summary
from lattice.survival import logrank
from lattice.sweep import find_jobs, gather, main, overrides_label, population_curves, read_run


def burden_table(burden, dt_h=24.0, resistant=None):
    """A per-step table whose therapy starts at t = 0 with threshold 1.2 × the first burden."""
    burden = np.asarray(burden, float)
    n = burden.size
    res = np.zeros(n) if resistant is None else np.asarray(resistant, float)
    return {
        "time_h": np.arange(n) * dt_h, "sensitive": burden - res, "primed": np.zeros(n), "dtp": np.zeros(n),
        "dtep": np.zeros(n), "resistant": res, "tumour_total": burden,
        "baseline_burden": np.r_[np.nan, np.full(n - 1, burden[0])],
        "progression_threshold": np.r_[np.nan, np.full(n - 1, 1.2 * burden[0])],
        "on_primary": np.r_[np.ones(n // 2), np.zeros(n - n // 2)],
        "cumulative_dose_primary": np.cumsum(np.r_[np.ones(n // 2), np.zeros(n - n // 2)]),
    }


def write_job(job: Path, overrides: list[str], tables: list[dict], seed: int = 0) -> None:
    job.mkdir(parents=True)
    (job / ".hydra").mkdir()
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    stacked = {k: np.stack([t[k] for t in tables]) for k in tables[0]}
    write_summary(job / "summary.h5", stacked, [compute_events(t) for t in tables], "seed: 0\n", "test", seed)


# Burdens that progress (exceed 1.2 × 100) at a known step, or never (censored at the end).
def progresses_at(step: int, n: int = 11) -> np.ndarray:
    b = np.full(n, 80.0)
    b[0] = 100.0
    b[step:] = 130.0
    return b


@pytest.fixture()
def synthetic_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    steps = {"adaptive": [4, 6, None], "continuous": [2, 3, 5]}
    job = 0
    for arm, stops in steps.items():
        for seed, s in enumerate(stops):
            b = progresses_at(s) if s is not None else np.r_[100.0, np.full(10, 90.0)]
            write_job(sweep / str(job), [f"treatment={arm}", f"seed={seed}", "grid.shape=[8,8]"],
                      [burden_table(b)], seed=seed)
            job += 1
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    return sweep, steps


def test_table_rows_overrides_events_and_censoring(synthetic_sweep):
    sweep_dir, steps = synthetic_sweep
    s = gather(sweep_dir)
    t = s.table
    assert len(t) == 6 and s.arms == ["treatment=adaptive", "treatment=continuous"]
    assert s.arm_keys == ["treatment"] and s.constant == {"grid.shape": "[8,8]"}
    assert list(t.columns[:6]) == ["job", "replicate", "arm", "treatment", "seed", "grid.shape"]
    assert t["seed"].tolist() == [0, 1, 2, 0, 1, 2]
    for (_, row), stop in zip(t.iterrows(), steps["adaptive"] + steps["continuous"]):
        if stop is None:  # censored at the run's end (10 days after therapy start)
            assert not row["progressed"] and row["ttp_h"] == 240.0 and math.isnan(row["time_to_progression_h"])
        else:
            assert row["progressed"] and row["ttp_h"] == 24.0 * stop == row["time_to_progression_h"]
        assert row["end_time_h"] == 240.0 and row["cumulative_dose_primary"] == 5.0
        assert row["primary_on_fraction"] == pytest.approx(5 / 11)
        assert row["sensitive_fraction_at_nadir"] == 1.0 and row["end_resistant_fraction"] == 0.0


def test_analyse_writes_table_statistics_and_figures(synthetic_sweep, capsys):
    sweep_dir, _ = synthetic_sweep
    assert main([str(sweep_dir)]) == 0
    out = sweep_dir / "analysis"
    for name in ("runs.parquet", "runs.csv", "arms.csv", "logrank.csv", "population.csv",
                 "km_time_to_progression.png", "population.png"):
        assert (out / name).stat().st_size > 0, name
    parquet, csv = pd.read_parquet(out / "runs.parquet"), pd.read_csv(out / "runs.csv")
    assert len(parquet) == len(csv) == 6
    assert np.allclose(parquet["ttp_h"], csv["ttp_h"]) and parquet["arm"].tolist() == csv["arm"].tolist()
    # The log-rank statistic is lifelines' on the same durations.
    lr = pd.read_csv(out / "logrank.csv")
    a = logrank([96, 144, 240], [1, 1, 0], [48, 72, 120], [1, 1, 1])
    assert lr["chi2"].iloc[0] == pytest.approx(a.statistic) and lr["p"].iloc[0] == pytest.approx(a.p_value)
    arms = pd.read_csv(out / "arms.csv")
    assert arms["progressed"].tolist() == [2, 3] and arms["median_ttp_h"].tolist() == [144.0, 72.0]
    assert arms["hazard_ratio"].iloc[1] > 1  # continuous progresses sooner here
    text = capsys.readouterr().out
    assert "treatment=adaptive" in text and "treatment=continuous" in text and "Log-rank" in text
    # Same sweep, same bytes.
    first = (out / "runs.csv").read_bytes()
    assert main([str(sweep_dir), "--out", str(sweep_dir / "again")]) == 0
    assert (sweep_dir / "again" / "runs.csv").read_bytes() == first


def test_population_median_and_iqr(synthetic_sweep):
    s = gather(synthetic_sweep[0])
    pop = population_curves(s, ["tumour_total"])
    arm = pop[(pop["arm"] == "treatment=continuous")]
    stack = np.stack([ts["tumour_total"] for ts, a in zip(s.timeseries, s.table["arm"]) if a == "treatment=continuous"])
    assert np.array_equal(arm["median"].to_numpy(), np.median(stack, axis=0))
    assert np.array_equal(arm["q25"].to_numpy(), np.percentile(stack, 25, axis=0))
    assert arm["n"].tolist() == [3] * 11


def test_replicates_failed_jobs_and_old_layout(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    # Job 0: one run of three replicates (one summary.h5, a replicate column).
    write_job(sweep / "0", ["treatment=adaptive"], [burden_table(progresses_at(k)) for k in (2, 4, 6)])
    # Job 1: a failed job (Hydra wrote .hydra/, the run wrote nothing).
    (sweep / "1" / ".hydra").mkdir(parents=True)
    (sweep / "1" / ".hydra" / "overrides.yaml").write_text("- treatment=continuous\n")
    # Job 2: the earlier layout, one replicate_NNN/summary.h5 per replicate.
    for r, k in enumerate((3, 5)):
        d = sweep / "2" / f"replicate_{r:03d}"
        d.mkdir(parents=True)
        t = burden_table(progresses_at(k))
        write_summary(d / "summary.h5", t, compute_events(t), "", "test", 7)
    (sweep / "2" / ".hydra").mkdir()
    (sweep / "2" / ".hydra" / "overrides.yaml").write_text("- treatment=continuous\n")
    assert [p.name for p in find_jobs(sweep)] == ["0", "1", "2"]
    assert [r.replicate for r in read_run(sweep / "0")] == [0, 1, 2]
    assert [r.replicate for r in read_run(sweep / "2")] == [0, 1]
    s = gather(sweep)
    assert s.table["replicate"].tolist() == [0, 1, 2, 0, 1]
    assert s.table["ttp_h"].tolist() == [48.0, 96.0, 144.0, 72.0, 120.0]
    assert [j.name for j, _ in s.missing] == ["1"]
    assert main([str(sweep)]) == 0
    assert "skipped" in capsys.readouterr().out


def test_untreated_runs_have_no_survival_analysis(tmp_path, capsys):
    for j, cycle in enumerate((12, 24, 12)):
        t = {"time_h": np.arange(10.0), "tumour_total": np.linspace(100, 300, 10),
             "sensitive": np.linspace(100, 300, 10)}
        d = tmp_path / "sweep" / str(j)
        d.mkdir(parents=True)
        (d / ".hydra").mkdir()
        (d / ".hydra" / "overrides.yaml").write_text(f"- seed={j}\n- tumour.cycle_h={cycle}\n")
        write_summary(d / "summary.h5", t, compute_events(t), "", "test", j)
    assert main([str(tmp_path / "sweep")]) == 0
    out = tmp_path / "sweep" / "analysis"
    table = pd.read_parquet(out / "runs.parquet")
    assert table["arm"].tolist() == ["tumour.cycle_h=12", "tumour.cycle_h=24", "tumour.cycle_h=12"]
    assert table["ttp_h"].isna().all() and not table["progressed"].any()
    assert not (out / "km_time_to_progression.png").exists() and (out / "population.png").exists()
    assert len(pd.read_csv(out / "logrank.csv")) == 0


def test_bad_sweep_dir_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lattice-sweep: error:") and "nope" in err[0]
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    assert "holds no readable run" in capsys.readouterr().err


def test_overrides_label(synthetic_sweep):
    assert overrides_label(synthetic_sweep[0] / "4") == "treatment=continuous seed=1 grid.shape=[8,8]"
    assert overrides_label(synthetic_sweep[0] / "4", skip=["grid.shape"]) == "treatment=continuous seed=1"


def test_competitive_release_sweep_end_to_end(tmp_path):
    """The issue's example, small: 2 treatments × 3 seeds → 6 rows and a KM figure of both arms."""
    sweep_dir = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "lattice.cli", "-m", "experiment=competitive_release",
           "treatment=adaptive,continuous", "seed=range(3)", "grid.shape=[20,20]",
           # a smaller lattice needs more resistant cells and space to progress within 250 days
           "tumour.initial.resistant_fraction=0.05", "tumour.initial.density=0.3", "duration_h=6000",
           "output.frames=false", "output.progress=false", "backend=numpy", f"hydra.sweep.dir={sweep_dir}"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = subprocess.run([sys.executable, "-m", "lattice.sweep", str(sweep_dir)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = pd.read_parquet(sweep_dir / "analysis" / "runs.parquet")
    assert len(table) == 6
    assert sorted(set(table["arm"])) == ["treatment=adaptive", "treatment=continuous"]
    for arm in ("adaptive", "continuous"):
        assert sorted(table[table["treatment"] == arm]["seed"]) == [0, 1, 2]
    # Every row matches its own job's summary.h5.
    for _, row in table.iterrows():
        _, events, attrs = read_summary(sweep_dir / row["job"] / "summary.h5")
        assert attrs["seed"] == row["seed"]
        assert row["nadir_burden"] == events["nadir_burden"]
        expect = events["time_to_progression_h"] if row["progressed"] else 6000.0 - events["therapy_start_h"]
        assert row["ttp_h"] == expect
    assert (sweep_dir / "analysis" / "km_time_to_progression.png").stat().st_size > 10_000
    arms = pd.read_csv(sweep_dir / "analysis" / "arms.csv")
    assert arms["rows"].tolist() == [3, 3]
    assert "Log-rank" in proc.stdout and "treatment=continuous" in proc.stdout


def test_killed_or_failed_job_records_keep_partial_runs_out_of_the_table(tmp_path):
    """A job whose job.json says it did not finish is listed with its error, even when it left a
    partial summary.h5 (a run killed half-way), and never counted as a row."""
    from lattice.jobs import FAILED, FINISHED, INTERRUPTED, JobRecord
    from lattice.jobs import write_job as write_record

    sweep = tmp_path / "sweep"
    for num, status in enumerate((FINISHED, INTERRUPTED, FAILED)):
        write_job(sweep / str(num), ["treatment=adaptive", f"seed={num}"], [burden_table(progresses_at(3))])
        write_record(sweep / str(num), JobRecord(num, [f"seed={num}"], status, "boom" if status == FAILED else ""))
    s = gather(sweep)
    assert len(s.table) == 1
    assert {j.name: why for j, why in s.missing} == {"1": "job interrupted", "2": "job failed: boom"}
