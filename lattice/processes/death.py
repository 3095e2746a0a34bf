"""Death and clearance (docs/model.md "Death"): necrosis under hypoxia or starvation, background
apoptosis (turnover), and clearance of apoptotic cells after ``dead_clearance_h``.

Competing risks within a step are resolved in a fixed order from the start-of-step state:
clearance, necrosis, apoptosis, then the life-cycle fates of :mod:`lattice.processes.transitions`
(drug death, persister entry, switching…); a cell that dies does not also divide (cycle runs
after). Apoptotic cells release the death signal (field ``death_signal``) until cleared.

Probabilities: a constant hazard k gives p = 1 − exp(−k·Δt) per step, computed on the host in
float64 and rounded once to float32, so both backends compare the same numbers. The necrosis
probability ramps linearly with pO2 from 0 at ``o2_necrosis_threshold_mmHg`` to the anoxic
value at ``o2_necrosis_max_mmHg`` (PhysiCell ramps the rate the same way).
"""

from __future__ import annotations

import math

from lattice import codes
from lattice.fields import field
from lattice.processes import plans
from lattice.rng import Stream
from lattice.state import State


def step_probability(rate_per_h: float, step_h: float) -> float:
    """Probability of at least one event of a Poisson process with this rate in one step."""
    return -math.expm1(-rate_per_h * step_h)


def _necrosis_span(t) -> float:
    return t.o2_necrosis_threshold_mmHg - t.o2_necrosis_max_mmHg


FLAGS = (
    plans.Flag("necrosis_ramp", lambda p, fx: _necrosis_span(p.tumour) > 0, "necrosis ramps with pO2 (else a step)"),
    plans.Flag("apoptosis", lambda p, fx: p.tumour.apoptosis_rate_per_h > 0, "background apoptosis is on"),
)
SCALARS = (
    plans.Scalar("dead_clearance_h", lambda p: p.tumour.dead_clearance_h, "h"),
    plans.Scalar("p_necrosis_max", lambda p: step_probability(p.tumour.necrosis_max_rate_per_h, p.step_h),
                 "per step"),
    plans.Scalar("o2_threshold", lambda p: p.tumour.o2_necrosis_threshold_mmHg, "mmHg"),
    plans.Scalar("o2_span", lambda p: _necrosis_span(p.tumour) if _necrosis_span(p.tumour) > 0 else 1.0, "mmHg"),
    plans.Scalar("glucose_threshold", lambda p: p.tumour.glucose_starvation_threshold),
    plans.Scalar("p_apoptosis", lambda p: step_probability(p.tumour.apoptosis_rate_per_h, p.step_h)
                 if p.tumour.apoptosis_rate_per_h > 0 else 0.0, "per step"),
)


def plan(model) -> plans.Plan:
    """The death plan of this run (cached); ``extra``: ``ch_oxygen``, ``ch_glucose``."""
    if "death.plan" not in model.cache:
        base = plans.build(FLAGS, SCALARS, model.params, frozenset())
        index = model.registry.index
        extra = {"ch_oxygen": index("oxygen"), "ch_glucose": index("glucose")}
        model.cache["death.plan"] = plans.Plan(base.flags, base.names, base.scalars, base.f, extra)
    return model.cache["death.plan"]


def necrosis_probability(o2, glucose, model):
    """Per-step necrosis probability, float32 ``(R, *S)``."""
    xp, pl = model.xp, plan(model)
    f = pl.f
    p_max = f["p_necrosis_max"]
    if pl.on("necrosis_ramp"):
        ramp = xp.clip((f["o2_threshold"] - o2) / f["o2_span"], 0, 1)
    else:
        ramp = (o2 < f["o2_threshold"]).astype(xp.float32)
    starving = glucose < f["glucose_threshold"]
    return xp.where(starving, p_max, p_max * ramp.astype(xp.float32))


def update(state: State, model) -> State:
    twin = model.backend.kernel("death")
    if twin is not None:  # CUDA twin (kernels/), same decisions bit for bit
        return twin.update(state, model)
    xp, pl = model.xp, plan(model)
    cells, clock, memory, timer = state.cells, state.clock, state.memory, state.timer_h
    cleared = (cells == codes.DEAD) & (timer >= pl.f["dead_clearance_h"])

    live = codes.is_live_tumour(cells)
    u_necrosis = model.uniforms(Stream.NECROSIS, state.step)[0]
    p_necrosis = necrosis_probability(field(state, model, "oxygen"), field(state, model, "glucose"), model)
    necrotic = live & (u_necrosis < p_necrosis)
    if pl.on("apoptosis"):  # counter-based draws: skipping them shifts no other stream
        u_apoptosis = model.uniforms(Stream.APOPTOSIS, state.step)[0]
        p_apoptosis = pl.f["p_apoptosis"]
        apoptotic = live & ~necrotic & (u_apoptosis < p_apoptosis)
    else:
        apoptotic = xp.zeros_like(live)

    died = necrotic | apoptotic
    cells = xp.where(necrotic, codes.NECROTIC, cells)
    cells = xp.where(apoptotic, codes.DEAD, cells)
    cells = xp.where(cleared, codes.EMPTY, cells).astype(xp.uint8)
    reset = died | cleared
    zero = xp.float32(0)
    return state.replace(
        cells=cells,
        clock=xp.where(reset, zero, clock),
        memory=xp.where(cleared, zero, memory),
        timer_h=xp.where(reset, zero, timer),
    )
