"""The simulation state: a plain dataclass of arrays (DESIGN §2, STYLE).

Everything needed to continue a run is here, the RNG position included (the step counter:
random numbers are a pure function of seed, replicate, voxel, step and stream).
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


@dataclass
class State:
    """Arrays of shape ``(R, *grid.shape)`` with R replicates; ``fields`` is ``(R, F, *grid.shape)``.

    Attributes:
        cells: uint8 tumour/stroma layer, codes of :mod:`lattice.codes`.
        clock: float32 cell-cycle progress in [0, 1]; a cell at 1 is ready to divide.
        memory: float32 drug-exposure memory in [0, 1] (DTP life cycle).
        timer_h: float32 hours spent in the current state (apoptosis clearance, DTP→DTEP).
        immune: uint8 immune layer, codes of :mod:`lattice.codes`.
        fields: float32 concentrations, channels in registry order.
        step: completed cell steps (the RNG counter's step word for the next step).
    """

    cells: "np.ndarray"
    clock: "np.ndarray"
    memory: "np.ndarray"
    timer_h: "np.ndarray"
    immune: "np.ndarray"
    fields: "np.ndarray"
    step: int = 0

    @classmethod
    def empty(cls, replicates: int, shape: tuple[int, ...], n_fields: int, xp=np) -> "State":
        vox = (replicates, *shape)
        arrays = {name: xp.zeros(vox, dtype=dt) for name, dt in VOXEL_ARRAYS.items()}
        return cls(**arrays, fields=xp.zeros((replicates, n_fields, *shape), dtype=xp.float32))

    def replace(self, **changes) -> "State":
        """A new State sharing unchanged arrays (processes return new states, never mutate)."""
        return replace(self, **changes)

    def arrays(self) -> dict[str, "np.ndarray"]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "step"}

    @property
    def replicates(self) -> int:
        return int(self.cells.shape[0])
