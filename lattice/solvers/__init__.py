"""Reaction–diffusion solvers for any number of fields, NumPy/CuPy-generic.

All solvers advance a batch of independent fields by ``dt_min`` for

    ∂c/∂t = D ∇²c − (λ + u(x)) c + s(x)

with the same call signature (the contract the ``diffusion`` process and the CUDA twins rely on)::

    solve(c, *, dt_min, spacing_um, diffusion, decay, uptake, source, boundary, boundary_value, **options)

Args:
    c: float32 array ``(B, *S)``: B independent fields (replicates × channels) on a 2D or 3D
        lattice ``S``; spatial axes are the last ``len(S)`` axes. Not modified.
    dt_min: time step in minutes.
    spacing_um: voxel edge in µm.
    diffusion: ``(B,)`` diffusion coefficients D, µm²/min.
    decay: ``(B,)`` background decay λ, 1/min.
    uptake: ``(B, *S)`` per-voxel first-order loss u ≥ 0, 1/min (cell uptake + vessel
        permeability), or None for zero.
    source: ``(B, *S)`` per-voxel production s ≥ 0, units/min (secretion + permeability ×
        blood concentration), or None for zero.
    boundary: ``"zero_flux"``, ``"dirichlet"`` or ``"periodic"``, for the whole batch.
        Cell-centred lattice: a Dirichlet value is held on the lattice's outer faces (ghost
        value ``2 g − c``); zero flux mirrors the edge voxel; periodic wraps.
    boundary_value: ``(B,)`` Dirichlet values (ignored otherwise).

Returns:
    float32 array ``(B, *S)``: the fields after ``dt_min``.

Solvers by name (``fields.solver``): ``multigrid`` (default; backward Euler, unconditionally
stable, no operator splitting so large cell steps keep the right steady state), ``lod``
(BioFVM-style locally one-dimensional backward Euler with tridiagonal sweeps) and ``ftcs``
(explicit reference; raises :class:`UnstableStepError` when the step is unstable).
"""

from __future__ import annotations

import importlib


class UnstableStepError(ValueError):
    """An explicit step that would blow up; the message gives the largest stable step."""


SOLVERS = ("multigrid", "lod", "ftcs")


def get_solver(name: str):
    """The ``solve`` function of the solver called ``name``."""
    if name not in SOLVERS:
        raise ValueError(f"fields.solver={name} is not one of {', '.join(SOLVERS)}")
    return importlib.import_module(f"lattice.solvers.{name}").solve
