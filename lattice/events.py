"""Events read off the per-step table (DESIGN §5 ``summary.h5/events``)."""

from __future__ import annotations

import math

import numpy as np


def compute_events(timeseries: dict[str, np.ndarray], progression_factor: float = 1.2) -> dict[str, float]:
    """Nadir and progression of the live tumour burden.

    Args:
        timeseries: columns ``time_h``, ``tumour_total``, ``dtp`` (one row per cell step).
        progression_factor: progression is the first time after the nadir that the burden
            exceeds this multiple of the baseline (first row) — 1.2 as in Strobl et al. 2022.

    Returns:
        ``nadir_time_h``, ``nadir_burden``, ``dtp_fraction_at_nadir``, ``progression_time_h``
        (NaN when the burden never progressed).
    """
    nan = math.nan
    burden = np.asarray(timeseries.get("tumour_total", []), dtype=float)
    if burden.size == 0:
        return dict(nadir_time_h=nan, nadir_burden=nan, dtp_fraction_at_nadir=nan, progression_time_h=nan)
    time_h = np.asarray(timeseries["time_h"], dtype=float)
    i_nadir = int(np.argmin(burden))
    dtp = np.asarray(timeseries.get("dtp", np.zeros_like(burden)), dtype=float)
    frac = float(dtp[i_nadir] / burden[i_nadir]) if burden[i_nadir] > 0 else nan
    after = np.nonzero(burden[i_nadir:] > progression_factor * burden[0])[0]
    progression = float(time_h[i_nadir + after[0]]) if after.size else nan
    return dict(
        nadir_time_h=float(time_h[i_nadir]), nadir_burden=float(burden[i_nadir]),
        dtp_fraction_at_nadir=frac, progression_time_h=progression,
    )
