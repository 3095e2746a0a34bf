"""Pharmacodynamics (docs/model.md "Therapy", "Death"): what the local drug concentrations do to
each cell in this step, and the cytotoxic kill at division.

Every effect is a Hill function of the **local** concentration c (the field ``drug_<name>``)
with a state-specific EC50 (``ec50_fold`` per state: DTPs > 100-fold less sensitive to the
primary drug, Sharma 2010):

    E_state(c) = Emax · cⁿ / (cⁿ + (EC50 · fold_state)ⁿ)      (:func:`hill_local`)

and is evaluated once per step, from the cells at the start of the step, into
:class:`Effects`, which the rules read:

- ``stress`` = maxᵢ Hill(cᵢ; EC50ᵢ, nᵢ) over primary drugs (targeted, cytotoxic) at naive
  sensitivity: how lethal the local drug is; it drives persister entry, DTEP emergence and
  memory gain, and (1 − stress) drives reversion and memory loss;
- ``kill_per_h``: Σ kill_rate_per_h · E_state over hazard drugs (targeted, epigenetic, oxphos,
  fao; gpx4 × pO2/(pO2 + o2_half) since ferroptosis needs oxygen, Hangauer 2017); primary
  kill × (1 − met_protection · MET signal);
- ``division_kill``: 1 − Π(1 − E_state · protection) over cytotoxic drugs: the probability
  that a division attempt is lethal (:func:`division_kill`);
- ``cytostasis``: 1 − Π(1 − growth_inhibition · E_state) over targeted drugs (cycle slowing);
- ``entry_block``: maxᵢ entry_block · Hill over epigenetic drugs (KDM5/HDAC);
- ``met_signal``: HGF/(HGF + K) · (1 − MET inhibition) when an ``hgf`` field exists;
- ``checkpoint``: anti-PD-1 blockade level (for the immune process).

Only + − × ÷, min/max, comparisons and ``where`` per voxel, plus :mod:`lattice.pmath` for
powers, so the CUDA twin gives the same bits.

**The plan** (:func:`plan`): per drug its kind index (position in
:data:`lattice.params.treatment.DRUG_KINDS`, ``DRUG_KIND_<KIND>`` in C), field channel, the float
parameters of :data:`DRUG_FLOATS` rounded once to float32, and the EC50 × fold table by occupant
code; plus which :class:`Effects` arrays exist (``EFFECT_<NAME>`` bits). The NumPy body and the
launcher ``lattice/kernels/drugs.py`` read it; the C names come from the generated
``kernels/constants.cuh``. A new drug kind: its name in ``DRUG_KINDS`` (parameter file), its
effect here and in ``kernels/drugs.cu``, and where it counts in :func:`expected_effects`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from lattice import codes, pmath
from lattice.fields import field
from lattice.grid import shift
from lattice.params.treatment import DRUG_KINDS
from lattice.params.tumour import STATE_NAMES
from lattice.processes import plans
from lattice.rng import Stream
from lattice.state import State

STATE_CODES = dict(zip(STATE_NAMES, codes.TUMOUR_CODES))

#: Drug kind -> index (``DRUG_KIND_<KIND>`` in C): its position in the parameter file's list.
KIND_INDEX = {kind: i for i, kind in enumerate(DRUG_KINDS)}

#: Per-drug float parameters in kernel order (``DRUG_<NAME>`` index into a drug's row, C).
DRUG_FLOATS = ("ec50_uM", "hill_n", "emax", "kill_rate_per_h", "growth_inhibition", "entry_block", "o2_half_mmHg")


@dataclass
class Effects:
    """Per-voxel float32 ``(R, *S)`` drug effects of this step; None where no drug has one."""

    stress: np.ndarray | None = None
    kill_per_h: np.ndarray | None = None
    division_kill: np.ndarray | None = None
    cytostasis: np.ndarray | None = None
    entry_block: np.ndarray | None = None
    met_signal: np.ndarray | None = None
    checkpoint: np.ndarray | None = None


def present(fx: Effects | None) -> frozenset[str]:
    """Names of the :class:`Effects` arrays that exist (not None) in ``fx``; empty for None."""
    if fx is None:
        return frozenset()
    return frozenset(f.name for f in fields(fx) if getattr(fx, f.name) is not None)


#: The Effects arrays in kernel output order (bit i: ``EFFECT_<NAME>`` in C).
EFFECT_NAMES = tuple(f.name for f in fields(Effects))


def expected_effects(params, field_names) -> frozenset[str]:
    """Names of the :class:`Effects` arrays :func:`effects` returns for these drugs and fields."""
    kinds = [d.kind for d in params.treatment.drugs.values()]
    on = {
        "stress": any(kd in ("targeted", "cytotoxic") for kd in kinds),
        "kill_per_h": any(kd not in ("met_inhibitor", "anti_pd1", "cytotoxic") for kd in kinds),
        "division_kill": "cytotoxic" in kinds,
        "cytostasis": "targeted" in kinds,
        "entry_block": "epigenetic" in kinds,
        "met_signal": "hgf" in field_names,
        "checkpoint": "anti_pd1" in kinds,
    }
    return frozenset(name for name in EFFECT_NAMES if on[name])


def plan(model) -> plans.Plan:
    """The drug plan of this run (cached). ``flags``: bits of the Effects arrays that exist
    (:data:`EFFECT_NAMES` order); ``scalars``: ``hgf_half``, ``met_protection``; ``extra``:
    ``names``, ``kinds`` (int32), ``channels`` (int32), ``floats`` (float32 n × len(DRUG_FLOATS)),
    ``ec50`` (float32 n × 256, EC50 × fold by occupant code), ``ch_hgf`` and ``ch_oxygen`` (−1 when
    unused)."""
    if "drugs.plan" not in model.cache:
        drugs = model.params.treatment.drugs
        names = model.registry.names
        have = expected_effects(model.params, names)
        flags = tuple(plans.Flag(n, lambda p, fx, n=n: n in fx, f"Effects.{n} exists") for n in EFFECT_NAMES)
        scalars = (plans.Scalar("hgf_half", lambda p: p.tumour.signals.hgf_half, "HGF of half MET signal"),
                   plans.Scalar("met_protection", lambda p: p.tumour.met_protection))
        base = plans.build(flags, scalars, model.params, have)
        ec50 = np.full((len(drugs), 256), 0.0, dtype=np.float64)
        for i, d in enumerate(drugs.values()):
            ec50[i] = d.ec50_uM
            for state_name, code in STATE_CODES.items():
                ec50[i, code] = d.ec50_uM * d.ec50_fold.get(state_name, 1.0)
        kinds = [d.kind for d in drugs.values()]
        extra = {
            "names": tuple(drugs),
            "kinds": np.asarray([KIND_INDEX[kd] for kd in kinds], dtype=np.int32),
            "channels": np.asarray([model.registry.index(f"drug_{n}") for n in drugs], dtype=np.int32),
            "floats": np.asarray([[getattr(d, f) for f in DRUG_FLOATS] for d in drugs.values()],
                                 dtype=np.float64).reshape(len(drugs), len(DRUG_FLOATS)).astype(np.float32),
            "ec50": ec50.astype(np.float32),
            "ch_hgf": names.index("hgf") if "hgf" in names else -1,
            "ch_oxygen": names.index("oxygen") if "gpx4" in kinds else -1,
        }
        model.cache["drugs.plan"] = plans.Plan(base.flags, base.names, base.scalars, base.f, extra)
    return model.cache["drugs.plan"]


def hill_local(c, ec50, n: float, emax: float = 1.0):
    """Emax / (1 + (EC50/c)ⁿ) for c > 0, 0 at c = 0, with a per-voxel EC50 array (the same
    operation sequence as :func:`lattice.pmath.hill`)."""
    xp = pmath._xp(c)
    f32 = np.float32
    safe = xp.where(c > f32(0.0), c, f32(1.0))
    ratio = pmath.pow_((ec50 / safe).astype(xp.float32), n)
    return xp.where(c > f32(0.0), f32(emax) / (f32(1.0) + ratio), f32(0.0)).astype(xp.float32)


def ec50_table(name: str, model):
    """float32 ``(256,)`` EC50 per occupant code (EC50 × fold for the tumour states), on the
    backend's device: the plan's row of drug ``name``."""
    key = f"drugs.ec50.{name}"
    if key not in model.cache:
        pl = plan(model)
        model.cache[key] = model.xp.asarray(pl.extra["ec50"][pl.extra["names"].index(name)])
    return model.cache[key]


def _max(a, b, xp):
    return b if a is None else xp.maximum(a, b)


def effects(state: State, model) -> Effects:
    """The drug effects on every voxel, from the cells and fields at the start of the step."""
    twin = model.backend.kernel("drugs")
    if twin is not None:  # CUDA twin (kernels/), same decisions bit for bit
        return twin.effects(state, model)
    drugs = model.params.treatment.drugs
    if not drugs:
        return Effects()
    xp, pl = model.xp, plan(model)
    f32 = xp.float32
    cells = state.cells
    local = {name: field(state, model, f"drug_{name}") for name in drugs}

    met_inhibition = None
    checkpoint = None
    for name, d in drugs.items():
        if d.kind == "met_inhibitor":
            met_inhibition = _max(met_inhibition, pmath.hill(local[name], d.ec50_uM, d.hill_n, d.emax), xp)
        elif d.kind == "anti_pd1":
            checkpoint = _max(checkpoint, pmath.hill(local[name], d.ec50_uM, d.hill_n, d.emax), xp)
    met_signal = None
    if pl.on("met_signal"):
        hgf = xp.maximum(state.fields[:, pl.extra["ch_hgf"]], f32(0.0))
        met_signal = hgf / (hgf + pl.f["hgf_half"])
        if met_inhibition is not None:
            met_signal = met_signal * (f32(1.0) - met_inhibition)
    protection = None if met_signal is None else f32(1.0) - pl.f["met_protection"] * met_signal

    stress = kill = division_survival = growth = block = None
    for name, d in drugs.items():
        if d.kind in ("met_inhibitor", "anti_pd1"):
            continue
        c = local[name]
        e_state = hill_local(c, ec50_table(name, model)[cells], d.hill_n, d.emax)
        if d.kind in ("targeted", "cytotoxic"):
            stress = _max(stress, pmath.hill(c, d.ec50_uM, d.hill_n), xp)
            if protection is not None:
                e_state = e_state * protection
        if d.kind == "cytotoxic":
            survive = f32(1.0) - e_state
            division_survival = survive if division_survival is None else division_survival * survive
            continue
        hazard = f32(d.kill_rate_per_h) * e_state
        if d.kind == "gpx4":
            o2 = xp.maximum(field(state, model, "oxygen"), f32(0.0))
            denom = o2 + f32(d.o2_half_mmHg)
            hazard = hazard * xp.where(denom > f32(0.0), o2 / xp.where(denom > 0, denom, f32(1.0)), f32(1.0))
        elif d.kind == "targeted":
            slow = f32(1.0) - f32(d.growth_inhibition) * e_state
            growth = slow if growth is None else growth * slow
        elif d.kind == "epigenetic":
            block = _max(block, f32(d.entry_block) * pmath.hill(c, d.ec50_uM, d.hill_n), xp)
        kill = hazard if kill is None else kill + hazard
    return Effects(
        stress=stress, kill_per_h=kill,
        division_kill=None if division_survival is None else f32(1.0) - division_survival,
        cytostasis=None if growth is None else f32(1.0) - growth,
        entry_block=block, met_signal=met_signal, checkpoint=checkpoint,
    )


def has_free_neighbour(cells, model):
    """Boolean ``(R, *S)``: at least one neighbour is free (where a daughter could go)."""
    free = codes.is_free_space(cells)
    out = None
    for off in model.grid.offsets:
        f = shift(free, tuple(-o for o in off), fill=False)
        out = f if out is None else out | f
    return out


def division_kill(state: State, intents, model, fx: Effects | None) -> tuple[State, object]:
    """Cytotoxic drugs: a cell attempting division — ready (intent) and with a free neighbour —
    dies instead (becomes apoptotic) with probability ``fx.division_kill`` (stream DRUG).

    Cells without room do not attempt (contact-inhibited cells are spared, as in the HAL
    lattice models: "the drug kills 75 % of sensitive cells attempting division", Strobl 2022).

    Returns:
        The new state and the intents of the cells that survived.
    """
    twin = model.backend.kernel("drugs")
    if twin is not None:  # CUDA twin (kernels/), same decisions bit for bit
        return twin.division_kill(state, intents, model, fx)
    if fx is None or fx.division_kill is None:
        return state, intents
    xp = model.xp
    attempt = intents & has_free_neighbour(state.cells, model)
    u = model.uniforms(Stream.DRUG, state.step)[0]
    dies = attempt & (u < fx.division_kill)
    # Timer = one step, as for cells that died earlier in the step (cycle has counted this step).
    state = state.replace(
        cells=xp.where(dies, codes.DEAD, state.cells).astype(xp.uint8),
        clock=xp.where(dies, xp.float32(0), state.clock),
        timer_h=xp.where(dies, xp.float32(model.params.step_h), state.timer_h),
    )
    return state, intents & ~dies
