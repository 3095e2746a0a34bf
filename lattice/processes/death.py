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
from lattice.processes.cycle import is_live_tumour
from lattice.processes.diffusion import field
from lattice.rng import Stream
from lattice.state import State


def step_probability(rate_per_h: float, step_h: float) -> float:
    """Probability of at least one event of a Poisson process with this rate in one step."""
    return -math.expm1(-rate_per_h * step_h)


def necrosis_probability(o2, glucose, model):
    """Per-step necrosis probability, float32 ``(R, *S)``."""
    xp, t = model.xp, model.params.tumour
    p_max = xp.float32(step_probability(t.necrosis_max_rate_per_h, model.step_h))
    span = t.o2_necrosis_threshold_mmHg - t.o2_necrosis_max_mmHg
    if span > 0:
        ramp = xp.clip((xp.float32(t.o2_necrosis_threshold_mmHg) - o2) / xp.float32(span), 0, 1)
    else:
        ramp = (o2 < xp.float32(t.o2_necrosis_threshold_mmHg)).astype(xp.float32)
    starving = glucose < xp.float32(t.glucose_starvation_threshold)
    return xp.where(starving, p_max, p_max * ramp.astype(xp.float32))


def update(state: State, model) -> State:
    twin = model.backend.kernel("death")
    if twin is not None:  # CUDA twin (kernels/), same decisions bit for bit
        return twin.update(state, model)
    xp, t = model.xp, model.params.tumour
    cells, clock, memory, timer = state.cells, state.clock, state.memory, state.timer_h
    cleared = (cells == codes.DEAD) & (timer >= xp.float32(t.dead_clearance_h))

    live = is_live_tumour(cells)
    u_necrosis = model.uniforms(Stream.NECROSIS, state.step)[0]
    p_necrosis = necrosis_probability(field(state, model, "oxygen"), field(state, model, "glucose"), model)
    necrotic = live & (u_necrosis < p_necrosis)
    if t.apoptosis_rate_per_h > 0:  # counter-based draws: skipping them shifts no other stream
        u_apoptosis = model.uniforms(Stream.APOPTOSIS, state.step)[0]
        p_apoptosis = xp.float32(step_probability(t.apoptosis_rate_per_h, model.step_h))
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
