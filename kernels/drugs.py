"""CuPy launcher for ``drugs.cu``: the CUDA twins of :func:`lattice.processes.drugs.effects` and
:func:`lattice.processes.drugs.division_kill`."""

from __future__ import annotations

import numpy as np

from lattice.processes import drugs as reference
from lattice.processes.drugs import Effects

from . import _rules as k

#: Drug kind -> code of ``drugs.cu`` (K_*).
KIND_CODES = {"targeted": 0, "cytotoxic": 1, "epigenetic": 2, "oxphos": 3, "fao": 4, "gpx4": 5,
              "met_inhibitor": 6, "anti_pd1": 7}
#: Per-drug float parameters in ``drugs.cu`` order (DF_*), each rounded once to float32.
FLOAT_PARAMS = ("ec50_uM", "hill_n", "emax", "kill_rate_per_h", "growth_inhibition", "entry_block",
                "o2_half_mmHg")
#: Effects field -> output bit of ``drugs.cu`` (OUT_*), in kernel argument order.
OUTPUTS = {"stress": 1, "kill_per_h": 2, "division_kill": 4, "cytostasis": 8, "entry_block": 16,
           "met_signal": 32, "checkpoint": 64}


def present_effects(model) -> dict[str, bool]:
    """Which :class:`Effects` arrays the NumPy ``effects`` returns (the others are None)."""
    kinds = [d.kind for d in model.params.treatment.drugs.values()]
    return {
        "stress": any(kd in ("targeted", "cytotoxic") for kd in kinds),
        "kill_per_h": any(kd not in ("met_inhibitor", "anti_pd1", "cytotoxic") for kd in kinds),
        "division_kill": "cytotoxic" in kinds,
        "cytostasis": "targeted" in kinds,
        "entry_block": "epigenetic" in kinds,
        "met_signal": "hgf" in model.registry.names,
        "checkpoint": "anti_pd1" in kinds,
    }


def drug_tables(model):
    """Device ``(kind, channel)`` int32 per drug, the float parameters, and the (n_drugs × 256)
    EC50 × fold table (:func:`lattice.processes.drugs.ec50_table`); built once per model."""
    key = "kernels.drugs.tables"
    if key not in model.cache:
        ints, floats, tables = [], [], []
        for name, d in model.params.treatment.drugs.items():
            if d.kind not in KIND_CODES:
                raise NotImplementedError(f"drug kind {d.kind!r} has no CUDA twin in kernels/drugs.cu yet")
            ints += [KIND_CODES[d.kind], model.registry.index(f"drug_{name}")]
            floats += [getattr(d, f) for f in FLOAT_PARAMS]
            tables.append(k.arg(model, reference.ec50_table(name, d, model), np.float32))
        xp = model.xp
        model.cache[key] = (xp.asarray(np.asarray(ints, dtype=np.int32)),
                            xp.asarray(np.asarray(floats, dtype=np.float64).astype(np.float32)),
                            xp.ascontiguousarray(xp.concatenate(tables)))
    return model.cache[key]


class Drugs(k.RuleKernels):
    source = "drugs"

    def effects(self, state, model) -> Effects:
        """Same contract as the NumPy ``effects``."""
        drugs = model.params.treatment.drugs
        if not drugs:
            return Effects()
        t = model.params.tumour
        kinds = [d.kind for d in drugs.values()]
        drug_int, drug_float, ec50 = drug_tables(model)
        present = present_effects(model)
        out = {name: k.empty(model, state.cells, np.float32) if present[name] else None for name in OUTPUTS}
        has_hgf = "hgf" in model.registry.names
        self.launch("drug_effects", model, (
            k.arg(model, state.cells, np.uint8), *k.fields_args(model, state), np.int32(len(drugs)),
            drug_int, drug_float, ec50,
            k.channel(model, "hgf") if has_hgf else np.int32(-1), np.float32(t.signals.hgf_half),
            np.float32(t.met_protection),
            k.channel(model, "oxygen") if "gpx4" in kinds else np.int32(-1),
            np.int32(sum(bit for name, bit in OUTPUTS.items() if present[name])),
            *k.lattice_args(model),
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
