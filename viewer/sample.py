"""napari sample data: a small treated 2D run generated on the fly (about 10–20 s on a CPU).

The run is written into a new temporary directory (kept: its layers read the store lazily) by
``lattice-run`` in a subprocess, so Hydra's global state never touches the viewer's process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: ``lattice-run`` overrides of the sample: a 48×48 lattice, 10 days, intermittent therapy
#: (3 days on, 2 days off) so the curves show drug shading, a frame every 6 h.
SAMPLE_OVERRIDES = (
    "grid.shape=[48,48]", "duration_h=240", "output.every_h=6", "treatment=intermittent",
    "treatment.drugs.primary.schedule.on_h=72", "treatment.drugs.primary.schedule.off_h=48",
    "output.progress=false", "backend=numpy",
)


def generate_sample_run(run_dir: Path | str | None = None, overrides: tuple[str, ...] | None = None) -> Path:
    """Run ``lattice-run`` with ``overrides`` (default :data:`SAMPLE_OVERRIDES`) into ``run_dir``
    (default: a new temporary directory) and return the run directory.

    Raises:
        RuntimeError: the simulation failed (its stderr is in the message).
    """
    if run_dir is None:
        run_dir = Path(tempfile.mkdtemp(prefix="dtp-lattice-sample-")) / "run"
    run_dir = Path(run_dir)
    overrides = SAMPLE_OVERRIDES if overrides is None else overrides
    cmd = [sys.executable, "-m", "lattice.cli", *overrides, f"hydra.run.dir={run_dir}"]
    env = dict(os.environ, HYDRA_FULL_ERROR="1")
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"sample run failed ({' '.join(cmd)}):\n{proc.stderr[-4000:]}")
    return run_dir


def make_sample_data():
    """npe2 sample data: layer data tuples of a freshly generated run."""
    from lattice.viewer.reader import read_runs

    return read_runs(str(generate_sample_run()))
