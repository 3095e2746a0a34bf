"""Therapy (issue 3 items 2–3): pharmacokinetics, schedules, delivery, events, outputs, resume.

PK values are checked against the closed-form one-compartment solutions (float32 vs float64:
rtol 1e-4); schedules step by step against their definitions; a resumed run with therapy is
compared bit for bit with the uninterrupted one (through the CLI, like tests/test_cli.py).
"""

from __future__ import annotations

import math
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

from lattice import codes
from lattice.events import compute_events
from lattice.observe import observe
from lattice.params import ConfigError, DrugParams, RunParams, check
from lattice.processes import diffusion, therapy
from tests.conftest import build_model, build_params

NO_FIELDS = ("fields.oxygen.enabled=false", "fields.glucose.enabled=false", "organ.vessels.pattern=none")


def run_steps(model, n, state=None):
    state = model.initial_state() if state is None else state
    rows = []
    for _ in range(n):
        state = model.step(state)
        rows.append(observe(state, model))
    return state, rows


def column(rows, name, r=0):
    return np.array([row[name][r] for row in rows], dtype=float)


# -- pharmacokinetics -------------------------------------------------------------------------

def test_bolus_plasma_is_the_superposition_of_doses():
    """Daily 1 µM boluses, t½ 36.2 h (erlotinib, Lu 2006): the step-mean plasma level equals
    Σ_doses dose·e^(−k(t − t_j))·(1 − e^(−kΔt))/(kΔt), and accumulation approaches
    1/(1 − e^(−k·24 h)) ≈ 2.7 (Cmax ≈ 2.7 µM, Lu 2006: ≈ 2.5 µM)."""
    model = build_model("grid.shape=[8,8]", *NO_FIELDS, "treatment=continuous")
    _, rows = run_steps(model, 240)
    k = math.log(2) / 36.2
    mean = column(rows, "plasma_primary")
    expected = []
    for step in range(240):
        doses = [24 * j for j in range(step // 24 + 1)]
        expected.append(sum(math.exp(-k * (step - t)) for t in doses) * -math.expm1(-k) / k)
    np.testing.assert_allclose(mean, expected, rtol=1e-4)
    assert column(rows, "cumulative_dose_primary")[-1] == 10
    peak_ss = 1 / -math.expm1(-k * 24)
    assert 2.4 < peak_ss < 2.8


def test_infusion_approaches_dose_over_k_interval():
    model = build_model("grid.shape=[8,8]", *NO_FIELDS, "treatment=continuous", "treatment.drugs.primary.pk=infusion")
    state, rows = run_steps(model, 200)
    k = math.log(2) / 36.2
    css = 1.0 / (k * 24)
    np.testing.assert_allclose(state.plasma[0, 0], css * -math.expm1(-k * 200), rtol=1e-4)
    np.testing.assert_allclose(column(rows, "cumulative_dose_primary")[-1], 200 / 24, rtol=1e-5)


def test_bath_sets_every_voxel_to_the_dose_while_on():
    model = build_model("grid.shape=[10,10]", *NO_FIELDS, "treatment=intermittent", "treatment.delivery=bath",
                        "treatment.drugs.primary.dose_uM=2.0", "treatment.drugs.primary.schedule.on_h=3",
                        "treatment.drugs.primary.schedule.off_h=2")
    state = model.initial_state()
    ch = model.registry.index("drug_primary")
    levels = []
    for _ in range(10):
        state = model.step(state)
        f = state.fields[:, ch]
        assert np.all(f == f.flat[0])
        levels.append(float(f.flat[0]))
    assert levels == [2.0, 2.0, 2.0, 0.0, 0.0] * 2


# -- schedules --------------------------------------------------------------------------------

def schedule(*overrides, kind="intermittent"):
    params = build_params("grid.shape=[8,8]", *NO_FIELDS, f"treatment={kind}", *overrides)
    return params.treatment.drugs["primary"].schedule


def on_at(sch, t, prev_on=False, burden=100, baseline=100, progression=-1.0, R=1):
    arr = lambda v, dt: np.full(R, v, dtype=dt)
    out = therapy.schedule_on(sch, t, 1.0, arr(prev_on, bool), arr(burden, np.int64), arr(baseline, np.int64),
                              arr(progression, np.float32), np)
    return bool(out[0])


def test_continuous_and_intermittent_windows():
    sch = schedule("treatment.drugs.primary.schedule.start_h=10", "treatment.drugs.primary.schedule.stop_h=50",
                   kind="continuous")
    assert [on_at(sch, t) for t in (0, 9, 10, 49, 50, 80)] == [False, False, True, True, False, False]
    sch = schedule("treatment.drugs.primary.schedule.on_h=24", "treatment.drugs.primary.schedule.off_h=48",
                   "treatment.drugs.primary.schedule.start_h=5")
    on = [on_at(sch, t) for t in range(200)]
    expected = [5 <= t and (t - 5) % 72 < 24 for t in range(200)]
    assert on == expected


def test_adaptive_hysteresis_zhang_2017():
    """Off when the burden falls below 50 % of baseline, on again when it reaches the baseline."""
    sch = schedule(kind="adaptive")
    assert on_at(sch, 0, prev_on=False, burden=100)            # starts treating at baseline
    assert on_at(sch, 5, prev_on=True, burden=51)              # keeps treating above 50 %
    assert not on_at(sch, 6, prev_on=True, burden=49)          # stops below 50 %
    assert not on_at(sch, 7, prev_on=False, burden=80)         # holiday while below baseline
    assert on_at(sch, 8, prev_on=False, burden=100)            # resumes at baseline
    assert not on_at(sch, 9, prev_on=False, burden=100, baseline=-1)  # never before therapy start


def test_sequential_switches_at_each_replicates_progression():
    params = build_params("grid.shape=[8,8]", *NO_FIELDS, "treatment=sequential")
    first = params.treatment.drugs["primary"].schedule
    second = params.treatment.drugs["second_line"].schedule
    R = 2
    prog = np.array([-1.0, 30.0], np.float32)
    args = (np.zeros(R, bool), np.full(R, 100, np.int64), np.full(R, 100, np.int64), prog, np)
    assert therapy.schedule_on(first, 40.0, 1.0, *args).tolist() == [True, False]
    assert therapy.schedule_on(second, 40.0, 1.0, *args).tolist() == [False, True]


def test_adaptive_decisions_read_the_previous_steps_burden_in_a_run():
    """In a whole run, each step's on/off follows the rule applied to the burden measured at the
    end of the previous step (HAL benchmark model, 4 replicates decide independently)."""
    model = build_model("experiment=competitive_release", "grid.shape=[30,30]", "replicates=4",
                        "tumour.initial.resistant_fraction=0.01", "duration_h=14400")
    sch = model.params.treatment.drugs["primary"].schedule
    state = model.initial_state()
    baseline = state.burden.copy()
    prev_on = np.zeros(4, bool)
    switches = 0
    for _ in range(300):
        burden_before = state.burden.copy()
        state = model.step(state)
        on = state.drug_on[:, 0] > 0
        expected = np.where(prev_on, burden_before >= sch.off_below * baseline, burden_before >= sch.on_above * baseline)
        np.testing.assert_array_equal(on, expected)
        switches += int((on != prev_on).sum())
        prev_on = on
    np.testing.assert_array_equal(state.baseline, baseline)
    assert switches > 4  # the holidays happen


# -- delivery ---------------------------------------------------------------------------------

def test_vessels_deliver_plasma_times_permeability_per_replicate():
    """Drug enters only at vessels, scales linearly with each replicate's plasma level, and
    falls off with distance from the vessel."""
    model = build_model("grid.shape=[31,31]", "replicates=2", "organ.vessels.pattern=single",
                        "treatment=continuous", "treatment.drugs.primary.pk=constant", "tumour.initial.shape=fill",
                        "tumour.initial.primed_fraction=0")
    state = model.initial_state()
    state = state.replace(exposure=np.array([[1.0], [2.0]], np.float32))
    after = diffusion.update(state, model)
    f = after.fields[:, model.registry.index("drug_primary")]
    np.testing.assert_allclose(f[1], 2 * f[0], rtol=1e-5)
    assert f[0, 15, 15] > f[0, 15, 10] > f[0, 15, 0] > 0
    none = diffusion.update(state.replace(exposure=np.zeros((2, 1), np.float32)), model)
    assert np.all(none.fields[:, model.registry.index("drug_primary")] == 0)


# -- outputs and events -----------------------------------------------------------------------

def test_summary_columns_with_therapy():
    model = build_model("grid.shape=[12,12]", *NO_FIELDS, "treatment=epigenetic_combination")
    _, rows = run_steps(model, 3)
    for drug in ("primary", "hdaci"):
        for prefix in ("plasma_", "on_", "cumulative_dose_"):
            assert f"{prefix}{drug}" in rows[-1]
    assert {"baseline_burden", "progression_threshold", "memory_mean"} <= set(rows[-1])
    assert model.registry.names[-2:] == ("drug_primary", "drug_hdaci")


def test_events_nadir_progression_and_relapse_composition():
    t = np.arange(8, dtype=float) * 24
    ts = {
        "time_h": t,
        "tumour_total": np.array([100, 100, 60, 40, 50, 110, 130, 150]),
        "sensitive": np.array([100, 100, 50, 20, 20, 30, 30, 30]),
        "dtp": np.array([0, 0, 10, 20, 10, 0, 0, 0]),
        "resistant": np.array([0, 0, 0, 0, 20, 80, 100, 120]),
        "baseline_burden": np.array([np.nan, 100, 100, 100, 100, 100, 100, 100]),
        "progression_threshold": np.array([np.nan, 120, 120, 120, 120, 120, 120, 120]),
        "cumulative_dose_primary": np.arange(8, dtype=float),
    }
    ev = compute_events(ts)
    assert ev["therapy_start_h"] == 0 and ev["baseline_burden"] == 100
    assert ev["nadir_time_h"] == 72 and ev["nadir_burden"] == 40 and ev["dtp_fraction_at_nadir"] == 0.5
    assert ev["progression_time_h"] == 144 and ev["time_to_progression_h"] == 144
    assert ev["relapse_resistant_fraction"] == pytest.approx(100 / 130)
    assert ev["cumulative_dose_primary_at_progression"] == 6 and ev["cumulative_dose_primary"] == 7
    # Untreated (no baseline column): a nadir, but no therapy start and so no progression.
    untreated = compute_events({"time_h": t[:3], "tumour_total": np.array([10, 11, 13])})
    assert untreated["nadir_time_h"] == 0 and untreated["nadir_burden"] == 10
    assert math.isnan(untreated["progression_time_h"]) and math.isnan(untreated["relapse_dtp_fraction"])


def test_progression_is_tracked_in_state():
    """State.progression_h marks the first step whose burden exceeds factor × baseline."""
    model = build_model("grid.shape=[40,40]", *NO_FIELDS, "tumour.initial.radius_um=100", "treatment=adaptive",
                        "treatment.drugs.primary.schedule.start_h=0", "treatment.drugs.primary.schedule.on_above=100",
                        "treatment.progression_factor=1.1")
    state = model.initial_state()
    base = int(state.burden[0])
    while state.progression_h[0] < 0:
        state = model.step(state)
        assert state.step < 200
    assert state.burden[0] > 1.1 * base and state.progression_h[0] == state.step * 1.0


# -- config -----------------------------------------------------------------------------------

def test_every_treatment_preset_composes_and_validates():
    root = files("lattice.conf") / "treatment"
    names = sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))
    assert {"none", "continuous", "intermittent", "adaptive", "sequential"} <= set(names)
    for name in names:
        params = build_params(f"treatment={name}")
        assert params.treatment.name == name


@pytest.mark.parametrize("override,needle", [
    ("treatment.drugs.primary.schedule.on_above=0.2", "on_above"),
    ("treatment.drugs.primary.kind=magic", "treatment.drugs.primary.kind=magic"),
    ("treatment.drugs.primary.dose_uM=-1", "treatment.drugs.primary.dose_uM=-1"),
])
def test_bad_treatment_config_names_the_key(override, needle):
    with pytest.raises(ConfigError, match=needle):
        build_params("treatment=adaptive", override)


def test_drug_names_must_name_a_field():
    params = RunParams()
    params.treatment.drugs = {"bad-name": DrugParams()}
    with pytest.raises(ConfigError, match="drug name"):
        check(params)


def test_bad_drug_value_on_the_command_line_is_one_line(tmp_path):
    proc = lattice_run(["treatment=continuous", "treatment.drugs.primary.dose_uM=abc"], tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "treatment.drugs.primary.dose_uM" in lines[0]


# -- resume with therapy ----------------------------------------------------------------------

def lattice_run(args, cwd: Path):
    return subprocess.run([sys.executable, "-m", "lattice.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.parametrize("case", [
    ["treatment=intermittent", "treatment.drugs.primary.schedule.on_h=5", "treatment.drugs.primary.schedule.off_h=3",
     "grid.shape=[24,24]", "tumour.initial.radius_um=80", "duration_h=16", "output.every_h=4", "step_h=1"],
    ["experiment=competitive_release", "grid.shape=[20,20]", "tumour.initial.resistant_fraction=0.02",
     "duration_h=9600", "output.every_h=960"],
])
def test_resume_with_therapy_equals_uninterrupted(tmp_path, case):
    """Cut a treated run at its second frame and resume: frames, table and events are exactly
    those of the uninterrupted run (therapy state: plasma, schedule, burden, baseline)."""
    common = [*case, "output.progress=false", "backend=numpy"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert lattice_run([*common, f"hydra.run.dir={full}"], tmp_path).returncode == 0
    duration = next(a for a in case if a.startswith("duration_h")).split("=")[1]
    every = next(a for a in case if a.startswith("output.every_h")).split("=")[1]
    short = [a for a in common if not a.startswith("duration_h")] + [f"duration_h={2 * float(every)}"]
    assert lattice_run([*short, f"hydra.run.dir={part}"], tmp_path).returncode == 0
    proc = lattice_run([f"resume={part}", f"duration_h={duration}"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    za, zb = zarr.open_group(str(full / "run.zarr")), zarr.open_group(str(part / "run.zarr"))
    for name in ("0", "labels/cells/0"):
        np.testing.assert_array_equal(za[name][...], zb[name][...])
    with h5py.File(full / "summary.h5") as fa, h5py.File(part / "summary.h5") as fb:
        assert set(fa["timeseries"]) == set(fb["timeseries"])
        assert "on_primary" in fa["timeseries"]
        for k in fa["timeseries"]:
            np.testing.assert_array_equal(fa["timeseries"][k][()], fb["timeseries"][k][()])
        assert dict(fa["events"].attrs).keys() == dict(fb["events"].attrs).keys()
    assert codes.DTP == 3  # label contract unchanged
