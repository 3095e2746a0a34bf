"""``lattice-sweep SWEEP_DIR``: one tidy table, survival curves and population curves of a sweep.

    lattice-run -m experiment=competitive_release treatment=adaptive,continuous seed='range(8)'
    lattice-sweep runs/multirun/2026-11-30/10-00-00

Gathers every run (Hydra job) and every replicate under ``SWEEP_DIR`` into one table — one row
per run and replicate, the job's overrides as columns, then its events (time to progression,
nadir, compositions at the nadir and at the end, drug use) — and writes, into
``SWEEP_DIR/analysis/`` (``--out`` to change):

- ``runs.parquet`` and ``runs.csv``: the table;
- ``arms.csv``: per arm, the runs, events, median time to progression and the hazard ratio
  against the first arm; ``logrank.csv``: the log-rank test of every pair of arms;
- ``population.csv``: per arm and time, the median and interquartile range of the cell counts;
- ``km_time_to_progression.png`` and ``population.png``: the same as figures.

An *arm* is a set of runs that differ only in their seed: its label is the overrides that vary
across the sweep (seed excluded), e.g. ``treatment=adaptive``. Time to progression is counted
from therapy start; a run that ends without progressing is censored at its end (its duration is
the follow-up). Untreated runs (no therapy start) have no time to progression and are left out
of the survival analysis. See docs/sweeps.md.

Only :func:`read_run` knows how a run directory stores its replicates; everything else works
on the records it returns.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PROG = "lattice-sweep"
#: Where the results go inside the sweep directory (``--out`` overrides).
ANALYSIS_DIR = "analysis"
#: The override that distinguishes runs of the same arm.
SEED_KEY = "seed"
#: Cell states of the composition columns and population curves, in the simulator's order.
STATE_COLUMNS = ("sensitive", "primed", "dtp", "dtep", "resistant")
BURDEN = "tumour_total"
#: Above this many hours the figures show days.
DAYS_ABOVE_H = 240.0
#: Overrides that never name an arm in titles (they change how a run is written, not what it models).
QUIET_PREFIXES = ("output.", "backend", "exact")


class SweepError(Exception):
    """A sweep that cannot be analysed; the message names the path and what to do."""


# -- reading ------------------------------------------------------------------------------------

@dataclass
class ReplicateRecord:
    """One replicate of one run: its per-step table and its events.

    Attributes:
        replicate: the replicate's index within its run (0 for a single run).
        seed: the run's seed.
        timeseries: column → 1-D array, one row per cell step (``time_h`` in hours, counts in cells).
        events: event name → float (NaN when it did not happen), as in ``summary.h5``.
    """

    replicate: int
    seed: int
    timeseries: dict[str, np.ndarray]
    events: dict[str, float]


def read_run(run_dir: Path) -> list[ReplicateRecord]:
    """Every replicate of the run in ``run_dir`` — the one place that knows the output layout.

    Today's layout: one ``summary.h5`` per run holding every replicate (read replicate by
    replicate through :func:`lattice.io.read_summary`); the earlier layout kept one
    ``replicate_NNN/summary.h5`` per replicate.

    Raises:
        FileNotFoundError: no summary in ``run_dir`` (a job that failed or has not run).
        OSError, KeyError: an unreadable summary.
    """
    from lattice.io import read_summary
    from lattice.io.remote import localize
    from lattice.io.rundir import SUMMARY_NAME

    run_dir = localize(run_dir)  # a URL (s3://…) is read from a local copy
    summary = run_dir / SUMMARY_NAME
    if summary.is_file():
        _, _, attrs = read_summary(summary)
        seed = int(attrs.get("seed", 0))
        records = []
        for r in range(int(attrs.get("replicates", 1))):
            ts, events, _ = read_summary(summary, replicate=r)
            records.append(ReplicateRecord(r, seed, ts, {k: float(v) for k, v in events.items()}))
        return records
    split = sorted(run_dir.glob(f"replicate_[0-9]*/{SUMMARY_NAME}"))
    if not split:
        raise FileNotFoundError(f"{run_dir} holds no {SUMMARY_NAME}")
    records = []
    for path in split:
        ts, events, attrs = read_summary(path)
        r = int(path.parent.name.split("_")[1])
        records.append(ReplicateRecord(r, int(attrs.get("seed", 0)), ts, {k: float(v) for k, v in events.items()}))
    return records


def _natural_key(path: Path) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.as_posix())]


def find_jobs(sweep_dir: Path) -> list[Path]:
    """The job directories under ``sweep_dir``, in job order (0, 1, …, 10): directories with
    Hydra's ``.hydra/overrides.yaml`` or a run's ``summary.h5``. ``sweep_dir`` itself counts
    when it is a single run. Run stores (``*.zarr``) and replicate folders are not searched."""
    from lattice.io.rundir import SUMMARY_NAME

    jobs = []
    for root, dirs, files in os.walk(sweep_dir):
        here = Path(root)
        if (here / ".hydra" / "overrides.yaml").is_file() or SUMMARY_NAME in files:
            jobs.append(here)
            dirs.clear()  # a job's sub-folders (replicates, stores) belong to it
            continue
        dirs[:] = [d for d in dirs if not d.endswith(".zarr") and d not in (".hydra", ANALYSIS_DIR)]
    return sorted(jobs, key=_natural_key)


def read_overrides(job_dir: Path) -> dict[str, object]:
    """The job's command-line overrides (``.hydra/overrides.yaml``) as key → value; values are
    parsed as YAML scalars (``3`` → 3, ``false`` → False), lists and mappings kept as text.
    Empty when the job has no ``.hydra`` folder."""
    import yaml

    path = Path(job_dir) / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    out: dict[str, object] = {}
    for item in yaml.safe_load(path.read_text()) or []:
        key, _, text = str(item).partition("=")
        key = key.lstrip("+~")
        try:
            value = yaml.safe_load(text) if text else None
        except yaml.YAMLError:
            value = text
        out[key] = value if isinstance(value, (int, float, bool, str)) or value is None else text
    return out


def overrides_label(job_dir: Path, skip: Sequence[str] = ()) -> str:
    """A run's name from its overrides, e.g. ``treatment=adaptive seed=3`` (for reports and
    viewers that would otherwise show the job number); the directory name when it has none."""
    overrides = {k: v for k, v in read_overrides(job_dir).items() if k not in skip}
    if not overrides:
        return Path(job_dir).name
    return " ".join(f"{k}={_text(v)}" for k, v in overrides.items())


def _text(value) -> str:
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


# -- one row per run and replicate ---------------------------------------------------------------

def _fraction(ts: dict[str, np.ndarray], state: str, i: int) -> float:
    if state not in ts or BURDEN not in ts:
        return math.nan
    total = float(ts[BURDEN][i])
    return float(ts[state][i]) / total if total > 0 else math.nan


def row_of(rec: ReplicateRecord) -> dict[str, float]:
    """The event columns of one replicate: the summary's events, then the follow-up and the
    survival columns ``ttp_h`` (time to progression, or to the run's end when censored) and
    ``progressed``, the compositions at the nadir and at the end, and drug use.

    Units: times in simulated hours; counts in cells; fractions of the live tumour burden;
    ``<drug>_on_fraction``: share of the steps since therapy start with the drug on;
    ``cumulative_dose_<drug>``: as the simulator counts doses (docs/outputs.md)."""
    ts, ev = rec.timeseries, dict(rec.events)
    time_h = np.asarray(ts.get("time_h", []), dtype=float)
    row: dict[str, float] = dict(ev)
    end_h = float(time_h[-1]) if time_h.size else math.nan
    start_h = ev.get("therapy_start_h", math.nan)
    ttp = ev.get("time_to_progression_h", math.nan)
    progressed = math.isfinite(ttp)
    row["end_time_h"] = end_h
    row["follow_up_h"] = end_h - start_h if math.isfinite(start_h) else math.nan
    row["ttp_h"] = ttp if progressed else row["follow_up_h"]
    row["progressed"] = progressed
    if time_h.size:
        nadir_h = ev.get("nadir_time_h", math.nan)
        i_nadir = int(np.searchsorted(time_h, nadir_h)) if math.isfinite(nadir_h) else None
        for s in STATE_COLUMNS:
            if i_nadir is not None and i_nadir < time_h.size:
                row.setdefault(f"{s}_fraction_at_nadir", _fraction(ts, s, i_nadir))
            else:
                row.setdefault(f"{s}_fraction_at_nadir", math.nan)
        row[f"end_{BURDEN}"] = float(ts[BURDEN][-1]) if BURDEN in ts else math.nan
        for s in STATE_COLUMNS:
            row[f"end_{s}_fraction"] = _fraction(ts, s, -1)
        first = int(np.searchsorted(time_h, start_h)) if math.isfinite(start_h) else time_h.size
        for name in sorted(k for k in ts if k.startswith("on_")):
            on = np.asarray(ts[name][first:], dtype=float)
            row[f"{name[3:]}_on_fraction"] = float(np.mean(on > 0)) if on.size else math.nan
    return row


@dataclass
class Sweep:
    """A gathered sweep.

    Attributes:
        table: pandas DataFrame, one row per run and replicate: ``job``, ``replicate``,
            ``arm``, the overrides, then the columns of :func:`row_of`.
        override_keys: the overrides, in command-line order; ``arm_keys``: those that vary
            across the sweep (seed excluded) and so name the arms; ``constant``: the others
            (seed excluded) with their one value.
        arms: the arm labels in order of first appearance.
        timeseries: per row of ``table``, its per-step table (for population curves).
        missing: job directories without a readable summary (failed or not run), with why.
    """

    sweep_dir: Path
    table: object
    override_keys: list[str]
    arm_keys: list[str]
    constant: dict[str, object]
    arms: list[str]
    timeseries: list[dict[str, np.ndarray]] = field(repr=False, default_factory=list)
    missing: list[tuple[Path, str]] = field(default_factory=list)


def gather(sweep_dir: Path) -> Sweep:
    """Read every job and replicate under ``sweep_dir`` into a :class:`Sweep`.

    Raises:
        SweepError: ``sweep_dir`` is not a folder or holds no readable run.
    """
    import pandas as pd

    from lattice.io.remote import localize
    from lattice.jobs import read_job

    sweep_dir = localize(sweep_dir)  # a URL (s3://…) is analysed in a local copy
    if not sweep_dir.is_dir():
        raise SweepError(f"{sweep_dir} is not a folder: pass the sweep directory (hydra.sweep.dir) of a "
                         f"'lattice-run -m' command")
    rows: list[dict] = []
    series: list[dict[str, np.ndarray]] = []
    missing: list[tuple[Path, str]] = []
    overrides_of: dict[Path, dict] = {}
    for job in find_jobs(sweep_dir):
        record = read_job(job)  # failed, killed or still running: not in the table, its error listed
        if record is not None and not record.finished:
            missing.append((job, f"job {record.status}" + (f": {record.message}" if record.message else "")))
            continue
        try:
            records = read_run(job)
        except FileNotFoundError:
            missing.append((job, "no summary.h5 (the job failed or has not run)"))
            continue
        except (OSError, KeyError, ValueError) as exc:
            missing.append((job, f"unreadable summary ({exc})"))
            continue
        overrides_of[job] = read_overrides(job)
        for rec in records:
            rows.append({"job": job.relative_to(sweep_dir).as_posix() or ".", "replicate": rec.replicate,
                         **overrides_of[job], "_seed": rec.seed, **row_of(rec)})
            series.append(rec.timeseries)
    if not rows:
        hint = f" ({len(missing)} job folders without a summary)" if missing else ""
        raise SweepError(f"{sweep_dir} holds no readable run{hint}: pass the folder that 'lattice-run -m' "
                         f"printed as its sweep directory")
    keys: list[str] = []
    for ov in overrides_of.values():
        keys += [k for k in ov if k not in keys]
    table = pd.DataFrame(rows)
    if SEED_KEY not in table.columns:
        table[SEED_KEY] = table["_seed"]
    table = table.drop(columns="_seed")
    for k in keys:  # one type per column (Parquet needs it): mixed or missing values become text
        values = table[k].tolist()
        kinds = {type(v) for v in values}
        if len(kinds) > 1 and not kinds <= {int, float}:
            table[k] = [_text(v) if not (isinstance(v, float) and math.isnan(v)) else "" for v in values]
    varying = [k for k in keys if k != SEED_KEY and table[k].astype(str).nunique() > 1]
    constant = {k: table[k].iloc[0] for k in keys if k != SEED_KEY and k not in varying}
    table.insert(2, "arm", [
        ", ".join(f"{k}={_text(r[k])}" for k in varying) if varying else "all" for _, r in table.iterrows()
    ])
    front = ["job", "replicate", "arm", *keys, *([SEED_KEY] if SEED_KEY not in keys else [])]
    table = table[front + [c for c in table.columns if c not in front]]
    arms = list(dict.fromkeys(table["arm"]))
    return Sweep(sweep_dir, table, keys, varying, constant, arms, series, missing)


# -- survival and population curves --------------------------------------------------------------

def survival_inputs(sweep: Sweep) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Arm → ``(durations_h, progressed)`` of the rows with a therapy start (others left out)."""
    out = {}
    t = sweep.table
    for arm in sweep.arms:
        rows = t[(t["arm"] == arm) & np.isfinite(t["ttp_h"].astype(float))]
        if len(rows):
            out[arm] = (rows["ttp_h"].to_numpy(float), rows["progressed"].to_numpy(bool))
    return out


def population_curves(sweep: Sweep, columns: Sequence[str]) -> object:
    """Per arm, column and time: the median and quartiles over the arm's runs and replicates.

    Each row's values are interpolated onto the union of the arm's times within that row's own
    span (NaN outside it), so runs of different lengths combine. Returns a DataFrame with
    ``arm``, ``column``, ``time_h``, ``n`` (rows contributing), ``median``, ``q25``, ``q75``.
    """
    import pandas as pd

    parts = []
    arm_of = sweep.table["arm"].tolist()
    for arm in sweep.arms:
        members = [ts for ts, a in zip(sweep.timeseries, arm_of) if a == arm and "time_h" in ts]
        if not members:
            continue
        grid = np.unique(np.concatenate([np.asarray(ts["time_h"], float) for ts in members]))
        for col in columns:
            stack = np.full((len(members), grid.size), np.nan)
            for i, ts in enumerate(members):
                if col in ts:
                    t = np.asarray(ts["time_h"], float)
                    inside = (grid >= t[0]) & (grid <= t[-1])
                    stack[i, inside] = np.interp(grid[inside], t, np.asarray(ts[col], float))
            n = np.sum(np.isfinite(stack), axis=0)
            ok = n > 0
            q25, med, q75 = (np.full(grid.size, np.nan) for _ in range(3))
            if ok.any():
                q25[ok], med[ok], q75[ok] = np.nanpercentile(stack[:, ok], [25, 50, 75], axis=0)
            parts.append(pd.DataFrame({"arm": arm, "column": col, "time_h": grid, "n": n,
                                       "median": med, "q25": q25, "q75": q75}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["arm", "column", "time_h", "n", "median", "q25", "q75"])


def _time_axis(max_h: float, unit: str) -> tuple[str, float]:
    if unit == "auto":
        unit = "d" if max_h > DAYS_ABOVE_H else "h"
    return ("days", 1 / 24) if unit == "d" else ("h", 1.0)


def _subtitle(sweep: Sweep, width: int = 90) -> str:
    """The overrides shared by every run (how a run is written left out), wrapped to ``width``."""
    import textwrap

    shown = {k: v for k, v in sweep.constant.items() if not k.startswith(QUIET_PREFIXES)}
    return textwrap.fill(" ".join(f"{k}={_text(v)}" for k, v in shown.items()), width, break_long_words=False)


def plot_km_png(sweep: Sweep, curves, tests, inputs, path: Path, unit: str = "auto") -> Path:
    """The Kaplan–Meier curves of time to progression per arm, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lattice.survival import plot_km

    max_h = max((float(np.max(d)) for d, _ in inputs.values()), default=1.0)
    unit_name, scale = _time_axis(max_h, unit)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    plot_km(ax, curves, time_unit=unit_name, time_scale=scale, durations=inputs)
    title = "Time to progression by arm"
    if len(tests) == 1 and math.isfinite(tests[0].p_value):
        title += f" (log-rank p = {tests[0].p_value:.2g})"
    sub = _subtitle(sweep)
    ax.set_title(title + (f"\n{sub}" if sub else ""), fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


def plot_population_png(sweep: Sweep, pop, columns: Sequence[str], path: Path, unit: str = "auto") -> Path:
    """Median (line) and interquartile band of each count per arm, one panel per count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    max_h = float(pop["time_h"].max()) if len(pop) else 1.0
    unit_name, scale = _time_axis(max_h, unit)
    fig, axes = plt.subplots(len(columns), 1, figsize=(7, 2.6 * len(columns) + 0.6), dpi=120, sharex=True,
                             squeeze=False)
    for ax, col in zip(axes[:, 0], columns):
        for arm in sweep.arms:
            d = pop[(pop["arm"] == arm) & (pop["column"] == col)]
            if not len(d):
                continue
            t = d["time_h"].to_numpy(float) * scale
            line, = ax.plot(t, d["median"], label=f"{arm} (median, IQR)")
            ax.fill_between(t, d["q25"], d["q75"], alpha=0.25, color=line.get_color(), linewidth=0)
        name = "live tumour cells" if col == BURDEN else f"{col} cells"
        ax.set_ylabel(f"{name} [cells]")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize="small", loc="best")
    axes[-1, 0].set_xlabel(f"time [{unit_name}]")
    sub = _subtitle(sweep)
    axes[0, 0].set_title("Population per arm" + (f"\n{sub}" if sub else ""), fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


# -- the command ---------------------------------------------------------------------------------

@dataclass
class Analysis:
    """What :func:`analyse` wrote and computed."""

    sweep: Sweep
    files: list[Path]
    arms: object        # DataFrame, one row per arm
    logrank: object     # DataFrame, one row per pair of arms


def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "inf" if isinstance(v, float) and math.isinf(v) else "—"
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def analyse(sweep_dir: Path, out_dir: Path | None = None, unit: str = "auto") -> Analysis:
    """Gather the sweep and write the table, the survival statistics and the figures.

    Args:
        sweep_dir: the sweep directory (``hydra.sweep.dir``) or a single run.
        out_dir: where to write (default ``<sweep_dir>/analysis``; for a URL, in its local copy).
        unit: time unit of the figures: "h", "d" or "auto" (days above 240 h).
    """
    import pandas as pd

    from lattice.io.remote import localize
    from lattice.survival import compare_arms

    sweep_dir = localize(sweep_dir)  # a URL: the analysis is written beside the local copy
    sweep = gather(sweep_dir)
    out = Path(out_dir) if out_dir is not None else Path(sweep_dir) / ANALYSIS_DIR
    out.mkdir(parents=True, exist_ok=True)
    files = []
    table = sweep.table
    table.to_parquet(out / "runs.parquet", index=False)
    table.to_csv(out / "runs.csv", index=False)
    files += [out / "runs.parquet", out / "runs.csv"]

    inputs = survival_inputs(sweep)
    curves, tests, ratios = compare_arms(inputs) if inputs else ({}, [], [])
    hr_of = {h.arm: h for h in ratios}
    dose_cols = [c for c in table.columns if c.startswith("cumulative_dose_") and not c.endswith("_at_progression")]
    arm_rows = []
    for arm in sweep.arms:
        t = table[table["arm"] == arm]
        c = curves.get(arm)
        h = hr_of.get(arm)
        arm_rows.append({
            "arm": arm, "rows": len(t), "progressed": int(t["progressed"].sum()),
            "median_ttp_h": c.median if c else math.nan,
            "median_nadir_burden": float(t["nadir_burden"].median()),
            **{f"median_{d}": float(t[d].median()) for d in dose_cols},
            "hazard_ratio": h.ratio if h else math.nan, "hr_lower": h.lower if h else math.nan,
            "hr_upper": h.upper if h else math.nan, "hr_p": h.p_value if h else math.nan,
        })
    arms = pd.DataFrame(arm_rows)
    logrank = pd.DataFrame([{"arm_a": r.arm_a, "arm_b": r.arm_b, "chi2": r.statistic, "p": r.p_value}
                            for r in tests], columns=["arm_a", "arm_b", "chi2", "p"])
    arms.to_csv(out / "arms.csv", index=False)
    logrank.to_csv(out / "logrank.csv", index=False)
    files += [out / "arms.csv", out / "logrank.csv"]

    present = [s for s in STATE_COLUMNS if any(s in ts and np.any(np.asarray(ts[s]) > 0) for ts in sweep.timeseries)]
    columns = [BURDEN, *present]
    pop = population_curves(sweep, columns)
    pop.to_csv(out / "population.csv", index=False)
    files.append(out / "population.csv")
    if curves:
        files.append(plot_km_png(sweep, curves, tests, inputs, out / "km_time_to_progression.png", unit))
    files.append(plot_population_png(sweep, pop, columns, out / "population.png", unit))
    return Analysis(sweep, files, arms, logrank)


def print_analysis(a: Analysis, console=None) -> None:
    """The arms and log-rank tables in the terminal (rich)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # a log file or a pipe: no terminal width to fit, keep the columns whole
            console = Console(width=160)
    sweep = a.sweep
    sub = _subtitle(sweep)
    table = Table(title=escape(f"Sweep {sweep.sweep_dir} — {len(sweep.table)} rows, {len(sweep.arms)} arms"
                               + (f"\n{sub}" if sub else "")))
    dose_cols = [c for c in a.arms.columns if c.startswith("median_cumulative_dose_")]
    for name, justify in (("arm", "left"), ("runs", "right"), ("progressed", "right"),
                          (escape("median TTP [d]"), "right"), (escape("median nadir [cells]"), "right"),
                          *((f"median cumulative {c[len('median_cumulative_'):].replace('_', ' ')}", "right") for c in dose_cols),
                          ("hazard ratio (95% CI)", "right")):
        table.add_column(name, justify=justify)
    for _, r in a.arms.iterrows():
        if r["arm"] == sweep.arms[0]:
            hr = "ref."
        elif math.isfinite(r["hazard_ratio"]):
            hr = f"{_fmt(r['hazard_ratio'])} ({_fmt(r['hr_lower'])}–{_fmt(r['hr_upper'])})"
        else:
            hr = "—"
        # Overrides like grid.shape=[50,50] are text, not rich markup.
        table.add_row(escape(str(r["arm"])), str(r["rows"]), str(r["progressed"]), _fmt(r["median_ttp_h"] / 24),
                      _fmt(r["median_nadir_burden"]), *(_fmt(r[c]) for c in dose_cols), hr)
    console.print(table)
    if len(a.logrank):
        lr = Table(title="Log-rank tests of time to progression")
        for name in ("arm A", "arm B", "χ²", "p"):
            lr.add_column(name, justify="left" if name.startswith("arm") else "right")
        for _, r in a.logrank.iterrows():
            lr.add_row(escape(str(r["arm_a"])), escape(str(r["arm_b"])), _fmt(r["chi2"]), _fmt(r["p"], 2))
        console.print(lr)
    for job, why in sweep.missing:
        console.print(f"[yellow]skipped {escape(str(job))}: {escape(why)}[/yellow]")
    for f in a.files:
        console.print(f"wrote {escape(str(f))}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Gather a lattice-run sweep into one table; KM curves, log-rank tests and "
                               "population curves per arm (docs/sweeps.md).")
    parser.add_argument("sweep_dir", type=str, help="the sweep directory (hydra.sweep.dir) of 'lattice-run -m', "
                        "or its URL (s3://…, read from a local copy)")
    parser.add_argument("--out", type=Path, default=None, help=f"output folder (default SWEEP_DIR/{ANALYSIS_DIR})")
    parser.add_argument("--time-unit", choices=("auto", "h", "d"), default="auto",
                        help="time axis of the figures (auto: days above 240 h)")
    args = parser.parse_args(argv)
    try:
        import lifelines  # noqa: F401
        import matplotlib  # noqa: F401
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        print(f"{PROG}: error: {exc.name} is not installed: pip install 'dtp-lattice[sweep]'", file=sys.stderr)
        return 2
    try:
        analysis = analyse(args.sweep_dir, args.out, args.time_unit)
    except SweepError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{PROG}: error: {exc.filename or args.sweep_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print_analysis(analysis)
    return 0


if __name__ == "__main__":
    sys.exit(main())
