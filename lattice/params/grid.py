"""Config group ``grid``: lattice geometry."""

from __future__ import annotations

from dataclasses import dataclass

from lattice.params.spec import Params, param


@dataclass
class GridParams(Params):
    """Lattice geometry (docs/configuration.md)."""

    shape: list[int] = param([200, 200], "voxels", "voxels per axis: [y, x] in 2D, [z, y, x] in 3D", min=3)
    spacing_um: float = param(
        20.0, "µm", "voxel edge length", min=0.0, min_exclusive=True,
        source="PhysiCell diffusion grid spacing (docs/references.md: solid)",
    )
    neighbourhood: str = param(
        "von_neumann", "", "neighbours for division and movement: 4/6 or 8/26",
        choices=("von_neumann", "moore"),
    )
