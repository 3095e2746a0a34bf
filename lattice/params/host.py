"""Config group ``host``: the patient's age, sex and metabolic status, and how the organ and host
presets scale the parameters they act on.

``host.age`` (young | aged), ``host.sex`` (female | male) and ``host.metabolic`` (lean | obese)
each select a profile of multipliers (:class:`HostEffect`; 1 = no effect); the three selected
profiles multiply. The profiles are config too (``host.aged.immune_competence=0.4``), with their
sources beside them below. Presets compose on the command line::

    lattice-run organ=liver host.age=aged host.metabolic=obese

:func:`apply` turns organ and host multipliers into the **effective** parameters the processes
read, once, when the config is validated (``lattice.params.run.check``); the resolved config
keeps the raw values and the chosen profiles, so a saved run re-derives the same numbers.

Literature (Wang et al. 2025, Nat Commun perspective, "The complex cues of the host"):
immunosenescence (Fane & Weeraratna 2020, ref. 107); aged-lung fibroblasts reawaken dormant cells
(Fane 2022, ref. 113); aged γδT17–neutrophil suppression of CD8 T cells (Duan 2024, ref. 112);
androgen receptor in CD8 T cells suppresses cytotoxicity (Guan 2022, ref. 116) and drives
exhaustion (Kwon 2022, ref. 117); obesity raises residual disease (Ecker 2019, ref. 122), is
pro-angiogenic (Roy 2022, ref. 123), inflammatory (Park 2010, ref. 145), desmoplastic (Incio 2016,
ref. 146) and suppresses CD8 T-cell function (Ringel 2020, ref. 147).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from lattice.params.spec import Params, param

AGES = ("young", "aged")
SEXES = ("female", "male")
METABOLIC = ("lean", "obese")


@dataclass
class HostEffect(Params):
    """Multipliers one host trait applies (1 = none)."""

    immune_competence: float = param(1.0, "×", "T-cell recruitment (immune.recruitment_per_h)", min=0.0)
    t_cell_cytotoxicity: float = param(1.0, "×", "T-cell kill hazard (immune.kill_rate_per_h)", min=0.0)
    t_cell_persistence: float = param(
        1.0, "×", "kills before exhaustion (immune.kills_to_exhaustion, rounded, at least 1)", min=0.0, min_exclusive=True,
    )
    fibroblast_activation: float = param(
        1.0, "×", "secretion by CAFs and senescent CAFs of every field (HGF, TGF-β): the stromal reactivation "
        "signal", min=0.0,
    )
    macrophage_density: float = param(1.0, "×", "organ.stroma.macrophage_density (capped at 1)", min=0.0)
    vessel_density: float = param(
        1.0, "×", "vessels per area: grid spacing ÷ √f, random density × f", min=0.0, min_exclusive=True,
    )
    persister_entry: float = param(
        1.0, "×", "persister entry hazards (tumour.entry.sensitive_per_h, primed_per_h): residual disease", min=0.0,
    )


# The profiles (magnitudes all uncertain; reference numbers of Wang et al. 2025 in brackets).
def _aged() -> HostEffect:
    """18-month mice model the geriatric host (Wang 2025)."""
    return HostEffect(
        immune_competence=0.5,      # immunosenescence: fewer, less fit T cells recruited (Fane & Weeraratna 2020 [107])
        t_cell_cytotoxicity=0.8,    # aged lung: γδT17 cells recruit neutrophils that suppress CD8 T cells (Duan 2024 [112])
        fibroblast_activation=1.5,  # aged fibroblasts reawaken dormant cells (sFRP1 → AXL/MER; Fane 2022 [113])
    )


def _male() -> HostEffect:
    """Female is the reference (ER in myeloid cells can polarise macrophages, Chakraborty 2021 [118]:
    not modelled)."""
    return HostEffect(
        t_cell_cytotoxicity=0.6,  # androgen receptor in CD8 T cells suppresses granzyme B, TNF, IFN-γ (Guan 2022 [116])
        t_cell_persistence=0.7,   # androgen drives the CD8 exhaustion program (Kwon 2022 [117])
    )


def _obese() -> HostEffect:
    return HostEffect(
        t_cell_cytotoxicity=0.7,    # obesity impairs CD8 T-cell function in tumours (Ringel 2020 [147])
        fibroblast_activation=1.3,  # obesity-induced inflammation and desmoplasia (Incio 2016 [146])
        macrophage_density=1.5,     # inflammatory milieu, IL-6/TNF (Park 2010 [145])
        vessel_density=1.3,         # pro-angiogenic milieu: lipocalin-2, VEGF, FGF (Roy 2022 [123])
        persister_entry=1.5,        # more residual tumour cells after oncogene withdrawal (Ecker 2019 [122])
    )


@dataclass
class HostParams(Params):
    """The host: three traits, each selecting a profile of multipliers."""

    age: str = param("young", "", "young or aged", choices=AGES)
    sex: str = param("female", "", "female or male", choices=SEXES)
    metabolic: str = param("lean", "", "lean or obese", choices=METABOLIC)
    young: HostEffect = param(HostEffect())
    aged: HostEffect = param(_aged())
    female: HostEffect = param(HostEffect())
    male: HostEffect = param(_male())
    lean: HostEffect = param(HostEffect())
    obese: HostEffect = param(_obese())

    def profiles(self) -> tuple[HostEffect, HostEffect, HostEffect]:
        return getattr(self, self.age), getattr(self, self.sex), getattr(self, self.metabolic)

    def effect(self, name: str) -> float:
        """The product of multiplier ``name`` over the selected age, sex and metabolic profiles."""
        out = 1.0
        for profile in self.profiles():
            out *= getattr(profile, name)
        return out


def apply(params) -> None:
    """Scale, in place, the parameters that organ and host multipliers act on (call once, before
    freezing). Idempotence is not needed: :func:`lattice.params.run.check` calls it exactly once."""
    host, organ = params.host, params.organ
    im = params.immune
    im.recruitment_per_h = im.recruitment_per_h * organ.t_cell_recruitment * host.effect("immune_competence")
    im.kill_rate_per_h = im.kill_rate_per_h * host.effect("t_cell_cytotoxicity")
    im.kills_to_exhaustion = max(1, round(im.kills_to_exhaustion * host.effect("t_cell_persistence")))

    st = organ.stroma
    st.macrophage_density = min(1.0, st.macrophage_density * host.effect("macrophage_density"))
    f_vessels = host.effect("vessel_density")
    if f_vessels != 1.0:
        organ.vessels.spacing_um = organ.vessels.spacing_um / math.sqrt(f_vessels)
        organ.vessels.density = min(1.0, organ.vessels.density * f_vessels)

    f_caf = host.effect("fibroblast_activation")
    if f_caf != 1.0:
        for name in ("hgf", "tgfb"):
            fp = getattr(params.fields, name)
            fp.secretion_per_min = {
                k: (v * f_caf if k in ("caf", "senescent_caf") else v) for k, v in fp.secretion_per_min.items()
            }

    f_entry = host.effect("persister_entry")
    if f_entry != 1.0:
        en = params.tumour.entry
        en.sensitive_per_h = en.sensitive_per_h * f_entry
        en.primed_per_h = en.primed_per_h * f_entry

    for name, drug in params.treatment.drugs.items():
        changes = {}
        if organ.drug_permeability != 1.0:
            tp = dataclasses.replace(drug.transport)
            tp.permeability_per_min = tp.permeability_per_min * organ.drug_permeability
            changes["transport"] = tp
        if drug.kind == "gpx4" and organ.ferroptosis != 1.0:
            changes["kill_rate_per_h"] = drug.kill_rate_per_h * organ.ferroptosis
        if changes:
            params.treatment.drugs[name] = dataclasses.replace(drug, **changes)
