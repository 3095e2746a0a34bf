"""Config group ``tumour``: tumour cell behaviour, the DTP life cycle and the initial tumour.

States (docs/model.md): S sensitive, P primed, D drug-tolerant persister (DTP), E drug-tolerant
expanded persister (DTEP), R genetically resistant; plus dead (apoptotic) and necrotic. Every
transition is a hazard per hour (a rule of :mod:`lattice.processes.transitions`), or a
probability per division (mutation); sources are given per parameter, and values marked
*(uncertain)* are starting points to be varied, not measurements.

Literature: Sharma et al. 2010 (Cell 141:69, the DTP/DTEP persister assay); Shaffer et al.
2017 (Nature 546:431, rare primed cells) and 2020 (Cell 182:947, MemorySeq, clock-like memory
loss); Russo et al. 2019 (Science 366:1473, adaptive mutability 7–50×); Schmitt et al. 2022
(Nature 612:347, ATP from dying cells → P2X4 → persistence); Straussman 2012 (Nature 487:500,
HGF/MET); reviewed in Wang et al. 2025 (Nat Commun, "bench to bedside", docs/references.md) and
the DTP-reversibility review (docs/references.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from lattice.params.lineage import BarcodeParams
from lattice.params.spec import Params, param

#: Config names of the live tumour states, in code order (lattice.codes S..R).
STATE_NAMES = ("sensitive", "primed", "dtp", "dtep", "resistant")


@dataclass
class InitialTumourParams(Params):
    """Where the tumour starts and which states it starts in."""

    shape: str = param(
        "disc", "", "disc (2D) or sphere (3D) around the centre, fill (every free voxel), "
        "random (scattered over the lattice)", choices=("disc", "sphere", "fill", "random"),
    )
    radius_um: float = param(200.0, "µm", "radius of the initial disc/sphere", min=0.0)
    density: float = param(1.0, "fraction", "fraction of free voxels occupied inside the shape", min=0.0, max=1.0)
    primed_fraction: float = param(
        0.001, "fraction of initial cells", "initial cells in the primed state P (the rest are S)", min=0.0, max=1.0,
        source="stationary S⇄P fraction ~1:500–1:2000 (docs/model.md, uncertain); Shaffer 2017: 1:50–1:500 marker-high (check)",
    )
    resistant_fraction: float = param(
        0.0, "fraction of initial cells", "initial cells already genetically resistant R (pre-existing resistance); "
        "0 = resistance only by mutation/induction", min=0.0, max=1.0,
        source="10⁻⁴–10⁻¹ in patients at treatment start (Cancer Res 2019;79:3776, docs/references.md: solid)",
    )


@dataclass
class SwitchingParams(Params):
    """S⇄P: spontaneous, drug-independent switching into and out of the primed state.

    The stationary primed fraction is ``to_primed / (to_primed + to_sensitive)`` (default 1:1000).
    """

    to_primed_per_h: float = param(
        1.0 / (72.0 * 999.0), "1/h", "hazard S → P", min=0.0,
        source="set so the stationary P fraction is 1:1000 (docs/model.md: 1:500–1:2000, uncertain)",
    )
    to_sensitive_per_h: float = param(
        1.0 / 72.0, "1/h", "hazard P → S (primed state lasts ~3 days ≈ 4 cell cycles)", min=0.0,
        source="rare-cell states persist a few generations (Shaffer 2017/2020, uncertain)",
    )


@dataclass
class EntryParams(Params):
    """S,P → D: drug-induced entry into the DTP state, competing with drug death.

    hazard = rate(state) × stress × (1 + memory_boost·m) × G1 × (1 + hgf_boost·MET)
    × (1 + hypoxia_boost·hypoxia) × (1 + death_signal_boost·ATP/(ATP + K)) × (1 − epigenetic block),
    where stress is the primary drug's Hill effect on naive cells (0–1).
    """

    sensitive_per_h: float = param(
        4.0e-5, "1/h", "entry hazard of a sensitive cell at full drug stress", min=0.0,
        source="with drug kill 0.05/h gives ~0.1–0.2 % DTPs from S (Sharma 2010: ~0.3 % survive, check; uncertain)",
    )
    primed_per_h: float = param(
        0.1, "1/h", "entry hazard of a primed cell at full drug stress (most primed cells persist)", min=0.0,
        source="primed cells enter persistence far more readily (Shaffer 2017; Wang 2025; uncertain)",
    )
    g1_fraction: float = param(
        5.0 / 18.0, "fraction of cycle", "a cell whose clock is below this is in G1", min=0.0, max=1.0,
        source="PhysiCell phases G0/G1 5 h of 18 h (docs/references.md: solid)",
    )
    g1_boost: float = param(
        2.0, "×", "entry hazard multiplier for cells in G1", min=0.0,
        source="cells newly in G1 at treatment onset tolerate the drug (Wang 2025, refs 53–54; uncertain)",
    )
    memory_boost: float = param(
        5.0, "per unit memory", "entry hazard × (1 + memory_boost × memory): recently exposed cells re-enter faster",
        min=0.0, source="drug-exposure memory (Wang 2025 'memory of persistence'; uncertain)",
    )
    hgf_boost: float = param(
        2.0, "per unit MET signal", "entry hazard × (1 + hgf_boost × HGF/(HGF + K) × (1 − MET inhibition)); "
        "no effect unless an `hgf` field exists", min=0.0,
        source="CAF/TAM HGF sustains persistence (Straussman 2012; DTP review §2.4; uncertain)",
    )
    hypoxia_boost: float = param(
        2.0, "×", "entry hazard × (1 + hypoxia_boost × h), h ramping 0 → 1 from signals.hypoxic_mmHg to the "
        "necrosis threshold (or as glucose falls from signals.low_glucose to starvation)", min=0.0,
        source="hypoxia / nutrient deprivation stabilise persistence (DTP review §2.4; Wang 2025; uncertain)",
    )
    death_signal_boost: float = param(
        1.0, "×", "entry hazard × (1 + death_signal_boost × ATP/(ATP + signals.death_signal_half))", min=0.0,
        source="ATP from dying cells → P2X4 → persistence (Schmitt 2022; uncertain)",
    )


@dataclass
class DtepParams(Params):
    """D → E: DTPs re-enter the cycle as DTEPs under continued drug; the hazard rises linearly with
    time in the DTP state up to ``max_per_h`` at ``ramp_h``, × drug stress × (1 + hgf_boost·MET)."""

    max_per_h: float = param(
        7.6e-4, "1/h", "hazard after ramp_h in the DTP state at full drug stress", min=0.0,
        source="~20 % of DTPs resume growth in drug by ~30 days (Sharma 2010, check)",
    )
    ramp_h: float = param(720.0, "h", "time in the DTP state at which the hazard reaches its maximum", min=0.0,
                          source="(uncertain)")
    hgf_boost: float = param(1.0, "per unit MET signal", "hazard × (1 + hgf_boost × MET signal)", min=0.0,
                             source="docs/model.md: D→E rises with HGF (uncertain)")


@dataclass
class ReversionParams(Params):
    """D,E → S on withdrawal: hazard = rate(state) × (1 − stress) / (1 + memory_slowing × memory)."""

    dtp_per_h: float = param(
        0.02, "1/h", "reversion hazard of a DTP without drug and without memory", min=0.0,
        source="DTPs regain sensitivity within ~9 doublings (Sharma 2010, check; uncertain)",
    )
    dtep_per_h: float = param(
        0.002, "1/h", "reversion hazard of a DTEP without drug and without memory", min=0.0,
        source="DTEPs ~90 vs DTPs ~9 doublings (Sharma 2010, check): 10× slower",
    )
    memory_slowing: float = param(1.0, "per unit memory", "hazard ÷ (1 + memory_slowing × memory)", min=0.0,
                                  source="longer exposure, slower reversion (Wang 2025; uncertain)")


@dataclass
class MemoryParams(Params):
    """Drug-exposure memory m ∈ [0, 1]: rises in D/E under drug, decays without drug with a
    half-life measured in generations (× cycle_h), inherited by daughters."""

    gain_per_h: float = param(
        1.0 / 72.0, "1/h", "m → 1 at this rate in D/E at full drug stress: m += (1 − m)(1 − e^(−gΔt))·stress", min=0.0,
        source="(uncertain)",
    )
    half_life_generations: float = param(
        2.0, "generations (× cycle_h)", "half-life of memory without drug: m ×= 2^(−Δt/(h·cycle_h)) per step "
        "(scaled by 1 − stress)", min=0.0, min_exclusive=True,
        source="clock-like loss of memory over generations (Shaffer 2020 MemorySeq); re-sensitised after ~9 "
        "doublings (Sharma 2010); uncertain",
    )


@dataclass
class MutationParams(Params):
    """Genetic resistance S,P,D,E → R: per division (each daughter independently), raised in
    D/E (adaptive mutability), and an optional drug-induced hazard."""

    per_division: float = param(
        1.0e-7, "probability per daughter", "chance that a daughter acquires a resistance mutation", min=0.0, max=1.0,
        source="(uncertain): a few resistance sites × ~10⁻⁹ per bp per division",
    )
    persister_multiplier: float = param(
        20.0, "×", "per_division × this in DTP/DTEP cells (adaptive mutability)", min=0.0,
        source="mutation rate up 7–50× under targeted therapy (Russo 2019 Science 366:1473; docs/references.md 'Russo 2022')",
    )
    induced_per_h: float = param(
        0.0, "1/h", "hazard × drug stress of acquiring heritable resistance on exposure, without division "
        "(Luria–Delbrück 'induced' hypothesis; 0 = resistance only by mutation at division)", min=0.0,
        source="(uncertain); stress-induced mutagenesis (Russo 2019)",
    )


@dataclass
class SignalParams(Params):
    """How local fields are read as signals by the life-cycle rules."""

    hypoxic_mmHg: float = param(15.0, "mmHg", "hypoxia signal starts below this pO2 (full at the necrosis threshold)",
                                min=0.0, source="PhysiCell hypoxic threshold (docs/references.md: solid)")
    low_glucose: float = param(0.5, "fraction of plasma glucose", "starvation signal starts below this glucose "
                               "(full at glucose_starvation_threshold)", min=0.0, source="(uncertain)")
    death_signal_half: float = param(
        1.0, "death_signal units", "death signal giving half its maximal effect", min=0.0, min_exclusive=True,
        source="(uncertain): ~ the level next to one dying cell",
    )
    hgf_half: float = param(1.0, "hgf units", "HGF level giving half-maximal MET signal", min=0.0, min_exclusive=True,
                            source="(uncertain)")


@dataclass
class TumourParams(Params):
    """Tumour cell cycle, death under the microenvironment, and the DTP life cycle.

    Cycle: the per-cell ``clock`` advances by ``dt / cycle_h`` times an oxygen factor that
    rises linearly from 0 at ``o2_proliferation_threshold_mmHg`` to 1 at
    ``o2_proliferation_saturation_mmHg`` (PhysiCell's oxygen-dependent birth rate), times the
    state's ``cycle_speed`` and (1 − drug cytostasis); a cell whose clock reaches 1 divides into a
    free neighbour, or waits (contact inhibition). With ``division: hazard`` the same quantity
    is a per-step hazard instead (memoryless division, as in the HAL lattice models).
    """

    initial: InitialTumourParams = param(InitialTumourParams())
    cycle_h: float = param(
        18.0, "h", "cell-cycle duration at saturating oxygen", min=0.0, min_exclusive=True,
        source="PhysiCell phases G0/G1 5 h + S 8 h + G2 4 h + M 1 h = 18 h (docs/references.md: solid)",
    )
    division: str = param(
        "clock", "", "clock: divide when the clock reaches 1 (deterministic cycle length); hazard: divide "
        "with probability 1 − exp(−Δt/cycle_h × factors) per step (memoryless, HAL-style)",
        choices=("clock", "hazard"),
    )
    cycle_speed: dict[str, float] = param(
        {"sensitive": 1.0, "primed": 1.0, "dtp": 0.02, "dtep": 0.25, "resistant": 1.0}, "× 1/cycle_h",
        "cycle speed of each state relative to cycle_h", min=0.0, keys=STATE_NAMES,
        source="DTPs quiescent or slow-cycling, DTEPs cycle in drug (Sharma 2010; Wang 2025 Table 1); values uncertain",
    )
    resistance_cost: float = param(
        0.0, "fraction", "fitness cost of R: its cycle speed × (1 − cost)", min=0.0, max=1.0,
        source="optional (Strobl 2021/2022, Gallaher 2018 vary it); 0 by default",
    )
    met_protection: float = param(
        0.5, "fraction", "fraction of primary-drug kill blocked at saturating MET signal (HGF without MET inhibitor)",
        min=0.0, max=1.0, source="HGF/MET rescues from EGFR/RAF inhibitors (Straussman 2012; uncertain)",
    )
    switching: SwitchingParams = param(SwitchingParams())
    entry: EntryParams = param(EntryParams())
    dtep: DtepParams = param(DtepParams())
    reversion: ReversionParams = param(ReversionParams())
    memory: MemoryParams = param(MemoryParams())
    mutation: MutationParams = param(MutationParams())
    signals: SignalParams = param(SignalParams())
    barcodes: BarcodeParams = param(BarcodeParams())
    o2_proliferation_threshold_mmHg: float = param(
        5.0, "mmHg", "below this pO2 the cycle stops", min=0.0,
        source="PhysiCell_cell.cpp (docs/references.md: solid)",
    )
    o2_proliferation_saturation_mmHg: float = param(
        38.0, "mmHg", "above this pO2 the cycle runs at full speed", min=0.0,
        source="PhysiCell standard models (far-field 38 mmHg)",
    )
    o2_necrosis_threshold_mmHg: float = param(
        5.0, "mmHg", "necrosis begins below this pO2", min=0.0, source="PhysiCell (docs/references.md: solid)",
    )
    o2_necrosis_max_mmHg: float = param(
        2.5, "mmHg", "necrosis hazard is maximal below this pO2", min=0.0, source="PhysiCell (docs/references.md: solid)",
    )
    necrosis_max_rate_per_h: float = param(
        1.0 / 6.0, "1/h", "necrosis hazard at anoxia", min=0.0, source="PhysiCell: up to 1/(6 h) (docs/references.md: solid)",
    )
    glucose_starvation_threshold: float = param(
        0.1, "field units (fraction of plasma glucose)", "below this glucose, cells starve (necrosis hazard at the max rate)", min=0.0,
        source="(uncertain)",
    )
    apoptosis_rate_per_h: float = param(
        0.0, "1/h", "background (turnover) death hazard of live tumour cells", min=0.0,
        source="optional turnover, 0 by default (Strobl 2022 uses turnover as a scenario knob)",
    )
    dead_clearance_h: float = param(
        8.6, "h", "time an apoptotic cell occupies its voxel before it is cleared", min=0.0,
        source="PhysiCell: 516 min (docs/references.md: solid)",
    )
