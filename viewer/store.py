"""Lazy, read-only access to run outputs for the viewer and the reports (no Qt, no napari).

Built on :class:`lattice.io.reader.RunReader`, the project's one reader of the layout of
docs/outputs.md: it opens every store with ``use_consolidated=False``, so a run that is still
being written shows its complete frames (a frame exists once its time is listed in the root
attribute ``dtp_lattice.frame_times_h``, the writer's commit point). Both layouts open: one
``run.zarr`` per run whose replicates are image groups ``replicate_<r>`` (each is shown as a run
of its own), and the older directory per replicate. A run recorded with ``output.frames=false``
has nothing to show and is refused with a message saying so.

Images are dask arrays over the zarr chunks (one chunk, or one inner chunk of a shard, per
frame and channel), so a run larger than memory opens instantly and only the shown slices are
read. 2D runs (``z = 1``) drop the singleton ``z`` axis in every layer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lattice.codes import CELL_LABELS, IMMUNE_LABELS
from lattice.io.layout import ROOT_ATTR, is_lattice_run
from lattice.io.reader import RunReader
from lattice.io.reader import find_runs as _find_views
from lattice.io.rundir import SUMMARY_NAME, ZARR_NAME
from lattice.io.summary import read_summary as _read_summary

LABEL_LAYERS = ("cells", "immune")
_DEFAULT_LABELS = {"cells": CELL_LABELS, "immune": IMMUNE_LABELS}

#: Upper contrast limit of oxygen, mmHg (arterial-like boundary value of the default config).
OXYGEN_MAX_MMHG = 38.0

#: summary.h5 columns plotted for each label code (name in :mod:`lattice.codes` → column).
IMMUNE_COLUMNS = {"t_cell": "t_cells", "exhausted_t_cell": "exhausted_t_cells", "macrophage": "macrophages"}

__all__ = [
    "IMMUNE_COLUMNS", "LABEL_LAYERS", "OXYGEN_MAX_MMHG", "ROOT_ATTR", "SUMMARY_NAME", "ZARR_NAME", "LabelCode",
    "RunStore", "TimeMap", "find_runs", "is_lattice_store", "open_runs", "read_summary",
]


# --------------------------------------------------------------------------------------------
# Finding runs


def is_lattice_store(path: Path | str) -> bool:
    """Whether ``path`` is a run directory, a ``run.zarr`` or a replicate group written by DTP
    Lattice. Never raises."""
    return is_lattice_run(path)


def find_runs(path: Path | str) -> list[Path]:
    """The run views under ``path`` (see :func:`lattice.io.reader.find_runs`): the run itself, one
    per replicate of an ensemble, or every run of a directory of replicates or of a sweep.
    Empty when ``path`` holds no DTP Lattice run."""
    return _find_views(path)


# --------------------------------------------------------------------------------------------
# Time axis


@dataclass(frozen=True)
class TimeMap:
    """How frames map onto napari's time axis (world coordinates).

    Evenly spaced frames: world ``t`` is the time in hours (``scale`` = frame interval,
    ``translate`` = time of frame 0). Otherwise world ``t`` is the frame index.
    """

    times_h: tuple[float, ...]
    scale: float
    translate: float
    in_hours: bool

    @classmethod
    def from_times(cls, times_h: Sequence[float], every_h: float | None = None) -> TimeMap:
        t = np.asarray(times_h, dtype=float)
        if t.size >= 2:
            d = np.diff(t)
            if d[0] > 0 and np.allclose(d, d[0], rtol=1e-6, atol=1e-9):
                return cls(tuple(t.tolist()), float(d[0]), float(t[0]), True)
            return cls(tuple(t.tolist()), 1.0, 0.0, False)
        step = float(every_h) if every_h and every_h > 0 else 1.0
        return cls(tuple(t.tolist()), step, float(t[0]) if t.size else 0.0, True)

    @property
    def axis_label(self) -> str:
        return "t (h)" if self.in_hours else "t (frame)"

    @property
    def unit(self) -> str:
        return "hour" if self.in_hours else "pixel"

    @property
    def n_frames(self) -> int:
        return len(self.times_h)

    def frame_of_world(self, world_t: float) -> int:
        """Nearest frame to a world time-axis coordinate."""
        if not self.times_h:
            return 0
        k = round((float(world_t) - self.translate) / self.scale)
        return int(min(max(k, 0), len(self.times_h) - 1))

    def world_of_frame(self, k: int) -> float:
        return self.translate + int(k) * self.scale

    def nearest_frame(self, time_h: float) -> int:
        """Frame nearest to a time in hours."""
        if not self.times_h or not math.isfinite(time_h):
            return 0
        return int(np.argmin(np.abs(np.asarray(self.times_h) - float(time_h))))

    def time_of_world(self, world_t: float) -> float:
        """Time (h) of the frame shown at a world time coordinate."""
        if not self.times_h:
            return 0.0
        return self.times_h[self.frame_of_world(world_t)]


# --------------------------------------------------------------------------------------------
# A run


@dataclass(frozen=True)
class LabelCode:
    code: int
    name: str
    rgba: tuple[float, float, float, float]


class RunStore:
    """One run view (one replicate of a run): its frames and its ``summary.h5`` rows, read lazily.

    Args:
        path: run directory, ``run.zarr``, or an ensemble's ``run.zarr/replicate_<r>``.
        label: short name shown in layer names and plots (default: the run directory's name, or
            ``replicate_<r>`` for a replicate of an ensemble).

    Raises:
        ValueError: ``path`` is not a DTP Lattice run, or records no frames.
    """

    def __init__(self, path: Path | str, label: str | None = None) -> None:
        try:
            reader = RunReader(path)
        except (FileNotFoundError, ValueError):
            raise ValueError(
                f"{path} is not a DTP Lattice run (no run.zarr with a '{ROOT_ATTR}' root attribute)") from None
        if not reader.has_frames:
            raise ValueError(f"{path} records only the summary (output.frames=false): there are no frames to show; "
                             f"read {reader.summary_path} instead")
        self.reader = reader
        self.store_path = reader.store_path
        self.run_dir = reader.run_dir
        self.label = label or reader.label
        self.refresh()

    # -- metadata -------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Reopen the store without consolidated metadata and reread its attributes.

        Returns True when the number of complete frames changed (a live run grew).
        """
        old = getattr(self, "n_frames", None)
        r = self.reader.refresh()
        self.root = r.root
        self.meta = r.meta
        self.ome = r.ome
        self.config = r.config or {}
        self.version = r.version
        self.replicate = r.replicate
        self.image = r.fields
        self.label_arrays = {"cells": r.cells, "immune": r.immune}
        self.n_frames = r.n_frames
        self.frame_times_h = np.asarray(r.frame_times_h, dtype=float)
        self.fields: list[dict[str, str]] = [
            {"name": str(f.get("name")), "units": str(f.get("units", "")), "description": str(f.get("description", ""))}
            for f in r.field_specs
        ]
        self.zyx = tuple(int(n) for n in self.image.shape[2:])
        self.is2d = self.zyx[0] == 1
        self.spacing_zyx_um = self._spacing()
        self.time = TimeMap.from_times(self.frame_times_h, self._frame_every_h())
        return old is not None and old != self.n_frames

    def _ome_scale(self) -> list[float] | None:
        try:
            for tr in self.ome["multiscales"][0]["datasets"][0]["coordinateTransformations"]:
                if tr.get("type") == "scale":
                    return [float(s) for s in tr["scale"]]
        except (KeyError, IndexError, TypeError):
            pass
        return None

    def _spacing(self) -> tuple[float, float, float]:
        scale = self._ome_scale()
        if scale and len(scale) == 5:
            return tuple(scale[2:])  # type: ignore[return-value]
        s = float(self.meta.get("spacing_um", 1.0))
        return (s, s, s)

    def _frame_every_h(self) -> float | None:
        if "frame_every_h" in self.meta:
            return float(self.meta["frame_every_h"])
        scale = self._ome_scale()
        return scale[0] if scale else None

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.fields]

    def field_spec(self, name: str) -> dict[str, str]:
        for f in self.fields:
            if f["name"] == name:
                return f
        raise KeyError(f"no field named {name!r}; fields are {', '.join(self.field_names)}")

    def spatial_axes(self, keep_z: bool = False) -> tuple[str, ...]:
        """Displayed spatial axes: ``(y, x)`` for a 2D run unless ``keep_z``, else ``(z, y, x)``."""
        return ("y", "x") if self.is2d and not keep_z else ("z", "y", "x")

    def spatial_scale(self, keep_z: bool = False) -> tuple[float, ...]:
        """µm per voxel along the displayed spatial axes."""
        return self.spacing_zyx_um[1:] if self.is2d and not keep_z else self.spacing_zyx_um

    @property
    def extent_x_um(self) -> float:
        return self.zyx[-1] * self.spacing_zyx_um[-1]

    def label_codes(self, layer: str) -> list[LabelCode]:
        """Codes, names and colours of a label layer: the store's ``labels`` attribute, else
        :mod:`lattice.codes`."""
        stored = (self.meta.get("labels") or {}).get(layer)
        if stored:
            return [LabelCode(int(e["code"]), str(e["name"]), tuple(float(c) for c in e["rgba"])) for e in stored]
        return [LabelCode(code, name, rgba) for code, (name, rgba) in _DEFAULT_LABELS[layer].items()]

    def drug_names(self) -> list[str]:
        """Drugs of the treatment, in config order (empty without a treatment)."""
        drugs = ((self.config.get("treatment") or {}).get("drugs")) or {}
        return list(drugs) if isinstance(drugs, dict) else []

    def primary_drug_field(self) -> str | None:
        """The field of the primary drug: ``drug_primary``, else the first drug's field, else the
        first field whose name starts with ``drug_``."""
        names = self.field_names
        candidates = ["drug_primary"] + [f"drug_{d}" for d in self.drug_names()] + self.drug_names()
        for c in candidates:
            if c in names:
                return c
        return next((n for n in names if n.startswith("drug_")), None)

    def visible_by_default(self, name: str) -> bool:
        return name == "oxygen" or name == self.primary_drug_field()

    def contrast_limits(self, name: str) -> tuple[float, float]:
        """Oxygen 0–38 mmHg (or up to its maximum if higher); other fields from 0 (or their
        minimum when negative) to the maximum over the frames written so far (the writer's omero
        window), else over the first and last frames."""
        lo, hi = self._window(name)
        if name == "oxygen":
            return 0.0, max(OXYGEN_MAX_MMHG, hi if math.isfinite(hi) else 0.0)
        lo = min(lo, 0.0) if math.isfinite(lo) else 0.0
        if not math.isfinite(hi) or hi <= lo:
            hi = lo + 1.0
        return float(lo), float(hi)

    def _window(self, name: str) -> tuple[float, float]:
        c = self.field_names.index(name)
        try:
            w = self.ome["omero"]["channels"][c]["window"]
            lo, hi = float(w["min"]), float(w["max"])
            if self.n_frames and hi > lo:
                return lo, hi
        except (KeyError, IndexError, TypeError, ValueError):
            pass
        if not self.n_frames:
            return math.nan, math.nan
        frames = {0, self.n_frames - 1}
        data = np.concatenate([np.ravel(self.image[k, c]) for k in sorted(frames)])
        data = data[np.isfinite(data)]
        if not data.size:
            return math.nan, math.nan
        return float(data.min()), float(data.max())

    # -- data -----------------------------------------------------------------------------------

    def _squeeze(self, a, keep_z: bool):
        return a[:, 0] if self.is2d and not keep_z else a

    def label_data(self, layer: str, keep_z: bool = False):
        """dask uint8 ``(t, [z,] y, x)`` of a label layer (complete frames only); ``z`` is dropped
        in 2D runs unless ``keep_z`` (to line up with 3D runs in the same viewer)."""
        import dask.array as da

        arr = self.label_arrays[layer]
        d = da.from_array(arr, chunks=(1, *arr.chunks[1:]), asarray=True, lock=False, name=False)
        return self._squeeze(d[: self.n_frames], keep_z)

    def field_data(self, name: str, keep_z: bool = False):
        """dask float32 ``(t, [z,] y, x)`` of one field channel (complete frames only)."""
        import dask.array as da

        c = self.field_names.index(name)
        arr = self.image
        chunks = (1, 1, *arr.chunks[2:])
        d = da.from_array(arr, chunks=chunks, asarray=True, lock=False, name=False)
        return self._squeeze(d[: self.n_frames, c], keep_z)

    def frame_labels(self, layer: str, k: int) -> np.ndarray:
        """One frame of a label layer, ``([z,] y, x)``."""
        a = np.asarray(self.label_arrays[layer][int(k)])
        return a[0] if self.is2d else a

    def frame_field(self, name: str, k: int) -> np.ndarray:
        a = np.asarray(self.image[int(k), self.field_names.index(name)])
        return a[0] if self.is2d else a

    def counts(self, layer: str, k: int) -> dict[int, int]:
        """Voxels per code in frame ``k`` of a label layer."""
        n = np.bincount(self.frame_labels(layer, k).ravel(), minlength=256)
        return {code: int(n[code]) for code in range(256) if n[code]}

    # -- summary --------------------------------------------------------------------------------

    @property
    def summary_path(self) -> Path:
        return self.run_dir / SUMMARY_NAME

    def summary(self) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """This replicate's ``summary.h5`` rows and events; empty dicts when the file is missing
        or unreadable (a run that has not written its first frame yet)."""
        try:
            return self.reader.summary()
        except (OSError, KeyError):
            return {}, {}


def read_summary(path: Path | str, replicate: int = 0) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """``(timeseries, events)`` of one replicate of a ``summary.h5``; empty dicts when it cannot
    be read."""
    try:
        ts, ev, _ = _read_summary(Path(path), replicate=replicate)
        return ts, ev
    except (OSError, KeyError):
        return {}, {}


def open_runs(paths: Iterable[Path | str]) -> list[RunStore]:
    """Open every run view under ``paths`` (see :func:`find_runs`), labelled by directory name
    (``replicate_<r>`` for an ensemble's replicates; made unique with the parent's name when two
    share one).

    Raises:
        ValueError: a path holds no DTP Lattice run.
    """
    views: list[Path] = []
    for p in paths:
        found = find_runs(p)
        if not found:
            raise ValueError(f"{p} holds no DTP Lattice run (no run.zarr with a '{ROOT_ATTR}' root attribute)")
        views.extend(found)
    run_dirs = [_run_dir(v) for v in views]
    labels = [v.name if v.name.startswith("replicate_") and v.parent.name == ZARR_NAME else d.name
              for v, d in zip(views, run_dirs)]
    if len(set(labels)) < len(labels):
        labels = [f"{d.parent.name}/{lab}" if lab == d.name else f"{d.name}/{lab}" for d, lab in zip(run_dirs, labels)]
    if len(set(labels)) < len(labels):
        labels = [f"{lab} [{i}]" for i, lab in enumerate(labels)]
    return [RunStore(v, lab) for v, lab in zip(views, labels)]


def _run_dir(view: Path) -> Path:
    """The run directory of a run view path (``run.zarr``, ``run.zarr/replicate_<r>`` or the directory)."""
    view = Path(view)
    if view.parent.name == ZARR_NAME and view.name.startswith("replicate_"):
        return view.parent.parent
    return view.parent if view.name == ZARR_NAME else view
