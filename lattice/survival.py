"""Survival analysis of time to progression: Kaplan–Meier curves, log-rank tests, hazard ratios.

A thin, documented layer over lifelines (Davidson-Pilon, JOSS 2019) so that sweeps, reports and
notebooks all compute survival the same way. Times are in the caller's unit (the simulator's
tables use simulated hours); ``observed`` is True where the event (progression) happened and
False where the run was censored, i.e. ended without progressing — its duration is then the
follow-up time (run end minus therapy start).

    >>> from lattice.survival import kaplan_meier, logrank, hazard_ratio
    >>> km = kaplan_meier([6, 6, 6, 7, 10], [1, 1, 0, 1, 0])
    >>> round(km.survival_at(6.5), 4)
    0.6

Everything here is deterministic: no random numbers, and the inputs' order does not matter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: Confidence level of every interval here (Kaplan–Meier bands, hazard ratios).
CONFIDENCE = 0.95


class SurvivalInputError(ValueError):
    """Durations/event flags that cannot be analysed (negative, NaN, empty, unequal lengths)."""


def follow_up(time_to_event: Sequence[float], end_time: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Durations and event flags with censoring at the end of each run.

    Args:
        time_to_event: time from therapy start to the event (NaN when it did not happen).
        end_time: time from therapy start to the run's end (the censoring time), same unit.

    Returns:
        ``(durations, observed)``: the event time where there was one, else the end time; and
        True where the event was observed.
    """
    t = np.asarray(time_to_event, dtype=float)
    end = np.broadcast_to(np.asarray(end_time, dtype=float), t.shape)
    observed = np.isfinite(t)
    return np.where(observed, t, end), observed


def _clean(durations, observed) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(durations, dtype=float).ravel()
    e = np.asarray(observed, dtype=bool).ravel()
    if d.size == 0:
        raise SurvivalInputError("no durations to analyse (empty arm)")
    if d.shape != e.shape:
        raise SurvivalInputError(f"durations ({d.size}) and event flags ({e.size}) differ in length")
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise SurvivalInputError("durations must be finite and >= 0 (censor runs without an event at their end)")
    return d, e


@dataclass(frozen=True)
class KMCurve:
    """A Kaplan–Meier estimate S(t) = P(no event by t) as a right-continuous step function.

    Attributes:
        label: the arm's name (shown in legends).
        times: shape (K,), the distinct times of the estimate, starting at 0 (caller's unit).
        survival: shape (K,), S(t) from ``times[i]`` up to ``times[i+1]``.
        lower, upper: shape (K,), the pointwise 95 % confidence band (lifelines' exponential
            Greenwood interval).
        at_risk: shape (K,), the number still at risk just before ``times[i]``.
        n: the number of subjects; ``events``: the number of events observed.
        median: the median time to event (inf when S(t) never falls to 0.5).
    """

    label: str
    times: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    at_risk: np.ndarray
    n: int
    events: int
    median: float

    def survival_at(self, t: float) -> float:
        """S(t): the estimate at time ``t`` (1 before the first event)."""
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        return float(self.survival[max(i, 0)])


def kaplan_meier(durations, observed, label: str = "all") -> KMCurve:
    """Kaplan–Meier estimate of one arm.

    Args:
        durations: shape (N,), the time to the event or to censoring (>= 0).
        observed: shape (N,), True where the event happened, False where censored.
        label: the arm's name.

    Raises:
        SurvivalInputError: empty, unequal lengths, NaN or negative durations.
    """
    from lifelines import KaplanMeierFitter

    d, e = _clean(durations, observed)
    kmf = KaplanMeierFitter(alpha=1 - CONFIDENCE).fit(d, e, label=label)
    sf = kmf.survival_function_[label]
    ci = kmf.confidence_interval_survival_function_
    table = kmf.event_table
    return KMCurve(
        label=label,
        times=sf.index.to_numpy(dtype=float),
        survival=sf.to_numpy(dtype=float),
        lower=ci.iloc[:, 0].to_numpy(dtype=float),
        upper=ci.iloc[:, 1].to_numpy(dtype=float),
        at_risk=table["at_risk"].reindex(sf.index).to_numpy(dtype=float),
        n=int(d.size),
        events=int(e.sum()),
        median=float(kmf.median_survival_time_),
    )


@dataclass(frozen=True)
class LogRank:
    """A log-rank test between two arms: chi-squared statistic (1 degree of freedom) and p-value."""

    arm_a: str
    arm_b: str
    statistic: float
    p_value: float


def logrank(durations_a, observed_a, durations_b, observed_b, arm_a: str = "a", arm_b: str = "b") -> LogRank:
    """Log-rank (Mantel–Cox) test of equal hazards in two arms."""
    from lifelines.statistics import logrank_test

    da, ea = _clean(durations_a, observed_a)
    db, eb = _clean(durations_b, observed_b)
    r = logrank_test(da, db, event_observed_A=ea, event_observed_B=eb)
    return LogRank(arm_a, arm_b, float(r.test_statistic), float(r.p_value))


@dataclass(frozen=True)
class HazardRatio:
    """Hazard of ``arm`` relative to ``reference`` from a Cox proportional-hazards model.

    ``ratio`` > 1: progression happens sooner in ``arm``. ``lower``/``upper``: the 95 % interval;
    ``p_value``: the Wald test of ratio = 1. NaN throughout when the model cannot be fitted
    (no events, or every event in one arm: the ratio is then 0 or infinite).
    """

    arm: str
    reference: str
    ratio: float
    lower: float
    upper: float
    p_value: float


def hazard_ratio(durations, observed, in_arm, arm: str = "arm", reference: str = "reference") -> HazardRatio:
    """Cox model with one indicator covariate (ties by Efron's method, as R's ``coxph``).

    Args:
        durations, observed: as for :func:`kaplan_meier`, both arms together.
        in_arm: shape (N,), True for subjects of ``arm``, False for those of ``reference``.
    """
    import pandas as pd
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    d, e = _clean(durations, observed)
    x = np.asarray(in_arm, dtype=bool).ravel()
    if x.shape != d.shape:
        raise SurvivalInputError(f"arm flags ({x.size}) and durations ({d.size}) differ in length")
    nan = HazardRatio(arm, reference, math.nan, math.nan, math.nan, math.nan)
    # Separation (all events in one arm, or none) makes the maximum-likelihood ratio 0 or inf.
    if e.sum() == 0 or e[x].sum() == 0 or e[~x].sum() == 0 or x.all() or not x.any():
        return nan
    frame = pd.DataFrame({"duration": d, "event": e.astype(int), "in_arm": x.astype(float)})
    try:
        cph = CoxPHFitter(alpha=1 - CONFIDENCE).fit(frame, "duration", "event")
    except ConvergenceError:
        return nan
    s = cph.summary.loc["in_arm"]
    return HazardRatio(
        arm, reference, float(s["exp(coef)"]), float(s[f"exp(coef) lower {CONFIDENCE:.0%}"]),
        float(s[f"exp(coef) upper {CONFIDENCE:.0%}"]), float(s["p"]),
    )


def compare_arms(arms: Mapping[str, tuple[Sequence[float], Sequence[bool]]]) -> tuple[
        dict[str, KMCurve], list[LogRank], list[HazardRatio]]:
    """KM curve of every arm, log-rank test of every pair, hazard ratio of every arm vs the first.

    Args:
        arms: arm label → ``(durations, observed)``, in the order to report them; the first
            arm is the reference of the hazard ratios.
    """
    labels = list(arms)
    curves = {label: kaplan_meier(*arms[label], label=label) for label in labels}
    tests = [
        logrank(*arms[a], *arms[b], arm_a=a, arm_b=b)
        for i, a in enumerate(labels) for b in labels[i + 1:]
    ]
    ratios = []
    if labels:
        ref = labels[0]
        for label in labels[1:]:
            d = np.concatenate([np.asarray(arms[ref][0], float), np.asarray(arms[label][0], float)])
            e = np.concatenate([np.asarray(arms[ref][1], bool), np.asarray(arms[label][1], bool)])
            flags = np.r_[np.zeros(len(arms[ref][0]), bool), np.ones(len(arms[label][0]), bool)]
            ratios.append(hazard_ratio(d, e, flags, arm=label, reference=ref))
    return curves, tests, ratios


def plot_km(ax, curves: Sequence[KMCurve] | Mapping[str, KMCurve], time_unit: str = "h",
            time_scale: float = 1.0, xlabel: str = "time since therapy start", band: bool = True,
            censor_marks: bool = True, durations: Mapping[str, tuple] | None = None):
    """Draw KM step curves (one per arm) on a matplotlib ``ax``, with units and a legend.

    Args:
        ax: a matplotlib Axes.
        curves: the curves (their labels name the arms in the legend).
        time_unit: the unit shown on the x axis after scaling (e.g. "h" or "days").
        time_scale: factor applied to the curves' times (e.g. 1/24 to show hours as days).
        xlabel: the x-axis quantity; the unit is appended in brackets.
        band: shade the 95 % confidence band.
        censor_marks: mark censored subjects with "+" (needs ``durations``: label →
            ``(durations, observed)``).
        durations: the data behind each curve, for the censoring marks.

    Returns:
        ``ax``.
    """
    items = list(curves.values()) if isinstance(curves, Mapping) else list(curves)
    for c in items:
        t = c.times * time_scale
        line, = ax.step(t, c.survival, where="post", label=f"{c.label} (n={c.n}, events={c.events})")
        if band:
            ax.fill_between(t, c.lower, c.upper, step="post", alpha=0.2, color=line.get_color(), linewidth=0)
        if censor_marks and durations and c.label in durations:
            d, e = (np.asarray(x) for x in durations[c.label])
            tc = d[~e.astype(bool)]
            if tc.size:
                ax.plot(tc * time_scale, [c.survival_at(x) for x in tc], "+", color=line.get_color(), ms=9)
    ax.set_xlabel(f"{xlabel} [{time_unit}]")
    ax.set_ylabel("progression-free fraction")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax
