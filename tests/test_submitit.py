"""Hydra's submitit launcher presets: ``hydra/launcher=local`` runs a sweep through submitit's
local executor; ``hydra/launcher=slurm`` writes the sbatch array script (checked with stand-in
``sbatch``/``srun`` commands, so no cluster is needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lattice.io import read_summary
from lattice.sweep import gather

pytest.importorskip("hydra_plugins.hydra_submitit_launcher")

TINY = ["grid.shape=[16,16]", "duration_h=12", "output.every_h=6", "output.progress=false", "backend=numpy"]


def lattice_run(args, cwd: Path, env=None):
    return subprocess.run([sys.executable, "-m", "lattice.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env, check=False)


def test_local_submitit_sweep_runs_every_job(tmp_path):
    sweep = tmp_path / "sweep"
    proc = lattice_run(["-m", "hydra/launcher=local", "seed=0,1", *TINY, f"hydra.sweep.dir={sweep}"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Submitit 'local' sweep" in proc.stdout + proc.stderr
    for job, seed in ((0, 0), (1, 1)):
        ts, _, attrs = read_summary(sweep / str(job) / "summary.h5")
        assert attrs["seed"] == seed and len(ts["time_h"]) == 13  # 0…12 h, one row per 1 h step
    assert any((sweep / ".submitit").rglob("*_log.out")), "submitit keeps each job's log"
    table = gather(sweep).table
    assert table["seed"].tolist() == [0, 1] and len(table) == 2


@pytest.mark.skipif(os.name != "posix", reason="stand-in sbatch is a shell script")
def test_slurm_preset_writes_one_gpu_per_task_array(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "job.sbatch"
    # submitit looks for srun, then submits with `sbatch <script>`; this sbatch keeps the script and
    # refuses the job, so nothing waits for a cluster.
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" "{record}"\necho "sbatch: refused by the test" >&2\nexit 1\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    proc = lattice_run(["-m", "hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=90",
                        "seed=0,1,2", *TINY, f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path, env=env)
    assert proc.returncode != 0 and "refused by the test" in proc.stderr
    lines = set(record.read_text().splitlines())
    for expected in ("#SBATCH --array=0-2%3",       # one array job, min(array_parallelism, jobs) at once
                     "#SBATCH --gpus-per-task=1",   # one GPU per job
                     "#SBATCH --ntasks-per-node=1", "#SBATCH --cpus-per-task=4",
                     "#SBATCH --mem=32GB",          # preset memory
                     "#SBATCH --time=90",           # overridden time limit, minutes
                     "#SBATCH --partition=gpu", "#SBATCH --job-name=lattice-run"):
        assert expected in lines, expected
