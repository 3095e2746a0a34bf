"""Per-step observables (docs/model.md step 6, §5 ``summary.h5/timeseries``).

Counted on the device; only these few numbers per replicate cross to the host each step.
With a treatment, per drug ``d``: ``plasma_<d>`` (mean plasma or bath level over the step, µM),
``on_<d>`` (1 when the schedule had it on), ``cumulative_dose_<d>`` (doses so far) and
``tumour_<d>_uM`` (mean local concentration at live tumour cells); and ``baseline_burden``
(burden at therapy start, NaN before), ``progression_threshold`` (factor × baseline). Immune:
``t_cells``, ``exhausted_t_cells``, ``macrophages``, ``killer_macrophages`` (counts now) and the
cumulative events ``recruited``, ``kills``, ``exhausted``, ``t_cell_deaths``,
``t_cells_killed_by_macrophages``; stroma: ``caf``, ``senescent_caf``. :func:`column_doc` gives
every column's units and description (the ``summary.h5`` dataset attributes).
"""

from __future__ import annotations

import math

import numpy as np

from lattice import codes
from lattice.state import IMMUNE_EVENTS, State

#: summary column -> cell code (the timeseries columns of docs/outputs.md, in order).
CELL_COLUMNS = {
    "sensitive": codes.SENSITIVE, "primed": codes.PRIMED, "dtp": codes.DTP, "dtep": codes.DTEP,
    "resistant": codes.RESISTANT, "dead": codes.DEAD, "necrotic": codes.NECROTIC,
}
IMMUNE_COLUMNS = {
    "t_cells": codes.T_CELL, "exhausted_t_cells": codes.EXHAUSTED_T_CELL, "macrophages": codes.MACROPHAGE,
}
EXTRA_CELL_COLUMNS = {"caf": codes.CAF, "vessel": codes.VESSEL, "normal": codes.NORMAL,
                      "senescent_caf": codes.SENESCENT_CAF}
EXTRA_IMMUNE_COLUMNS = {"killer_macrophages": codes.KILLER_MACROPHAGE}

#: summary.h5 column -> (units, description). Per-drug columns are in :data:`DRUG_COLUMN_DOCS`.
COLUMN_DOCS: dict[str, tuple[str, str]] = {
    "time_h": ("h", "simulated time at the end of the step (first row: t = 0)"),
    "sensitive": ("cells", "drug-sensitive tumour cells (S)"),
    "primed": ("cells", "primed tumour cells (P), on the way to drug tolerance"),
    "dtp": ("cells", "drug-tolerant persister cells (D)"),
    "dtep": ("cells", "drug-tolerant expanded persisters (E), cycling under drug"),
    "resistant": ("cells", "genetically resistant tumour cells (R)"),
    "dead": ("voxels", "dead tumour cells not yet cleared"),
    "necrotic": ("voxels", "necrotic voxels"),
    "tumour_total": ("cells", "live tumour burden: sensitive + primed + dtp + dtep + resistant"),
    "t_cells": ("cells", "active T cells"),
    "exhausted_t_cells": ("cells", "exhausted T cells"),
    "macrophages": ("cells", "macrophages (TAMs)"),
    "o2_mean_mmHg": ("mmHg", "mean oxygen partial pressure over the lattice"),
    "hypoxic_fraction": ("1", "fraction of live tumour cells below tumour.signals.hypoxic_mmHg of oxygen"),
    "caf": ("cells", "cancer-associated fibroblasts"),
    "vessel": ("voxels", "vessel voxels"),
    "normal": ("cells", "normal (host) tissue cells"),
    "senescent_caf": ("cells", "senescent cancer-associated fibroblasts"),
    "memory_mean": ("1", "mean drug-exposure memory of live tumour cells (0–1)"),
    "killer_macrophages": ("cells", "FasL+ (killer) macrophages"),
    "recruited": ("cells", "T cells recruited since t = 0 (cumulative)"),
    "kills": ("cells", "tumour cells killed by T cells since t = 0 (cumulative)"),
    "exhausted": ("cells", "T cells exhausted since t = 0 (cumulative)"),
    "t_cell_deaths": ("cells", "T-cell deaths since t = 0 (cumulative)"),
    "t_cells_killed_by_macrophages": ("cells", "T cells killed by FasL+ macrophages since t = 0 (cumulative)"),
    "baseline_burden": ("cells", "live tumour burden when therapy started (NaN before)"),
    "progression_threshold": ("cells", "treatment.progression_factor × baseline_burden (NaN before therapy)"),
    "clones": ("clones", "surviving clones: distinct non-zero barcodes among live tumour cells (barcoded runs)"),
    "largest_clone": ("cells", "live tumour cells of the largest clone (barcoded runs)"),
    "shared_clones": ("clones", "surviving clones also alive in the sister dish (replicate r XOR 1; −1: none)"),
    "measured_burden": ("cells", "last monitoring result reported to the schedules (NaN before the first)"),
    "measured_baseline": ("cells", "monitoring result reported when therapy started (NaN before)"),
    "measured_progression_h": ("h", "first reported result above progression_factor × measured_baseline (−1: none)"),
    "biopsy_dtp_fraction": ("1", "biopsy DTP fraction among the sampled live tumour cells (NaN between visits)"),
}
#: Per-drug column prefix/suffix -> (units, description with {drug}).
DRUG_COLUMN_DOCS: dict[tuple[str, str], tuple[str, str]] = {
    ("plasma_", ""): ("uM", "mean plasma (or bath) level of {drug} over the step"),
    ("on_", ""): ("1", "1 when the schedule had {drug} on during the step, else 0"),
    ("cumulative_dose_", ""): ("doses", "doses of {drug} given so far"),
    ("tumour_", "_uM"): ("uM", "mean local concentration of {drug} at live tumour cells"),
}


def column_doc(name: str) -> tuple[str, str] | None:
    """``(units, description)`` of a ``summary.h5`` column, or None for a name this module does
    not produce."""
    if name in COLUMN_DOCS:
        return COLUMN_DOCS[name]
    for (prefix, suffix), (units, text) in DRUG_COLUMN_DOCS.items():
        if name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix) + len(suffix):
            return units, text.format(drug=name[len(prefix):len(name) - len(suffix)])
    return None


def _counts(layer, xp, n_codes: int = 16):
    """``(R, n_codes)`` histogram of a uint8 layer, one bincount for all replicates."""
    R = layer.shape[0]
    flat = layer.reshape(R, -1).astype(xp.int64) + (xp.arange(R, dtype=xp.int64) * n_codes)[:, None]
    return xp.bincount(flat.ravel(), minlength=R * n_codes).reshape(R, n_codes)


def _mean_over(mask, values, xp):
    """Mean of ``values`` over ``mask`` per replicate (0 where the mask is empty)."""
    R = mask.shape[0]
    n = mask.reshape(R, -1).sum(axis=1)
    total = xp.where(mask, values, 0).reshape(R, -1).sum(axis=1, dtype=xp.float64)
    return xp.where(n > 0, total / xp.maximum(n, 1), 0.0)


def observe(state: State, model) -> dict[str, np.ndarray]:
    """Counts and field statistics per replicate, as NumPy ``(R,)`` arrays."""
    xp = model.xp
    cells = _counts(state.cells, xp)
    immune = _counts(state.immune, xp)
    live = (state.cells >= codes.SENSITIVE) & (state.cells <= codes.RESISTANT)
    o2 = state.fields[:, model.registry.index("oxygen")]
    n_live = live.reshape(live.shape[0], -1).sum(axis=1)
    # The model's own hypoxia threshold (the pO2 below which its hypoxia signal starts), so
    # hypoxic_fraction counts exactly the cells the model treats as hypoxic.
    hypoxic = (live & (o2 < model.params.tumour.signals.hypoxic_mmHg)).reshape(live.shape[0], -1).sum(axis=1)
    out = {name: cells[:, c] for name, c in CELL_COLUMNS.items()}
    out["tumour_total"] = sum(cells[:, c] for c in codes.TUMOUR_CODES)
    out |= {name: immune[:, c] for name, c in IMMUNE_COLUMNS.items()}
    out["o2_mean_mmHg"] = o2.reshape(o2.shape[0], -1).mean(axis=1)
    out["hypoxic_fraction"] = xp.where(n_live > 0, hypoxic / xp.maximum(n_live, 1), 0.0)
    out |= {name: cells[:, c] for name, c in EXTRA_CELL_COLUMNS.items()}
    out["memory_mean"] = _mean_over(live, state.memory, xp)
    out |= {name: immune[:, c] for name, c in EXTRA_IMMUNE_COLUMNS.items()}
    out |= immune_event_columns(state, xp)
    if state.has_therapy:
        out |= therapy_columns(state, model, live)
    if state.has_barcodes:
        from lattice.lineage import columns as lineage_columns

        out |= lineage_columns(state, xp)
    if state.has_monitoring:
        out |= monitoring_columns(state, model)
    return {k: model.backend.asnumpy(v) for k, v in out.items()}


def monitoring_columns(state: State, model) -> dict[str, np.ndarray]:
    """The measured series (lattice.processes.monitoring): last reported value, its baseline,
    the first reported progression and, with biopsies, the biopsy DTP fraction at visits."""
    from lattice.processes.monitoring import biopsy

    out = {"measured_burden": state.measured, "measured_baseline": state.measured_baseline,
           "measured_progression_h": state.measured_progression_h}
    fraction = biopsy(state, model)
    if fraction is not None:
        out["biopsy_dtp_fraction"] = fraction
    return out


def immune_event_columns(state: State, xp) -> dict[str, np.ndarray]:
    """Cumulative immune events since t = 0 (``State.immune_events``; zeros without T cells):
    ``recruited``, ``kills`` (tumour cells killed by T cells), ``exhausted``, ``t_cell_deaths``,
    ``t_cells_killed_by_macrophages``."""
    if state.immune_events is None:
        zero = xp.zeros(state.replicates, dtype=xp.int64)
        return {name: zero for name in IMMUNE_EVENTS}
    return {name: state.immune_events[:, i] for i, name in enumerate(IMMUNE_EVENTS)}


def therapy_columns(state: State, model, live) -> dict[str, np.ndarray]:
    """Per-drug plasma level, on flag, cumulative dose and tumour concentration; baseline."""
    xp = model.xp
    out = {}
    for d, name in enumerate(model.drug_names):
        out[f"plasma_{name}"] = state.exposure[:, d]
        out[f"on_{name}"] = state.drug_on[:, d]
        out[f"cumulative_dose_{name}"] = state.cumulative_dose[:, d]
        local = state.fields[:, model.registry.index(f"drug_{name}")]
        out[f"tumour_{name}_uM"] = _mean_over(live, local, xp)
    started = state.baseline >= 0
    baseline = xp.where(started, state.baseline.astype(xp.float64), math.nan)
    out["baseline_burden"] = baseline
    out["progression_threshold"] = baseline * model.params.treatment.progression_factor
    return out
