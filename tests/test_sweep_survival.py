"""Sweeps that survive (issue 12, docs/sweeps.md "Failed jobs and relaunching"): every job is
checked up front in one process, an invalid combination or a failing job is recorded in its
``job.json`` while the other jobs run, the sweep ends with one line per failed job and exit
status 1, and relaunching the same command into the same ``hydra.sweep.dir`` reruns only the jobs
that did not finish."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from lattice.configure import compose, params_from_config, validate_overrides
from lattice.jobs import FAILED, FINISHED, RUNNING, JobRecord, read_job, write_job

TINY = ["grid.shape=[8,8]", "duration_h=1", "output.progress=false"]
#: The issue's sweep: 3 x 3 fractions, of which (0.6, 0.6) sums past 1 (job 4 in Hydra's order).
FRACTIONS = ["tumour.initial.primed_fraction=0.1,0.6,0.2", "tumour.initial.resistant_fraction=0.1,0.6,0.2"]


def lattice_run(args, cwd: Path, code: str = "", timeout=600) -> subprocess.CompletedProcess:
    """``lattice-run ARGS`` in a fresh interpreter; ``code`` runs first (to make a job fail)."""
    script = f"import sys\n{code}\nfrom lattice.cli import main\nmain(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", script, *args], check=False, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def summaries(sweep_dir: Path) -> dict[str, int]:
    """Job -> mtime (ns) of its summary.h5: unchanged when a relaunch kept the job."""
    return {p.parent.name: p.stat().st_mtime_ns for p in sorted(sweep_dir.glob("*/summary.h5"))}


def test_failing_combination_runs_the_valid_jobs_and_a_relaunch_reruns_nothing_finished(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", *FRACTIONS, *TINY, f"hydra.sweep.dir={sweep}"]
    proc = lattice_run(args, tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    records = {n: read_job(sweep / str(n)) for n in range(9)}
    assert [n for n, r in records.items() if r.status == FINISHED] == [0, 1, 2, 3, 5, 6, 7, 8]
    assert records[4].status == FAILED and "must not exceed 1" in records[4].message
    assert records[4].overrides[:2] == ["tumour.initial.primed_fraction=0.6", "tumour.initial.resistant_fraction=0.6"]
    assert sorted(summaries(sweep)) == ["0", "1", "2", "3", "5", "6", "7", "8"]
    tail = [line for line in proc.stderr.splitlines() if line.strip()][-2:]
    assert tail[0].startswith("lattice-run: job 4 failed:") and "must not exceed 1" in tail[0]
    assert "8 of 9 jobs finished, 1 did not" in tail[1]

    before = summaries(sweep)
    again = lattice_run(args, tmp_path)
    assert again.returncode == 1, again.stderr
    assert summaries(sweep) == before, "a relaunch must keep every finished job untouched"
    assert "8 of 9 jobs finished in an earlier launch" in again.stderr
    assert again.stderr.count("finished in an earlier launch: kept") == 8


def test_a_job_that_raises_is_recorded_the_others_run_and_the_relaunch_runs_only_it(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "seed=0,1,2", *TINY, f"hydra.sweep.dir={sweep}"]
    # Job 1 (seed=1) fails while running, as a run error would.
    boom = ("import lattice.cli as cli\n_execute = cli.execute\n"
            "def execute(params, *a, **k):\n"
            "    if params.seed == 1: raise RuntimeError('simulated failure\\nsecond line')\n"
            "    return _execute(params, *a, **k)\n"
            "cli.execute = execute")
    proc = lattice_run(args, tmp_path, code=boom)
    assert proc.returncode == 1, proc.stderr
    assert read_job(sweep / "1").status == FAILED
    assert read_job(sweep / "1").message == "RuntimeError: simulated failure"
    assert sorted(summaries(sweep)) == ["0", "2"]
    assert any(line.startswith("lattice-run: job 1 failed: RuntimeError: simulated failure")
               for line in proc.stderr.splitlines())

    before = summaries(sweep)
    again = lattice_run(args, tmp_path)  # the failure is gone: only job 1 runs
    assert again.returncode == 0, again.stderr
    after = summaries(sweep)
    assert {k: after[k] for k in before} == before and "1" in after
    assert all(read_job(sweep / str(n)).status == FINISHED for n in range(3))
    assert "all 3 jobs finished" in again.stderr


def test_joblib_launcher_records_the_invalid_combination_and_runs_the_rest(tmp_path):
    sweep = tmp_path / "sweep"
    proc = lattice_run(["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                        "tumour.initial.primed_fraction=0.1,0.6", "tumour.initial.resistant_fraction=0.1,0.6",
                        *TINY, f"hydra.sweep.dir={sweep}"], tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert [read_job(sweep / str(n)).status for n in range(4)] == [FINISHED, FINISHED, FINISHED, FAILED]
    assert sorted(summaries(sweep)) == ["0", "1", "2"]


def test_a_relaunch_of_another_sweep_into_the_same_directory_is_refused_in_one_line(tmp_path):
    sweep = tmp_path / "sweep"
    assert lattice_run(["-m", "seed=0,1", *TINY, f"hydra.sweep.dir={sweep}"], tmp_path).returncode == 0
    before = summaries(sweep)
    proc = lattice_run(["-m", "seed=5,6", *TINY, f"hydra.sweep.dir={sweep}"], tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "holds another sweep" in lines[0] and "seed=0" in lines[0] and "seed=5" in lines[0]
    assert summaries(sweep) == before


def test_a_killed_job_continues_from_its_checkpoint_on_relaunch(tmp_path):
    """Job 1 was killed half-way: its record still says running and its directory holds the first
    2 h (a checkpoint). The relaunch runs job 0 and continues job 1 to the end."""
    sweep = tmp_path / "sweep"
    common = ["grid.shape=[8,8]", "output.every_h=1", "output.progress=false"]
    half = lattice_run([*common, "seed=1", "duration_h=2", f"hydra.run.dir={sweep / '1'}"], tmp_path)
    assert half.returncode == 0, half.stderr
    job1 = ["seed=1", "grid.shape=[8,8]", "output.every_h=1", "output.progress=False", "duration_h=4"]
    write_job(sweep / "1", JobRecord(1, job1, RUNNING))
    proc = lattice_run(["-m", "seed=0,1", *common, "duration_h=4", f"hydra.sweep.dir={sweep}"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert read_job(sweep / "1").status == FINISHED
    assert "job 1: continuing the earlier attempt from its last complete frame" in proc.stderr
    with h5py.File(sweep / "1" / "summary.h5", "r") as f:
        time_h = f["timeseries"]["time_h"][()]
    assert time_h.ravel()[-1] == pytest.approx(4.0)
    assert np.all(np.diff(time_h.ravel()) > 0), "the continued run appends after the saved frames"


def test_fast_check_gives_the_parameters_hydra_composes_for_every_job():
    overrides = ["treatment=adaptive,continuous", "tumour.initial.primed_fraction=0.1,0.5",
                 "grid.shape=[8,8],[4,4,4]", "seed=3"]
    plan = validate_overrides(overrides)
    assert len(plan.jobs) == 8 and not plan.errors
    for job, params in zip(plan.jobs, plan.params, strict=True):
        cfg = compose(job)
        assert params == params_from_config(cfg), job


def test_fast_check_lists_invalid_combinations_and_is_quick_for_200_jobs():
    plan = validate_overrides([*FRACTIONS, *TINY])
    assert list(plan.errors) == [4] and plan.params[4] is None and len(plan.valid) == 8
    started = time.perf_counter()
    plan = validate_overrides(["seed=range(200)", *TINY])
    elapsed = time.perf_counter() - started
    assert len(plan.valid) == 200 and [p.seed for p in plan.valid] == list(range(200))
    assert elapsed < 20, f"checking 200 jobs took {elapsed:.1f} s (composing each took 200 s)"
