"""Shared stencil helpers for the field solvers, NumPy/CuPy-generic.

Everything here works on batched arrays ``(B, *S)`` — ``B`` independent fields on a 2D or 3D
cell-centred lattice ``S`` (spatial axes last) — and takes its array module from the input
array, so the same code runs on NumPy and CuPy arrays; this module never imports CuPy.

Boundaries (one per call, for the whole batch; per-batch values ``g`` of shape ``(B,)``)
----------------------------------------------------------------------------------------
The lattice is cell-centred: voxel ``i`` of an axis has its centre at ``(i + ½) h`` and the
lattice's outer faces lie at ``0`` and ``n h``. A padded array ``(B, *(S + 2))`` carries one
ghost layer per face, filled as

- ``dirichlet``: value ``g`` held on the outer face, ghost ``= 2 g − c_edge`` (the linear
  interpolation between ghost and edge centre is ``g`` on the face);
- ``zero_flux``: ghost ``= c_edge`` (no gradient across the face);
- ``periodic``: ghost ``=`` the voxel on the opposite side (wrap).

Only the face ghosts are set: a 5/7-point stencil never reads the padded array's edges or
corners, which are left as they are.

Laplacian (flux form)
---------------------
``∇²c ≈ Σ_faces (c_neighbour − c) / h²``, grouped per spatial axis (lower neighbour, then
upper), the axes summed in order (first spatial axis first)::

    acc = ((c[i-1,j] - c) + (c[i+1,j] - c)) + ((c[i,j-1] - c) + (c[i,j+1] - c))   # 2D
    lap = acc * float32(1/h²)

Each face difference appears in the two voxels it joins with opposite sign (IEEE subtraction
is exactly antisymmetric), so under zero-flux or periodic boundaries the discrete Laplacian
sums to zero up to the rounding of the per-voxel sums: the form that conserves mass.
"""

from __future__ import annotations

import sys
from types import ModuleType

import numpy as np

BOUNDARIES = ("zero_flux", "dirichlet", "periodic")


def array_module(a) -> ModuleType:
    """The array module (``numpy`` or ``cupy``) that ``a`` belongs to, without importing CuPy.

    A NumPy array (or anything that is not an array of an imported array library) gives NumPy;
    otherwise the top-level package of the array's type, which is already imported when such an
    array exists.
    """
    if isinstance(a, np.ndarray) or np.isscalar(a):
        return np
    top = type(a).__module__.split(".")[0]
    module = sys.modules.get(top)
    if module is None or not hasattr(module, "asarray"):
        return np
    return module


def check_boundary(boundary: str) -> None:
    """Raise ValueError unless ``boundary`` is one of :data:`BOUNDARIES`."""
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary={boundary!r} is not one of {', '.join(BOUNDARIES)}")


def check_batch(c) -> tuple[int, tuple[int, ...]]:
    """``(B, S)`` of a batched field ``(B, *S)``; raise ValueError for a bad shape.

    The lattice must be 2D or 3D with at least 3 voxels per axis (the smallest lattice on which
    every boundary's stencil is well defined, a periodic axis included).
    """
    if c.ndim not in (3, 4):
        raise ValueError(f"fields must have shape (B, *S) with a 2D or 3D lattice S, got {c.shape}")
    spatial = tuple(int(n) for n in c.shape[1:])
    if min(spatial) < 3:
        raise ValueError(f"every lattice axis needs at least 3 voxels, got {list(spatial)}")
    return int(c.shape[0]), spatial


def per_batch(xp: ModuleType, values, batch: int, ndim: int, dtype) -> object:
    """A per-field parameter (scalar or ``(B,)``) as an array ``(B, 1, …, 1)`` of ``dtype``,
    ready to broadcast over a ``(B, *S)`` field with ``ndim`` spatial axes."""
    a = xp.asarray(values, dtype=dtype).reshape(-1)
    if a.shape[0] == 1 and batch != 1:
        a = xp.broadcast_to(a, (batch,))
    if a.shape[0] != batch:
        raise ValueError(f"expected {batch} per-field values, got {a.shape[0]}")
    return a.reshape((batch,) + (1,) * ndim)


def _face(p, axis: int, index: int) -> tuple:
    """Index tuple selecting position ``index`` along array axis ``axis`` of ``p``."""
    key = [slice(None)] * p.ndim
    key[axis] = index
    return tuple(key)


def fill_ghosts(p, boundary: str, two_g=None) -> None:
    """Set the face ghosts of a padded batch ``p`` ``(B, *(S + 2))`` in place.

    Args:
        p: padded array; its interior ``p[:, 1:-1, …]`` holds the field.
        boundary: one of :data:`BOUNDARIES`.
        two_g: Dirichlet only: ``2 g`` as an array ``(B, 1, …, 1)`` of ``p``'s dtype (ghost
            ``= 2 g − c_edge``, computed as one subtraction), or None for the homogeneous
            condition ``g = 0`` (ghost ``= −c_edge``), used for multigrid's error equations.

    Axes are filled in order, first spatial axis first; each ghost slice spans the whole padded
    extent of the other axes (their ghost entries included, which no stencil reads).
    """
    xp = array_module(p)
    for axis in range(1, p.ndim):
        lo, lo_in = _face(p, axis, 0), _face(p, axis, 1)
        hi, hi_in = _face(p, axis, -1), _face(p, axis, -2)
        if boundary == "zero_flux":
            p[lo] = p[lo_in]
            p[hi] = p[hi_in]
        elif boundary == "periodic":
            p[lo] = p[hi_in]
            p[hi] = p[lo_in]
        elif boundary == "dirichlet":
            if two_g is None:
                xp.negative(p[lo_in], out=p[lo])
                xp.negative(p[hi_in], out=p[hi])
            else:
                g = two_g.reshape(two_g.shape[:1] + (1,) * (p.ndim - 2))
                xp.subtract(g, p[lo_in], out=p[lo])
                xp.subtract(g, p[hi_in], out=p[hi])
        else:
            check_boundary(boundary)


def interior(p) -> tuple:
    """Index tuple of the interior of a padded batch (all but the ghost layer)."""
    return (slice(None),) + (slice(1, -1),) * (p.ndim - 1)


def pad(c, boundary: str, boundary_value=None):
    """A new padded copy ``(B, *(S + 2))`` of ``c`` ``(B, *S)`` with its face ghosts filled.

    Args:
        c: field batch.
        boundary: one of :data:`BOUNDARIES`.
        boundary_value: Dirichlet values ``g``, scalar or ``(B,)`` (ignored otherwise; None
            means 0).
    """
    check_boundary(boundary)
    xp = array_module(c)
    p = xp.zeros((c.shape[0],) + tuple(n + 2 for n in c.shape[1:]), dtype=c.dtype)
    p[interior(p)] = c
    two_g = None
    if boundary == "dirichlet" and boundary_value is not None:
        g = per_batch(xp, boundary_value, c.shape[0], c.ndim - 1, c.dtype)
        two_g = g + g
    fill_ghosts(p, boundary, two_g)
    return p


def neighbour_views(p, axis: int) -> tuple:
    """``(lower, upper)`` neighbour views of the interior of padded ``p`` along array axis
    ``axis`` (1 = first spatial axis)."""
    lo = [slice(None)] + [slice(1, -1)] * (p.ndim - 1)
    hi = list(lo)
    lo[axis] = slice(0, -2)
    hi[axis] = slice(2, None)
    return p[tuple(lo)], p[tuple(hi)]


def flux_sum(p, out=None, tmp=None, tmp2=None):
    """``Σ_faces (c_neighbour − c)`` over the interior of the padded batch ``p`` (ghosts set).

    Grouped per axis, axes in order (first spatial axis first)::

        acc = ((lo_0 - c) + (hi_0 - c)) + ((lo_1 - c) + (hi_1 - c)) [+ ((lo_2 - c) + (hi_2 - c))]

    ``out``, ``tmp`` and ``tmp2`` are optional buffers of the interior's shape and ``p``'s dtype.
    """
    xp = array_module(p)
    c = p[interior(p)]
    bufs = [b if b is not None else xp.empty(c.shape, dtype=p.dtype) for b in (out, tmp, tmp2)]
    out, tmp, tmp2 = bufs
    for axis in range(1, p.ndim):
        lo, hi = neighbour_views(p, axis)
        t = out if axis == 1 else tmp
        xp.subtract(lo, c, out=t)
        xp.subtract(hi, c, out=tmp2)
        t += tmp2
        if axis > 1:
            out += tmp
    return out


def laplacian(c, spacing_um: float, boundary: str, boundary_value=None):
    """The 5-point (2D) or 7-point (3D) Laplacian of a batch ``c`` ``(B, *S)``, same dtype.

    Args:
        c: field batch, float32 or float64.
        spacing_um: voxel edge ``h`` (µm); the result is in field units per µm².
        boundary: one of :data:`BOUNDARIES` (cell-centred ghosts, see the module docstring).
        boundary_value: Dirichlet values ``g``, scalar or ``(B,)``.

    Returns:
        ``Σ_faces (c_neighbour − c) · (1/h²)``, the flux-form Laplacian.
    """
    check_batch(c)
    acc = flux_sum(pad(c, boundary, boundary_value))
    acc *= c.dtype.type(1.0 / (float(spacing_um) ** 2))
    return acc
