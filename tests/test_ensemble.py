"""In-memory ensembles (lattice.ensemble): determinism, common random numbers, early stops."""

from __future__ import annotations

import numpy as np
import pytest

from lattice.ensemble import base_config, run_ensemble, with_values
from lattice.events import compute_events
from lattice.params import ConfigError

# A tiny competitive-release tumour with 5 % pre-existing resistance and fast division:
# every replicate progresses under continuous therapy within ~100 daily steps.
TINY = ["experiment=competitive_release", "grid.shape=[12,12]", "duration_h=4800",
        "tumour.initial.resistant_fraction=0.05", "tumour.cycle_h=200"]


@pytest.fixture(scope="module")
def cfg():
    return base_config(TINY)


def test_same_params_same_tables(cfg):
    p = with_values(cfg, {"replicates": 2, "duration_h": 480})
    a, b = run_ensemble(p), run_ensemble(p)
    assert a.steps == b.steps == 20
    for ta, tb in zip(a.tables, b.tables):
        assert ta.keys() == tb.keys()
        for k in ta:
            np.testing.assert_array_equal(ta[k], tb[k])
    # replicates differ from each other (independent streams)
    assert not np.array_equal(a.tables[0]["tumour_total"], a.tables[1]["tumour_total"])


def test_common_random_numbers_across_ensemble_sizes_and_schedules(cfg):
    """Replicate r draws the same numbers whatever the ensemble size: its lattice is identical
    before therapy differs, and the untreated start (t = 0 row) is identical across schedules."""
    small = run_ensemble(with_values(cfg, {"replicates": 2, "duration_h": 240}))
    large = run_ensemble(with_values(cfg, {"replicates": 3, "duration_h": 240}))
    for r in range(2):
        np.testing.assert_array_equal(small.tables[r]["tumour_total"], large.tables[r]["tumour_total"])
    # Adaptive and continuous therapy both treat from the first step (the burden is at baseline):
    # with common random numbers they give the same lattices until adaptive first pauses.
    cont = run_ensemble(with_values(cfg, {"replicates": 2, "duration_h": 240,
                                          "treatment.drugs.primary.schedule.kind": "continuous"}))
    for r in range(2):
        np.testing.assert_array_equal(cont.tables[r]["tumour_total"], small.tables[r]["tumour_total"])
        np.testing.assert_array_equal(cont.tables[r]["on_primary"][1:], 1)


def test_stop_when_all_progressed_keeps_the_events(cfg):
    p = with_values(cfg, {"replicates": 3, "treatment.drugs.primary.schedule.kind": "continuous"})
    early = run_ensemble(p, stop_when_all_progressed=True)
    assert early.stopped_early and early.steps < p.n_steps
    ttp = early.event_array("time_to_progression_h")
    assert np.isfinite(ttp).all()
    assert early.steps * p.step_h == pytest.approx(ttp.max())  # stopped right at the last progression
    full = run_ensemble(with_values(cfg, {"replicates": 3, "duration_h": (early.steps + 10) * 24.0,
                                          "treatment.drugs.primary.schedule.kind": "continuous"}))
    np.testing.assert_array_equal(full.event_array("time_to_progression_h"), ttp)
    for ev, table in zip(early.events, early.tables):
        assert ev == compute_events(table, p.treatment.progression_factor)


def test_callback_stops_the_run(cfg):
    seen = []

    def stop_at_six(step, state, model, tables):
        seen.append(step)
        return step >= 6

    r = run_ensemble(with_values(cfg, {"replicates": 1}), callback=stop_at_six, callback_every=3)
    assert seen == [3, 6] and r.steps == 6 and r.stopped_early
    assert len(r.tables[0]["time_h"]) == 7 and r.time_h == 6 * 24.0


def test_bad_key_is_one_line_config_error(cfg):
    with pytest.raises(ConfigError, match="tumour.no_such_rate"):
        base_config(TINY + ["tumour.no_such_rate=1"])
    with pytest.raises(ConfigError, match="callback_every|no_such"):
        with_values(cfg, {"tumour.no_such_rate": 1.0})
