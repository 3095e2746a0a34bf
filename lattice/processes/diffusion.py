"""Transport of every field over one cell step (docs/model.md, step 2).

Uptake and secretion come from the cells as they are at the start of the step: each field has
a lookup table from occupant code to first-order uptake u (1/min) and to secretion s
(units/min); vessel voxels add their permeability p to u and p × blood level to s; the immune
layer adds its own secretion table and tumour chemokine rises with IFN-γ
(:func:`lattice.processes.stroma.add_sources`). For a drug
field ``drug_<name>`` the blood level is the replicate's plasma level over this step
(``State.exposure``, set by :mod:`lattice.processes.therapy`), so its vessel source is
p × exposure[r] per replicate and per step. The solver (``fields.solver``) then advances
∂c/∂t = D∇²c − (λ + u)c + s by the step in ``fields.substeps`` solves.
"""

from __future__ import annotations

import numpy as np

from lattice import codes
from lattice.processes import stroma
from lattice.solvers import get_solver
from lattice.state import State


def rate_tables(model) -> tuple[np.ndarray, np.ndarray]:
    """``(uptake, secretion)`` lookup tables, float32 ``(F, 256)`` indexed by occupant code."""
    if "diffusion.tables" not in model.cache:
        n = len(model.registry)
        uptake = np.zeros((n, 256), dtype=np.float64)
        secretion = np.zeros((n, 256), dtype=np.float64)
        for i, spec in enumerate(model.registry):
            fp = spec.params
            for table, rates in ((uptake, fp.uptake_per_min), (secretion, fp.secretion_per_min)):
                # Broad classes first ("tumour"), so that specific states ("dtp") override them.
                for cls_name in sorted(rates, key=lambda k: -len(codes.RATE_CLASSES[k])):
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
    R = state.fields.shape[0]
    spatial = state.fields.shape[2:]
    dt_min = p.step_h * 60.0 / p.fields.substeps
    solve = get_solver(p.fields.solver)
    options = ({"cycles": p.fields.cycles, "exact": model.backend.exact} if p.fields.solver == "multigrid" else {})

    new_fields = state.fields.copy()
    for boundary in boundaries:
        idx = [i for i, s in enumerate(specs) if s.params.enabled and s.params.boundary == boundary]
        sel = xp.asarray(idx)
        # (F_sel, R, *S) -> (R, F_sel, *S) -> (R*F_sel, *S): one batch of independent fields.
        u = xp.moveaxis(uptake_lut[sel][:, state.cells], 0, 1).reshape((R * len(idx), *spatial))
        s = xp.moveaxis(secretion_lut[sel][:, state.cells], 0, 1).reshape((R * len(idx), *spatial))
        def per_field(attr, idx=idx):
            return xp.asarray(np.tile([getattr(specs[i].params, attr) for i in idx], R), dtype=xp.float32)

        s = _add_drug_vessel_sources(s, state, model, idx, R, spatial)
        s = stroma.add_sources(s, state, model, idx, R, spatial)
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


def drug_channels(model) -> dict[int, int]:
    """Field channel index → drug index (column of the therapy arrays) for drug fields."""
    if "diffusion.drug_channels" not in model.cache:
        names = model.registry.names
        model.cache["diffusion.drug_channels"] = {
            names.index(f"drug_{d}"): k for k, d in enumerate(model.params.treatment.drugs)
            if f"drug_{d}" in names
        }
    return model.cache["diffusion.drug_channels"]


def _add_drug_vessel_sources(s, state: State, model, idx: list[int], R: int, spatial):
    """Add p × exposure[r] at vessel voxels to the secretion of drug channels, per replicate."""
    channels = drug_channels(model)
    mine = [(j, channels[i], i) for j, i in enumerate(idx) if i in channels]
    if not mine or state.exposure is None:
        return s
    xp = model.xp
    s = s.reshape((R, len(idx), *spatial)).copy()
    vessel = state.cells == codes.VESSEL
    lead = (R,) + (1,) * len(spatial)
    for j, d, i in mine:
        perm = xp.float32(model.registry.specs[i].params.vessel_permeability_per_min)
        level = (perm * state.exposure[:, d]).reshape(lead)
        s[:, j] = s[:, j] + xp.where(vessel, level, xp.float32(0))
    return s.reshape((R * len(idx), *spatial))


def field(state: State, model, name: str):
    """The ``(R, *S)`` array of the field called ``name``."""
    return state.fields[:, model.registry.index(name)]
