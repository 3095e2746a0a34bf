"""CuPy launcher for ``placement.cu``: the CUDA twin of :func:`lattice.processes.placement.divide`."""

from __future__ import annotations

import numpy as np
from lattice.kernels._loader import launch_1d, module


class Placement:
    def __init__(self, exact: bool):
        self.mod = module("placement", exact)
        self._offsets = {}

    def _dims(self, model):
        shape = model.grid.shape
        nz, ny, nx = (1, *shape) if len(shape) == 2 else shape
        return model.params.replicates, nz, ny, nx

    def _offsets_for(self, model):
        import cupy

        key = model.grid.offsets
        if key not in self._offsets:
            offs = [(0, *o) if len(o) == 2 else o for o in key]
            self._offsets[key] = cupy.asarray(np.asarray(offs, dtype=np.int32).ravel())
        return self._offsets[key]

    def divide(self, state, intents, model):
        """Same contract as the NumPy ``divide``: returns ``(state, renewed)``."""
        import cupy

        R, nz, ny, nx = self._dims(model)
        n = R * nz * ny * nx
        offsets = self._offsets_for(model)
        n_dirs = np.int32(len(model.grid.offsets))
        dims = (np.int32(R), np.int32(nz), np.int32(ny), np.int32(nx))
        target = cupy.empty(state.cells.shape, dtype=cupy.int32)
        key = cupy.empty(state.cells.shape, dtype=cupy.float32)
        winner = cupy.empty(state.cells.shape, dtype=cupy.int32)
        intents = cupy.ascontiguousarray(intents, dtype=cupy.bool_)
        launch_1d(self.mod.get_function("choose_targets"), n,
                  (state.cells, intents, offsets, n_dirs, *dims, np.uint32(model.params.seed & 0xFFFFFFFF),
                   np.uint32(state.step & 0xFFFFFFFF), target, key))
        launch_1d(self.mod.get_function("accept"), n, (state.cells, target, key, offsets, n_dirs, *dims, winner))
        out = [cupy.empty_like(a) for a in (state.cells, state.clock, state.memory, state.timer_h)]
        renewed = cupy.empty(state.cells.shape, dtype=cupy.bool_)
        launch_1d(self.mod.get_function("apply"), n,
                  (state.cells, state.clock, state.memory, state.timer_h, target, winner, offsets, n_dirs,
                   *dims, *out, renewed))
        cells, clock, memory, timer = out
        return state.replace(cells=cells, clock=clock, memory=memory, timer_h=timer), renewed


def load(exact: bool = False) -> Placement:
    return Placement(exact)
