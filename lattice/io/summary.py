"""``summary.h5``: one table of every replicate's per-step rows, and the events (docs/outputs.md).

Layout (the contract that the reports and external scripts rely on):

- group ``timeseries``: equal-length 1-D datasets, one row per replicate and cell step, rows
  ordered by replicate then step: ``replicate`` (int64, 0…R−1) first, then the simulation's
  columns in its order (``time_h``, ``sensitive``, …, ``plasma_<drug>``, ``on_<drug>``). Every
  dataset carries string attributes ``units`` and ``description``;
- group ``events``: one dataset per event, one value per replicate (float64, NaN when the event
  did not happen; ``units``/``description`` attributes): ``nadir_time_h``, ``nadir_burden``,
  ``dtp_fraction_at_nadir``, ``progression_time_h`` and the further events of
  :mod:`lattice.events`. The same values are also the group's attributes (a float when R = 1,
  an array of R floats otherwise), as readers of schema 1 expect;
- root attributes ``config`` (the resolved config as YAML text), ``version`` (str), ``seed`` and
  ``replicates`` (int64), ``schema_version`` (int64).

The file is rewritten whole, atomically, at every recorded frame or checkpoint (and at the end):
it is written to ``summary.h5.tmp`` and renamed over the old file, so a reader (or a crash) only
ever sees a complete table.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

#: Events that every summary carries (NaN when the event did not happen).
REQUIRED_EVENTS = ("nadir_time_h", "nadir_burden", "dtp_fraction_at_nadir", "progression_time_h")
REPLICATE_COLUMN = "replicate"
#: ``(units, description)`` of a column or event name; "" when unknown.
Describe = Callable[[str], tuple[str, str]]


def tmp_path(path: Path) -> Path:
    """Where :func:`write_summary` writes before renaming: ``summary.h5`` → ``summary.h5.tmp``."""
    path = Path(path)
    return path.with_name(path.name + ".tmp")


def event_value(name: str, value) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"event {name!r} must be a number or None, got {value!r}") from None


def check_table(table: Mapping[str, np.ndarray], replicates: int | None = None) -> dict[str, np.ndarray]:
    """The columns as ``(R, rows)`` NumPy arrays (a 1-D column is one replicate's rows).

    Raises:
        ValueError: a bad column name, a column of more than two axes, columns of unequal
            length, or (when given) a replicate count other than ``replicates``.
    """
    out: dict[str, np.ndarray] = {}
    for name, column in table.items():
        if "/" in name or not name or name == REPLICATE_COLUMN:
            raise ValueError(f"timeseries column name {name!r} must be non-empty, contain no '/' and not be "
                             f"{REPLICATE_COLUMN!r}")
        a = np.asarray(column)
        if a.ndim == 1:
            a = a[None]
        if a.ndim != 2:
            raise ValueError(f"timeseries column {name!r} must be 1-D (one replicate) or (replicates, rows), "
                             f"got shape {a.shape}")
        out[name] = a
    shapes = {name: a.shape for name, a in out.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"timeseries columns must have equal lengths, got {shapes}")
    if replicates is not None and out and next(iter(out.values())).shape[0] != replicates:
        raise ValueError(f"timeseries has {next(iter(out.values())).shape[0]} replicates, expected {replicates}")
    return out


def check_events(events: Mapping[str, object] | Sequence[Mapping[str, object]], replicates: int) -> list[dict]:
    """One dict of float events per replicate (a single mapping is one replicate's)."""
    per = [events] if isinstance(events, Mapping) else list(events)
    if len(per) != replicates:
        raise ValueError(f"events are given for {len(per)} replicates, expected {replicates}")
    return [{k: event_value(k, v) for k, v in e.items()} for e in per]


def _no_doc(name: str) -> tuple[str, str]:
    return "", ""


def write_summary(
    path: Path,
    timeseries: Mapping[str, np.ndarray],
    events: Mapping[str, object] | Sequence[Mapping[str, object]],
    config_yaml: str,
    version: str,
    seed: int,
    describe: Describe | None = None,
) -> None:
    """Write ``summary.h5`` atomically (``<path>.tmp`` then ``os.replace``).

    Args:
        path: the file to (re)write, normally ``<run dir>/summary.h5``.
        timeseries: column name → ``(R, rows)`` array (or 1-D: one replicate), one row per cell
            step, all of the same shape.
        events: per replicate, event name → value (None or NaN when the event did not happen);
            a single mapping when R = 1. The events of :data:`REQUIRED_EVENTS` are always
            written (NaN when missing).
        config_yaml: the resolved config as YAML text.
        version: the simulator's version string.
        seed: the run's random seed.
        describe: ``(units, description)`` of a column or event name (default: empty strings).

    Raises:
        ValueError: columns of unequal shape or of more than two axes, or a non-numeric event.
        OSError: the file could not be written (disk full…); the previous file is left intact
            and the temporary file removed.
    """
    path = Path(path)
    describe = describe or _no_doc
    columns = check_table(timeseries)
    R = next(iter(columns.values())).shape[0] if columns else (1 if isinstance(events, Mapping) else len(events))
    per = check_events(events, R)
    names = list(REQUIRED_EVENTS) + [k for e in per for k in e if k not in REQUIRED_EVENTS]
    names = list(dict.fromkeys(names))
    event_table = {k: np.array([e.get(k, math.nan) for e in per], dtype=np.float64) for k in names}
    rows = next(iter(columns.values())).shape[1] if columns else 0
    tmp = tmp_path(path)
    try:
        with h5py.File(tmp, "w", track_order=True) as f:
            f.attrs["config"] = str(config_yaml)
            f.attrs["version"] = str(version)
            f.attrs["seed"] = np.int64(seed)
            f.attrs["replicates"] = np.int64(R)
            f.attrs["schema_version"] = np.int64(2)
            ts = f.create_group("timeseries", track_order=True)
            rep = ts.create_dataset(REPLICATE_COLUMN, data=np.repeat(np.arange(R, dtype=np.int64), rows))
            _doc(rep, "", "replicate index (0 … replicates−1); rows are ordered by replicate, then step")
            for name, a in columns.items():
                _doc(ts.create_dataset(name, data=a.reshape(-1)), *describe(name))
            ev = f.create_group("events", track_order=True)
            for name, values in event_table.items():
                _doc(ev.create_dataset(name, data=values), *describe(name))
                ev.attrs[name] = values[0] if R == 1 else values
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise


def _doc(dataset, units: str, description: str) -> None:
    dataset.attrs["units"] = str(units)
    dataset.attrs["description"] = str(description)


def read_summary(
    path: Path, replicate: int | None = None
) -> tuple[dict[str, np.ndarray], dict[str, float | np.ndarray], dict[str, object]]:
    """Read ``summary.h5`` (this layout or schema 1's one-replicate file).

    Args:
        path: the file.
        replicate: only this replicate's rows and events (without the ``replicate`` column);
            None: the whole table.

    Returns:
        ``(timeseries, events, attrs)``: column name → 1-D array (file order); event name → float
        (one replicate, or a file of one replicate) or ``(R,)`` array; root attributes
        (``config`` and ``version`` str, ``seed`` int, …).

    Raises:
        OSError: the file cannot be read; KeyError: no such replicate.
    """
    with h5py.File(Path(path), "r") as f:
        ts = f["timeseries"]
        timeseries = {name: ts[name][()] for name in ts}
        ev = f["events"]
        if len(ev.keys()):
            events = {name: np.asarray(ev[name][()], dtype=np.float64) for name in ev}
        else:  # schema 1: scalar attributes
            events = {name: np.atleast_1d(np.asarray(v, dtype=np.float64)) for name, v in ev.attrs.items()}
        attrs = {name: _plain(v) for name, v in f.attrs.items()}
    reps = timeseries.get(REPLICATE_COLUMN)
    n_reps = int(attrs.get("replicates", 1))
    if replicate is not None:
        r = int(replicate)
        if not 0 <= r < n_reps:
            raise KeyError(f"{path} holds replicates 0…{n_reps - 1}, not {r}")
        if reps is not None:
            rows = reps == r
            timeseries = {k: v[rows] for k, v in timeseries.items() if k != REPLICATE_COLUMN}
        events = {k: float(v[r]) for k, v in events.items()}
    elif n_reps == 1:
        events = {k: float(v[0]) for k, v in events.items()}
    return timeseries, events, attrs


def _plain(value):
    """HDF5 attribute → plain Python value."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
