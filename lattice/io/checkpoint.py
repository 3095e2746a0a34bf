"""The checkpoint: the full state that ``resume`` continues from (docs/outputs.md).

``run.zarr/state`` is a zarr v3 group holding every replicate's state arrays (replicate axis
first), the per-step table so far as one float64 array ``state/timeseries`` of shape
``(columns, R, rows)`` (its attributes ``columns`` and ``dtypes`` restore each column exactly:
counts are far below 2^53) and, as the group's attributes, ``step``, ``time_h``,
``replicates``, ``arrays``, ``events`` (one dict per replicate) and ``wall_s`` (compute time of
the run so far). The attributes are written last: a group without ``step`` is never taken for a
complete checkpoint. All arrays are created and written concurrently (zarr's event loop), so a
checkpoint costs about one array's latency plus the bytes.

Replacing it is crash-safe: the new state is written next to the store
(``<run dir>/.state.tmp``, outside the zarr hierarchy), renamed ``.state.new`` once complete,
then swapped in by two renames (``state`` → ``.state.old``, ``.state.new`` → ``state``);
:func:`recover_state_swap` finishes or undoes a swap that a crash interrupted. The cost is a fixed
number of files (one per state array, one for the table), whatever the number of replicates.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zarr
from zarr.storage import LocalStore

from lattice.io import layout
from lattice.io.layout import STATE_PATH, TABLE_PATH, compressor, jsonable, rmtree
from lattice.io.rundir import (
    STATE_NEW_NAME,
    STATE_OLD_NAME,
    STATE_PREV_NAME,
    STATE_TMP_NAME,
    ZARR_NAME,
    OutputError,
)


@dataclass
class SavedState:
    """A checkpoint as read back.

    Attributes:
        step: completed cell steps (the RNG counter's step word for the next step).
        time_h: simulated time, h.
        arrays: every replicate's arrays, replicate axis first: ``cells``, ``clock``,
            ``memory``, ``timer_h``, ``immune`` of shape ``(R, *S)``; ``fields`` ``(R, F, *S)``;
            S is ``(y, x)`` or ``(z, y, x)``; any further arrays the simulation passed.
        timeseries: the ``summary.h5`` columns so far, ``(R, rows)`` (one row per cell step).
        events: per replicate, the events as last written (NaN when none).
        wall_s: compute time of the run up to this checkpoint, s (all sessions).
    """

    step: int
    time_h: float
    arrays: dict[str, np.ndarray]
    timeseries: dict[str, np.ndarray]
    events: list[dict[str, float]] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def replicates(self) -> int:
        return len(self.events) if self.events else next(iter(self.arrays.values())).shape[0]


def _chunks(a: np.ndarray, n_spatial: int) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """A few replicates per chunk when one replicate is small; one (sharded) replicate otherwise."""
    one = a.shape[1:]
    per = max(math.prod(one) * a.dtype.itemsize, 1)
    if per <= layout.SINGLE_CHUNK_MAX_BYTES:
        k = max(1, min(a.shape[0], layout.SINGLE_CHUNK_MAX_BYTES // per))
        return (k, *(max(n, 1) for n in one)), None
    chunks, shards = layout.chunk_layout(one, a.dtype.itemsize, len(one) - n_spatial)
    return (1, *chunks), None if shards is None else (1, *shards)


async def write_array(group, name: str, a: np.ndarray, n_spatial: int) -> None:
    """Create and write one checkpoint array (replicate axis first) in the async ``group``."""
    chunks, shards = _chunks(a, n_spatial) if a.ndim >= 1 and a.shape[0] else ((1,) * max(a.ndim, 1), None)
    attrs = None
    if isinstance(a, _Table):
        attrs = {"columns": a.columns, "dtypes": a.dtypes}
    arr = await group.create_array(name, shape=a.shape, dtype=a.dtype, chunks=chunks, shards=shards,
                                   compressors=compressor(a.dtype), fill_value=0, attributes=attrs)
    if a.size:
        await arr.setitem(Ellipsis, np.asarray(a))


class _Table(np.ndarray):
    """The table as one float64 ``(columns, R, rows)`` array, with its column names and dtypes."""

    columns: list[str]
    dtypes: list[str]


def _table_array(timeseries: Mapping[str, np.ndarray], replicates: int) -> _Table:
    columns = list(timeseries)
    if columns:
        data = np.stack([np.asarray(timeseries[c], dtype=np.float64) for c in columns])
    else:
        data = np.zeros((0, replicates, 0))
    table = data.view(_Table)
    table.columns = columns
    table.dtypes = [np.asarray(timeseries[c]).dtype.str for c in columns]
    return table


def write_state_group(
    path: Path, step: int, time_h: float, arrays: Mapping[str, np.ndarray],
    timeseries: Mapping[str, np.ndarray], events: Sequence[Mapping[str, float]], n_spatial: int,
    wall_s: float = 0.0,
) -> None:
    """Write a complete checkpoint as a standalone zarr v3 group at ``path`` (replacing it)."""
    from zarr.api.asynchronous import open_group
    from zarr.core.sync import sync

    rmtree(path)
    attrs = jsonable({
        "step": int(step), "time_h": float(time_h), "replicates": len(events), "arrays": list(arrays),
        "events": [dict(e) for e in events], "wall_s": float(wall_s),
    })
    items = [(name, np.asarray(a), n_spatial) for name, a in arrays.items()]
    items.append((TABLE_PATH, _table_array(timeseries, len(events)), 2))

    async def write() -> None:
        g = await open_group(store=LocalStore(path), mode="w")
        await asyncio.gather(*(write_array(g, name, a, n) for name, a, n in items))
        # The attributes go last: a state group without "step" is never taken for a complete one.
        await g.update_attributes(attrs)

    sync(write())


def _unreadable(where: Path, reason: object) -> OutputError:
    return OutputError(
        f"the checkpoint {where} is unreadable ({reason}); this run cannot be resumed from it. Its frames and "
        f"summary.h5 stay readable; to finish the run, start it again with output.overwrite=true (the same config "
        f"and seed give the same results)"
    )


def _events(raw) -> list[dict[str, float]]:
    per = raw if isinstance(raw, list) else [raw or {}]
    return [{k: (math.nan if v is None else float(v)) for k, v in e.items()} for e in per]


def read_state_group(path: Path) -> SavedState:
    """Read the checkpoint at ``path`` (a ``state`` group directory; schema 1's one-replicate
    checkpoints get a replicate axis of length 1).

    Raises:
        OutputError: incomplete or unreadable (corrupt metadata, a truncated chunk…): names the
            file and what to do.
    """
    path = Path(path)
    meta_file = path / "zarr.json"
    try:
        json.loads(meta_file.read_text())
    except (OSError, ValueError) as e:
        raise _unreadable(meta_file, e) from None
    try:
        group = zarr.open_group(store=LocalStore(path, read_only=True), mode="r", use_consolidated=False)
        attrs = group.attrs.asdict()
    except Exception as e:  # noqa: BLE001 - any zarr failure: one line naming the file
        raise _unreadable(meta_file, e) from None
    if "step" not in attrs:
        raise _unreadable(path, "incomplete: no 'step' attribute")
    one = "replicates" not in attrs  # schema 1: one replicate, no replicate axis
    arrays, timeseries = {}, {}
    name = ""
    try:
        for name in attrs["arrays"]:
            a = np.asarray(group[name][...])
            arrays[name] = a[None] if one else a
        name = TABLE_PATH
        ts = group[TABLE_PATH]
        if isinstance(ts, zarr.Group):  # schema 1: one array per column
            for col in ts.attrs["columns"]:
                name = f"{TABLE_PATH}/{col}"
                a = np.asarray(ts[col][...])
                timeseries[col] = a[None] if one else a
        else:
            table = np.asarray(ts[...])
            for i, (col, dtype) in enumerate(zip(ts.attrs["columns"], ts.attrs["dtypes"])):
                timeseries[col] = table[i].astype(np.dtype(dtype))
    except Exception as e:  # noqa: BLE001 - blosc, codec or key errors of a damaged chunk
        raise _unreadable(path / name, f"{type(e).__name__}: {e}") from None
    return SavedState(
        step=int(attrs["step"]), time_h=float(attrs["time_h"]), arrays=arrays, timeseries=timeseries,
        events=_events(attrs.get("events")), wall_s=float(attrs.get("wall_s", 0.0)),
    )


def state_step(path: Path) -> int:
    """The step of the checkpoint at ``path`` (OutputError when it is unreadable or incomplete)."""
    meta_file = Path(path) / "zarr.json"
    try:
        attrs = json.loads(meta_file.read_text()).get("attributes") or {}
        return int(attrs["step"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise _unreadable(meta_file, e) from None


def recover_state_swap(run_dir: Path) -> None:
    """Finish or undo a replacement of ``run.zarr/state`` that a crash interrupted.

    The writer goes ``.state.tmp`` (being written) → ``.state.new`` (complete) → ``state``
    (after moving the old one to ``.state.old``) → ``.state.old`` removed. ``.state.new`` is
    always newer than ``state``. Schema 1's ``.state.prev`` is no longer needed and removed.
    """
    run_dir = Path(run_dir)
    current = run_dir / ZARR_NAME / STATE_PATH
    tmp, new, old = run_dir / STATE_TMP_NAME, run_dir / STATE_NEW_NAME, run_dir / STATE_OLD_NAME
    rmtree(tmp)
    if new.exists():
        if current.exists():
            rmtree(old)
            os.rename(current, old)
        os.rename(new, current)
    if not current.exists() and old.exists():
        os.rename(old, current)
    rmtree(old)
    rmtree(run_dir / STATE_PREV_NAME)


def replace_state(
    run_dir: Path, step: int, time_h: float, arrays: Mapping[str, np.ndarray], timeseries: Mapping[str, np.ndarray],
    events: Sequence[Mapping[str, float]], n_spatial: int, wall_s: float,
) -> None:
    """Write a new checkpoint beside the store, then swap it in as ``run.zarr/state``."""
    run_dir = Path(run_dir)
    tmp, new, old = run_dir / STATE_TMP_NAME, run_dir / STATE_NEW_NAME, run_dir / STATE_OLD_NAME
    current = run_dir / ZARR_NAME / STATE_PATH
    rmtree(new)
    write_state_group(tmp, step, time_h, arrays, timeseries, events, n_spatial, wall_s)
    os.rename(tmp, new)  # complete: from here on a reopen prefers it
    rmtree(old)
    if current.exists():
        os.rename(current, old)
    os.rename(new, current)
    rmtree(old)


def saved_step(run_dir: Path | str) -> int:
    """The step of a run's checkpoint (after finishing any interrupted swap).

    Raises:
        OutputError: no checkpoint (no frame was completed) or an unreadable one.
    """
    store_path, _ = layout.locate(Path(run_dir).expanduser().absolute())
    recover_state_swap(store_path.parent)
    state = store_path / STATE_PATH
    if not state.exists():
        raise OutputError(f"{store_path.parent} has no saved state to resume from (no frame was completed)")
    return state_step(state)
