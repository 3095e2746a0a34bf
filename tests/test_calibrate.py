"""lattice-calibrate: shipped datasets, ABC-SMC recovery of two known rates from synthetic data,
posterior outputs and a preset that composes back, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from lattice import data
from lattice.calibrate import distance, main, observable, parse_prior, weighted_quantile
from lattice.configure import compose
from lattice.data import DataPoint
from lattice.ensemble import ParamsFactory, base_config, run_ensemble
from lattice.params import ConfigError

# A tiny dish persister assay: no primed cells, no memory, no death signal, daily steps, 4 days.
# Survival falls at kill + entry and levels off at about entry / (kill + entry): both identifiable.
SYNTHETIC = ["experiment=persister_assay", "grid.shape=[20,20]", "step_h=24", "duration_h=96",
             "tumour.initial.density=1.0", "tumour.initial.primed_fraction=0.0",
             "tumour.switching.to_primed_per_h=0.0", "tumour.entry.memory_boost=0.0",
             "fields.death_signal.enabled=false"]
KILL, ENTRY = "treatment.drugs.primary.kill_rate_per_h", "tumour.entry.sensitive_per_h"
TRUTH = {KILL: 0.05, ENTRY: 0.003}
PRIORS = {KILL: (0.005, 0.5), ENTRY: (1e-4, 0.1)}  # log-uniform over 2 and 3 decades


def test_shipped_datasets_hold_the_published_numbers():
    assert set(data.available()) >= {"sharma2010_dtp_survival", "sharma2010_dtep_emergence", "halle2016_ctl_killing"}
    sharma = data.load("sharma2010_dtp_survival")
    assert [(p.time_days, p.value) for p in sharma.points] == [(9, 0.003)]   # ~0.3 % after 9 days
    assert "Cell 141:69" in sharma.source and sharma.distance_scale == "log"
    dtep = data.load("sharma2010_dtep_emergence")
    assert [(p.time_days, p.value) for p in dtep.points] == [(30, 0.2)]      # ~20 % of DTPs by ~30 days
    halle = data.load("halle2016_ctl_killing")
    assert [(p.low, p.high) for p in halle.points] == [(2.0, 16.0)]          # 2-16 kills per CTL per day
    for name in data.available():  # every shipped scenario composes
        base_config(list(data.load(name).scenario))


def test_distance_value_and_range():
    sharma = data.load("sharma2010_dtp_survival")
    assert distance(np.array([0.03]), sharma) == pytest.approx(1.0)   # one decade off on log10
    assert distance(np.array([0.003]), sharma) == 0.0
    halle = data.load("halle2016_ctl_killing")
    assert distance(np.array([5.0]), halle) == 0.0
    assert distance(np.array([20.0]), halle) == pytest.approx(4.0)
    assert distance(np.array([0.5]), halle) == pytest.approx(1.5)


def test_weighted_quantile_matches_repeated_samples():
    rng = np.random.default_rng(1)
    x = rng.normal(size=400)
    w = rng.integers(1, 4, size=400).astype(float)
    expanded = np.repeat(x, w.astype(int))
    for q in (0.05, 0.5, 0.95):
        assert weighted_quantile(x, w, q) == pytest.approx(np.quantile(expanded, q), abs=0.05)


def test_params_factory_equals_hydra_merge():
    from lattice.ensemble import with_values

    cfg = base_config(SYNTHETIC + ["host.age=aged"])
    values = {KILL: 0.07, ENTRY: 1e-3, "seed": 3, "replicates": 2}
    assert ParamsFactory(cfg)(values) == with_values(cfg, values)
    with pytest.raises(ConfigError, match="tumour.entry.no_such"):
        ParamsFactory(cfg)({"tumour.entry.no_such": 1.0})
    with pytest.raises(ConfigError, match="treatment.drugs.primary.kind"):
        ParamsFactory(cfg)({"treatment.drugs.primary.kind": 3})


def test_abc_recovers_two_known_rates_from_synthetic_data(tmp_path):
    factory = ParamsFactory(base_config(SYNTHETIC))
    truth = run_ensemble(factory({**TRUTH, "replicates": 4, "seed": 4242}))
    days = [1, 2, 3, 4]
    y = observable("surviving_fraction", truth.tables, days, 24.0)
    dataset = {"name": "synthetic", "source": "made by the simulator at known rates", "observable": "surviving_fraction",
               "distance_scale": "log", "points": [{"time_days": d, "value": float(v)} for d, v in zip(days, y)]}
    (tmp_path / "synthetic.yaml").write_text(yaml.safe_dump(dataset))
    out = tmp_path / "cal"
    main(["--data", str(tmp_path / "synthetic.yaml"), "--out", str(out), "--population", "30", "--generations", "4",
          *[f"--param={k}={lo}:{hi}:log" for k, (lo, hi) in PRIORS.items()], "--name", "syn", *SYNTHETIC])
    summary = pd.read_csv(out / "posterior_summary.csv").set_index("key")
    for key, true in TRUTH.items():
        lo, hi = summary.loc[key, ["ci_low", "ci_high"]]
        assert lo <= true <= hi, f"{key}: {true} outside the 90 % CI [{lo:.3g}, {hi:.3g}]"
        prior_width = math.log10(PRIORS[key][1] / PRIORS[key][0])
        assert math.log10(hi / lo) < 0.8 * prior_width, f"{key}: the data did not narrow the prior"
    post = pd.read_csv(out / "posterior.csv")
    assert set(post.columns) == {KILL, ENTRY, "weight"} and post["weight"].sum() == pytest.approx(1.0)
    assert (out / "posterior.png").stat().st_size > 10_000
    # the preset holds the posterior medians and composes back through an extra config path
    result = json.loads((out / "summary.json").read_text())
    cfg = compose([f"experiment={result['preset'].rsplit('/', 1)[1][:-5]}", f"hydra.searchpath=[file://{out / 'conf'}]"])
    assert cfg.treatment.drugs.primary.kill_rate_per_h == pytest.approx(summary.loc[KILL, "median"], rel=1e-5)
    assert cfg.tumour.entry.sensitive_per_h == pytest.approx(summary.loc[ENTRY, "median"], rel=1e-5)
    assert cfg.grid.shape == [200, 200]  # the base experiment (persister_assay) comes with it


def test_parse_prior():
    p = parse_prior("tumour.cycle_h=10:40")
    assert (p.key, p.low, p.high, p.log) == ("tumour.cycle_h", 10.0, 40.0, False)
    assert parse_prior("a.b=1e-3:1e-1:log").bounds() == pytest.approx((-3.0, -1.0))


@pytest.mark.parametrize("args, key", [
    (["--data", "no_such_data"], "--data=no_such_data"),
    (["--param", f"{KILL}=0.5:0.1"], f"--param {KILL}"),
    (["--param", "tumour.no_such=0.1:0.5"], "tumour.no_such"),
    (["--param", f"{KILL}=0:0.5:log"], "log prior"),
    (["--param", f"{KILL}=0.1:5.0", "--population", "0"], "--population"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, args, key):
    base = ["--data", "sharma2010_dtp_survival", "--param", f"{ENTRY}=1e-5:1e-3:log"]
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exc:
        main([*base, "--out", str(out), *args, *SYNTHETIC])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and key in err and err.startswith("lattice-calibrate: error:")
    assert not out.exists()


def test_datapoint_needs_value_or_range(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "source": "y", "observable": "surviving_fraction",
                                   "points": [{"time_days": 1}]}))
    with pytest.raises(ConfigError, match=r"points\[0\] needs either value or low and high"):
        data.load(bad)
    assert DataPoint(time_days=1, value=0.5).value == 0.5


def test_observables_from_a_table():
    table = {"time_h": np.array([0.0, 24.0, 48.0]), "tumour_total": np.array([200, 50, 10]),
             "dtp": np.array([0, 8, 8]), "dtep": np.array([0, 0, 2]), "kills": np.array([0, 10, 30]),
             "t_cells": np.array([4, 5, 6]), "exhausted_t_cells": np.array([0, 0, 0])}
    np.testing.assert_allclose(observable("surviving_fraction", [table], [0, 1, 2], 24.0), [1.0, 0.25, 0.05])
    np.testing.assert_allclose(observable("dtep_fraction_of_persisters", [table], [0, 2], 24.0), [0.0, 0.2])
    # 30 kills by 5 T cells on average over 2 days: 3 kills per T cell per day
    np.testing.assert_allclose(observable("kills_per_t_cell_per_day", [table], [None], 24.0), [3.0])
    # the mean over replicates
    other = dict(table, tumour_total=np.array([100, 50, 30]))
    np.testing.assert_allclose(observable("surviving_fraction", [table, other], [2], 24.0), [0.5 * (0.05 + 0.3)])
