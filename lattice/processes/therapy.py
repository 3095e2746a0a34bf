"""Therapy (docs/model.md step 1): schedules and pharmacokinetics, per replicate and per drug.

At the start of each step, for every drug in ``treatment.drugs`` (in order):

1. **Schedule** — is the drug on during this step? ``none``; ``continuous`` (from ``start_h``,
   until ``stop_h``); ``intermittent`` (``on_h`` on, ``off_h`` off, repeating from ``start_h``);
   ``adaptive`` (Zhang et al. 2017: while on, stop when the burden falls below
   ``off_below`` × baseline; while off, resume when it reaches ``on_above`` × baseline). The
   burden read is the live tumour count at the **end of the previous step** (``State.burden``);
   the baseline is the burden when therapy starts (the earliest ``start_h`` of the drugs).
   ``after_progression`` moves a schedule's origin to the replicate's first progression and
   ``until_progression`` stops it there (sequential therapy); each replicate decides alone.
   With ``treatment.monitoring.kind: psa`` adaptive and sequential rules read the last
   *reported* measurement, its baseline and the first reported progression instead
   (:mod:`lattice.processes.monitoring`).
2. **Pharmacokinetics** (one compartment, first-order elimination k = ln 2 / t½; a = e^(−kΔt),
   b = (1 − a)/(kΔt) computed once on the host):

   - ``bolus``: a dose of ``dose_uM`` is added at the first on step and every ``interval_h``
     while on: C₀ = C + dose, step mean C₀·b, end of step C₀·a;
   - ``infusion``: the same amount spread evenly, steady level C_ss = dose/(k·interval):
     end C_ss + (C − C_ss)·a, mean C_ss + (C − C_ss)·b (C_ss = 0 while off);
   - ``constant``: plasma = ``dose_uM`` while on, 0 while off;
   - ``treatment.delivery=bath`` (dish assays): the medium level is ``dose_uM`` while on and the
     drug field is set to it everywhere (no vessels, no PK).

   The step mean (``State.exposure``) is what vessels deliver during the step (vessel voxels
   exchange with blood at permeability × (exposure − c)); ``State.plasma`` carries the
   compartment to the next step. ``cumulative_dose`` counts doses (bolus) or on-time /
   ``interval_h`` (infusion, constant, bath).

At the end of each step (:func:`record`) the burden is counted and the first progression
(burden > ``treatment.progression_factor`` × baseline, after therapy start) is noted.

Per-replicate arithmetic only uses + − × ÷, comparisons and ``where`` on ``(R,)`` arrays of the
backend (float32 for concentrations, float64 for times), with transcendental constants from
the host, so the CUDA backend gives identical schedules and levels.
"""

from __future__ import annotations

import math

from lattice import codes
from lattice.processes import monitoring
from lattice.state import State, empty_therapy

#: Tolerance for comparing times that are sums of step_h (h).
TIME_EPS = 1e-6


def live_count(cells, xp):
    """Live tumour cells per replicate, int64 ``(R,)``."""
    live = codes.is_live_tumour(cells)
    return live.reshape(live.shape[0], -1).sum(axis=1).astype(xp.int64)


def therapy_start_h(model) -> float:
    """When the baseline burden is taken: the earliest time-based ``start_h`` (0 if none)."""
    starts = [d.schedule.start_h for d in model.params.treatment.drugs.values() if not d.schedule.after_progression]
    return min(starts) if starts else 0.0


def initial(state: State, model) -> State:
    """Add the therapy arrays (when the treatment has drugs) with the burden at t = 0."""
    if not model.drug_names:
        return state
    xp = model.xp
    arrays = empty_therapy(state.replicates, len(model.drug_names), xp)
    arrays["burden"] = live_count(state.cells, xp)
    if monitoring.enabled(model):  # measured burden for the schedules (t = 0 is a visit)
        arrays |= monitoring.initial(model, arrays["burden"])
    return state.replace(**arrays)


def schedule_on(schedule, t_h: float, step_h: float, prev_on, burden, baseline, progression_h, xp):
    """Boolean ``(R,)``: is the drug on during the step that starts at ``t_h``?

    Args:
        schedule: the drug's :class:`~lattice.params.treatment.ScheduleParams`.
        t_h: start of this step, h.
        step_h: the cell step, h.
        prev_on: bool ``(R,)``, on during the previous step.
        burden: int64 ``(R,)``, live tumour cells at the end of the previous step.
        baseline: int64 ``(R,)``, burden at therapy start (−1 before).
        progression_h: float32 ``(R,)``, first progression time (−1 none).
    """
    R = burden.shape[0]
    if schedule.kind == "none":
        return xp.zeros(R, dtype=bool)
    progressed = progression_h >= 0
    if schedule.after_progression:
        origin = xp.where(progressed, progression_h.astype(xp.float64), xp.float64(math.inf))
        tau = xp.float64(t_h) - origin
    else:
        tau = xp.full(R, t_h, dtype=xp.float64)
    window = tau >= schedule.start_h - TIME_EPS
    if schedule.stop_h is not None:
        window &= tau < schedule.stop_h - TIME_EPS
    if schedule.until_progression:
        window &= ~progressed
    if schedule.kind == "continuous":
        return window
    if schedule.kind == "intermittent":
        period = schedule.on_h + schedule.off_h
        since = xp.where(window, tau - schedule.start_h, 0.0)
        phase = since - period * xp.floor((since + TIME_EPS) / period)
        return window & (phase < schedule.on_h - TIME_EPS)
    # adaptive (Zhang 2017): hysteresis between off_below and on_above of the baseline.
    b = baseline.astype(xp.float64)
    n = burden.astype(xp.float64)
    keep_on = n >= schedule.off_below * b
    turn_on = n >= schedule.on_above * b
    return window & (baseline >= 0) & xp.where(prev_on, keep_on, turn_on)


def update(state: State, model) -> State:
    """Schedules and plasma levels for this step; in bath mode, the drug fields too."""
    if not state.has_therapy:
        return state
    xp, p = model.xp, model.params
    tp, dt = p.treatment, p.step_h
    f32 = xp.float32
    t = state.step * dt
    baseline = state.baseline
    started = t >= therapy_start_h(model) - TIME_EPS
    if started:
        baseline = xp.where(baseline < 0, state.burden, baseline).astype(xp.int64)
    # What the schedules read: the true burden, or the last reported measurement (monitoring.py).
    seen_burden, seen_baseline, seen_progression = state.burden, baseline, state.progression_h
    if state.has_monitoring:
        state = state.replace(measured_baseline=monitoring.start_baseline(state, model, started))
        seen_burden, seen_progression = state.measured, state.measured_progression_h
        seen_baseline = xp.where(xp.isnan(state.measured_baseline), -1.0, state.measured_baseline)
    bath = tp.delivery == "bath"
    cols = {k: [] for k in ("drug_on", "plasma", "exposure", "since_dose_h", "cumulative_dose")}
    for d, drug in enumerate(tp.drugs.values()):
        prev_on = state.drug_on[:, d] > 0
        on = schedule_on(drug.schedule, t, dt, prev_on, seen_burden, seen_baseline, seen_progression, xp)
        c = state.plasma[:, d]
        since = state.since_dose_h[:, d]
        zero, dose = f32(0.0), f32(drug.dose_uM)
        due = on & (~prev_on | (since < 0) | (since + f32(0.5 * dt) >= f32(drug.interval_h)))
        per_step = f32(dt / drug.interval_h)
        if bath or drug.pk == "constant":
            level = xp.where(on, dose, zero)
            c_end, mean, doses = level, level, xp.where(on, per_step, zero)
        else:
            k = drug.elimination_per_h
            a = f32(math.exp(-k * dt))
            b = f32(-math.expm1(-k * dt) / (k * dt))
            if drug.pk == "bolus":
                c0 = c + xp.where(due, dose, zero)
                c_end, mean, doses = c0 * a, c0 * b, xp.where(due, f32(1.0), zero)
            else:  # infusion
                css = xp.where(on, f32(drug.dose_uM / (k * drug.interval_h)), zero)
                c_end = css + (c - css) * a
                mean = css + (c - css) * b
                doses = xp.where(on, per_step, zero)
        since_new = xp.where(due, f32(dt), xp.where(since >= 0, since + f32(dt), f32(-1.0)))
        cols["drug_on"].append(on.astype(xp.uint8))
        cols["plasma"].append(c_end.astype(xp.float32))
        cols["exposure"].append(mean.astype(xp.float32))
        cols["since_dose_h"].append(since_new.astype(xp.float32))
        cols["cumulative_dose"].append((state.cumulative_dose[:, d] + doses).astype(xp.float32))
    arrays = {k: xp.stack(v, axis=1) for k, v in cols.items()}
    state = state.replace(baseline=baseline, **arrays)
    if bath:
        state = state.replace(fields=bath_fields(state, model))
    return state


def bath_fields(state: State, model):
    """Fields with every drug channel set uniformly to its medium level (this step's exposure)."""
    fields = state.fields.copy()
    nd = model.grid.ndim
    for d, name in enumerate(model.drug_names):
        ch = model.registry.index(f"drug_{name}")
        fields[:, ch] = state.exposure[:, d].reshape((-1,) + (1,) * nd)
    return fields


def record(state: State, model) -> State:
    """End of step: the burden the next step's adaptive rules read, and the first progression."""
    if not state.has_therapy:
        return state
    xp = model.xp
    burden = live_count(state.cells, xp)
    t_end = (state.step + 1) * model.params.step_h
    factor = model.params.treatment.progression_factor
    started = state.baseline >= 0
    above = burden.astype(xp.float64) > factor * state.baseline.astype(xp.float64)
    first = started & (state.progression_h < 0) & above
    progression_h = xp.where(first, xp.float32(t_end), state.progression_h).astype(xp.float32)
    state = monitoring.record(state, model, burden)
    return state.replace(burden=burden, progression_h=progression_h)
