"""``lattice-run``: bad input costs one line and writes nothing; runs, sweeps and resume work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

from tests.kill_helpers import kill_after_frames

SMALL = ["grid.shape=[24,24]", "duration_h=6", "output.every_h=2", "tumour.initial.radius_um=60",
         "output.progress=false", "backend=numpy"]


def lattice_run(args, cwd: Path, timeout=300):
    return subprocess.run([sys.executable, "-m", "lattice.cli", *args], check=False, cwd=cwd, capture_output=True,
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
    assert not (run / "cli.log").exists(), "no empty log file in every run directory"
    assert "output:" in proc.stdout or "run.zarr" in proc.stdout


def test_existing_run_is_not_overwritten(tmp_path):
    args = [*SMALL, f"hydra.run.dir={tmp_path / 'run'}"]
    assert lattice_run(args, tmp_path).returncode == 0
    before = (tmp_path / "run" / "summary.h5").read_bytes()
    proc = lattice_run(args, tmp_path)
    assert proc.returncode == 1 and "resume=" in proc.stderr and "overwrite" in proc.stderr
    assert (tmp_path / "run" / "summary.h5").read_bytes() == before


def tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


def test_refused_run_leaves_the_earlier_run_byte_identical(tmp_path):
    """Issue 13 item 3: a second run into the directory of a finished one is refused before
    Hydra writes anything: every file of the earlier run, .hydra/ included, keeps its bytes."""
    small = ["grid.shape=[16,16]", "duration_h=2", "output.progress=false", "backend=numpy"]
    first = lattice_run([*small, "seed=1", f"hydra.run.dir={tmp_path / 'X'}"], tmp_path)
    assert first.returncode == 0, first.stderr
    before = tree(tmp_path)
    assert "X/.hydra/config.yaml" in before and "X/summary.h5" in before
    for args in (["seed=2"], ["seed=2", "backend=cupy"], ["grid.shape=[100000,100000]"]):
        proc = lattice_run([*small, *args, f"hydra.run.dir={tmp_path / 'X'}"], tmp_path)
        assert proc.returncode in (1, 2) and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert tree(tmp_path) == before, f"{args} changed the earlier run"
    assert b"seed: 1" in before["X/.hydra/config.yaml"]


def test_hydra_flags_print_and_write_nothing(tmp_path):
    """--cfg job|hydra|all, -p, --info and --help work (the command line is parsed by Hydra's own
    parser) and create no directory."""
    job = lattice_run(["--cfg", "job", "grid=3d"], tmp_path)
    assert job.returncode == 0, job.stderr
    assert "shape:\n  - 64\n  - 64\n  - 64" in job.stdout.replace("  shape", "shape")
    assert lattice_run(["--cfg", "hydra"], tmp_path).stdout.lstrip().startswith("hydra:")
    everything = lattice_run(["--cfg", "all"], tmp_path).stdout
    assert "hydra:" in everything and "tumour:" in everything
    package = lattice_run(["--cfg", "job", "-p", "tumour.cycle_h"], tmp_path)
    assert package.returncode == 0 and package.stdout.strip().endswith("18.0"), package.stdout
    info = lattice_run(["--info", "searchpath"], tmp_path)
    assert info.returncode == 0 and "pkg://lattice.conf" in info.stdout
    text = lattice_run(["--help"], tmp_path).stdout
    lines = text.splitlines()
    assert lines[0].startswith("lattice-run: simulate tumour tissue")
    assert len(lines) < 80, "help is a page, not a config dump"
    for needle in ("experiment=dtp_relapse", "resume=", "-m ", "--cfg job", "runs/", "run.zarr", "summary.h5",
                   "lattice-view", "lattice-report", "python -m lattice.params.doc", "--config-dir",
                   "treatment: adaptive"):
        assert needle in text, needle
    assert list(tmp_path.iterdir()) == []


def test_experiment_over_a_chosen_group_warns_in_one_line(tmp_path):
    """grid=3d experiment=persister_assay: the preset's 2D grid.shape wins, and says so."""
    from lattice.configure import preset_conflicts

    warnings = preset_conflicts(["grid=3d", "experiment=persister_assay"])
    assert len(warnings) == 1 and "grid.shape=[200, 200]" in warnings[0] and "grid=3d" in warnings[0]
    assert preset_conflicts(["grid=3d", "experiment=persister_assay", "grid.shape=[8,8,8]"]) == []
    assert preset_conflicts(["experiment=checkpoint_blockade", "organ=liver"]) == [], \
        "a group option chosen over the preset's own default-list choice wins silently: nothing replaced"
    proc = lattice_run(["--cfg", "job", "-p", "grid.shape", "grid=3d", "experiment=persister_assay"], tmp_path)
    warn = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 0 and len(warn) == 1 and warn[0].startswith("lattice-run: warning:"), proc.stderr


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
    from lattice.io import open_run

    args = ["grid.shape=[40,40]", "duration_h=120", "output.every_h=4", "output.progress=false", "backend=numpy"]
    killed, full = tmp_path / "killed", tmp_path / "full"
    kill_after_frames(args, killed, tmp_path, frames=4)
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


# -- the end-of-run summary ----------------------------------------------------------------------

def story_series():
    """A treated run's table: 100 cells, drug on for 10 h, nadir of 10 cells (8 DTP) at 20 h,
    regrowth past 1.2 × 100 at 40 h."""
    t = np.arange(0.0, 51.0)
    total = np.where(t <= 20, 100 - 4.5 * t, 10 + 6 * (t - 20)).round()
    dtp = np.where((t >= 5) & (t <= 30), 8.0, 0.0)
    return {"time_h": t, "tumour_total": total, "sensitive": total - dtp, "primed": 0 * t, "dtp": dtp,
            "dtep": 0 * t, "resistant": 0 * t, "dead": 0 * t, "on_primary": (t <= 10).astype(float)}


EVENTS = {"therapy_start_h": 0.0, "baseline_burden": 100.0, "nadir_time_h": 20.0, "nadir_burden": 10.0,
          "dtp_fraction_at_nadir": 0.8, "dtep_fraction_at_nadir": 0.0, "progression_time_h": 38.0,
          "relapse_resistant_fraction": 0.0}


def test_story_table_columns_are_the_moments_of_the_story():
    from rich.console import Console

    from lattice.report import story_table

    console = Console(width=120, record=True)
    console.print(story_table(story_series(), EVENTS, "The DTP story"))
    text = console.export_text()
    header = next(line for line in text.splitlines() if "start" in line)
    for moment in ("start", "therapy ends", "nadir", "relapse", "end"):
        assert moment in header, moment
    row = next(line for line in text.splitlines() if "DTP (persister)" in line)
    assert [c.strip() for c in row.split("│")[2:7]] == ["0", "8", "8", "0", "0"], row
    share = next(line for line in text.splitlines() if "persister share" in line)
    assert "80 %" in share  # 8 of the 10 cells at the nadir


def test_story_sentence_says_what_happened():
    from lattice.report import story_sentence

    text = story_sentence(EVENTS, {"tumour_total": 190.0, "dtp": 0.0, "dtep": 0.0}, treated=True)
    assert "from 100 to 10 cells (90 % killed) by 20 h" in text
    assert "80 % of the survivors were persisters" in text and "relapsed past 1.2 × its size" in text
    no_relapse = dict(EVENTS, progression_time_h=float("nan"))
    assert "no relapse within the run" in story_sentence(no_relapse, {"tumour_total": 12.0, "dtp": 8.0}, True)
    assert story_sentence({"baseline_burden": 5.0}, {"tumour_total": 50.0}, treated=False).startswith("No therapy")
    # An untreated run has no baseline event: the first row's burden is the start.
    untreated = story_sentence({}, {"tumour_total": 253.0}, treated=False, initial=13.0)
    assert untreated == "No therapy: the tumour went from 13 to 253 cells."
    assert "—" not in story_sentence({}, {"tumour_total": 253.0}, treated=False)


def test_summary_headline_never_wraps_inside_a_number(capsys, monkeypatch):
    """The totals line is printed whole (the old table title broke '(840\\n steps)')."""
    from types import SimpleNamespace

    from lattice.report import print_summary

    monkeypatch.setenv("COLUMNS", "40")
    result = SimpleNamespace(time_h=840.0, steps=840, wall_s=61.25, final=[{"tumour_total": 5.0}], events=[{}],
                             run_dirs=[], resumed_from_step=420, session_wall_s=30.5)
    params = SimpleNamespace(treatment=SimpleNamespace(drugs={}, progression_factor=1.2))
    print_summary(result, params)
    first = capsys.readouterr().out.splitlines()[0]
    assert first == ("DTP Lattice: 840 h simulated (840 steps) in 61.2 s of compute "
                     "(resumed at step 420: 30.5 s this session)")
