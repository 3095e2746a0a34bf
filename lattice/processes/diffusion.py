"""Transport of every field over one cell step (docs/model.md, step 2).

Uptake and secretion come from the cells as they are at the start of the step
(:mod:`lattice.processes.sources`: the cell layer's lookup tables, vessels, drug delivery from
the plasma, the immune layer and the IFN-γ boost of the chemokine). The solver
(``fields.solver``) then advances ∂c/∂t = D∇²c − (λ + u)c + s by the step in
``fields.substeps`` solves. A field's channel is read with :func:`lattice.fields.field`.
"""

from __future__ import annotations

import numpy as np

from lattice.processes.sources import add_drug_vessel_sources, add_immune_sources, rate_tables
from lattice.solvers import get_solver
from lattice.state import State


def update(state: State, model) -> State:
    """Advance all enabled fields by one cell step; returns a new state (fields replaced)."""
    xp, p = model.xp, model.params
    specs = list(model.registry)
    boundaries = sorted({s.params.boundary for s in specs if s.params.enabled})
    if not boundaries:
        return state
    uptake_lut, secretion_lut = rate_tables(model)
    R = state.fields.shape[0]
    spatial = state.fields.shape[2:]
    dt_min = p.step_h * 60.0 / p.fields.substeps
    solve = get_solver(p.fields.solver)
    options = ({"cycles": p.fields.cycles, "exact": model.backend.exact,
                "kernel": model.backend.kernel("multigrid")} if p.fields.solver == "multigrid" else {})

    new_fields = state.fields.copy()
    for boundary in boundaries:
        idx = [i for i, s in enumerate(specs) if s.params.enabled and s.params.boundary == boundary]
        sel = xp.asarray(idx)
        # (F_sel, R, *S) -> (R, F_sel, *S) -> (R*F_sel, *S): one batch of independent fields.
        u = xp.moveaxis(uptake_lut[sel][:, state.cells], 0, 1).reshape((R * len(idx), *spatial))
        s = xp.moveaxis(secretion_lut[sel][:, state.cells], 0, 1).reshape((R * len(idx), *spatial))
        def per_field(attr, idx=idx):
            return xp.asarray(np.tile([getattr(specs[i].params, attr) for i in idx], R), dtype=xp.float32)

        s = add_drug_vessel_sources(s, state, model, idx, R, spatial)
        s = add_immune_sources(s, state, model, idx, R, spatial)
        c = state.fields[:, idx].reshape((R * len(idx), *spatial))
        for _ in range(p.fields.substeps):
            c = solve(
                c, dt_min=dt_min, spacing_um=model.grid.spacing_um,
                diffusion=per_field("diffusion_um2_per_min"), decay=per_field("decay_per_min"),
                uptake=u, source=s, boundary=boundary, boundary_value=per_field("boundary_value"),
                **options,
            )
        new_fields[:, idx] = c.reshape((R, len(idx), *spatial))
    return state.replace(fields=new_fields)
