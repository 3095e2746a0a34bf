"""Initial conditions: vessels, stroma (CAFs), normal tissue, the tumour, cell clocks, the immune
layer (macrophages, seeded T cells) and fields.

Random numbers: stream INITIAL (tumour, clocks, tissue), VESSELS (random vessels) and STROMA at
step 0, draw 0: u₀ CAF, u₁ macrophage, u₂ killer macrophage, u₃ seeded T cell.
"""

from __future__ import annotations

import numpy as np

from lattice import codes
from lattice.rng import Stream
from lattice.state import State


def vessel_mask(model) -> np.ndarray:
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
            pitch = max(1, round(vp.spacing_um / grid.spacing_um))
            oy, ox = (ny % pitch) // 2 + pitch // 2, (nx % pitch) // 2 + pitch // 2
            plane = ((iy - oy) % pitch == 0) & ((ix - ox) % pitch == 0)
        mask = xp.broadcast_to(plane, (R, *shape)).copy()
    if vp.tumour_clearance_um > 0:
        mask &= grid.centre_distance_um(xp)[None] > vp.tumour_clearance_um
    return mask


def caf_mask(model, u, vessels) -> np.ndarray:
    """Boolean ``(R, *shape)`` of CAF voxels for ``organ.stroma.caf_pattern`` (u: uniforms).

    ``scattered``: inside the initial tumour and ``caf_margin_um`` around it (the whole lattice for
    tumour shapes fill/random), each voxel with probability ``caf_density``; ``bands``: stripes
    across the last axis, ``band_width_um`` wide every ``band_spacing_um`` (one centred on the
    lattice centre), filled with probability ``caf_density``; ``capsule``: a shell
    ``capsule_thickness_um`` thick, ``capsule_gap_um`` outside the initial disc/sphere (none for
    fill/random tumours). Never on vessels.
    """
    xp, grid = model.xp, model.grid
    st, ini = model.params.organ.stroma, model.params.tumour.initial
    R = model.params.replicates
    if st.caf_pattern == "none" or st.caf_density <= 0:
        return xp.zeros((R, *grid.shape), dtype=bool)
    round_tumour = ini.shape in ("disc", "sphere")
    dist = grid.centre_distance_um(xp)[None]
    if st.caf_pattern == "scattered":
        region = dist <= ini.radius_um + st.caf_margin_um if round_tumour else xp.ones_like(dist, dtype=bool)
    elif st.caf_pattern == "bands":
        nx = grid.shape[-1]
        pos = (xp.arange(nx, dtype=xp.float64) - (nx - 1) / 2) * grid.spacing_um
        stripe = xp.mod(pos + st.band_width_um / 2, st.band_spacing_um) < st.band_width_um
        region = xp.broadcast_to(stripe, (1, *grid.shape))
    else:  # capsule
        inner = ini.radius_um + st.capsule_gap_um
        region = (dist > inner) & (dist <= inner + st.capsule_thickness_um) if round_tumour else xp.zeros_like(dist, dtype=bool)
    return region & (u < xp.float32(st.caf_density)) & ~vessels


def initial_immune(model, u_mac, u_killer, u_t) -> np.ndarray:
    """uint8 ``(R, *shape)`` immune layer at t = 0: macrophages (``organ.stroma.macrophage_density``,
    a ``killer_macrophage_fraction`` of them FasL⁺ T-cell killers) and seeded effector T cells
    (``immune.initial_t_cells``) on the voxels left free."""
    xp = model.xp
    st, im = model.params.organ.stroma, model.params.immune
    f32 = xp.float32
    mac = u_mac < f32(st.macrophage_density)
    killer = mac & (u_killer < f32(st.killer_macrophage_fraction))
    t_cell = ~mac & (u_t < f32(im.initial_t_cells)) if im.enabled else xp.zeros_like(mac)
    layer = xp.where(killer, codes.KILLER_MACROPHAGE, xp.where(mac, codes.MACROPHAGE, codes.NO_IMMUNE))
    return xp.where(t_cell, codes.T_CELL, layer).astype(xp.uint8)


def initial_state(model) -> State:
    """The state at t = 0 (step 0): vessels, normal tissue, tumour, random cycle clocks."""
    xp, grid, p = model.xp, model.grid, model.params
    R = p.replicates
    state = State.empty(R, grid.shape, len(model.registry), xp)
    cells = state.cells
    vessels = vessel_mask(model)
    _, u_density, u_clock, u_tissue = model.uniforms(Stream.INITIAL, 0)

    ini = p.tumour.initial
    if ini.shape in ("disc", "sphere"):
        inside = grid.centre_distance_um(xp)[None] <= ini.radius_um
    else:  # fill, random: the whole lattice
        inside = xp.ones((1, *grid.shape), dtype=bool)
    u_caf, u_mac, u_killer, u_t = model.uniforms(Stream.STROMA, 0)
    caf = caf_mask(model, u_caf, vessels)
    tumour = inside & (u_density < ini.density) & ~vessels & ~caf
    normal = ~inside & ~vessels & ~caf & (u_tissue < p.organ.normal_tissue_density)

    cells = xp.where(vessels, codes.VESSEL, cells)
    cells = xp.where(caf, codes.CAF, cells)
    cells = xp.where(normal, codes.NORMAL, cells)
    cells = xp.where(tumour, codes.SENSITIVE, cells).astype(xp.uint8)
    clock = xp.where(tumour, u_clock, xp.float32(0)).astype(xp.float32)

    fields = xp.stack(
        [xp.full((R, *grid.shape), spec.params.initial_value, dtype=xp.float32) for spec in model.registry],
        axis=1,
    )
    immune = initial_immune(model, u_mac, u_killer, u_t)
    return state.replace(cells=cells, clock=clock, fields=fields, immune=immune)
