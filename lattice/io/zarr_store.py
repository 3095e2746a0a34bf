"""``run.zarr``: recorded frames, OME-Zarr 0.5 metadata and the resumable state (docs/outputs.md).

Layout of ``<run dir>/run.zarr`` (zarr v3, :class:`zarr.storage.LocalStore`)::

    zarr.json           root attributes "ome" (multiscales, omero) and "dtp_lattice"
    0/                  float32 fields, (t, c, z, y, x); z = 1 in 2D
    labels/cells/0      uint8 tumour/stroma codes, (t, z, y, x)
    labels/immune/0     uint8 immune codes, (t, z, y, x)
    state/              the latest complete full state (what ``resume`` reads)

Every frame is stored in **one file per array**: a single chunk when the frame is small
(≤ :data:`SINGLE_CHUNK_MAX_BYTES`), otherwise one shard per frame holding inner chunks of about
:data:`INNER_CHUNK_BYTES` per channel, so a viewer reads one channel of a 3D frame piecewise. An
append never rewrites an earlier frame.

Crash safety. :meth:`FrameWriter.write_frame` 1) appends the frame's data, 2) rewrites
``summary.h5`` atomically, 3) records the frame's time in the root attribute
``dtp_lattice.frame_times_h`` — the commit point: a frame exists once it is listed there, so
readers take ``len(frame_times_h)`` as the number of complete frames, whatever the arrays' ``t``
extent — and 4) replaces ``state/``: the new state is written next to the store
(``<run dir>/.state.tmp``, outside the zarr hierarchy), renamed ``.state.new`` once complete,
then swapped in by two renames; :meth:`FrameWriter.reopen` finishes or undoes an interrupted
swap. zarr's ``LocalStore`` writes every file through a temporary name and a rename, so a
failed write (disk full) leaves the previous metadata intact.

Live readers (the viewer, a run still being written) open the store with
``use_consolidated=False``; metadata is consolidated only by :meth:`FrameWriter.close`.
"""

from __future__ import annotations

import copy
import errno as errno_codes
import json
import math
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import zarr
import zarr.codecs
from zarr.storage import LocalStore

from lattice.codes import CELL_LABELS, IMMUNE_LABELS
from lattice.io.rundir import (
    STATE_NEW_NAME,
    STATE_OLD_NAME,
    STATE_PREV_NAME,
    STATE_TMP_NAME,
    SUMMARY_NAME,
    ZARR_NAME,
    OutputError,
    RunExistsError,
    resume_hint,
)
from lattice.io.summary import check_timeseries, event_value, write_summary
from lattice.state import VOXEL_ARRAYS

#: Version of the layout below; bumped when a reader would need to tell layouts apart.
SCHEMA_VERSION = 1
IMAGE_PATH = "0"
STATE_PATH = "state"
LABEL_LAYERS: dict[str, dict[int, tuple[str, tuple[float, float, float, float]]]] = {
    "cells": CELL_LABELS,
    "immune": IMMUNE_LABELS,
}
IMAGE_AXES = ("t", "c", "z", "y", "x")
LABEL_AXES = ("t", "z", "y", "x")

#: A frame (per array) up to this size is stored as one plain chunk; larger ones are sharded.
SINGLE_CHUNK_MAX_BYTES = 16 * 2**20
#: Target size of the inner chunks of a sharded frame (one channel, a cube of the lattice).
INNER_CHUNK_BYTES = 2**20

#: omero display colours of the field channels, cycled.
CHANNEL_COLOURS = ("FF0000", "00FF00", "0080FF", "FFFF00", "FF00FF", "00FFFF", "FF8000", "FFFFFF")

_TIMESERIES = "timeseries"


# --------------------------------------------------------------------------------------------
# Small helpers


def chunk_layout(
    frame_shape: Sequence[int], itemsize: int, n_channel_axes: int = 0
) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """Chunks and shards for one frame of an array (the ``t`` axis excluded).

    Args:
        frame_shape: ``(*channel_axes, *spatial_axes)``.
        itemsize: bytes per element.
        n_channel_axes: leading axes that are channels (kept whole in a shard, split one per
            inner chunk).

    Returns:
        ``(chunks, shards)``: a single chunk and ``shards=None`` when the frame holds at most
        :data:`SINGLE_CHUNK_MAX_BYTES`; otherwise inner chunks of one channel and a cube of
        about :data:`INNER_CHUNK_BYTES`, and one shard covering the whole frame (spatial extents
        rounded up to whole inner chunks).
    """
    frame_shape = tuple(int(n) for n in frame_shape)
    nbytes = math.prod(frame_shape) * itemsize
    if nbytes <= SINGLE_CHUNK_MAX_BYTES:
        return tuple(max(n, 1) for n in frame_shape), None
    channels, spatial = frame_shape[:n_channel_axes], frame_shape[n_channel_axes:]
    n_big = sum(1 for n in spatial if n > 1) or 1
    edge = 2 ** max(0, math.floor(math.log2(max(INNER_CHUNK_BYTES / itemsize, 1)) / n_big))
    inner = tuple(max(1, min(n, edge)) for n in spatial)
    chunks = (1,) * n_channel_axes + inner
    shards = tuple(max(n, 1) for n in channels) + tuple(-(-max(n, 1) // c) * c for n, c in zip(spatial, inner))
    return chunks, shards


def _compressor(dtype: np.dtype) -> zarr.codecs.BloscCodec:
    dtype = np.dtype(dtype)
    if dtype.itemsize > 1:
        return zarr.codecs.BloscCodec(cname="zstd", clevel=1, shuffle="shuffle")
    return zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="noshuffle")


def _to_numpy(a) -> np.ndarray:
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "get") and callable(a.get):  # CuPy
        return a.get()
    return np.asarray(a)


def _jsonable(obj: Any, nonfinite_as_str: bool = False) -> Any:
    """A JSON-safe copy: tuples → lists, NumPy scalars → Python, paths and other objects → str,
    non-finite floats → None (or ``"nan"``/``"inf"``/``"-inf"``, which OmegaConf reads back as
    floats, when ``nonfinite_as_str``)."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v, nonfinite_as_str) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, nonfinite_as_str) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist(), nonfinite_as_str)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        return str(obj) if nonfinite_as_str else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    return str(obj)


def _events_from_json(events: Mapping[str, Any]) -> dict[str, float]:
    return {k: (math.nan if v is None else float(v)) for k, v in events.items()}


def _rgba_255(rgba: Sequence[float]) -> list[int]:
    return [round(min(max(c, 0.0), 1.0) * 255) for c in rgba]


def _field_spec(spec) -> dict[str, str]:
    """Accept a dict(name, units, description) or an object with those attributes (FieldSpec)."""
    if isinstance(spec, Mapping):
        get = spec.get
    else:
        def get(key, default=""):
            return getattr(spec, key, default)
    name = get("name", None)
    if not name:
        raise ValueError(f"field spec {spec!r} has no name")
    return {"name": str(name), "units": str(get("units", "") or ""), "description": str(get("description", "") or "")}


def _rmtree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def resolve_store(path: Path | str) -> Path:
    """``run.zarr`` of a run, given the run directory or ``run.zarr`` itself.

    Raises:
        FileNotFoundError: neither ``path/run.zarr`` nor ``path`` is a zarr v3 store.
    """
    path = Path(path).expanduser()
    if (path / ZARR_NAME / "zarr.json").is_file():
        return path / ZARR_NAME
    if (path / "zarr.json").is_file():
        return path
    raise FileNotFoundError(f"{path} is neither a run directory (holding {ZARR_NAME}) nor a zarr v3 store")


def is_lattice_run(path: Path | str) -> bool:
    """Whether ``path`` (a run directory or its ``run.zarr``) is a store written by DTP Lattice:
    a zarr v3 group whose root attributes hold ``dtp_lattice``. Never raises."""
    try:
        meta = json.loads((resolve_store(path) / "zarr.json").read_text())
        return meta.get("node_type") == "group" and "dtp_lattice" in (meta.get("attributes") or {})
    except Exception:  # noqa: BLE001 - any unreadable or foreign path is simply not a run
        return False


def _open_root(store_path: Path, mode: str) -> zarr.Group:
    store = LocalStore(store_path, read_only=(mode == "r"))
    return zarr.open_group(store=store, mode=mode, use_consolidated=False)


# --------------------------------------------------------------------------------------------
# OME-Zarr 0.5 metadata


def _space_axes() -> list[dict[str, str]]:
    return [{"name": a, "type": "space", "unit": "micrometer"} for a in ("z", "y", "x")]


def _transforms(frame_every_h: float, spacing_um: float, n_mid: int, t0_h: float) -> list[dict]:
    """scale (and a time translation when the first frame is not at t = 0)."""
    out: list[dict] = [{"type": "scale", "scale": [float(frame_every_h)] + [1.0] * n_mid + [float(spacing_um)] * 3}]
    if t0_h:
        out.append({"type": "translation", "translation": [float(t0_h)] + [0.0] * (n_mid + 3)})
    return out


def ome_image_attrs(
    field_specs: Sequence[Mapping[str, str]], zyx: Sequence[int], spacing_um: float, frame_every_h: float,
    t0_h: float = 0.0, windows: Sequence[Sequence[float]] | None = None,
) -> dict:
    """The ``ome`` attribute of the root group: one multiscale level ``0`` and omero channels."""
    axes = [{"name": "t", "type": "time", "unit": "hour"}, {"name": "c", "type": "channel"}, *_space_axes()]
    channels = []
    for i, spec in enumerate(field_specs):
        lo, hi = windows[i] if windows is not None else (0.0, 1.0)
        channels.append({
            "label": spec["name"], "color": CHANNEL_COLOURS[i % len(CHANNEL_COLOURS)], "active": True,
            "coefficient": 1.0, "family": "linear", "inverted": False,
            "window": {"min": lo, "max": hi, "start": lo, "end": hi},
        })
    return {
        "version": "0.5",
        "multiscales": [{
            "name": "fields",
            "axes": axes,
            "datasets": [{"path": IMAGE_PATH, "coordinateTransformations": _transforms(frame_every_h, spacing_um, 1, t0_h)}],
        }],
        "omero": {"channels": channels, "rdefs": {"model": "color", "defaultT": 0, "defaultZ": int(zyx[0]) // 2}},
    }


def ome_label_attrs(layer: str, spacing_um: float, frame_every_h: float, t0_h: float = 0.0) -> dict:
    """The ``ome`` attribute of ``labels/<layer>``: image-label colours, properties, source."""
    codes = LABEL_LAYERS[layer]
    return {
        "version": "0.5",
        "image-label": {
            "colors": [{"label-value": code, "rgba": _rgba_255(rgba)} for code, (_, rgba) in codes.items()],
            "properties": [{"label-value": code, "name": name} for code, (name, _) in codes.items()],
            "source": {"image": "../../"},
        },
        "multiscales": [{
            "name": layer,
            "axes": [{"name": "t", "type": "time", "unit": "hour"}, *_space_axes()],
            "datasets": [{"path": "0", "coordinateTransformations": _transforms(frame_every_h, spacing_um, 0, t0_h)}],
        }],
    }


def label_metadata() -> dict[str, list[dict]]:
    """``dtp_lattice.labels``: per layer, code, name and RGBA colour (0–1) from :mod:`lattice.codes`."""
    return {
        layer: [{"code": code, "name": name, "rgba": list(rgba)} for code, (name, rgba) in codes.items()]
        for layer, codes in LABEL_LAYERS.items()
    }


# --------------------------------------------------------------------------------------------
# Saved state


@dataclass
class SavedState:
    """The full state saved with the last complete frame (what ``resume`` continues from).

    Attributes:
        step: completed cell steps (the RNG counter's step word for the next step).
        time_h: simulated time, h.
        arrays: one replicate's arrays as written: ``cells``, ``clock``, ``memory``,
            ``timer_h``, ``immune`` of shape ``S``; ``fields`` of shape ``(F, *S)``; S is
            ``(y, x)`` or ``(z, y, x)``; any further arrays the simulation passed.
        timeseries: the ``summary.h5`` columns so far (one row per cell step).
        events: the events as last written to ``summary.h5`` (NaN when none).
    """

    step: int
    time_h: float
    arrays: dict[str, np.ndarray]
    timeseries: dict[str, np.ndarray]
    events: dict[str, float] = field(default_factory=dict)


def _write_array(group: zarr.Group, name: str, a: np.ndarray, spatial_shape: tuple[int, ...]) -> None:
    nd = len(spatial_shape)
    if a.ndim >= nd and tuple(a.shape[a.ndim - nd:]) == spatial_shape:
        chunks, shards = chunk_layout(a.shape, a.dtype.itemsize, a.ndim - nd)
    else:
        chunks, shards = tuple(max(n, 1) for n in a.shape), None
    arr = group.create_array(
        name, shape=a.shape, dtype=a.dtype, chunks=chunks, shards=shards,
        compressors=_compressor(a.dtype), fill_value=0,
    )
    if a.size:
        arr[...] = a


def write_state_group(
    path: Path, step: int, time_h: float, arrays: Mapping[str, np.ndarray],
    timeseries: Mapping[str, np.ndarray], events: Mapping[str, float], spatial_shape: tuple[int, ...],
) -> None:
    """Write a complete state as a standalone zarr v3 group at ``path`` (replacing it)."""
    _rmtree(path)
    g = zarr.open_group(store=LocalStore(path), mode="w")
    for name, a in arrays.items():
        _write_array(g, name, a, spatial_shape)
    ts = g.create_group(_TIMESERIES, attributes={"columns": list(timeseries)})
    for name, a in timeseries.items():
        _write_array(ts, name, np.asarray(a), ())
    # The attributes go last: a state group without "step" is never taken for a complete one.
    g.attrs.update(_jsonable({
        "step": int(step), "time_h": float(time_h), "arrays": list(arrays), "events": dict(events),
    }))


def read_state_group(group: zarr.Group) -> SavedState:
    attrs = group.attrs.asdict()
    if "step" not in attrs:
        raise ValueError("incomplete state group (no 'step' attribute)")
    arrays = {name: np.asarray(group[name][...]) for name in attrs["arrays"]}
    ts = group[_TIMESERIES]
    timeseries = {name: np.asarray(ts[name][...]) for name in ts.attrs["columns"]}
    return SavedState(
        step=int(attrs["step"]), time_h=float(attrs["time_h"]), arrays=arrays, timeseries=timeseries,
        events=_events_from_json(attrs.get("events", {})),
    )


def recover_state_swap(run_dir: Path) -> None:
    """Finish or undo a replacement of ``run.zarr/state`` that a crash interrupted.

    The writer goes ``.state.tmp`` (being written) → ``.state.new`` (complete) → ``state``
    (after moving the old one to ``.state.old``) → ``.state.old`` removed. ``.state.new`` is
    always newer than ``state`` (it belongs to a frame already committed).
    """
    run_dir = Path(run_dir)
    current = run_dir / ZARR_NAME / STATE_PATH
    tmp, new, old = run_dir / STATE_TMP_NAME, run_dir / STATE_NEW_NAME, run_dir / STATE_OLD_NAME
    _rmtree(tmp)
    if new.exists():
        if current.exists():
            _rmtree(old)
            os.rename(current, old)
        os.rename(new, current)
    if not current.exists() and old.exists():
        os.rename(old, current)
    _rmtree(old)


def saved_step(run_dir: Path | str) -> int:
    """The step of a run's saved state (after finishing any interrupted state swap)."""
    store_path = resolve_store(Path(run_dir).expanduser().absolute())
    recover_state_swap(store_path.parent)
    root = _open_root(store_path, "r")
    if STATE_PATH not in root:
        raise OutputError(f"{store_path.parent} has no saved state to resume from (no frame was completed)")
    return int(root[STATE_PATH].attrs["step"])


def _restore_previous_state(run_dir: Path, step: int) -> None:
    """Make the kept previous state (``.state.prev``, of ``step``) the current one."""
    prev = run_dir / STATE_PREV_NAME
    current = run_dir / ZARR_NAME / STATE_PATH
    if not prev.exists() or int(zarr.open_group(store=LocalStore(prev), mode="r").attrs["step"]) != step:
        raise OutputError(
            f"{run_dir}: no saved state at step {step} (only the latest state"
            f"{' and the previous one' if prev.exists() else ''} are kept); the run cannot be resumed there"
        )
    old = run_dir / STATE_OLD_NAME
    _rmtree(old)
    os.rename(current, old)
    os.rename(prev, current)
    _rmtree(old)


# --------------------------------------------------------------------------------------------
# Writer


class FrameWriter:
    """Writes one replicate's frames, summary and resumable state into a run directory.

    Args:
        run_dir: the run directory (prepared by :func:`lattice.io.rundir.prepare_run_dir`).
        shape: lattice shape, ``(y, x)`` or ``(z, y, x)``.
        spacing_um: voxel edge, µm.
        field_specs: per field channel, in ``State.fields`` order: ``dict(name, units,
            description)`` (or :class:`lattice.fields.FieldSpec`).
        config: the resolved config (stored as ``dtp_lattice.config``).
        config_yaml: the resolved config as YAML text (``summary.h5`` attribute).
        seed, replicate: the run's seed and replicate index.
        version: the simulator's version.
        frame_every_h: interval between recorded frames, h (OME time scale).
        keep_previous_state: also keep the previous frame's state (``.state.prev``, twice the
            state's disk space) so that :meth:`reopen` can go back one frame: replicates written
            one after the other can then all resume from one common step after a crash.

    Raises:
        RunExistsError: ``run_dir`` already holds ``run.zarr``.
        OutputError: the store cannot be created.
    """

    def __init__(
        self, run_dir: Path, *, shape: tuple[int, ...], spacing_um: float, field_specs: Sequence[Any],
        config: Mapping[str, Any], config_yaml: str, seed: int, replicate: int, version: str,
        frame_every_h: float, keep_previous_state: bool = False,
    ) -> None:
        run_dir = Path(run_dir).expanduser().absolute()
        shape = tuple(int(n) for n in shape)
        if len(shape) not in (2, 3):
            raise ValueError(f"shape must be (y, x) or (z, y, x), got {shape}")
        specs = [_field_spec(s) for s in field_specs]
        store_path = run_dir / ZARR_NAME
        if store_path.exists():
            raise RunExistsError(
                f"{run_dir} already holds a run ({ZARR_NAME}): pass resume={run_dir} to continue it, "
                f"output.overwrite=true to replace it, or choose another hydra.run.dir"
            )
        meta = {
            "schema_version": SCHEMA_VERSION,
            "version": str(version),
            "config": _jsonable(config, nonfinite_as_str=True),
            "config_yaml": str(config_yaml),
            "fields": specs,
            "labels": label_metadata(),
            "frame_times_h": [],
            "frame_steps": [],
            "frame_every_h": float(frame_every_h),
            "shape": list(shape),
            "spacing_um": float(spacing_um),
            "seed": int(seed),
            "replicate": int(replicate),
        }
        zyx = (1, *shape) if len(shape) == 2 else shape
        ome = ome_image_attrs(specs, zyx, spacing_um, frame_every_h)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            root = zarr.open_group(store=LocalStore(store_path), mode="w-", attributes={"ome": ome, "dtp_lattice": meta})
            chunks, shards = chunk_layout((len(specs), *zyx), 4, 1)
            root.create_array(
                IMAGE_PATH, shape=(0, len(specs), *zyx), dtype=np.float32, chunks=(1, *chunks),
                shards=None if shards is None else (1, *shards), compressors=_compressor(np.float32),
                fill_value=0.0, dimension_names=IMAGE_AXES,
            )
            labels = root.create_group("labels", attributes={"ome": {"version": "0.5", "labels": list(LABEL_LAYERS)}})
            chunks, shards = chunk_layout(zyx, 1, 0)
            for layer in LABEL_LAYERS:
                g = labels.create_group(layer, attributes={"ome": ome_label_attrs(layer, spacing_um, frame_every_h)})
                g.create_array(
                    "0", shape=(0, *zyx), dtype=np.uint8, chunks=(1, *chunks),
                    shards=None if shards is None else (1, *shards), compressors=_compressor(np.uint8),
                    fill_value=0, dimension_names=LABEL_AXES,
                )
        except OSError as e:
            raise OutputError(
                f"cannot create {store_path}: {e.strerror or e}; free space or fix permissions, then start "
                f"again with output.overwrite=true", e.errno, e.filename,
            ) from e
        self._attach(run_dir, root, meta, ome, state_frame=-1)
        self.keep_previous_state = keep_previous_state

    # -- construction shared with reopen ------------------------------------------------------

    def _attach(self, run_dir: Path, root: zarr.Group, meta: dict, ome: dict, state_frame: int) -> None:
        self.run_dir = run_dir
        self.store_path = run_dir / ZARR_NAME
        self.summary_path = run_dir / SUMMARY_NAME
        self._root = root
        self._meta = meta
        self._ome = ome
        self.shape = tuple(meta["shape"])
        self.zyx = (1, *self.shape) if len(self.shape) == 2 else self.shape
        self.spacing_um = float(meta["spacing_um"])
        self.field_specs = list(meta["fields"])
        self.config = meta["config"]
        self.config_yaml = meta["config_yaml"]
        self.seed = int(meta["seed"])
        self.replicate = int(meta["replicate"])
        self.version = meta["version"]
        self.frame_every_h = float(meta["frame_every_h"])
        self._image = root[IMAGE_PATH]
        self._labels = {layer: root[f"labels/{layer}/0"] for layer in LABEL_LAYERS}
        self._windows = [[c["window"]["min"], c["window"]["max"]] for c in ome["omero"]["channels"]]
        self._have_window = len(meta["frame_times_h"]) > 0
        self._state_frame = state_frame
        self._closed = False
        self._failed = False

    @classmethod
    def reopen(cls, run_dir: Path, at_step: int | None = None) -> tuple[FrameWriter, SavedState]:
        """Reopen a run to continue it from its saved state.

        Finishes or undoes an interrupted state swap, drops the frames newer than the saved
        state (and any frame written but not committed), rewrites ``summary.h5`` to the saved
        state's rows and removes consolidated metadata (it would go stale as frames are added).

        Args:
            run_dir: the run directory (or its ``run.zarr``).
            at_step: resume from this step instead of the latest saved one: it must be the
                saved state's step or the kept previous state's (``keep_previous_state``).

        Returns:
            ``(writer, state)``: a writer that appends after the saved state's frame, and that
            state.

        Raises:
            FileNotFoundError: ``run_dir`` holds no DTP Lattice run.
            OutputError: no frame was completed (nothing to resume from), or the store cannot
                be updated.
        """
        given = Path(run_dir).expanduser().absolute()
        try:
            store_path = resolve_store(given)
        except FileNotFoundError:
            store_path = given / ZARR_NAME
        run_dir = store_path.parent
        if not is_lattice_run(store_path):
            raise FileNotFoundError(
                f"{given} holds no DTP Lattice run ({ZARR_NAME} with a 'dtp_lattice' root attribute); "
                f"check the path given to resume="
            )
        try:
            recover_state_swap(run_dir)
            root = _open_root(store_path, "r+")
            meta = copy.deepcopy(root.attrs["dtp_lattice"])
            ome = copy.deepcopy(root.attrs["ome"])
            if STATE_PATH not in root:
                raise OutputError(
                    f"{run_dir} has no saved state to resume from (no frame was completed); start the run "
                    f"again with output.overwrite=true"
                )
            state = read_state_group(root[STATE_PATH])
            if at_step is not None and state.step != at_step:
                _restore_previous_state(run_dir, at_step)
                root = _open_root(store_path, "r+")
                state = read_state_group(root[STATE_PATH])
            steps = list(meta["frame_steps"])
            keep = sum(1 for s in steps if s <= state.step)
            if keep == 0 or steps[keep - 1] != state.step:
                raise OutputError(
                    f"{store_path}: the saved state (step {state.step}) matches no recorded frame "
                    f"(frame steps {steps}); the run cannot be resumed"
                )
            meta["frame_times_h"] = list(meta["frame_times_h"])[:keep]
            meta["frame_steps"] = steps[:keep]
            arrays = [root[IMAGE_PATH]] + [root[f"labels/{layer}/0"] for layer in LABEL_LAYERS]
            for arr in arrays:
                if arr.shape[0] != keep:
                    arr.resize((keep, *arr.shape[1:]))
            # One root write: commits the truncation and drops consolidated metadata.
            root.attrs.update({"ome": ome, "dtp_lattice": meta})
            write_summary(
                run_dir / SUMMARY_NAME, state.timeseries, state.events, meta["config_yaml"], meta["version"],
                meta["seed"],
            )
        except OSError as e:
            if isinstance(e, OutputError):
                raise
            raise OutputError(
                f"cannot reopen {store_path} to resume: {e.strerror or e}", e.errno, e.filename
            ) from e
        writer = cls.__new__(cls)
        writer._attach(run_dir, root, meta, ome, state_frame=keep - 1)
        writer.keep_previous_state = (run_dir / STATE_PREV_NAME).exists()
        return writer, state

    # -- properties -----------------------------------------------------------------------------

    @property
    def frame_times_h(self) -> list[float]:
        """Times of the complete frames, h."""
        return list(self._meta["frame_times_h"])

    @property
    def n_frames(self) -> int:
        return len(self._meta["frame_times_h"])

    # -- writing --------------------------------------------------------------------------------

    def _check_arrays(self, arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
        missing = [n for n in (*VOXEL_ARRAYS, "fields") if n not in arrays]
        if missing:
            raise ValueError(f"write_frame: arrays lack {', '.join(missing)}")
        out: dict[str, np.ndarray] = {}
        for name, a in arrays.items():
            a = _to_numpy(a)
            if name in VOXEL_ARRAYS:
                a = np.asarray(a, dtype=VOXEL_ARRAYS[name])
                expected = self.shape
            elif name == "fields":
                a = np.asarray(a, dtype=np.float32)
                expected = (len(self.field_specs), *self.shape)
            else:
                expected = None
            if expected is not None and tuple(a.shape) != expected:
                raise ValueError(
                    f"write_frame: {name} has shape {tuple(a.shape)}, expected {expected} (one replicate)"
                )
            out[name] = a
        return out

    def write_frame(
        self, time_h: float, step: int, arrays: Mapping[str, Any], timeseries: Mapping[str, np.ndarray],
        events: Mapping[str, float | None],
    ) -> None:
        """Record one frame, rewrite ``summary.h5`` and save the state (see the module doc).

        Args:
            time_h: simulated time of the frame, h (increasing).
            step: completed cell steps at this frame.
            arrays: one replicate's state as NumPy (CuPy arrays are copied to the host):
                ``cells``, ``clock``, ``memory``, ``timer_h``, ``immune`` of shape ``S``,
                ``fields`` of shape ``(F, *S)``; further arrays are saved in ``state/`` only.
            timeseries: every ``summary.h5`` row so far (equal-length 1-D columns).
            events: ``summary.h5`` events (None/NaN when none).

        Raises:
            OutputError: any OSError (disk full, quota…); the frames before this one stay
                readable and the message says how to resume.
            ValueError: missing arrays or arrays of the wrong shape, timeseries columns of
                unequal length, a non-numeric event, or a time not after the last frame's
                (checked before anything is written: the writer stays usable).
            RuntimeError: the writer is closed, or an earlier write failed.
        """
        if self._closed:
            raise RuntimeError(f"the writer of {self.store_path} is closed")
        if self._failed:
            raise RuntimeError(
                f"an earlier write to {self.store_path} failed; continue with: {resume_hint(self.run_dir)}"
            )
        times = self._meta["frame_times_h"]
        if times and not time_h > times[-1]:
            raise ValueError(f"write_frame: time_h={time_h:g} is not after the last frame's {times[-1]:g}")
        # Check everything before the first write: bad input must not cost the run.
        arrays = self._check_arrays(arrays)
        timeseries = check_timeseries(timeseries)
        events = {k: event_value(k, v) for k, v in events.items()}
        index = len(times)
        try:
            self._append_frame(index, arrays)
            self._write_summary(timeseries, events)
            self._commit_frame(index, float(time_h), int(step), arrays["fields"])
            self._replace_state(int(step), float(time_h), arrays, timeseries, events)
            self._state_frame = index
        except OSError as e:
            self._failed = True
            raise self._output_error(e, index, float(time_h)) from e
        except BaseException:
            self._failed = True
            raise

    def _append_frame(self, index: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Step 1: grow ``t`` and write the frame's chunk/shard of every array."""
        self._image.resize((index + 1, *self._image.shape[1:]))
        self._image[index] = arrays["fields"].reshape(len(self.field_specs), *self.zyx)
        for layer, arr in self._labels.items():
            arr.resize((index + 1, *arr.shape[1:]))
            arr[index] = arrays[layer].reshape(self.zyx)

    def _write_summary(self, timeseries: Mapping[str, np.ndarray], events: Mapping[str, float | None]) -> None:
        """Step 2: rewrite ``summary.h5`` (atomically) with every row so far."""
        write_summary(self.summary_path, timeseries, events, self.config_yaml, self.version, self.seed)

    def _commit_frame(self, index: int, time_h: float, step: int, fields: np.ndarray) -> None:
        """Step 3: list the frame in ``frame_times_h`` (one atomic write of the root metadata)."""
        windows = [list(w) for w in self._windows]
        for c in range(fields.shape[0]):
            lo, hi = float(np.min(fields[c])), float(np.max(fields[c]))
            if not (math.isfinite(lo) and math.isfinite(hi)):
                finite = fields[c][np.isfinite(fields[c])]
                lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
            if self._have_window:
                lo, hi = min(lo, windows[c][0]), max(hi, windows[c][1])
            windows[c] = [lo, hi if hi > lo else lo + 1.0]
        meta = dict(self._meta)
        meta["frame_times_h"] = [*self._meta["frame_times_h"], time_h]
        meta["frame_steps"] = [*self._meta["frame_steps"], step]
        t0 = meta["frame_times_h"][0]
        ome = ome_image_attrs(self.field_specs, self.zyx, self.spacing_um, self.frame_every_h, t0, windows)
        if index == 0 and t0:
            for layer in LABEL_LAYERS:
                self._root[f"labels/{layer}"].attrs.update(
                    {"ome": ome_label_attrs(layer, self.spacing_um, self.frame_every_h, t0)}
                )
        self._root.attrs.update({"ome": ome, "dtp_lattice": meta})
        self._meta, self._ome, self._windows, self._have_window = meta, ome, windows, True

    def _replace_state(
        self, step: int, time_h: float, arrays: Mapping[str, np.ndarray], timeseries: Mapping[str, np.ndarray],
        events: Mapping[str, float | None],
    ) -> None:
        """Step 4: write the state beside the store, then swap it in as ``state/``."""
        tmp, new = self.run_dir / STATE_TMP_NAME, self.run_dir / STATE_NEW_NAME
        _rmtree(new)
        write_state_group(tmp, step, time_h, arrays, timeseries, events, self.shape)
        os.rename(tmp, new)  # complete: from here on reopen prefers it
        self._swap_state()

    def _swap_state(self) -> None:
        current = self.store_path / STATE_PATH
        new, old = self.run_dir / STATE_NEW_NAME, self.run_dir / STATE_OLD_NAME
        prev = self.run_dir / STATE_PREV_NAME
        _rmtree(old)
        if self.keep_previous_state:
            _rmtree(prev)
            old = prev  # the outgoing state becomes the previous one instead of being removed
        if current.exists():
            os.rename(current, old)
        os.rename(new, current)
        if not self.keep_previous_state:
            _rmtree(old)

    def _output_error(self, e: OSError, index: int, time_h: float) -> OutputError:
        reason = e.strerror or str(e)
        if e.filename:
            reason += f" ({e.filename})"
        full = e.errno in (errno_codes.ENOSPC, errno_codes.EDQUOT)
        if self._state_frame >= 0:
            k = self._state_frame
            tk = self._meta["frame_times_h"][k]
            fix = "free disk space, then " if full else "fix the cause, then "
            tail = (f"the last complete frame is {k} (t={tk:g} h) and earlier frames stay readable; "
                    f"{fix}continue with: {resume_hint(self.run_dir)}")
        else:
            fix = "free disk space" if full else "fix the cause"
            tail = f"no frame was completed; {fix} and start again with output.overwrite=true"
        return OutputError(
            f"cannot write frame {index} (t={time_h:g} h) to {self.run_dir}: {reason}; {tail}",
            e.errno, e.filename,
        )

    def close(self) -> None:
        """Finish the run: consolidate the metadata (only now: appends would make it stale).

        Idempotent; after a failed write it only marks the writer closed.
        """
        if self._closed:
            return
        self._closed = True
        if self._failed:
            return
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
                zarr.consolidate_metadata(LocalStore(self.store_path))
        except OSError as e:
            raise OutputError(
                f"cannot consolidate the metadata of {self.store_path}: {e.strerror or e}; the frames are "
                f"complete and readable (open with use_consolidated=False)", e.errno, e.filename,
            ) from e

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._closed = True


# --------------------------------------------------------------------------------------------
# Reader


class RunReader:
    """Read access to a run (finished or still being written).

    Attributes:
        run_dir: the run directory; ``store_path``: its ``run.zarr``.
        frame_times_h: float64 ``(T,)``: times of the complete frames, h; ``n_frames = T``.
        frame_steps: int64 ``(T,)``: cell steps of the frames.
        field_names, field_units: per channel of ``fields``.
        shape: lattice shape, ``(y, x)`` or ``(z, y, x)``; ``spacing_um``: voxel edge, µm.
        config: the resolved config (dict); ``config_yaml``, ``version``, ``seed``, ``replicate``.
        labels: per layer, the list of ``{code, name, rgba}``.
        fields: lazy zarr array, float32 ``(t, c, z, y, x)``.
        cells, immune: lazy zarr arrays, uint8 ``(t, z, y, x)``.

    The arrays' ``t`` extent can exceed ``n_frames`` while a frame is being written: only the
    first ``n_frames`` are complete. :meth:`refresh` rereads the metadata of a live run.
    """

    def __init__(self, path: Path | str) -> None:
        self.store_path = resolve_store(path).absolute()
        self.run_dir = self.store_path.parent
        if not is_lattice_run(self.store_path):
            raise ValueError(f"{self.store_path} is not a DTP Lattice run (no 'dtp_lattice' root attribute)")
        self.refresh()

    is_lattice_run = staticmethod(is_lattice_run)

    def refresh(self) -> RunReader:
        """Reopen the store (without consolidated metadata) and reread its attributes."""
        self.root = _open_root(self.store_path, "r")
        meta = self.root.attrs["dtp_lattice"]
        self.meta = meta
        self.ome = self.root.attrs["ome"]
        self.frame_times_h = np.asarray(meta["frame_times_h"], dtype=np.float64)
        self.frame_steps = np.asarray(meta["frame_steps"], dtype=np.int64)
        self.field_specs = list(meta["fields"])
        self.field_names = [f["name"] for f in self.field_specs]
        self.field_units = [f["units"] for f in self.field_specs]
        self.shape = tuple(meta["shape"])
        self.spacing_um = float(meta["spacing_um"])
        self.frame_every_h = float(meta["frame_every_h"])
        self.config = meta["config"]
        self.config_yaml = meta.get("config_yaml", "")
        self.version = meta["version"]
        self.seed = int(meta["seed"])
        self.replicate = int(meta["replicate"])
        self.labels = meta["labels"]
        self.fields = self.root[IMAGE_PATH]
        self.cells = self.root["labels/cells/0"]
        self.immune = self.root["labels/immune/0"]
        return self

    @property
    def n_frames(self) -> int:
        return len(self.frame_times_h)

    @property
    def summary_path(self) -> Path:
        return self.run_dir / SUMMARY_NAME

    def _frame_index(self, index: int) -> int:
        n = self.n_frames
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError(f"frame {index} out of range: {self.store_path} has {n} complete frames")
        return i

    def frame(self, index: int) -> dict[str, np.ndarray]:
        """Frame ``index`` (negative counts from the last complete one) in the lattice's own
        shape: ``cells``, ``immune`` ``S``; ``fields`` ``(F, *S)``."""
        i = self._frame_index(index)
        return {
            "cells": np.asarray(self.cells[i]).reshape(self.shape),
            "immune": np.asarray(self.immune[i]).reshape(self.shape),
            "fields": np.asarray(self.fields[i]).reshape(len(self.field_names), *self.shape),
        }

    def field(self, name: str, index: int) -> np.ndarray:
        """One field channel of one frame, shape ``S`` (reads only that channel)."""
        if name not in self.field_names:
            raise KeyError(f"no field named {name!r}; fields are {', '.join(self.field_names)}")
        i = self._frame_index(index)
        return np.asarray(self.fields[i, self.field_names.index(name)]).reshape(self.shape)

    def state(self) -> SavedState | None:
        """The saved state (None when no frame has completed)."""
        if STATE_PATH not in self.root:
            return None
        return read_state_group(self.root[STATE_PATH])


def open_run(path: Path | str) -> RunReader:
    """Open a run for reading, given its directory or its ``run.zarr``."""
    return RunReader(path)
