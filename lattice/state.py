"""The simulation state: a plain dataclass of arrays (docs/architecture.md).

Everything needed to continue a run is here, the RNG position included (the step counter:
random numbers are a pure function of seed, replicate, voxel, step and stream), and, when a
treatment has drugs, the per-replicate therapy state (pharmacokinetics, schedule, burden
memory for adaptive rules), and, when T cells can exist, their kill counters and the cumulative
immune event counts. The writer saves every array of :meth:`State.arrays` and resume
rebuilds ``State(**arrays)``, so a resumed run continues exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

#: Per-voxel arrays other than fields, with their dtypes, in a fixed order (resume, output).
VOXEL_ARRAYS = {
    "cells": np.uint8,
    "clock": np.float32,
    "memory": np.float32,
    "timer_h": np.float32,
    "immune": np.uint8,
}

#: Immune arrays, present only when T cells can exist in the run (lattice.processes.immune.initial):
#: per-voxel kill counter of the T cell in that voxel (moves with it), and per-replicate cumulative
#: event counts (columns in IMMUNE_EVENTS order).
IMMUNE_ARRAYS = {"t_kills": np.uint8, "immune_events": np.int64}
IMMUNE_EVENTS = ("recruited", "kills", "exhausted", "t_cell_deaths", "t_cells_killed_by_macrophages")

#: Lineage arrays, present only when barcodes are on (tumour.barcodes.mode != none;
#: lattice.processes.lineage): the heritable clone id and, with evolving_per_division > 0, the
#: evolving barcode. Meaningful where ``cells`` holds a tumour cell; a cleared voxel keeps a stale
#: value that nothing reads (the next cell placed there overwrites it).
LINEAGE_ARRAYS = {"barcode": np.uint32, "evolving": np.uint32}

#: Per-replicate monitoring arrays, present only when treatment.monitoring.kind != exact
#: (lattice.processes.monitoring), float64 ``(R,)``; NaN: no value.
MONITORING_ARRAYS = ("measured", "measured_baseline", "pending", "pending_due_h", "measured_progression_h")

#: Per-replicate therapy arrays: name -> (dtype, per drug?). Present only when the treatment
#: has at least one drug (None otherwise), shape ``(R, n_drugs)`` or ``(R,)``.
THERAPY_ARRAYS = {
    "drug_on": (np.uint8, True),
    "plasma": (np.float32, True),
    "exposure": (np.float32, True),
    "since_dose_h": (np.float32, True),
    "cumulative_dose": (np.float32, True),
    "burden": (np.int64, False),
    "baseline": (np.int64, False),
    "progression_h": (np.float32, False),
}


@dataclass
class State:
    """Arrays of shape ``(R, *grid.shape)`` with R replicates; ``fields`` is ``(R, F, *grid.shape)``.

    Attributes:
        cells: uint8 tumour/stroma layer, codes of :mod:`lattice.codes`.
        clock: float32 cell-cycle progress in [0, 1]; a cell at 1 is ready to divide.
        memory: float32 drug-exposure memory in [0, 1] (DTP life cycle; inherited at division).
        timer_h: float32 hours spent in the current state (apoptosis clearance, DTP→DTEP).
        immune: uint8 immune layer, codes of :mod:`lattice.codes`.
        fields: float32 concentrations, channels in registry order.
        drug_on: uint8 ``(R, n_drugs)``: the schedule had the drug on during the last step.
        plasma: float32 ``(R, n_drugs)``: plasma concentration (µM) at the end of the last step
            (the pharmacokinetic state).
        exposure: float32 ``(R, n_drugs)``: mean plasma (or bath) level over the last step,
            what vessels delivered (µM).
        since_dose_h: float32 ``(R, n_drugs)``: hours from the last bolus to the end of the last
            step (−1: never dosed).
        cumulative_dose: float32 ``(R, n_drugs)``: doses given so far (infusion/constant/bath:
            hours on / interval_h).
        burden: int64 ``(R,)``: live tumour cells at the end of the last step (read by adaptive
            schedules in the next step).
        baseline: int64 ``(R,)``: burden when therapy started (−1: not started yet).
        progression_h: float32 ``(R,)``: time of the first progression (burden > factor ×
            baseline), −1 until then.
        t_kills: uint8 ``(R, *S)``: kills made by the T cell in each voxel (saturates at 255; it
            moves with the cell); None when the run has no T cells.
        immune_events: int64 ``(R, 5)``: cumulative recruited T cells, tumour cells killed by T
            cells, T cells exhausted, T-cell deaths, T cells killed by macrophages (IMMUNE_EVENTS).
        barcode: uint32 ``(R, *S)``: heritable clone id of the tumour cell in each voxel (0:
            unlabelled), copied to the daughter at division; None without barcodes.
        evolving: uint32 ``(R, *S)``: evolving barcode, inherited and mutated at division with
            probability ``tumour.barcodes.evolving_per_division``; None unless that is > 0.
        measured: float64 ``(R,)``: the last monitoring result available to the schedules
            (biomarker in cells, or DTP fraction); NaN before the first one.
        measured_baseline: float64 ``(R,)``: the measurement available when therapy started.
        pending: float64 ``(R,)``: a measurement taken but not yet reported (delay); NaN none.
        pending_due_h: float64 ``(R,)``: when ``pending`` is reported, h.
        measured_progression_h: float64 ``(R,)``: first time the reported measurement exceeded
            progression_factor × measured_baseline (what sequential schedules switch on), −1 none.
        step: completed cell steps (the RNG counter's step word for the next step).
    """

    cells: np.ndarray
    clock: np.ndarray
    memory: np.ndarray
    timer_h: np.ndarray
    immune: np.ndarray
    fields: np.ndarray
    drug_on: np.ndarray | None = None
    plasma: np.ndarray | None = None
    exposure: np.ndarray | None = None
    since_dose_h: np.ndarray | None = None
    cumulative_dose: np.ndarray | None = None
    burden: np.ndarray | None = None
    baseline: np.ndarray | None = None
    progression_h: np.ndarray | None = None
    t_kills: np.ndarray | None = None
    immune_events: np.ndarray | None = None
    barcode: np.ndarray | None = None
    evolving: np.ndarray | None = None
    measured: np.ndarray | None = None
    measured_baseline: np.ndarray | None = None
    pending: np.ndarray | None = None
    pending_due_h: np.ndarray | None = None
    measured_progression_h: np.ndarray | None = None
    step: int = 0

    @classmethod
    def empty(cls, replicates: int, shape: tuple[int, ...], n_fields: int, xp=np, n_drugs: int | None = None) -> State:
        """Zeroed arrays; the therapy arrays only when ``n_drugs`` is given (≥ 1)."""
        vox = (replicates, *shape)
        arrays = {name: xp.zeros(vox, dtype=dt) for name, dt in VOXEL_ARRAYS.items()}
        state = cls(**arrays, fields=xp.zeros((replicates, n_fields, *shape), dtype=xp.float32))
        if n_drugs:
            state = state.replace(**empty_therapy(replicates, n_drugs, xp))
        return state

    def replace(self, **changes) -> State:
        """A new State sharing unchanged arrays (processes return new states, never mutate)."""
        return replace(self, **changes)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array to save (therapy arrays only when present)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name != "step" and getattr(self, f.name) is not None}

    @property
    def replicates(self) -> int:
        return int(self.cells.shape[0])

    @property
    def has_therapy(self) -> bool:
        return self.drug_on is not None

    @property
    def has_t_cells(self) -> bool:
        return self.t_kills is not None

    @property
    def has_barcodes(self) -> bool:
        return self.barcode is not None

    @property
    def has_monitoring(self) -> bool:
        return self.measured is not None


def empty_therapy(replicates: int, n_drugs: int, xp=np) -> dict[str, np.ndarray]:
    """Therapy arrays at t = 0: nothing given, never dosed, no progression."""
    out = {}
    for name, (dt, per_drug) in THERAPY_ARRAYS.items():
        shape = (replicates, n_drugs) if per_drug else (replicates,)
        out[name] = xp.zeros(shape, dtype=dt)
    out["since_dose_h"] = xp.full((replicates, n_drugs), -1.0, dtype=xp.float32)
    out["progression_h"] = xp.full((replicates,), -1.0, dtype=xp.float32)
    out["baseline"] = xp.full((replicates,), -1, dtype=xp.int64)
    return out
