"""Label codes of the two lattice layers (docs/outputs.md) with their names and display colours.

The codes are part of the output contract: the viewer, the reports and external scripts rely
on them, so they never change meaning.
"""

from __future__ import annotations

# Tumour/stroma layer (uint8).
EMPTY = 0
SENSITIVE = 1
PRIMED = 2
DTP = 3
DTEP = 4
RESISTANT = 5
DEAD = 6  # apoptotic, cleared after a delay
NECROTIC = 7
CAF = 8
VESSEL = 9
NORMAL = 10
SENESCENT_CAF = 11  # chemotherapy-induced senescent fibroblast (SASP), optional (organ.stroma.senescence_per_h)

#: Live tumour states, the ones that cycle, consume and count as burden. The one definition of
#: "live tumour": :func:`is_live_tumour` tests it on arrays and the kernels get the same set
#: from ``kernels/constants.cuh`` (generated from here by ``python -m lattice.kernels.gen_constants``).
TUMOUR_CODES = (SENSITIVE, PRIMED, DTP, DTEP, RESISTANT)

#: code -> (name, RGBA colour in 0..1). Colours chosen to stay distinct for colour-blind readers
#: (Okabe–Ito palette) where the number of classes allows.
CELL_LABELS: dict[int, tuple[str, tuple[float, float, float, float]]] = {
    EMPTY: ("empty", (0.0, 0.0, 0.0, 0.0)),
    SENSITIVE: ("sensitive", (0.00, 0.45, 0.70, 1.0)),
    PRIMED: ("primed", (0.34, 0.71, 0.91, 1.0)),
    DTP: ("dtp", (0.90, 0.62, 0.00, 1.0)),
    DTEP: ("dtep", (0.84, 0.37, 0.00, 1.0)),
    RESISTANT: ("resistant", (0.80, 0.10, 0.10, 1.0)),
    DEAD: ("dead", (0.60, 0.60, 0.60, 1.0)),
    NECROTIC: ("necrotic", (0.25, 0.25, 0.25, 1.0)),
    CAF: ("caf", (0.00, 0.62, 0.45, 1.0)),
    VESSEL: ("vessel", (0.80, 0.47, 0.65, 1.0)),
    NORMAL: ("normal", (0.94, 0.89, 0.26, 0.35)),
    SENESCENT_CAF: ("senescent_caf", (0.55, 0.80, 0.70, 1.0)),
}

# Immune layer (uint8).
NO_IMMUNE = 0
T_CELL = 1
EXHAUSTED_T_CELL = 2
MACROPHAGE = 3
KILLER_MACROPHAGE = 4

IMMUNE_LABELS: dict[int, tuple[str, tuple[float, float, float, float]]] = {
    NO_IMMUNE: ("none", (0.0, 0.0, 0.0, 0.0)),
    T_CELL: ("t_cell", (0.0, 1.0, 0.2, 1.0)),
    EXHAUSTED_T_CELL: ("exhausted_t_cell", (0.5, 0.7, 0.5, 1.0)),
    MACROPHAGE: ("macrophage", (0.6, 0.2, 0.8, 1.0)),
    KILLER_MACROPHAGE: ("killer_macrophage", (1.0, 0.0, 1.0, 1.0)),
}

#: Lookup class (never stored in the immune layer) of an effector T cell engaged with a live tumour
#: cell in contact at the start of the step: it secretes IFN-γ (``fields.ifng.immune_secretion_per_min``).
ENGAGED_T_CELL_CLASS = 255

def _membership(codes_: tuple[int, ...]):
    """A vectorised ``cells ∈ codes_`` for uint8 arrays of any array module: one range test
    when the codes are consecutive (two comparisons), else one comparison per code."""
    lo, hi = min(codes_), max(codes_)
    if set(codes_) == set(range(lo, hi + 1)):
        return lambda cells: (cells >= lo) & (cells <= hi)

    def member(cells):
        out = cells == codes_[0]
        for c in codes_[1:]:
            out = out | (cells == c)
        return out

    return member


#: ``is_live_tumour(cells)``: boolean array, True where the code is in :data:`TUMOUR_CODES`.
is_live_tumour = _membership(TUMOUR_CODES)

#: Codes a daughter (or a displaced voxel) may take: empty, or normal tissue that tumour cells displace.
FREE_SPACE_CODES = (EMPTY, NORMAL)
#: ``is_free_space(cells)``: boolean array, True where a daughter cell may be placed.
is_free_space = _membership(FREE_SPACE_CODES)

CELL_CODE_BY_NAME = {name: code for code, (name, _) in CELL_LABELS.items()}

#: Consumer classes accepted as keys of per-cell-type rates in the config (uptake, secretion):
#: every cell name above, plus "tumour" meaning all live tumour states.
RATE_CLASSES = {"tumour": TUMOUR_CODES} | {
    name: (code,) for code, (name, _) in CELL_LABELS.items() if code != EMPTY
}

#: Immune-layer classes accepted as keys of ``fields.<f>.immune_secretion_per_min``: every immune
#: name except none, plus ``engaged_t_cell`` (a T cell in contact with a live tumour cell).
#: ``t_cell`` covers engaged ones too; the more specific ``engaged_t_cell`` overrides it.
IMMUNE_RATE_CLASSES = {
    "t_cell": (T_CELL, ENGAGED_T_CELL_CLASS),
    "engaged_t_cell": (ENGAGED_T_CELL_CLASS,),
    "exhausted_t_cell": (EXHAUSTED_T_CELL,),
    "macrophage": (MACROPHAGE,),
    "killer_macrophage": (KILLER_MACROPHAGE,),
}
