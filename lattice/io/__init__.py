"""Run outputs (docs/outputs.md): the run directory, ``run.zarr`` frames and state, ``summary.h5``."""

from lattice.io.rundir import OutputError, RunExistsError, prepare_run_dir, resume_hint
from lattice.io.summary import read_summary, write_summary
from lattice.io.zarr_store import FrameWriter, RunReader, SavedState, is_lattice_run, open_run, saved_step

__all__ = [
    "FrameWriter", "OutputError", "RunExistsError", "RunReader", "SavedState", "is_lattice_run",
    "open_run", "prepare_run_dir", "read_summary", "resume_hint", "saved_step", "write_summary",
]
