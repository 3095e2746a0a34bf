"""Transport of every field over one cell step (DESIGN §2, step 2).

Uptake and secretion come from the cells as they are at the start of the step: each field has
a lookup table from occupant code to first-order uptake u (1/min) and to secretion s
(units/min); vessel voxels add their permeability p to u and p × blood level to s. The solver
(``fields.solver``) then advances ∂c/∂t = D∇²c − (λ + u)c + s by the step in
``fields.substeps`` solves.
"""

from __future__ import annotations

import numpy as np

from lattice import codes
from lattice.solvers import get_solver
from lattice.state import State


def rate_tables(model) -> tuple["np.ndarray", "np.ndarray"]:
    """``(uptake, secretion)`` lookup tables, float32 ``(F, 256)`` indexed by occupant code."""
    if "diffusion.tables" not in model.cache:
        n = len(model.registry)
        uptake = np.zeros((n, 256), dtype=np.float64)
        secretion = np.zeros((n, 256), dtype=np.float64)
        for i, spec in enumerate(model.registry):
            fp = spec.params
            for table, rates in ((uptake, fp.uptake_per_min), (secretion, fp.secretion_per_min)):
                # Broad classes first ("tumour"), so that specific states ("dtp") override them.
                for cls_name in sorted(rates, key=lambda k: len(codes.RATE_CLASSES[k])):
                    table[i, list(codes.RATE_CLASSES[cls_name])] = rates[cls_name]
            uptake[i, codes.VESSEL] += fp.vessel_permeability_per_min
            secretion[i, codes.VESSEL] += fp.vessel_permeability_per_min * fp.vessel_value
        xp = model.xp
        model.cache["diffusion.tables"] = (
            xp.asarray(uptake, dtype=xp.float32), xp.asarray(secretion, dtype=xp.float32)
        )
    return model.cache["diffusion.tables"]


def update(state: State, model) -> State:
    """Advance all enabled fields by one cell step; returns a new state (fields replaced)."""
    xp, p = model.xp, model.params
    specs = list(model.registry)
    boundaries = sorted({s.params.boundary for s in specs if s.params.enabled})
    if not boundaries:
        return state
    uptake_lut, secretion_lut = rate_tables(model)
    R, F = state.fields.shape[:2]
    spatial = state.fields.shape[2:]
    dt_min = p.step_h * 60.0 / p.fields.substeps
    solve = get_solver(p.fields.solver)
    options = {"cycles": p.fields.cycles} if p.fields.solver == "multigrid" else {}

    new_fields = state.fields.copy()
    for boundary in boundaries:
        idx = [i for i, s in enumerate(specs) if s.params.enabled and s.params.boundary == boundary]
        sel = xp.asarray(idx)
        # (F_sel, R, *S) -> (R, F_sel, *S) -> (R*F_sel, *S): one batch of independent fields.
        u = xp.moveaxis(uptake_lut[sel][:, state.cells], 0, 1).reshape((R * len(idx), *spatial))
        s = xp.moveaxis(secretion_lut[sel][:, state.cells], 0, 1).reshape((R * len(idx), *spatial))
        per_field = lambda attr: xp.asarray(  # noqa: E731
            np.tile([getattr(specs[i].params, attr) for i in idx], R), dtype=xp.float32
        )
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


def field(state: State, model, name: str):
    """The ``(R, *S)`` array of the field called ``name``."""
    return state.fields[:, model.registry.index(name)]
