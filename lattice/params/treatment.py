"""Config group ``treatment``: the drug registry, pharmacokinetics, schedules (docs/model.md "Therapy").

Each entry of ``treatment.drugs`` is one drug with a *kind* (what it does to cells), a PK model
(plasma concentration over time, computed per replicate from :class:`lattice.state.State`),
transport parameters (its own diffusing field ``drug_<name>``, fed by vessels at plasma ×
permeability), pharmacodynamics (a Hill function of the **local** concentration with a
state-specific EC50) and a schedule. Drugs combine freely, each with its own schedule.

The schema default drug is an erlotinib-like EGFR inhibitor (Lu 2006 PK; Sharma 2010 PD);
presets in ``conf/treatment`` set schedules, experiments set the drug they study.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from lattice.codes import RATE_CLASSES
from lattice.params.monitoring import MonitoringParams
from lattice.params.spec import ConfigError, Params, param, validate
from lattice.params.tumour import STATE_NAMES

#: Drug kinds and what each does (see lattice.processes.drugs).
DRUG_KINDS = ("targeted", "cytotoxic", "epigenetic", "oxphos", "fao", "gpx4", "met_inhibitor", "anti_pd1")
#: Kinds that are a "primary" drug: they kill naive cells and induce persistence.
PRIMARY_KINDS = ("targeted", "cytotoxic")
#: Kinds whose effect is a per-hour kill hazard.
HAZARD_KINDS = ("targeted", "epigenetic", "oxphos", "fao", "gpx4")
SCHEDULES = ("none", "continuous", "intermittent", "adaptive")


@dataclass
class ScheduleParams(Params):
    """When a drug is given. A step is *on* when it starts inside an on period.

    Times are relative to the schedule's origin: t = 0, or this replicate's first progression
    when ``after_progression`` (second line of a sequential schedule).
    """

    kind: str = param(
        "none", "", "none (never), continuous (from start_h), intermittent (on_h on, off_h off, repeating), "
        "adaptive (off when the burden falls below off_below × baseline, on again at on_above × baseline; "
        "Zhang 2017)", choices=SCHEDULES,
    )
    start_h: float = param(0.0, "h", "first on time after the origin", min=0.0)
    stop_h: float | None = param(None, "h", "no dosing from this time after the origin (null: never stop)", min=0.0)
    on_h: float = param(168.0, "h", "intermittent: length of an on period", min=0.0, min_exclusive=True,
                        source="(uncertain) one week on")
    off_h: float = param(168.0, "h", "intermittent: length of an off period", min=0.0, source="(uncertain) one week off")
    off_below: float = param(
        0.5, "fraction of baseline burden", "adaptive: stop when the burden (end of the previous step) falls below",
        min=0.0, source="Zhang 2017: stop below 50 % of baseline PSA",
    )
    on_above: float = param(
        1.0, "fraction of baseline burden", "adaptive: resume when the burden reaches", min=0.0,
        source="Zhang 2017: resume at baseline",
    )
    after_progression: bool = param(
        False, "", "the origin is this replicate's first progression (sequential therapy: second line)",
    )
    until_progression: bool = param(
        False, "", "stop at this replicate's first progression (sequential therapy: first line)",
    )


@dataclass
class DrugTransportParams(Params):
    """The drug's own field ``drug_<name>`` (µM): D∇²c − (λ + uptake)c + vessel exchange."""

    diffusion_um2_per_min: float = param(
        6.0e3, "µm²/min", "diffusion coefficient in tissue", min=0.0,
        source="small molecule ~1e-6 cm²/s in tissue (uncertain)",
    )
    decay_per_min: float = param(0.0, "1/min", "tissue degradation (plasma elimination is in the PK)", min=0.0)
    permeability_per_min: float = param(
        10.0, "1/min", "vessel exchange p: vessel voxels gain p × (plasma − c)", min=0.0, source="(uncertain)",
    )
    uptake_per_min: dict[str, float] = param(
        {"tumour": 0.01}, "1/min", "first-order uptake/binding per occupant class", min=0.0, keys=tuple(RATE_CLASSES),
        source="(uncertain): penetration length √(D/k) ≈ 0.8 mm; doxorubicin-like drugs: halves in 24–43 µm "
        "(BMC Cancer 2012)",
    )
    boundary: str = param("zero_flux", "", "lattice edge condition", choices=("zero_flux", "dirichlet", "periodic"))


@dataclass
class DrugParams(Params):
    """One drug: kind, PK, PD, transport and schedule.

    PD: E_state(c) = Emax · cⁿ/(cⁿ + (EC50 · fold_state)ⁿ) of the local concentration c.

    - targeted: kill hazard kill_rate_per_h · E_state (per hour) and cycle slowing
      growth_inhibition · E_state (cytostasis); primary (induces persistence).
    - cytotoxic: a cell attempting division (ready, with a free neighbour) dies instead with
      probability E_state; primary.
    - epigenetic (KDM5/HDAC): blocks persister entry by entry_block · E(c) and kills with hazard
      kill_rate_per_h · E_state (set fold ≫ 1 for S/P/R so that it kills DTPs/DTEPs).
    - oxphos, fao: kill hazard kill_rate_per_h · E_state (DTP vulnerabilities).
    - gpx4: kill hazard kill_rate_per_h · E_state · pO2/(pO2 + o2_half_mmHg) (ferroptosis needs O2).
    - met_inhibitor: MET signal × (1 − E(c)) (removes HGF protection).
    - anti_pd1: checkpoint blockade level E(c), read by the immune process (no effect without it).
    """

    kind: str = param("targeted", "", "what the drug does (see class doc)", choices=DRUG_KINDS)
    pk: str = param(
        "bolus", "", "bolus (dose_uM added to plasma every interval_h, first-order elimination), infusion "
        "(the same amount spread evenly), constant (plasma = dose_uM while on); ignored with "
        "treatment.delivery=bath (medium level = dose_uM while on)", choices=("bolus", "infusion", "constant"),
    )
    dose_uM: float = param(
        1.0, "µM", "plasma concentration increment of one dose (dose × bioavailability / volume), or the level "
        "for pk=constant and in bath mode", min=0.0,
        source="erlotinib 150 mg × F 0.59 / (393 g/mol × 233 L) ≈ 1 µM; steady peak ≈ 2.7 µM (Lu 2006: Cmax ≈ 2.5 µM)",
    )
    interval_h: float = param(24.0, "h", "dosing interval (one dose counts 1 in cumulative_dose)", min=0.0,
                              min_exclusive=True, source="erlotinib once daily")
    half_life_h: float = param(36.2, "h", "plasma elimination half-life", min=0.0, min_exclusive=True,
                               source="erlotinib t½ 36.2 h (Lu 2006, docs/references.md: solid)")
    ec50_uM: float = param(
        0.03, "µM", "local concentration giving half-maximal effect on sensitive cells (0: full effect at any c > 0)",
        min=0.0, source="PC9 erlotinib IC50 tens of nM (check)",
    )
    hill_n: float = param(2.0, "", "Hill coefficient", min=0.0, min_exclusive=True, source="(uncertain)")
    emax: float = param(1.0, "fraction", "maximal effect (cytotoxic: kill probability per division attempt)",
                        min=0.0, max=1.0)
    kill_rate_per_h: float = param(
        0.05, "1/h", "kill hazard at maximal effect (targeted, epigenetic, oxphos, fao, gpx4)", min=0.0,
        source="most PC9 cells die within days of 2 µM erlotinib; ~0.3 % left at 9 days (Sharma 2010); uncertain",
    )
    growth_inhibition: float = param(
        1.0, "fraction", "targeted: cycle slowing at maximal effect (cytostasis)", min=0.0, max=1.0,
        source="EGFR inhibitors arrest PC9 in G1 (uncertain)",
    )
    ec50_fold: dict[str, float] = param(
        {"sensitive": 1.0, "primed": 1.0, "dtp": 1000.0, "dtep": 1000.0, "resistant": 1.0e4}, "×",
        "EC50 multiplier per tumour state (state-specific sensitivity)", min=0.0, keys=STATE_NAMES,
        source="DTPs > 100-fold less sensitive (Sharma 2010, docs/references.md: solid); R: genetic resistance",
    )
    entry_block: float = param(
        0.95, "fraction", "epigenetic: fraction of persister entry blocked at maximal effect", min=0.0, max=1.0,
        source="KDM5A/HDAC inhibition prevents DTPs (Sharma 2010; effect size uncertain)",
    )
    o2_half_mmHg: float = param(10.0, "mmHg", "gpx4: pO2 at which ferroptotic kill is half-maximal", min=0.0,
                                source="lipid peroxidation needs O2 (Hangauer 2017; uncertain)")
    schedule: ScheduleParams = param(ScheduleParams())
    transport: DrugTransportParams = param(DrugTransportParams())

    @property
    def elimination_per_h(self) -> float:
        return math.log(2.0) / self.half_life_h


@dataclass
class TreatmentParams(Params):
    """The therapy: drugs (each with its schedule), how they reach cells, what counts as progression."""

    name: str = param("none", "", "preset name, recorded in outputs")
    delivery: str = param(
        "vessels", "", "vessels: each drug diffuses from vessel voxels at plasma × permeability (in vivo); "
        "bath: the whole lattice sits at the medium level = dose while on (in vitro dish assay, no PK)",
        choices=("vessels", "bath"),
    )
    progression_factor: float = param(
        1.2, "× baseline burden", "progression: the burden exceeds this multiple of the burden at therapy start",
        min=0.0, min_exclusive=True, source="Strobl 2022 HAL benchmark: 1.2 × N₀",
    )
    drugs: dict[str, DrugParams] = param(
        {}, "", "the drug registry: name → drug (field drug_<name>); add drugs in a conf/treatment preset or on "
        "the command line: +drug@treatment.drugs.NAME=KIND (docs/configuration.md)",
    )
    monitoring: MonitoringParams = param(MonitoringParams())


def drug_from_config(name: str, value: Any) -> DrugParams:
    """A validated :class:`DrugParams` (Hydra already typed it; a plain mapping is accepted
    for parameters built in Python).

    Raises:
        ConfigError: a name that cannot name a field, or values out of range, naming the key.
    """
    key = f"treatment.drugs.{name}"
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", str(name)):
        raise ConfigError(f"{key}: a drug name must be a letter followed by letters, digits or _ "
                          "(it names the field drug_<name> and the summary columns)")
    drug = value if isinstance(value, DrugParams) else DrugParams(**dict(value))
    validate(drug, key)
    return drug
