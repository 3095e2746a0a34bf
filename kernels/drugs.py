"""Launcher for ``drugs.cu``: the CUDA twins of :func:`lattice.processes.drugs.effects` and
:func:`lattice.processes.drugs.division_kill`.

Everything drug-specific comes from the process's plan (:func:`lattice.processes.drugs.plan`):
kind indices, channels, per-drug float32 parameters, EC50 tables and which Effects arrays exist.
"""

from __future__ import annotations

import numpy as np

from lattice.processes import drugs as process
from lattice.processes.drugs import Effects

from . import _rules as k


class Drugs(k.RuleKernels):
    source = "drugs"

    def effects(self, state, model) -> Effects:
        """Same contract as the NumPy ``effects``."""
        if not model.params.treatment.drugs:
            return Effects()
        pl = process.plan(model)
        x = pl.extra
        drug_int = np.stack([x["kinds"], x["channels"]], axis=1).ravel()
        out = {name: k.empty(model, state.cells, np.float32) if pl.on(name) else None
               for name in process.EFFECT_NAMES}
        self.launch("drug_effects", model, (
            k.arg(model, state.cells, np.uint8), *k.fields_args(model, state), np.int32(len(x["names"])),
            k.plan_array(model, "drugs.int", drug_int, np.int32),
            k.plan_array(model, "drugs.float", x["floats"].ravel(), np.float32),
            k.plan_array(model, "drugs.ec50", x["ec50"].ravel(), np.float32),
            np.int32(x["ch_hgf"]), pl.f["hgf_half"], pl.f["met_protection"], np.int32(x["ch_oxygen"]),
            np.int32(pl.flags), *k.lattice_args(model),
            *(a if a is not None else k.dummy(model, np.float32) for a in out.values()),
        ))
        return Effects(**out)

    def division_kill(self, state, intents, model, fx):
        """Same contract as the NumPy ``division_kill``: returns ``(state, surviving intents)``."""
        if fx is None or fx.division_kill is None:
            return state, intents
        offsets, n_dirs = k.offsets(model)
        R, nz, ny, nx = k.dims(model)
        cells = k.empty(model, state.cells, np.uint8)
        clock = k.empty(model, state.clock, np.float32)
        timer = k.empty(model, state.timer_h, np.float32)
        survivors = k.empty(model, state.cells, np.bool_)
        self.launch("division_kill", model, (
            k.arg(model, state.cells, np.uint8), k.arg(model, state.clock, np.float32),
            k.arg(model, state.timer_h, np.float32), k.arg(model, intents, np.bool_),
            k.arg(model, fx.division_kill, np.float32), offsets, n_dirs,
            np.int32(R), np.int32(nz), np.int32(ny), np.int32(nx), np.float32(model.params.step_h),
            k.seed_arg(model), k.step_arg(state),
            cells, clock, timer, survivors,
        ))
        return state.replace(cells=cells, clock=clock, timer_h=timer), survivors


def load(exact: bool = False) -> Drugs:
    return Drugs(exact)
