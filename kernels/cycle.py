"""Launcher for ``cycle.cu``: the CUDA twin of :func:`lattice.processes.cycle.update`, driven by the
process's plan (:func:`lattice.processes.cycle.plan`: flags, scalars, speed table, channel)."""

from __future__ import annotations

import numpy as np

from lattice.processes import cycle as process

from . import _rules as k


class Cycle(k.RuleKernels):
    source = "cycle"

    def update(self, state, model, fx=None):
        """Same contract as the NumPy ``update``: returns ``(state, intents)``."""
        pl = process.plan(model, fx)
        cytostasis, _ = k.optional(model, None if fx is None else fx.cytostasis, np.float32)
        clock = k.empty(model, state.clock, np.float32)
        timer = k.empty(model, state.timer_h, np.float32)
        intents = k.empty(model, state.cells, np.bool_)
        self.launch("cycle_update", model, (
            k.arg(model, state.cells, np.uint8), k.arg(model, state.clock, np.float32),
            k.arg(model, state.timer_h, np.float32), *k.fields_args(model, state),
            np.int32(pl.extra["ch_oxygen"]), k.plan_array(model, "cycle.speed", pl.extra["speed"], np.float32),
            cytostasis, np.int32(pl.flags), k.plan_array(model, "cycle.scalars", pl.scalars, np.float32),
            k.seed_arg(model), k.step_arg(state), *k.lattice_args(model),
            clock, timer, intents,
        ))
        return state.replace(clock=clock, timer_h=timer), intents


def load(exact: bool = False) -> Cycle:
    return Cycle(exact)
