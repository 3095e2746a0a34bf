"""The experiment presets reproduce their published behaviour (issue 3 item 4), on small 2D
versions with fixed seeds. Full-size versions: ``lattice-run experiment=<name>`` (README).

Tolerances are stated per test; counts of a few tens of cells carry Poisson noise of ~20 %,
so bounds are set at the published ranges or at ratios well outside that noise.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from lattice.events import compute_events
from lattice.observe import observe
from tests.conftest import build_model

DISH = "grid.shape=[150,150]"  # 150 × 150 dish at 70 % confluence: ~15,700 cells


def trajectory(model, every=24):
    """Rows of observe() every ``every`` steps (row k at t = k·every·step_h), and the final state."""
    state = model.initial_state()
    rows = [observe(state, model)]
    while state.step < model.params.n_steps:
        state = model.step(state)
        if state.step % every == 0:
            rows.append(observe(state, model))
    return rows, state


def col(rows, name):
    return np.array([r[name].sum() for r in rows], dtype=float)


# -- persister assay (Sharma 2010) ------------------------------------------------------------

def test_persister_assay_plateau_dtp_survivors_and_dtep_emergence():
    """Sharma 2010 at 2 µM for 30 days. Asserted: the kill curve falls > 10× over days 0–3 and
    again over days 3–6, then flattens (days 9–12 within 1.5×) at 0.1–1 % survivors on day 9
    (Sharma: ~0.3 %), ≥ 70 % of them DTPs; no DTEPs on day 9; by day 30, 5–50 % of the
    persisters are DTEPs (Sharma: ~20 %; DTEP division switched off here so that the fraction
    counts conversions, not their expansion)."""
    model = build_model("experiment=persister_assay", DISH, "tumour.cycle_speed.dtep=0")
    rows, _ = trajectory(model)
    total = col(rows, "tumour_total")
    surv = total / total[0]
    assert surv[3] < 0.1 and surv[6] < 0.1 * surv[3]
    assert 0.001 <= surv[9] <= 0.01, surv[9]
    assert surv[12] > surv[9] / 1.5
    dtp, dtep = col(rows, "dtp"), col(rows, "dtep")
    assert dtp[9] >= 0.7 * total[9]
    assert dtep[9] <= 0.05 * total[9]
    frac = dtep[30] / (dtp[30] + dtep[30])
    assert 0.05 <= frac <= 0.5, frac
    assert col(rows, "memory_mean")[30] > 0.9 * len(rows[0]["memory_mean"])


def test_epigenetic_inhibitor_cuts_persisters_tenfold():
    """Sharma 2010: HDAC/KDM5 inhibition abolishes the persister plateau. Day-9 survivors with
    the inhibitor ≤ 1/10 of those with the primary drug alone."""
    alone, _ = trajectory(build_model("experiment=persister_assay", DISH, "duration_h=216"))
    combo, _ = trajectory(build_model("experiment=persister_assay", DISH, "duration_h=216",
                                      "treatment=epigenetic_combination"))
    a, c = col(alone, "tumour_total")[-1], col(combo, "tumour_total")[-1]
    assert a >= 10 * max(c, 1), (a, c)


def test_withdrawal_reverts_persisters_and_rechallenge_kills_like_naive():
    """9 days on, 15 days off, 9 days on (Sharma 2010). During the holiday DTPs revert and
    regrow sensitive cells whose memory fades (half-life 2 generations): at re-challenge < 5 %
    of cells are persisters and mean memory < 0.05. The re-challenge kills like the first
    exposure: its survivor fraction is within 3× of the naive one (tens of cells: Poisson)."""
    model = build_model("experiment=persister_assay", DISH, "treatment=rechallenge", "duration_h=792")
    rows, _ = trajectory(model)
    total, pers = col(rows, "tumour_total"), col(rows, "dtp") + col(rows, "dtep")
    naive = total[9] / total[0]
    assert col(rows, "memory_mean")[9] > 0.5
    assert pers[24] < 0.05 * total[24] and col(rows, "memory_mean")[24] < 0.05
    assert total[24] > 100 * total[9]  # regrowth
    again = total[33] / total[24]
    assert naive / 3 <= again <= 3 * naive, (naive, again)


# -- competitive release (Zhang 2017, Strobl 2022) --------------------------------------------

def test_adaptive_therapy_delays_progression_with_less_drug():
    """HAL benchmark, scaled to 50 × 50 (the same ~7.5 initial resistant cells: 0.4 %), 8
    paired seeds (replicates share initial lattices across schedules), 6 years. Asserted: the
    adaptive schedule progresses later than continuous therapy in ≥ 6 of 8 pairs, the median
    time to progression is ≥ 1.2× longer (Zhang 2017: ≥ 27 vs 16.5 months), adaptive gives
    fewer treated days per day to progression, and less cumulative drug by the time continuous
    therapy has progressed; relapses under continuous therapy are ≥ 90 % resistant cells."""
    ttp, dose_rate, dose_at, relapse_r = {}, {}, {}, {}
    for schedule in ("adaptive", "continuous"):
        model = build_model("experiment=competitive_release", f"treatment={schedule}", "grid.shape=[50,50]",
                            "replicates=8", "tumour.initial.resistant_fraction=0.004", "duration_h=52560")
        state = model.initial_state()
        tables = [{} for _ in range(8)]

        def add(s, model=model, tables=tables):
            o = observe(s, model)
            for r, t in enumerate(tables):
                t.setdefault("time_h", []).append(s.step * model.params.step_h)
                for k, v in o.items():
                    t.setdefault(k, []).append(v[r])

        add(state)
        while state.step < model.params.n_steps:
            state = model.step(state)
            add(state)
        ev = [compute_events({k: np.asarray(v) for k, v in t.items()}) for t in tables]
        ttp[schedule] = np.array([e["time_to_progression_h"] for e in ev]) / 24
        dose_rate[schedule] = np.array([e["cumulative_dose_primary_at_progression"] for e in ev]) / ttp[schedule]
        dose_at[schedule] = [np.asarray(t["cumulative_dose_primary"]) for t in tables]
        relapse_r[schedule] = np.array([e["relapse_resistant_fraction"] for e in ev])
    a, c = ttp["adaptive"], ttp["continuous"]
    assert np.isfinite(c).all(), c
    a_f = np.where(np.isfinite(a), a, np.inf)  # no progression in 6 years: counts as later
    assert (a_f > c).sum() >= 6, (a, c)
    assert np.median(a_f) >= 1.2 * np.median(c), (a, c)
    assert np.nanmedian(dose_rate["adaptive"]) < 0.95 * np.median(dose_rate["continuous"])
    for r in range(8):
        day = int(c[r])
        assert dose_at["adaptive"][r][day] < dose_at["continuous"][r][day]
    assert np.all(relapse_r["continuous"] >= 0.9)


# -- Luria–Delbrück fluctuation test ----------------------------------------------------------

def resistant_counts(*overrides):
    model = build_model("experiment=fluctuation_test", *overrides)
    rows, _ = trajectory(model, every=model.params.n_steps)
    return rows[-1]["resistant"].astype(float)


def test_fluctuation_test_distinguishes_preexisting_from_induced_resistance():
    """32 replicate cultures. Pre-existing (mutation at division before the drug): variance/mean
    > 4 (jackpots). Purely induced (R only on exposure): variance/mean < 2 (Poisson would give 1;
    a few induced cells divide before the count). Means are comparable (10–50)."""
    pre = resistant_counts()
    ind = resistant_counts("tumour.mutation.per_division=0", "tumour.mutation.induced_per_h=6e-4")
    for counts in (pre, ind):
        assert 10 <= counts.mean() <= 50, counts
    fano_pre = pre.var(ddof=1) / pre.mean()
    fano_ind = ind.var(ddof=1) / ind.mean()
    assert fano_pre > 4 and fano_ind < 2, (fano_pre, fano_ind)


# -- the first run (make run) ------------------------------------------------------------------

@pytest.mark.slow
def test_dtp_relapse_tells_the_story():
    """experiment=dtp_relapse, the scenario `make run` shows (about half a minute here): therapy
    kills > 90 % of the tumour; persisters (DTP + DTEP) are at least half of the cells at the
    nadir; they survive the 5-day course (some are still there when the drug is stopped and at
    the nadir, days later); the tumour then relapses past 1.2 × its size at therapy start within the
    run, and the relapse is mostly sensitive cells (persisters revert, no resistance mutation
    needed). Counts of tens of cells: the bounds are far from the seed-0 values (nadir 19 cells,
    89 % persisters, relapse at 620 h)."""
    model = build_model("experiment=dtp_relapse")
    rows, _ = trajectory(model, every=1)
    total, pers = col(rows, "tumour_total"), col(rows, "dtp") + col(rows, "dtep")
    nadir = int(np.argmin(total))
    assert total[nadir] < 0.1 * total[0]
    assert pers[nadir] >= 0.5 * total[nadir] and pers[nadir] >= 5
    assert pers[120] > 0, "persisters survive the course"
    # Therapy starts at t = 0: relapse is the first step after the nadir above 1.2 × the start.
    above = np.flatnonzero(total[nadir:] > model.params.treatment.progression_factor * total[0])
    assert above.size and above[0] + nadir < len(rows) - 1, "relapse within the run"
    assert col(rows, "sensitive")[-1] > 0.8 * total[-1]
    assert col(rows, "resistant")[-1] == 0


# -- the presets run by name from the command line --------------------------------------------

def lattice_run(args, cwd: Path):
    return subprocess.run([sys.executable, "-m", "lattice.cli", *args, "output.progress=false", "backend=numpy"],
                          cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def test_presets_run_by_name_and_the_adaptive_sweep(tmp_path):
    """`lattice-run experiment=<name>` for each preset (shortened), and the documented sweep
    `-m experiment=competitive_release treatment=adaptive,continuous seed=range(2)` (tiny)."""
    for name, extra in (("persister_assay", ["grid.shape=[30,30]", "duration_h=24", "output.every_h=12"]),
                        ("fluctuation_test", ["replicates=2", "grid.shape=[16,16]", "duration_h=24",
                                              "output.every_h=12", "treatment.drugs.primary.schedule.start_h=12"]),
                        ("competitive_release", ["grid.shape=[20,20]", "duration_h=2400", "output.every_h=240"])):
        run = tmp_path / name
        proc = lattice_run([f"experiment={name}", *extra, f"hydra.run.dir={run}"], tmp_path)
        assert proc.returncode == 0, proc.stderr
        first = run / "replicate_000" if (run / "replicate_000").exists() else run
        with h5py.File(first / "summary.h5") as f:
            assert "on_primary" in f["timeseries"] and "progression_time_h" in f["events"].attrs
    sweep = tmp_path / "sweep"
    proc = lattice_run(["-m", "experiment=competitive_release", "treatment=adaptive,continuous", "seed=range(2)",
                        "grid.shape=[20,20]", "duration_h=2400", "output.every_h=480",
                        f"hydra.sweep.dir={sweep}"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    runs = sorted(p for p in sweep.iterdir() if (p / "summary.h5").exists())
    assert len(runs) == 4
    names = set()
    for run in runs:
        with h5py.File(run / "summary.h5") as f:
            names.add(f.attrs["config"].split("treatment:")[1].split("name:")[1].split()[0])
    assert names == {"adaptive", "continuous"}
