"""Per-step observables (DESIGN §2 step 6, §5 ``summary.h5/timeseries``).

Counted on the device; only these few numbers per replicate cross to the host each step.
"""

from __future__ import annotations

import numpy as np

from lattice import codes
from lattice.state import State

#: summary column -> cell code (the timeseries columns of DESIGN §5, in order).
CELL_COLUMNS = {
    "sensitive": codes.SENSITIVE, "primed": codes.PRIMED, "dtp": codes.DTP, "dtep": codes.DTEP,
    "resistant": codes.RESISTANT, "dead": codes.DEAD, "necrotic": codes.NECROTIC,
}
IMMUNE_COLUMNS = {
    "t_cells": codes.T_CELL, "exhausted_t_cells": codes.EXHAUSTED_T_CELL, "macrophages": codes.MACROPHAGE,
}
EXTRA_CELL_COLUMNS = {"caf": codes.CAF, "vessel": codes.VESSEL, "normal": codes.NORMAL}
HYPOXIA_MMHG = 15.0  # PhysiCell hypoxic threshold (REFERENCES: solid)


def _counts(layer, xp, n_codes: int = 16):
    """``(R, n_codes)`` histogram of a uint8 layer, one bincount for all replicates."""
    R = layer.shape[0]
    flat = layer.reshape(R, -1).astype(xp.int64) + (xp.arange(R, dtype=xp.int64) * n_codes)[:, None]
    return xp.bincount(flat.ravel(), minlength=R * n_codes).reshape(R, n_codes)


def observe(state: State, model) -> dict[str, np.ndarray]:
    """Counts and field statistics per replicate, as NumPy ``(R,)`` arrays."""
    xp = model.xp
    cells = _counts(state.cells, xp)
    immune = _counts(state.immune, xp)
    live = (state.cells >= codes.SENSITIVE) & (state.cells <= codes.RESISTANT)
    o2 = state.fields[:, model.registry.index("oxygen")]
    n_live = live.reshape(live.shape[0], -1).sum(axis=1)
    hypoxic = (live & (o2 < HYPOXIA_MMHG)).reshape(live.shape[0], -1).sum(axis=1)
    out = {name: cells[:, c] for name, c in CELL_COLUMNS.items()}
    out["tumour_total"] = sum(cells[:, c] for c in codes.TUMOUR_CODES)
    out |= {name: immune[:, c] for name, c in IMMUNE_COLUMNS.items()}
    out["o2_mean_mmHg"] = o2.reshape(o2.shape[0], -1).mean(axis=1)
    out["hypoxic_fraction"] = xp.where(n_live > 0, hypoxic / xp.maximum(n_live, 1), 0.0)
    out |= {name: cells[:, c] for name, c in EXTRA_CELL_COLUMNS.items()}
    return {k: model.backend.asnumpy(v) for k, v in out.items()}
