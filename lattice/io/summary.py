"""``summary.h5``: the per-step table and the events of one run (docs/outputs.md).

Layout (the contract that the reports and external scripts rely on):

- group ``timeseries``: equal-length 1-D datasets, one row per cell step (``time_h``,
  ``sensitive``, …, ``plasma_<drug>``, ``on_<drug>``), in the order the simulation gave them;
- group ``events``: float attributes ``nadir_time_h``, ``nadir_burden``,
  ``dtp_fraction_at_nadir``, ``progression_time_h`` (NaN when the event did not happen) and any
  further events the simulation reports;
- root attributes ``config`` (the resolved config as YAML text), ``version``, ``seed``.

The file is small and is rewritten whole at every recorded frame, atomically: it is written to
``summary.h5.tmp`` and renamed over the old file, so a reader (or a crash) only ever sees a
complete table.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

#: Events that every summary carries (NaN when the event did not happen).
REQUIRED_EVENTS = ("nadir_time_h", "nadir_burden", "dtp_fraction_at_nadir", "progression_time_h")


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


def check_timeseries(timeseries: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Return the columns as 1-D NumPy arrays; raise ValueError unless all have the same length."""
    out: dict[str, np.ndarray] = {}
    for name, column in timeseries.items():
        if "/" in name or not name:
            raise ValueError(f"timeseries column name {name!r} must be non-empty and contain no '/'")
        a = np.asarray(column)
        if a.ndim != 1:
            raise ValueError(f"timeseries column {name!r} must be 1-D, got shape {a.shape}")
        out[name] = a
    lengths = {name: len(a) for name, a in out.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"timeseries columns must have equal lengths, got {lengths}")
    return out


def write_summary(
    path: Path,
    timeseries: Mapping[str, np.ndarray],
    events: Mapping[str, float | None],
    config_yaml: str,
    version: str,
    seed: int,
) -> None:
    """Write ``summary.h5`` atomically (``<path>.tmp`` then ``os.replace``).

    Args:
        path: the file to (re)write, normally ``<run dir>/summary.h5``.
        timeseries: column name → 1-D array, all of the same length (one row per cell step).
        events: event name → value; None or NaN when the event did not happen. The events of
            :data:`REQUIRED_EVENTS` are always written (NaN when missing).
        config_yaml: the resolved config as YAML text.
        version: the simulator's version string.
        seed: the run's random seed.

    Raises:
        ValueError: columns of unequal length or not 1-D, or a non-numeric event.
        OSError: the file could not be written (disk full…); the previous file is left intact
            and the temporary file removed.
    """
    path = Path(path)
    columns = check_timeseries(timeseries)
    event_values = {name: math.nan for name in REQUIRED_EVENTS}
    event_values.update({name: event_value(name, v) for name, v in events.items()})
    tmp = tmp_path(path)
    try:
        with h5py.File(tmp, "w", track_order=True) as f:
            f.attrs["config"] = str(config_yaml)
            f.attrs["version"] = str(version)
            f.attrs["seed"] = np.int64(seed)
            ts = f.create_group("timeseries", track_order=True)
            for name, a in columns.items():
                ts.create_dataset(name, data=a)
            ev = f.create_group("events", track_order=True)
            for name, value in event_values.items():
                ev.attrs[name] = np.float64(value)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise


def read_summary(path: Path) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, object]]:
    """Read ``summary.h5``.

    Returns:
        ``(timeseries, events, attrs)``: column name → 1-D array (file order); event name →
        float (NaN when none); root attributes ``config`` (str), ``version`` (str), ``seed``
        (int).
    """
    with h5py.File(Path(path), "r") as f:
        timeseries = {name: f["timeseries"][name][()] for name in f["timeseries"]}
        events = {name: float(v) for name, v in f["events"].attrs.items()}
        attrs = {name: _plain(v) for name, v in f.attrs.items()}
    return timeseries, events, attrs


def _plain(value):
    """HDF5 attribute → plain Python value."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
