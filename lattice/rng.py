"""Counter-based random numbers: Philox4x32-10 (Salmon et al. 2011, Random123).

Every random decision of the model is a pure function of ``(seed, replicate, voxel, step,
stream)``: the key is ``(seed, replicate)`` and the counter ``(voxel index, step, stream, draw)``.
Nothing depends on the order in which voxels are visited, and the CUDA twin
(``kernels/philox.cuh``) produces the same bits, so both backends take identical decisions.
``numpy.random``/``cupy.random`` are never used for model decisions (their streams differ).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85
_MASK32 = 0xFFFFFFFF


class Stream(IntEnum):
    """Stream ids: one per kind of random decision, so adding a rule never shifts another's
    numbers. Values are part of the reproducibility contract: append, never renumber."""

    INITIAL = 1
    PLACEMENT = 2  # (direction choice, priority key)
    NECROSIS = 3
    APOPTOSIS = 4
    CYCLE = 5  # division with tumour.division=hazard
    SWITCHING = 6  # reserved (S <-> P is one outcome of FATE: competing outcomes share a uniform)
    DRUG = 7  # cytotoxic drug: a division attempt is lethal
    PERSISTER = 8  # reserved (D -> E, D/E -> S are outcomes of FATE)
    MUTATION = 9  # resistance mutation of each daughter at division
    IMMUNE = 10
    IMMUNE_MOVE = 11
    STROMA = 12
    VESSELS = 13
    FATE = 14  # one uniform per live tumour cell per step, partitioned over its competing outcomes
    BARCODE = 15  # step 0: (labelled?, library index); at division, draw 1: (mutates?, new id bits ×2)
    MONITORING = 16  # per replicate (voxel word 0): (noise u₀, noise u₁, biopsy sample)


def _mulhilo(a, m: int, xp):
    prod = a.astype(xp.uint64) * xp.uint64(m)
    return (prod >> xp.uint64(32)).astype(xp.uint32), (prod & xp.uint64(_MASK32)).astype(xp.uint32)


def philox4x32_10(counter, key, xp=np):
    """Philox4x32 with 10 rounds.

    Args:
        counter: four uint32 arrays (or scalars) broadcastable to a common shape.
        key: two uint32 arrays (or scalars) broadcastable to that shape.
        xp: array module (numpy or cupy).

    Returns:
        Four uint32 arrays of the broadcast shape.
    """
    c0, c1, c2, c3 = (xp.asarray(c, dtype=xp.uint32) for c in counter)
    shape = xp.broadcast_shapes(*(c.shape for c in (c0, c1, c2, c3)), *(xp.shape(k) for k in key))
    c0, c1, c2, c3 = (xp.broadcast_to(c, shape) for c in (c0, c1, c2, c3))
    k0 = xp.broadcast_to(xp.asarray(key[0], dtype=xp.uint32), shape)
    k1 = xp.broadcast_to(xp.asarray(key[1], dtype=xp.uint32), shape)
    w0, w1 = xp.uint64(PHILOX_W0), xp.uint64(PHILOX_W1)
    for rnd in range(10):
        if rnd:
            # Key schedule: add the Weyl constants modulo 2**32, as the C code's uint32 wraps.
            k0 = ((k0.astype(xp.uint64) + w0) & xp.uint64(_MASK32)).astype(xp.uint32)
            k1 = ((k1.astype(xp.uint64) + w1) & xp.uint64(_MASK32)).astype(xp.uint32)
        hi0, lo0 = _mulhilo(c0, PHILOX_M0, xp)
        hi1, lo1 = _mulhilo(c2, PHILOX_M1, xp)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


def to_unit_float32(bits, xp=np):
    """uint32 -> float32 uniform on [0, 1) using the top 24 bits (exact in float32; the CUDA
    twin does the same, so the two backends agree bit for bit)."""
    return (bits >> xp.uint32(8)).astype(xp.float32) * xp.float32(2.0**-24)


def uniforms(seed: int, replicates: int, spatial_shape, step: int, stream: int, xp=np, draw: int = 0):
    """Four independent U[0,1) float32 arrays of shape ``(replicates, *spatial_shape)``.

    Key ``(seed, replicate)``; counter ``(voxel flat index, step, stream, draw)``.
    """
    n_vox = int(np.prod(spatial_shape))
    voxel = xp.arange(n_vox, dtype=xp.uint32).reshape((1, *spatial_shape))
    rep = xp.arange(replicates, dtype=xp.uint32).reshape((replicates,) + (1,) * len(spatial_shape))
    bits = philox4x32_10(
        (voxel, np.uint32(step & _MASK32), np.uint32(stream), np.uint32(draw)),
        (np.uint32(seed & _MASK32), rep),
        xp,
    )
    return tuple(to_unit_float32(b, xp) for b in bits)


class PhiloxKernel:
    """:func:`uniforms` computed by the compiled ``philox_fill`` kernel (``kernels/reference.cu``,
    ``kernels/philox.cuh``): the same bits, one pass over the voxels instead of NumPy's ~60
    array operations. The twin ``"uniforms"`` of :data:`lattice.backend.TWINS` (host backend).

    Args:
        exact: recorded (integer arithmetic and one exact scaling: always exact).
        mod: a module with ``get_function(name)`` (the host build of ``reference.cu``).
    """

    source = "reference"
    BLOCK = 256

    def __init__(self, exact: bool = False, mod=None):
        if mod is None:
            from lattice.kernels._loader import ieee_module

            mod = ieee_module(self.source)
        self.exact = exact
        self._fill = mod.get_function("philox_fill")

    def uniforms(self, seed: int, replicates: int, spatial_shape, step: int, stream: int, draw: int = 0):
        """As :func:`uniforms` (NumPy arrays): four float32 ``(replicates, *spatial_shape)`` views of
        one fresh ``(4, replicates, *spatial_shape)`` array."""
        n_vox = int(np.prod(spatial_shape))
        n = replicates * n_vox
        out = np.empty((4, replicates, *spatial_shape), dtype=np.float32)
        self._fill(((n + self.BLOCK - 1) // self.BLOCK,), (self.BLOCK,), (
            np.uint32(seed & _MASK32), np.int32(replicates), np.int64(n_vox), np.uint32(step & _MASK32),
            np.uint32(stream), np.uint32(draw), out))
        return out[0], out[1], out[2], out[3]
