"""The immune layer (docs/model.md "Immune", §2 step 5): effector CD8 T cells that kill tumour cells,
exhaust, die, are recruited at vessels and move up the chemokine gradient; macrophages (static)
that kill T cells in the liver.

The immune layer is separate from the tumour layer (at most one immune cell per voxel; a T cell
may sit on a tumour cell's voxel). A tumour cell is *in contact* with a T cell when it is in the
T cell's voxel or a neighbour (``grid.neighbourhood``). In this order, after placement:

1. **Killing.** Each effector T cell (code 1) in contact with live tumour cells picks one of them
   uniformly (own voxel first, then neighbours in ``Grid.offsets`` order: u₀ × n) and succeeds
   with probability potency(T) × p(target):

   - p(target) = 1 − exp(−k·Δt·s), k = ``immune.kill_rate_per_h``, susceptibility
     s = (1 − cd70[state]) · (1 − PD-L1 · (1 − anti-PD-1)), PD-L1 = 1 − (1 − pdl1[state]) ·
     (1 − ifng_pdl1 · I/(I + ifng_half)): persisters evade (CD70, PD-L1; Nilsson 2023,
     Shahbandi 2022), IFN-γ raises PD-L1 (adaptive resistance), anti-PD-1 (the ``anti_pd1`` drug's
     Hill effect at the target's voxel) removes the PD-L1 block;
   - potency(T) = 1 − tgfb_suppression · T/(T + tgfb_half) (TGF-β at the T cell's voxel).

   A tumour cell chosen by several successful T cells dies once; the kill is credited to the one
   with the smallest key u₂ (the pull rule; ties: own voxel, then lower direction). The victim
   becomes apoptotic (code 6); the winner's kill counter (``State.t_kills``) rises by one and,
   with ``arrest_after_kill``, it stays put for the rest of the step. At most one kill per T cell
   per step (Halle 2016: 2–16 targets per CTL per day).
2. **Exhaustion.** An effector with ``kills_to_exhaustion`` kills becomes exhausted (code 2): no
   more killing, no IFN-γ.
3. **Death.** T cells (codes 1, 2) die with p = 1 − exp(−(k_state + k_FasL · n)·Δt), n = adjacent
   T-cell-killing macrophages (code 4, FasL⁺; Yu 2021); the share k_FasL·n / total is counted as
   killed by macrophages.
4. **Recruitment.** A free vessel voxel (cell code 9, no immune cell at the start of this stage)
   gains an effector T cell with p = 1 − exp(−k_rec·Δt·C/(C + chemokine_half)), C the local
   chemokine: rate ∝ chemokine (at low levels) × organ.t_cell_recruitment × host competence
   (applied to ``recruitment_per_h`` by :func:`lattice.params.host.apply`).
5. **Movement.** n = round(moves_per_h × step_h) sub-steps (a fixed count). In each, every T cell
   (1 or 2, not arrested) proposes a free immune-layer neighbour with weights
   w_d = 1 + χ · clip(κ (C_d − C)/(C_d + C + floor), −1, 1) (chemokine-biased random walk:
   u₀ × Σw over the cumulative weights), and draws a key u₁; each free voxel accepts the proposer with the
   smallest key (the pull rule of :mod:`lattice.processes.placement`); the kill counter moves
   with the cell. Voxels vacated in a sub-step are free only from the next one.

Killing comes first (docs/model.md lists the immune stage's parts, not their order) so that it reads
the contacts made by the previous step's movement and a T cell that kills stays on its target
instead of walking away before it strikes; recruits and survivors then move.

Random numbers: stream IMMUNE draw 0 (killing: u₀ choice, u₁ success, u₂ key), draw 1 (u₀ death,
u₁ recruitment); IMMUNE_MOVE draw = sub-step index (u₀ direction, u₁ key). Every decision
depends on the state and counter-based numbers only, never on visiting order.

Backends: the per-voxel probability maps (p(target), potency, death and recruitment
probabilities, movement weights) are computed here with ``xp`` — the same operations on NumPy and
CuPy, so the same bits; the neighbour-resolving decisions (kill choose/resolve/apply, death and
recruitment draws, movement sub-steps) have a CUDA twin (``kernels/immune.cu``) that only
selects, compares, adds and multiplies once, and draws Philox in-kernel.
"""

from __future__ import annotations

import math

import numpy as np

from lattice import codes, pmath
from lattice.fields import field, immune_active
from lattice.grid import shift
from lattice.params.tumour import STATE_NAMES
from lattice.processes import placement
from lattice.rng import Stream
from lattice.state import IMMUNE_EVENTS, State

EVENT = {name: i for i, name in enumerate(IMMUNE_EVENTS)}
#: Bits of the per-voxel ``flags`` of :func:`turnover`.
DIED, BY_MACROPHAGE, RECRUITED = 1, 2, 4
NO_KEY = placement.NO_KEY  # keys are uniforms < 1


def initial(state: State, model) -> State:
    """Add the kill counters and the event counts when T cells can exist in this run."""
    if not immune_active(model.params):
        return state
    xp = model.xp
    return state.replace(
        t_kills=xp.zeros(state.cells.shape, dtype=xp.uint8),
        immune_events=xp.zeros((state.replicates, len(IMMUNE_EVENTS)), dtype=xp.int64),
    )


def step_probability(rate_per_h: float, step_h: float) -> float:
    return -math.expm1(-rate_per_h * step_h)


def n_moves(model) -> int:
    """Movement sub-steps per cell step (fixed)."""
    return round(model.params.immune.moves_per_h * model.params.step_h)


def contact_offsets(model) -> tuple[tuple[int, ...], ...]:
    """Contact directions: own voxel first, then ``Grid.offsets``."""
    return ((0,) * model.grid.ndim, *model.grid.offsets)


def _state_table(model, name: str):
    key = f"immune.{name}"
    if key not in model.cache:
        table = np.zeros(256, dtype=np.float64)
        for state_name, code in zip(STATE_NAMES, codes.TUMOUR_CODES):
            table[code] = getattr(model.params.immune, name).get(state_name, 0.0)
        model.cache[key] = model.xp.asarray(table, dtype=model.xp.float32)
    return model.cache[key]


# -- per-voxel maps (xp, identical on both backends) -------------------------------------------

def target_probability(state: State, model, fx=None):
    """float32 ``(R, *S)``: probability that one fully potent T cell kills the live tumour cell in
    this voxel in one step (0 where there is none)."""
    xp, im = model.xp, model.params.immune
    f32 = xp.float32
    one = f32(1)
    cells = state.cells
    pdl1 = _state_table(model, "pdl1")[cells]
    if "ifng" in model.registry.names and im.ifng_pdl1 > 0:
        ifn = xp.maximum(field(state, model, "ifng"), f32(0))
        pdl1 = one - (one - pdl1) * (one - f32(im.ifng_pdl1) * (ifn / (ifn + f32(im.ifng_half))))
    checkpoint = None if fx is None else fx.checkpoint
    if checkpoint is not None:
        pdl1 = pdl1 * (one - checkpoint)
    s = (one - _state_table(model, "cd70")[cells]) * (one - pdl1)
    p = pmath.one_minus_exp_neg((f32(im.kill_rate_per_h * model.params.step_h) * s).astype(xp.float32))
    return xp.where(codes.is_live_tumour(cells), p, f32(0)).astype(xp.float32)


def potency(state: State, model):
    """float32 ``(R, *S)``: fraction of a T cell's killing left by TGF-β at its voxel."""
    xp, im = model.xp, model.params.immune
    f32 = xp.float32
    if "tgfb" not in model.registry.names or im.tgfb_suppression == 0:
        return xp.ones(state.cells.shape, dtype=xp.float32)
    t = xp.maximum(field(state, model, "tgfb"), f32(0))
    return (f32(1) - f32(im.tgfb_suppression) * (t / (t + f32(im.tgfb_half)))).astype(xp.float32)


def death_probabilities(immune, model):
    """``(p_death, q_macrophage)`` float32 ``(R, *S)``: a T cell dies if u < p_death, and counts as
    killed by macrophages if u < q_macrophage (q = p × FasL share of the hazard)."""
    xp, im, dt = model.xp, model.params.immune, model.params.step_h
    f32 = xp.float32
    base = xp.where(immune == codes.T_CELL, f32(im.t_cell_death_per_h),
                    xp.where(immune == codes.EXHAUSTED_T_CELL, f32(im.exhausted_death_per_h), f32(0)))
    if im.fasl_kill_per_h > 0:
        killers = immune == codes.KILLER_MACROPHAGE
        n = xp.zeros(immune.shape, dtype=xp.float32)
        for off in model.grid.offsets:
            n = n + shift(killers, tuple(-o for o in off), fill=False).astype(xp.float32)
        fasl = f32(im.fasl_kill_per_h) * n
    else:
        fasl = xp.zeros(immune.shape, dtype=xp.float32)
    total = base + fasl
    p = pmath.one_minus_exp_neg((total * f32(dt)).astype(xp.float32))
    positive = total > f32(0)
    share = xp.where(positive, fasl / xp.where(positive, total, f32(1)), f32(0))
    return p.astype(xp.float32), (p * share).astype(xp.float32)


def recruitment_probability(state: State, model):
    """float32 ``(R, *S)``: probability of a new T cell at each voxel (vessel voxels only)."""
    xp, im = model.xp, model.params.immune
    f32 = xp.float32
    vessel = state.cells == codes.VESSEL
    if im.recruitment_per_h <= 0 or "chemokine" not in model.registry.names:
        return xp.zeros(state.cells.shape, dtype=xp.float32)
    c = xp.maximum(field(state, model, "chemokine"), f32(0))
    x = f32(im.recruitment_per_h * model.params.step_h) * (c / (c + f32(im.chemokine_half)))
    return xp.where(vessel, pmath.one_minus_exp_neg(x.astype(xp.float32)), f32(0)).astype(xp.float32)


def move_weights(state: State, model):
    """float32 ``(n_dirs, R, *S)``: weight of a move from each voxel in each direction,
    1 + χ · clip(κ (C_d − C)/(C_d + C + floor), −1, 1) (chemokine at the start of the immune stage)."""
    xp, im = model.xp, model.params.immune
    f32 = xp.float32
    if "chemokine" in model.registry.names and im.chemotaxis > 0:
        c = xp.maximum(field(state, model, "chemokine"), f32(0))
        out = []
        for off in model.grid.offsets:
            cn = shift(c, tuple(-o for o in off), fill=0.0)
            rel = f32(im.chemotaxis_sensitivity) * ((cn - c) / ((cn + c) + f32(im.gradient_floor)))
            out.append(f32(1) + f32(im.chemotaxis) * xp.clip(rel, f32(-1), f32(1)))
        return xp.stack(out).astype(xp.float32)
    return xp.ones((len(model.grid.offsets), *state.cells.shape), dtype=xp.float32)


# -- decisions (NumPy reference; CUDA twin in kernels/immune.cu) --------------------------------

def kill(state: State, model, p_target, potency_):
    """Step 1: T cells kill tumour cells in contact.

    Returns:
        ``(state, killed, won)``: the new state (victims apoptotic, winners' counters + 1),
        the boolean mask of killed tumour cells and of T cells that killed.
    """
    twin = model.backend.kernel("immune")
    if twin is not None:
        return twin.kill(state, model, p_target, potency_)
    xp = model.xp
    f32 = xp.float32
    dirs = contact_offsets(model)
    cells, immune = state.cells, state.immune
    live = codes.is_live_tumour(cells)
    contact = [shift(live, tuple(-o for o in off), fill=False) for off in dirs]
    n = xp.zeros(cells.shape, dtype=xp.int32)
    for c in contact:
        n = n + c.astype(xp.int32)
    u_choice, u_hit, u_key, _ = model.uniforms(Stream.IMMUNE, state.step, draw=0)
    can = (immune == codes.T_CELL) & (n > 0)
    choice = xp.minimum((u_choice * n.astype(xp.float32)).astype(xp.int32), n - 1)
    target = xp.full(cells.shape, -1, dtype=xp.int32)
    p_sel = xp.zeros(cells.shape, dtype=xp.float32)
    seen = xp.zeros(cells.shape, dtype=xp.int32)
    for k, (off, c) in enumerate(zip(dirs, contact)):
        pick = can & c & (seen == choice)
        target = xp.where(pick, k, target)
        p_sel = xp.where(pick, shift(p_target, tuple(-o for o in off), fill=0.0), p_sel)
        seen = seen + c.astype(xp.int32)
    hit = (target >= 0) & (u_hit < potency_ * p_sel)
    target = xp.where(hit, target, -1)

    best = xp.full(cells.shape, NO_KEY, dtype=xp.float32)
    killer = xp.full(cells.shape, -1, dtype=xp.int32)
    for k, off in enumerate(dirs):
        proposal = shift(xp.where(target == k, u_key, f32(NO_KEY)), off, fill=NO_KEY)
        better = proposal < best
        best = xp.where(better, proposal, best)
        killer = xp.where(better, k, killer)
    killed = killer >= 0
    won = xp.zeros(cells.shape, dtype=bool)
    for k, off in enumerate(dirs):
        won |= (target == k) & (shift(killer, tuple(-o for o in off), fill=-1) == k)
    kills = xp.where(won & (state.t_kills < 255), state.t_kills + xp.uint8(1), state.t_kills).astype(xp.uint8)
    state = state.replace(
        cells=xp.where(killed, codes.DEAD, cells).astype(xp.uint8),
        clock=xp.where(killed, f32(0), state.clock),
        timer_h=xp.where(killed, f32(model.params.step_h), state.timer_h),
        t_kills=kills,
    )
    return state, killed, won


def turnover(state: State, model, p_death, q_macrophage, p_recruit):
    """Steps 3–4: T-cell death and recruitment at free vessel voxels.

    Returns:
        ``(immune, t_kills, flags)``; flags uint8 bits DIED, BY_MACROPHAGE, RECRUITED.
    """
    twin = model.backend.kernel("immune")
    if twin is not None:
        return twin.turnover(state, model, p_death, q_macrophage, p_recruit)
    xp = model.xp
    immune, kills = state.immune, state.t_kills
    u_death, u_recruit, _, _ = model.uniforms(Stream.IMMUNE, state.step, draw=1)
    t_cell = (immune == codes.T_CELL) | (immune == codes.EXHAUSTED_T_CELL)
    dies = t_cell & (u_death < p_death)
    by_mac = dies & (u_death < q_macrophage)
    recruit = (immune == codes.NO_IMMUNE) & (state.cells == codes.VESSEL) & (u_recruit < p_recruit)
    immune = xp.where(dies, codes.NO_IMMUNE, xp.where(recruit, codes.T_CELL, immune)).astype(xp.uint8)
    kills = xp.where(dies | recruit, xp.uint8(0), kills).astype(xp.uint8)
    flags = (dies.astype(xp.uint8) * xp.uint8(DIED) + by_mac.astype(xp.uint8) * xp.uint8(BY_MACROPHAGE)
             + recruit.astype(xp.uint8) * xp.uint8(RECRUITED)).astype(xp.uint8)
    return immune, kills, flags


def move_substep(immune, kills, weights, arrested, model, step: int, draw: int):
    """One movement sub-step by the pull rule; returns ``(immune, kills)``."""
    xp, offsets = model.xp, model.grid.offsets
    f32 = xp.float32
    free = immune == codes.NO_IMMUNE
    mobile = ((immune == codes.T_CELL) | (immune == codes.EXHAUSTED_T_CELL)) & ~arrested
    free_at = [shift(free, tuple(-o for o in off), fill=False) for off in offsets]
    u_dir, u_key, _, _ = model.uniforms(Stream.IMMUNE_MOVE, step, draw=draw)
    w = [xp.where(f, weights[d], f32(0)) for d, f in enumerate(free_at)]
    total = xp.zeros(immune.shape, dtype=xp.float32)
    for wd in w:
        total = total + wd
    threshold = u_dir * total
    cum = xp.zeros(immune.shape, dtype=xp.float32)
    target = xp.full(immune.shape, -1, dtype=xp.int32)
    last = xp.full(immune.shape, -1, dtype=xp.int32)
    for d, (f, wd) in enumerate(zip(free_at, w)):
        cum = cum + wd
        target = xp.where((target < 0) & f & (cum > threshold), d, target)
        last = xp.where(f, d, last)
    target = xp.where(mobile, xp.where(target < 0, last, target), -1)

    winner = placement.accept(target, u_key, free, offsets, xp)
    new_immune, new_kills = immune, kills
    for d, off in enumerate(offsets):
        here = winner == d
        new_immune = xp.where(here, shift(immune, off), new_immune)
        new_kills = xp.where(here, shift(kills, off), new_kills)
    moved = placement.accepted(target, winner, offsets, xp)
    new_immune = xp.where(moved, codes.NO_IMMUNE, new_immune).astype(xp.uint8)
    new_kills = xp.where(moved, xp.uint8(0), new_kills).astype(xp.uint8)
    return new_immune, new_kills


def move(state: State, model, weights, arrested):
    """Step 5: ``n_moves`` sub-steps of the biased walk; returns ``(immune, t_kills)``."""
    n = n_moves(model)
    if n == 0:
        return state.immune, state.t_kills
    twin = model.backend.kernel("immune")
    if twin is not None:
        return twin.move(state, model, weights, arrested, n)
    immune, kills = state.immune, state.t_kills
    for sub in range(n):
        immune, kills = move_substep(immune, kills, weights, arrested, model, state.step, sub)
    return immune, kills


def _per_replicate(mask, xp):
    return mask.reshape(mask.shape[0], -1).sum(axis=1).astype(xp.int64)


def update(state: State, model, fx=None) -> State:
    """The immune stage of one cell step (see the module doc); a no-op without T cells."""
    if not state.has_t_cells or not model.params.immune.enabled:
        return state
    xp, im = model.xp, model.params.immune
    # 1. killing
    state, killed, won = kill(state, model, target_probability(state, model, fx), potency(state, model))
    # 2. exhaustion
    exhaust = (state.immune == codes.T_CELL) & (state.t_kills >= min(im.kills_to_exhaustion, 255))
    state = state.replace(immune=xp.where(exhaust, codes.EXHAUSTED_T_CELL, state.immune).astype(xp.uint8))
    # 3–4. death and recruitment
    p_death, q_mac = death_probabilities(state.immune, model)
    immune, kills, flags = turnover(state, model, p_death, q_mac, recruitment_probability(state, model))
    arrested = won & (immune != codes.NO_IMMUNE) if im.arrest_after_kill else xp.zeros_like(won)
    state = state.replace(immune=immune, t_kills=kills)
    # 5. movement
    immune, kills = move(state, model, move_weights(state, model), arrested)
    counts = xp.stack([
        _per_replicate((flags & RECRUITED) > 0, xp), _per_replicate(killed, xp), _per_replicate(exhaust, xp),
        _per_replicate((flags & DIED) > 0, xp), _per_replicate((flags & BY_MACROPHAGE) > 0, xp),
    ], axis=1)
    return state.replace(immune=immune, t_kills=kills, immune_events=state.immune_events + counts)
