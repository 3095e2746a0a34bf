"""Config group ``organ``: the tissue the tumour grows in — vessels, normal tissue, stroma (CAFs,
macrophages), immune makeup, drug permeability and ferroptosis susceptibility.

Presets in ``conf/organ/`` (lung, liver, brain, breast, bone_marrow) also set the tissue oxygen
level (``fields.oxygen`` far field and vessel values). Every preset value carries its source, or
*(uncertain)*. Organ multipliers (``t_cell_recruitment``, ``drug_permeability``, ``ferroptosis``)
are applied once to the parameters they scale by :func:`lattice.params.host.apply`.

Literature: Wang et al. 2025 (Nat Commun perspective, docs/references.md), "The tapestry of the
macroenvironment": Yu 2021 (liver FasL⁺ macrophages remove CD8 T cells, ref. 100); Rademaker 2025
(oxygen-rich lung exacerbates ferroptosis, ref. 101); Straussman 2012 (stromal HGF, ref. 98);
He 2025 (chemotherapy-induced senescent lung fibroblasts reawaken dormant cells, ref. 93);
McKeown 2014 (Br J Radiol 87:20130676, Table 2: normal-tissue pO2 per organ).
"""

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


CAF_PATTERNS = ("none", "scattered", "bands", "capsule")


@dataclass
class StromaParams(Params):
    """Cancer-associated fibroblasts (cell layer, code 8) and macrophages (immune layer, codes 3/4).

    CAFs are placed at t = 0 and do not divide; they secrete HGF and TGF-β (``fields.hgf``,
    ``fields.tgfb``). Macrophages (TAMs) sit on the immune layer, secrete HGF and TGF-β too; a
    fraction are T-cell killers (FasL⁺, code 4). With ``senescence_per_h`` > 0, CAFs exposed to a
    cytotoxic drug become senescent fibroblasts (code 11) that secrete more (SASP).
    """

    caf_pattern: str = param(
        "none", "", "none; scattered (CAFs mixed into the tumour and a margin around it, each voxel with "
        "probability caf_density); bands (stripes of CAFs across the tissue, desmoplastic septa); capsule "
        "(a fibrous shell around the initial tumour)", choices=CAF_PATTERNS,
    )
    caf_density: float = param(
        0.1, "fraction of voxels", "fraction of the voxels of the pattern (scattered region, band, shell) that hold a CAF",
        min=0.0, max=1.0, source="CAFs are a major stromal population (uncertain per tumour)",
    )
    caf_margin_um: float = param(
        100.0, "µm", "scattered: CAFs also up to this distance outside the initial tumour edge", min=0.0,
    )
    band_spacing_um: float = param(200.0, "µm", "bands: distance between band centres", min=0.0, min_exclusive=True,
                                   source="(uncertain)")
    band_width_um: float = param(40.0, "µm", "bands: band width", min=0.0, source="(uncertain)")
    capsule_thickness_um: float = param(40.0, "µm", "capsule: shell thickness", min=0.0, source="(uncertain)")
    capsule_gap_um: float = param(0.0, "µm", "capsule: distance from the initial tumour edge to the shell", min=0.0)
    macrophage_density: float = param(
        0.0, "fraction of voxels", "macrophages (TAMs) on the immune layer at t = 0, over the whole lattice",
        min=0.0, max=1.0, source="(uncertain per organ)",
    )
    killer_macrophage_fraction: float = param(
        0.0, "fraction of macrophages", "macrophages that kill adjacent T cells (FasL⁺, code 4)", min=0.0, max=1.0,
        source="liver: FasL⁺ CD11b⁺F4/80⁺ macrophages (Yu 2021)",
    )
    senescence_per_h: float = param(
        0.0, "1/h", "hazard × cytotoxic-drug effect E(c) that a CAF becomes senescent (0: off)", min=0.0,
        source="chemotherapy induces senescence in lung fibroblasts (He 2025, Wang 2025 ref. 93); rate (uncertain)",
    )


@dataclass
class OrganParams(Params):
    """Organ preset: tissue structure, stroma, immune makeup, drug access, ferroptosis."""

    name: str = param("generic", "", "preset name, recorded in outputs")
    vessels: VesselParams = param(VesselParams())
    normal_tissue_density: float = param(
        0.0, "fraction", "fraction of voxels outside the tumour filled with normal tissue "
        "(tumour cells divide into normal-tissue voxels, displacing them)", min=0.0, max=1.0,
    )
    stroma: StromaParams = param(StromaParams())
    t_cell_recruitment: float = param(
        0.0, "×", "organ immune makeup: multiplies immune.recruitment_per_h (generic tissue = 0, no infiltrate; "
        "lung = 1, the reference infiltrate)",
        min=0.0,
    )
    drug_permeability: float = param(
        1.0, "×", "multiplies every drug's vessel permeability (brain: blood–brain barrier)", min=0.0,
    )
    ferroptosis: float = param(
        1.0, "×", "ferroptosis susceptibility: multiplies the kill rate of gpx4 drugs (lung: oxygen-rich, high)",
        min=0.0, source="Rademaker 2025 (Wang 2025 ref. 101); Hangauer 2017",
    )
