"""``lattice-run``: bad input costs one line and writes nothing; runs, sweeps and resume work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

SMALL = ["grid.shape=[24,24]", "duration_h=6", "output.every_h=2", "tumour.initial.radius_um=60",
         "output.progress=false", "backend=numpy"]


def lattice_run(args, cwd: Path, timeout=300):
    return subprocess.run([sys.executable, "-m", "lattice.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("args,needle", [
    (["tumour.foo=1"], "tumour.foo"),
    (["+nonsense=1"], "nonsense"),
    (["tumour.cycle_h=-3"], "tumour.cycle_h"),
    (["fields.oxygen.decay_per_min=-0.1"], "fields.oxygen.decay_per_min"),
    (["tumour.cycle_h=abc"], "tumour.cycle_h"),
    (["organ=mars"], "organ=mars"),
    (["grid.shape=[10]"], "grid.shape"),
    (["backend=tpu"], "backend"),
    (["-m", "seed=0,1", "tumour.cycle_h=12,-1"], "tumour.cycle_h=-1"),
    (["duration_h=10", "step_h=3"], "duration_h"),
])
def test_bad_input_is_one_line_names_the_key_and_writes_nothing(tmp_path, args, needle):
    proc = lattice_run(args, tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0] and lines[0].startswith("lattice-run: error:")
    assert list(tmp_path.iterdir()) == [], "nothing may be written for a bad command line"


def read_counts(run_dir: Path):
    with h5py.File(run_dir / "summary.h5", "r") as f:
        return {k: f["timeseries"][k][()] for k in f["timeseries"]}


def test_single_run_writes_zarr_and_summary(tmp_path):
    proc = lattice_run([*SMALL, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "run"
    root = zarr.open_group(str(run / "run.zarr"), mode="r")
    assert root["0"].shape[0] == 4  # frames at 0, 2, 4, 6 h
    assert list(root.attrs["dtp_lattice"]["frame_times_h"]) == [0.0, 2.0, 4.0, 6.0]
    ts = read_counts(run)
    assert len(ts["time_h"]) == 7 and ts["tumour_total"][0] > 0
    assert (run / ".hydra" / "config.yaml").exists()
    assert "output:" in proc.stdout or "run.zarr" in proc.stdout


def test_existing_run_is_not_overwritten(tmp_path):
    args = [*SMALL, f"hydra.run.dir={tmp_path / 'run'}"]
    assert lattice_run(args, tmp_path).returncode == 0
    before = (tmp_path / "run" / "summary.h5").read_bytes()
    proc = lattice_run(args, tmp_path)
    assert proc.returncode == 1 and "resume=" in proc.stderr and "overwrite" in proc.stderr
    assert (tmp_path / "run" / "summary.h5").read_bytes() == before


def test_sweep_basic_and_joblib_launchers(tmp_path):
    for launcher in ("basic", "joblib"):
        sweep_dir = tmp_path / launcher
        proc = lattice_run(["-m", *SMALL, "seed=0,1", f"hydra/launcher={launcher}",
                            f"hydra.sweep.dir={sweep_dir}"], tmp_path)
        assert proc.returncode == 0, proc.stderr
        runs = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and (p / "summary.h5").exists())
        assert len(runs) == 2
        for r in runs:
            assert len(read_counts(r)["time_h"]) == 7
        assert not np.array_equal(zarr.open_group(str(runs[0] / "run.zarr"))["labels/cells/0"][-1],
                                  zarr.open_group(str(runs[1] / "run.zarr"))["labels/cells/0"][-1])


def test_same_seed_same_result_and_resume_equals_uninterrupted(tmp_path):
    """Determinism: two runs with one seed are identical; a run cut short and resumed to the
    full duration gives exactly the uninterrupted run's frames and table."""
    full = tmp_path / "full"
    again = tmp_path / "again"
    part = tmp_path / "part"
    assert lattice_run([*SMALL, f"hydra.run.dir={full}"], tmp_path).returncode == 0
    assert lattice_run([*SMALL, f"hydra.run.dir={again}"], tmp_path).returncode == 0
    short = [a for a in SMALL if not a.startswith("duration_h")] + ["duration_h=2"]
    assert lattice_run([*short, f"hydra.run.dir={part}"], tmp_path).returncode == 0
    proc = lattice_run([f"resume={part}", "duration_h=6"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    for other in (again, part):
        za, zb = zarr.open_group(str(full / "run.zarr")), zarr.open_group(str(other / "run.zarr"))
        for name in ("0", "labels/cells/0", "labels/immune/0"):
            np.testing.assert_array_equal(za[name][...], zb[name][...])
        ta, tb = read_counts(full), read_counts(other)
        assert ta.keys() == tb.keys()
        for k in ta:
            np.testing.assert_array_equal(ta[k], tb[k])


def test_killed_run_keeps_complete_frames_and_resumes_exactly(tmp_path):
    """SIGKILL part-way: every frame listed in frame_times_h reads back, and resume finishes
    with exactly the frames and table of an uninterrupted run."""
    import signal
    import time

    from lattice.io import open_run

    args = ["grid.shape=[40,40]", "duration_h=120", "output.every_h=4", "output.progress=false", "backend=numpy"]
    killed, full = tmp_path / "killed", tmp_path / "full"
    proc = subprocess.Popen([sys.executable, "-m", "lattice.cli", *args, f"hydra.run.dir={killed}"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if open_run(killed).n_frames >= 4:
                break
        except Exception:
            pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader = open_run(killed)
    n = reader.n_frames
    assert 4 <= n < 31, "the run must have been killed part-way"
    for i in range(n):  # every committed frame is complete and readable
        assert reader.frame(i)["cells"].size == 40 * 40
    assert lattice_run([f"resume={killed}"], tmp_path).returncode == 0
    assert lattice_run([*args, f"hydra.run.dir={full}"], tmp_path).returncode == 0
    za, zb = zarr.open_group(str(full / "run.zarr")), zarr.open_group(str(killed / "run.zarr"))
    for name in ("0", "labels/cells/0"):
        np.testing.assert_array_equal(za[name][...], zb[name][...])
    ta, tb = read_counts(full), read_counts(killed)
    for k in ta:
        np.testing.assert_array_equal(ta[k], tb[k])
