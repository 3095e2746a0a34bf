"""Sources and sinks of the fields (docs/model.md, step 2), from the cells as they are at the
start of the step: the field side of the model, read by :mod:`lattice.processes.diffusion`.

- the cell layer: per field a lookup table from occupant code to first-order uptake u (1/min)
  and to secretion s (units/min); vessel voxels add their permeability p to u and p × blood
  level to s (:func:`rate_tables`);
- drug fields ``drug_<name>``: the blood level is the replicate's plasma level over this step
  (``State.exposure``, set by :mod:`lattice.processes.therapy`), so the vessel source is
  p × exposure[r] per replicate (:func:`add_drug_vessel_sources`);
- the immune layer: ``fields.<f>.immune_secretion_per_min`` by immune class, an effector T cell
  touching a live tumour cell being class ``engaged_t_cell``; and the tumour chemokine rises with
  IFN-γ, × (1 + ``immune.chemokine_ifng_boost`` · I/(I + ``immune.ifng_half``))
  (:func:`add_immune_sources`).
"""

from __future__ import annotations

import numpy as np

from lattice import codes
from lattice.fields import field
from lattice.grid import shift
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


def drug_channels(model) -> dict[int, int]:
    """Field channel index → drug index (column of the therapy arrays) for drug fields."""
    if "diffusion.drug_channels" not in model.cache:
        names = model.registry.names
        model.cache["diffusion.drug_channels"] = {
            names.index(f"drug_{d}"): k for k, d in enumerate(model.params.treatment.drugs)
            if f"drug_{d}" in names
        }
    return model.cache["diffusion.drug_channels"]


def add_drug_vessel_sources(s, state: State, model, idx: list[int], R: int, spatial):
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


def engaged(state: State, model):
    """Boolean ``(R, *S)``: an effector T cell with a live tumour cell in its voxel or a neighbour."""
    live = codes.is_live_tumour(state.cells)
    contact = live.copy()
    for off in model.grid.offsets:
        contact |= shift(live, tuple(-o for o in off), fill=False)
    return (state.immune == codes.T_CELL) & contact


def immune_table(model):
    """``(table, channels)``: float32 ``(F, 256)`` immune-layer secretion per immune class (codes
    + engaged class; broad classes first, so ``engaged_t_cell`` overrides ``t_cell``) and the set
    of channels that have any (host-side, so that no step reads the device); None when none do."""
    if "stroma.immune_table" not in model.cache:
        n = len(model.registry)
        table = np.zeros((n, 256), dtype=np.float64)
        for i, spec in enumerate(model.registry):
            rates = spec.params.immune_secretion_per_min
            for cls in sorted(rates, key=lambda k: -len(codes.IMMUNE_RATE_CLASSES[k])):
                table[i, list(codes.IMMUNE_RATE_CLASSES[cls])] = rates[cls]
        channels = {i for i in range(n) if table[i].any()}
        model.cache["stroma.immune_table"] = (
            (model.xp.asarray(table, dtype=model.xp.float32), channels) if channels else None
        )
    return model.cache["stroma.immune_table"]


def add_immune_sources(s, state: State, model, idx: list[int], R: int, spatial):
    """Add the immune-layer secretion and the IFN-γ boost of the chemokine to ``s``
    (``(R·F_sel, *S)``, the channels ``idx`` of one solver batch)."""
    lut = immune_table(model)
    names = model.registry.names
    boost = None
    if "chemokine" in names and "ifng" in names and model.params.immune.chemokine_ifng_boost > 0:
        ch = names.index("chemokine")
        if ch in idx:
            boost = ch
    rows = [] if lut is None else [j for j, i in enumerate(idx) if i in lut[1]]
    if not rows and boost is None:
        return s
    xp = model.xp
    f32 = xp.float32
    s = s.reshape((R, len(idx), *spatial)).copy()
    if rows:
        table = lut[0]
        klass = xp.where(engaged(state, model), codes.ENGAGED_T_CELL_CLASS, state.immune).astype(xp.uint8)
        for j in rows:
            s[:, j] = s[:, j] + table[idx[j]][klass]
    if boost is not None:
        j = idx.index(boost)
        _, secretion = rate_tables(model)
        ifn = xp.maximum(field(state, model, "ifng"), f32(0))
        im = model.params.immune
        signal = ifn / (ifn + f32(im.ifng_half))
        # Cell-table secretion only (vessels do not secrete chemokine): × boost × IFN-γ signal.
        base = xp.where(state.cells == codes.VESSEL, f32(0), secretion[boost][state.cells])
        s[:, j] = s[:, j] + base * (f32(im.chemokine_ifng_boost) * signal)
    return s.reshape((R * len(idx), *spatial))
