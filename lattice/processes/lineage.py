"""Virtual lineage tracing (docs/lineage.md): barcodes at t = 0, the split into twin dishes, and
the evolving barcode's mutation at division.

Inheritance itself is part of placement (the daughter copies the mother's ``barcode`` and
``evolving``, :mod:`lattice.processes.placement` and its twin); kills only change ``cells``, so a
dead cell keeps its barcode until the voxel is reused.

Random numbers: stream BARCODE. At step 0, draw 0: u₀ labelled?, u₁ library index (library
mode). At division (step s, draw 1): u₀ mutates?, u₁ and u₂ the 24 + 8 bits of the new
evolving id. Every draw is a pure function of (seed, replicate, voxel, step), so labels are
bit-identical on every backend; with ``twin_dishes`` the draws of replicate 0 label all dishes.
"""

from __future__ import annotations

import math

from lattice import codes
from lattice.rng import Stream
from lattice.state import State

#: Voxel arrays copied from replicate 0 to every replicate in a twin-dish split.
SPLIT_ARRAYS = ("cells", "clock", "memory", "timer_h", "immune", "fields")
#: 2**24: a uniform's 24 bits as an integer (lattice.rng.to_unit_float32).
BITS24 = float(2**24)


def uniform_bits(u, xp):
    """The 24 random bits behind a float32 uniform (exact: u = bits × 2⁻²⁴), as uint32."""
    return (u * xp.float32(BITS24)).astype(xp.uint32)


def split_twin_dishes(state: State, model) -> State:
    """Every replicate starts as a copy of replicate 0 (one population split into R dishes)."""
    xp = model.xp
    out = {}
    for name in SPLIT_ARRAYS:
        a = getattr(state, name)
        out[name] = xp.ascontiguousarray(xp.broadcast_to(a[:1], a.shape))
    return state.replace(**out)


def initial_barcodes(state: State, model):
    """uint32 ``(R, *S)`` clone ids of the initial tumour cells (0 elsewhere and for unlabelled cells)."""
    xp, bp = model.xp, model.params.tumour.barcodes
    tumour = codes.is_live_tumour(state.cells)
    if bp.mode == "cell":
        n_vox = int(math.prod(model.grid.shape))
        ids = (xp.arange(n_vox, dtype=xp.uint32) + xp.uint32(1)).reshape((1, *model.grid.shape))
        return xp.where(tumour, ids, xp.uint32(0)).astype(xp.uint32)
    u_label, u_index, _, _ = model.uniforms(Stream.BARCODE, 0)
    if bp.twin_dishes:
        u_label, u_index = u_label[:1], u_index[:1]
    p_label = xp.float32(-math.expm1(-bp.moi))
    index = xp.minimum((u_index * xp.float32(bp.library_size)).astype(xp.uint32), xp.uint32(bp.library_size - 1))
    return xp.where(tumour & (u_label < p_label), index + xp.uint32(1), xp.uint32(0)).astype(xp.uint32)


def initial(state: State, model) -> State:
    """The twin-dish split (``tumour.barcodes.twin_dishes``) and the barcodes at t = 0 (none when
    ``mode: none``). Idempotent: applying it twice gives the same state."""
    bp = model.params.tumour.barcodes
    if bp.twin_dishes:
        state = split_twin_dishes(state, model)
    if bp.mode == "none":
        return state
    barcode = initial_barcodes(state, model)
    evolving = barcode.copy() if bp.evolving_per_division > 0 else None
    return state.replace(barcode=barcode, evolving=evolving)


def mutate_evolving(state: State, renewed, model) -> State:
    """Each new cycle (mother and daughter, ``renewed``) mutates its evolving barcode with
    probability ``evolving_per_division`` to a fresh 32-bit id from its own draws."""
    if state.evolving is None:
        return state
    twin = model.backend.kernel("mutation")
    if twin is not None and hasattr(twin, "mutate_evolving"):
        return twin.mutate_evolving(state, renewed, model)
    xp = model.xp
    u, u_hi, u_lo, _ = model.uniforms(Stream.BARCODE, state.step, draw=1)
    mutate = renewed & codes.is_live_tumour(state.cells) & (u < xp.float32(model.params.tumour.barcodes.evolving_per_division))
    new_id = (uniform_bits(u_hi, xp) << xp.uint32(8)) | (uniform_bits(u_lo, xp) >> xp.uint32(16))
    return state.replace(evolving=xp.where(mutate, new_id, state.evolving).astype(xp.uint32))
