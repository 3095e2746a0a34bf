"""The model: what one cell step does, in the order of docs/model.md.

``Model`` is pure description plus the backend; it holds no state and writes no files
(the :mod:`lattice.simulation` loop does). ``Model.step`` reads like the ordered list of
processes; each process is a pure function of the state (and of the model) in
:mod:`lattice.processes`, its random numbers drawn from the counter ``(voxel, state.step, stream)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from lattice.backend import Backend, make_backend
from lattice.fields import FieldRegistry
from lattice.grid import Grid
from lattice.params import RunParams
from lattice.params.fields import FieldParams
from lattice.params.treatment import DrugParams
from lattice.rng import uniforms
from lattice.state import State


def drug_field(name: str, drug: DrugParams, delivery: str) -> FieldParams:
    """The transport parameters of the field ``drug_<name>``.

    With ``delivery="vessels"`` vessel voxels exchange with blood (permeability × (plasma − c);
    the plasma level is set per replicate and per step by the therapy process); with ``bath``
    the field is not solved: therapy sets it to the medium level everywhere.
    """
    tp = drug.transport
    return FieldParams(
        enabled=delivery == "vessels", units="µM",
        description=f"{name}: {drug.kind} drug, local concentration",
        diffusion_um2_per_min=tp.diffusion_um2_per_min, decay_per_min=tp.decay_per_min,
        boundary=tp.boundary, boundary_value=0.0, initial_value=0.0, vessel_value=0.0,
        vessel_permeability_per_min=tp.permeability_per_min, uptake_per_min=dict(tp.uptake_per_min),
        secretion_per_min={},
    ).freeze()


def field_params(params: RunParams) -> dict[str, FieldParams]:
    """Every field channel in order: ``fields.named()`` then one ``drug_<name>`` per drug.

    Without drugs the death signal is not solved (it only acts on drug-induced persister entry),
    so drug-free runs cost no more than before; its channel stays at 0. The microenvironment
    fields (hgf, tgfb with stroma; ifng, chemokine with T cells) are channels only in runs where
    something secretes them (:func:`lattice.fields.active_fields`).
    """
    from lattice.fields import IMMUNE_FIELDS, STROMA_FIELDS, active_fields

    active = active_fields(params)
    named = {k: v for k, v in params.fields.named().items()
             if k not in (*STROMA_FIELDS, *IMMUNE_FIELDS) or k in active}
    drugs = params.treatment.drugs
    if not drugs and named["death_signal"].enabled:
        named["death_signal"] = dataclasses.replace(named["death_signal"], enabled=False).freeze()
    for name, drug in drugs.items():
        named[f"drug_{name}"] = drug_field(name, drug, params.treatment.delivery)
    return named


@dataclass(frozen=True)
class Model:
    """Everything constant during a run.

    Attributes:
        params: the validated, frozen run parameters.
        grid: lattice geometry.
        registry: the field channels.
        backend: array executor.
    """

    params: RunParams
    grid: Grid
    registry: FieldRegistry
    backend: Backend
    #: Derived constants a process computes once per run (lookup tables, solver plans).
    cache: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def build(cls, params: RunParams, backend: Backend | None = None) -> Model:
        grid = Grid(tuple(params.grid.shape), params.grid.spacing_um, params.grid.neighbourhood)
        registry = FieldRegistry.from_params(field_params(params))
        return cls(params, grid, registry, backend or make_backend(params.backend, exact=params.exact))

    @property
    def xp(self):
        return self.backend.xp

    @property
    def step_h(self) -> float:
        return self.params.step_h

    @property
    def drug_names(self) -> tuple[str, ...]:
        """The treatment's drugs, in registry (and therapy-array column) order."""
        return tuple(self.params.treatment.drugs)

    def uniforms(self, stream: int, step: int, draw: int = 0):
        """Four U[0,1) float32 arrays ``(R, *grid.shape)`` for this step and stream (compiled
        Philox on the host backend, :class:`lattice.rng.PhiloxKernel`: the same bits)."""
        compiled = self.backend.kernel("uniforms")
        if compiled is not None:
            return compiled.uniforms(self.params.seed, self.params.replicates, self.grid.shape, step, stream, draw)
        return uniforms(
            self.params.seed, self.params.replicates, self.grid.shape, step, stream, self.xp, draw
        )

    def initial_state(self) -> State:
        """Vessels, stroma, tissue, tumour and immune layer (initial.py), initial phenotypes,
        T-cell counters and therapy state at t = 0."""
        from lattice.processes import immune, therapy, transitions
        from lattice.processes.initial import initial_state

        state = initial_state(self)
        state = transitions.initial_phenotypes(state, self)
        state = immune.initial(state, self)
        return therapy.initial(state, self)

    def step(self, state: State) -> State:
        """Advance one cell step (docs/model.md)."""
        from lattice.processes import (
            cycle,
            death,
            diffusion,
            drugs,
            immune,
            mutation,
            placement,
            stroma,
            therapy,
            transitions,
        )

        state = therapy.update(state, self)                    # 1. plasma levels, schedules, bath levels
        state = diffusion.update(state, self)                  # 2. fields over the step (drugs from vessels, stroma, T cells)
        effects = drugs.effects(state, self)                   # 3. local drug effects on each cell (MET, anti-PD-1)
        state = death.update(state, self)                      # 3. clearance, necrosis, turnover
        state = transitions.update(state, self, effects)       # 3. drug death vs persistence, S⇄P, D→E, reversion
        state = stroma.update(state, self)                     # 3. chemotherapy-induced fibroblast senescence
        state, intents = cycle.update(state, self, effects)    # 3. clocks and division intents
        state, intents = drugs.division_kill(state, intents, self, effects)  # 3. cytotoxic kill at division
        state, renewed = placement.divide(state, intents, self)  # 4. pull placement of daughters
        state = mutation.update(state, renewed, self)          # 4. mutation to R at division
        state = immune.update(state, self, effects)            # 5. T-cell killing, exhaustion, death, recruitment, movement
        state = therapy.record(state, self)                    # 6. burden and progression for the next step
        return state.replace(step=state.step + 1)
