"""Config group ``fields``: the diffusing substances and their solver."""

from __future__ import annotations

from dataclasses import dataclass

from lattice.codes import IMMUNE_RATE_CLASSES, RATE_CLASSES
from lattice.params.spec import Params, param

BOUNDARIES = ("zero_flux", "dirichlet", "periodic")


@dataclass
class FieldParams(Params):
    """One diffusing substance: ∂c/∂t = D∇²c − (λ + u(x)) c + s(x) + p(x)(c_vessel − c).

    ``u`` is the per-cell uptake (first order), ``s`` the per-cell secretion, ``p`` the vessel
    permeability (non-zero only in vessel voxels).
    """

    enabled: bool = param(True, "", "solve this field (a disabled field stays at initial_value)")
    units: str = param("", "", "units of the concentration")
    description: str = param("", "", "what the field is")
    diffusion_um2_per_min: float = param(1.0e5, "µm²/min", "diffusion coefficient D", min=0.0)
    decay_per_min: float = param(0.1, "1/min", "background decay λ", min=0.0)
    boundary: str = param("dirichlet", "", "lattice edge condition", choices=BOUNDARIES)
    boundary_value: float = param(0.0, "field units", "value held at the edge (dirichlet)", min=0.0)
    initial_value: float = param(0.0, "field units", "value everywhere at t = 0", min=0.0)
    vessel_value: float = param(0.0, "field units", "concentration in blood at vessel voxels", min=0.0)
    vessel_permeability_per_min: float = param(
        0.0, "1/min", "exchange rate p between blood and a vessel voxel (large p → Dirichlet)", min=0.0,
    )
    uptake_per_min: dict[str, float] = param(
        {}, "1/min", "first-order uptake rate per occupant class", min=0.0, keys=tuple(RATE_CLASSES),
    )
    secretion_per_min: dict[str, float] = param(
        {}, "field units/min", "secretion rate per occupant class", min=0.0, keys=tuple(RATE_CLASSES),
    )
    immune_secretion_per_min: dict[str, float] = param(
        {}, "field units/min", "secretion rate per immune-layer class (adds to the cell layer's; engaged_t_cell: "
        "a T cell in contact with a live tumour cell)", min=0.0, keys=tuple(IMMUNE_RATE_CLASSES),
    )


def _oxygen() -> FieldParams:
    return FieldParams(
        units="mmHg", description="oxygen partial pressure",
        diffusion_um2_per_min=1.0e5, decay_per_min=0.1,  # PhysiCell (docs/references.md: solid)
        boundary="dirichlet", boundary_value=38.0, initial_value=38.0,  # far field 38 mmHg (5 %)
        vessel_value=38.0, vessel_permeability_per_min=1000.0,  # ≈ Dirichlet at vessels
        uptake_per_min={"tumour": 10.0, "normal": 1.0, "caf": 1.0, "senescent_caf": 1.0},  # tumour: PhysiCell; others (uncertain)
    )


def _glucose() -> FieldParams:
    return FieldParams(
        units="fraction of plasma", description="glucose relative to plasma",
        diffusion_um2_per_min=6.0e3, decay_per_min=0.0,  # Casciari 1988 ≈ 1e-6 cm²/s (check)
        boundary="dirichlet", boundary_value=1.0, initial_value=1.0,
        vessel_value=1.0, vessel_permeability_per_min=1000.0,
        uptake_per_min={"tumour": 0.05, "normal": 0.01, "caf": 0.01, "senescent_caf": 0.01},  # (uncertain)
    )


def _death_signal() -> FieldParams:
    return FieldParams(
        units="relative units", description="death signal (ATP) released by dying cells; pushes neighbours "
        "into persistence (solved only when a treatment has drugs: it acts only on drug-induced entry)",
        diffusion_um2_per_min=1.8e4,  # ATP ~3e-6 cm²/s in water (uncertain in tissue)
        decay_per_min=0.5,  # ectonucleotidase hydrolysis, half-life minutes (uncertain): range √(D/λ) ≈ 190 µm
        boundary="zero_flux", boundary_value=0.0, initial_value=0.0,
        secretion_per_min={"dead": 1.0},  # one apoptotic cell releases 1 unit/min (scale of the units; Schmitt 2022)
    )


# Microenvironment signals (docs/model.md): solved only when something can secrete them (stroma for HGF
# and TGF-β, T cells for IFN-γ and the chemokine; lattice.fields.active_fields). Units are
# relative: 1 ≈ half-maximal effect (tumour.signals.hgf_half, immune.tgfb_half, ifng_half,
# chemokine_half). Cytokine ranges √(D/λ): one cell's signal reaches ~250 µm (Francis & Palsson
# 1997, docs/references.md: solid); IFN-γ > 800 µm (Hoekstra 2020; Thibaut 2020, solid).

def _hgf() -> FieldParams:
    return FieldParams(
        units="relative units (1 = half-maximal MET signal)",
        description="hepatocyte growth factor from CAFs and TAMs: MET signal protects from the primary drug, "
        "raises persister entry and DTEP emergence (Straussman 2012) unless a MET inhibitor is given",
        diffusion_um2_per_min=1.0e3, decay_per_min=0.016,  # range ≈ 250 µm (Francis & Palsson 1997); PhysiCell toy cytokine (weak)
        boundary="zero_flux", initial_value=0.0,
        secretion_per_min={"caf": 0.15, "senescent_caf": 0.3},  # (uncertain): ~1–3 units inside CAF-rich stroma
        immune_secretion_per_min={"macrophage": 0.05, "killer_macrophage": 0.05},  # TAM HGF (Yano 2008, uncertain)
    )


def _tgfb() -> FieldParams:
    return FieldParams(
        units="relative units (1 = half-maximal T-cell suppression)",
        description="TGF-β from CAFs and TAMs: suppresses T-cell killing (Wang 2025 ref. 97)",
        diffusion_um2_per_min=1.0e3, decay_per_min=0.016,  # range ≈ 250 µm (Francis & Palsson 1997)
        boundary="zero_flux", initial_value=0.0,
        secretion_per_min={"caf": 0.1, "senescent_caf": 0.2},  # (uncertain)
        immune_secretion_per_min={"macrophage": 0.1, "killer_macrophage": 0.1},  # (uncertain)
    )


def _ifng() -> FieldParams:
    return FieldParams(
        units="relative units (1 = half-maximal effect)",
        description="interferon-γ secreted by engaged T cells: raises PD-L1 and chemokine secretion",
        diffusion_um2_per_min=6.0e3, decay_per_min=0.01,  # range ≈ 775 µm: IFN-γ spreads > 800 µm (Hoekstra 2020)
        boundary="zero_flux", initial_value=0.0,
        immune_secretion_per_min={"engaged_t_cell": 2.0},  # (uncertain): ~1 unit in an infiltrated tumour
    )


def _chemokine() -> FieldParams:
    return FieldParams(
        units="relative units (1 = half-maximal recruitment)",
        description="T-cell chemokine (CXCL9/10-like) secreted by live tumour cells, more under IFN-γ",
        diffusion_um2_per_min=1.0e3, decay_per_min=0.016,  # range ≈ 250 µm (Francis & Palsson 1997)
        boundary="zero_flux", initial_value=0.0,
        secretion_per_min={"tumour": 0.02},  # (uncertain): ~1 unit inside a solid tumour mass
    )


@dataclass
class FieldsParams(Params):
    """All fields and the solver settings."""

    solver: str = param(
        "multigrid", "", "implicit multigrid (stable for any step), lod (BioFVM-like splitting), "
        "or ftcs (explicit reference; refuses unstable steps)", choices=("multigrid", "lod", "ftcs"),
    )
    substeps: int = param(1, "", "field solves per cell step", min=1)
    cycles: int = param(4, "", "multigrid V-cycles per field solve (warm-started)", min=1)
    oxygen: FieldParams = param(_oxygen())
    glucose: FieldParams = param(_glucose())
    death_signal: FieldParams = param(_death_signal())
    hgf: FieldParams = param(_hgf())
    tgfb: FieldParams = param(_tgfb())
    ifng: FieldParams = param(_ifng())
    chemokine: FieldParams = param(_chemokine())

    def named(self) -> dict[str, FieldParams]:
        """Every field by name, in output channel order (disabled ones are held constant).
        Drug fields ``drug_<name>`` follow, built by the model from ``treatment.drugs``; the model
        keeps the microenvironment fields (hgf, tgfb, ifng, chemokine) only where something can
        secrete them (:func:`lattice.fields.active_fields`)."""
        return {"oxygen": self.oxygen, "glucose": self.glucose, "death_signal": self.death_signal,
                "hgf": self.hgf, "tgfb": self.tgfb, "ifng": self.ifng, "chemokine": self.chemokine}
