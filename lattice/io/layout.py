"""Names and storage rules of ``run.zarr`` (docs/outputs.md): where each array lives, how a frame
is chunked and compressed, and how a path is recognised as a DTP Lattice run.

One store per run, whatever the number of replicates ``R``::

    run.zarr/zarr.json          root attributes "dtp_lattice" (frame times = the commit point)
    run.zarr/0, labels/         R = 1: the root itself is the OME image (as in schema 1)
    run.zarr/replicate_<r>/     R > 1: one OME image group per replicate (0/, labels/)
    run.zarr/state/             the checkpoint: every replicate's state, replicate axis first
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr
import zarr.codecs
from zarr.storage import LocalStore

from lattice.codes import CELL_LABELS, IMMUNE_LABELS
from lattice.io.rundir import ZARR_NAME

#: Version of the layout. 1: one directory (run.zarr + summary.h5) per replicate; 2: one store
#: and one summary table per run, replicate groups, checkpoint with a replicate axis.
SCHEMA_VERSION = 2
ROOT_ATTR = "dtp_lattice"
IMAGE_PATH = "0"
STATE_PATH = "state"
TABLE_PATH = "timeseries"
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


def replicate_group(r: int) -> str:
    """Name of replicate ``r``'s image group inside an ensemble store (``replicate_007``)."""
    return f"replicate_{int(r):03d}"


def image_group_path(replicates: int, r: int) -> str:
    """Path of replicate ``r``'s OME image group inside ``run.zarr`` ("" = the root, R = 1)."""
    return "" if replicates == 1 else replicate_group(r)


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


def compressor(dtype: np.dtype) -> zarr.codecs.BloscCodec:
    """zstd level 1 with byte shuffle for multi-byte data (fields), level 3 for uint8 labels."""
    if np.dtype(dtype).itemsize > 1:
        return zarr.codecs.BloscCodec(cname="zstd", clevel=1, shuffle="shuffle")
    return zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="noshuffle")


def to_numpy(a) -> np.ndarray:
    """A NumPy array (CuPy arrays are copied to the host)."""
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "get") and callable(a.get):  # CuPy
        return a.get()
    return np.asarray(a)


def jsonable(obj: Any, nonfinite_as_str: bool = False) -> Any:
    """A JSON-safe copy: tuples → lists, NumPy scalars → Python, paths and other objects → str,
    non-finite floats → None (or ``"nan"``/``"inf"``/``"-inf"``, which OmegaConf reads back as
    floats, when ``nonfinite_as_str``)."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v, nonfinite_as_str) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, nonfinite_as_str) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist(), nonfinite_as_str)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        return str(obj) if nonfinite_as_str else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    return str(obj)


def rmtree(path: Path) -> None:
    """Remove a file or directory tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def open_root(store_path: Path, mode: str) -> zarr.Group:
    """The store's root group, never from consolidated metadata (it is stale while a run grows)."""
    store = LocalStore(store_path, read_only=(mode == "r"))
    return zarr.open_group(store=store, mode=mode, use_consolidated=False)


def read_group_attrs(group_dir: Path) -> dict | None:
    """The attributes of the zarr v3 group at ``group_dir`` (None when it is not one). Never raises."""
    try:
        meta = json.loads((Path(group_dir) / "zarr.json").read_text())
    except Exception:  # noqa: BLE001 - unreadable or foreign: not a group we know
        return None
    if not isinstance(meta, dict) or meta.get("node_type") != "group":
        return None
    return meta.get("attributes") or {}


def locate(path: Path | str) -> tuple[Path, int | None]:
    """``(run.zarr, replicate)`` for a run directory, its ``run.zarr``, or a replicate group
    ``run.zarr/replicate_<r>`` (then ``replicate = r``, else None).

    Raises:
        FileNotFoundError: ``path`` is none of these (no zarr v3 group there).
    """
    path = Path(path).expanduser()
    if (path / ZARR_NAME / "zarr.json").is_file():
        return path / ZARR_NAME, None
    if (path / "zarr.json").is_file():
        attrs = read_group_attrs(path) or {}
        own = attrs.get(ROOT_ATTR)
        if isinstance(own, dict) and "ensemble" in own and "frame_times_h" not in own:
            return path.parent, int(own["replicate"])
        return path, None
    raise FileNotFoundError(f"{path} is neither a run directory (holding {ZARR_NAME}) nor a zarr v3 store")


def is_lattice_run(path: Path | str) -> bool:
    """Whether ``path`` (a run directory, its ``run.zarr`` or a replicate group in it) was written
    by DTP Lattice: a zarr v3 group whose root attributes hold ``dtp_lattice``. Never raises."""
    try:
        store, _ = locate(path)
    except FileNotFoundError:
        return False
    attrs = read_group_attrs(store)
    return attrs is not None and isinstance(attrs.get(ROOT_ATTR), dict)
