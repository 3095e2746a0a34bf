"""Read access to runs, finished or still being written: the one reader that tests, the viewer
(:mod:`lattice.viewer.store`), ``lattice-run resume=`` and tools use (docs/outputs.md).

A *run view* is one replicate of one run. It is opened from a run directory, its ``run.zarr``,
or a replicate group ``run.zarr/replicate_<r>`` (or with ``replicate=r``); both layouts are
read: schema 2 (one store per run, this version) and schema 1 (a directory per replicate).
A frame exists once its time is listed in ``dtp_lattice.frame_times_h`` (the writer's commit
point), whatever the arrays' ``t`` extent.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Self

import numpy as np

from lattice.io import checkpoint
from lattice.io.layout import (
    IMAGE_PATH,
    ROOT_ATTR,
    STATE_PATH,
    image_group_path,
    is_lattice_run,
    locate,
    open_root,
    read_group_attrs,
    replicate_group,
)
from lattice.io.remote import localize
from lattice.io.rundir import SUMMARY_NAME, ZARR_NAME
from lattice.io.summary import read_summary


class RunReader:
    """One replicate of a run, read lazily.

    Args:
        path: run directory, ``run.zarr``, or ``run.zarr/replicate_<r>``.
        replicate: which replicate (default: the one ``path`` names, else 0).

    Attributes:
        run_dir: the run directory; ``store_path``: its ``run.zarr``.
        replicate, replicates: this view's replicate and the run's count ``R``.
        schema_version: 1 (a directory per replicate) or 2 (one store per run).
        has_frames: False for a run recorded with ``output.frames=false`` (summary only).
        frame_times_h: float64 ``(T,)``: times of the complete frames, h; ``n_frames = T``.
        frame_steps: int64 ``(T,)``: cell steps of the frames.
        field_specs, field_names, field_units: per channel of ``fields``.
        shape: lattice shape, ``(y, x)`` or ``(z, y, x)``; ``zyx``: the stored spatial shape
            (``z = 1`` in 2D); ``spacing_um``: voxel edge, µm.
        config: the resolved config (dict); ``config_yaml``, ``version``, ``seed``.
        labels: per layer, the list of ``{code, name, rgba}``.
        ome: this replicate image's ``ome`` attribute (with the live display windows).
        fields: lazy zarr array, float32 ``(t, c, z, y, x)`` (None without frames).
        cells, immune: lazy zarr arrays, uint8 ``(t, z, y, x)`` (None without frames).

    The arrays' ``t`` extent can exceed ``n_frames`` (frames reserved or being written): only the
    first ``n_frames`` are complete. :meth:`refresh` rereads the metadata of a live run.

    Raises:
        FileNotFoundError: nothing at ``path`` is a zarr v3 store.
        ValueError: ``path`` is not a DTP Lattice run, or has no such replicate.
    """

    def __init__(self, path: Path | str, replicate: int | None = None) -> None:
        store, named = locate(localize(path))  # a URL is read from a local copy (lattice.io.remote)
        self.store_path = store.absolute()
        self.run_dir = self.store_path.parent
        if not is_lattice_run(self.store_path):
            raise ValueError(f"{self.store_path} is not a DTP Lattice run (no 'dtp_lattice' root attribute)")
        self._asked = named if named is not None else replicate
        self.refresh()

    is_lattice_run = staticmethod(is_lattice_run)

    def refresh(self) -> Self:
        """Reopen the store (without consolidated metadata) and reread its attributes."""
        self.root = open_root(self.store_path, "r")
        meta = self.root.attrs[ROOT_ATTR]
        self.meta = meta
        self.schema_version = int(meta.get("schema_version", 1))
        self.replicates = int(meta.get("replicates", 1))
        if self.replicates == 1:  # schema 1 stored the replicate's index in its own directory's store
            self.replicate, self._index = int(meta.get("replicate", 0)), 0
        else:
            self.replicate = self._index = int(self._asked or 0)
            if not 0 <= self._index < self.replicates:
                raise ValueError(f"{self.store_path} holds replicates 0…{self.replicates - 1}, not {self._index}")
        if self._asked is not None and int(self._asked) not in (self.replicate, self._index):
            raise ValueError(f"{self.store_path} holds replicates 0…{self.replicates - 1}, not {self._asked}")
        self.has_frames = bool(meta.get("frames", True))
        self.field_specs = list(meta["fields"])
        self.field_names = [f["name"] for f in self.field_specs]
        self.field_units = [f["units"] for f in self.field_specs]
        self.shape = tuple(meta["shape"])
        self.zyx = (1, *self.shape) if len(self.shape) == 2 else self.shape
        self.spacing_um = float(meta["spacing_um"])
        self.frame_every_h = float(meta["frame_every_h"])
        self.config = meta["config"]
        self.config_yaml = meta.get("config_yaml", "")
        self.version = meta["version"]
        self.seed = int(meta["seed"])
        self.labels = meta["labels"]
        complete = len(meta["frame_times_h"])
        if self.has_frames:
            path = image_group_path(self.replicates, self._index)
            group = self.root if not path else self.root[path]
            self.image_group = group
            self.ome = copy.deepcopy(group.attrs.get("ome", {}))
            windows = meta.get("windows")
            if windows:  # an ensemble keeps its live display windows in the root metadata
                for c, w in zip(self.ome.get("omero", {}).get("channels", []), windows):
                    c["window"] = {"min": w[0], "max": w[1], "start": w[0], "end": w[1]}
            self.fields = group[IMAGE_PATH]
            self.cells = group["labels/cells/0"]
            self.immune = group["labels/immune/0"]
            complete = min(complete, self.fields.shape[0], self.cells.shape[0], self.immune.shape[0])
        else:
            self.image_group, self.ome, self.fields, self.cells, self.immune = None, {}, None, None, None
            complete = 0
        self.frame_times_h = np.asarray(meta["frame_times_h"][:complete], dtype=np.float64)
        self.frame_steps = np.asarray(meta["frame_steps"][:complete], dtype=np.int64)
        return self

    @property
    def n_frames(self) -> int:
        return len(self.frame_times_h)

    @property
    def label(self) -> str:
        """Short name: ``replicate_<r>`` for a replicate of an ensemble, else the run directory's name."""
        return replicate_group(self.replicate) if self.replicates > 1 else self.run_dir.name

    @property
    def summary_path(self) -> Path:
        return self.run_dir / SUMMARY_NAME

    def replicate_view(self, r: int) -> RunReader:
        """Another replicate of the same run."""
        return RunReader(self.run_dir, replicate=r)

    def _frame_index(self, index: int) -> int:
        if not self.has_frames:
            raise IndexError(f"{self.run_dir} records only the summary (output.frames=false): no frames to read")
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

    def summary(self) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """This replicate's ``summary.h5`` rows and events.

        Raises:
            OSError: the file is missing or unreadable (a run before its first frame).
        """
        ts, events, _ = read_summary(self.summary_path, replicate=self._index)
        return ts, events

    def state(self) -> checkpoint.SavedState | None:
        """The run's checkpoint, every replicate (None when no frame has completed).

        Raises:
            OutputError: the checkpoint is unreadable (names the file and what to do).
        """
        path = self.store_path / STATE_PATH
        if not path.exists():
            return None
        return checkpoint.read_state_group(path)


def open_run(path: Path | str, replicate: int | None = None) -> RunReader:
    """Open one replicate of a run for reading (see :class:`RunReader`)."""
    return RunReader(path, replicate)


def find_runs(path: Path | str) -> list[Path]:
    """Every run view under ``path``, as paths :class:`RunReader` opens: the run itself (its
    ``run.zarr``), one ``run.zarr/replicate_<r>`` per replicate of an ensemble with frames, or,
    for a directory of schema-1 replicates (``replicate_000/``…) or a sweep, those of every
    direct sub-directory holding a run. Empty when ``path`` holds no DTP Lattice run."""
    try:
        path = localize(path).expanduser()
    except FileNotFoundError:  # a URL with nothing under it
        return []
    if is_lattice_run(path):
        store, named = locate(path)
        if named is not None:
            return [path]
        meta = (read_group_attrs(store) or {}).get(ROOT_ATTR) or {}
        replicates = int(meta.get("replicates", 1))
        if replicates > 1 and meta.get("frames", True):
            return [store / replicate_group(r) for r in range(replicates)]
        return [store]
    if not path.is_dir() or (path / "zarr.json").is_file():
        return []
    try:
        subs = sorted(p for p in path.iterdir() if p.is_dir() and (p / ZARR_NAME).is_dir())
    except OSError:
        return []
    return [view for p in subs for view in find_runs(p)]
