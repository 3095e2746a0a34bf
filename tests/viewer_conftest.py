"""Helpers shared by the viewer and report tests (imported by test_viewer.py / test_report.py).

Two kinds of runs:

- :func:`write_synthetic_run`: a small run written with the project's own writer
  (``lattice.io.FrameWriter``, the docs/outputs.md layout) whose content is known: a disc of
  sensitive cells with a DTP core, T cells, an oxygen gradient, a primary drug switched on and
  off every 24 h. It can be left open to append frames later (a live run).
- :func:`real_run`: the output of ``python -m lattice.cli`` (a few seconds), cached per process.
"""

from __future__ import annotations

import atexit
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from lattice import codes

FIELDS = (
    {"name": "oxygen", "units": "mmHg", "description": "oxygen partial pressure"},
    {"name": "glucose", "units": "fraction of plasma", "description": "glucose relative to plasma"},
    {"name": "drug_primary", "units": "µM", "description": "primary drug"},
)
SPACING_UM = 20.0
EVERY_H = 12.0
#: Frame k holds a disc of this many voxels' radius …
RADIUS = 10


def has_display() -> bool:
    """A display to draw on: $DISPLAY, or an Xvfb binary for pytest-xvfb to start."""
    return bool(os.environ.get("DISPLAY")) or shutil.which("Xvfb") is not None


NO_DISPLAY_REASON = (
    "napari GUI test skipped: no display ($DISPLAY unset) and no Xvfb binary; install Xvfb "
    "(`make system-deps` as root, or apt-get install xvfb) to run it under pytest-xvfb"
)


def frame_arrays(k: int, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Known content of frame ``k``: a disc (2D) or ball (3D) of sensitive cells whose DTP core
    grows with k, T cells on a ring, oxygen falling towards the centre, a drug level."""
    idx = np.indices(shape, dtype=float)
    centre = [(n - 1) / 2 for n in shape]
    r = np.sqrt(sum((i - c) ** 2 for i, c in zip(idx, centre)))
    cells = np.zeros(shape, np.uint8)
    cells[r <= RADIUS] = codes.SENSITIVE
    cells[r <= 2 + k] = codes.DTP
    cells[(r > RADIUS + 2) & (r <= RADIUS + 3)] = codes.NORMAL
    immune = np.zeros(shape, np.uint8)
    ring = (r > RADIUS) & (r <= RADIUS + 1)
    immune[ring & (idx[-1] < centre[-1])] = codes.T_CELL
    oxygen = (38.0 * np.clip(r / (RADIUS + 4), 0.0, 1.0)).astype(np.float32)
    glucose = np.full(shape, 0.5 + 0.1 * k, np.float32)
    drug = np.full(shape, 2.0 if k % 2 else 0.5, np.float32)
    zeros = np.zeros(shape, np.float32)
    return {
        "cells": cells, "clock": zeros, "memory": zeros, "timer_h": zeros, "immune": immune,
        "fields": np.stack([oxygen, glucose, drug]),
    }


def timeseries(n_frames: int) -> dict[str, np.ndarray]:
    """One row per hour up to the last frame; the drug is on in [0, 24) h, off in [24, 48) …"""
    t = np.arange(0.0, (n_frames - 1) * EVERY_H + 1.0)
    burden = 300.0 * np.exp(-t / 30.0) + 2.0 * t
    on = ((t - 1) // 24 % 2 == 0).astype(np.uint8)
    on[0] = 0
    return {
        "time_h": t, "sensitive": burden * 0.8, "primed": burden * 0.05, "dtp": burden * 0.1,
        "dtep": burden * 0.03, "resistant": burden * 0.02, "dead": 20 + 0 * t, "necrotic": 0 * t,
        "tumour_total": burden, "t_cells": 10 + 0.1 * t, "exhausted_t_cells": 0.05 * t, "macrophages": 0 * t,
        "o2_mean_mmHg": 30 + 0 * t, "hypoxic_fraction": 0.1 + 0 * t,
        "plasma_primary": on * 2.0, "on_primary": on,
    }


def events(n_frames: int) -> dict[str, float]:
    ts = timeseries(n_frames)
    i = int(np.argmin(ts["tumour_total"]))
    return {"nadir_time_h": float(ts["time_h"][i]), "nadir_burden": float(ts["tumour_total"][i]),
            "dtp_fraction_at_nadir": 0.1, "progression_time_h": math.nan}


def write_synthetic_run(run_dir: Path, n_frames: int = 5, shape: tuple[int, ...] = (32, 32), close: bool = True,
                        with_drug: bool = True, overrides: list[str] | None = None):
    """Write ``n_frames`` frames of known content with the project's writer; returns the writer
    (closed unless ``close=False``: then :func:`append_frames` continues the live run).

    ``with_drug=False``: an untreated run (no drug field, no treatment in the config).
    ``overrides``: also write them to ``.hydra/overrides.yaml`` as Hydra does for a sweep job.
    """
    from lattice.io import FrameWriter

    treatment = {"name": "intermittent", "drugs": {"primary": {"schedule": {"kind": "intermittent"}}}}
    writer = FrameWriter(
        Path(run_dir), shape=shape, spacing_um=SPACING_UM, field_specs=FIELDS if with_drug else FIELDS[:2],
        config={"treatment": treatment if with_drug else {"name": "none", "drugs": {}}},
        config_yaml="treatment: {}\n", seed=0, replicate=0, version="test", frame_every_h=EVERY_H,
    )
    if overrides is not None:
        (Path(run_dir) / ".hydra").mkdir(parents=True, exist_ok=True)
        (Path(run_dir) / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    append_frames(writer, n_frames, with_drug=with_drug)
    if close:
        writer.close()
    return writer


def append_frames(writer, n: int, with_drug: bool = True) -> None:
    """Append ``n`` more frames to a live synthetic run."""
    for _ in range(n):
        k = writer.n_frames
        arrays = frame_arrays(k, writer.shape)
        if not with_drug:
            arrays["fields"] = arrays["fields"][:2]
        writer.write_frame(k * EVERY_H, int(k * EVERY_H), arrays, timeseries(k + 1), events(k + 1))


def write_foreign_zarr(path: Path) -> Path:
    """A zarr v3 group with OME-like attributes but no ``dtp_lattice``: not ours."""
    import zarr

    g = zarr.open_group(str(path), mode="w", attributes={"ome": {"version": "0.5", "multiscales": []}})
    g.create_array("0", shape=(2, 8, 8), dtype="uint8")
    return path


_RUNS: dict[str, Path] = {}
_TMP: list[str] = []


def _tmp() -> Path:
    if not _TMP:
        _TMP.append(tempfile.mkdtemp(prefix="dtp-viewer-tests-"))
        atexit.register(shutil.rmtree, _TMP[0], True)
    return Path(_TMP[0])


def real_run(kind: str = "2d") -> Path:
    """A run written by ``python -m lattice.cli`` (cached per process): ``"2d"`` a 32×32
    lattice for 48 h, ``"3d"`` 12×16×16 for 24 h."""
    if kind not in _RUNS:
        run_dir = _tmp() / f"real-{kind}"
        shape = "grid.shape=[32,32]" if kind == "2d" else "grid.shape=[12,16,16]"
        hours = 48 if kind == "2d" else 24
        cmd = [sys.executable, "-m", "lattice.cli", shape, f"duration_h={hours}", "output.every_h=12",
               "treatment=continuous", "output.progress=false", "backend=numpy", f"hydra.run.dir={run_dir}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"lattice-run failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
        _RUNS[kind] = run_dir
    return _RUNS[kind]
