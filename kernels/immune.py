"""Launcher for ``immune.cu``: the CUDA twins of :func:`lattice.processes.immune.kill`,
:func:`~lattice.processes.immune.turnover` and :func:`~lattice.processes.immune.move`.

Allocations go through ``model.xp`` (CuPy on the GPU backend) and the launcher never imports
CuPy, so the same code drives the host emulation of the kernels (``tests/cuda_host.py``) with
NumPy arrays. The kernels are always loaded IEEE-exact (:func:`lattice.kernels._loader.ieee_module`:
no contraction, no flush-to-zero): they take decisions (``u < p``), so labels must match NumPy
bit for bit in both the exact and the fast mode.
"""

from __future__ import annotations

import numpy as np

from . import _rules
from ._loader import ieee_module, launch_1d


class Immune:
    """The immune twins.

    Args:
        exact: the backend's ``exact`` option (recorded; these kernels are always IEEE-exact).
        mod: a module-like object with ``get_function(name)`` to use instead of compiling
            ``immune.cu`` for the device (the host emulation of the tests).
    """

    def __init__(self, exact: bool = False, mod=None):
        self.exact = exact
        self.mod = mod if mod is not None else ieee_module("immune")

    # -- arguments --------------------------------------------------------------------------
    @staticmethod
    def _dims(model):
        R, nz, ny, nx = _rules.dims(model)
        return _rules.voxels(model), (np.int32(R), np.int32(nz), np.int32(ny), np.int32(nx))

    _offsets = staticmethod(_rules.offsets)
    _arg = staticmethod(_rules.arg)

    @staticmethod
    def _key(model, state):
        return _rules.seed_arg(model), _rules.step_arg(state)

    def _launch(self, name, n, args):
        launch_1d(self.mod.get_function(name), n, args)

    # -- twins ------------------------------------------------------------------------------
    def kill(self, state, model, p_target, potency):
        """Same contract as the NumPy ``kill``: returns ``(state, killed, won)``."""
        xp = model.xp
        n, dims = self._dims(model)
        offsets, n_dirs = self._offsets(model)
        seed, step = self._key(model, state)
        shape = state.cells.shape
        cells = self._arg(model, state.cells, np.uint8)
        immune = self._arg(model, state.immune, np.uint8)
        clock = self._arg(model, state.clock, np.float32)
        timer = self._arg(model, state.timer_h, np.float32)
        kills = self._arg(model, state.t_kills, np.uint8)
        target = xp.empty(shape, dtype=np.int32)
        key = xp.empty(shape, dtype=np.float32)
        killer = xp.empty(shape, dtype=np.int32)
        self._launch("kill_choose", n, (cells, immune, self._arg(model, p_target, np.float32),
                                        self._arg(model, potency, np.float32), offsets, n_dirs, *dims, seed, step,
                                        target, key))
        self._launch("kill_resolve", n, (target, key, offsets, n_dirs, *dims, killer))
        out_cells = xp.empty(shape, dtype=np.uint8)
        out_clock = xp.empty(shape, dtype=np.float32)
        out_timer = xp.empty(shape, dtype=np.float32)
        out_kills = xp.empty(shape, dtype=np.uint8)
        killed = xp.empty(shape, dtype=np.bool_)
        won = xp.empty(shape, dtype=np.bool_)
        self._launch("kill_apply", n, (cells, clock, timer, kills, target, killer, offsets, n_dirs, *dims,
                                       np.float32(model.params.step_h), out_cells, out_clock, out_timer, out_kills,
                                       killed, won))
        state = state.replace(cells=out_cells, clock=out_clock, timer_h=out_timer, t_kills=out_kills)
        return state, killed, won

    def turnover(self, state, model, p_death, q_macrophage, p_recruit):
        """Same contract as the NumPy ``turnover``: returns ``(immune, t_kills, flags)``."""
        xp = model.xp
        n, _ = self._dims(model)
        seed, step = self._key(model, state)
        shape = state.immune.shape
        immune = xp.empty(shape, dtype=np.uint8)
        kills = xp.empty(shape, dtype=np.uint8)
        flags = xp.empty(shape, dtype=np.uint8)
        self._launch("turnover", n, (
            self._arg(model, state.cells, np.uint8), self._arg(model, state.immune, np.uint8),
            self._arg(model, state.t_kills, np.uint8), self._arg(model, p_death, np.float32),
            self._arg(model, q_macrophage, np.float32), self._arg(model, p_recruit, np.float32),
            np.int32(model.params.replicates), np.int64(model.grid.size), seed, step, immune, kills, flags,
        ))
        return immune, kills, flags

    def move(self, state, model, weights, arrested, n_sub: int):
        """Same contract as the NumPy ``move``: ``n_sub`` sub-steps, returns ``(immune, t_kills)``."""
        xp = model.xp
        n, dims = self._dims(model)
        offsets, n_dirs = self._offsets(model)
        seed, step = self._key(model, state)
        shape = state.immune.shape
        weights = self._arg(model, weights, np.float32)
        arrested = self._arg(model, arrested, np.bool_)
        target = xp.empty(shape, dtype=np.int32)
        key = xp.empty(shape, dtype=np.float32)
        winner = xp.empty(shape, dtype=np.int32)
        immune = self._arg(model, state.immune, np.uint8)
        kills = self._arg(model, state.t_kills, np.uint8)
        for sub in range(n_sub):
            self._launch("move_choose", n, (immune, arrested, weights, offsets, n_dirs, *dims, seed, step,
                                            np.uint32(sub), target, key))
            self._launch("move_accept", n, (immune, target, key, offsets, n_dirs, *dims, winner))
            new_immune = xp.empty(shape, dtype=np.uint8)
            new_kills = xp.empty(shape, dtype=np.uint8)
            self._launch("move_apply", n, (immune, kills, target, winner, offsets, n_dirs, *dims, new_immune,
                                           new_kills))
            immune, kills = new_immune, new_kills
        return immune, kills


def load(exact: bool = False) -> Immune:
    return Immune(exact)
