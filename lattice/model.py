"""The model: what one cell step does, in the order of DESIGN §2.

``Model`` is pure description plus the backend; it holds no state and writes no files
(the :mod:`lattice.simulation` loop does). ``Model.step`` reads like the ordered list of
processes; each process is a pure function ``(state, model) -> state`` in
:mod:`lattice.processes`, its random numbers drawn from the counter ``(voxel, state.step, stream)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lattice.backend import Backend, make_backend
from lattice.fields import FieldRegistry
from lattice.grid import Grid
from lattice.params import RunParams
from lattice.rng import uniforms
from lattice.state import State


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
    def build(cls, params: RunParams, backend: Backend | None = None) -> "Model":
        grid = Grid(tuple(params.grid.shape), params.grid.spacing_um, params.grid.neighbourhood)
        registry = FieldRegistry.from_params(params.fields.named())
        return cls(params, grid, registry, backend or make_backend(params.backend))

    @property
    def xp(self):
        return self.backend.xp

    @property
    def step_h(self) -> float:
        return self.params.step_h

    def uniforms(self, stream: int, step: int, draw: int = 0):
        """Four U[0,1) float32 arrays ``(R, *grid.shape)`` for this step and stream."""
        return uniforms(
            self.params.seed, self.params.replicates, self.grid.shape, step, stream, self.xp, draw
        )

    def initial_state(self) -> State:
        from lattice.processes.initial import initial_state

        return initial_state(self)

    def step(self, state: State) -> State:
        """Advance one cell step (DESIGN §2): fields, decisions, placement, clearance."""
        from lattice.processes import cycle, death, diffusion, placement

        state = diffusion.update(state, self)          # 2. fields over the step
        state = death.update(state, self)              # 3. death (necrosis, apoptosis, clearance)
        state, intents = cycle.update(state, self)     # 3. cycle progress and division intents
        state, _ = placement.divide(state, intents, self)  # 4. pull placement of daughters
        return state.replace(step=state.step + 1)
