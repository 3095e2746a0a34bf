"""Config group ``immune``: effector CD8 T cells on the immune layer (docs/model.md "Immune").

T cells are recruited at vessel voxels (rate ∝ local chemokine × immune competence), move by a
chemokine-biased random walk in fixed sub-steps (the pull rule of division), kill tumour cells
in contact with a probability that persisters reduce (CD70, PD-L1), TGF-β suppresses and anti-PD-1
restores, secrete IFN-γ while engaged (which raises PD-L1 on tumour cells), exhaust after
repeated kills and die. Rules: :mod:`lattice.processes.immune`.

Organ and host presets scale some of these values (``organ.t_cell_recruitment``, ``host.*``):
the effective values the model runs with are computed once by :func:`lattice.params.host.apply`.

Literature: Halle et al. 2016 (Immunity 44:233, 2–16 kills per CTL per day in vivo); Nilsson et al.
2023 (Cancer Cell 41:340, CD70 on EGFR-TKI persisters, ref. 30 of Wang 2025); Shahbandi et al.
2022 (Nat Cancer 3:1513, PD-L1 on residual cells after chemotherapy, ref. 94); Hoekstra 2020 and
Thibaut 2020 (IFN-γ spreads > 800 µm); Yu et al. 2021 (Nat Med 27:152, FasL⁺ liver macrophages
eliminate CD8 T cells, ref. 100); reviewed in Wang et al. 2025 (Nat Commun, docs/references.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from lattice.params.spec import Params, param
from lattice.params.tumour import STATE_NAMES


@dataclass
class ImmuneParams(Params):
    """Effector CD8 T cells: recruitment, movement, killing, IFN-γ, exhaustion and death."""

    enabled: bool = param(
        True, "", "run the immune process (T cells appear only with recruitment > 0 or initial_t_cells > 0)",
    )
    initial_t_cells: float = param(
        0.0, "fraction of voxels", "effector T cells seeded on the immune layer at t = 0 (co-culture assays)",
        min=0.0, max=1.0,
    )
    recruitment_per_h: float = param(
        0.1, "1/h per vessel voxel", "T-cell entry hazard at a free vessel voxel at saturating chemokine: "
        "k × C/(C + chemokine_half) (∝ chemokine at low levels) × organ.t_cell_recruitment × host competence",
        min=0.0, source="(uncertain): with vessels 200 µm apart, ~10–30 CD8 T cells per mm² of tumour within a week "
        "(hot NSCLC: hundreds per mm²)",
    )
    chemokine_half: float = param(
        1.0, "chemokine units", "chemokine level of half-maximal recruitment", min=0.0, min_exclusive=True,
        source="(uncertain)",
    )
    moves_per_h: float = param(
        6.0, "voxel moves per h", "movement sub-steps per hour (fixed count per step: round(moves_per_h × step_h)); "
        "each sub-step a T cell may hop to a free neighbour", min=0.0,
        source="T cells crawl ~5–10 µm/min in tissue (docs/references.md: check) with frequent turns and pauses: "
        "net ~2 µm/min ≈ 6 voxels/h of 20 µm (uncertain)",
    )
    chemotaxis: float = param(
        0.8, "", "maximal bias up the chemokine gradient: weight of a free neighbour = 1 + χ · clip(κ (Cₙ − C)/"
        "(Cₙ + C + floor), −1, 1) (0: unbiased walk)", min=0.0, max=0.99, source="(uncertain)",
    )
    chemotaxis_sensitivity: float = param(
        10.0, "", "κ: relative chemokine difference between neighbours that gives the full bias is 1/κ "
        "(κ = 10: a profile decaying over ~250 µm biases each hop by ~1/3)", min=0.0, source="(uncertain)",
    )
    gradient_floor: float = param(
        0.01, "chemokine units", "floor in the relative-gradient denominator (no bias where there is no chemokine)",
        min=0.0, min_exclusive=True,
    )
    kill_rate_per_h: float = param(
        0.5, "1/h", "hazard that a T cell kills the tumour cell it engages (a fully susceptible target); "
        "at most one kill per T cell per step", min=0.0,
        source="1 − e^(−0.5) = 0.39 per hour of contact ≈ 9 kills/day with targets at hand; Halle 2016: 2–16 "
        "targets per CTL per day in vivo (docs/references.md: solid)",
    )
    cd70: dict[str, float] = param(
        {"dtp": 0.5, "dtep": 0.3}, "fraction", "fraction of killing blocked by CD70 (CD27 engagement) per tumour "
        "state; not reversed by anti-PD-1", min=0.0, max=1.0, keys=STATE_NAMES,
        source="EGFR-TKI persisters up-regulate CD70 (Nilsson 2023, Wang 2025 ref. 30); size (uncertain)",
    )
    pdl1: dict[str, float] = param(
        {"dtp": 0.5, "dtep": 0.3}, "fraction", "fraction of killing blocked by constitutive PD-L1 per tumour "
        "state; anti-PD-1 removes it", min=0.0, max=1.0, keys=STATE_NAMES,
        source="residual cells after chemotherapy express PD-L1 (Shahbandi 2022, Wang 2025 ref. 94); size (uncertain)",
    )
    ifng_pdl1: float = param(
        0.8, "fraction", "extra PD-L1 block at saturating IFN-γ: pdl1 = 1 − (1 − pdl1_state)(1 − ifng_pdl1 · I/(I + "
        "ifng_half))", min=0.0, max=1.0,
        source="IFN-γ induces PD-L1 (adaptive resistance; Thibaut 2020); size (uncertain)",
    )
    ifng_half: float = param(1.0, "ifng units", "IFN-γ level of half-maximal effect (PD-L1, chemokine)",
                             min=0.0, min_exclusive=True, source="(uncertain)")
    tgfb_suppression: float = param(
        0.7, "fraction", "fraction of T-cell killing suppressed at saturating TGF-β: × (1 − s · T/(T + tgfb_half))",
        min=0.0, max=1.0, source="TGF-β from CAFs/TAMs excludes and suppresses CD8 T cells (Wang 2025 §microenvironment, "
        "ref. 97); size (uncertain)",
    )
    tgfb_half: float = param(1.0, "tgfb units", "TGF-β level of half-maximal suppression", min=0.0, min_exclusive=True,
                             source="(uncertain)")
    arrest_after_kill: bool = param(
        True, "", "a T cell that killed in this step does not move in it (it stays on its target)",
        source="CTLs arrest on targets while killing (Halle 2016)",
    )
    kills_to_exhaustion: int = param(
        10, "kills", "an effector T cell becomes exhausted (code 2: no killing) after this many kills", min=1,
        source="serial killing capacity is limited (Halle 2016); (uncertain)",
    )
    chemokine_ifng_boost: float = param(
        2.0, "×", "tumour chemokine secretion × (1 + boost · I/(I + ifng_half)) (IFN-γ induces CXCL9/10)", min=0.0,
        source="(uncertain)",
    )
    t_cell_death_per_h: float = param(
        1.0 / 72.0, "1/h", "death hazard of an effector T cell", min=0.0,
        source="effector lifespan of days in tumours (uncertain)",
    )
    exhausted_death_per_h: float = param(
        1.0 / 48.0, "1/h", "death hazard of an exhausted T cell", min=0.0, source="(uncertain)",
    )
    fasl_kill_per_h: float = param(
        1.0, "1/h per adjacent killer macrophage", "hazard that a T-cell-killing macrophage (code 4, FasL⁺) kills "
        "an adjacent T cell", min=0.0,
        source="liver FasL⁺ macrophages eliminate CD8 T cells (Yu 2021, Wang 2025 ref. 100); rate (uncertain)",
    )
