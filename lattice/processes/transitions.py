"""The DTP life cycle (docs/model.md "State transitions"): one small rule per transition, and one
competing-risks draw per cell and step.

States: S sensitive, P primed, D DTP, E DTEP, R resistant (codes 1–5). Each rule below gives a
hazard (1/h, float32 ``(R, *S)``, zero where it does not apply), computed from the state at the
start of the step and the drug effects of :mod:`lattice.processes.drugs`:

- drug death (any → dead): Σ kill_rate · E_state(c) (drugs.py; HGF/MET protects);
- persister entry (S,P → D): entry.<state>_per_h · stress · (1 + memory_boost·m) · G1 · HGF ·
  hypoxia · death signal · (1 − epigenetic block);
- switching (S ⇄ P): switching.to_primed_per_h / to_sensitive_per_h (drug-independent);
- DTEP emergence (D → E): dtep.max_per_h · min(t_in_D / ramp_h, 1) · stress · (1 + hgf_boost·MET);
- reversion (D,E → S): reversion.<state>_per_h · (1 − stress) / (1 + memory_slowing·m);
- induced resistance (S,P,D,E → R): mutation.induced_per_h · stress (Luria–Delbrück "induced").

**Competing outcomes.** A cell has one fate per step. With total hazard K = Σ kᵢ, one uniform u
(stream FATE) is partitioned in the fixed order of the list: outcome i happens when
Σ_{j<i} kⱼ·P/K ≤ u < Σ_{j≤i} kⱼ·P/K with P = 1 − exp(−K·Δt), so P(i) = (1 − e^(−KΔt))·kᵢ/K
exactly (competing exponential risks with hazards held over the step). A cell that dies or
enters the DTP state (quiescence) restarts its clock at 0; every cell that changes state
restarts its time-in-state timer; other cells keep their clock and cycle on in their new
state. Cells that necrosed or died of turnover earlier in the step
(:mod:`lattice.processes.death`) have no fate here, and a cell that dies does not divide in
this step (cycle runs after).

**Memory** m ∈ [0, 1] (deterministic): in D/E it rises, m += (1 − m)(1 − e^(−gΔt))·stress; in
every live cell it decays without drug, m −= m(1 − 2^(−Δt/(h·cycle_h)))(1 − stress) — a
half-life of h generations (Shaffer 2020: clock-like loss of memory). Daughters inherit m
(placement copies it).

The transcendental step (1 − e^(−x)) goes through :func:`lattice.pmath.one_minus_exp_neg`;
constant factors are computed on the host.
"""

from __future__ import annotations

import math

from lattice import codes, pmath
from lattice.processes.diffusion import field
from lattice.rng import Stream
from lattice.state import State

S, P, D, E, R = codes.SENSITIVE, codes.PRIMED, codes.DTP, codes.DTEP, codes.RESISTANT


def initial_phenotypes(state: State, model) -> State:
    """Initial tumour cells become P with probability ``primed_fraction`` and R with
    ``resistant_fraction`` (one uniform of stream INITIAL, draw 1), the rest stay S."""
    twin = model.backend.kernel("transitions")
    if twin is not None:  # CUDA twin (kernels/), same decisions bit for bit
        return twin.initial_phenotypes(state, model)
    xp, ini = model.xp, model.params.tumour.initial
    if ini.primed_fraction == 0 and ini.resistant_fraction == 0:
        return state
    u = model.uniforms(Stream.INITIAL, 0, draw=1)[0]
    tumour = state.cells == S
    primed = tumour & (u < xp.float32(ini.primed_fraction))
    resistant = tumour & ~primed & (u < xp.float32(ini.primed_fraction + ini.resistant_fraction))
    cells = xp.where(primed, P, xp.where(resistant, R, state.cells)).astype(xp.uint8)
    return state.replace(cells=cells)


def _ramp_below(x, start: float, full: float, xp):
    """0 at x ≥ start rising linearly to 1 at x ≤ full (a step at ``start`` when full ≥ start)."""
    f32 = xp.float32
    if start > full:
        return xp.clip((f32(start) - x) / f32(start - full), f32(0), f32(1)).astype(xp.float32)
    return (x < f32(start)).astype(xp.float32)


# -- the rules --------------------------------------------------------------------------------

def switching(cells, model):
    """S → P at ``switching.to_primed_per_h``, P → S at ``to_sensitive_per_h``: the rare primed
    state arises and fades spontaneously, with or without drug (Shaffer 2017). Returns
    ``(hazard, target code)`` or None when both rates are 0."""
    xp, sw = model.xp, model.params.tumour.switching
    if sw.to_primed_per_h == 0 and sw.to_sensitive_per_h == 0:
        return None
    f32 = xp.float32
    k = xp.where(cells == S, f32(sw.to_primed_per_h), xp.where(cells == P, f32(sw.to_sensitive_per_h), f32(0)))
    return k.astype(xp.float32), xp.where(cells == S, P, S).astype(xp.uint8)


def drug_death(cells, fx):
    """Any live tumour cell dies (apoptosis) at the summed kill hazard of the drugs (drugs.py)."""
    if fx.kill_per_h is None:
        return None
    live = (cells >= S) & (cells <= R)
    return live * fx.kill_per_h


def hypoxia_signal(state: State, model):
    """0–1: pO2 ramping from ``signals.hypoxic_mmHg`` down to the necrosis threshold, or glucose
    from ``signals.low_glucose`` down to the starvation threshold (the larger of the two)."""
    xp, t = model.xp, model.params.tumour
    o2 = _ramp_below(field(state, model, "oxygen"), t.signals.hypoxic_mmHg, t.o2_necrosis_threshold_mmHg, xp)
    glc = _ramp_below(field(state, model, "glucose"), t.signals.low_glucose, t.glucose_starvation_threshold, xp)
    return xp.maximum(o2, glc)


def persister_entry(state: State, model, fx):
    """S,P → D under a lethal drug, competing with drug death.

    hazard = rate(S or P) × stress × (1 + memory_boost·m) × (g1_boost if clock < g1_fraction)
    × (1 + hgf_boost·MET signal) × (1 + hypoxia_boost·hypoxia) × (1 + death_signal_boost ·
    ATP/(ATP + K)) × (1 − epigenetic block). Primed cells enter far more readily (Shaffer 2017);
    G1 position (Wang 2025 refs 53–54), HGF/MET (Straussman 2012), hypoxia/starvation (DTP
    review) and ATP from dying neighbours (Schmitt 2022) push cells into persistence; KDM5/HDAC
    inhibitors prevent it (Sharma 2010).
    """
    if fx.stress is None:
        return None
    xp, t = model.xp, model.params.tumour
    en, f32, one = t.entry, xp.float32, xp.float32(1.0)
    cells = state.cells
    rate = xp.where(cells == S, f32(en.sensitive_per_h), xp.where(cells == P, f32(en.primed_per_h), f32(0)))
    k = rate * fx.stress
    if en.memory_boost:
        k = k * (one + f32(en.memory_boost) * state.memory)
    if en.g1_boost != 1.0:
        k = k * xp.where(state.clock < f32(en.g1_fraction), f32(en.g1_boost), one)
    if en.hgf_boost and fx.met_signal is not None:
        k = k * (one + f32(en.hgf_boost) * fx.met_signal)
    if en.hypoxia_boost:
        k = k * (one + f32(en.hypoxia_boost) * hypoxia_signal(state, model))
    if en.death_signal_boost:
        atp = xp.maximum(field(state, model, "death_signal"), f32(0))
        k = k * (one + f32(en.death_signal_boost) * (atp / (atp + f32(t.signals.death_signal_half))))
    if fx.entry_block is not None:
        k = k * (one - fx.entry_block)
    return k.astype(xp.float32)


def dtep_emergence(state: State, model, fx):
    """D → E under continued drug: max_per_h × min(time in D / ramp_h, 1) × stress ×
    (1 + hgf_boost·MET). Sharma 2010: ~20 % of DTPs resume growth in drug by ~30 days."""
    dt_ = model.params.tumour.dtep
    if fx.stress is None or dt_.max_per_h == 0:
        return None
    xp, f32 = model.xp, model.xp.float32
    ramp = xp.minimum(state.timer_h / f32(dt_.ramp_h), f32(1)) if dt_.ramp_h > 0 else f32(1)
    k = xp.where(state.cells == D, f32(dt_.max_per_h) * ramp, f32(0)) * fx.stress
    if dt_.hgf_boost and fx.met_signal is not None:
        k = k * (f32(1) + f32(dt_.hgf_boost) * fx.met_signal)
    return k.astype(xp.float32)


def reversion(state: State, model, fx):
    """D,E → S when the drug is withdrawn: rate(D or E) × (1 − stress) / (1 + memory_slowing·m).
    DTEPs revert ~10× slower than DTPs (Sharma 2010: ~90 vs ~9 doublings)."""
    rv = model.params.tumour.reversion
    if rv.dtp_per_h == 0 and rv.dtep_per_h == 0:
        return None
    xp, f32 = model.xp, model.xp.float32
    cells = state.cells
    k = xp.where(cells == D, f32(rv.dtp_per_h), xp.where(cells == E, f32(rv.dtep_per_h), f32(0)))
    if fx.stress is not None:
        k = k * (f32(1) - fx.stress)
    k = k / (f32(1) + f32(rv.memory_slowing) * state.memory)
    return k.astype(xp.float32)


def induced_resistance(cells, model, fx):
    """S,P,D,E → R on drug exposure: mutation.induced_per_h × stress (the Luria–Delbrück
    "induced" alternative to pre-existing mutants; 0 by default)."""
    k_ind = model.params.tumour.mutation.induced_per_h
    if fx.stress is None or k_ind == 0:
        return None
    xp = model.xp
    susceptible = (cells >= S) & (cells <= E)
    return (susceptible * (xp.float32(k_ind) * fx.stress)).astype(xp.float32)


def hazards(state: State, model, fx) -> list[tuple[str, object, object]]:
    """The active rules in partition order: ``(name, hazard 1/h, target code)``."""
    cells = state.cells
    out = []
    k = drug_death(cells, fx)
    if k is not None:
        out.append(("drug_death", k, codes.DEAD))
    k = persister_entry(state, model, fx)
    if k is not None:
        out.append(("persister_entry", k, D))
    sw = switching(cells, model)
    if sw is not None:
        out.append(("switching", sw[0], sw[1]))
    k = dtep_emergence(state, model, fx)
    if k is not None:
        out.append(("dtep_emergence", k, E))
    k = reversion(state, model, fx)
    if k is not None:
        out.append(("reversion", k, S))
    k = induced_resistance(cells, model, fx)
    if k is not None:
        out.append(("induced_resistance", k, R))
    return out


def update_memory(state: State, model, fx):
    """Memory after this step (see the module doc), float32 ``(R, *S)``."""
    xp, t, dt = model.xp, model.params.tumour, model.params.step_h
    f32 = xp.float32
    cells, m = state.cells, state.memory
    live = (cells >= S) & (cells <= R)
    lose = f32(-math.expm1(-math.log(2.0) * dt / (t.memory.half_life_generations * t.cycle_h)))
    if fx.stress is None:
        return xp.where(live, m - m * lose, m).astype(xp.float32)
    s = fx.stress
    gain = f32(-math.expm1(-t.memory.gain_per_h * dt))
    persister = (cells == D) | (cells == E)
    new = m + xp.where(persister, (f32(1) - m) * gain * s, f32(0)) - m * lose * (f32(1) - s)
    return xp.where(live, xp.clip(new, f32(0), f32(1)), m).astype(xp.float32)


def update(state: State, model, fx=None) -> State:
    """Resolve every live tumour cell's fate for this step and update memory."""
    twin = model.backend.kernel("transitions")
    if twin is not None:  # CUDA twin (kernels/), same decisions bit for bit
        return twin.update(state, model, fx)
    from lattice.processes import drugs

    fx = drugs.effects(state, model) if fx is None else fx
    xp = model.xp
    f32 = xp.float32
    rules = hazards(state, model, fx)
    memory = update_memory(state, model, fx)
    if not rules:
        return state.replace(memory=memory)
    total = rules[0][1]
    for _, k, _ in rules[1:]:
        total = total + k
    p_any = pmath.one_minus_exp_neg(total * f32(model.params.step_h))
    positive = total > f32(0)
    inv_total = xp.where(positive, f32(1) / xp.where(positive, total, f32(1)), f32(0))
    u = model.uniforms(Stream.FATE, state.step)[0]
    cells = state.cells
    decided = xp.zeros(cells.shape, dtype=bool)
    acc = None
    for _, k, target in rules:
        acc = k if acc is None else acc + k
        hit = ~decided & (u < p_any * (acc * inv_total))
        cells = xp.where(hit, target, cells)
        decided |= hit
    # Dying cells and cells entering the DTP state (quiescence, G0) leave the cycle: clock 0.
    stopped = decided & ((cells == codes.DEAD) | (cells == D))
    zero = f32(0)
    return state.replace(
        cells=cells.astype(xp.uint8),
        clock=xp.where(stopped, zero, state.clock),
        timer_h=xp.where(decided, zero, state.timer_h),
        memory=memory,
    )
