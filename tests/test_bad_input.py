"""Bad input to ``lattice-run`` costs one line and writes nothing (issue 13, docs/configuration.md
"Errors"). Every case asserts the exit status, that stderr is exactly one line naming the key or
file (and, where there is one, the fix), and that no file or directory was created or changed.

The cases run ``lattice.cli.main`` in this process (a subprocess costs seconds of start-up per
case); tests/test_cli.py runs a sample of them as real subprocesses.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lattice import cli, resources

TINY = ["grid.shape=[16,16]", "duration_h=2", "output.every_h=1", "output.progress=false", "backend=numpy"]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for directories)."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


def run_main(args: list[str], cwd: Path, monkeypatch, capsys) -> tuple[int, list[str]]:
    """Exit status and non-empty stderr lines of ``lattice-run ARGS`` run in ``cwd``."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["lattice-run"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        cli.main(list(args))
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return info.value.code, err


def assert_refused(args, cwd: Path, monkeypatch, capsys, needles, code=2):
    before = snapshot(cwd)
    status, err = run_main(args, cwd, monkeypatch, capsys)
    assert status == code, err
    assert len(err) == 1, "\n".join(err)
    assert err[0].startswith("lattice-run: error: "), err[0]
    for needle in needles:
        assert needle in err[0], (needle, err[0])
    assert snapshot(cwd) == before, "a refused command must not write or change anything"


# (arguments, substrings of the one error line); the work directory starts empty.
CONFIG_CASES = [
    (["tumour.foo=1"], ["tumour.foo", "allowed keys under tumour"]),
    (["+nonsense=1"], ["nonsense"]),
    (["tumour.cycle_h=-3"], ["tumour.cycle_h=-3", "must be >"]),
    (["fields.oxygen.decay_per_min=-0.1"], ["fields.oxygen.decay_per_min"]),
    (["tumour.cycle_h=abc"], ["tumour.cycle_h=abc", "number", "h"]),
    (["organ=mars"], ["organ=mars", "lung", "--config-dir"]),
    (["grid.shape=[10]"], ["grid.shape"]),
    (["backend=tpu"], ["backend=tpu", "numpy"]),
    (["-m", "seed=0,1", "tumour.cycle_h=12,-1"], ["tumour.cycle_h=-1"]),
    (["duration_h=10", "step_h=3"], ["duration_h=10", "step_h=3"]),
    (["exact=maybe"], ["exact=maybe", "true or false"]),
    (["seed=1.5"], ["seed=1.5", "whole number"]),
    (["seed=-1"], ["seed=-1", ">= 0", "4294967295"]),
    (["grid.shape=abc"], ["grid.shape=abc", "list"]),
    (["grid.shape=[a,b]"], ["grid.shape", "whole number"]),
    (["grid.neighbourhood=hex"], ["grid.neighbourhood=hex", "von_neumann, moore"]),
    (["tumour.initial.shape=cube"], ["tumour.initial.shape=cube", "disc"]),
    (["duration_h=0"], ["duration_h=0", "> 0"]),
    (["replicates=0"], ["replicates=0", ">= 1"]),
    (["output.checkpoint_every_h=1.5"], ["output.checkpoint_every_h=1.5", "whole number of step_h"]),
    (["treatment=adaptive", "treatment.monitoring.kind=psa", "treatment.monitoring.interval_h=1.5"],
     ["treatment.monitoring.interval_h=1.5", "whole number of step_h"]),
    (["treatment=adaptive", "treatment.monitoring.kind=psa", "treatment.monitoring.interval_h=24",
      "treatment.monitoring.delay_h=24"], ["treatment.monitoring.delay_h=24", "shorter than"]),
    (["device=-1"], ["device=-1"]),
    (["output.every_h=0"], ["output.every_h=0"]),
    (["output.every_h=1.5"], ["output.every_h=1.5", "step_h"]),
    (["treatment=mydrug"], ["treatment=mydrug", "continuous", "--config-dir"]),
    (["experiment=nope"], ["experiment=nope", "persister_assay"]),
    (["+drug@treatment.drugs.x=nope"], ["drug=nope", "cytotoxic"]),
    (["+treatment.drugs.second.kind=cytotoxic"], ["treatment.drugs.second", "+drug@treatment.drugs.second="]),
    (["treatment.drugs.primary.dose_uM=2"], ["treatment.drugs.primary", "+drug@treatment.drugs.primary="]),
    (["treatment=continuous", "treatment.drugs.primary.dose_uM=abc"], ["treatment.drugs.primary.dose_uM", "µM"]),
    (["treatment=continuous", "treatment.drugs.primary.kind=magic"], ["treatment.drugs.primary.kind=magic", "targeted"]),
    (["treatment=continuous", "treatment.drugs.primary.emax=2"], ["treatment.drugs.primary.emax=2", "<= 1"]),
    (["treatment=continuous", "treatment.drugs.primary.schedule.stop_h=0"], ["schedule.stop_h=0"]),
    (["treatment=adaptive", "treatment.drugs.primary.schedule.on_above=0.1"], ["on_above=0.1", "off_below"]),
    (["tumour.cycle_speed.foo=1"], ["tumour.cycle_speed.foo"]),
    (["tumour.o2_necrosis_max_mmHg=9"], ["tumour.o2_necrosis_max_mmHg=9"]),
    (["tumour.initial.primed_fraction=0.8", "tumour.initial.resistant_fraction=0.5"], ["primed_fraction", "exceed 1"]),
    (["tumour.signals.hypoxic_mmHg=1"], ["tumour.signals.hypoxic_mmHg=1"]),
    (["fields.oxygen.diffusion_um2_per_min=nan"], ["fields.oxygen.diffusion_um2_per_min=nan", "finite"]),
    (["host.age=ancient"], ["host.age=ancient"]),
    (["seed"], ["cannot parse 'seed'", "KEY=VALUE"]),
    # Sweeps (issue 12): print-only flags with -m, several values without -m, a value invalid in
    # every combination (refused whole), every combination invalid.
    (["-m", "seed=0,1", "--cfg", "hydra"], ["--cfg", "-m"]),
    (["-m", "--info", "defaults", "seed=0,1"], ["--info", "-m"]),
    (["seed=0,1"], ["seed=0,1", "add -m"]),
    (["-m", "seed=-1,2,3", "tumour.cycle_h=12,24"], ["seed=-1", ">= 0"]),
    (["-m", "tumour.initial.primed_fraction=0.7,0.8", "tumour.initial.resistant_fraction=0.5,0.6"],
     ["primed_fraction=0.7", "exceed 1"]),
    (["-m", "seed=range(0,10,0)"], ["range", "STEP not 0"]),
    (["-m", "seed=range(5,5)"], ["seed=range(5,5)", "no values"]),
    (["seed=[1"], ["cannot parse"]),
    (["--cfg", "nope"], ["--cfg", "job"]),
    (["--bogus"], ["unrecognized arguments: --bogus"]),
    (["-m", "hydra/launcher=nope", "seed=0,1"], ["hydra/launcher=nope", "joblib"]),
    (["--config-dir=/nonexistent/conf", "treatment=mine"], ["--config-dir=/nonexistent/conf", "no such folder"]),
    (["-cd", "/nonexistent/conf"], ["/nonexistent/conf"]),
    (["hydra.searchpath=[file:///nonexistent/conf]"], ["/nonexistent/conf", "does not exist"]),
    (["hydra.searchpath=notalist"], ["hydra.searchpath", "must be a list"]),
    (["grid.shape=[100000,100000]"], ["grid.shape=[100000, 100000]", "memory", "TiB", "smaller grid.shape"]),
    (["grid=3d", "grid.shape=[5000,5000,5000]"], ["grid.shape=[5000, 5000, 5000]", "memory"]),
    (["grid.shape=[2000,2000]", "replicates=100000"], ["replicates=100000", "memory"]),
    (["resume=nonexistent_run"], ["resume=nonexistent_run", "no such run directory"]),
]


@pytest.mark.parametrize("args,needles", CONFIG_CASES, ids=[" ".join(a) for a, _ in CONFIG_CASES])
def test_bad_command_line(tmp_path, monkeypatch, capsys, args, needles):
    assert_refused(args, tmp_path, monkeypatch, capsys, needles)


def test_bad_user_config_path_env(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LATTICE_CONFIG_PATH", str(tmp_path / "missing"))
    assert_refused(["treatment=mine"], tmp_path, monkeypatch, capsys, ["missing", "does not exist"])


def test_huge_grid_is_refused_quickly(tmp_path, monkeypatch, capsys):
    """The estimate itself takes milliseconds: a 10¹⁰-voxel grid costs nothing to refuse."""
    import time

    from tests.conftest import build_params

    params = build_params("grid.shape=[100000,100000]")
    t0 = time.perf_counter()
    with pytest.raises(resources.ConfigError, match="memory"):
        resources.check(params, tmp_path / "run")
    assert time.perf_counter() - t0 < 0.05


def test_disk_too_small_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(resources, "free_disk", lambda path: 1000)
    assert_refused([*TINY, "hydra.run.dir=out"], tmp_path, monkeypatch, capsys,
                   ["frames would write", "output.every_h", "hydra.run.dir"])


def test_read_only_run_dir_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "ro").mkdir()
    real = cli.os.access
    monkeypatch.setattr(cli.os, "access", lambda p, mode: False if Path(p).name == "ro" else real(p, mode))
    assert_refused([*TINY, "hydra.run.dir=ro/run"], tmp_path, monkeypatch, capsys,
                   ["ro/run", "cannot write", "choose another hydra.run.dir"])


def test_run_dir_that_is_a_file_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("x")
    assert_refused([*TINY, "hydra.run.dir=afile/run"], tmp_path, monkeypatch, capsys, ["afile", "is a file"])


def test_cupy_without_a_gpu_is_refused_before_writing(tmp_path, monkeypatch, capsys):
    from lattice.backend import cupy_usable

    if cupy_usable()[0]:
        pytest.skip("a CUDA device is usable here")
    assert_refused([*TINY, "backend=cupy", "hydra.run.dir=out"], tmp_path, monkeypatch, capsys, ["backend=cupy"])


# -- an existing run is never touched ---------------------------------------------------------------

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A tiny finished run (2 h), written once by a real ``lattice-run``."""
    root = tmp_path_factory.mktemp("finished")
    proc = subprocess.run([sys.executable, "-m", "lattice.cli", *TINY, "seed=1", f"hydra.run.dir={root / 'run'}"],
                          check=False, cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return root


RUN_CASES = [
    (["seed=2", "hydra.run.dir=run"], ["already holds a run", "resume=", "output.overwrite=true"], 1),
    (["seed=2", "output.dir=run"], ["already holds a run", "output.dir"], 1),
    (["-m", "seed=2,3", "hydra.sweep.dir=."], ["hydra.sweep.dir", "already holds runs"], 1),
    (["resume=run", "duration_h=abc"], ["duration_h=abc", "number of hours"], 2),
    (["resume=run", "duration_h=1"], ["duration_h=1", "shorter than the 2 h", "duration_h >= 2"], 2),
    (["resume=run", "-m"], ["resume=", "-m"], 2),
    (["-m", "resume=run,run"], ["resume=", "-m"], 2),
    (["resume=run", "--cfg", "job"], ["resume=", "--cfg"], 2),
    (["resume=run", "seed=3"], ["cannot change seed"], 2),
    (["resume=run", "nonsense"], ["cannot parse 'nonsense'"], 2),
    (["resume=run/.hydra"], ["resume=run/.hydra", "not a resumable"], 2),
]


@pytest.mark.parametrize("args,needles,code", RUN_CASES, ids=[" ".join(a) for a, _, _ in RUN_CASES])
def test_refused_next_to_an_existing_run(finished_run, monkeypatch, capsys, args, needles, code):
    extra = [] if any(a.startswith("resume=") for a in args) else TINY
    assert_refused([*extra, *args], finished_run, monkeypatch, capsys, needles, code=code)


# -- the resource estimate itself ----------------------------------------------------------------

def test_estimate_counts_what_the_run_holds():
    from tests.conftest import build_params

    plain = resources.estimate(build_params("grid.shape=[100,100]", "duration_h=48", "output.every_h=24"))
    assert plain.voxels == 10_000 and plain.fields == 3 and plain.frames == 3  # 0, 24, 48 h
    treated = resources.estimate(build_params("grid.shape=[100,100]", "treatment=epigenetic_combination"))
    assert treated.fields == 5  # + one field per drug
    lung = resources.estimate(build_params("grid.shape=[100,100]", "organ=lung"))
    assert lung.fields == 7  # + hgf, tgfb, ifng, chemokine with stroma and T cells
    four = resources.estimate(build_params("grid.shape=[100,100]", "replicates=4"))
    assert four.memory_bytes == 4 * resources.estimate(build_params("grid.shape=[100,100]")).memory_bytes
    odd = resources.estimate(build_params("duration_h=30", "output.every_h=24"))
    assert odd.frames == 2  # 0 and 24 h: frames fall on the every_h grid only (a run of 30 h writes [0, 24])
    assert resources.estimate(build_params("duration_h=48", "output.every_h=24", "output.frames=false")).frames == 0


@pytest.mark.parametrize("overrides", [("treatment=continuous",), ("organ=lung", "treatment=continuous")])
def test_memory_estimate_bounds_the_measured_peak(overrides):
    """The calibration holds: the NumPy peak (tracemalloc, first steps) lies between 30 % and
    100 % of the estimate on a lattice of another size than the calibration's."""
    import tracemalloc

    from tests.conftest import build_model

    model = build_model("grid.shape=[120,120]", *overrides)
    tracemalloc.start()
    state = model.initial_state()
    for _ in range(3):
        state = model.step(state)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    est = resources.estimate(model.params).memory_bytes
    assert 0.3 * est <= peak <= est, (peak, est)


def test_long_run_gets_a_warning_not_a_refusal():
    from tests.conftest import build_params

    params = build_params("grid.shape=[500,500]", "duration_h=20000", "output.every_h=1000", "backend=numpy")
    est = resources.check(params)
    assert est.numpy_seconds > resources.WARN_SECONDS
    assert len(est.warnings) == 1 and "20,000 steps of 250,000 voxels" in est.warnings[0]
    assert resources.check(build_params("grid.shape=[50,50]", "duration_h=48")).warnings == []


def test_version_names_the_package(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("dtp-lattice ")
    assert list(tmp_path.iterdir()) == []
