"""CuPy launcher for ``placement.cu``: the CUDA twin of :func:`lattice.processes.placement.divide`.

Allocations go through ``model.xp`` and the argument helpers of :mod:`lattice.kernels._rules`,
shared with the other per-voxel twins. Loaded IEEE-exact (:func:`lattice.kernels._loader.ieee_module`)
because it takes decisions that must match NumPy in both the exact and the fast mode.
"""

from __future__ import annotations

import numpy as np

from lattice.processes.placement import LINEAGE

from . import _rules
from ._loader import ieee_module, launch_1d


class Placement:
    def __init__(self, exact: bool = False, mod=None):
        self.exact = exact
        self.mod = mod if mod is not None else ieee_module("placement")

    def divide(self, state, intents, model):
        """Same contract as the NumPy ``divide``: returns ``(state, renewed)``."""
        xp = model.xp
        n = _rules.voxels(model)
        dims = tuple(np.int32(v) for v in _rules.dims(model))
        offsets, n_dirs = _rules.offsets(model)
        cells = _rules.arg(model, state.cells, np.uint8)
        target = xp.empty(cells.shape, dtype=xp.int32)
        key = xp.empty(cells.shape, dtype=xp.float32)
        winner = xp.empty(cells.shape, dtype=xp.int32)
        launch_1d(self.mod.get_function("choose_targets"), n,
                  (cells, _rules.arg(model, intents, np.bool_), offsets, n_dirs, *dims,
                   _rules.seed_arg(model), _rules.step_arg(state), target, key))
        launch_1d(self.mod.get_function("accept"), n, (cells, target, key, offsets, n_dirs, *dims, winner))
        inputs = [cells] + [_rules.arg(model, a, np.float32) for a in (state.clock, state.memory, state.timer_h)]
        out = [xp.empty_like(a) for a in inputs]
        renewed = xp.empty(cells.shape, dtype=xp.bool_)
        launch_1d(self.mod.get_function("apply"), n,
                  (*inputs, target, winner, offsets, n_dirs, *dims, *out, renewed))
        cells, clock, memory, timer = out
        lineage = {}
        for name in LINEAGE:  # daughters copy the mother's barcodes (only arrays the run has)
            ids = getattr(state, name)
            if ids is None:
                continue
            lineage[name] = xp.empty(cells.shape, dtype=xp.uint32)
            launch_1d(self.mod.get_function("inherit"), n,
                      (_rules.arg(model, ids, np.uint32), winner, offsets, n_dirs, *dims, lineage[name]))
        return state.replace(cells=cells, clock=clock, memory=memory, timer_h=timer, **lineage), renewed


def load(exact: bool = False) -> Placement:
    return Placement(exact)
