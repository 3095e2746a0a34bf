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

Secretion per field, computed on the field side (:mod:`lattice.processes.sources`) = the
cell-layer table (``fields.<f>.secretion_per_min``, by cell code) + the immune-layer table
(``fields.<f>.immune_secretion_per_min``, by immune class; an effector T cell touching a live
tumour cell — same voxel or a neighbour — at the start of the step is class
``engaged_t_cell``) + the IFN-γ boost of the chemokine; all from the state at the start of the
step.

**Senescent fibroblasts** (option, ``organ.stroma.senescence_per_h`` > 0): a CAF exposed to a
cytotoxic drug becomes senescent (code 11, SASP: secretes more) with probability
1 − exp(−k·E(c)·Δt), E the cytotoxic drugs' Hill effect at naive sensitivity (max over drugs) —
chemotherapy-induced senescence of lung fibroblasts reawakens dormant cells (He 2025, Wang 2025
ref. 93). One uniform of stream STROMA per voxel and step (draw 1).
"""

from __future__ import annotations

from lattice import codes, pmath
from lattice.fields import field
from lattice.rng import Stream
from lattice.state import State


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
