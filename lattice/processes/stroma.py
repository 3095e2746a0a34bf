"""Stroma and the microenvironment signals (docs/model.md "Microenvironment").

Cancer-associated fibroblasts (CAFs, cell code 8) are placed at t = 0 (:mod:`lattice.processes.initial`:
patterns scattered, bands, capsule) and do not divide. Macrophages sit on the immune layer
(TAMs, code 3; T-cell-killing FasL⁺ macrophages, code 4). Both secrete:

- **HGF** (``hgf``): the MET signal HGF/(HGF + K) × (1 − MET inhibition) in tumour cells protects
  from the primary drug, raises persister entry and DTEP emergence (:mod:`lattice.processes.drugs`,
  :mod:`lattice.processes.transitions`; Straussman 2012, Wang 2025 ref. 98). A ``met_inhibitor``
  drug removes it.
- **TGF-β** (``tgfb``): suppresses T-cell killing (:mod:`lattice.processes.immune`).

T cells engaged with a tumour cell secrete **IFN-γ** (``ifng``: raises PD-L1); live tumour cells
secrete the T-cell **chemokine** (``chemokine``), × (1 + ``immune.chemokine_ifng_boost`` ·
I/(I + ``immune.ifng_half``)) under IFN-γ.

Secretion per field = the cell-layer table (``fields.<f>.secretion_per_min``, by cell code) +
the immune-layer table (``fields.<f>.immune_secretion_per_min``, by immune class; an effector T
cell touching a live tumour cell — same voxel or a neighbour — at the start of the step is class
``engaged_t_cell``) + the IFN-γ boost of the chemokine; all from the state at the start of the step.

**Senescent fibroblasts** (option, ``organ.stroma.senescence_per_h`` > 0): a CAF exposed to a
cytotoxic drug becomes senescent (code 11, SASP: secretes more) with probability
1 − exp(−k·E(c)·Δt), E the cytotoxic drugs' Hill effect at naive sensitivity (max over drugs) —
chemotherapy-induced senescence of lung fibroblasts reawakens dormant cells (He 2025, Wang 2025
ref. 93). One uniform of stream STROMA per voxel and step (draw 1).
"""

from __future__ import annotations

import numpy as np

from lattice import codes, pmath
from lattice.grid import shift
from lattice.rng import Stream
from lattice.state import State

#: Microenvironment fields kept in the registry only when something can secrete them.
STROMA_FIELDS = ("hgf", "tgfb")
IMMUNE_FIELDS = ("ifng", "chemokine")


def field(state: State, model, name: str):
    """The ``(R, *S)`` array of the field called ``name`` (as diffusion.field; no import cycle)."""
    return state.fields[:, model.registry.index(name)]


def stroma_present(params) -> bool:
    """CAFs or macrophages exist (at t = 0) in this run."""
    st = params.organ.stroma
    return (st.caf_pattern != "none" and st.caf_density > 0) or st.macrophage_density > 0


def immune_active(params) -> bool:
    """T cells can exist in this run (recruited or seeded); uses the effective parameters."""
    im = params.immune
    return im.enabled and (im.recruitment_per_h > 0 or im.initial_t_cells > 0)


def active_fields(params) -> set[str]:
    """Names of the microenvironment fields this run solves (the others are left out of the
    registry, so a tumour-only run has exactly the channels it had before)."""
    out = set()
    if stroma_present(params):
        out |= set(STROMA_FIELDS)
    if immune_active(params):
        out |= set(IMMUNE_FIELDS)
    return out


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


def add_sources(s, state: State, model, idx: list[int], R: int, spatial):
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
        from lattice.processes.diffusion import rate_tables

        j = idx.index(boost)
        _, secretion = rate_tables(model)
        ifn = xp.maximum(field(state, model, "ifng"), f32(0))
        im = model.params.immune
        signal = ifn / (ifn + f32(im.ifng_half))
        # Cell-table secretion only (vessels do not secrete chemokine): × boost × IFN-γ signal.
        base = xp.where(state.cells == codes.VESSEL, f32(0), secretion[boost][state.cells])
        s[:, j] = s[:, j] + base * (f32(im.chemokine_ifng_boost) * signal)
    return s.reshape((R * len(idx), *spatial))


def cytotoxic_effect(state: State, model):
    """float32 ``(R, *S)``: max over cytotoxic drugs of Emax·Hill(c) at naive sensitivity, or None."""
    xp = model.xp
    out = None
    for name, d in model.params.treatment.drugs.items():
        if d.kind != "cytotoxic":
            continue
        e = pmath.hill(field(state, model, f"drug_{name}"), d.ec50_uM, d.hill_n, d.emax)
        out = e if out is None else xp.maximum(out, e)
    return out


def update(state: State, model) -> State:
    """Chemotherapy-induced senescence of CAFs (docs/model.md step 3, from the start-of-step state)."""
    k = model.params.organ.stroma.senescence_per_h
    if k <= 0:
        return state
    effect = cytotoxic_effect(state, model)
    if effect is None:
        return state
    xp = model.xp
    f32 = xp.float32
    p = pmath.one_minus_exp_neg(f32(k * model.params.step_h) * effect)
    u = model.uniforms(Stream.STROMA, state.step, draw=1)[0]
    becomes = (state.cells == codes.CAF) & (u < p)
    return state.replace(
        cells=xp.where(becomes, codes.SENESCENT_CAF, state.cells).astype(xp.uint8),
        timer_h=xp.where(becomes, f32(0), state.timer_h),
    )
