"""Clinical monitoring (lattice.processes.monitoring): the noise model, visits, delay, detection
limit, biopsies, and that monthly noisy monitoring moves the adaptive arm's decisions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lattice import codes
from lattice.observe import observe
from lattice.params import ConfigError
from lattice.processes import monitoring, therapy
from tests.conftest import build_model

ADAPTIVE = ("experiment=competitive_release", "grid.shape=[40,40]", "replicates=2")
MONTHLY = ("treatment.monitoring.kind=psa", "treatment.monitoring.interval_h=720", "treatment.monitoring.cv=0.2")


def run_table(overrides, days):
    model = build_model(*overrides)
    state = model.initial_state()
    rows = [observe(state, model)]
    for _ in range(days):
        state = model.step(state)
        rows.append(observe(state, model))
    return {k: np.stack([r[k] for r in rows], axis=1) for k in rows[0]}, state


def switch_days(on):
    """Days at which the drug flag changes after the first on day (``on``: a table column, row 0
    at t = 0, row d the step that ends on day d)."""
    steps = on[1:].astype(int)  # steps[i]: the step of day i → i + 1
    return np.nonzero(np.diff(steps))[0] + 1


def test_lognormal_noise_has_mean_one_and_the_stated_cv():
    n = 40_000
    f = monitoring.lognormal_factor(seed=3, replicates=n, step=7, cv=0.2)
    se = 0.2 / math.sqrt(n)
    assert abs(f.mean() - 1.0) < 4 * se
    assert abs(f.std() / f.mean() - 0.2) < 0.01
    assert (f > 0).all()
    np.testing.assert_array_equal(f, monitoring.lognormal_factor(3, n, 7, 0.2))  # a pure function of the counter
    assert not np.array_equal(f, monitoring.lognormal_factor(3, n, 8, 0.2))
    np.testing.assert_array_equal(monitoring.lognormal_factor(3, 5, 7, 0.0), np.ones(5))


def test_biopsy_is_binomial_around_the_true_dtp_fraction():
    cells = np.full((4000, 10, 10), codes.SENSITIVE, dtype=np.uint8)
    cells[:, :3, :] = codes.DTP  # true fraction 0.3
    cells[:, 9, :] = codes.EMPTY  # not tumour: excluded
    p = 30 / 90
    n = 50
    frac = monitoring.biopsy_fraction(cells, seed=1, step=4, n=n)
    assert abs(frac.mean() - p) < 4 * math.sqrt(p * (1 - p) / n / frac.size)
    assert abs(frac.var() - p * (1 - p) / n) < 0.15 * p * (1 - p) / n
    empty = np.zeros((2, 4, 4), dtype=np.uint8)
    assert np.isnan(monitoring.biopsy_fraction(empty, 1, 4, n)).all()


def test_a_biopsy_region_sees_only_its_part_of_the_tumour():
    cells = np.full((400, 20, 20), codes.SENSITIVE, dtype=np.uint8)
    cells[:, :, :10] = codes.DTP  # left half all DTP, right half all S
    frac = monitoring.biopsy_fraction(cells, seed=2, step=3, n=20, radius_um=30.0, spacing_um=20.0)
    # A 30 µm core (1.5 voxels) around a random cell: mostly one half, so fractions pile up near 0 and 1,
    # unlike a whole-tumour biopsy (binomial around 0.5).
    assert ((frac < 0.25) | (frac > 0.75)).mean() > 0.8
    assert 0.35 < frac.mean() < 0.65
    whole = monitoring.biopsy_fraction(cells, seed=2, step=3, n=20)
    assert ((whole < 0.25) | (whole > 0.75)).mean() < 0.05


def test_results_arrive_after_the_delay_and_only_at_visits():
    over = (*ADAPTIVE, "treatment.monitoring.kind=psa", "treatment.monitoring.interval_h=240",
            "treatment.monitoring.delay_h=72", "treatment.monitoring.detection_limit=1e9")
    table, _ = run_table(over, 30)
    m = table["measured_burden"][0]
    assert np.isnan(m[:3]).all(), "the t = 0 sample is reported 3 days later"
    # Below the detection limit every result reads 0; reported on days 3, 13, 23.
    assert (m[3:] == 0).all()
    exact, _ = run_table((*ADAPTIVE, "treatment.monitoring.kind=psa", "treatment.monitoring.interval_h=240"), 30)
    m = exact["measured_burden"][0]
    truth = exact["tumour_total"][0]
    visits = [0, 10, 20, 30]
    np.testing.assert_array_equal(m[visits], truth[visits])  # cv 0: the exact burden at visits
    for day in range(30):
        last = max(v for v in visits if v <= day)
        assert m[day] == truth[last]


def test_monthly_noisy_monitoring_delays_the_adaptive_switches_deterministically():
    days = 130
    exact, _ = run_table(ADAPTIVE, days)
    monthly, _ = run_table((*ADAPTIVE, *MONTHLY), days)
    again, _ = run_table((*ADAPTIVE, *MONTHLY), days)
    for k in monthly:
        np.testing.assert_array_equal(monthly[k], again[k], err_msg=k)  # same seed, same series
    for r in range(2):
        daily_sw, monthly_sw = switch_days(exact["on_primary"][r]), switch_days(monthly["on_primary"][r])
        assert len(daily_sw) and len(monthly_sw)
        assert monthly_sw[0] > daily_sw[0], (r, daily_sw, monthly_sw)
        assert (monthly_sw % 30 == 0).all(), "decisions change only the day after a monthly result"
        assert not np.array_equal(exact["on_primary"][r], monthly["on_primary"][r])
    assert "measured_burden" in monthly and "measured_burden" not in exact


def test_exact_monitoring_adds_no_state():
    model = build_model(*ADAPTIVE)
    state = model.initial_state()
    assert not state.has_monitoring
    assert not any(k.startswith("measured") for k in state.arrays())


@pytest.mark.parametrize("over,key", [
    (("treatment.monitoring.interval_h=30",), "interval_h"),
    (("treatment.monitoring.interval_h=720", "treatment.monitoring.delay_h=720"), "delay_h"),
])
def test_bad_monitoring_times_name_the_key(over, key):
    """Refused when the parameters are validated, before a model (or any file) exists."""
    with pytest.raises(ConfigError, match=f"treatment.monitoring.{key}"):
        build_model(*ADAPTIVE, "treatment.monitoring.kind=psa", *over)


def test_sequential_schedules_switch_at_the_reported_progression_not_the_true_one():
    model = build_model("grid.shape=[16,16]", "treatment=sequential", "treatment.monitoring.kind=psa",
                        "replicates=2")
    state = model.initial_state().replace(step=5)
    xp = model.xp
    # Replicate 0: truly progressed, not yet reported; replicate 1: reported, not truly progressed.
    state = state.replace(progression_h=xp.asarray([2.0, -1.0], dtype=xp.float32),
                          measured_progression_h=xp.asarray([-1.0, 2.0]))
    on = therapy.update(state, model).drug_on
    primary, second = (model.drug_names.index(n) for n in ("primary", "second_line"))
    assert on[0, primary] == 1 and on[0, second] == 0, "the clinic has not seen replicate 0 progress"
    assert on[1, primary] == 0 and on[1, second] == 1, "replicate 1 switched on the reported progression"
