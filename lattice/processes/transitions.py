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

**The rule plan.** Which rules exist, which optional factors apply and every float constant are
declared once below (:data:`RULES`, :data:`FACTORS`, :data:`SCALARS`) and evaluated once per run
into a :class:`lattice.processes.plans.Plan` (:func:`plan`). The NumPy body here and the kernel
launcher ``lattice/kernels/transitions.py`` both read that plan; the flag bits and scalar
indices reach ``kernels/transitions.cu`` through the generated ``kernels/constants.cuh``.

**Adding a transition** touches three places, none of which restates another:

1. the parameter file (``lattice/params/tumour.py``): the new rate(s);
2. this module: a hazard function ``f(state, model, fx) -> float32 (R, *S) hazard (1/h)`` that
   reads its constants from ``plan(model, fx).f`` (it is called only when its flag is on), one
   :class:`Rule` appended to :data:`RULES` (its :class:`~lattice.processes.plans.Flag`: name and
   when it exists, from the parameters and the present drug effects; the function; the target
   code) and its :class:`~lattice.processes.plans.Scalar` entries appended to :data:`SCALARS`.
   Append, do not insert: the order of :data:`RULES` is the partition order of the FATE uniform,
   part of the reproducibility contract;
3. the kernel (``kernels/transitions.cu``): one block ``if (flags & TR_<NAME>)`` at the same place
   in the partition order, reading ``sc[TR_<SCALAR>]`` (the hazard arrays are sized by the
   generated ``TR_N_RULES``).

Then regenerate the header (``python -m lattice.kernels.gen_constants``; ``tests/test_constants.py``
fails until you do). The launcher needs no change: it passes the plan's flag word and scalars.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from lattice import codes, pmath
from lattice.fields import field
from lattice.processes import lineage, plans
from lattice.processes.plans import Flag, Scalar
from lattice.rng import Stream
from lattice.state import State

S, P, D, E, R = codes.SENSITIVE, codes.PRIMED, codes.DTP, codes.DTEP, codes.RESISTANT


def initial_phenotypes(state: State, model) -> State:
    """Initial tumour cells become P with probability ``primed_fraction`` and R with
    ``resistant_fraction`` (one uniform of stream INITIAL, draw 1), the rest stay S. Then the
    lineage set-up, once every initial cell has its state: the twin-dish split and the barcodes
    (:func:`lattice.processes.lineage.initial`)."""
    return lineage.initial(_phenotypes(state, model), model)


def _phenotypes(state: State, model) -> State:
    twin = model.backend.kernel("transitions")
    if twin is not None:  # CUDA twin (kernels/), same decisions bit for bit
        return twin.initial_phenotypes(state, model)
    pl = plan(model)
    if not pl.on("initial"):
        return state
    xp = model.xp
    u = model.uniforms(Stream.INITIAL, 0, draw=1)[0]
    tumour = state.cells == S
    primed = tumour & (u < pl.f["initial_primed"])
    resistant = tumour & ~primed & (u < pl.f["initial_primed_or_resistant"])
    cells = xp.where(primed, P, xp.where(resistant, R, state.cells)).astype(xp.uint8)
    return state.replace(cells=cells)


def _ramp_below(x, start, span, ramp: bool, xp):
    """0 at x ≥ start rising linearly to 1 at x ≤ start − span (``ramp``), else a step at ``start``."""
    f32 = xp.float32
    if ramp:
        return xp.clip((start - x) / span, f32(0), f32(1)).astype(xp.float32)
    return (x < start).astype(xp.float32)


# -- the rules --------------------------------------------------------------------------------

def switching(state: State, model, fx):
    """S → P at ``switching.to_primed_per_h``, P → S at ``to_sensitive_per_h``: the rare primed
    state arises and fades spontaneously, with or without drug (Shaffer 2017). Returns
    ``(hazard, target code)``."""
    xp, f = model.xp, plan(model, fx).f
    cells = state.cells
    k = xp.where(cells == S, f["to_primed"], xp.where(cells == P, f["to_sensitive"], xp.float32(0)))
    return k.astype(xp.float32), xp.where(cells == S, P, S).astype(xp.uint8)


def drug_death(state: State, model, fx):
    """Any live tumour cell dies (apoptosis) at the summed kill hazard of the drugs (drugs.py)."""
    return codes.is_live_tumour(state.cells) * fx.kill_per_h


def hypoxia_signal(state: State, model, fx=None):
    """0–1: pO2 ramping from ``signals.hypoxic_mmHg`` down to the necrosis threshold, or glucose
    from ``signals.low_glucose`` down to the starvation threshold (the larger of the two)."""
    xp, pl = model.xp, plan(model, fx)
    f = pl.f
    o2 = _ramp_below(field(state, model, "oxygen"), f["hypoxic_mmHg"], f["hypoxic_span"],
                     pl.on("hypoxia_o2_ramp"), xp)
    glc = _ramp_below(field(state, model, "glucose"), f["low_glucose"], f["low_glucose_span"],
                      pl.on("hypoxia_glucose_ramp"), xp)
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
    xp, pl = model.xp, plan(model, fx)
    f, f32, one = pl.f, xp.float32, xp.float32(1.0)
    cells = state.cells
    rate = xp.where(cells == S, f["entry_sensitive"], xp.where(cells == P, f["entry_primed"], f32(0)))
    k = rate * fx.stress
    if pl.on("entry_memory"):
        k = k * (one + f["entry_memory_boost"] * state.memory)
    if pl.on("entry_g1"):
        k = k * xp.where(state.clock < f["entry_g1_fraction"], f["entry_g1_boost"], one)
    if pl.on("entry_hgf"):
        k = k * (one + f["entry_hgf_boost"] * fx.met_signal)
    if pl.on("entry_hypoxia"):
        k = k * (one + f["entry_hypoxia_boost"] * hypoxia_signal(state, model, fx))
    if pl.on("entry_death_signal"):
        atp = xp.maximum(field(state, model, "death_signal"), f32(0))
        k = k * (one + f["entry_death_signal_boost"] * (atp / (atp + f["death_signal_half"])))
    if pl.on("entry_block"):
        k = k * (one - fx.entry_block)
    return k.astype(xp.float32)


def dtep_emergence(state: State, model, fx):
    """D → E under continued drug: max_per_h × min(time in D / ramp_h, 1) × stress ×
    (1 + hgf_boost·MET). Sharma 2010: ~20 % of DTPs resume growth in drug by ~30 days."""
    xp, pl = model.xp, plan(model, fx)
    f, f32 = pl.f, xp.float32
    ramp = xp.minimum(state.timer_h / f["dtep_ramp_h"], f32(1)) if pl.on("dtep_ramp") else f32(1)
    k = xp.where(state.cells == D, f["dtep_max"] * ramp, f32(0)) * fx.stress
    if pl.on("dtep_hgf"):
        k = k * (f32(1) + f["dtep_hgf_boost"] * fx.met_signal)
    return k.astype(xp.float32)


def reversion(state: State, model, fx):
    """D,E → S when the drug is withdrawn: rate(D or E) × (1 − stress) / (1 + memory_slowing·m).
    DTEPs revert ~10× slower than DTPs (Sharma 2010: ~90 vs ~9 doublings)."""
    xp, pl = model.xp, plan(model, fx)
    f, f32 = pl.f, xp.float32
    cells = state.cells
    k = xp.where(cells == D, f["revert_dtp"], xp.where(cells == E, f["revert_dtep"], f32(0)))
    if pl.on("stress"):
        k = k * (f32(1) - fx.stress)
    k = k / (f32(1) + f["memory_slowing"] * state.memory)
    return k.astype(xp.float32)


def induced_resistance(state: State, model, fx):
    """S,P,D,E → R on drug exposure: mutation.induced_per_h × stress (the Luria–Delbrück
    "induced" alternative to pre-existing mutants; 0 by default)."""
    xp, cells = model.xp, state.cells
    susceptible = codes.is_live_tumour(cells) & (cells != R)
    return (susceptible * (plan(model, fx).f["induced"] * fx.stress)).astype(xp.float32)


# -- the plan: declared once, read by this module and by the kernel launcher -------------------

@dataclass(frozen=True)
class Rule:
    """One competing outcome: its flag (when it exists), hazard function and target code
    (None: the function returns ``(hazard, per-cell target)``)."""

    flag: Flag
    hazard: Callable
    target: int | None


def _stress(params, present) -> bool:
    return "stress" in present


#: The rules in partition order (bit i of the flag word = rule i; ``TR_<NAME>`` in C).
RULES = (
    Rule(Flag("drug_death", lambda p, fx: "kill_per_h" in fx, "any live -> dead, fx.kill_per_h"),
         drug_death, codes.DEAD),
    Rule(Flag("persister_entry", _stress, "S,P -> D, with fx.stress"), persister_entry, D),
    Rule(Flag("switching", lambda p, fx: not (p.tumour.switching.to_primed_per_h == 0
                                              and p.tumour.switching.to_sensitive_per_h == 0),
              "S <-> P, a switching rate != 0"), switching, None),
    Rule(Flag("dtep_emergence", lambda p, fx: "stress" in fx and p.tumour.dtep.max_per_h != 0,
              "D -> E, fx.stress and dtep.max_per_h != 0"), dtep_emergence, E),
    Rule(Flag("reversion", lambda p, fx: not (p.tumour.reversion.dtp_per_h == 0
                                              and p.tumour.reversion.dtep_per_h == 0),
              "D,E -> S, a reversion rate != 0"), reversion, S),
    Rule(Flag("induced_resistance", lambda p, fx: "stress" in fx and p.tumour.mutation.induced_per_h != 0,
              "S,P,D,E -> R, fx.stress and induced_per_h != 0"), induced_resistance, R),
)

#: Optional factors and modes of the rules (bits after the rules').
FACTORS = (
    Flag("stress", _stress, "fx.stress exists"),
    Flag("entry_memory", lambda p, fx: bool(p.tumour.entry.memory_boost), "entry.memory_boost != 0"),
    Flag("entry_g1", lambda p, fx: p.tumour.entry.g1_boost != 1.0, "entry.g1_boost != 1"),
    Flag("entry_hgf", lambda p, fx: bool(p.tumour.entry.hgf_boost) and "met_signal" in fx,
         "entry.hgf_boost != 0 and fx.met_signal"),
    Flag("entry_hypoxia", lambda p, fx: bool(p.tumour.entry.hypoxia_boost), "entry.hypoxia_boost != 0"),
    Flag("entry_death_signal", lambda p, fx: bool(p.tumour.entry.death_signal_boost),
         "entry.death_signal_boost != 0"),
    Flag("entry_block", lambda p, fx: "entry_block" in fx, "fx.entry_block exists"),
    Flag("dtep_ramp", lambda p, fx: p.tumour.dtep.ramp_h > 0, "dtep.ramp_h > 0"),
    Flag("dtep_hgf", lambda p, fx: bool(p.tumour.dtep.hgf_boost) and "met_signal" in fx,
         "dtep.hgf_boost != 0 and fx.met_signal"),
    Flag("hypoxia_o2_ramp", lambda p, fx: p.tumour.signals.hypoxic_mmHg > p.tumour.o2_necrosis_threshold_mmHg,
         "pO2 signal ramps (else a step)"),
    Flag("hypoxia_glucose_ramp",
         lambda p, fx: p.tumour.signals.low_glucose > p.tumour.glucose_starvation_threshold,
         "glucose signal ramps (else a step)"),
    Flag("initial", lambda p, fx: not (p.tumour.initial.primed_fraction == 0
                                       and p.tumour.initial.resistant_fraction == 0),
         "initial_phenotypes draws P/R"),
)

FLAGS = tuple(r.flag for r in RULES) + FACTORS


def _span(start: float, full: float) -> float:
    """start − full of a ramp (1 where the ramp is a step and the span unused)."""
    return start - full if start > full else 1.0


def _memory_lose(p) -> float:
    t = p.tumour
    return -math.expm1(-math.log(2.0) * p.step_h / (t.memory.half_life_generations * t.cycle_h))


#: Float parameters in kernel order (``sc[TR_<NAME>]`` in transitions.cu), each rounded once.
SCALARS = (
    Scalar("entry_sensitive", lambda p: p.tumour.entry.sensitive_per_h, "1/h"),
    Scalar("entry_primed", lambda p: p.tumour.entry.primed_per_h, "1/h"),
    Scalar("entry_memory_boost", lambda p: p.tumour.entry.memory_boost),
    Scalar("entry_g1_fraction", lambda p: p.tumour.entry.g1_fraction),
    Scalar("entry_g1_boost", lambda p: p.tumour.entry.g1_boost),
    Scalar("entry_hgf_boost", lambda p: p.tumour.entry.hgf_boost),
    Scalar("entry_hypoxia_boost", lambda p: p.tumour.entry.hypoxia_boost),
    Scalar("entry_death_signal_boost", lambda p: p.tumour.entry.death_signal_boost),
    Scalar("death_signal_half", lambda p: p.tumour.signals.death_signal_half),
    Scalar("hypoxic_mmHg", lambda p: p.tumour.signals.hypoxic_mmHg, "mmHg"),
    Scalar("hypoxic_span", lambda p: _span(p.tumour.signals.hypoxic_mmHg, p.tumour.o2_necrosis_threshold_mmHg),
           "mmHg"),
    Scalar("low_glucose", lambda p: p.tumour.signals.low_glucose),
    Scalar("low_glucose_span", lambda p: _span(p.tumour.signals.low_glucose, p.tumour.glucose_starvation_threshold)),
    Scalar("to_primed", lambda p: p.tumour.switching.to_primed_per_h, "1/h"),
    Scalar("to_sensitive", lambda p: p.tumour.switching.to_sensitive_per_h, "1/h"),
    Scalar("dtep_max", lambda p: p.tumour.dtep.max_per_h, "1/h"),
    Scalar("dtep_ramp_h", lambda p: p.tumour.dtep.ramp_h if p.tumour.dtep.ramp_h > 0 else 1.0, "h"),
    Scalar("dtep_hgf_boost", lambda p: p.tumour.dtep.hgf_boost),
    Scalar("revert_dtp", lambda p: p.tumour.reversion.dtp_per_h, "1/h"),
    Scalar("revert_dtep", lambda p: p.tumour.reversion.dtep_per_h, "1/h"),
    Scalar("memory_slowing", lambda p: p.tumour.reversion.memory_slowing),
    Scalar("induced", lambda p: p.tumour.mutation.induced_per_h, "1/h"),
    Scalar("memory_lose", _memory_lose, "memory lost per step without drug"),
    Scalar("memory_gain", lambda p: -math.expm1(-p.tumour.memory.gain_per_h * p.step_h), "memory gained per step"),
    Scalar("step_h", lambda p: p.step_h, "h"),
    Scalar("initial_primed", lambda p: p.tumour.initial.primed_fraction),
    Scalar("initial_primed_or_resistant",
           lambda p: p.tumour.initial.primed_fraction + p.tumour.initial.resistant_fraction),
)


def plan(model, fx=None) -> plans.Plan:
    """The transitions plan of this run for the drug effects ``fx`` (cached per set of present
    effects). ``extra``: field channels ``ch_oxygen``, ``ch_glucose``, ``ch_death_signal`` (0
    where no rule reads them)."""
    from lattice.processes.drugs import present

    have = present(fx)
    key = ("transitions.plan", have)
    if key not in model.cache:
        pl = plans.build(FLAGS, SCALARS, model.params, have)
        entry = pl.on("persister_entry")
        hypoxia, death = entry and pl.on("entry_hypoxia"), entry and pl.on("entry_death_signal")
        index = model.registry.index
        extra = {"ch_oxygen": index("oxygen") if hypoxia else 0, "ch_glucose": index("glucose") if hypoxia else 0,
                 "ch_death_signal": index("death_signal") if death else 0}
        model.cache[key] = plans.Plan(pl.flags, pl.names, pl.scalars, pl.f, extra)
    return model.cache[key]


def hazards(state: State, model, fx) -> list[tuple[str, object, object]]:
    """The active rules in partition order: ``(name, hazard 1/h, target code)``."""
    pl = plan(model, fx)
    out = []
    for rule in RULES:
        if not pl.on(rule.flag.name):
            continue
        if rule.target is None:
            k, target = rule.hazard(state, model, fx)
        else:
            k, target = rule.hazard(state, model, fx), rule.target
        out.append((rule.flag.name, k, target))
    return out


def update_memory(state: State, model, fx):
    """Memory after this step (see the module doc), float32 ``(R, *S)``."""
    xp, pl = model.xp, plan(model, fx)
    f32, f = xp.float32, pl.f
    cells, m = state.cells, state.memory
    live = codes.is_live_tumour(cells)
    lose = f["memory_lose"]
    if not pl.on("stress"):
        return xp.where(live, m - m * lose, m).astype(xp.float32)
    s = fx.stress
    persister = (cells == D) | (cells == E)
    new = m + xp.where(persister, (f32(1) - m) * f["memory_gain"] * s, f32(0)) - m * lose * (f32(1) - s)
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
    p_any = pmath.one_minus_exp_neg(total * plan(model, fx).f["step_h"])
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
