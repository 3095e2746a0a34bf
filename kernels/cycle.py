"""CuPy launcher for ``cycle.cu``: the CUDA twin of :func:`lattice.processes.cycle.update`."""

from __future__ import annotations

import numpy as np

from lattice.processes import cycle as reference

from . import _rules as k


class Cycle(k.RuleKernels):
    source = "cycle"

    def update(self, state, model, fx=None):
        """Same contract as the NumPy ``update``: returns ``(state, intents)``."""
        p = model.params
        t = p.tumour
        cytostasis, has_cyto = k.optional(model, None if fx is None else fx.cytostasis, np.float32)
        clock = k.empty(model, state.clock, np.float32)
        timer = k.empty(model, state.timer_h, np.float32)
        intents = k.empty(model, state.cells, np.bool_)
        self.launch("cycle_update", model, (
            k.arg(model, state.cells, np.uint8), k.arg(model, state.clock, np.float32),
            k.arg(model, state.timer_h, np.float32), *k.fields_args(model, state), k.channel(model, "oxygen"),
            k.arg(model, reference.speed_table(model), np.float32), cytostasis, has_cyto,
            np.int32(t.division == "hazard"),
            np.float32(p.step_h / t.cycle_h),
            np.float32(t.o2_proliferation_threshold_mmHg),
            np.float32(t.o2_proliferation_saturation_mmHg - t.o2_proliferation_threshold_mmHg),
            np.float32(p.step_h),
            k.seed_arg(model), k.step_arg(state), *k.lattice_args(model),
            clock, timer, intents,
        ))
        return state.replace(clock=clock, timer_h=timer), intents


def load(exact: bool = False) -> Cycle:
    return Cycle(exact)
