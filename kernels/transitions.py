"""Launcher for ``transitions.cu``: the CUDA twins of :func:`lattice.processes.transitions.update`
and :func:`lattice.processes.transitions.initial_phenotypes`.

Everything rule-specific comes from the process's plan (:func:`lattice.processes.transitions.plan`):
the flag word, the float32 scalars (passed as one array, indexed by the generated ``TR_*`` names
of ``constants.cuh``) and the field channels. Adding a transition changes nothing here.
"""

from __future__ import annotations

import numpy as np

from lattice.processes import transitions as process

from . import _rules as k


class Transitions(k.RuleKernels):
    source = "transitions"

    def update(self, state, model, fx=None):
        """Same contract as the NumPy ``update``: returns the new state."""
        from lattice.processes import drugs

        fx = drugs.effects(state, model) if fx is None else fx
        pl = process.plan(model, fx)
        ch = pl.extra
        out = [k.empty(model, state.cells, np.uint8)]
        out += [k.empty(model, state.clock, np.float32) for _ in range(3)]
        self.launch("transitions_update", model, (
            k.arg(model, state.cells, np.uint8), k.arg(model, state.clock, np.float32),
            k.arg(model, state.memory, np.float32), k.arg(model, state.timer_h, np.float32),
            *k.fields_args(model, state),
            np.int32(ch["ch_oxygen"]), np.int32(ch["ch_glucose"]), np.int32(ch["ch_death_signal"]),
            k.optional(model, fx.stress, np.float32)[0], k.optional(model, fx.kill_per_h, np.float32)[0],
            k.optional(model, fx.met_signal, np.float32)[0], k.optional(model, fx.entry_block, np.float32)[0],
            np.int32(pl.flags), k.plan_array(model, "transitions.scalars", pl.scalars, np.float32),
            k.seed_arg(model), k.step_arg(state), *k.lattice_args(model),
            *out,
        ))
        cells, clock, memory, timer = out
        if not any(pl.on(rule.flag.name) for rule in process.RULES):
            return state.replace(memory=memory)
        return state.replace(cells=cells, clock=clock, timer_h=timer, memory=memory)

    def initial_phenotypes(self, state, model):
        """Same contract as the NumPy ``initial_phenotypes``: returns the new state."""
        pl = process.plan(model)
        if not pl.on("initial"):
            return state
        cells = k.empty(model, state.cells, np.uint8)
        self.launch("initial_phenotypes", model, (
            k.arg(model, state.cells, np.uint8), pl.f["initial_primed"], pl.f["initial_primed_or_resistant"],
            k.seed_arg(model), *k.lattice_args(model), cells,
        ))
        return state.replace(cells=cells)


def load(exact: bool = False) -> Transitions:
    return Transitions(exact)
