"""What a run will need before it allocates anything: memory, disk and time (docs/configuration.md).

``lattice-run`` calls :func:`check` on the validated parameters before Hydra creates the run
directory, so that an impossible size (``grid.shape=[100000,100000]``) is refused in a fraction of
a second with the estimate and the fix, instead of allocating until a ``MemoryError`` and leaving
a half-written run behind.

The numbers are estimates from the parameters alone (nothing is built):

- memory: voxels × replicates × (``BASE_BYTES_PER_VOXEL`` + ``FIELD_BYTES_PER_VOXEL`` × fields),
  calibrated with ``tracemalloc`` on the NumPy backend (peak over the first steps, 2D 150² and 300²,
  3D 40³: 220–615 bytes per voxel for 3–8 fields; the constants leave ~8 % above the largest), which includes the state, the solver's work
  arrays, the processes' temporaries and the one frame the background writer holds;
- disk: every frame uncompressed (float32 fields, uint8 labels) plus the saved state, an upper
  bound (Blosc compresses labels and smooth fields several-fold);
- time: voxels × replicates × steps × ``NUMPY_SECONDS_PER_VOXEL_STEP`` (the default 2D scenario
  on one core); only used to warn.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lattice.params import ConfigError, RunParams

#: Per voxel and replicate, independent of the number of fields (bytes): the voxel arrays, the
#: processes' temporaries (random numbers, masks, candidate lists). Calibrated (module doc).
BASE_BYTES_PER_VOXEL = 150
#: Per voxel, replicate and field (bytes): the float32 field, the solver's float64 work arrays
#: and the frame in flight. Calibrated (module doc).
FIELD_BYTES_PER_VOXEL = 64
#: Bytes a voxel of one frame takes on disk before compression, per field and for the two labels.
FRAME_FIELD_BYTES = 4
FRAME_LABEL_BYTES = 2
#: Bytes per voxel of the saved state (voxel arrays; fields are added per field).
STATE_BYTES_PER_VOXEL = 14
#: NumPy wall time per voxel and step (s): 200 × 200 voxels, ~0.06 s per step on one core.
NUMPY_SECONDS_PER_VOXEL_STEP = 1.5e-6
#: Warn above this estimated NumPy wall time (s) ...
WARN_SECONDS = 3600.0
#: ... or when the run would take more than this fraction of the available memory.
WARN_MEMORY_FRACTION = 0.5
#: Fields that only exist with stroma or T cells (lattice.processes.stroma decides exactly).
MICROENVIRONMENT_FIELDS = 4


@dataclass
class Estimate:
    """What a run needs (bytes, seconds) and what the machine has (bytes; None: unknown)."""

    voxels: int
    fields: int
    frames: int
    memory_bytes: int
    disk_bytes: int
    numpy_seconds: float
    memory_available: int | None = None
    disk_free: int | None = None
    warnings: list[str] = field(default_factory=list)


def human(n: float) -> str:
    """Bytes as a short number with a binary unit: 1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def field_count(params: RunParams) -> int:
    """Fields the model will solve: oxygen, glucose, death signal, one per drug, and the four
    microenvironment signals when stroma or T cells can secrete them (an upper bound)."""
    organ, immune = params.organ, params.immune
    micro = (organ.stroma.caf_pattern != "none" or organ.stroma.macrophage_density > 0
             or (immune.enabled and (organ.t_cell_recruitment > 0 or immune.initial_t_cells > 0)))
    return 3 + len(params.treatment.drugs) + (MICROENVIRONMENT_FIELDS if micro else 0)


def frame_count(params: RunParams) -> int:
    """Frames written: t = 0 and every ``output.every_h`` (none with ``output.frames=false``)."""
    if not params.output.frames:
        return 0
    every = max(1, round(params.output.every_h / params.step_h))
    return 1 + params.n_steps // every


def available_memory() -> int | None:
    """Memory this process may still use (bytes): MemAvailable, capped by a cgroup limit."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    try:  # a container's limit (cgroup v2) can be far below the machine's memory
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            avail = min(avail, int(limit) - used)
    except (OSError, ValueError):
        pass
    return avail


def free_disk(path: Path) -> int | None:
    """Free bytes on the file system that will hold ``path`` (its nearest existing parent)."""
    p = Path(path).expanduser().absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def estimate(params: RunParams, run_dir: Path | None = None) -> Estimate:
    """Memory, disk and NumPy time of a run, from its parameters alone."""
    voxels = math.prod(int(n) for n in params.grid.shape)
    reps = params.replicates
    nf = field_count(params)
    frames = frame_count(params)
    memory = voxels * reps * (BASE_BYTES_PER_VOXEL + FIELD_BYTES_PER_VOXEL * nf)
    frame_bytes = voxels * reps * (FRAME_FIELD_BYTES * nf + FRAME_LABEL_BYTES)
    state_bytes = voxels * reps * (STATE_BYTES_PER_VOXEL + FRAME_FIELD_BYTES * nf)
    disk = frames * frame_bytes + 2 * state_bytes  # the state and its replacement while swapping
    seconds = voxels * reps * params.n_steps * NUMPY_SECONDS_PER_VOXEL_STEP
    return Estimate(voxels=voxels, fields=nf, frames=frames, memory_bytes=memory, disk_bytes=disk,
                    numpy_seconds=seconds, memory_available=available_memory(),
                    disk_free=free_disk(run_dir) if run_dir is not None else None)


def check(params: RunParams, run_dir: Path | None = None) -> Estimate:
    """Refuse a run that cannot fit; return the estimate with warnings for a long or large one.

    Raises:
        ConfigError: the run needs more memory than is available, or its frames more disk than
            is free; the message gives the estimate and the keys to change.
    """
    e = estimate(params, run_dir)
    shape = "x".join(str(n) for n in params.grid.shape)
    what = (f"grid.shape={list(params.grid.shape)} ({shape} = {e.voxels:,} voxels) × {e.fields} fields"
            + (f" × replicates={params.replicates}" if params.replicates > 1 else ""))
    if e.memory_available is not None and e.memory_bytes > e.memory_available:
        raise ConfigError(
            f"{what} needs about {human(e.memory_bytes)} of memory, {human(e.memory_available)} is available: "
            f"use a smaller grid.shape (or fewer replicates)")
    if e.disk_free is not None and e.disk_bytes > e.disk_free:
        raise ConfigError(
            f"{what} × {e.frames} frames would write up to {human(e.disk_bytes)} (uncompressed), "
            f"{human(e.disk_free)} is free at {run_dir}: record fewer frames (a larger output.every_h), "
            f"a smaller grid.shape, or choose another hydra.run.dir")
    if e.memory_available is not None and e.memory_bytes > WARN_MEMORY_FRACTION * e.memory_available:
        e.warnings.append(f"{what} needs about {human(e.memory_bytes)}, more than half of the "
                          f"{human(e.memory_available)} available")
    if e.numpy_seconds > WARN_SECONDS and params.backend in ("numpy", "host"):
        e.warnings.append(f"{params.n_steps:,} steps of {e.voxels:,} voxels"
                          + (f" × {params.replicates} replicates" if params.replicates > 1 else "")
                          + f" take about {duration(e.numpy_seconds)} with backend={params.backend}; "
                          "a GPU (backend=cupy) or a smaller grid.shape / duration_h is faster")
    return e
