"""Run outputs (docs/outputs.md): the run directory, ``run.zarr`` (frames, OME-Zarr metadata,
checkpoint) and ``summary.h5``.

- :mod:`lattice.io.rundir`: names in a run directory, refusing to overwrite a run;
- :mod:`lattice.io.layout`: where arrays live in ``run.zarr``, chunking, recognising a run;
- :mod:`lattice.io.ome`: OME-Zarr 0.5 metadata;
- :mod:`lattice.io.checkpoint`: the resumable state and its crash-safe replacement;
- :mod:`lattice.io.writer`: the frame writer (all replicates of a run together);
- :mod:`lattice.io.summary`: ``summary.h5``;
- :mod:`lattice.io.reader`: the one reader (tests, viewer, tools).
"""

from lattice.io.checkpoint import SavedState, saved_step
from lattice.io.layout import is_lattice_run
from lattice.io.reader import RunReader, find_runs, open_run
from lattice.io.rundir import OutputError, RunExistsError, prepare_run_dir, resume_hint
from lattice.io.summary import read_summary, write_summary
from lattice.io.writer import FrameWriter, RunWriter, planned_frames

__all__ = [
    "FrameWriter", "OutputError", "RunExistsError", "RunReader", "RunWriter", "SavedState", "find_runs",
    "is_lattice_run", "open_run", "planned_frames", "prepare_run_dir", "read_summary", "resume_hint",
    "saved_step", "write_summary",
]
