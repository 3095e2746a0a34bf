"""Launcher for ``mutation.cu``: the CUDA twin of :func:`lattice.processes.mutation.update`, driven
by the process's plan (:func:`lattice.processes.mutation.plan`)."""

from __future__ import annotations

import numpy as np

from lattice.processes import mutation as process

from . import _rules as k


class Mutation(k.RuleKernels):
    source = "mutation"

    def update(self, state, renewed, model):
        """Same contract as the NumPy ``update``: returns the new state."""
        pl = process.plan(model)
        if not pl.on("mutation"):
            return state
        cells = k.empty(model, state.cells, np.uint8)
        timer = k.empty(model, state.timer_h, np.float32)
        self.launch("mutation_update", model, (
            k.arg(model, state.cells, np.uint8), k.arg(model, state.timer_h, np.float32),
            k.arg(model, renewed, np.bool_), pl.f["p_base"], pl.f["p_raised"],
            k.seed_arg(model), k.step_arg(state), *k.lattice_args(model),
            cells, timer,
        ))
        return state.replace(cells=cells, timer_h=timer)


def load(exact: bool = False) -> Mutation:
    return Mutation(exact)
