"""Stroma (docs/model.md "Microenvironment"): CAF patterns and initial macrophages, secretion from the
cell and immune layers, the HGF/MET rescue of persisters near CAFs that a MET inhibitor removes
(Straussman 2012), and chemotherapy-induced senescent fibroblasts (He 2025)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lattice import codes
from lattice.processes import sources
from tests.conftest import build_model
from tests.test_tumour_rules import assert_binomial

DISH = ("organ.vessels.pattern=none", "fields.oxygen.enabled=false", "fields.glucose.enabled=false")


def test_scattered_cafs_fill_the_tumour_and_its_margin():
    model = build_model(*DISH, "grid.shape=[80,80]", "organ.stroma.caf_pattern=scattered",
                        "organ.stroma.caf_density=0.2", "organ.stroma.caf_margin_um=100", "tumour.initial.radius_um=300")
    state = model.initial_state()
    dist = model.grid.centre_distance_um()[None]
    caf = state.cells == codes.CAF
    assert not caf[np.broadcast_to(dist > 400, caf.shape)].any()
    inside = np.broadcast_to(dist <= 400, caf.shape)
    assert_binomial(int(caf[inside].sum()), int(inside.sum()), 0.2)
    tumour = codes.is_live_tumour(state.cells)
    assert not (tumour & caf).any() and tumour.sum() > 500
    assert {"hgf", "tgfb"} <= set(model.registry.names)


def test_caf_bands_and_capsule_geometry():
    model = build_model(*DISH, "grid.shape=[60,61]", "organ.stroma.caf_pattern=bands", "organ.stroma.caf_density=1",
                        "organ.stroma.band_spacing_um=400", "organ.stroma.band_width_um=40", "tumour.initial.density=0")
    caf = model.initial_state().cells[0] == codes.CAF
    cols = np.nonzero(caf.all(axis=0))[0]
    assert (~caf[:, np.setdiff1d(np.arange(61), cols)]).all()  # bands are whole columns
    assert cols.tolist() == [9, 10, 29, 30, 49, 50]  # 2 voxels wide (40 µm), every 20 voxels, one at the centre (30)

    model = build_model(*DISH, "grid.shape=[60,60]", "organ.stroma.caf_pattern=capsule", "organ.stroma.caf_density=1",
                        "tumour.initial.radius_um=300", "organ.stroma.capsule_thickness_um=40",
                        "organ.stroma.capsule_gap_um=20")
    state = model.initial_state()
    d = model.grid.centre_distance_um()
    caf = state.cells[0] == codes.CAF
    assert caf[(d > 320) & (d <= 360)].all() and not caf[(d <= 320) | (d > 360)].any()


def test_initial_macrophages_and_killer_fraction():
    model = build_model(*DISH, "grid.shape=[150,150]", "organ.stroma.macrophage_density=0.05",
                        "organ.stroma.killer_macrophage_fraction=0.5")
    imm = model.initial_state().immune
    n = imm.size
    assert_binomial(int(((imm == codes.MACROPHAGE) | (imm == codes.KILLER_MACROPHAGE)).sum()), n, 0.05)
    assert_binomial(int((imm == codes.KILLER_MACROPHAGE).sum()), n, 0.025)
    assert not (imm == codes.T_CELL).any()  # generic organ: no T-cell recruitment, none seeded
    assert model.initial_state().t_kills is None


def test_secretion_tables_of_both_layers():
    """HGF: CAFs (cell table) and macrophages (immune table); IFN-γ only from T cells engaged with a
    live tumour cell; tumour chemokine × (1 + boost · I/(I + K)); specific classes override broad ones."""
    model = build_model(*DISH, "grid.shape=[12,12]", "immune.initial_t_cells=0.01", "organ.stroma.macrophage_density=0.01",
                        "fields.chemokine.secretion_per_min.tumour=1.0", "+fields.chemokine.secretion_per_min.dtp=0.25")
    state = model.initial_state()
    cells = np.zeros_like(state.cells)
    imm = np.zeros_like(state.immune)
    cells[0, 2, 2] = codes.CAF
    imm[0, 5, 5] = codes.MACROPHAGE
    cells[0, 8, 8], imm[0, 8, 9] = codes.SENSITIVE, codes.T_CELL   # engaged (neighbour)
    imm[0, 1, 10] = codes.T_CELL                                     # alone: not engaged
    cells[0, 10, 2] = codes.DTP
    fields = state.fields.copy()
    fields[:, model.registry.index("ifng")] = 1.0
    state = state.replace(cells=cells, immune=imm, fields=fields)
    names = list(model.registry.names)
    idx = list(range(len(names)))
    _, secretion = sources.rate_tables(model)
    base = np.moveaxis(secretion[idx][:, cells], 0, 1).reshape(len(idx), 12, 12)
    s = sources.add_immune_sources(base.copy(), state, model, idx, 1, (12, 12)).reshape(len(idx), 12, 12)
    hgf, ifng, chem = (s[names.index(n)] for n in ("hgf", "ifng", "chemokine"))
    fp = model.params.fields
    assert hgf[2, 2] == pytest.approx(fp.hgf.secretion_per_min["caf"])
    assert hgf[5, 5] == pytest.approx(fp.hgf.immune_secretion_per_min["macrophage"])
    assert ifng[8, 9] == pytest.approx(fp.ifng.immune_secretion_per_min["engaged_t_cell"]) and ifng[1, 10] == 0
    boost = 1 + model.params.immune.chemokine_ifng_boost * 0.5
    assert chem[8, 8] == pytest.approx(1.0 * boost) and chem[10, 2] == pytest.approx(0.25 * boost)
    assert np.count_nonzero(ifng) == 1 and np.count_nonzero(chem) == 2


def hgf_assay(treatment: str):
    """A dish of tumour cells crossed by two CAF bands, 72 h of a lethal targeted drug (bath):
    surviving fractions of the cells that started near the bands (1–4 voxels) and far (≥ 20)."""
    model = build_model(
        f"treatment={treatment}", "treatment.delivery=bath", "treatment.drugs.primary.dose_uM=2.0", *DISH,
        "organ.stroma.caf_pattern=bands", "organ.stroma.caf_density=1.0", "organ.stroma.band_spacing_um=1200",
        "organ.stroma.band_width_um=80", "tumour.initial.shape=random", "tumour.initial.density=0.7",
        "grid.shape=[60,120]", "replicates=4", "duration_h=72",
    )
    state = model.initial_state()
    bands = np.nonzero((state.cells[0] == codes.CAF).any(axis=0))[0]
    dist = np.min(np.abs(np.arange(120)[:, None] - bands[None, :]), axis=1)
    near, far = (dist >= 1) & (dist <= 4), dist >= 20
    live = lambda s: codes.is_live_tumour(s.cells)
    n_near, n_far = int(live(state)[..., near].sum()), int(live(state)[..., far].sum())
    for _ in range(72):
        state = model.step(state)
    return live(state)[..., near].sum() / n_near, live(state)[..., far].sum() / n_far, n_near, n_far, model, state


def two_proportion_z(p1, n1, p2, n2):
    p = (p1 * n1 + p2 * n2) / (n1 + n2)
    return (p1 - p2) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))


def test_hgf_from_cafs_rescues_persisters_and_a_met_inhibitor_removes_it():
    """Near CAF bands (HGF ~1, MET signal ~0.5) tumour cells survive a lethal EGFR-TKI-like drug
    ≥ 1.5× more often than far away (two-proportion z > 5); with a MET inhibitor the difference
    goes (|z| < 3, ratio within 0.75–1.33) and near-CAF survival falls ≥ 2×."""
    near, far, n_near, n_far, model, state = hgf_assay("continuous")
    hgf = state.fields[:, model.registry.index("hgf")]
    assert hgf.max() > 1.0
    assert near / far > 1.5 and two_proportion_z(near, n_near, far, n_far) > 5, (near, far)
    near_i, far_i, *_ = hgf_assay("met_inhibitor_combination")
    assert abs(two_proportion_z(near_i, n_near, far_i, n_far)) < 3 and 0.75 < near_i / far_i < 1.33, (near_i, far_i)
    assert near / near_i > 2


def test_chemotherapy_makes_cafs_senescent():
    """With organ.stroma.senescence_per_h = k, a CAF under a saturating cytotoxic drug becomes
    senescent (code 11) with p = 1 − exp(−k Δt) per step; none without a cytotoxic drug."""
    over = (*DISH, "grid.shape=[80,80]", "organ.stroma.caf_pattern=scattered", "organ.stroma.caf_density=0.5",
            "tumour.initial.shape=fill", "organ.stroma.senescence_per_h=0.1", "treatment.delivery=bath")
    model = build_model(*over, "treatment=continuous", "treatment.drugs.primary.kind=cytotoxic",
                        "treatment.drugs.primary.ec50_uM=0.0001")
    state = model.step(model.initial_state())  # therapy sets the bath level, then senescence
    n_caf = int((model.initial_state().cells == codes.CAF).sum())
    assert_binomial(int((state.cells == codes.SENESCENT_CAF).sum()), n_caf, -math.expm1(-0.1))
    assert "senescent_caf" in codes.RATE_CLASSES
    model = build_model(*over, "treatment=continuous")  # targeted, not cytotoxic
    assert not (model.step(model.initial_state()).cells == codes.SENESCENT_CAF).any()
