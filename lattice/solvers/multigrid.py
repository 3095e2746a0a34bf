"""Backward Euler on the full reaction–diffusion operator, solved by geometric multigrid.

One call advances ``∂c/∂t = D∇²c − (λ + u)c + s`` by ``dt`` (the solver contract of
:mod:`lattice.solvers`) by solving the unsplit implicit system

    (1 + dt(λ + u) − dt·D∇²) c_new = c + dt·s

with a fixed number of multigrid V-cycles, warm-started from ``c``.

Why multigrid
-------------
The model takes large cell steps (1 h) while uptake is stiff (tumour O₂ uptake k ≈ 10/min, so
dt·k ≈ 600; vessels up to 10³/min). Operator splitting (LOD/ADI as in BioFVM) then has an
O(dt·k) error that does not vanish in the steady state — the split step's fixed point is not the
true steady state — whereas backward Euler on the whole operator is unconditionally stable,
obeys the maximum principle (its matrix is an M-matrix) and has exactly the discrete steady
state for any ``dt``. Geometric multigrid solves that system in O(N) work per cycle with a
convergence rate independent of the lattice size and of D·dt/h² (measured 10⁻³ … 10⁸ below), and
every step of it is element-wise (stencil sweeps, restriction, prolongation), so it maps one-to-
one onto CUDA kernels. There is no data-dependent control flow and no reduction inside
:func:`solve` (no norms, no dot products, no convergence test, no CG): a fixed number of
cycles, so the CUDA twin can reproduce it bit for bit. :func:`residual` (float64) is the
separate diagnostic, for tests.

Discretisation (cell-centred finite volumes)
--------------------------------------------
Write ``a0 = 1 + dt(λ + u)`` (per voxel), ``f = c + dt·s`` and ``α = dt·D/h²`` (per field). The
residual of an iterate ``c`` is, in flux form,

    r = (f − a0·c) + α · Σ_axes ( gl·(c_lo − c) + gh·(c_hi − c) )

with ghost values from :mod:`lattice.solvers.stencil` (Dirichlet ``2g − c_edge`` on the finest
level, ``−c_edge`` on coarse levels where the error equation is homogeneous; zero flux
``c_edge``; periodic wrap) and geometric face factors ``gl``, ``gh`` (1D tables per axis; all 1 on
the finest level). The exact point solve of voxel ``i`` is ``c_i ← c_i + r_i / d_i`` with
``d = a0 + α·W``, ``W = Σ_faces g·m``, ``m`` = 1 for an interior or periodic face, 2 for a
Dirichlet face (its ghost moves with ``c``), 0 for a zero-flux face. Differences are taken
before they are scaled, so the residual stays accurate in float32 for smooth fields and huge α.

Hierarchy
---------
Coarse cells are unions of 2 fine cells per axis (``n → ⌈n/2⌉``; for odd ``n`` the last coarse cell
has a single child), repeated while any axis has more than 4 cells. Every axis is halved at every
level — a short axis goes on to 2 and 1 cells — so all active axes keep comparable spacings and
the point smoother never faces strong anisotropy (a 1-cell axis only adds a diagonal term under
Dirichlet and nothing under zero flux or periodic). Examples: 200² → 100, 50, 25, 13, 7, 4;
64³ → 32, 16, 8, 4; 50×37 → 25×19, 13×10, 7×5, 4×3; 3×64×64 → 2×32×32, 1×16×16, 1×8×8,
1×4×4 (:func:`describe_hierarchy`).

Coarse operators are rediscretised on the true coarse geometry (cell widths ``w_j`` and centres
``x_j`` in units of h; non-uniform where sizes were odd):

- diffusion: face factor ``g = 1 / (distance between centres × w_j)`` (Dirichlet and zero-flux
  ghosts at the mirror image, distance ``w_j``; a periodic face joins the last and first cells).
  On uniform levels (all sizes even so far) ``g = 4^−l`` exactly and the code uses
  ``(α·4^−l)·Σ((c_lo − c) + (c_hi − c))``, bit-identical because scaling by 2^k is exact. The
  true geometry matters for odd sizes: with nominal spacings ``2^l h`` the coarse grids of a 200²
  Dirichlet lattice would describe a 256-wide domain and over-correct the smoothest error by ~1.6×.
- reaction: the average of the children's ``a0`` weighted by ``w = 1/(a0 + 2·ndim·α)`` of the
  finest level (composed down the levels: ``a0_c = R(a0·w)/R(w)``). A strongly absorbing voxel
  (a vessel, ``a0 ≫ α``) is depleted by its own uptake, so its share of a coarse cell's
  absorption is ``∝ a0/(a0 + 2·ndim·α)``, not ``a0``: plain averaging over-estimated the coarse
  absorption ~4× on a 2D lattice with 1 % vessel voxels (u = 10³/min at α = 1.5·10⁴) and the
  V-cycle slowed to 0.37 per cycle; weighted, ≤ 0.27 (3D: 0.38 → 0.15). Where ``a0`` is uniform the weights are
  uniform and this is the plain average.
- residual: restricted with the same weights, ``f_c = R(r·w)/R(w)``: consistent with the weighted
  reaction, and it keeps the float32 rounding of held voxels' residuals (``a0 ~ 10¹²`` in the
  tests' "held at c₀" regions, residual granularity ~ a0·ulp(c)) from being fed to the coarse grid
  as a real defect (with plain restriction those converged to a wrong fixed point, error ~10⁻³).
  The weights exclude the boundary term of ``W`` so that they stay uniform for uniform ``a0``:
  under zero flux with no reaction (nearly singular for large α) the weighted and plain
  restrictions then coincide and mass is conserved to float32 rounding.
- the boundary type carries over, homogeneous (``g = 0``) for the error equation.

Smoother, transfers, coarsest level
-----------------------------------
- Smoother: red–black Gauss–Seidel (colour = parity of the index sum; red first), ``pre_smooth``
  sweeps before and ``post_smooth`` after the coarse correction. On a periodic axis of odd length
  the two wrap neighbours share a colour and are relaxed together (Jacobi-like; still converges).
- Restriction: volume-weighted average of the existing children, one axis after the other
  (first spatial axis first): ``y_j = a_j·x_{2j} + b_j·x_{2j+1}``, ``a = w_{2j}/(w_{2j} + w_{2j+1})``
  (``a = b = ½`` on uniform levels; ``a = 1, b = 0`` with ``x_{2j+1} := x_{2j}`` for a single child).
- Prolongation: linear interpolation between the true coarse centres, one axis after the other,
  ``y_i = wp_i·e_parent + wq_i·e_neighbour`` (``¾, ¼`` on uniform levels; homogeneous ghosts beyond
  the edges), added to the fine iterate.
- Coarsest level (every axis ≤ 4: at most 64 unknowns): solved exactly by dense LU without
  pivoting (the matrix is a diagonally dominant M-matrix), in float64, factorised once per
  :func:`solve` and reused by every cycle; float64 because without uptake under zero flux the
  coarse matrix is nearly singular (condition ~ α/4^L) and float32 elimination could lose the
  last pivot. The elimination and substitution loops are element-wise column updates.

Operation order (the contract for the CUDA twin; float32 unless stated, one rounding per
operation, ``--fmad=false``)::

    alpha = float32(D * (dt/h**2))                # dt/h**2 and × D in float64, then rounded
    a0    = ((lam + u) * dt32) + 1                # u = 0 when None
    f     = c + (s * dt32)                        # f = c when source is None
    W     = float32(Σ_faces g·m)                  # host table per level (float64 → float32)
    inv   = 1 / (a0_l + (alpha * W))              # per level; stored as inv·[red], inv·[black]
    w_0   = 1 / (a0 + (alpha * float32(2·ndim)));  num_0 = a0 * w_0
    w_l+1 = R(w_l);  num_l+1 = R(num_l);  a0_l+1 = num_l+1 / w_l+1
    residual (per axis t = (gl*(lo - c)) + (gh*(hi - c)); acc = (t_0 + t_1) [+ t_2]):
              r = (f - (a0 * c)) + (alpha * acc)  # uniform levels: gl = gh = 1, alpha·4^-l
    half-sweep (red, then black): ghosts refreshed, then c = c + (r * inv_colour) everywhere
              (inv_colour = 0 off the colour, so only that colour moves)
    V-cycle(l): pre-smooth; r; f_l+1 = R(r * w_l) * (1 / w_l+1); c_l+1 = 0; V-cycle(l+1);
              c_l = c_l + P(c_l+1); post-smooth.
    coarsest: c_L = float32(LU⁻¹ f_L) in float64; if the finest level is the coarsest (a lattice
              with every axis ≤ 4): c = c + float32(LU⁻¹ r).

Measured convergence (V(2,2), NumPy 2.4; D = 1e5 µm²/min, h = 20 µm, dt = 60 min, λ = 0.1/min,
u = 10/min in a disc/ball of radius min(n)/4; residual reduction per cycle, cycles 1–4, start
at 38 everywhere or random in [0, 38]; zero flux / Dirichlet 38)::

    2D 128²  ≤ 0.12    200²  ≤ 0.15    75² (odd)  ≤ 0.14    50×37  ≤ 0.14
    3D 64³   ≤ 0.13    48×37×25 (odd) ≤ 0.14
    + 1 % vessel voxels (u = 10³, s = 10³·38): 2D ≤ 0.27 (periodic 75²: 0.33; mean over cycles
      2–4: 0.06–0.18), 3D ≤ 0.15 (mean 0.06–0.12)
    no uptake, D·dt/h² = 10⁴, zero flux: ≤ 0.06 (2D 128², 75²; 3D 64³)
    with vessels, D·dt/h² from 10⁻³ to 10⁸: ≤ 0.35 until float32 rounding (tested; measured
    ≤ 0.24)

Odd sizes cost little thanks to the true coarse geometry (75² vs 128²: 0.14 vs 0.12). The
default four cycles reduce the algebraic error of the warm start 10³–10⁵× (the first cycle
removes rough errors ~100×); the steady-state and mass tests use 8–20.

Time per :func:`solve` (4 cycles, B = 1, float32, NumPy 2.4, 2-core Xeon CI-class machine):
2D 200²: 11 ms; 3D 64³: 57 ms; 3D 128³: 0.43 s (the stencil sweeps run on contiguous flat
slices of padded arrays, in cache-sized chunks; a red–black half-sweep evaluates the residual
everywhere and moves one colour, so a compiled or CUDA sweep can halve that work).

CUDA twin
---------
:func:`solve` given a CuPy array runs ``kernels/multigrid.cu`` through
:mod:`lattice.kernels.multigrid`: the same operations in the order above (bit-identical with
``exact=True``, i.e. ``--fmad=false``; within 1e-5 relative in the fast build), one thread per
voxel (per voxel of one colour in a half-sweep), fields stored split by colour so that a
half-sweep reads only what it needs, the residual fused with the restriction, the coarsest LU
in float64 as here, no host syncs or copies inside a solve, and the whole V-cycle sequence
replayed as a CUDA graph for small and medium lattices (``graph``). The hierarchy's tables are
this module's own :func:`hierarchy_plan`, so the backends share one geometry. The host backend
runs the same kernels compiled for the CPU (:mod:`lattice.kernels._host`, always exact), with
row-loop host bodies for the sweeps and transfers (``kernels/multigrid.cu``); the diffusion
process passes it as ``kernel`` there (128³, 4 cycles, one core: ≈ 0.11 s vs NumPy's ≈ 0.42 s).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from lattice.solvers.stencil import (
    array_module,
    check_batch,
    check_boundary,
    fill_ghosts,
    laplacian,
    per_batch,
)

# ---------------------------------------------------------------------------------------------
# Geometry of the hierarchy (host NumPy, float64; depends only on the shape and the boundary)


@dataclass
class _Axis:
    """One axis of one level: cell widths (units of h), face factors, transfer tables."""

    widths: np.ndarray  # (n,) float64
    centres: np.ndarray  # (n,) float64
    gl: np.ndarray  # (n,) face factor of the lower face
    gh: np.ndarray  # (n,) face factor of the upper face
    weff: np.ndarray  # (n,) Σ g·m over this axis's two faces (diagonal contribution)


@dataclass
class _LevelGeometry:
    shape: tuple[int, ...]
    axes: list[_Axis]
    uniform: bool  # every width == 2**level on every axis (then gl = gh = 4**-level)
    scale: float  # 4**-level (used when uniform)
    # Transfer to the next coarser level (None on the coarsest): per axis
    restrict: list[tuple[np.ndarray, np.ndarray]] | None = None  # (a, b) float32 (m,)
    prolong: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None = None  # p, q, wp, wq


def _axis_tables(widths: np.ndarray, boundary: str) -> _Axis:
    n = widths.size
    centres = np.cumsum(widths) - 0.5 * widths
    gl = np.empty(n)
    gh = np.empty(n)
    ml = np.ones(n)
    mh = np.ones(n)
    if n > 1:
        dist = np.diff(centres)
        gh[:-1] = 1.0 / (dist * widths[:-1])
        gl[1:] = 1.0 / (dist * widths[1:])
    if boundary == "periodic":
        if n == 1:
            gl[0] = gh[0] = 0.0
            ml[0] = mh[0] = 0.0
        else:
            d = 0.5 * (widths[0] + widths[-1])
            gl[0] = 1.0 / (d * widths[0])
            gh[-1] = 1.0 / (d * widths[-1])
    else:
        gl[0] = 1.0 / (widths[0] * widths[0])
        gh[-1] = 1.0 / (widths[-1] * widths[-1])
        edge = 2.0 if boundary == "dirichlet" else 0.0
        ml[0] = edge
        mh[-1] = edge
    return _Axis(widths, centres, gl, gh, gl * ml + gh * mh)


def _restriction(widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = widths.size
    m = (n + 1) // 2
    a = np.ones(m)
    b = np.zeros(m)
    pairs = n // 2
    we, wo = widths[0:2 * pairs:2], widths[1:2 * pairs:2]
    a[:pairs] = we / (we + wo)
    b[:pairs] = wo / (we + wo)
    return a.astype(np.float32), b.astype(np.float32)


def _prolongation(fine: _Axis, coarse: _Axis, boundary: str):
    """Per fine cell: indices (into the coarse axis padded by one ghost each side) of the parent
    and the neighbour, and their linear-interpolation weights."""
    n, m = fine.widths.size, coarse.widths.size
    xc = coarse.centres
    length = float(coarse.widths.sum())
    if boundary == "periodic":
        ghost_lo, ghost_hi = xc[-1] - length, length + xc[0]
    else:  # mirror images about the outer faces
        ghost_lo, ghost_hi = -xc[0], 2.0 * length - xc[-1]
    xpad = np.concatenate([[ghost_lo], xc, [ghost_hi]])
    p = np.arange(n) // 2
    single = np.zeros(m, dtype=bool)
    if n % 2:
        single[-1] = True
    q = np.where(np.arange(n) % 2 == 0, p - 1, p + 1)
    q = np.where(single[p], p - 1, q)  # unused (weight 0) but a valid index
    xf = fine.centres
    t = (xf - xc[p]) / (xpad[q + 1] - xc[p])
    t = np.where(single[p], 0.0, t)
    wq = t.astype(np.float32)
    wp = (1.0 - t).astype(np.float32)
    return p + 1, q + 1, wp, wq


def _hierarchy(shape: tuple[int, ...], boundary: str) -> list[_LevelGeometry]:
    widths = [np.ones(n) for n in shape]
    levels: list[_LevelGeometry] = []
    level = 0
    while True:
        axes = [_axis_tables(w, boundary) for w in widths]
        uniform = all(bool(np.all(w == 2.0**level)) for w in widths)
        geo = _LevelGeometry(tuple(w.size for w in widths), axes, uniform, 4.0**-level)
        levels.append(geo)
        if max(geo.shape) <= 4:
            break
        coarse_widths = []
        for w in widths:
            pairs = w.size // 2
            cw = w[0:2 * pairs:2] + w[1:2 * pairs:2]
            if w.size % 2:
                cw = np.concatenate([cw, w[-1:]])
            coarse_widths.append(cw)
        geo.restrict = [_restriction(w) for w in widths]
        coarse_axes = [_axis_tables(w, boundary) for w in coarse_widths]
        geo.prolong = [_prolongation(f, c, boundary) for f, c in zip(axes, coarse_axes, strict=True)]
        widths = coarse_widths
        level += 1
    return levels


@dataclass
class _LevelTables:
    """Device tables of one level in the padded-flat layout (see :class:`_Level`)."""

    shape: tuple[int, ...]
    padded: tuple[int, ...]
    size: int  # P = prod(padded)
    margin: int  # M = the largest flat shift (first spatial axis)
    shifts: tuple[int, ...]  # flat shift of each spatial axis
    uniform: bool
    scale: float
    weff: object  # (S,) float32, W = Σ_faces g·m
    red: object  # (S,) float32 1/0
    black: object
    gl: list[object] | None  # per axis (P,) float32, zero on ghosts (non-uniform levels only)
    gh: list[object] | None


@dataclass
class _Plan:
    """Device tables for one (array module, lattice shape, boundary)."""

    geometry: list[_LevelGeometry]
    levels: list[_LevelTables] = field(default_factory=list)
    restrict: list[list[tuple[object, object]]] = field(default_factory=list)
    prolong: list[list[tuple[object, object, object, object]]] = field(default_factory=list)
    coarse_w64: object = None  # (N,) float64 diagonal geometry of the coarsest level
    coarse_off: tuple[object, object, object] | None = None  # rows, cols, g (float64) of off-diagonals


_PLANS: OrderedDict = OrderedDict()
CHUNK = 32768  # voxels × fields per chunk of a stencil sweep (~128 KiB per float32 buffer)


def _axis_shape(ndim: int, axis: int, n: int) -> tuple[int, ...]:
    """Shape that broadcasts a 1D table of length n along spatial axis ``axis`` of (B, *S)."""
    s = [1] * (ndim + 1)
    s[axis + 1] = n
    return tuple(s)


def _spatial(ndim: int, axis: int, table: np.ndarray) -> np.ndarray:
    """A 1D per-axis table reshaped to broadcast over the spatial shape (no batch axis)."""
    return table.reshape(_axis_shape(ndim, axis, table.size)[1:])


def _padded_flat(table: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A spatial table ``S`` embedded in the padded-flat layout ``(P,)``, zero on ghosts."""
    out = np.zeros(tuple(n + 2 for n in shape), dtype=np.float32)
    out[(slice(1, -1),) * len(shape)] = np.broadcast_to(table, shape)
    return out.reshape(-1)


def hierarchy_plan(shape: tuple[int, ...], boundary: str) -> _Plan:
    """The hierarchy of a lattice ``shape`` as NumPy tables (cached): per level its geometry
    (``geometry[l]``: shape, per-axis face factors ``gl``/``gh``/``weff``, restriction and
    prolongation tables) and the coarsest level's dense operator geometry (``coarse_w64``,
    ``coarse_off``). The one source of geometry for this reference and the compiled twins
    (:mod:`lattice.kernels.multigrid`)."""
    return _plan(np, tuple(int(n) for n in shape), boundary)


def _plan(xp, shape: tuple[int, ...], boundary: str) -> _Plan:
    key = (xp.__name__, shape, boundary)
    if key in _PLANS:
        _PLANS.move_to_end(key)
        return _PLANS[key]
    ndim = len(shape)
    geometry = _hierarchy(shape, boundary)
    plan = _Plan(geometry)
    for geo in geometry:
        padded = tuple(n + 2 for n in geo.shape)
        shifts = tuple(int(np.prod(padded[k + 1:])) for k in range(ndim))
        w = sum(_spatial(ndim, k, ax.weff) for k, ax in enumerate(geo.axes))
        parity = sum(_spatial(ndim, k, np.arange(n)) for k, n in enumerate(geo.shape)) % 2
        parity = np.broadcast_to(parity, geo.shape)
        gl = gh = None
        if not geo.uniform:
            gl = [xp.asarray(_padded_flat(_spatial(ndim, k, ax.gl).astype(np.float32), geo.shape))
                  for k, ax in enumerate(geo.axes)]
            gh = [xp.asarray(_padded_flat(_spatial(ndim, k, ax.gh).astype(np.float32), geo.shape))
                  for k, ax in enumerate(geo.axes)]
        plan.levels.append(_LevelTables(
            shape=geo.shape, padded=padded, size=int(np.prod(padded)), margin=shifts[0], shifts=shifts,
            uniform=geo.uniform, scale=geo.scale,
            weff=xp.asarray(np.broadcast_to(w, geo.shape).astype(np.float32)),
            red=xp.asarray((parity == 0).astype(np.float32)),
            black=xp.asarray((parity == 1).astype(np.float32)),
            gl=gl, gh=gh,
        ))
        if geo.restrict is not None:
            plan.restrict.append([
                (xp.asarray(a.reshape(_axis_shape(ndim, k, a.size))),
                 xp.asarray(b.reshape(_axis_shape(ndim, k, b.size))))
                for k, (a, b) in enumerate(geo.restrict)
            ])
            plan.prolong.append([
                (xp.asarray(p), xp.asarray(q),
                 xp.asarray(wp.reshape(_axis_shape(ndim, k, wp.size))),
                 xp.asarray(wq.reshape(_axis_shape(ndim, k, wq.size))))
                for k, (p, q, wp, wq) in enumerate(geo.prolong)
            ])
    # Coarsest level: the dense operator's geometry (float64); off-diagonals accumulated because a
    # periodic 2-cell axis joins the same pair of cells through two faces.
    geo = geometry[-1]
    cs = geo.shape
    n_cells = int(np.prod(cs))
    idx = np.arange(n_cells).reshape(cs)
    off = np.zeros((n_cells, n_cells))
    for k, ax in enumerate(geo.axes):
        n = cs[k]
        for g_table, step in ((ax.gh, -1), (ax.gl, 1)):
            nb = np.roll(idx, step, axis=k)  # step −1: upper neighbour; +1: lower (wrapping)
            g = np.broadcast_to(_spatial(ndim, k, g_table), cs)
            sel = np.ones(cs, dtype=bool)
            if boundary != "periodic" or n == 1:
                edge = slice(-1, None) if step == -1 else slice(0, 1)
                sel[tuple(edge if a == k else slice(None) for a in range(ndim))] = False
            np.add.at(off, (idx[sel], nb[sel]), g[sel])
    rows, cols = np.nonzero(off)
    w64 = np.broadcast_to(sum(_spatial(ndim, k, ax.weff) for k, ax in enumerate(geo.axes)), cs)
    plan.coarse_w64 = xp.asarray(w64.reshape(-1).copy())
    plan.coarse_off = (xp.asarray(rows), xp.asarray(cols), xp.asarray(off[rows, cols]))
    _PLANS[key] = plan
    while len(_PLANS) > 16:
        _PLANS.popitem(last=False)
    return plan


# ---------------------------------------------------------------------------------------------
# Element-wise building blocks


def _take_slice(x, axis: int, s: slice):
    key = [slice(None)] * x.ndim
    key[axis] = s
    return x[tuple(key)]


def _restrict(xp, x, tables):
    """Volume-weighted average of the children, axis by axis: ``(B, *S_l) → (B, *S_{l+1})``."""
    for k, (a, b) in enumerate(tables):
        axis = k + 1
        n = x.shape[axis]
        even = _take_slice(x, axis, slice(0, n, 2))
        odd = _take_slice(x, axis, slice(1, n, 2))
        if n % 2:
            odd = xp.concatenate([odd, _take_slice(x, axis, slice(n - 1, n))], axis=axis)
        y = even * a
        y += odd * b
        x = y
    return x


def _prolong(xp, e, tables, boundary: str):
    """Linear interpolation of a coarse correction ``(B, *S_{l+1}) → (B, *S_l)``, axis by axis."""
    for k, (p, q, wp, wq) in enumerate(tables):
        axis = k + 1
        lo = _take_slice(e, axis, slice(0, 1))
        hi = _take_slice(e, axis, slice(-1, None))
        if boundary == "periodic":
            g_lo, g_hi = hi, lo
        elif boundary == "dirichlet":
            g_lo, g_hi = -lo, -hi
        else:
            g_lo, g_hi = lo, hi
        padded = xp.concatenate([g_lo, e, g_hi], axis=axis)
        y = xp.take(padded, p, axis=axis) * wp
        y += xp.take(padded, q, axis=axis) * wq
        e = y
    return e


class _Level:
    """Work arrays of one level of one solve, in the padded-flat layout.

    Every per-voxel array is ``(B, P)``, C-contiguous, ``P = prod(S + 2)``: the padded lattice
    (one ghost layer per face) flattened. A neighbour along spatial axis ``k`` is a flat shift by
    ``shifts[k]``, so the stencil runs on contiguous 1D slices over the core ``[M, P − M)``
    (``M`` = the largest shift), which contains the whole interior; values computed at the ghost
    positions inside the core are never used (the colour weights are zero there). ``nd(a)`` is
    the ``(B, *(S + 2))`` view and ``inner(a)`` its interior ``(B, *S)``.
    """

    def __init__(self, xp, batch: int, tables: _LevelTables):
        self.t = tables
        self.batch = batch
        shape = (batch, tables.size)
        self.cp = xp.zeros(shape, dtype=xp.float32)
        self.f = xp.zeros(shape, dtype=xp.float32)
        self.a0 = xp.zeros(shape, dtype=xp.float32)
        self.inv_red = xp.zeros(shape, dtype=xp.float32)
        self.inv_black = xp.zeros(shape, dtype=xp.float32)
        self.r = xp.zeros(shape, dtype=xp.float32)
        self.core = slice(tables.margin, tables.size - tables.margin)

    def nd(self, a):
        return a.reshape((self.batch,) + self.t.padded)

    def inner(self, a):
        return self.nd(a)[(slice(None),) + (slice(1, -1),) * len(self.t.shape)]


class _Solver:
    """One backward-Euler solve: coefficients of every level, the coarse LU, the V-cycle."""

    def __init__(self, xp, plan: _Plan, boundary: str, alpha32, alpha64, two_g):
        self.xp = xp
        self.plan = plan
        self.boundary = boundary
        self.alpha32 = alpha32  # (B, 1, ..) float32
        self.alpha64 = alpha64  # (B,) float64
        self.two_g = two_g  # (B, 1, ..) float32 or None
        self.levels: list[_Level] = []
        self.lu = None
        self._buf = None

    def setup(self, c, a0, f) -> None:
        """Fill the levels: iterate, right-hand side, reaction, colour-weighted 1/diagonal and
        the restriction weights ``w`` (coarse reaction ``a0_c = R(a0·w)/R(w)``, module docstring).
        """
        xp, plan = self.xp, self.plan
        batch = c.shape[0]
        flat_alpha = self.alpha32.reshape(batch, 1)
        num = den = None
        for lev, tables in enumerate(plan.levels):
            L = _Level(xp, batch, tables)
            if lev == 0:
                L.inner(L.cp)[...] = c
                L.inner(L.f)[...] = f
                a0_l = a0
            else:
                num = _restrict(xp, num, plan.restrict[lev - 1])
                den = _restrict(xp, den, plan.restrict[lev - 1])
                a0_l = num / den
            L.inner(L.a0)[...] = a0_l
            diag = self.alpha32 * tables.weff
            diag = a0_l + diag
            inv = xp.float32(1.0) / diag
            L.inner(L.inv_red)[...] = inv * tables.red
            L.inner(L.inv_black)[...] = inv * tables.black
            if lev == 0:
                den = self.alpha32 * xp.float32(2 * len(tables.shape))
                den = xp.float32(1.0) / (a0_l + den)
                num = a0_l * den
            L.weight = den  # restriction weights of this level's residual
            L.inv_weight = xp.float32(1.0) / den  # normalisation of residuals restricted onto it
            L.alpha = flat_alpha * xp.float32(tables.scale) if tables.uniform else flat_alpha
            self.levels.append(L)
        self.factorise(a0_l)

    # -- residual and smoothing ------------------------------------------------------------
    def _chunks(self, L: _Level):
        """Flat ranges ``[a, b)`` covering the core, each small enough to stay in cache.

        Every value is computed by the same expression whatever the chunking (a red–black half-
        sweep reads only the other colour and fixed ghost copies), so results do not depend on
        it; chunks only keep the temporaries in cache."""
        start, stop = L.core.start, L.core.stop
        step = max(1024, CHUNK // max(1, L.batch))
        return [(a, min(a + step, stop)) for a in range(start, stop, step)]

    def _buffers(self, n: int):
        xp = self.xp
        if self._buf is None or self._buf[0].shape[1] < n:
            self._buf = [xp.empty((self.levels[0].batch, n), dtype=xp.float32) for _ in range(4)]
        return [b[:, :n] for b in self._buf]

    def _residual_range(self, L: _Level, a: int, b: int, r, acc, t1, t2) -> None:
        """``r = (f − a0·c) + α·Σ_axes(gl·(lo − c) + gh·(hi − c))`` on the flat range ``[a, b)``."""
        xp, t = self.xp, L.t
        cp = L.cp
        c = cp[:, a:b]
        for k, s in enumerate(t.shifts):
            out = acc if k == 0 else t1
            xp.subtract(cp[:, a - s:b - s], c, out=out)
            xp.subtract(cp[:, a + s:b + s], c, out=t2)
            if not t.uniform:
                out *= t.gl[k][a:b]
                t2 *= t.gh[k][a:b]
            out += t2
            if k > 0:
                acc += t1
        xp.multiply(L.a0[:, a:b], c, out=r)
        xp.subtract(L.f[:, a:b], r, out=r)
        acc *= L.alpha
        r += acc

    def residual(self, lev: int) -> None:
        """The residual of level ``lev`` into ``levels[lev].r`` (core; ghosts refreshed first)."""
        L = self.levels[lev]
        fill_ghosts(L.nd(L.cp), self.boundary, self.two_g if lev == 0 else None)
        for a, b in self._chunks(L):
            acc, t1, t2, _ = self._buffers(b - a)
            self._residual_range(L, a, b, L.r[:, a:b], acc, t1, t2)

    def smooth(self, lev: int) -> None:
        """One red–black Gauss–Seidel sweep: per colour, ``c = c + r·(inv·colour)``."""
        L = self.levels[lev]
        for inv in (L.inv_red, L.inv_black):
            fill_ghosts(L.nd(L.cp), self.boundary, self.two_g if lev == 0 else None)
            for a, b in self._chunks(L):
                acc, t1, t2, r = self._buffers(b - a)
                self._residual_range(L, a, b, r, acc, t1, t2)
                r *= inv[:, a:b]
                L.cp[:, a:b] += r

    # -- coarsest level ---------------------------------------------------------------------
    def factorise(self, a0) -> None:
        """Dense LU (no pivoting, float64) of the coarsest operator, per field."""
        xp, plan = self.xp, self.plan
        batch = a0.shape[0]
        n = int(np.prod(a0.shape[1:]))
        alpha = self.alpha64.reshape(batch, 1)
        A = xp.zeros((batch, n, n), dtype=xp.float64)
        diag = a0.reshape(batch, n).astype(xp.float64) + alpha * plan.coarse_w64
        ii = xp.arange(n)
        A[:, ii, ii] = diag
        rows, cols, g = plan.coarse_off
        if rows.size:
            A[:, rows, cols] = -alpha * g
        for k in range(n - 1):
            A[:, k + 1:, k] /= A[:, k:k + 1, k]
            A[:, k + 1:, k + 1:] -= A[:, k + 1:, k, None] * A[:, None, k, k + 1:]
        self.lu = A

    def coarse_solve(self, rhs):
        """``A⁻¹ rhs`` on the coarsest level (float64 substitution), returned as float32."""
        xp, A = self.xp, self.lu
        batch, n = A.shape[0], A.shape[1]
        y = rhs.reshape(batch, n).astype(xp.float64)
        for k in range(n - 1):
            y[:, k + 1:] -= A[:, k + 1:, k] * y[:, k, None]
        for k in range(n - 1, -1, -1):
            y[:, k] /= A[:, k, k]
            if k:
                y[:, :k] -= A[:, :k, k] * y[:, k, None]
        return y.astype(xp.float32).reshape(rhs.shape)

    # -- V-cycle ------------------------------------------------------------------------------
    def vcycle(self, lev: int, pre: int, post: int) -> None:
        xp, L = self.xp, self.levels[lev]
        last = len(self.levels) - 1
        if lev == last:
            if lev == 0:
                self.residual(0)
                L.inner(L.cp)[...] += self.coarse_solve(xp.ascontiguousarray(L.inner(L.r)))
            else:
                L.inner(L.cp)[...] = self.coarse_solve(xp.ascontiguousarray(L.inner(L.f)))
            return
        for _ in range(pre):
            self.smooth(lev)
        self.residual(lev)
        nxt = self.levels[lev + 1]
        rw = _restrict(xp, L.inner(L.r) * L.weight, self.plan.restrict[lev])
        rw *= nxt.inv_weight
        nxt.inner(nxt.f)[...] = rw
        nxt.cp[...] = 0
        self.vcycle(lev + 1, pre, post)
        L.inner(L.cp)[...] += _prolong(xp, nxt.inner(nxt.cp), self.plan.prolong[lev], self.boundary)
        for _ in range(post):
            self.smooth(lev)


# ---------------------------------------------------------------------------------------------
# Public API


def _coefficients(xp, c, *, dt_min, spacing_um, diffusion, decay, uptake, source, boundary_value,
                  boundary):
    """``a0, f`` (``(B, *S)`` float32), α (float32 ``(B, 1, …)`` and float64 ``(B,)``) and ``2g``."""
    batch, spatial = check_batch(c)
    ndim = len(spatial)
    dt = float(dt_min)
    dt32 = xp.float32(dt)
    alpha64 = xp.asarray(diffusion, dtype=xp.float64).reshape(-1) * (dt / float(spacing_um) ** 2)
    alpha64 = xp.broadcast_to(alpha64, (batch,))
    alpha32 = alpha64.astype(xp.float32).reshape((batch,) + (1,) * ndim)
    lam = per_batch(xp, decay, batch, ndim, xp.float32)
    if uptake is None:
        a0 = xp.broadcast_to(lam, c.shape) * dt32
    else:
        a0 = lam + xp.asarray(uptake, dtype=xp.float32)
        a0 *= dt32
    a0 = a0 + xp.float32(1.0)
    if source is None:
        f = c
    else:
        f = xp.asarray(source, dtype=xp.float32) * dt32
        f = c + f
    two_g = None
    if boundary == "dirichlet":
        g = per_batch(xp, 0.0 if boundary_value is None else boundary_value, batch, ndim, xp.float32)
        two_g = g + g
    return a0, f, alpha32, alpha64, two_g


def solve(c, *, dt_min, spacing_um, diffusion, decay, uptake=None, source=None, boundary,
          boundary_value=None, cycles=4, pre_smooth=2, post_smooth=2, exact=False, graph=None, kernel=None):
    """Backward-Euler step of length ``dt_min`` by ``cycles`` multigrid V-cycles.

    With ``kernel`` (the backend's twin, ``Backend.kernel("multigrid")``: the host build on the
    host backend) the solve runs compiled; a CuPy array ``c`` is solved by the CUDA twin
    (:mod:`lattice.kernels.multigrid`, the same operations in the same order); everything else by
    the NumPy code below, the reference.

    Args:
        c: float32 ``(B, *S)``, 2D or 3D, every axis ≥ 3; not modified; the initial guess.
        dt_min: step (min), any size ≥ 0.
        spacing_um: voxel edge ``h`` (µm).
        diffusion: ``(B,)`` D (µm²/min).
        decay: ``(B,)`` λ (1/min).
        uptake: ``(B, *S)`` u ≥ 0 (1/min) or None.
        source: ``(B, *S)`` s ≥ 0 (units/min) or None.
        boundary: ``"zero_flux"``, ``"dirichlet"`` or ``"periodic"``.
        boundary_value: ``(B,)`` Dirichlet values (ignored otherwise).
        cycles: V-cycles (fixed; no convergence test). See the module docstring for the measured
            reduction per cycle.
        pre_smooth: red–black Gauss–Seidel sweeps before the coarse correction.
        post_smooth: red–black Gauss–Seidel sweeps after the coarse correction.
        exact: CUDA twin only: kernels compiled with ``--fmad=false`` (bit-identical to NumPy);
            the default build is within 1e-5 relative. Ignored by NumPy.
        graph: CUDA twin only: replay the solve as a CUDA graph (None: automatically for small
            lattices, see :mod:`lattice.kernels.multigrid`). Ignored by NumPy.
        kernel: a compiled twin (:class:`lattice.kernels.multigrid.MultigridTwin`) to solve with,
            or None. The host twin gives NumPy's bits.

    Returns:
        float32 ``(B, *S)``: the fields after ``dt_min``.
    """
    if kernel is None and type(c).__module__.startswith("cupy"):
        from lattice.kernels.multigrid import load

        kernel = load(bool(exact))
    if kernel is not None:
        return kernel.solve(
            c, dt_min=dt_min, spacing_um=spacing_um, diffusion=diffusion, decay=decay, uptake=uptake,
            source=source, boundary=boundary, boundary_value=boundary_value, cycles=cycles,
            pre_smooth=pre_smooth, post_smooth=post_smooth, graph=graph,
        )
    check_boundary(boundary)
    xp = array_module(c)
    c = xp.asarray(c, dtype=xp.float32)
    _, spatial = check_batch(c)
    a0, f, alpha32, alpha64, two_g = _coefficients(
        xp, c, dt_min=dt_min, spacing_um=spacing_um, diffusion=diffusion, decay=decay, uptake=uptake,
        source=source, boundary_value=boundary_value, boundary=boundary,
    )
    solver = _Solver(xp, _plan(xp, spatial, boundary), boundary, alpha32, alpha64, two_g)
    solver.setup(c, a0, f)
    for _ in range(int(cycles)):
        solver.vcycle(0, int(pre_smooth), int(post_smooth))
    L = solver.levels[0]
    return xp.ascontiguousarray(L.inner(L.cp))


def residual(c_new, c_old, *, dt_min, spacing_um, diffusion, decay, uptake=None, source=None,
             boundary, boundary_value=None):
    """Residual of the backward-Euler system, float64 ``(B, *S)`` (a diagnostic, not used by
    :func:`solve`): ``(c_old + dt·s) − (1 + dt(λ + u))·c_new + dt·D·∇²c_new``, in field units."""
    check_boundary(boundary)
    xp = array_module(c_new)
    cn = xp.asarray(c_new, dtype=xp.float64)
    co = xp.asarray(c_old, dtype=xp.float64)
    batch, spatial = check_batch(cn)
    ndim = len(spatial)
    dt = float(dt_min)
    d = per_batch(xp, diffusion, batch, ndim, xp.float64)
    lam = per_batch(xp, decay, batch, ndim, xp.float64)
    k = lam if uptake is None else lam + xp.asarray(uptake, dtype=xp.float64)
    f = co if source is None else co + dt * xp.asarray(source, dtype=xp.float64)
    lap = laplacian(cn, spacing_um, boundary, boundary_value)
    return f - (1.0 + dt * k) * cn + dt * d * lap


def describe_hierarchy(shape: tuple[int, ...], boundary: str = "zero_flux") -> list[tuple[int, ...]]:
    """The level shapes multigrid uses for a lattice ``shape`` (for docs and tests)."""
    return [g.shape for g in _hierarchy(tuple(int(n) for n in shape), boundary)]


__all__ = ["describe_hierarchy", "hierarchy_plan", "residual", "solve"]
