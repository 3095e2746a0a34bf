"""Shared plumbing of the cell-rule launchers (``cycle``, ``death``, ``drugs``, ``transitions``,
``mutation``): lattice dimensions, RNG key words, contiguous arguments, cached device tables.

The launchers allocate through ``model.xp`` (CuPy on the GPU backend) and never import CuPy
themselves, so the same launcher code also drives the host build of the kernels
(:mod:`lattice.kernels._host`, the ``host`` backend) with NumPy arrays.

Exactness: the cell-rule kernels are always loaded with :func:`lattice.kernels._loader.ieee_module`
(``--fmad=false``, no flush-to-zero), whatever the backend's ``exact`` says. They take decisions
(``u < p``), and issue 5 asks for bit-identical labels and per-cell attributes in both the exact
and the fast mode; a contracted multiply–add would move a probability by one ulp and flip a
decision, and a flushed subnormal would change memories and effects. They are memory-bound, so
neither would buy speed.
"""

from __future__ import annotations

import numpy as np

from ._loader import ieee_module, launch_1d

_MASK32 = 0xFFFFFFFF


class RuleKernels:
    """Base of a twin: the compiled module of ``<source>.cu`` and a one-thread-per-voxel launch.

    Args:
        exact: the backend's ``exact`` option (recorded; the rules are always IEEE-exact).
        mod: a module-like object with ``get_function(name)`` to use instead of compiling
            ``<source>.cu`` for the device (the host build: :func:`lattice.kernels._host.module`).
    """

    source: str = ""

    def __init__(self, exact: bool = False, mod=None):
        self.exact = exact
        self.mod = mod if mod is not None else ieee_module(self.source)

    def launch(self, name: str, model, args) -> None:
        launch_1d(self.mod.get_function(name), voxels(model), args)


def dims(model) -> tuple[int, int, int, int]:
    """``(R, nz, ny, nx)``: replicates and the lattice as 3D (nz = 1 in 2D)."""
    shape = tuple(model.grid.shape)
    nz, ny, nx = (1, *shape) if len(shape) == 2 else shape
    return model.params.replicates, nz, ny, nx


def voxels(model) -> int:
    """Threads of a per-voxel launch: R × voxels per replicate."""
    R, nz, ny, nx = dims(model)
    return R * nz * ny * nx


def lattice_args(model) -> tuple[np.int32, np.int64]:
    """``(R, nvox)`` kernel arguments."""
    R, nz, ny, nx = dims(model)
    return np.int32(R), np.int64(nz * ny * nx)


def seed_arg(model) -> np.uint32:
    """Philox key word 0, as :func:`lattice.rng.uniforms` (``seed & 0xFFFFFFFF``)."""
    return np.uint32(model.params.seed & _MASK32)


def step_arg(state) -> np.uint32:
    """Philox counter word 1, as :func:`lattice.rng.uniforms` (``step & 0xFFFFFFFF``)."""
    return np.uint32(state.step & _MASK32)


def arg(model, a, dtype):
    """``a`` as a C-contiguous device array of ``dtype`` (no copy when it already is one)."""
    return model.xp.ascontiguousarray(a, dtype=dtype)


def empty(model, like, dtype):
    """An uninitialised output array of ``like``'s shape."""
    return model.xp.empty(like.shape, dtype=dtype)


def dummy(model, dtype):
    """A one-element device array passed for an absent optional input (never read)."""
    key = f"kernels.dummy.{np.dtype(dtype).name}"
    if key not in model.cache:
        model.cache[key] = model.xp.zeros(1, dtype=dtype)
    return model.cache[key]


def optional(model, a, dtype):
    """``(array, present)``: ``a`` as a device array and 1, or a dummy and 0 when ``a`` is None."""
    if a is None:
        return dummy(model, dtype), np.int32(0)
    return arg(model, a, dtype), np.int32(1)


def channel(model, name: str) -> np.int32:
    """Index of the field ``name`` in ``state.fields`` (KeyError, as the NumPy code, when absent)."""
    return np.int32(model.registry.index(name))


def fields_args(model, state) -> tuple:
    """``(fields, n_fields)`` kernel arguments."""
    return arg(model, state.fields, np.float32), np.int32(len(model.registry))


def offsets(model):
    """int32 ``(n_dirs × 3)`` device array of Grid.offsets as (dz, dy, dx), and ``n_dirs``."""
    key = ("kernels.offsets", model.grid.offsets)
    if key not in model.cache:
        offs = [(0, *o) if len(o) == 2 else tuple(o) for o in model.grid.offsets]
        model.cache[key] = model.xp.asarray(np.asarray(offs, dtype=np.int32).ravel())
    return model.cache[key], np.int32(len(model.grid.offsets))


def plan_array(model, key, host, dtype):
    """A rule plan's host array (scalars, tables) as a device array of ``dtype``, uploaded once
    per run and cached under ``("kernels.plan", key)`` (plans are themselves cached per run)."""
    full = ("kernels.plan", key)
    if full not in model.cache:
        model.cache[full] = model.xp.ascontiguousarray(model.xp.asarray(np.asarray(host, dtype=dtype)))
    return model.cache[full]
