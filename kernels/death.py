"""CuPy launcher for ``death.cu``: the CUDA twin of :func:`lattice.processes.death.update`."""

from __future__ import annotations

import numpy as np

from lattice.processes import death as reference

from . import _rules as k


class Death(k.RuleKernels):
    source = "death"

    def update(self, state, model):
        """Same contract as the NumPy ``update``: returns the new state."""
        t = model.params.tumour
        p_max = np.float32(reference.step_probability(t.necrosis_max_rate_per_h, model.step_h))
        span = t.o2_necrosis_threshold_mmHg - t.o2_necrosis_max_mmHg
        apoptosis = t.apoptosis_rate_per_h > 0
        p_apoptosis = np.float32(0)
        if apoptosis:
            p_apoptosis = np.float32(reference.step_probability(t.apoptosis_rate_per_h, model.step_h))
        out = [k.empty(model, state.cells, np.uint8)]
        out += [k.empty(model, state.clock, np.float32) for _ in range(3)]
        self.launch("death_update", model, (
            k.arg(model, state.cells, np.uint8), k.arg(model, state.clock, np.float32),
            k.arg(model, state.memory, np.float32), k.arg(model, state.timer_h, np.float32),
            *k.fields_args(model, state), k.channel(model, "oxygen"), k.channel(model, "glucose"),
            np.float32(t.dead_clearance_h), p_max, np.int32(span > 0),
            np.float32(t.o2_necrosis_threshold_mmHg), np.float32(span) if span > 0 else np.float32(1),
            np.float32(t.glucose_starvation_threshold),
            np.int32(apoptosis), p_apoptosis,
            k.seed_arg(model), k.step_arg(state), *k.lattice_args(model),
            *out,
        ))
        cells, clock, memory, timer = out
        return state.replace(cells=cells, clock=clock, memory=memory, timer_h=timer)


def load(exact: bool = False) -> Death:
    return Death(exact)
