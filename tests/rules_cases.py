"""Scenarios, random states and comparisons shared by the parity tests of the cell-rule twins
(``tests/test_gpu_rules.py`` on a GPU, ``tests/test_kernels_host.py`` on the host emulation).

Each process function of :mod:`lattice.processes` runs on the NumPy model and its twin
(``lattice.kernels.<module>``) on the same random state; every output array must have the
same dtype, shape and bits.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from omegaconf import OmegaConf

from lattice import codes
from lattice.backend import make_backend
from lattice.configure import compose, params_from_config
from lattice.fields import FieldRegistry, FieldSpec
from lattice.model import Model
from lattice.processes.drugs import Effects
from lattice.state import State

GRID_2D = ("grid.shape=[40,36]", "replicates=3")
GRID_3D = ("grid.shape=[12,14,10]", "replicates=3")
#: Every rule on at once, large rates and a long step (most cells take some fate), the
#: alternative branches (step ramps, no G1/memory factor, no DTEP ramp, hazard division).
FAST = (
    "step_h=2.0", "tumour.division=hazard", "tumour.apoptosis_rate_per_h=0.05",
    "tumour.switching.to_primed_per_h=0.05", "tumour.switching.to_sensitive_per_h=0.1",
    "tumour.entry.sensitive_per_h=0.05", "tumour.entry.g1_boost=1.0", "tumour.entry.memory_boost=0",
    "tumour.dtep.max_per_h=0.1", "tumour.dtep.ramp_h=0", "tumour.reversion.dtp_per_h=0.1",
    "tumour.reversion.dtep_per_h=0.1",
    "tumour.mutation.induced_per_h=0.02", "tumour.mutation.per_division=0.01",
    "tumour.mutation.persister_multiplier=500", "tumour.o2_necrosis_max_mmHg=5.0",
    "tumour.signals.hypoxic_mmHg=5.0", "tumour.signals.low_glucose=0.1", "tumour.resistance_cost=0.3",
    "tumour.initial.primed_fraction=0.2", "tumour.initial.resistant_fraction=0.1",
)
#: One drug of every kind, added to the ``treatment`` of the overrides.
ALL_KINDS = {
    "cx": {"kind": "cytotoxic", "emax": 0.6, "ec50_uM": 0.02, "hill_n": 1.5},
    "epi": {"kind": "epigenetic", "ec50_uM": 0.05, "hill_n": 1.0, "kill_rate_per_h": 0.02,
            "ec50_fold": {"sensitive": 1000.0, "primed": 1000.0, "dtp": 1.0, "dtep": 1.0,
                          "resistant": 1000.0}},
    "ox": {"kind": "oxphos", "ec50_uM": 0.04, "kill_rate_per_h": 0.03},
    "fa": {"kind": "fao", "ec50_uM": 0.0, "kill_rate_per_h": 0.01},
    "gp": {"kind": "gpx4", "ec50_uM": 0.03, "kill_rate_per_h": 0.03, "o2_half_mmHg": 10.0},
    "meti": {"kind": "met_inhibitor", "ec50_uM": 0.05, "emax": 0.9},
    "pd1": {"kind": "anti_pd1", "ec50_uM": 0.05},
    "tg2": {"kind": "targeted", "ec50_uM": 0.01, "growth_inhibition": 0.5, "hill_n": 3.0},
}

#: name -> (overrides, extra drugs, add an ``hgf`` field, state.step)
CASES: dict[str, tuple[tuple[str, ...], dict, bool, int]] = {
    "2d_untreated": ((*GRID_2D, "tumour.apoptosis_rate_per_h=0.05"), {}, False, 7),
    "2d_continuous": ((*GRID_2D, "treatment=continuous"), {}, False, 11),
    "3d_continuous_moore": ((*GRID_3D, "treatment=continuous", "grid.neighbourhood=moore", "seed=123456789"),
                            {}, False, 2**32 + 5),
    "persister_assay": (("experiment=persister_assay", "grid.shape=[40,40]", "replicates=3"), {}, False, 3),
    "competitive_release": (("experiment=competitive_release", "grid.shape=[40,40]", "replicates=3"),
                            {}, False, 40),
    "fluctuation_induced": (("experiment=fluctuation_test", "grid.shape=[40,40]", "replicates=3",
                             "tumour.mutation.induced_per_h=0.01"), {}, False, 130),
    "epigenetic": ((*GRID_2D, "treatment=epigenetic_combination"), {}, False, 5),
    "gpx4_3d": ((*GRID_3D, "treatment=gpx4_combination"), {}, False, 9),
    "fast_rates": ((*GRID_2D, "treatment=continuous", *FAST), {}, False, 1),
    "all_kinds_hgf": ((*GRID_2D, "treatment=continuous", "tumour.dtep.ramp_h=100"), ALL_KINDS, True, 21),
    "all_kinds_3d_fast": ((*GRID_3D, "treatment=continuous", *FAST), ALL_KINDS, False, 2),
    "no_rules": ((*GRID_2D, "tumour.switching.to_primed_per_h=0", "tumour.switching.to_sensitive_per_h=0",
                  "tumour.reversion.dtp_per_h=0", "tumour.reversion.dtep_per_h=0",
                  "tumour.mutation.per_division=0", "tumour.initial.primed_fraction=0"), {}, False, 4),
}

#: The process functions with a twin (see reference_call / twin_call).
PROCESSES = ("death", "effects", "transitions", "transitions_fx_none", "cycle", "division_kill", "mutation",
             "initial_phenotypes")


def build_case(case: str, backend: str = "numpy", exact: bool = False) -> Model:
    overrides, extra_drugs, hgf, _ = CASES[case]
    cfg = OmegaConf.to_container(compose(list(overrides)), resolve=True)
    for name, drug in extra_drugs.items():
        cfg["treatment"]["drugs"][name] = dict(drug)
    model = Model.build(params_from_config(cfg), make_backend(backend, exact=exact))
    if hgf and "hgf" not in model.registry.names:  # a stand-in channel where no stroma secretes HGF
        spec = FieldSpec("hgf", "ng/mL", "HGF (test stand-in)", model.registry.specs[0].params)
        model = dataclasses.replace(model, registry=FieldRegistry((*model.registry.specs, spec)), cache={})
    return model


def field_values(name: str, shape, rng) -> np.ndarray:
    """Random concentrations covering each rule's thresholds, with exact zeros and threshold values."""
    u = rng.random(shape)
    if name == "oxygen":  # hypoxic and necrotic regions, and the exact thresholds
        x = 45.0 * u**1.5
        x[rng.random(shape) < 0.05] = 0.0
        for v in (2.5, 4.0, 5.0, 15.0, 38.0):
            x[rng.random(shape) < 0.02] = v
    elif name == "glucose":
        x = u.copy()
        x[rng.random(shape) < 0.05] = 0.1
    elif name.startswith("drug_"):
        x = 0.2 * u**3  # spans the EC50s (0.01–0.1 µM) and far below
        x[rng.random(shape) < 0.1] = 0.0
        x[rng.random(shape) < 0.05] = 2.0
        # A washed-out drug: Hill effects underflow to subnormals (EC50/c)^n > 2^126, and EC50/c
        # overflows to inf (NaN through pmath.log); subnormal concentrations themselves.
        x[rng.random(shape) < 0.04] = 1e-25
        x[rng.random(shape) < 0.04] = 1e-37
        x[rng.random(shape) < 0.04] = 1e-41
    else:  # death_signal, hgf: 0–3 with zeros
        x = 3.0 * u
        x[rng.random(shape) < 0.1] = 0.0
    x[rng.random(shape) < 0.02] = 1e-40  # subnormal (a flush-to-zero device would read 0)
    return x.astype(np.float32)


def random_state(model: Model, seed: int = 0, step: int = 0) -> State:
    """Every code, clocks at 1 and across G1, memories and timers across their ranges (NumPy)."""
    rng = np.random.default_rng(seed)  # test set-up only; decisions use Philox
    R, shape = model.params.replicates, tuple(model.grid.shape)
    vox = (R, *shape)
    # Codes 0–10 weighted towards the tumour states, then any codes added since (e.g. stroma).
    all_codes = np.array(sorted(codes.CELL_LABELS), dtype=np.uint8)
    weights = np.array([10, 25, 8, 15, 10, 10, 8, 4, 3, 2, 5] + [3] * (len(all_codes) - 11), dtype=float)
    cells = rng.choice(all_codes, size=vox, p=weights / weights.sum())
    clock = rng.random(vox, dtype=np.float32)
    clock[rng.random(vox) < 0.3] = 1.0
    clock[rng.random(vox) < 0.03] = np.float32(model.params.tumour.entry.g1_fraction)
    memory = rng.random(vox, dtype=np.float32)
    memory[rng.random(vox) < 0.2] = 0.0
    memory[rng.random(vox) < 0.05] = 1.0
    memory[rng.random(vox) < 0.05] = 1e-39  # decayed for months: subnormal
    timer = (rng.random(vox) * 1000.0).astype(np.float32)
    timer[rng.random(vox) < 0.1] = np.float32(model.params.tumour.dead_clearance_h)
    timer[rng.random(vox) < 0.1] = 0.0
    fields = np.stack([field_values(spec.name, vox, rng) for spec in model.registry], axis=1)
    n_drugs = len(model.params.treatment.drugs) or None
    state = State.empty(R, shape, len(model.registry), np, n_drugs=n_drugs)
    return state.replace(cells=cells, clock=clock, memory=memory, timer_h=timer, fields=fields, step=step)


def case_state(case: str, model: Model, seed: int = 0) -> State:
    """The random state of ``case`` at its ``state.step``."""
    return random_state(model, seed, step=CASES[case][3])


def random_masks(model: Model, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Division intents and the renewed mask (NumPy bool ``(R, *S)``)."""
    rng = np.random.default_rng(seed)
    vox = (model.params.replicates, *model.grid.shape)
    return rng.random(vox) < 0.5, rng.random(vox) < 0.6


def reference_call(process: str, state, model, fx, intents, renewed):
    from lattice.processes import cycle, death, drugs, mutation, transitions

    return {
        "death": lambda: death.update(state, model),
        "effects": lambda: drugs.effects(state, model),
        "transitions": lambda: transitions.update(state, model, fx),
        "transitions_fx_none": lambda: transitions.update(state, model),
        "cycle": lambda: cycle.update(state, model, fx),
        "division_kill": lambda: drugs.division_kill(state, intents, model, fx),
        "mutation": lambda: mutation.update(state, renewed, model),
        "initial_phenotypes": lambda: transitions.initial_phenotypes(state, model),
    }[process]()


def twin_call(process: str, twin, state, model, fx, intents, renewed):
    """``twin(module_name)`` returns the launcher object (``model.backend.kernel`` on a GPU)."""
    return {
        "death": lambda: twin("death").update(state, model),
        "effects": lambda: twin("drugs").effects(state, model),
        "transitions": lambda: twin("transitions").update(state, model, fx),
        "transitions_fx_none": lambda: twin("transitions").update(state, model),
        "cycle": lambda: twin("cycle").update(state, model, fx),
        "division_kill": lambda: twin("drugs").division_kill(state, intents, model, fx),
        "mutation": lambda: twin("mutation").update(state, renewed, model),
        "initial_phenotypes": lambda: twin("transitions").initial_phenotypes(state, model),
    }[process]()


def outputs(result) -> dict:
    """Every array a process returned, by name (None kept: Effects fields may be absent)."""
    if isinstance(result, State):
        return dict(result.arrays())
    if isinstance(result, Effects):
        return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    state, mask = result
    return {**state.arrays(), "mask": mask}


def effects_to(fx: Effects, convert) -> Effects:
    return Effects(**{f.name: None if getattr(fx, f.name) is None else convert(getattr(fx, f.name))
                      for f in dataclasses.fields(fx)})


def assert_same(got: dict, ref: dict, asnumpy=np.asarray, context: str = "") -> None:
    """Same names, None where the reference has None, and arrays of the same dtype, shape and bits."""
    assert set(got) == set(ref), f"{context}: outputs {sorted(got)} vs {sorted(ref)}"
    for name, r in ref.items():
        g = got[name]
        if r is None:
            assert g is None, f"{context}: {name} should be None"
            continue
        assert g is not None, f"{context}: {name} is None"
        g, r = asnumpy(g), np.asarray(r)
        assert g.dtype == r.dtype and g.shape == r.shape, \
            f"{context}: {name} {g.dtype}{g.shape} vs {r.dtype}{r.shape}"
        np.testing.assert_array_equal(g, r, err_msg=f"{context}: {name}")
        if r.dtype == np.float32:  # bits too (−0 vs 0, subnormals); NaNs only by position
            nan = np.isnan(r)
            np.testing.assert_array_equal(np.isnan(g), nan, err_msg=f"{context}: {name} NaN positions")
            np.testing.assert_array_equal(g[~nan].view(np.uint32), r[~nan].view(np.uint32),
                                          err_msg=f"{context}: {name} bits")
