"""Deterministic placement of daughters: the **pull** rule (docs/model.md, step 4).

1. Each cell that intends to divide and has at least one free neighbour (empty, or normal
   tissue, which tumour cells displace) picks one of its free neighbours uniformly
   (``u₀ × n_free``, neighbours in ``Grid.offsets`` order) and draws a priority key ``u₁``.
2. Each free voxel accepts, among the cells that picked it, the one with the smallest key
   (ties: the lower direction index). Losers keep their intent and try again next step.
3. The daughter inherits the mother's state, memory and barcodes (when the run has them); both
   start a new cycle (clock 0).

Every decision depends only on the start-of-step state and the counter-based random numbers,
never on the order in which voxels are visited, so the result is the same on any backend and
for any traversal; no voxel ever receives two cells.
"""

from __future__ import annotations

from lattice import codes
from lattice.grid import shift
from lattice.rng import Stream
from lattice.state import State

#: Voxels a daughter may occupy: empty, or normal tissue (displaced by the tumour).
free_space = codes.is_free_space


def choose_targets(state: State, intents, model):
    """Step 1: the direction index each dividing cell proposes to (−1: none) and its key."""
    xp, offsets = model.xp, model.grid.offsets
    free = free_space(state.cells)
    # free_at[d][v]: is the neighbour at v + offsets[d] free? (outside the lattice: no)
    free_at = [shift(free, tuple(-o for o in off), fill=False) for off in offsets]
    n_free = sum(f.astype(xp.int32) for f in free_at)
    u_dir, u_key, _, _ = model.uniforms(Stream.PLACEMENT, state.step)
    can = intents & (n_free > 0)
    choice = xp.minimum((u_dir * n_free.astype(xp.float32)).astype(xp.int32), n_free - 1)
    target = xp.full(state.cells.shape, -1, dtype=xp.int32)
    seen = xp.zeros(state.cells.shape, dtype=xp.int32)
    for d, f in enumerate(free_at):
        target = xp.where(can & f & (seen == choice), d, target)
        seen = seen + f.astype(xp.int32)
    return target, u_key


NO_KEY = 2.0  # priority keys are uniforms < 1
#: Per-cell lineage arrays the daughter copies from the mother when present (State.barcode, evolving).
LINEAGE = ("barcode", "evolving")


def accept(target, key, free, offsets, xp):
    """Step 2 of the pull rule, shared by division and immune movement: for every ``free``
    voxel, the direction of the accepted proposer (smallest ``key``; ties: lower direction),
    −1 where nobody proposed. ``target[v] = d`` means the occupant of v proposes v + offsets[d]."""
    no_key = xp.float32(NO_KEY)
    best_key = xp.full(target.shape, no_key, dtype=xp.float32)
    winner = xp.full(target.shape, -1, dtype=xp.int32)
    for d, off in enumerate(offsets):
        # The occupant of v − off proposing in direction d targets v.
        proposal = shift(xp.where(target == d, key, no_key), off, fill=NO_KEY)
        better = free & (proposal < best_key)
        best_key = xp.where(better, proposal, best_key)
        winner = xp.where(better, d, winner)
    return winner


def accepted(target, winner, offsets, xp):
    """The proposers whose target voxel accepted them (mothers that divided, cells that moved)."""
    done = xp.zeros(target.shape, dtype=bool)
    for d, off in enumerate(offsets):
        done |= (target == d) & (shift(winner, tuple(-o for o in off), fill=-1) == d)
    return done


def divide(state: State, intents, model) -> tuple[State, object]:
    """Place daughters by the pull rule.

    Returns:
        The new state and the boolean mask of voxels that hold a new cycle: the mothers that
        divided and their daughters (used by rules applied at division, e.g. mutation).
    """
    twin = model.backend.kernel("placement")
    if twin is not None:  # CUDA twin (kernels/placement.cu), same decisions bit for bit
        return twin.divide(state, intents, model)
    xp, offsets = model.xp, model.grid.offsets
    target, key = choose_targets(state, intents, model)
    free = free_space(state.cells)
    winner = accept(target, key, free, offsets, xp)

    cells, clock, memory, timer = state.cells, state.clock, state.memory, state.timer_h
    new_cells, new_memory = cells, memory
    lineage = {k: getattr(state, k) for k in LINEAGE if getattr(state, k) is not None}
    for d, off in enumerate(offsets):
        here = winner == d
        new_cells = xp.where(here, shift(cells, off), new_cells)
        new_memory = xp.where(here, shift(memory, off), new_memory)
        for k, a in lineage.items():
            lineage[k] = xp.where(here, shift(getattr(state, k), off), a)
    divided = accepted(target, winner, offsets, xp)
    born = winner >= 0
    renewed = born | divided
    zero = xp.float32(0)
    state = state.replace(
        cells=new_cells.astype(xp.uint8),
        clock=xp.where(renewed, zero, clock),
        memory=new_memory,
        timer_h=xp.where(born, zero, timer),
        **{k: a.astype(xp.uint32) for k, a in lineage.items()},
    )
    return state, renewed
