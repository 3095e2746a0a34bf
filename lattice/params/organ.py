"""Config group ``organ``: the tissue the tumour grows in (vessels, normal tissue)."""

from __future__ import annotations

from dataclasses import dataclass

from lattice.params.spec import Params, param


@dataclass
class VesselParams(Params):
    """Vessel voxels: fixed sources of oxygen, nutrients and drugs."""

    pattern: str = param(
        "grid", "", "none, single (one vessel at the centre of the lattice's first axis... "
        "a line through the centre), grid (regular spacing), random (scattered)",
        choices=("none", "single", "grid", "random"),
    )
    spacing_um: float = param(
        300.0, "µm", "distance between vessels for pattern=grid", min=0.0, min_exclusive=True,
        source="intercapillary distance ~100–300 µm; viable rim 100–180 µm (Thomlinson & Gray 1955, check)",
    )
    density: float = param(0.002, "fraction of voxels", "vessel density for pattern=random", min=0.0, max=1.0)
    tumour_clearance_um: float = param(
        0.0, "µm", "no vessels within this distance of the centre (an avascular tumour core)", min=0.0,
    )


@dataclass
class OrganParams(Params):
    """Organ preset. The organ issue adds oxygen, permeability, stroma and immune makeup."""

    name: str = param("generic", "", "preset name, recorded in outputs")
    vessels: VesselParams = param(VesselParams())
    normal_tissue_density: float = param(
        0.0, "fraction", "fraction of voxels outside the tumour filled with normal tissue "
        "(tumour cells divide into normal-tissue voxels, displacing them)", min=0.0, max=1.0,
    )
