"""Config group ``treatment.monitoring``: what the clinic measures, and when (docs/lineage.md).

With ``kind: exact`` (the default) adaptive and sequential schedules read the true live burden
at the end of the previous step, as before, and the state has no monitoring arrays. With
``kind: psa`` they read the last *reported* value of a biomarker proportional to the live burden,
measured every ``interval_h`` with log-normal noise, reported ``delay_h`` later, floored at a
detection limit; a biopsy (the DTP fraction in a sample of ``biopsy_cells`` live tumour cells,
binomial sampling error) can be recorded at the same visits.
"""

from __future__ import annotations

from dataclasses import dataclass

from lattice.params.spec import ConfigError, Params, param

MONITORING_KINDS = ("exact", "psa")


@dataclass
class MonitoringParams(Params):
    """Measured burden for adaptive and sequential schedules (``lattice.processes.monitoring``)."""

    kind: str = param(
        "exact", "", "exact (schedules read the true burden of the previous step), psa (schedules read the last "
        "reported biomarker: live burden × log-normal noise, every interval_h, reported after delay_h)",
        choices=MONITORING_KINDS,
    )
    interval_h: float = param(
        24.0, "h", "time between measurements, from t = 0 (a whole number of step_h)", min=0.0, min_exclusive=True,
        source="PSA in the Zhang 2017 adaptive trial: every 4 weeks or so (clinic visits)",
    )
    delay_h: float = param(
        0.0, "h", "time from sampling to the result reaching the schedule (a whole number of step_h, below "
        "interval_h)", min=0.0,
    )
    cv: float = param(
        0.0, "fraction", "coefficient of variation of the multiplicative log-normal noise (mean 1): "
        "σ² = ln(1 + cv²)", min=0.0,
        source="PSA assays: analytical CV ~5 %, with biological variation ~20 % (uncertain)",
    )
    detection_limit: float = param(
        0.0, "cells", "measured values below this are reported as 0 (undetectable)", min=0.0,
    )
    biopsy_cells: int = param(
        0, "cells", "also record a biopsy at each visit: the DTP fraction among this many live tumour cells "
        "sampled at random (binomial error; 0: no biopsy). Recorded, not read by schedules", min=0,
    )
    biopsy_radius_um: float = param(
        0.0, "µm", "biopsy region: the disc (ball in 3D) of this radius around a randomly chosen live tumour cell "
        "(0: the whole tumour)", min=0.0, source="a core needle biopsy is ~1 mm across (uncertain)",
    )


def check_monitoring(mp: MonitoringParams, step_h: float) -> None:
    """Relations between the monitoring keys and the step.

    Raises:
        ConfigError: an interval or delay that is not a whole number of steps, or a delay not
            shorter than the interval (one result pending at a time).
    """
    for key, hours in (("interval_h", mp.interval_h), ("delay_h", mp.delay_h)):
        ratio = hours / step_h
        if abs(ratio - round(ratio)) > 1e-9:
            raise ConfigError(f"treatment.monitoring.{key}={hours:g} must be a whole number of step_h={step_h:g}")
    if mp.delay_h >= mp.interval_h:
        raise ConfigError(f"treatment.monitoring.delay_h={mp.delay_h:g} must be shorter than "
                          f"treatment.monitoring.interval_h={mp.interval_h:g} (one result pending at a time)")
