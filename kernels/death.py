"""Launcher for ``death.cu``: the CUDA twin of :func:`lattice.processes.death.update`, driven by the
process's plan (:func:`lattice.processes.death.plan`: flags, scalars, channels)."""

from __future__ import annotations

import numpy as np

from lattice.processes import death as process

from . import _rules as k


class Death(k.RuleKernels):
    source = "death"

    def update(self, state, model):
        """Same contract as the NumPy ``update``: returns the new state."""
        pl = process.plan(model)
        out = [k.empty(model, state.cells, np.uint8)]
        out += [k.empty(model, state.clock, np.float32) for _ in range(3)]
        self.launch("death_update", model, (
            k.arg(model, state.cells, np.uint8), k.arg(model, state.clock, np.float32),
            k.arg(model, state.memory, np.float32), k.arg(model, state.timer_h, np.float32),
            *k.fields_args(model, state), np.int32(pl.extra["ch_oxygen"]), np.int32(pl.extra["ch_glucose"]),
            np.int32(pl.flags), k.plan_array(model, "death.scalars", pl.scalars, np.float32),
            k.seed_arg(model), k.step_arg(state), *k.lattice_args(model),
            *out,
        ))
        cells, clock, memory, timer = out
        return state.replace(cells=cells, clock=clock, memory=memory, timer_h=timer)


def load(exact: bool = False) -> Death:
    return Death(exact)
