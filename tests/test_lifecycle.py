"""The DTP life cycle, one rule at a time (issue 3 items 1 and 5).

Each stochastic rule is checked on a uniform lattice (every voxel the same state, fields held
constant): the observed fraction of cells taking an outcome in one step matches
(1 − e^(−K·Δt))·k/K — with a single active hazard simply 1 − e^(−k·Δt) — within 4.5 binomial
standard deviations (false alarm < 1e-5 per check). Deterministic rules (memory, cycle speed)
are checked against their closed forms.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lattice import codes, pmath
from lattice.processes import cycle, drugs, mutation, therapy, transitions
from tests.conftest import build_model

S, P, D, E, R = codes.SENSITIVE, codes.PRIMED, codes.DTP, codes.DTEP, codes.RESISTANT
NO_FIELDS = ("fields.oxygen.enabled=false", "fields.glucose.enabled=false", "fields.death_signal.enabled=false",
             "organ.vessels.pattern=none")
#: Only the rule under test is switched on.
QUIET = ("tumour.switching.to_primed_per_h=0", "tumour.switching.to_sensitive_per_h=0",
         "tumour.entry.sensitive_per_h=0", "tumour.entry.primed_per_h=0", "tumour.dtep.max_per_h=0",
         "tumour.reversion.dtp_per_h=0", "tumour.reversion.dtep_per_h=0", "tumour.mutation.per_division=0")
SHAPE = "grid.shape=[150,150]"
N_STEPS = 3


def assert_binomial(observed: int, n: int, p: float, z: float = 4.5):
    """Observed count within z binomial standard deviations of n·p."""
    sd = math.sqrt(max(n * p * (1 - p), 1e-12))
    assert abs(observed - n * p) < z * sd + 1e-9, f"{observed} vs expected {n * p:.1f} ± {sd:.1f}"


def bath_model(*overrides, dose=2.0):
    """A dish with the primary drug (erlotinib-like) at ``dose`` µM everywhere."""
    return build_model(SHAPE, *NO_FIELDS, "treatment=continuous", "treatment.delivery=bath",
                       f"treatment.drugs.primary.dose_uM={dose}", *overrides)


def uniform_state(model, code, clock=0.5, memory=0.0, timer=0.0):
    """Every voxel holds a cell in state ``code``; therapy applied for step 0 (bath levels)."""
    state = model.initial_state()
    shape = state.cells.shape
    state = state.replace(
        cells=np.full(shape, code, np.uint8), clock=np.full(shape, clock, np.float32),
        memory=np.full(shape, memory, np.float32), timer_h=np.full(shape, timer, np.float32),
    )
    return therapy.update(state, model)


def fate_counts(model, state, target):
    """Cells that took outcome ``target`` in one step, summed over N_STEPS independent steps."""
    total = 0
    for k in range(N_STEPS):
        s = state.replace(step=k)
        fx = drugs.effects(s, model)
        after = transitions.update(s, model, fx)
        total += int((after.cells == target).sum()) - int((s.cells == target).sum())
    return total, N_STEPS * state.cells.size


def step_p(k):
    return -math.expm1(-k)


def hill(c, ec50, n):
    return c**n / (c**n + ec50**n)


# -- S ⇄ P ------------------------------------------------------------------------------------

@pytest.mark.parametrize("code,target,key", [(S, P, "to_primed_per_h"), (P, S, "to_sensitive_per_h")])
def test_switching_fraction_per_step(code, target, key):
    model = build_model(SHAPE, *NO_FIELDS, *QUIET, f"tumour.switching.{key}=0.05")
    observed, n = fate_counts(model, uniform_state(model, code), target)
    assert_binomial(observed, n, step_p(0.05))


def test_default_stationary_primed_fraction_is_about_one_in_a_thousand():
    sw = build_model("grid.shape=[8,8]").params.tumour.switching
    frac = sw.to_primed_per_h / (sw.to_primed_per_h + sw.to_sensitive_per_h)
    assert 1 / 2000 <= frac <= 1 / 500


# -- drug death and persister entry -----------------------------------------------------------

@pytest.mark.parametrize("dose", [0.02, 0.05, 2.0])
def test_drug_kill_hazard_follows_hill_of_local_concentration(dose):
    """Targeted drug: per-hour hazard kill_rate × Hill(c; EC50, n) with c the local level."""
    model = bath_model(*QUIET, dose=dose)
    d = model.params.treatment.drugs["primary"]
    observed, n = fate_counts(model, uniform_state(model, S), codes.DEAD)
    assert_binomial(observed, n, step_p(d.kill_rate_per_h * hill(dose, d.ec50_uM, d.hill_n)))


def test_dtp_is_more_than_100_fold_less_sensitive():
    """Sharma 2010: DTPs > 100-fold less sensitive. At 2 µM the DTP kill hazard is < 1 % of the
    sensitive one; the DTP EC50 is ≥ 100× the sensitive EC50."""
    model = bath_model(*QUIET)
    fx_s = drugs.effects(uniform_state(model, S), model)
    fx_d = drugs.effects(uniform_state(model, D), model)
    assert float(fx_d.kill_per_h.max()) < 0.01 * float(fx_s.kill_per_h.min())
    fold = model.params.treatment.drugs["primary"].ec50_fold
    assert fold["dtp"] / fold["sensitive"] >= 100 and fold["dtep"] / fold["sensitive"] >= 100


@pytest.mark.parametrize("code,key", [(S, "sensitive_per_h"), (P, "primed_per_h")])
def test_persister_entry_competes_with_drug_death(code, key):
    """One uniform partitioned over competing hazards: P(death) = (1 − e^(−KΔt))·k_kill/K and
    P(→DTP) = (1 − e^(−KΔt))·k_entry/K (no boosts: clock past G1, no signals)."""
    k_entry = 0.03
    model = bath_model(*QUIET, f"tumour.entry.{key}={k_entry}", "tumour.entry.death_signal_boost=0")
    d = model.params.treatment.drugs["primary"]
    k_kill = d.kill_rate_per_h * hill(2.0, d.ec50_uM, d.hill_n)
    stress = hill(2.0, d.ec50_uM, d.hill_n)
    k_e = k_entry * stress
    total = k_kill + k_e
    state = uniform_state(model, code, clock=0.9)
    dead, n = fate_counts(model, state, codes.DEAD)
    dtp, _ = fate_counts(model, state, D)
    assert_binomial(dead, n, step_p(total) * k_kill / total)
    assert_binomial(dtp, n, step_p(total) * k_e / total)


@pytest.mark.parametrize("case", ["g1", "memory", "hypoxia", "death_signal", "epigenetic"])
def test_persister_entry_boosts(case):
    """Each modifier multiplies the entry hazard by its documented factor (drug kill off)."""
    base = 0.05
    over = [*QUIET, f"tumour.entry.sensitive_per_h={base}", "treatment.drugs.primary.kill_rate_per_h=0",
            "tumour.entry.death_signal_boost=0"]
    clock, memory = 0.9, 0.0
    en = build_model("grid.shape=[8,8]").params.tumour.entry
    if case == "g1":
        clock, factor = 0.1, en.g1_boost
    elif case == "memory":
        memory, factor = 0.5, 1 + en.memory_boost * 0.5
    elif case == "hypoxia":  # pO2 10 mmHg: halfway between 15 (hypoxic) and 5 (necrosis threshold)
        over += ["fields.oxygen.initial_value=10.0", "tumour.o2_necrosis_threshold_mmHg=5",
                 "tumour.o2_proliferation_threshold_mmHg=0"]
        factor = 1 + en.hypoxia_boost * 0.5
    elif case == "death_signal":  # ATP at its half-effect level
        over = [o for o in over if not o.startswith("tumour.entry.death_signal_boost")]
        over += ["fields.death_signal.initial_value=1.0", "tumour.entry.death_signal_boost=2.0"]
        factor = 1 + 2.0 * 0.5
    else:  # epigenetic inhibitor at its EC50: block = 0.95 × 0.5
        over = [o.replace("treatment=continuous", "") for o in over]
        over += ["treatment=epigenetic_combination", "treatment.drugs.hdaci.dose_uM=0.1",
                 "treatment.drugs.hdaci.kill_rate_per_h=0"]
        factor = 1 - 0.95 * 0.5
    model = bath_model(*over)
    d = model.params.treatment.drugs["primary"]
    k = base * hill(2.0, d.ec50_uM, d.hill_n) * factor
    observed, n = fate_counts(model, uniform_state(model, S, clock=clock, memory=memory), D)
    assert_binomial(observed, n, step_p(k))


def test_hgf_field_absent_means_no_met_effect():
    model = bath_model(*QUIET)
    fx = drugs.effects(uniform_state(model, S), model)
    assert "hgf" not in model.registry.names and fx.met_signal is None


# -- D → E, D/E → S, induced resistance -------------------------------------------------------

@pytest.mark.parametrize("timer_frac", [0.5, 1.0, 2.0])
def test_dtep_hazard_rises_with_time_in_dtp_state(timer_frac):
    """D → E at max_per_h × min(t_in_D / ramp_h, 1) × stress under continued drug."""
    model = bath_model(*QUIET, "tumour.dtep.max_per_h=0.05", "tumour.dtep.ramp_h=100",
                       "treatment.drugs.primary.kill_rate_per_h=0")
    d = model.params.treatment.drugs["primary"]
    k = 0.05 * min(timer_frac, 1.0) * hill(2.0, d.ec50_uM, d.hill_n)
    observed, n = fate_counts(model, uniform_state(model, D, timer=100 * timer_frac), E)
    assert_binomial(observed, n, step_p(k))


@pytest.mark.parametrize("code,key,memory", [(D, "dtp_per_h", 0.0), (D, "dtp_per_h", 1.0),
                                             (E, "dtep_per_h", 0.0), (E, "dtep_per_h", 0.6)])
def test_reversion_without_drug_is_slower_with_memory(code, key, memory):
    """D,E → S without drug at rate / (1 + memory_slowing·m)."""
    model = build_model(SHAPE, *NO_FIELDS, *QUIET, f"tumour.reversion.{key}=0.05",
                        "tumour.reversion.memory_slowing=2.0")
    observed, n = fate_counts(model, uniform_state(model, code, memory=memory), S)
    assert_binomial(observed, n, step_p(0.05 / (1 + 2.0 * memory)))


def test_no_reversion_under_full_drug():
    model = bath_model(*QUIET, "tumour.reversion.dtp_per_h=0.05", "treatment.drugs.primary.kill_rate_per_h=0")
    d = model.params.treatment.drugs["primary"]
    observed, n = fate_counts(model, uniform_state(model, D), S)
    assert_binomial(observed, n, step_p(0.05 * (1 - hill(2.0, d.ec50_uM, d.hill_n))))


def test_defaults_dtep_reverts_ten_times_slower_than_dtp():
    rv = build_model("grid.shape=[8,8]").params.tumour.reversion
    assert rv.dtp_per_h == pytest.approx(10 * rv.dtep_per_h)


@pytest.mark.parametrize("code", [S, D])
def test_induced_resistance_on_exposure(code):
    model = bath_model(*QUIET, "tumour.mutation.induced_per_h=0.02", "treatment.drugs.primary.kill_rate_per_h=0")
    d = model.params.treatment.drugs["primary"]
    observed, n = fate_counts(model, uniform_state(model, code), R)
    assert_binomial(observed, n, step_p(0.02 * hill(2.0, d.ec50_uM, d.hill_n)))


# -- mutation at division ---------------------------------------------------------------------

@pytest.mark.parametrize("code,multiplier", [(S, 1.0), (P, 1.0), (D, 20.0), (E, 20.0), (R, 0.0)])
def test_mutation_per_daughter_raised_in_persisters(code, multiplier):
    """Each renewed cell becomes R with probability μ (× persister_multiplier in D/E; Russo 2019)."""
    model = build_model(SHAPE, *NO_FIELDS, "tumour.mutation.per_division=0.002")
    state = uniform_state(model, code)
    renewed = np.ones(state.cells.shape, bool)
    renewed[:, ::2] = False  # half the voxels did not divide: they never mutate
    observed = 0
    for k in range(N_STEPS):
        after = mutation.update(state.replace(step=k), renewed, model)
        observed += int(((after.cells == R) & (state.cells != R)).sum())
        assert not ((after.cells == R) & ~renewed & (state.cells != R)).any()
    assert_binomial(observed, N_STEPS * int(renewed.sum()), 0.002 * multiplier)


def test_daughters_inherit_state_and_memory_and_may_mutate():
    """A whole step: daughters carry the mother's state and memory; with μ = 1 every daughter of
    a sensitive cell is resistant."""
    model = build_model("grid.shape=[9,9]", *NO_FIELDS, *QUIET)
    state = model.initial_state()
    cells = np.zeros_like(state.cells)
    cells[0, 4, 4] = P
    state = state.replace(cells=cells, clock=np.ones_like(state.clock), memory=np.full_like(state.memory, 0.7))
    after = model.step(state)
    assert (after.cells == P).sum() == 2
    np.testing.assert_allclose(after.memory[after.cells == P], after.memory[0, 4, 4])
    model_mut = build_model("grid.shape=[9,9]", *NO_FIELDS, *QUIET, "tumour.mutation.per_division=1.0")
    after = model_mut.step(state)
    assert (after.cells == R).sum() == 2


# -- cytotoxic kill at division, GPX4, cycle ---------------------------------------------------

def cytotoxic_model(*overrides):
    return build_model(SHAPE, *NO_FIELDS, *QUIET, "treatment=continuous", "treatment.delivery=bath",
                       "treatment.drugs.primary.kind=cytotoxic", "treatment.drugs.primary.emax=0.75",
                       "treatment.drugs.primary.ec50_uM=0.5", "treatment.drugs.primary.hill_n=1",
                       "treatment.drugs.primary.dose_uM=0.5", *overrides)


def test_cytotoxic_kills_division_attempts_with_probability_e_of_c():
    """A ready cell with a free neighbour dies with probability Emax·Hill(c) = 0.375; a ready cell
    without room does not attempt and is spared."""
    model = cytotoxic_model()
    state = uniform_state(model, S, clock=1.0)
    cells = state.cells.copy()
    cells[:, 1::3, :] = codes.EMPTY  # rows of room: rows next to them can divide
    state = state.replace(cells=cells)
    room = drugs.has_free_neighbour(cells, model) & (cells == S)
    dead = 0
    for k in range(N_STEPS):
        s = state.replace(step=k)
        fx = drugs.effects(s, model)
        after, intents = drugs.division_kill(s, s.cells == S, model, fx)
        killed = after.cells == codes.DEAD
        assert not (killed & ~room).any()
        assert not (intents & killed).any()
        dead += int(killed.sum())
    assert_binomial(dead, N_STEPS * int(room.sum()), 0.75 * 0.5)


def test_gpx4_kill_scales_with_local_oxygen():
    """GPX4 inhibitor: hazard kill_rate · Hill · pO2/(pO2 + o2_half) (ferroptosis needs O2)."""
    rates = {}
    for o2 in (5.0, 30.0):
        model = build_model(SHAPE, *NO_FIELDS, *QUIET, "treatment=gpx4_combination", "treatment.delivery=bath",
                            "treatment.drugs.primary.dose_uM=0", "treatment.drugs.gpx4i.kill_rate_per_h=0.1",
                            "treatment.drugs.gpx4i.dose_uM=0.1", f"fields.oxygen.initial_value={o2}")
        observed, n = fate_counts(model, uniform_state(model, D), codes.DEAD)
        k = 0.1 * 0.5 * o2 / (o2 + 10.0)
        assert_binomial(observed, n, step_p(k))
        rates[o2] = observed
    assert rates[30.0] > 2 * rates[5.0]


@pytest.mark.parametrize("code,speed", [(S, 1.0), (D, 0.02), (E, 0.25), (R, 0.7)])
def test_cycle_speed_per_state_and_resistance_cost(code, speed):
    """Clock advance per step = Δt/cycle_h × cycle_speed(state) (R × (1 − cost))."""
    model = build_model("grid.shape=[6,6]", *NO_FIELDS, "tumour.resistance_cost=0.3")
    state = uniform_state(model, code, clock=0.0)
    after, _ = cycle.update(state, model)
    np.testing.assert_allclose(after.clock, speed / 18.0, rtol=1e-6)


def test_targeted_drug_arrests_the_cycle_and_holds_waiting_cells():
    """Cytostasis: sensitive clocks stop under a saturating targeted drug, and cells waiting at
    the checkpoint do not divide when room appears; DTEPs keep cycling in drug."""
    model = bath_model("grid.shape=[6,6]")
    state = uniform_state(model, S, clock=0.5)
    fx = drugs.effects(state, model)
    after, _ = cycle.update(state, model, fx)
    assert float(after.clock.max()) < 0.5 + 1e-4  # Hill(2 µM) = 1 − 2e-4: essentially stopped
    waiting = uniform_state(model, S, clock=1.0)
    _, intents = cycle.update(waiting, model, drugs.effects(waiting, model))
    assert intents.mean() < 0.01
    dtep = uniform_state(model, E, clock=0.0)
    after, _ = cycle.update(dtep, model, drugs.effects(dtep, model))
    assert float(after.clock.min()) > 0.9 * 0.25 / 18.0


@pytest.mark.parametrize("cycle_h", [18.0, 876.8])
def test_hazard_division_probability_per_step(cycle_h):
    """tumour.division=hazard: a cell intends to divide with probability 1 − e^(−Δt/cycle_h)."""
    model = build_model(SHAPE, *NO_FIELDS, "tumour.division=hazard", f"tumour.cycle_h={cycle_h}", "step_h=24",
                        "duration_h=240", "output.every_h=24")
    state = uniform_state(model, S, clock=0.0)
    count = 0
    for k in range(N_STEPS):
        _, intents = cycle.update(state.replace(step=k), model)
        count += int(intents.sum())
    assert_binomial(count, N_STEPS * state.cells.size, step_p(24.0 / cycle_h))


# -- memory -----------------------------------------------------------------------------------

def test_memory_rises_in_persisters_under_drug():
    """m_n = 1 − (1 − g)^n·(1 − m_0) with g = 1 − e^(−gain·Δt) × stress, in D and E under drug."""
    model = bath_model("grid.shape=[6,6]", "treatment.drugs.primary.kill_rate_per_h=0", *QUIET)
    t = model.params.tumour
    d = model.params.treatment.drugs["primary"]
    stress = hill(2.0, d.ec50_uM, d.hill_n)
    for code in (D, E):
        state = uniform_state(model, code)
        fx = drugs.effects(state, model)
        m = state.memory
        for _ in range(48):
            m = transitions.update_memory(state.replace(memory=m), model, fx)
        g = -math.expm1(-t.memory.gain_per_h) * stress
        lose = -math.expm1(-math.log(2) / (t.memory.half_life_generations * t.cycle_h)) * (1 - stress)
        expected = 0.0
        for _ in range(48):
            expected = expected + (1 - expected) * g - expected * lose
        np.testing.assert_allclose(m, expected, rtol=1e-4)


def test_memory_halves_after_half_life_generations_without_drug():
    """Without drug m decays with a half-life of half_life_generations × cycle_h hours (36 h)."""
    model = build_model("grid.shape=[6,6]", *NO_FIELDS, *QUIET)
    state = uniform_state(model, S, memory=0.8)
    hours = int(model.params.tumour.memory.half_life_generations * model.params.tumour.cycle_h)
    m = state.memory
    fx = drugs.effects(state, model)
    for _ in range(hours):
        m = transitions.update_memory(state.replace(memory=m), model, fx)
    np.testing.assert_allclose(m, 0.4, rtol=1e-4)


def test_memory_is_kept_by_sensitive_cells_under_drug():
    """Memory only decays when the drug is away (× (1 − stress)); it is not gained outside D/E."""
    model = bath_model("grid.shape=[6,6]", *QUIET)
    state = uniform_state(model, S, memory=0.5)
    m = transitions.update_memory(state, model, drugs.effects(state, model))
    assert np.all(np.abs(m - 0.5) < 1e-4)


# -- initial phenotypes -----------------------------------------------------------------------

def test_initial_primed_and_resistant_fractions():
    model = build_model(SHAPE, *NO_FIELDS, "tumour.initial.shape=fill", "tumour.initial.primed_fraction=0.02",
                        "tumour.initial.resistant_fraction=0.05")
    cells = model.initial_state().cells
    n = cells.size
    assert_binomial(int((cells == P).sum()), n, 0.02)
    assert_binomial(int((cells == R).sum()), n, 0.05)
    assert int((cells == S).sum()) + int((cells == P).sum()) + int((cells == R).sum()) == n


def test_one_minus_exp_neg_matches_probability_used():
    """The per-step probability uses pmath (portable); check it against expm1 at the sizes used."""
    for k in (1e-5, 0.03, 0.5, 3.0):
        got = float(pmath.one_minus_exp_neg(np.array([k], np.float32))[0])
        assert got == pytest.approx(step_p(k), rel=1e-6)
