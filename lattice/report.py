"""The end-of-run summary printed by ``lattice-run``: the DTP story of the run.

One line of totals (never wrapped inside a number), then, for one replicate, the populations at
the moments that tell the story (therapy start, nadir, relapse, end) with one sentence saying
what happened; for several replicates, the final values and events per replicate and one
sentence each. Counts come from the run's ``summary.h5`` (:func:`lattice.io.read_summary`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

#: Rows of the story table: (label, summary column).
STATE_ROWS = (("tumour cells", "tumour_total"), ("  sensitive", "sensitive"), ("  primed", "primed"),
              ("  DTP (persister)", "dtp"), ("  DTEP (expanded)", "dtep"), ("  resistant", "resistant"))
CONTEXT_ROWS = (("dead (apoptotic)", "dead"), ("necrotic", "necrotic"), ("T cells", "t_cells"),
                ("mean O₂ (mmHg)", "o2_mean_mmHg"), ("hypoxic fraction", "hypoxic_fraction"))
#: Columns of the final-values table of an ensemble (several replicates).
SUMMARY_COLUMNS = tuple(c for _, c in STATE_ROWS + CONTEXT_ROWS)
EVENT_ROWS = ("therapy_start_h", "baseline_burden", "nadir_time_h", "nadir_burden", "dtp_fraction_at_nadir",
              "progression_time_h", "time_to_progression_h", "relapse_resistant_fraction")
#: More replicates than this get a one-line count instead of a sentence each.
MAX_SENTENCES = 8


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    v = float(v)
    return f"{int(v)}" if v.is_integer() else f"{v:.3g}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %" if x >= 0.01 or x == 0 else f"{100 * x:.2g} %"


def _finite(e: dict, key: str) -> float | None:
    v = e.get(key)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def story_sentence(events: dict, final: dict, treated: bool, factor: float = 1.2,
                   initial: float | None = None) -> str:
    """What happened, in one sentence, from the events and the last row of the table.

    Args:
        initial: the tumour burden of the first row (an untreated run has no baseline event).
    """
    end = final.get("tumour_total", math.nan)
    persisters = final.get("dtp", 0) + final.get("dtep", 0)
    if not treated:
        if initial is None:
            initial = _finite(events, "baseline_burden")
        if initial is None:
            return f"No therapy: the tumour ended with {_fmt(end)} cells."
        return f"No therapy: the tumour went from {_fmt(initial)} to {_fmt(end)} cells."
    start, base = _finite(events, "therapy_start_h"), _finite(events, "baseline_burden")
    nadir_t, nadir = _finite(events, "nadir_time_h"), _finite(events, "nadir_burden")
    parts = []
    if base and nadir is not None and nadir_t is not None:
        parts.append(f"therapy from {_fmt(start)} h cut the tumour from {_fmt(base)} to {_fmt(nadir)} cells "
                     f"({_pct(1 - nadir / base)} killed) by {_fmt(nadir_t)} h")
        frac = _finite(events, "dtp_fraction_at_nadir") or 0.0
        frac_e = _finite(events, "dtep_fraction_at_nadir") or 0.0
        parts.append(f"{_pct(frac + frac_e)} of the survivors were persisters (DTP/DTEP)")
    prog = _finite(events, "progression_time_h")
    if prog is not None:
        res = _finite(events, "relapse_resistant_fraction") or 0.0
        parts.append(f"the tumour relapsed past {factor:g} × its size at therapy start at {_fmt(prog)} h "
                     f"({_pct(res)} genetically resistant at relapse)")
    else:
        plural = "" if persisters == 1 else "s"
        parts.append(f"no relapse within the run ({_fmt(end)} cells at the end, {_fmt(persisters)} persister{plural})")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def therapy_end_h(ts: dict[str, np.ndarray]) -> float | None:
    """When every drug is off for good after having been on (None: never on, or on at the end)."""
    on = [np.asarray(ts[c]) != 0 for c in ts if c.startswith("on_")]
    if not on:
        return None
    any_on = np.any(on, axis=0)
    if not any_on.any() or any_on[-1]:
        return None
    return float(ts["time_h"][int(np.flatnonzero(any_on)[-1])])  # the row of the last step with a drug on


def _row_at(ts: dict[str, np.ndarray], t: float) -> int:
    times = ts["time_h"]
    return int(np.argmin(np.abs(times - t)))


def story_table(ts: dict[str, np.ndarray], events: dict, title: str) -> Table:
    """Populations at therapy start, nadir, relapse and end (one replicate)."""
    moments: list[tuple[str, float]] = [("start", float(ts["time_h"][0]))]
    for label, key in (("therapy start", "therapy_start_h"), ("nadir", "nadir_time_h"),
                       ("relapse", "progression_time_h")):
        t = _finite(events, key)
        if t is not None and all(abs(t - m) > 0 for _, m in moments):
            moments.append((label, t))
    end = float(ts["time_h"][-1])
    if all(abs(end - m) > 0 for _, m in moments):
        moments.append(("end", end))
    off = therapy_end_h(ts)
    if off is not None and all(abs(off - m) > 0 for _, m in moments):
        moments.append(("therapy ends", off))
    moments.sort(key=lambda m: m[1])
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for label, t in moments:
        table.add_column(f"{label}\n{_fmt(t)} h", justify="right")
    rows = [_row_at(ts, t) for _, t in moments]
    for label, col in STATE_ROWS:
        if col in ts:
            table.add_row(label, *(_fmt(ts[col][i]) for i in rows))
    if "dtp" in ts and "tumour_total" in ts:
        share = []
        for i in rows:
            total = float(ts["tumour_total"][i])
            share.append(_pct((float(ts["dtp"][i]) + float(ts.get("dtep", ts["dtp"] * 0)[i])) / total) if total else "—")
        table.add_row("persister share", *share, end_section=True)
    for label, col in CONTEXT_ROWS:
        if col in ts and np.any(np.asarray(ts[col], dtype=float) != 0):
            table.add_row(label, *(_fmt(ts[col][i]) for i in rows))
    return table


def _read(run_dir: Path, replicate: int) -> tuple[dict, dict] | None:
    try:
        from lattice.io import read_summary
        from lattice.io.rundir import SUMMARY_NAME

        ts, events, _ = read_summary(Path(run_dir) / SUMMARY_NAME, replicate=replicate)
    except (OSError, KeyError, ValueError):
        return None
    return ts, {k: float(np.asarray(v).ravel()[0]) if np.asarray(v).size else math.nan for k, v in events.items()}


def headline(result) -> str:
    text = (f"DTP Lattice: {result.time_h:g} h simulated ({result.steps} steps) in "
            f"{result.wall_s:.1f} s of compute")
    resumed = getattr(result, "resumed_from_step", 0)
    if resumed:
        text += f" (resumed at step {resumed}: {getattr(result, 'session_wall_s', 0.0):.1f} s this session)"
    return text


def print_summary(result, params) -> None:
    """The totals line, the DTP story (table and sentence) and where the outputs are."""
    console = Console(stderr=False)
    console.print(headline(result), soft_wrap=True, highlight=False)
    treated = bool(params.treatment.drugs)
    factor = params.treatment.progression_factor
    n = len(result.final)
    run_dir = result.run_dirs[0] if result.run_dirs else None
    if n == 1:
        data = _read(run_dir, 0) if run_dir is not None else None
        if data is not None:
            ts, events = data
            console.print(story_table(ts, events, "The DTP story" if treated else "Populations"))
            initial = float(ts["tumour_total"][0]) if len(ts.get("tumour_total", ())) else None
            console.print(story_sentence(events, result.final[0], treated, factor, initial),
                          soft_wrap=True, highlight=False)
        else:
            console.print(_final_table(result))
    else:
        console.print(_final_table(result))
        if n <= MAX_SENTENCES:
            for r in range(n):
                console.print(f"replicate {r}: " + story_sentence(result.events[r], result.final[r], treated, factor),
                              soft_wrap=True, highlight=False)
        elif treated:
            relapsed = sum(_finite(e, "progression_time_h") is not None for e in result.events)
            console.print(f"{relapsed} of {n} replicates relapsed within the run.", highlight=False)
    for d in result.run_dirs:
        console.print(f"output: {d}/run.zarr and {d}/summary.h5 (lattice-view {d}; lattice-report {d})",
                      soft_wrap=True, highlight=False)


def _final_table(result) -> Table:
    """Final values and events, one column per replicate."""
    table = Table(title="At the end", title_justify="left")
    table.add_column("quantity")
    n = len(result.final)
    for r in range(n):
        table.add_column(f"replicate {r}" if n > 1 else "value", justify="right")
    for col in SUMMARY_COLUMNS:
        table.add_row(col, *(_fmt(f.get(col, math.nan)) for f in result.final))
    drug_cols = sorted(k for k in (result.final[0] if result.final else {})
                       if k.startswith(("plasma_", "on_", "cumulative_dose_")))
    for col in drug_cols:
        table.add_row(col, *(_fmt(f.get(col, math.nan)) for f in result.final))
    for key in EVENT_ROWS:
        if any(key in e for e in result.events):
            table.add_row(key, *(_fmt(e.get(key, math.nan)) for e in result.events))
    return table
