"""Clinical monitoring (docs/lineage.md): what adaptive and sequential schedules see.

With ``treatment.monitoring.kind: psa`` the schedules read a *measured* burden instead of the
true one. At every visit (the end of a step at t = k × ``interval_h``, t = 0 included) a sample
is taken: the live burden × a log-normal factor of mean 1 and coefficient of variation ``cv``
(σ² = ln(1 + cv²), z from Box–Muller), reported as 0 below ``detection_limit``. The result
reaches the schedules ``delay_h`` later (``State.pending`` until then); schedules decide on the
last reported value (``State.measured``) against the value reported when therapy started
(``State.measured_baseline``), and sequential schedules switch at the first reported value above
``progression_factor`` × that baseline (``State.measured_progression_h``). The true burden and
progression are still recorded (the model's truth; time to progression in the events).

Random numbers: stream MONITORING with the visit's step, voxel word 0 (u₀, u₁: noise) and, for
a biopsy of n cells, voxel words 0..n−1 of draw 1 (one Bernoulli per sampled cell) and draw 2
(where the needle goes). They are
drawn and combined in NumPy float64 on the host (a few numbers per replicate per visit), so the
measured series is identical on every backend.
"""

from __future__ import annotations

import math

import numpy as np

from lattice import codes
from lattice.params.monitoring import check_monitoring
from lattice.rng import Stream, uniforms
from lattice.state import MONITORING_ARRAYS, State

#: Tolerance for comparing times that are sums of step_h (h), as lattice.processes.therapy.
TIME_EPS = 1e-6


def enabled(model) -> bool:
    return model.params.treatment.monitoring.kind != "exact"


def check(params) -> None:
    """:func:`lattice.params.monitoring.check_monitoring` for a run's parameters (ConfigError)."""
    check_monitoring(params.treatment.monitoring, params.step_h)


def is_visit(t_h: float, interval_h: float) -> bool:
    k = round(t_h / interval_h)
    return abs(t_h - k * interval_h) <= TIME_EPS


def lognormal_factor(seed: int, replicates: int, step: int, cv: float) -> np.ndarray:
    """float64 ``(R,)`` multiplicative noise of mean 1 and coefficient of variation ``cv``."""
    if cv == 0:
        return np.ones(replicates)
    u0, u1, _, _ = uniforms(seed, replicates, (1,), step, Stream.MONITORING)
    z = np.sqrt(-2.0 * np.log1p(-u0[:, 0].astype(np.float64))) * np.cos(2.0 * math.pi * u1[:, 0].astype(np.float64))
    sigma2 = math.log1p(cv * cv)
    return np.exp(math.sqrt(sigma2) * z - 0.5 * sigma2)


def biopsy_fraction(cells: np.ndarray, seed: int, step: int, n: int, radius_um: float = 0.0,
                    spacing_um: float = 1.0) -> np.ndarray:
    """float64 ``(R,)`` DTP fraction among ``n`` live tumour cells sampled with replacement from
    the biopsied region (binomial: k ~ B(n, DTP fraction of the region)); NaN where no live
    tumour cell is left.

    The region is the whole tumour (``radius_um`` = 0) or the disc/ball of ``radius_um`` around
    a live tumour cell picked uniformly (draw 2, voxel word 0: u₀ indexes the live cells in C
    order), like a core needle placed in the tumour.
    """
    R = cells.shape[0]
    p = np.zeros(R, dtype=np.float32)
    found = np.zeros(R, dtype=bool)
    u_centre = uniforms(seed, R, (1,), step, Stream.MONITORING, draw=2)[0][:, 0]
    coords = np.indices(cells.shape[1:]).reshape(cells.ndim - 1, -1).T * spacing_um  # (voxels, ndim) µm
    for r in range(R):
        flat = cells[r].reshape(-1)
        live = codes.is_live_tumour(flat)
        if radius_um > 0 and live.any():
            where = np.flatnonzero(live)
            centre = coords[where[min(int(u_centre[r] * where.size), where.size - 1)]]
            live &= ((coords - centre) ** 2).sum(axis=1) <= radius_um * radius_um
        if live.any():
            found[r] = True
            p[r] = np.float32((flat[live] == codes.DTP).sum() / live.sum())
    u = uniforms(seed, R, (n,), step, Stream.MONITORING, draw=1)[0]
    k = (u < p[:, None]).sum(axis=1)
    return np.where(found, k / n, math.nan)


def initial(model, burden) -> dict[str, object]:
    """The monitoring arrays at t = 0 (a visit: measured now, reported after ``delay_h``)."""
    check(model.params)
    R = int(burden.shape[0])
    nan = np.full(R, math.nan)
    host = {"measured": nan.copy(), "measured_baseline": nan.copy(), "pending": nan.copy(),
            "pending_due_h": nan.copy(), "measured_progression_h": np.full(R, -1.0)}
    host = _visit(host, model, model.backend.asnumpy(burden), 0.0, 0)
    return {k: model.xp.asarray(host[k]) for k in MONITORING_ARRAYS}


def sample(model, burden: np.ndarray, step: int) -> np.ndarray:
    """One measurement of every replicate's burden (float64 ``(R,)``, cells)."""
    mp = model.params.treatment.monitoring
    value = burden.astype(np.float64) * lognormal_factor(model.params.seed, burden.shape[0], step, mp.cv)
    return np.where(value < mp.detection_limit, 0.0, value)


def _visit(host: dict, model, burden: np.ndarray, t_h: float, step: int) -> dict:
    """Take a sample at ``t_h`` (the RNG step word is ``step``); report it now or hold it."""
    value = sample(model, burden, step)
    delay = model.params.treatment.monitoring.delay_h
    if delay <= TIME_EPS:
        host["measured"] = value
    else:
        host["pending"], host["pending_due_h"] = value, np.full_like(value, t_h + delay)
    return host


def record(state: State, model, burden) -> State:
    """End of step (after the burden is counted): report a due result, take a sample at a visit,
    note the first reported progression."""
    if not state.has_monitoring:
        return state
    asnp = model.backend.asnumpy
    t_end = (state.step + 1) * model.params.step_h
    host = {k: np.array(asnp(getattr(state, k)), dtype=np.float64) for k in MONITORING_ARRAYS}
    due = ~np.isnan(host["pending"]) & (host["pending_due_h"] <= t_end + TIME_EPS)
    host["measured"] = np.where(due, host["pending"], host["measured"])
    host["pending"] = np.where(due, math.nan, host["pending"])
    host["pending_due_h"] = np.where(due, math.nan, host["pending_due_h"])
    reported = due.copy()
    mp = model.params.treatment.monitoring
    if is_visit(t_end, mp.interval_h):
        host = _visit(host, model, asnp(burden), t_end, state.step + 1)
        if mp.delay_h <= TIME_EPS:
            reported[:] = True
    factor = model.params.treatment.progression_factor
    above = reported & (host["measured"] > factor * host["measured_baseline"])
    first = above & (host["measured_progression_h"] < 0)
    host["measured_progression_h"] = np.where(first, t_end, host["measured_progression_h"])
    return state.replace(**{k: model.xp.asarray(v) for k, v in host.items()})


def start_baseline(state: State, model, starting):
    """``measured_baseline`` once therapy has started: the last reported value (NaN until one is)."""
    xp = model.xp
    unset = xp.isnan(state.measured_baseline)
    return xp.where(starting & unset, state.measured, state.measured_baseline)


def biopsy(state: State, model) -> np.ndarray | None:
    """The biopsy DTP fraction at this step's end when it is a visit (NaN between visits);
    None without biopsies."""
    mp = model.params.treatment.monitoring
    if not state.has_monitoring or mp.biopsy_cells == 0:
        return None
    t = state.step * model.params.step_h
    if not is_visit(t, mp.interval_h):
        return np.full(state.replicates, math.nan)
    return biopsy_fraction(model.backend.asnumpy(state.cells), model.params.seed, state.step, mp.biopsy_cells,
                           mp.biopsy_radius_um, model.grid.spacing_um)
