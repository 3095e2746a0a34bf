"""lattice-cohort: patients sampled from stated distributions, every arm on the same patients,
KM / hazard ratios / response rates / forest plot, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from lattice.cohort import available, load_cohort, main, sample_patients

# Tiny and fast: 12 x 12 lattices, 3-8 % pre-existing resistance, fast division, 200 days.
COHORT = {
    "name": "tiny",
    "scenario": ["experiment=competitive_release", "grid.shape=[12,12]", "duration_h=4800", "tumour.cycle_h=200"],
    "patients": 6, "seed": 7, "reference": "continuous",
    "arms": {"continuous": ["treatment=continuous"], "adaptive": ["treatment=adaptive", "treatment.drugs.primary.schedule.off_below=0.8"]},
    "organ": {"generic": 1.0},
    "host": {"age": {"young": 0.5, "aged": 0.5}, "sex": {"female": 1.0, "male": 1.0}},
    "tumour": {"tumour.initial.resistant_fraction": {"dist": "uniform", "low": 0.03, "high": 0.08},
               "tumour.resistance_cost": {"dist": "choice", "values": [0.0, 0.2], "weights": [1, 1]}},
    "subgroups": ["host.age", "host.sex"],
}


def write(tmp_path, **changes):
    path = tmp_path / "cohort.yaml"
    path.write_text(yaml.safe_dump({**COHORT, **changes}))
    return path


def test_shipped_cohort_loads_and_samples_stated_distributions():
    assert "competitive_release" in available()
    cohort = load_cohort("competitive_release", patients=4000)
    assert cohort.patients == 4000 and set(cohort.arms) == {"continuous", "adaptive", "intermittent"}
    pts = pd.DataFrame(sample_patients(cohort))
    # organ and host traits follow their probabilities (4000 draws: 3 standard errors ~ 0.025)
    assert (pts["organ"] == "liver").mean() == pytest.approx(0.5, abs=0.03)
    assert (pts["host.metabolic"] == "obese").mean() == pytest.approx(0.3, abs=0.03)
    # log-uniform on [1e-4, 1e-2]: log10 uniform on [-4, -2], mean -3, sd 2/sqrt(12)
    logs = np.log10(pts["tumour.initial.resistant_fraction"])
    assert logs.min() >= -4 and logs.max() <= -2
    assert logs.mean() == pytest.approx(-3.0, abs=0.03) and logs.std() == pytest.approx(2 / 12**0.5, abs=0.03)
    # log-normal around 876.8 h with sigma 0.2
    cyc = np.log(pts["tumour.cycle_h"] / 876.8)
    assert cyc.mean() == pytest.approx(0.0, abs=0.02) and cyc.std() == pytest.approx(0.2, abs=0.01)
    # same file, same patients
    assert sample_patients(cohort)[:5] == sample_patients(load_cohort("competitive_release", patients=4000))[:5]


def test_tiny_cohort_writes_km_hazard_ratios_responses_and_forest(tmp_path):
    out = tmp_path / "out"
    main(["--cohort", str(write(tmp_path)), "--out", str(out)])
    patients = pd.read_csv(out / "patients.csv")
    outcomes = pd.read_csv(out / "outcomes.csv")
    assert len(patients) == 6 and len(outcomes) == 12
    # every arm on the same patients
    for arm in ("continuous", "adaptive"):
        assert sorted(outcomes.loc[outcomes.arm == arm, "patient"]) == list(range(6))
    assert outcomes.progressed.sum() >= 6  # with 3-8 % resistance most progress within 200 days
    assert ((outcomes.ttp_days > 0) & (outcomes.ttp_days <= 200)).all()
    # adaptive therapy uses less drug than continuous on every patient (it pauses)
    dose = outcomes.pivot(index="patient", columns="arm", values="cumulative_dose")
    cont_days = outcomes.pivot(index="patient", columns="arm", values="ttp_days")["continuous"]
    assert dose["continuous"].to_numpy() == pytest.approx(cont_days.to_numpy(), abs=1.0)  # daily, always on
    ttp = outcomes.pivot(index="patient", columns="arm", values="ttp_days")
    paused = dose["adaptive"] < ttp["adaptive"] - 0.5  # adaptive had days off
    assert paused.any()
    # common random numbers: where adaptive never paused it is the same run as continuous
    assert (ttp.loc[~paused, "adaptive"] == ttp.loc[~paused, "continuous"]).all()
    hr = pd.read_csv(out / "hazard_ratios.csv")
    assert list(hr.subgroup) == ["all", "host.age", "host.age", "host.sex", "host.sex"]
    overall = hr[hr.subgroup == "all"].iloc[0]
    assert overall.patients == 6
    assert np.isnan(overall.hazard_ratio) or overall.ci_low <= overall.hazard_ratio <= overall.ci_high
    rr = pd.read_csv(out / "response_rates.csv").set_index("arm")
    responders = outcomes.groupby("arm").responder.mean()
    assert rr.loc["adaptive", "response_rate"] == pytest.approx(responders["adaptive"])
    for png in ("km.png", "forest.png"):
        assert (out / png).stat().st_size > 10_000
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["median_ttp_days"]) == {"continuous", "adaptive"}


@pytest.mark.parametrize("changes, key", [
    ({"arms": {"only": []}}, "arms"),
    ({"reference": "nope"}, "reference=nope"),
    ({"tumour": {"tumour.cycle_h": {"dist": "beta", "a": 1}}}, "tumour.tumour.cycle_h.dist=beta"),
    ({"tumour": {"tumour.no_such_rate": 0.1}}, "tumour.no_such_rate"),
    ({"host": {"height": {"tall": 1.0}}}, "host.height"),
    ({"organ": {"moon": 1.0}}, "organ=moon"),
    ({"arms": {"continuous": ["treatment=continuous"], "b": ["treatment=unknown_preset"]}}, "unknown_preset"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, changes, key):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exc:
        main(["--cohort", str(write(tmp_path, **changes)), "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and key in err and err.startswith("lattice-cohort: error:")
    assert not out.exists()
