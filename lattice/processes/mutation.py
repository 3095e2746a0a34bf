"""Inheritance at division (docs/model.md): what daughters carry, and mutation to R.

The pull placement (:mod:`lattice.processes.placement`) gives each daughter its mother's state
and memory and restarts both cycles (clock 0); its ``renewed`` mask marks both cells of every
division. Here each renewed S, P, D or E cell independently becomes genetically resistant (R,
heritable: R daughters stay R) with probability ``mutation.per_division``, multiplied by
``mutation.persister_multiplier`` in DTPs and DTEPs — adaptive mutability, 7–50× under targeted
therapy (Russo et al. 2019). One uniform of stream MUTATION per voxel and step.
"""

from __future__ import annotations

from lattice import codes
from lattice.processes import lineage, plans
from lattice.rng import Stream
from lattice.state import State

FLAGS = (plans.Flag("mutation", lambda p, fx: p.tumour.mutation.per_division != 0, "mutation.per_division != 0"),)
SCALARS = (
    plans.Scalar("p_base", lambda p: p.tumour.mutation.per_division, "S, P daughters"),
    plans.Scalar("p_raised", lambda p: min(1.0, p.tumour.mutation.per_division
                                           * p.tumour.mutation.persister_multiplier), "D, E daughters"),
)


def plan(model) -> plans.Plan:
    """The mutation plan of this run (cached)."""
    if "mutation.plan" not in model.cache:
        model.cache["mutation.plan"] = plans.build(FLAGS, SCALARS, model.params, frozenset())
    return model.cache["mutation.plan"]


def probability(cells, model):
    """Per-daughter mutation probability, float32 ``(R, *S)`` (0 for R and non-tumour codes)."""
    xp, f = model.xp, plan(model).f
    f32 = xp.float32
    base = f["p_base"]
    raised = f["p_raised"]
    persister = (cells == codes.DTP) | (cells == codes.DTEP)
    sensitive = (cells == codes.SENSITIVE) | (cells == codes.PRIMED)
    return xp.where(persister, raised, xp.where(sensitive, base, f32(0)))


def update(state: State, renewed, model) -> State:
    """Mutate renewed (just divided or just born) cells, then their evolving barcodes (when the
    run has them, :func:`lattice.processes.lineage.mutate_evolving`); returns the new state."""
    return lineage.mutate_evolving(_resistance(state, renewed, model), renewed, model)


def _resistance(state: State, renewed, model) -> State:
    """Mutation to R of renewed cells."""
    twin = model.backend.kernel("mutation")
    if twin is not None:  # CUDA twin (kernels/), same decisions bit for bit
        return twin.update(state, renewed, model)
    if not plan(model).on("mutation"):
        return state
    xp = model.xp
    u = model.uniforms(Stream.MUTATION, state.step)[0]
    mutate = renewed & (u < probability(state.cells, model))
    return state.replace(
        cells=xp.where(mutate, codes.RESISTANT, state.cells).astype(xp.uint8),
        timer_h=xp.where(mutate, xp.float32(0), state.timer_h),
    )
