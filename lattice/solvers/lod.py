"""Locally one-dimensional (LOD) backward Euler, BioFVM style, NumPy/CuPy-generic.

What LOD is
-----------
One step of ``dt`` for ``∂c/∂t = D∇²c − (λ + u)c + s`` is split into a sequence of simpler
implicit (backward Euler) steps, each of length ``dt`` (Ghaffarizadeh et al. 2016, BioFVM):

1. reaction, point-wise and implicit: ``c ← (c + dt·s) / (1 + dt·(λ + u))`` (BioFVM's bulk
   source/sink step);
2. for each spatial axis in turn (x = last axis, then y, then z = first spatial axis — BioFVM's
   order): ``(I − dt·D·∂²_axis) c_new = c``, one tridiagonal system per lattice line along
   that axis, solved by the Thomas algorithm.

Properties:

- **Unconditionally stable.** Every sub-step is an M-matrix solve (diagonally dominant, positive
  diagonal, non-positive off-diagonals), so it is positive, obeys the maximum principle and
  cannot blow up, for any ``D·dt/h²`` (checked up to 10⁴ in the tests).
- **Conservative.** Under zero flux every column of each line matrix sums to one, so without
  reaction the total amount is kept to float32 rounding.
- **First order in dt, with a splitting error that survives in the steady state.** Besides
  backward Euler's own O(dt) error, the sub-steps do not commute. Unsplit backward Euler has the
  exact steady state of ``−D∇²c + kc = s`` (k = λ + u) for any dt; the fixed point of the split
  step instead solves (exactly, in 1D) ``−D(1 + k·dt)∇²c + kc = s``: the penetration length
  ``λ_pen = √(D/k)`` comes out ``√(1 + k·dt)`` times too long, an O(dt·k) error (in 2D/3D a
  further ``dt·D²(1 + k·dt)·∂²ₓ∂²ᵧ``-type term per pair of axes). At BioFVM's dt = 0.01 min with k = 10/min (oxygen uptake) that is 5 %;
  at a one-hour cell step (dt = 60 min) it is 24× and the steady oxygen profile is useless (the
  test suite measures both). That is why the model's default solver is ``multigrid`` (unsplit
  backward Euler, no splitting) and LOD is kept for BioFVM-like small steps and comparison.

Discretisation and boundaries
-----------------------------
Cell-centred lattice, spacing ``h``, ``r = D·dt/h²``. Interior rows are
``−r c_{i−1} + (1 + 2r) c_i − r c_{i+1} = d_i``. At an outer face the ghost value is
``c_ghost = c_edge`` (zero flux: diagonal ``1 + r``), ``c_ghost = 2g − c_edge`` (Dirichlet,
value ``g`` held on the face: diagonal ``1 + 3r`` and ``2r·g`` added to the right-hand side),
or the voxel on the opposite side (periodic: the cyclic tridiagonal system, solved with the
Sherman–Morrison formula for n ≥ 3; n = 2 is an ordinary 2×2 system with off-diagonal ``−2r``;
n = 1 is the identity).

Operation order (the contract for the CUDA twin, one thread per line)
----------------------------------------------------------------------
All arithmetic is float32, one rounding per operation, no fused multiply-add
(``--fmad=false``), in exactly this order. Factors are computed once per ``(n, r, boundary)``
on the host in float64 and rounded to float32 (:func:`line_factors`); the twin receives the
same float32 arrays ``a``, ``cp``, ``inv`` (and ``z``, ``rho``, ``kappa``, ``q``).

Reaction, per voxel::

    den = 1 + dt * (lam + u)        # lam + u first, then × dt, then 1 +
    num = c + dt * s                # dt × s first, then c +   (s = 0 when source is None)
    c   = num / den                 # IEEE division

Line solve along one axis, ``d[0..n-1]`` the values of one line::

    if dirichlet:  d[0] = d[0] + q;  d[n-1] = d[n-1] + q        # q = float32(2 r g)
    d[0] = d[0] * inv[0]
    for i in 1 .. n-1:  d[i] = (d[i] - a[i] * d[i-1]) * inv[i]   # a[i]*d[i-1], subtract, × inv
    for i in n-2 .. 0:  d[i] = d[i] - cp[i] * d[i+1]             # cp[i]*d[i+1], subtract
    if periodic and n >= 3:
        f = (d[0] + rho * d[n-1]) * kappa                         # rho*d[n-1], add, × kappa
        for i in 0 .. n-1:  d[i] = d[i] - f * z[i]                # f*z[i], subtract

Here ``a[i]`` is the sub-diagonal (``−r``; ``a[0] = 0`` unused), ``inv[i] = 1/(b_i − a_i·cp_{i−1})``
the reciprocal pivot and ``cp[i] = c_i·inv[i]`` the modified super-diagonal (``cp[n−1] = 0``).

Vectorisation
-------------
The Python loop runs only along the solved axis; each line position is one array operation over
a slab holding every other axis and the whole batch. Each line is computed with the same
operations whatever the layout, so results do not depend on how lines are grouped: a batch of
B fields is bit-identical to B single calls, and the layout choices below change speed only
(all of them are covered by the tests). The x sweep (x = innermost, contiguous axis) runs on a
copy with the last two axes swapped; y and z are swept in place. A slab whose contiguous rows
are short (< 160 values) is first copied with the solved axis in front, because NumPy's per-row
overhead would dominate; large fields (≥ 2¹⁹ voxels) in a batch are solved one at a time.
The factors of each line system are cached.

A compiled inner sweep was measured (``scripts/bench_diffusion.py --lapack-probe``, BENCHMARKS.md):
LAPACK ``sgttrs``/``sgtsv`` and ``scipy.linalg.solve_banded`` run the recurrence one line at a
time; per axis they were 5–16× slower than these vectorised slabs on the 2-core CI machine, and
a whole LOD step with ``sgttrs`` sweeps 4.6–7× slower, so no LAPACK engine is offered.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

BOUNDARIES = ("zero_flux", "dirichlet", "periodic")


@dataclass(frozen=True)
class LineFactors:
    """Thomas factors of one line system ``(n, r, boundary)``; float32 arrays of shape ``(n,)``.

    Attributes:
        a: sub-diagonal ``a_i`` (``a_0 = 0``, unused).
        cp: modified super-diagonal ``c'_i = c_i / pivot_i`` (``c'_{n−1} = 0``).
        inv: reciprocal pivots ``1 / (b_i − a_i·c'_{i−1})``.
        q_per_value: float64 factor of the Dirichlet right-hand-side term: ``q = q_per_value·g``
            is added to the first and to the last row (``2r``; 0 for other boundaries).
        z: periodic, n ≥ 3: Sherman–Morrison correction vector (``None`` otherwise).
        rho: periodic: ``β/γ`` of the correction (float32 scalar).
        kappa: periodic: ``1 / (1 + z_0 + ρ·z_{n−1})`` (float32 scalar).
    """

    a: np.ndarray
    cp: np.ndarray
    inv: np.ndarray
    q_per_value: float
    z: np.ndarray | None = None
    rho: np.float32 | None = None
    kappa: np.float32 | None = None


def _thomas(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float64 ``(cp, inv)`` of the tridiagonal system with sub/diag/super ``a, b, c``."""
    n = b.size
    cp = np.zeros(n)
    inv = np.zeros(n)
    inv[0] = 1.0 / b[0]
    cp[0] = c[0] * inv[0]
    for i in range(1, n):
        inv[i] = 1.0 / (b[i] - a[i] * cp[i - 1])
        cp[i] = c[i] * inv[i]
    cp[n - 1] = 0.0
    return cp, inv


def _solve64(a, cp, inv, d):
    """Float64 Thomas solve with precomputed factors (used to build the periodic correction)."""
    x = np.array(d, dtype=np.float64)
    x[0] *= inv[0]
    for i in range(1, x.size):
        x[i] = (x[i] - a[i] * x[i - 1]) * inv[i]
    for i in range(x.size - 2, -1, -1):
        x[i] -= cp[i] * x[i + 1]
    return x


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


@functools.lru_cache(maxsize=256)
def line_factors(n: int, r: float, boundary: str) -> LineFactors:
    """Factors of ``(I − r·∂²) x = d`` on a line of ``n`` cells (cached per argument triple).

    Args:
        n: number of cells along the line (≥ 1).
        r: ``D·dt/h²`` (≥ 0), float64.
        boundary: ``"zero_flux"``, ``"dirichlet"`` or ``"periodic"``.
    """
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary={boundary!r} is not one of {', '.join(BOUNDARIES)}")
    if n < 1:
        raise ValueError("a line needs at least one cell")
    if not r >= 0.0:
        raise ValueError(f"D·dt/h² must be ≥ 0, got {r}")
    a = np.full(n, -r)
    c = np.full(n, -r)
    a[0] = 0.0
    c[n - 1] = 0.0
    b = np.full(n, 1.0 + 2.0 * r)
    if boundary == "zero_flux":
        b[0] -= r  # ghost = edge value
        b[n - 1] -= r
        cp, inv = _thomas(a, b, c)
        return LineFactors(_f32(a), _f32(cp), _f32(inv), 0.0)
    if boundary == "dirichlet":
        b[0] += r  # ghost = 2g − edge: −r(2g − c_0) moves +r to the diagonal, +2rg to the rhs
        b[n - 1] += r
        cp, inv = _thomas(a, b, c)
        return LineFactors(_f32(a), _f32(cp), _f32(inv), 2.0 * r)
    # periodic
    if n == 1:
        one = np.ones(1)
        return LineFactors(_f32(np.zeros(1)), _f32(np.zeros(1)), _f32(one), 0.0)
    if n == 2:
        a[1] = -2.0 * r  # both neighbours of each cell are the other cell
        c[0] = -2.0 * r
        cp, inv = _thomas(a, b, c)
        return LineFactors(_f32(a), _f32(cp), _f32(inv), 0.0)
    # Cyclic: A = T + corners A[0, n−1] = β, A[n−1, 0] = α. Sherman–Morrison with u = (γ, 0…, α),
    # v = (1, 0…, β/γ): T' = T with b_0 − γ and b_{n−1} − αβ/γ; x = y − (v·y)/(1 + v·z) z,
    # T'y = d, T'z = u (Numerical Recipes §2.7, γ = −b_0).
    alpha = beta = -r
    gamma = -b[0]
    b[0] -= gamma
    b[n - 1] -= alpha * beta / gamma
    cp, inv = _thomas(a, b, c)
    u = np.zeros(n)
    u[0] = gamma
    u[n - 1] = alpha
    z = _solve64(a, cp, inv, u)
    rho = beta / gamma
    kappa = 1.0 / (1.0 + z[0] + rho * z[n - 1])
    return LineFactors(_f32(a), _f32(cp), _f32(inv), 0.0, _f32(z), np.float32(rho), np.float32(kappa))


# ----------------------------------------------------------------------------------------------
# Batched factors: one scalar per line position when the whole batch shares r (the common case:
# fast scalar broadcasting), else per-field arrays shaped (n, B, 1, …, 1) on the input's device.

_BATCH_CACHE: OrderedDict = OrderedDict()
_BATCH_CACHE_SIZE = 64
_BATCH_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Batch:
    a: object  # sequence indexable by i: float32 scalars or xp arrays (B, 1, …)
    cp: object
    inv: object
    z: object
    rho: object
    kappa: object
    q_per_value: object  # float64 (B,) host array


def _batch_factors(xp, n: int, rs: tuple[float, ...], boundary: str, ndim_slab: int) -> _Batch:
    key = (xp.__name__, _device_id(xp), n, rs, boundary, ndim_slab)
    with _BATCH_LOCK:
        hit = _BATCH_CACHE.get(key)
        if hit is not None:
            _BATCH_CACHE.move_to_end(key)
            return hit
    facs = [line_factors(n, r, boundary) for r in rs]
    q = np.array([f.q_per_value for f in facs])
    periodic = facs[0].z is not None
    if len(set(rs)) == 1:
        f = facs[0]
        # numpy float32 scalars: broadcast as scalars by NumPy and CuPy alike, no device copy.
        batch = _Batch(list(f.a), list(f.cp), list(f.inv), list(f.z) if periodic else None,
                       f.rho, f.kappa, q)
    else:
        shape = (n, len(rs)) + (1,) * (ndim_slab - 1)

        def stack(name):
            return xp.asarray(np.stack([getattr(f, name) for f in facs], axis=1).reshape(shape))

        def scal(name):
            return xp.asarray(np.array([getattr(f, name) for f in facs], dtype=np.float32)
                              .reshape(shape[1:]))

        batch = _Batch(stack("a"), stack("cp"), stack("inv"), stack("z") if periodic else None,
                       scal("rho") if periodic else None, scal("kappa") if periodic else None, q)
    with _BATCH_LOCK:
        _BATCH_CACHE[key] = batch
        while len(_BATCH_CACHE) > _BATCH_CACHE_SIZE:
            _BATCH_CACHE.popitem(last=False)
    return batch


def _device_id(xp) -> int:
    if xp is np:
        return -1
    return int(xp.cuda.Device().id)


# ----------------------------------------------------------------------------------------------


def _sweep(v, fac: _Batch, q, periodic: bool, xp) -> None:
    """Solve every line of ``v`` (solved axis first, ``(n, B, …)``, any strides) in place.

    ``q`` is the Dirichlet right-hand-side term (float32 scalar or ``(B, 1, …)`` array) or None.
    """
    n = v.shape[0]
    tmp = _scratch(xp, v.shape[1:], "tmp")
    a, cp, inv = fac.a, fac.cp, fac.inv
    if q is not None:
        xp.add(v[0], q, out=v[0])
        xp.add(v[n - 1], q, out=v[n - 1])
    xp.multiply(v[0], inv[0], out=v[0])
    for i in range(1, n):
        xp.multiply(v[i - 1], a[i], out=tmp)
        xp.subtract(v[i], tmp, out=v[i])
        xp.multiply(v[i], inv[i], out=v[i])
    for i in range(n - 2, -1, -1):
        xp.multiply(v[i + 1], cp[i], out=tmp)
        xp.subtract(v[i], tmp, out=v[i])
    if periodic:
        f = _scratch(xp, v.shape[1:], "f")
        xp.multiply(v[n - 1], fac.rho, out=f)
        xp.add(v[0], f, out=f)
        xp.multiply(f, fac.kappa, out=f)
        z = fac.z
        for i in range(n):
            xp.multiply(f, z[i], out=tmp)
            xp.subtract(v[i], tmp, out=v[i])


# Scratch buffers, reused between calls (per thread): allocating tens of MB afresh each call costs
# page faults (~10 ms per call at 200³ on the CI machine). CuPy has its own memory pool.
_SCRATCH = threading.local()
_SCRATCH_KEEP = 8


def _scratch(xp, shape: tuple[int, ...], role: str):
    """An uninitialised float32 work array of ``shape`` for ``role``, reused between calls (the
    few most recent (role, shape) pairs are kept)."""
    if xp is not np:
        return xp.empty(shape, dtype=xp.float32)
    store = getattr(_SCRATCH, "buffers", None)
    if store is None:
        store = _SCRATCH.buffers = OrderedDict()
    key = (role, tuple(shape))
    buf = store.get(key)
    if buf is None:
        buf = store[key] = np.empty(shape, dtype=np.float32)
        while len(store) > _SCRATCH_KEEP:
            store.popitem(last=False)
    else:
        store.move_to_end(key)
    return buf


# Layout heuristics (speed only: every choice gives bit-identical results, see the tests).
# A slab whose contiguous rows are shorter than this is copied with the solved axis in front
# before sweeping (NumPy's per-row overhead dominates short rows); longer rows are swept in place.
_MIN_ROW = 160
# Fields with at least this many voxels are solved one field at a time (smaller working set).
_FIELDWISE_VOXELS = 1 << 19


def _sweep_axis(arr, axis: int, fac: _Batch, q, xp) -> None:
    """Solve all lines of ``arr`` along ``axis`` in place (``arr`` is C-contiguous)."""
    rows = int(np.prod(arr.shape[:axis]))
    row_len = int(np.prod(arr.shape[axis + 1:]))
    periodic = fac.z is not None
    if rows == 1 or row_len >= _MIN_ROW or xp is not np:
        _sweep(xp.moveaxis(arr, axis, 0), fac, q, periodic, xp)
    else:
        moved = xp.moveaxis(arr, axis, 0)
        front = _scratch(xp, moved.shape, "front")
        xp.copyto(front, moved)
        _sweep(front, fac, q, periodic, xp)
        xp.copyto(xp.moveaxis(arr, axis, 0), front)


def _diffuse(w, rs: tuple[float, ...], g, boundary: str, xp) -> None:
    """The implicit diffusion sweeps x, y(, z) on ``w`` ``(B, *S)`` in place.

    The x sweep runs on a copy with the last two axes swapped, so that x is not the innermost
    (contiguous) axis; y and z are swept on ``w`` itself.
    """
    B, ndim = w.shape[0], w.ndim

    def factors_and_q(n):
        fac = _batch_factors(xp, n, rs, boundary, ndim - 1)
        if g is None:
            return fac, None
        qv = (fac.q_per_value * g).astype(np.float32)  # float32(2 r g), rounded once
        if np.all(qv == qv[0]):
            return fac, qv[0]
        return fac, xp.asarray(qv).reshape((B,) + (1,) * (ndim - 2))

    u = _scratch(xp, w.shape[:-2] + (w.shape[-1], w.shape[-2]), "swapped")
    u[...] = w.swapaxes(-1, -2)
    _sweep_axis(u, ndim - 2, *factors_and_q(u.shape[-2]), xp)  # x
    w[...] = u.swapaxes(-1, -2)
    del u
    for axis in range(ndim - 2, 0, -1):  # y, then z
        _sweep_axis(w, axis, *factors_and_q(w.shape[axis]), xp)


def _per_field(xp, values, B: int, ndim: int, name: str):
    """``(B,)`` float32 per-field parameter as an array shaped ``(B, 1, …)`` on ``xp``."""
    arr = xp.asarray(values, dtype=xp.float32).reshape(-1)
    if arr.shape[0] != B:
        raise ValueError(f"{name} has {arr.shape[0]} values for a batch of {B} fields")
    return arr.reshape((B,) + (1,) * (ndim - 1))


def solve(c, *, dt_min, spacing_um, diffusion, decay, uptake, source, boundary,
          boundary_value, engine: str = "numpy"):
    """Advance ``(B, *S)`` fields by ``dt_min`` with BioFVM-style LOD backward Euler.

    Follows the solver contract of :mod:`lattice.solvers` (see the module docstring for the
    method, its O(dt) splitting error and the per-voxel operation order).

    Args:
        c: float32 ``(B, *S)``, 2D or 3D lattice ``S``; not modified.
        dt_min: step, minutes (≥ 0).
        spacing_um: voxel edge, µm.
        diffusion: ``(B,)`` D, µm²/min.
        decay: ``(B,)`` λ, 1/min.
        uptake: ``(B, *S)`` u ≥ 0, 1/min, or None (zero).
        source: ``(B, *S)`` s ≥ 0, units/min, or None (zero).
        boundary: ``"zero_flux"``, ``"dirichlet"`` or ``"periodic"``.
        boundary_value: ``(B,)`` Dirichlet face values (ignored otherwise).
        engine: ``"numpy"``, the only one: the vectorised sweep that the CUDA twin mirrors
            (LAPACK line solvers were measured and found slower, see the module docstring).

    Returns:
        float32 ``(B, *S)``, a new C-contiguous array on the same device as ``c``.

    Raises:
        ValueError: unknown boundary or engine, wrong shapes, negative ``dt_min`` or D.
        TypeError: ``c`` is not float32.
    """
    if engine != "numpy":
        raise ValueError(f"engine={engine!r}: the LOD solver has only the 'numpy' engine")
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary={boundary!r} is not one of {', '.join(BOUNDARIES)}")
    xp = _array_module(c)
    if c.dtype != np.float32:
        raise TypeError(f"fields must be float32, got {c.dtype}")
    if c.ndim not in (3, 4):
        raise ValueError(f"expected (B, *S) with a 2D or 3D lattice, got shape {c.shape}")
    if not dt_min >= 0:
        raise ValueError(f"dt_min must be ≥ 0, got {dt_min}")
    B, ndim = c.shape[0], c.ndim
    dt = np.float32(dt_min)

    # 1. Reaction, point-wise backward Euler: c ← (c + dt·s) / (1 + dt·(λ + u)).
    lam = _per_field(xp, decay, B, ndim, "decay")
    loss = lam if uptake is None else xp.add(lam, xp.asarray(uptake, dtype=xp.float32))
    den = xp.multiply(dt, loss)
    xp.add(np.float32(1.0), den, out=den)
    if source is None:
        num = c
    else:
        num = xp.multiply(dt, xp.asarray(source, dtype=xp.float32))
        xp.add(c, num, out=num)
    w = xp.empty(c.shape, dtype=xp.float32)
    xp.divide(num, den, out=w)
    del num, den, loss

    # 2. Implicit diffusion along x, y(, z).
    D = np.asarray(_to_host(diffusion), dtype=np.float32).reshape(-1)
    if D.shape[0] != B:
        raise ValueError(f"diffusion has {D.shape[0]} values for a batch of {B} fields")
    if np.any(D < 0):
        raise ValueError("diffusion coefficients must be ≥ 0")
    h2 = float(spacing_um) ** 2
    rs = tuple(float(d) * float(dt) / h2 for d in D)
    g = None
    if boundary == "dirichlet":
        g = np.asarray(_to_host(boundary_value), dtype=np.float32).astype(np.float64).reshape(-1)
        if g.shape[0] != B:
            raise ValueError(f"boundary_value has {g.shape[0]} values for a batch of {B} fields")
    if not any(r > 0.0 for r in rs):
        return w
    if B > 1 and int(np.prod(c.shape[1:])) >= _FIELDWISE_VOXELS:
        for b in range(B):
            _diffuse(w[b:b + 1], rs[b:b + 1], None if g is None else g[b:b + 1], boundary, xp)
    else:
        _diffuse(w, rs, g, boundary, xp)
    return w


def _array_module(a):
    """NumPy, or CuPy for a CuPy array (taken from ``sys.modules``: never imported here)."""
    if type(a).__module__.split(".")[0] == "cupy":
        return sys.modules["cupy"]
    return np


def _to_host(a):
    """A small parameter array as NumPy (``.get()`` for CuPy arrays)."""
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else a
