"""Tumour rules of the first model: stochastic rates against 1 − exp(−kΔt), cycle speed, clearance,
and a 2D colony whose radius grows linearly in time (Brú et al. 2003) with ample nutrients."""

import math

import numpy as np
import pytest

from lattice import codes
from lattice.processes import cycle, death
from tests.conftest import build_model

NO_FIELDS = ("fields.oxygen.enabled=false", "fields.glucose.enabled=false", "organ.vessels.pattern=none")


def full_tumour(model):
    state = model.initial_state()
    cells = np.full_like(state.cells, codes.SENSITIVE)
    return state.replace(cells=cells, clock=np.zeros_like(state.clock))


def assert_binomial(observed: int, n: int, p: float, z: float = 4.5):
    """Observed count within z binomial standard deviations of n·p (false alarm < 1e-5)."""
    sd = math.sqrt(n * p * (1 - p))
    assert abs(observed - n * p) < z * sd, f"{observed} vs expected {n * p:.1f} ± {sd:.1f}"


@pytest.mark.parametrize("o2,expected_rate", [(0.0, 1 / 6), (2.5, 1 / 6), (3.75, 0.5 / 6), (5.0, 0.0), (20.0, 0.0)])
def test_necrosis_probability_follows_oxygen_ramp(o2, expected_rate):
    """Per-step necrosis fraction = ramp(pO2) × (1 − exp(−k_max·Δt)), k_max = 1/6 h⁻¹ (PhysiCell)."""
    model = build_model("grid.shape=[120,120]", *NO_FIELDS, f"fields.oxygen.initial_value={o2}")
    state = full_tumour(model)
    after = death.update(state, model)
    n = state.cells.size
    p_max = -math.expm1(-1 / 6 * 1.0)
    p = p_max * (expected_rate / (1 / 6))
    observed = int((after.cells == codes.NECROTIC).sum())
    if p == 0:
        assert observed == 0
    else:
        assert_binomial(observed, n, p)


def test_starvation_kills_at_the_anoxic_rate():
    model = build_model("grid.shape=[120,120]", *NO_FIELDS, "fields.glucose.initial_value=0.0")
    after = death.update(full_tumour(model), model)
    assert_binomial(int((after.cells == codes.NECROTIC).sum()), 120 * 120, -math.expm1(-1 / 6))


@pytest.mark.parametrize("rate,step_h", [(0.05, 1.0), (0.2, 2.0), (0.01, 24.0)])
def test_apoptosis_fraction_per_step_matches_hazard(rate, step_h):
    model = build_model("grid.shape=[150,150]", *NO_FIELDS, f"tumour.apoptosis_rate_per_h={rate}",
                        f"step_h={step_h}", f"duration_h={step_h * 10}", f"output.every_h={step_h}")
    state = full_tumour(model)
    observed = 0
    for k in range(3):  # three independent steps (different counters)
        observed += int((death.update(state.replace(step=k), model).cells == codes.DEAD).sum())
    assert_binomial(observed, 3 * state.cells.size, -math.expm1(-rate * step_h))


def test_dead_cells_are_cleared_after_the_delay():
    """Apoptotic cells leave their voxel in the first step that starts with them dead for at
    least dead_clearance_h (8.6 h): dead at t = 0, still there at t = 9 h, gone at t = 10 h."""
    model = build_model("grid.shape=[10,10]", *NO_FIELDS)
    state = model.initial_state()
    cells = np.full_like(state.cells, codes.DEAD)
    state = state.replace(cells=cells, timer_h=np.zeros_like(state.timer_h))
    history = []
    for _ in range(12):
        state = model.step(state)
        history.append(int((state.cells == codes.DEAD).sum()))
    assert history[:9] == [100] * 9 and history[9] == 0, history


@pytest.mark.parametrize("o2,factor", [(38.0, 1.0), (21.5, 0.5), (5.0, 0.0), (2.0, 0.0), (60.0, 1.0)])
def test_cycle_speed_scales_with_oxygen(o2, factor):
    """Clock advance per step = Δt / cycle_h × clip((pO2 − 5)/(38 − 5), 0, 1)."""
    model = build_model("grid.shape=[6,6]", *NO_FIELDS, f"fields.oxygen.initial_value={o2}")
    state = full_tumour(model)
    after, intents = cycle.update(state, model)
    np.testing.assert_allclose(after.clock, factor / 18.0, rtol=1e-6)
    assert not intents.any()


def test_colony_radius_grows_linearly_with_ample_nutrients():
    """2D colony with oxygen everywhere at 38 mmHg: only rim cells find room, so the radius
    grows linearly (Brú 2003), not exponentially. Tolerance: the front speed over the second
    half of the run is within 20 % of the first half (exponential growth would give ≥ 2×), and
    a straight line explains > 99 % of the variance of r(t)."""
    model = build_model("grid.shape=[110,110]", *NO_FIELDS, "tumour.initial.radius_um=60")
    state = model.initial_state()
    times, radii = [], []
    for k in range(1, 433):
        state = model.step(state)
        if k % 24 == 0 and k >= 72:
            n = int(codes.is_live_tumour(state.cells).sum())
            times.append(k)
            radii.append(math.sqrt(n / math.pi))
    t, r = np.array(times, float), np.array(radii)
    half = len(t) // 2
    v1 = np.polyfit(t[:half + 1], r[:half + 1], 1)[0]
    v2 = np.polyfit(t[half:], r[half:], 1)[0]
    assert abs(v2 / v1 - 1) < 0.2, (v1, v2)
    coef = np.polyfit(t, r, 1)
    r2 = 1 - np.sum((r - np.polyval(coef, t)) ** 2) / np.sum((r - r.mean()) ** 2)
    assert r2 > 0.99
    assert 0.02 < coef[0] < 0.1, f"front speed {coef[0]:.3f} voxels/h"
