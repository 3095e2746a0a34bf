"""Organ and host presets (docs/model.md "Organ and host"): each changes the parameters it claims to
(asserted from the resolved config and from the effective parameters), composes, and runs; and
the liver preset lowers the benefit of anti-PD-1 compared with lung (Yu 2021)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from omegaconf import OmegaConf

from lattice import codes
from lattice.configure import compose
from lattice.observe import observe
from tests.conftest import build_model, build_params

#: What each organ preset claims (conf/organ/<organ>.yaml): resolved-config key -> value.
ORGAN_CLAIMS = {
    "lung": {"fields.oxygen.vessel_value": 42.8, "fields.oxygen.boundary_value": 42.8, "organ.ferroptosis": 1.5,
             "organ.stroma.caf_pattern": "scattered", "organ.t_cell_recruitment": 1.0},
    "liver": {"fields.oxygen.vessel_value": 30.0, "organ.stroma.killer_macrophage_fraction": 0.5,
              "organ.stroma.caf_pattern": "capsule", "organ.drug_permeability": 2.0},
    "brain": {"fields.oxygen.vessel_value": 26.0, "organ.drug_permeability": 0.03, "organ.t_cell_recruitment": 0.3,
              "organ.stroma.macrophage_density": 0.05},
    "breast": {"fields.oxygen.vessel_value": 52.0, "organ.stroma.caf_pattern": "bands", "organ.ferroptosis": 0.8,
               "organ.t_cell_recruitment": 0.6},
    "bone_marrow": {"fields.oxygen.vessel_value": 20.0, "organ.drug_permeability": 1.5,
                    "organ.vessels.spacing_um": 150.0},
}


@pytest.mark.parametrize("organ", sorted(ORGAN_CLAIMS))
def test_organ_preset_sets_what_it_claims_and_runs(organ):
    cfg = compose([f"organ={organ}"])
    generic = compose([])
    for key, value in ORGAN_CLAIMS[organ].items():
        assert OmegaConf.select(cfg, key) == value, key
        if key != "organ.t_cell_recruitment" or value != 1.0:
            assert OmegaConf.select(generic, key) != value, f"{key} is not changed by organ={organ}"
    assert cfg.organ.name == organ
    # Effective parameters: organ multipliers applied to what they scale.
    params = build_params(f"organ={organ}", "treatment=gpx4_combination")
    o = ORGAN_CLAIMS[organ]
    perm = params.treatment.drugs["primary"].transport.permeability_per_min
    assert perm == pytest.approx(10.0 * cfg.organ.drug_permeability)
    assert params.treatment.drugs["gpx4i"].kill_rate_per_h == pytest.approx(0.03 * cfg.organ.ferroptosis)
    assert params.immune.recruitment_per_h == pytest.approx(0.1 * cfg.organ.t_cell_recruitment)
    if "fields.oxygen.vessel_value" in o:
        assert params.fields.oxygen.vessel_value == o["fields.oxygen.vessel_value"]
    # ... and it runs: a few steps of a small lattice with its stroma and immune layer.
    model = build_model(f"organ={organ}", "grid.shape=[48,48]")
    state = model.initial_state()
    assert state.t_kills is not None  # every organ preset recruits T cells
    for _ in range(3):
        state = model.step(state)
    row = observe(state, model)
    assert row["tumour_total"][0] > 0 and np.isfinite(state.fields).all()
    st = params.organ.stroma
    assert (row["macrophages"][0] + row["killer_macrophages"][0] > 0) == (st.macrophage_density > 0)
    assert (row["caf"][0] > 0) == (st.caf_pattern != "none")
    assert (row["killer_macrophages"][0] > 0) == (st.killer_macrophage_fraction > 0)


def test_generic_organ_has_no_stroma_or_immune_and_keeps_the_tumour_only_channels():
    model = build_model()
    assert model.registry.names == ("oxygen", "glucose", "death_signal")
    state = model.initial_state()
    assert state.t_kills is None and not state.immune.any() and not (state.cells == codes.CAF).any()


#: What each host trait claims: effective parameter -> multiplier vs the reference host.
HOST_CLAIMS = {
    "host.age=aged": {"immune.recruitment_per_h": 0.5, "immune.kill_rate_per_h": 0.8,
                      "fields.hgf.secretion_per_min.caf": 1.5, "fields.tgfb.secretion_per_min.caf": 1.5},
    "host.sex=male": {"immune.kill_rate_per_h": 0.6, "immune.kills_to_exhaustion": 0.7},
    "host.metabolic=obese": {"immune.kill_rate_per_h": 0.7, "organ.stroma.macrophage_density": 1.5,
                             "organ.vessels.spacing_um": 1 / math.sqrt(1.3), "tumour.entry.sensitive_per_h": 1.5,
                             "tumour.entry.primed_per_h": 1.5, "fields.hgf.secretion_per_min.caf": 1.3},
}


def _get(params, key):
    obj = params
    for part in key.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


@pytest.mark.parametrize("trait", sorted(HOST_CLAIMS))
def test_host_trait_changes_what_it_claims_and_runs(trait):
    cfg = compose(["organ=lung", trait])
    key, value = trait.split("=")
    assert OmegaConf.select(cfg, key) == value
    ref = build_params("organ=lung")
    params = build_params("organ=lung", trait)
    for name, factor in HOST_CLAIMS[trait].items():
        expected = _get(ref, name) * factor
        if name == "immune.kills_to_exhaustion":
            expected = round(expected)
        assert _get(params, name) == pytest.approx(expected), name
    # unclaimed keys stay as they were
    assert params.immune.t_cell_death_per_h == ref.immune.t_cell_death_per_h
    model = build_model("organ=lung", trait, "grid.shape=[40,40]")
    state = model.initial_state()
    for _ in range(3):
        state = model.step(state)
    assert np.isfinite(state.fields).all()


def test_presets_compose_organ_liver_aged_obese():
    """organ=liver host.age=aged host.metabolic=obese: organ and host multipliers multiply."""
    p = build_params("organ=liver", "host.age=aged", "host.metabolic=obese")
    assert p.organ.name == "liver" and (p.host.age, p.host.sex, p.host.metabolic) == ("aged", "female", "obese")
    assert p.immune.recruitment_per_h == pytest.approx(0.1 * 1.0 * 0.5)
    assert p.immune.kill_rate_per_h == pytest.approx(0.5 * 0.8 * 0.7)
    assert p.organ.stroma.macrophage_density == pytest.approx(0.08 * 1.5)
    assert p.organ.vessels.spacing_um == pytest.approx(200 / math.sqrt(1.3))
    assert p.fields.hgf.secretion_per_min["caf"] == pytest.approx(0.15 * 1.5 * 1.3)
    assert p.fields.oxygen.vessel_value == 30.0 and p.organ.stroma.killer_macrophage_fraction == 0.5
    model = build_model("organ=liver", "host.age=aged", "host.metabolic=obese", "grid.shape=[40,40]")
    model.step(model.initial_state())


def checkpoint_benefit(organ: str) -> float:
    """Mean relative burden reduction by anti-PD-1 after one week (3 replicates, same seeds)."""
    common = ("experiment=checkpoint_blockade", f"organ={organ}", "grid.shape=[64,64]",
              "tumour.initial.radius_um=250", "replicates=3")
    burden = {}
    for arm in ("none", "anti_pd1"):
        model = build_model(*common, f"treatment={arm}")
        state = model.initial_state()
        for _ in range(model.params.n_steps):
            state = model.step(state)
        burden[arm] = observe(state, model)["tumour_total"].astype(float)
    return float(np.mean(1 - burden["anti_pd1"] / burden["none"]))


def test_liver_lowers_the_benefit_of_anti_pd1_compared_with_lung():
    """Yu 2021: FasL⁺ liver macrophages eliminate infiltrating CD8 T cells, so checkpoint blockade
    helps less. Lung: anti-PD-1 cuts the week-1 burden by > 4 %; liver: by at least 3 points less."""
    lung, liver = checkpoint_benefit("lung"), checkpoint_benefit("liver")
    assert lung > 0.04 and lung - liver > 0.03, (lung, liver)
