"""lattice.survival against a textbook dataset with hand-computed Kaplan–Meier values.

The data: remission times (weeks) of the 6-MP trial of Freireich et al. (Blood 1963), the
worked example of Kleinbaum & Klein, *Survival Analysis* (3rd ed., ch. 2) and of Cox (1972).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lattice.survival import (
    SurvivalInputError,
    compare_arms,
    follow_up,
    hazard_ratio,
    kaplan_meier,
    logrank,
    plot_km,
)

# 6-MP arm: "+" = censored (still in remission at the end of follow-up).
SIX_MP = [(6, 1), (6, 1), (6, 1), (6, 0), (7, 1), (9, 0), (10, 1), (10, 0), (11, 0), (13, 1), (16, 1),
          (17, 0), (19, 0), (20, 0), (22, 1), (23, 1), (25, 0), (32, 0), (32, 0), (34, 0), (35, 0)]
PLACEBO = [(t, 1) for t in (1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23)]


def arm(rows):
    d, e = zip(*rows)
    return np.array(d, float), np.array(e, bool)


def test_kaplan_meier_matches_hand_computation():
    # Product-limit by hand: at each event time multiply by (at risk - events) / at risk.
    expected = {6: 18 / 21, 7: 18 / 21 * 16 / 17}
    expected[10] = expected[7] * 14 / 15
    expected[13] = expected[10] * 11 / 12
    expected[16] = expected[13] * 10 / 11
    expected[22] = expected[16] * 6 / 7
    expected[23] = expected[22] * 5 / 6
    km = kaplan_meier(*arm(SIX_MP), label="6-MP")
    assert km.survival_at(0) == 1.0 and km.survival_at(5.9) == 1.0
    for t, s in expected.items():
        assert km.survival_at(t) == pytest.approx(s, abs=1e-12)
        assert km.survival_at(t + 0.5) == pytest.approx(s, abs=1e-12)  # a step function
    # Kleinbaum & Klein table values (3 decimals).
    assert [round(km.survival_at(t), 3) for t in (6, 7, 10, 13, 16, 22, 23)] == \
        [0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448]
    assert km.median == 23.0 and km.n == 21 and km.events == 9
    assert np.all(km.lower <= km.survival + 1e-12) and np.all(km.survival <= km.upper + 1e-12)
    # Order of the input does not matter.
    d, e = arm(SIX_MP)
    p = np.random.default_rng(0).permutation(d.size)
    assert np.array_equal(kaplan_meier(d[p], e[p], label="6-MP").survival, km.survival)


def test_all_events_equals_empirical_survival():
    d, e = arm(PLACEBO)
    km = kaplan_meier(d, e)
    for t in (0.5, 1, 4, 8, 12, 23):
        assert km.survival_at(t) == pytest.approx(np.mean(d > t))
    assert km.median == 8.0


def test_logrank_and_hazard_ratio_match_published_values():
    # R: survdiff(Surv(time, cens) ~ treat, gehan) -> Chisq = 16.8 on 1 df, p = 4.2e-05;
    # coxph(...) (Efron ties) -> exp(coef) = 4.82 (95 % CI 2.15-10.8) for placebo vs 6-MP.
    r = logrank(*arm(PLACEBO), *arm(SIX_MP), arm_a="placebo", arm_b="6-MP")
    assert r.statistic == pytest.approx(16.79, abs=0.01)
    assert r.p_value == pytest.approx(4.17e-5, rel=0.02)
    d = np.r_[arm(PLACEBO)[0], arm(SIX_MP)[0]]
    e = np.r_[arm(PLACEBO)[1], arm(SIX_MP)[1]]
    flags = np.r_[np.ones(21, bool), np.zeros(21, bool)]
    hr = hazard_ratio(d, e, flags, arm="placebo", reference="6-MP")
    assert hr.ratio == pytest.approx(4.817, abs=0.01)
    assert hr.lower == pytest.approx(2.15, abs=0.01) and hr.upper == pytest.approx(10.8, abs=0.05)
    assert hr.p_value < 1e-3
    # Swapping the arms inverts the ratio.
    inv = hazard_ratio(d, e, ~flags, arm="6-MP", reference="placebo")
    assert inv.ratio == pytest.approx(1 / hr.ratio, rel=1e-6)


def test_compare_arms_and_identical_arms():
    curves, tests, ratios = compare_arms({"6-MP": arm(SIX_MP), "placebo": arm(PLACEBO)})
    assert list(curves) == ["6-MP", "placebo"]
    assert len(tests) == 1 and tests[0].statistic == pytest.approx(16.79, abs=0.01)
    assert ratios[0].arm == "placebo" and ratios[0].ratio == pytest.approx(4.817, abs=0.01)
    same = logrank(*arm(SIX_MP), *arm(SIX_MP))
    assert same.statistic == pytest.approx(0, abs=1e-12) and same.p_value == pytest.approx(1.0)


def test_follow_up_censors_at_run_end():
    d, e = follow_up([10.0, math.nan, 30.0], [48.0, 48.0, 24.0])
    assert d.tolist() == [10.0, 48.0, 30.0] and e.tolist() == [True, False, True]


def test_no_events_and_separation_give_nan_hazard_ratio():
    km = kaplan_meier([5, 6, 7], [0, 0, 0])
    assert np.all(km.survival == 1.0) and math.isinf(km.median)
    hr = hazard_ratio([1, 2, 3, 4], [1, 1, 0, 0], [True, True, False, False])
    assert math.isnan(hr.ratio)


@pytest.mark.parametrize("durations, observed", [([], []), ([1, 2], [1]), ([1, math.nan], [1, 1]),
                                                 ([-1, 2], [1, 1])])
def test_bad_input_is_one_clear_error(durations, observed):
    with pytest.raises(SurvivalInputError):
        kaplan_meier(durations, observed)


def test_plot_km_labels_units_and_arms(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = {"6-MP": arm(SIX_MP), "placebo": arm(PLACEBO)}
    curves, _, _ = compare_arms(arms)
    fig, ax = plt.subplots()
    plot_km(ax, curves, time_unit="weeks", durations=arms)
    assert ax.get_xlabel() == "time since therapy start [weeks]"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["6-MP (n=21, events=9)", "placebo (n=21, events=21)"]
    fig.savefig(tmp_path / "km.png")
    plt.close(fig)
    assert (tmp_path / "km.png").stat().st_size > 1000
