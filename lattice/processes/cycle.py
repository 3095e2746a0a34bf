"""Cell-cycle progress and division intents (DESIGN §1 "Proliferation", §2 step 3).

The per-cell ``clock`` advances by ``dt / cycle_h × f(pO2)`` where f rises linearly from 0 at
``o2_proliferation_threshold_mmHg`` to 1 at ``o2_proliferation_saturation_mmHg`` (PhysiCell's
oxygen-dependent cycle entry). A live tumour cell whose clock has reached 1 intends to divide;
:mod:`lattice.processes.placement` decides where (or whether: contact inhibition). The clock
stays at 1 while the cell waits for room.

Per-voxel arithmetic uses only + − × ÷, min/max and comparisons so that the CUDA twin gives
the same bits (transcendental functions are evaluated once on the host).
"""

from __future__ import annotations

from lattice import codes
from lattice.processes.diffusion import field
from lattice.state import State


def is_live_tumour(cells):
    return (cells >= codes.SENSITIVE) & (cells <= codes.RESISTANT)


def oxygen_factor(o2, model):
    """Cycle speed multiplier in [0, 1] from pO2 (mmHg), float32."""
    xp, t = model.xp, model.params.tumour
    lo = xp.float32(t.o2_proliferation_threshold_mmHg)
    span = xp.float32(t.o2_proliferation_saturation_mmHg - t.o2_proliferation_threshold_mmHg)
    return xp.clip((o2 - lo) / span, xp.float32(0), xp.float32(1))


def update(state: State, model) -> tuple[State, "object"]:
    """Advance clocks of live tumour cells and the time-in-state timer of every occupant.

    Returns:
        The new state and the boolean ``(R, *S)`` mask of division intents.
    """
    xp, p = model.xp, model.params
    live = is_live_tumour(state.cells)
    speed = xp.float32(p.step_h / p.tumour.cycle_h) * oxygen_factor(field(state, model, "oxygen"), model)
    clock = xp.where(live, xp.minimum(state.clock + speed, xp.float32(1)), state.clock)
    occupied = state.cells != codes.EMPTY
    timer = xp.where(occupied, state.timer_h + xp.float32(p.step_h), xp.float32(0))
    intents = live & (clock >= xp.float32(1))
    return state.replace(clock=clock.astype(xp.float32), timer_h=timer.astype(xp.float32)), intents
