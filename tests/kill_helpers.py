"""Kill a ``lattice-run`` part-way, as a crash or ``kill -9`` would (the resume tests' shared step)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path


def kill_after_frames(args: list[str], run_dir: Path, cwd: Path, frames: int, timeout_s: float = 120.0,
                      poll_s: float = 0.05) -> None:
    """Start ``lattice-run ARGS hydra.run.dir=RUN_DIR`` and SIGKILL it once ``frames`` frames are
    committed (or after ``timeout_s``); returns when the process is gone."""
    from lattice.io import open_run

    proc = subprocess.Popen([sys.executable, "-m", "lattice.cli", *args, f"hydra.run.dir={run_dir}"], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            if open_run(run_dir).n_frames >= frames:
                break
        except Exception:  # noqa: BLE001, S110 - the run is still being created: poll again
            pass
        time.sleep(poll_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
