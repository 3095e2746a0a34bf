"""Explicit forward-Euler (FTCS) reaction–diffusion step: the validation reference.

One call advances ``∂c/∂t = D∇²c − (λ + u)c + s`` by one explicit step (the solver contract of
:mod:`lattice.solvers`)::

    c_new = c + dt · (D ∇²c − (λ + u) c + s)

with the flux-form 5/7-point Laplacian of :mod:`lattice.solvers.stencil` (cell-centred ghosts:
Dirichlet ``2g − c_edge``, zero flux ``c_edge``, periodic wrap). Second order in ``h``, first
order in ``dt``; with ``dt ∝ h²`` (as stability demands) the error is O(h²).

Stability (positivity-preserving bound)
---------------------------------------
Writing the update as ``c_new = c·(1 − dt(2·ndim·D/h² + λ + u)) + dt·D/h²·Σ c_nb + dt·s``, all
weights are non-negative — so the step keeps ``c ≥ 0`` and obeys the discrete maximum principle
— exactly when

    dt · (2·ndim·D/h² + λ + max u) ≤ 1

for every field of the batch (``ndim`` = 2 or 3). This is the bound checked. It is exact for
zero-flux and periodic lattices and for interior voxels; a Dirichlet ghost ``2g − c_edge`` adds
one more ``−dt·D/h²`` to an edge voxel's own weight per Dirichlet face, so there strict
positivity would need ``dt·(3·ndim·D/h² + λ + u) ≤ 1`` in the worst corner. The bound still
guarantees stability for every boundary: by Gershgorin the spectrum of ``−∇²_h`` lies in
``[0, 4·ndim/h²]`` (Dirichlet rows included), so every mode's amplification stays in [−1, 1]
(the operator is symmetric). A step above the bound raises
:class:`lattice.solvers.UnstableStepError` naming the offending field's D, the step and the
largest stable step, instead of silently blowing up. Use ``fields.solver=multigrid`` (implicit,
stable for any step) or more ``fields.substeps``.

Conservation
------------
Under zero flux (or periodic) with no decay, uptake or source, every face difference enters the
two voxels it joins with opposite sign, so the total is kept to float32 rounding (the tests
check relative 1e-5 after hundreds of steps).

Operation order (float32, per voxel)::

    acc  = Σ_faces (c_nb − c)                  # stencil.flux_sum order
    kap  = float32(D·(dt/h²))                 # per field, float64 then rounded
    new  = c + kap * acc                      # kap*acc, then c +
    if uptake or decay:  new = new - (dt32 * ((lam + u) * c))   # lam + u, × c, × dt, subtract
    if source:           new = new + dt32 * s
"""

from __future__ import annotations

import numpy as np

from lattice.solvers import UnstableStepError
from lattice.solvers.stencil import array_module, check_batch, check_boundary, flux_sum, pad, per_batch


def stable_dt(*, spacing_um: float, diffusion, decay, uptake=None, ndim: int) -> tuple[float, int]:
    """The largest stable explicit step (min) over the batch, and the batch index that sets it.

    ``dt_max = 1 / max_b (2·ndim·D_b/h² + λ_b + max u_b)`` (``inf`` when every rate is zero).
    """
    d = np.asarray(_host(diffusion), dtype=np.float64).reshape(-1)
    lam = np.asarray(_host(decay), dtype=np.float64).reshape(-1)
    b = max(d.size, lam.size)
    d, lam = np.broadcast_to(d, (b,)), np.broadcast_to(lam, (b,))
    if uptake is None:
        umax = np.zeros(b)
    else:
        xp = array_module(uptake)
        umax = np.asarray(_host(xp.max(uptake.reshape(uptake.shape[0], -1), axis=1)), dtype=np.float64)
        umax = np.broadcast_to(umax, (b,))
    rate = 2.0 * ndim * d / float(spacing_um) ** 2 + lam + umax
    worst = int(np.argmax(rate))
    return (1.0 / rate[worst] if rate[worst] > 0 else float("inf")), worst


def _host(a):
    """A NumPy view/copy of ``a`` (CuPy arrays are copied to the host; small per-field arrays)."""
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else a


def solve(c, *, dt_min, spacing_um, diffusion, decay, uptake=None, source=None, boundary,
          boundary_value=None):
    """One explicit step of length ``dt_min`` (see the module docstring).

    Args:
        c: float32 ``(B, *S)``, not modified.
        dt_min: step (min).
        spacing_um: voxel edge ``h`` (µm).
        diffusion: ``(B,)`` D (µm²/min).
        decay: ``(B,)`` λ (1/min).
        uptake: ``(B, *S)`` u ≥ 0 (1/min) or None.
        source: ``(B, *S)`` s ≥ 0 (units/min) or None.
        boundary: ``"zero_flux"``, ``"dirichlet"`` or ``"periodic"``.
        boundary_value: ``(B,)`` Dirichlet values (ignored otherwise).

    Returns:
        float32 ``(B, *S)``: the fields after ``dt_min``.

    Raises:
        UnstableStepError: ``dt·(2·ndim·D/h² + λ + max u) > 1`` for some field of the batch.
    """
    check_boundary(boundary)
    xp = array_module(c)
    c = xp.asarray(c, dtype=xp.float32)
    batch, spatial = check_batch(c)
    ndim = len(spatial)
    dt = float(dt_min)
    h = float(spacing_um)
    dt_max, worst = stable_dt(spacing_um=h, diffusion=diffusion, decay=decay, uptake=uptake, ndim=ndim)
    if dt > dt_max * (1.0 + 1e-6):
        d_worst = float(np.broadcast_to(np.asarray(_host(diffusion), dtype=np.float64).reshape(-1),
                                        (batch,))[worst])
        raise UnstableStepError(
            f"ftcs: step dt={dt:g} min is unstable for D={d_worst:g} µm²/min (h={h:g} µm, field "
            f"{worst} of the batch): the largest stable step is dt_min={dt_max:.4g} min; use "
            f"fields.solver=multigrid or multiply fields.substeps by at least {int(np.ceil(dt / dt_max))}"
        )
    kappa = per_batch(xp, np.asarray(_host(diffusion), dtype=np.float64) * (dt / h**2), batch, ndim,
                      xp.float32)
    acc = flux_sum(pad(c, boundary, boundary_value))
    acc *= kappa
    new = c + acc
    dt32 = xp.float32(dt)
    lam = per_batch(xp, decay, batch, ndim, xp.float32)
    if uptake is not None:
        k = lam + xp.asarray(uptake, dtype=xp.float32)
        new -= dt32 * (k * c)
    elif bool(np.any(np.asarray(_host(decay)) != 0)):
        new -= dt32 * (lam * c)
    if source is not None:
        new += dt32 * xp.asarray(source, dtype=xp.float32)
    return new
