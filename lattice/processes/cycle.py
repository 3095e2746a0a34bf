"""Cell-cycle progress and division intents (docs/model.md "Proliferation", §2 step 3).

Each live tumour cell's ``clock`` advances per step by

    x = Δt / cycle_h × f(pO2) × speed(state) × (1 − cytostasis)

where f rises linearly from 0 at ``o2_proliferation_threshold_mmHg`` to 1 at
``o2_proliferation_saturation_mmHg`` (PhysiCell's oxygen-dependent cycle entry), speed(state)
is ``tumour.cycle_speed`` (DTPs quiescent or slow, DTEPs cycling under drug; R × (1 − cost))
and cytostasis is the targeted drugs' growth inhibition (:mod:`lattice.processes.drugs`).

``tumour.division = clock``: a cell whose clock has reached 1 intends to divide and stays at 1
while it waits for room; while it waits, a cytostatic drug holds it at the checkpoint with
probability = cytostasis per step (stream CYCLE), so contact-inhibited cells do not escape
a targeted drug's arrest when their neighbours die. ``hazard``: the same x is a per-step hazard — the cell intends to divide
with probability 1 − e^(−x) (stream CYCLE), memoryless as in the HAL lattice models (Strobl 2022);
the clock still measures the fraction of a cycle since the last division (G1 position).
:mod:`lattice.processes.placement` decides where (or whether: contact inhibition).

Per-voxel arithmetic uses only + − × ÷, min/max and comparisons (1 − e^(−x) through
:mod:`lattice.pmath`) so that the CUDA twin gives the same bits. Both read the constants from
one :func:`plan` (:mod:`lattice.processes.plans`).
"""

from __future__ import annotations

import numpy as np

from lattice import codes, pmath
from lattice.fields import field
from lattice.params.tumour import STATE_NAMES
from lattice.processes import plans
from lattice.rng import Stream
from lattice.state import State

FLAGS = (
    plans.Flag("hazard_division", lambda p, fx: p.tumour.division == "hazard", "tumour.division == hazard"),
    plans.Flag("cytostasis", lambda p, fx: "cytostasis" in fx, "fx.cytostasis exists"),
)
SCALARS = (
    plans.Scalar("step_over_cycle", lambda p: p.step_h / p.tumour.cycle_h, "cycles per step at full speed"),
    plans.Scalar("o2_lo", lambda p: p.tumour.o2_proliferation_threshold_mmHg, "mmHg"),
    plans.Scalar("o2_span", lambda p: p.tumour.o2_proliferation_saturation_mmHg
                 - p.tumour.o2_proliferation_threshold_mmHg, "mmHg"),
    plans.Scalar("step_h", lambda p: p.step_h, "h"),
)


def plan(model, fx=None) -> plans.Plan:
    """The cycle plan (cached per set of present drug effects); ``extra["speed"]``: float32
    ``(256,)`` host table of cycle speed per occupant code (0 for non-tumour codes),
    ``extra["ch_oxygen"]``: the oxygen channel."""
    from lattice.processes.drugs import present

    key = ("cycle.plan", present(fx))
    if key not in model.cache:
        t = model.params.tumour
        table = np.zeros(256, dtype=np.float64)
        for name, code in zip(STATE_NAMES, codes.TUMOUR_CODES):
            table[code] = t.cycle_speed.get(name, 1.0)
        table[codes.RESISTANT] *= 1.0 - t.resistance_cost
        base = plans.build(FLAGS, SCALARS, model.params, key[1])
        extra = {"speed": table.astype(np.float32), "ch_oxygen": model.registry.index("oxygen")}
        model.cache[key] = plans.Plan(base.flags, base.names, base.scalars, base.f, extra)
    return model.cache[key]


def oxygen_factor(o2, model):
    """Cycle speed multiplier in [0, 1] from pO2 (mmHg), float32."""
    xp, f = model.xp, plan(model).f
    return xp.clip((o2 - f["o2_lo"]) / f["o2_span"], xp.float32(0), xp.float32(1))


def speed_table(model):
    """float32 ``(256,)`` on the backend's device: the plan's cycle speed per occupant code."""
    if "cycle.speed" not in model.cache:
        model.cache["cycle.speed"] = model.xp.asarray(plan(model).extra["speed"])
    return model.cache["cycle.speed"]


def update(state: State, model, fx=None) -> tuple[State, object]:
    """Advance clocks of live tumour cells and the time-in-state timer of every occupant.

    Args:
        fx: this step's :class:`lattice.processes.drugs.Effects` (None: no drug effects).

    Returns:
        The new state and the boolean ``(R, *S)`` mask of division intents.
    """
    twin = model.backend.kernel("cycle")
    if twin is not None:  # CUDA twin (kernels/), same decisions bit for bit
        return twin.update(state, model, fx)
    xp, pl = model.xp, plan(model, fx)
    live = codes.is_live_tumour(state.cells)
    speed = pl.f["step_over_cycle"] * oxygen_factor(field(state, model, "oxygen"), model)
    speed = speed * speed_table(model)[state.cells]
    if pl.on("cytostasis"):
        speed = speed * (xp.float32(1) - fx.cytostasis)
    clock = xp.where(live, xp.minimum(state.clock + speed, xp.float32(1)), state.clock)
    occupied = state.cells != codes.EMPTY
    timer = xp.where(occupied, state.timer_h + pl.f["step_h"], xp.float32(0))
    if pl.on("hazard_division"):
        u = model.uniforms(Stream.CYCLE, state.step)[0]
        intents = live & (u < pmath.one_minus_exp_neg(speed.astype(xp.float32)))
    else:
        intents = live & (clock >= xp.float32(1))
        if pl.on("cytostasis"):
            # A cell already waiting at the checkpoint (clock 1 at the start of the step) is
            # held there by a cytostatic drug with probability = cytostasis (stream CYCLE).
            u = model.uniforms(Stream.CYCLE, state.step)[0]
            intents &= ~((state.clock >= xp.float32(1)) & (u < fx.cytostasis))
    return state.replace(clock=clock.astype(xp.float32), timer_h=timer.astype(xp.float32)), intents
