"""Events read off the per-step table (docs/outputs.md ``summary.h5/events``).

All times are simulated hours of the table's rows (a row is written after each step, the first
at t = 0). "Therapy start" is the row whose burden became the baseline: the row before the
first non-NaN ``baseline_burden``. A table without a ``baseline_burden`` column is an untreated
run: it has a nadir (the minimum burden) but no therapy start and no progression event.
:func:`describe` gives every event's (and column's) units and description.
"""

from __future__ import annotations

import math

import numpy as np

from lattice.observe import column_doc

#: Relapse composition: the fraction of the burden in each state at progression.
STATE_COLUMNS = ("sensitive", "primed", "dtp", "dtep", "resistant")


#: event name -> (units, description); per-state and per-drug events in :func:`describe`.
EVENT_DOCS: dict[str, tuple[str, str]] = {
    "nadir_time_h": ("h", ("first time the live burden reached its minimum from therapy start on (from t = 0 "
                          "without therapy)")),
    "nadir_burden": ("cells", "minimum live tumour burden from therapy start on"),
    "dtp_fraction_at_nadir": ("1", "fraction of the burden that is DTP at the nadir"),
    "dtep_fraction_at_nadir": ("1", "fraction of the burden that is DTEP at the nadir"),
    "resistant_fraction_at_nadir": ("1", "fraction of the burden that is resistant at the nadir"),
    "therapy_start_h": ("h", "time of the row whose burden became the baseline (NaN without therapy)"),
    "baseline_burden": ("cells", "live tumour burden at therapy start (NaN without therapy)"),
    "progression_time_h": ("h", ("first time after therapy start the burden exceeds the progression threshold "
                                "(NaN: no progression, or no therapy)")),
    "time_to_progression_h": ("h", "progression_time_h − therapy_start_h"),
}


def describe(name: str) -> tuple[str, str]:
    """``(units, description)`` of a ``summary.h5`` event or column ("" when unknown)."""
    if name in EVENT_DOCS:
        return EVENT_DOCS[name]
    if name.startswith("relapse_") and name.endswith("_fraction"):
        return "1", f"fraction of the burden in state {name[8:-9]} at progression"
    if name.startswith("cumulative_dose_") and name.endswith("_at_progression"):
        return "doses", f"doses of {name[16:-15]} given by progression"
    return column_doc(name) or ("", "")


def compute_events(timeseries: dict[str, np.ndarray], progression_factor: float = 1.2) -> dict[str, float]:
    """Nadir, progression and relapse composition of the live tumour burden.

    Args:
        timeseries: columns ``time_h``, ``tumour_total``, the state counts, and with a
            treatment ``baseline_burden``, ``progression_threshold`` and
            ``cumulative_dose_<drug>`` (one row per cell step).
        progression_factor: used when the table has ``baseline_burden`` but no
            ``progression_threshold`` column: progression is then the first time the burden
            exceeds this multiple of the baseline (1.2 as in Strobl et al. 2022).

    Returns:
        ``nadir_time_h``, ``nadir_burden``, ``dtp_fraction_at_nadir`` (minimum of the burden
        from therapy start on; first time it is reached), ``dtep_fraction_at_nadir``,
        ``resistant_fraction_at_nadir``; ``therapy_start_h``, ``baseline_burden``;
        ``progression_time_h`` (first time after therapy start the burden exceeds the
        threshold), ``time_to_progression_h`` (from therapy start);
        ``relapse_<state>_fraction`` at progression; ``cumulative_dose_<drug>_at_progression``
        and ``cumulative_dose_<drug>`` (end of the table). NaN when an event did not happen.
    """
    nan = math.nan
    burden = np.asarray(timeseries.get("tumour_total", []), dtype=float)
    base = {"nadir_time_h": nan, "nadir_burden": nan, "dtp_fraction_at_nadir": nan, "progression_time_h": nan}
    if burden.size == 0:
        return base
    time_h = np.asarray(timeseries["time_h"], dtype=float)
    start = 0
    baseline = nan
    threshold = nan  # untreated: nothing to progress from (comparisons with NaN are false)
    if "baseline_burden" in timeseries:
        b = np.asarray(timeseries["baseline_burden"], dtype=float)
        set_rows = np.nonzero(np.isfinite(b))[0]
        if set_rows.size:
            start = max(int(set_rows[0]) - 1, 0)
            baseline = float(b[set_rows[0]])
            thr = np.asarray(timeseries.get("progression_threshold", b * progression_factor), dtype=float)
            threshold = float(thr[set_rows[0]])
        else:
            start, baseline, threshold = burden.size, nan, nan

    def fraction(col: str, i: int) -> float:
        if col not in timeseries or not burden[i] > 0:
            return nan
        return float(np.asarray(timeseries[col], dtype=float)[i] / burden[i])

    out = dict(base, therapy_start_h=nan, baseline_burden=baseline, time_to_progression_h=nan)
    out |= {f"{s}_fraction_at_nadir": nan for s in ("dtep", "resistant")}
    out |= {f"relapse_{s}_fraction": nan for s in STATE_COLUMNS}
    doses = [k for k in timeseries if k.startswith("cumulative_dose_")]
    out |= {f"{k}_at_progression": nan for k in doses}
    out |= {k: float(np.asarray(timeseries[k], dtype=float)[-1]) for k in doses}
    if start >= burden.size:
        return out
    if "baseline_burden" in timeseries:
        out["therapy_start_h"] = float(time_h[start])
    i_nadir = start + int(np.argmin(burden[start:]))
    out.update(
        nadir_time_h=float(time_h[i_nadir]), nadir_burden=float(burden[i_nadir]),
        dtp_fraction_at_nadir=fraction("dtp", i_nadir), dtep_fraction_at_nadir=fraction("dtep", i_nadir),
        resistant_fraction_at_nadir=fraction("resistant", i_nadir),
    )
    above = np.nonzero(burden[start:] > threshold)[0]
    if above.size:
        i = start + int(above[0])
        out["progression_time_h"] = float(time_h[i])
        out["time_to_progression_h"] = float(time_h[i] - time_h[start])
        out |= {f"relapse_{s}_fraction": fraction(s, i) for s in STATE_COLUMNS}
        out |= {f"{k}_at_progression": float(np.asarray(timeseries[k], dtype=float)[i]) for k in doses}
    return out
