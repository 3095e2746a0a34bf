"""Initial conditions: vessels, normal tissue, the tumour, cell clocks and fields."""

from __future__ import annotations

import numpy as np

from lattice import codes
from lattice.rng import Stream
from lattice.state import State


def vessel_mask(model) -> "np.ndarray":
    """Boolean ``(R, *shape)`` of vessel voxels for ``organ.vessels.pattern``.

    ``single``: one vessel through the lattice centre along the first axis (a line in 2D, a
    line along z in 3D... i.e. a capillary crossing the tissue). ``grid``: vessels on a square
    grid of pitch ``spacing_um`` (points in 2D, lines along z in 3D). ``random``: each voxel is
    a vessel with probability ``density``. Vessels closer than ``tumour_clearance_um`` to the
    centre are removed.
    """
    xp, grid = model.xp, model.grid
    vp = model.params.organ.vessels
    R = model.params.replicates
    shape = grid.shape
    mask = xp.zeros((R, *shape), dtype=bool)
    if vp.pattern == "none":
        return mask
    if vp.pattern == "random":
        u = model.uniforms(Stream.VESSELS, 0)[0]
        mask = u < vp.density
    else:
        # In-plane coordinates: the last two axes; in 3D vessels run along z.
        ny, nx = shape[-2], shape[-1]
        iy = xp.arange(ny).reshape(-1, 1)
        ix = xp.arange(nx).reshape(1, -1)
        if vp.pattern == "single":
            plane = xp.broadcast_to(ix == nx // 2, (ny, nx))
        else:  # grid
            pitch = max(1, int(round(vp.spacing_um / grid.spacing_um)))
            oy, ox = (ny % pitch) // 2 + pitch // 2, (nx % pitch) // 2 + pitch // 2
            plane = ((iy - oy) % pitch == 0) & ((ix - ox) % pitch == 0)
        mask = xp.broadcast_to(plane, (R, *shape)).copy()
    if vp.tumour_clearance_um > 0:
        mask &= grid.centre_distance_um(xp)[None] > vp.tumour_clearance_um
    return mask


def initial_state(model) -> State:
    """The state at t = 0 (step 0): vessels, normal tissue, tumour, random cycle clocks."""
    xp, grid, p = model.xp, model.grid, model.params
    R = p.replicates
    state = State.empty(R, grid.shape, len(model.registry), xp)
    cells = state.cells
    vessels = vessel_mask(model)
    u_shape, u_density, u_clock, u_tissue = model.uniforms(Stream.INITIAL, 0)

    ini = p.tumour.initial
    if ini.shape in ("disc", "sphere"):
        inside = grid.centre_distance_um(xp)[None] <= ini.radius_um
    else:  # fill, random: the whole lattice
        inside = xp.ones((1, *grid.shape), dtype=bool)
    tumour = inside & (u_density < ini.density) & ~vessels
    normal = ~inside & ~vessels & (u_tissue < p.organ.normal_tissue_density)

    cells = xp.where(vessels, codes.VESSEL, cells)
    cells = xp.where(normal, codes.NORMAL, cells)
    cells = xp.where(tumour, codes.SENSITIVE, cells).astype(xp.uint8)
    clock = xp.where(tumour, u_clock, xp.float32(0)).astype(xp.float32)

    fields = xp.stack(
        [xp.full((R, *grid.shape), spec.params.initial_value, dtype=xp.float32) for spec in model.registry],
        axis=1,
    )
    return state.replace(cells=cells, clock=clock, fields=fields)
