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

    def mutate_evolving(self, state, renewed, model):
        """Same contract as :func:`lattice.processes.lineage.mutate_evolving`."""
        out = k.empty(model, state.evolving, np.uint32)
        self.launch("evolving_update", model, (
            k.arg(model, state.cells, np.uint8), k.arg(model, state.evolving, np.uint32),
            k.arg(model, renewed, np.bool_), np.float32(model.params.tumour.barcodes.evolving_per_division),
            k.seed_arg(model), k.step_arg(state), *k.lattice_args(model), out,
        ))
        return state.replace(evolving=out)


def load(exact: bool = False) -> Mutation:
    return Mutation(exact)
