"""The frame writer: one ``run.zarr`` and one ``summary.h5`` per run, for any number of
replicates (docs/outputs.md).

:meth:`RunWriter.record` is one recording point of the run, for all replicates at once:

1. the frame's data: one chunk (or shard) per array and replicate, written concurrently;
2. ``summary.h5`` rewritten atomically with every row so far;
3. the frame's time appended to the root attribute ``dtp_lattice.frame_times_h`` — the commit
   point: a frame exists once it is listed there, so readers take ``len(frame_times_h)`` as the
   number of complete frames, whatever the arrays' ``t`` extent;
4. (at checkpoints) the checkpoint replaced (:mod:`lattice.io.checkpoint`).

A crash at any moment therefore loses at most the frame being written. The arrays' ``t`` extent
is reserved ahead for the frames the run plans (so a frame costs no metadata write per array)
and trimmed to the complete frames by :meth:`RunWriter.close`; :meth:`RunWriter.reopen` trims it
to the checkpoint's frames. zarr's ``LocalStore`` writes every file through a temporary name and
a rename, so a failed write (disk full) leaves the previous metadata intact.

Live readers open the store with ``use_consolidated=False``; metadata is consolidated only by
:meth:`RunWriter.close`.
"""

from __future__ import annotations

import asyncio
import copy
import errno as errno_codes
import json
import os
import shutil
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import zarr
from zarr.storage import LocalStore, StorePath

from lattice.io import checkpoint, ome
from lattice.io.layout import (
    IMAGE_AXES,
    IMAGE_PATH,
    LABEL_AXES,
    LABEL_LAYERS,
    ROOT_ATTR,
    SCHEMA_VERSION,
    STATE_PATH,
    chunk_layout,
    compressor,
    is_lattice_run,
    jsonable,
    locate,
    open_root,
    replicate_group,
    rmtree,
    to_numpy,
)
from lattice.io.rundir import (
    STORE_TMP_NAME,
    SUMMARY_NAME,
    ZARR_NAME,
    OutputError,
    RunExistsError,
    resume_hint,
)
from lattice.io.summary import Describe, check_events, check_table, write_summary
from lattice.state import VOXEL_ARRAYS


def _set_all(jobs: list[tuple[zarr.Array, Any, np.ndarray]]) -> None:
    """``array[index] = value`` for every job, concurrently (zarr's event loop overlaps the
    compression and file writes of the many small chunks of an ensemble frame)."""
    try:
        from zarr.core.sync import sync
    except ImportError:  # pragma: no cover - a zarr without the sync helper: one at a time
        for arr, index, value in jobs:
            arr[index] = value
        return

    async def gather() -> None:
        await asyncio.gather(*(arr.async_array.setitem(index, value) for arr, index, value in jobs))

    sync(gather())


#: A replicate image's group (None: opened when needed), field array and label arrays.
_Handles = tuple[zarr.Group | None, zarr.Array, dict[str, zarr.Array]]


def _create_images(
    root: zarr.Group, replicates: int, specs, zyx, spacing_um: float, time, extent: int, image: dict,
) -> list[_Handles]:
    """Create every replicate's OME image (``0``, ``labels/…``); the root itself is the image
    when there is one replicate.

    Replicate 0 is created through zarr; the others are its metadata files copied (zarr v3
    metadata is plain JSON on disk, identical for every replicate but the index in the group's
    attributes), which costs a few small file writes per replicate instead of seven zarr
    creations. Their handles share replicate 0's parsed metadata (no reads).
    """
    img_chunks, img_shards = chunk_layout((len(specs), *zyx), 4, 1)
    lab_chunks, lab_shards = chunk_layout(zyx, 1, 0)
    g0 = root if replicates == 1 else root.create_group(
        replicate_group(0), attributes={"ome": image, ROOT_ATTR: {"ensemble": True, "replicate": 0}})
    arr = g0.create_array(
        IMAGE_PATH, shape=(extent, len(specs), *zyx), dtype=np.float32, chunks=(1, *img_chunks),
        shards=None if img_shards is None else (1, *img_shards), compressors=compressor(np.float32),
        fill_value=0.0, dimension_names=IMAGE_AXES,
    )
    labels = g0.create_group("labels", attributes={"ome": ome.labels_group_attrs()})
    layers = {}
    for layer in LABEL_LAYERS:
        lg = labels.create_group(layer, attributes={"ome": ome.label_attrs(layer, spacing_um, time)})
        layers[layer] = lg.create_array(
            "0", shape=(extent, *zyx), dtype=np.uint8, chunks=(1, *lab_chunks),
            shards=None if lab_shards is None else (1, *lab_shards), compressors=compressor(np.uint8),
            fill_value=0, dimension_names=LABEL_AXES,
        )
    handles: list[_Handles] = [(g0, arr, layers)]
    if replicates == 1:
        return handles
    store_dir = Path(str(root.store.root))
    template = store_dir / replicate_group(0)
    files = sorted(p.relative_to(template) for p in template.rglob("zarr.json"))
    group_meta = json.loads((template / "zarr.json").read_text())
    store = root.store
    for r in range(1, replicates):
        name = replicate_group(r)
        for rel in files:
            target = store_dir / name / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel == Path("zarr.json"):
                group_meta["attributes"][ROOT_ATTR]["replicate"] = r
                target.write_text(json.dumps(group_meta, indent=2))
            else:
                shutil.copyfile(template / rel, target)

        def twin(a: zarr.Array, path: str) -> zarr.Array:
            return zarr.Array(zarr.AsyncArray(a.metadata, StorePath(store, path)))

        handles.append((
            None, twin(arr, f"{name}/{IMAGE_PATH}"),
            {layer: twin(a, f"{name}/labels/{layer}/0") for layer, a in layers.items()},
        ))
    return handles


def _rebind(handles: _Handles, root: zarr.Group, replicates: int) -> _Handles:
    """The same arrays, addressed through ``root``'s store (after the store was renamed)."""
    _, image, labels = handles

    def on_root(a: zarr.Array) -> zarr.Array:
        return zarr.Array(zarr.AsyncArray(a.metadata, StorePath(root.store, a.path)))

    return (root if replicates == 1 else None), on_root(image), {k: on_root(a) for k, a in labels.items()}


def _open_images(root: zarr.Group, replicates: int) -> list[_Handles]:
    """Open every replicate's image arrays, replicates concurrently."""
    from zarr.core.sync import sync

    async def one(r: int) -> _Handles:
        g = root._async_group if replicates == 1 else await root._async_group.getitem(replicate_group(r))
        arr = await g.getitem(IMAGE_PATH)
        layers = {layer: zarr.Array(await g.getitem(f"labels/{layer}/0")) for layer in LABEL_LAYERS}
        return None if replicates > 1 else zarr.Group(g), zarr.Array(arr), layers

    async def all_() -> list[_Handles]:
        return list(await asyncio.gather(*(one(r) for r in range(replicates))))

    return sync(all_())


class RunWriter:
    """Writes a run's frames, summary table and checkpoint, all replicates together.

    Args:
        run_dir: the run directory (prepared by :func:`lattice.io.rundir.prepare_run_dir`).
        shape: lattice shape, ``(y, x)`` or ``(z, y, x)``.
        spacing_um: voxel edge, µm.
        field_specs: per field channel, in ``State.fields`` order: ``dict(name, units,
            description)`` (or :class:`lattice.fields.FieldSpec`).
        config: the resolved config (stored as ``dtp_lattice.config``).
        config_yaml: the resolved config as YAML text (``summary.h5`` attribute).
        seed: the run's seed; version: the simulator's version.
        frame_every_h: nominal interval between frames, h (OME time scale before two frames exist).
        replicates: ``R``; R > 1 writes one OME image group per replicate (``replicate_<r>``).
        frames: record frames; False records only the summary table and the checkpoint
            (``output.frames=false``: large ensembles, sweeps).
        describe: ``(units, description)`` of a summary column or event (``summary.h5`` attributes).
        planned_frames: frames the run expects (their ``t`` extent is reserved at once).
        replicate: schema-1 compatibility for one-replicate writers: the index stored as
            ``dtp_lattice.replicate``.

    Raises:
        RunExistsError: ``run_dir`` already holds ``run.zarr``.
        OutputError: the store cannot be created.
    """

    def __init__(
        self, run_dir: Path, *, shape: tuple[int, ...], spacing_um: float, field_specs: Sequence[Any],
        config: Mapping[str, Any], config_yaml: str, seed: int, version: str, frame_every_h: float,
        replicates: int = 1, frames: bool = True, describe: Describe | None = None, planned_frames: int = 0,
        replicate: int = 0,
    ) -> None:
        run_dir = Path(run_dir).expanduser().absolute()
        shape = tuple(int(n) for n in shape)
        if len(shape) not in (2, 3):
            raise ValueError(f"shape must be (y, x) or (z, y, x), got {shape}")
        if replicates < 1:
            raise ValueError(f"replicates must be at least 1, got {replicates}")
        specs = [ome.field_spec(s) for s in field_specs]
        store_path = run_dir / ZARR_NAME
        if store_path.exists():
            raise RunExistsError(
                f"{run_dir} already holds a run ({ZARR_NAME}): pass resume={run_dir} to continue it, "
                f"output.overwrite=true to replace it, or choose another hydra.run.dir"
            )
        meta = {
            "schema_version": SCHEMA_VERSION,
            "version": str(version),
            "config": jsonable(config, nonfinite_as_str=True),
            "config_yaml": str(config_yaml),
            "fields": specs,
            "labels": ome.label_metadata(),
            "frame_times_h": [],
            "frame_steps": [],
            "frame_every_h": float(frame_every_h),
            "shape": list(shape),
            "spacing_um": float(spacing_um),
            "seed": int(seed),
            "replicates": int(replicates),
            "frames": bool(frames),
        }
        if replicates == 1:
            meta["replicate"] = int(replicate)
        zyx = (1, *shape) if len(shape) == 2 else shape
        time = ome.time_axis([], frame_every_h)
        image = ome.image_attrs(specs, zyx, spacing_um, time)
        extent = max(int(planned_frames), 0)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            # Built under a scratch name and renamed into place: a reader polling for the run
            # (the viewer, a script) never finds a store whose replicate images are half made.
            building = run_dir / STORE_TMP_NAME
            rmtree(building)
            root_attrs = {ROOT_ATTR: meta} | ({"ome": image} if frames and replicates == 1 else {})
            root = zarr.open_group(store=LocalStore(building), mode="w-", attributes=root_attrs)
            handles = _create_images(root, replicates, specs, zyx, spacing_um, time, extent, image) if frames else []
            os.rename(building, store_path)
            root = open_root(store_path, "r+")
            handles = [_rebind(h, root, replicates) for h in handles]
        except OSError as e:
            raise OutputError(
                f"cannot create {store_path}: {e.strerror or e}; free space or fix permissions, then start "
                f"again with output.overwrite=true", e.errno, e.filename,
            ) from e
        self._attach(run_dir, root, meta, image, state_step=None, describe=describe, handles=handles)
        self._planned = extent

    # -- construction shared with reopen ------------------------------------------------------

    def _attach(self, run_dir: Path, root: zarr.Group, meta: dict, image: dict | None, state_step: int | None,
                describe: Describe | None, handles: list | None = None) -> None:
        self.run_dir = run_dir
        self.store_path = run_dir / ZARR_NAME
        self.summary_path = run_dir / SUMMARY_NAME
        self.describe = describe
        self._root = root
        self._meta = meta
        self.shape = tuple(meta["shape"])
        self.zyx = (1, *self.shape) if len(self.shape) == 2 else self.shape
        self.spacing_um = float(meta["spacing_um"])
        self.field_specs = list(meta["fields"])
        self.config = meta["config"]
        self.config_yaml = meta["config_yaml"]
        self.seed = int(meta["seed"])
        self.version = meta["version"]
        self.frame_every_h = float(meta["frame_every_h"])
        self.replicates = int(meta.get("replicates", 1))
        self.frames = bool(meta.get("frames", True))
        if handles is None:
            handles = _open_images(root, self.replicates) if self.frames else []
        self._group_handles: list[zarr.Group | None] = [h[0] for h in handles]
        self._images: list[zarr.Array] = [h[1] for h in handles]
        self._labels: list[dict[str, zarr.Array]] = [h[2] for h in handles]
        if image is not None and meta["frame_times_h"]:
            self._windows = [[c["window"]["min"], c["window"]["max"]] for c in image["omero"]["channels"]]
        else:
            self._windows = meta.get("windows")
        self._time = ome.time_axis(meta["frame_times_h"], self.frame_every_h)
        self._state_step = state_step
        self._planned = 0
        self._closed = False
        self._failed = False
        #: Called after every complete recording point (the remote mirror of lattice.io.remote).
        self.after_record: Callable[[], None] | None = None

    @classmethod
    def reopen(cls, run_dir: Path, describe: Describe | None = None) -> tuple[Self, checkpoint.SavedState]:
        """Reopen a run to continue it from its checkpoint.

        Finishes or undoes an interrupted checkpoint swap, drops the frames newer than the
        checkpoint (and any frame written but not committed), rewrites ``summary.h5`` to the
        checkpoint's rows and removes consolidated metadata (it would go stale as frames are
        added). Runs of schema 1 with one replicate are continued in place.

        Returns:
            ``(writer, state)``: a writer that appends after the checkpoint's frames, and the
            checkpoint.

        Raises:
            FileNotFoundError: ``run_dir`` holds no DTP Lattice run.
            OutputError: no checkpoint (nothing to resume from), an unreadable one, or the
                store cannot be updated.
        """
        given = Path(run_dir).expanduser().absolute()
        try:
            store_path, _ = locate(given)
        except FileNotFoundError:
            store_path = given / ZARR_NAME
        run_dir = store_path.parent
        if not is_lattice_run(store_path):
            raise FileNotFoundError(
                f"{given} holds no DTP Lattice run ({ZARR_NAME} with a 'dtp_lattice' root attribute); "
                f"check the path given to resume="
            )
        try:
            checkpoint.recover_state_swap(run_dir)
            root = open_root(store_path, "r+")
            meta = copy.deepcopy(root.attrs[ROOT_ATTR])
            image = copy.deepcopy(root.attrs.get("ome"))
            if not (store_path / STATE_PATH).exists():
                raise OutputError(
                    f"{run_dir} has no saved state to resume from (no frame was completed); start the run "
                    f"again with output.overwrite=true"
                )
            state = checkpoint.read_state_group(store_path / STATE_PATH)
            steps = list(meta["frame_steps"])
            keep = sum(1 for s in steps if s <= state.step)
            if meta.get("frames", True) and (keep == 0 and steps):
                raise OutputError(
                    f"{store_path}: the checkpoint (step {state.step}) is older than every recorded frame "
                    f"(frame steps {steps}); the run cannot be resumed"
                )
            meta["frame_times_h"] = list(meta["frame_times_h"])[:keep]
            meta["frame_steps"] = steps[:keep]
            meta["schema_version"] = SCHEMA_VERSION
            meta.setdefault("replicates", 1)
            meta.setdefault("frames", True)
            writer = cls.__new__(cls)
            writer._attach(run_dir, root, meta, image, state_step=state.step, describe=describe)
            for arr in writer._all_arrays():
                if arr.shape[0] != keep:
                    arr.resize((keep, *arr.shape[1:]))
            if image is not None:
                image = writer._image_attrs()
            # One root write: commits the truncation and drops consolidated metadata.
            root.attrs.update({ROOT_ATTR: meta} | ({"ome": image} if image is not None else {}))
            writer._write_summary(state.timeseries, state.events)
        except OSError as e:
            if isinstance(e, OutputError):
                raise
            raise OutputError(
                f"cannot reopen {store_path} to resume: {e.strerror or e}", e.errno, e.filename
            ) from e
        return writer, state

    # -- properties -----------------------------------------------------------------------------

    @property
    def frame_times_h(self) -> list[float]:
        """Times of the complete frames, h."""
        return list(self._meta["frame_times_h"])

    @property
    def n_frames(self) -> int:
        return len(self._meta["frame_times_h"])

    def _group(self, r: int) -> zarr.Group:
        """Replicate r's image group (opened on first use: only metadata updates need it)."""
        if self._group_handles[r] is None:
            self._group_handles[r] = self._root[replicate_group(r)]
        return self._group_handles[r]

    def _all_arrays(self) -> list[zarr.Array]:
        return [*self._images, *(a for labels in self._labels for a in labels.values())]

    def reserve(self, n_frames: int) -> None:
        """Reserve the ``t`` extent for ``n_frames`` frames in all (a run's plan, or a longer one
        after ``resume duration_h=...``); reserved frames read as zeros until written, and
        readers ignore frames not listed in ``frame_times_h``."""
        self._planned = max(int(n_frames), 0)
        self._grow(self._planned)

    def _grow(self, extent: int) -> None:
        arrays = [a for a in self._all_arrays() if a.shape[0] < extent]
        for arr in arrays:
            arr.resize((extent, *arr.shape[1:]))

    # -- writing --------------------------------------------------------------------------------

    def _check_arrays(self, arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
        missing = [n for n in (*VOXEL_ARRAYS, "fields") if n not in arrays]
        if missing:
            raise ValueError(f"write_frame: arrays lack {', '.join(missing)}")
        out: dict[str, np.ndarray] = {}
        R = self.replicates
        for name, a in arrays.items():
            a = to_numpy(a)
            if name in VOXEL_ARRAYS:
                a = np.asarray(a, dtype=VOXEL_ARRAYS[name])
                expected = (R, *self.shape)
            elif name == "fields":
                a = np.asarray(a, dtype=np.float32)
                expected = (R, len(self.field_specs), *self.shape)
            else:
                expected = None
            if expected is not None and tuple(a.shape) != expected:
                raise ValueError(f"write_frame: {name} has shape {tuple(a.shape)}, expected {expected}")
            out[name] = a
        return out

    def record(
        self, time_h: float, step: int, arrays: Mapping[str, Any], timeseries: Mapping[str, np.ndarray],
        events: Mapping[str, float | None] | Sequence[Mapping[str, float | None]], *, frame: bool = True,
        checkpoint: bool = True, wall_s: float = 0.0,
    ) -> None:
        """One recording point of all replicates (see the module doc for the order).

        Args:
            time_h: simulated time, h (after the last frame's).
            step: completed cell steps.
            arrays: every replicate's state as NumPy (CuPy arrays are copied to the host),
                replicate axis first: ``cells``, ``clock``, ``memory``, ``timer_h``, ``immune``
                ``(R, *S)``, ``fields`` ``(R, F, *S)``; further arrays go to the checkpoint only.
            timeseries: every ``summary.h5`` row so far: column → ``(R, rows)``.
            events: per replicate, the ``summary.h5`` events (None/NaN when none).
            frame: record a frame (ignored, except for the summary, when the writer records no
                frames); checkpoint: replace the checkpoint.
            wall_s: compute time of the run so far (stored in the checkpoint).

        Raises:
            OutputError: any OSError (disk full, quota…); the frames before this one stay
                readable and the message says how to resume.
            ValueError: missing arrays or arrays of the wrong shape, bad timeseries, a
                non-numeric event, or a time not after the last frame's (checked before
                anything is written: the writer stays usable).
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
        table = check_table(timeseries, self.replicates)
        per = check_events(events, self.replicates)
        framed = frame and self.frames
        index = len(times)
        try:
            if framed:
                self._write_frames(index, arrays)
            self._write_summary(table, per)
            if framed:
                self._commit(float(time_h), int(step), arrays["fields"])
            if checkpoint:
                self._write_checkpoint(int(step), float(time_h), arrays, table, per, wall_s)
        except OSError as e:
            self._failed = True
            raise self._output_error(e, index if framed else None, float(time_h)) from e
        except BaseException:
            self._failed = True
            raise
        if self.after_record is not None:
            self.after_record()

    def _write_frames(self, index: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Step 1: every replicate's chunk/shard of every array at ``t = index``."""
        if self._images and self._images[0].shape[0] <= index:
            self._grow(max(index + 1, self._planned))
        F = len(self.field_specs)
        jobs = []
        for r in range(self.replicates):
            jobs.append((self._images[r], index, arrays["fields"][r].reshape(F, *self.zyx)))
            for layer, arr in self._labels[r].items():
                jobs.append((arr, index, arrays[layer][r].reshape(self.zyx)))
        _set_all(jobs)

    def _write_summary(self, table: Mapping[str, np.ndarray], events: Sequence[Mapping[str, float]]) -> None:
        """Step 2: rewrite ``summary.h5`` (atomically) with every row so far."""
        write_summary(self.summary_path, table, events, self.config_yaml, self.version, self.seed, self.describe)

    def _image_attrs(self) -> dict:
        return ome.image_attrs(self.field_specs, self.zyx, self.spacing_um, self._time, self._windows)

    def _commit(self, time_h: float, step: int, fields: np.ndarray) -> None:
        """Step 3: list the frame in ``frame_times_h`` (one atomic write of the root metadata)."""
        meta = dict(self._meta)
        meta["frame_times_h"] = [*self._meta["frame_times_h"], time_h]
        meta["frame_steps"] = [*self._meta["frame_steps"], step]
        windows = ome.widen_windows(self._windows, fields)
        time = ome.time_axis(meta["frame_times_h"], self.frame_every_h)
        old_time, self._time, self._windows = self._time, time, windows
        if time != old_time:  # the first frame not at t = 0, or frames no longer evenly spaced
            for r in range(len(self._group_handles)):
                g = self._group(r)
                for layer in LABEL_LAYERS:
                    g[f"labels/{layer}"].attrs.update({"ome": ome.label_attrs(layer, self.spacing_um, time)})
                if self.replicates > 1:
                    g.attrs.update({"ome": self._image_attrs(), ROOT_ATTR: {"ensemble": True, "replicate": r}})
        if self.replicates == 1:
            self._root.attrs.update({"ome": self._image_attrs(), ROOT_ATTR: meta})
        else:
            meta["windows"] = windows
            self._root.attrs.update({ROOT_ATTR: meta})
        self._meta = meta

    def _write_checkpoint(
        self, step: int, time_h: float, arrays: Mapping[str, np.ndarray], table: Mapping[str, np.ndarray],
        events: Sequence[Mapping[str, float]], wall_s: float,
    ) -> None:
        """Step 4: replace the checkpoint."""
        checkpoint.replace_state(self.run_dir, step, time_h, arrays, table, events, len(self.shape), wall_s)
        self._state_step = step

    def _output_error(self, e: OSError, index: int | None, time_h: float) -> OutputError:
        reason = e.strerror or str(e)
        if e.filename:
            reason += f" ({e.filename})"
        full = e.errno in (errno_codes.ENOSPC, errno_codes.EDQUOT)
        what = f"frame {index}" if index is not None else "the outputs"
        if self._state_step is not None:
            fix = "free disk space, then " if full else "fix the cause, then "
            steps = self._meta["frame_steps"]
            k = sum(1 for s in steps if s <= self._state_step) - 1  # the frames a resume keeps
            if k >= 0:
                done = (f"the last complete frame is {k} (t={self._meta['frame_times_h'][k]:g} h) and earlier "
                        f"frames stay readable")
            else:
                done = f"the checkpoint at step {self._state_step} and the summary so far stay readable"
            tail = f"{done}; {fix}continue with: {resume_hint(self.run_dir)}"
        else:
            fix = "free disk space" if full else "fix the cause"
            tail = f"no frame was completed; {fix} and start again with output.overwrite=true"
        return OutputError(
            f"cannot write {what} (t={time_h:g} h) to {self.run_dir}: {reason}; {tail}", e.errno, e.filename,
        )

    def close(self) -> None:
        """Finish the run: trim the reserved ``t`` extent to the complete frames, give every
        replicate image its final display windows, and (one replicate) consolidate the metadata
        (only now: appends would make it stale; an ensemble's consolidated metadata would be
        one large document listing every replicate's arrays, which no local reader needs).
        Idempotent; after a failed write it only marks the writer closed.
        """
        if self._closed:
            return
        self._closed = True
        if self._failed:
            return
        try:
            n = self.n_frames
            for arr in self._all_arrays():
                if arr.shape[0] != n:
                    arr.resize((n, *arr.shape[1:]))
            if self.replicates > 1:
                if n:
                    self._set_replicate_attrs()
                return
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
                zarr.consolidate_metadata(LocalStore(self.store_path))
        except OSError as e:
            raise OutputError(
                f"cannot finish the metadata of {self.store_path}: {e.strerror or e}; the frames are complete "
                f"and readable (open with use_consolidated=False)", e.errno, e.filename,
            ) from e

    def _set_replicate_attrs(self) -> None:
        """Give every replicate group the current ``ome`` attribute (final display windows).

        The group documents differ only in the replicate index, so they are written as files
        (zarr v3 metadata is plain JSON, written like zarr's LocalStore does: a temporary name,
        then a rename) instead of one zarr open-and-update per replicate."""
        meta = json.loads((self.store_path / replicate_group(0) / "zarr.json").read_text())
        meta["attributes"]["ome"] = jsonable(self._image_attrs())
        for r in range(self.replicates):
            meta["attributes"][ROOT_ATTR] = {"ensemble": True, "replicate": r}
            path = self.store_path / replicate_group(r) / "zarr.json"
            tmp = path.with_name("zarr.json.tmp")
            tmp.write_text(json.dumps(meta, indent=2))
            tmp.replace(path)
        self._group_handles = [None] * self.replicates  # reopen with the new attributes when needed

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._closed = True


class FrameWriter(RunWriter):
    """A one-replicate :class:`RunWriter` taking one replicate's arrays and 1-D columns (the
    interface of schema 1, kept for tools and tests that write single runs)."""

    def __init__(self, run_dir: Path, *, replicate: int = 0, **kwargs: Any) -> None:
        super().__init__(run_dir, replicates=1, replicate=replicate, **kwargs)

    def write_frame(
        self, time_h: float, step: int, arrays: Mapping[str, Any], timeseries: Mapping[str, np.ndarray],
        events: Mapping[str, float | None],
    ) -> None:
        """Record one frame and its checkpoint (arrays of one replicate: ``S`` and ``(F, *S)``)."""
        self.record(time_h, step, {k: to_numpy(v)[None] for k, v in arrays.items()}, timeseries, events)


def planned_frames(n_steps: int, frame_every: int) -> int:
    """Frames a run of ``n_steps`` records with a frame every ``frame_every`` steps from step 0."""
    return n_steps // max(int(frame_every), 1) + 1


