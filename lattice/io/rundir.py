"""The run directory (docs/outputs.md): ``run.zarr``, ``summary.h5`` and Hydra's ``.hydra/``.

A directory that already holds a run is never overwritten silently: :func:`prepare_run_dir`
refuses it unless the user asked for ``output.overwrite=true``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: Names inside a run directory.
ZARR_NAME = "run.zarr"
SUMMARY_NAME = "summary.h5"
#: Clone tables of barcoded runs, beside the summary (lattice.lineage).
LINEAGE_NAME = "lineage.h5"
#: Scratch names used while the checkpoint is replaced (see :mod:`lattice.io.checkpoint`);
#: they live next to ``run.zarr``, outside the zarr hierarchy, so no reader ever lists them.
STATE_TMP_NAME = ".state.tmp"
#: Where a new ``run.zarr`` is built before it is renamed into place (lattice.io.writer).
STORE_TMP_NAME = ".run.zarr.tmp"
STATE_NEW_NAME = ".state.new"
STATE_OLD_NAME = ".state.old"
#: Output schema 1 kept the previous frame's state here (one directory per replicate); schema 2
#: writes all replicates in one checkpoint and removes it when it reopens such a run.
STATE_PREV_NAME = ".state.prev"

#: Everything a run writes into its directory (Hydra's ``.hydra/`` excluded: Hydra writes it
#: before the job starts, so its presence says nothing about an earlier run).
RUN_OUTPUTS = (
    ZARR_NAME, SUMMARY_NAME, SUMMARY_NAME + ".tmp", STATE_TMP_NAME, STATE_NEW_NAME, STATE_OLD_NAME, STATE_PREV_NAME,
    STORE_TMP_NAME, LINEAGE_NAME, LINEAGE_NAME + ".tmp",
)


class RunExistsError(FileExistsError):
    """The run directory already holds a run and ``output.overwrite`` is false."""


class OutputError(OSError):
    """A run's output could not be written (disk full, quota, permissions…).

    The message names the path, the last complete frame and how to resume, on one line;
    ``errno`` and ``filename`` are those of the underlying error when there is one.
    """

    def __init__(self, message: str, errno: int | None = None, filename: str | None = None) -> None:
        super().__init__(message)
        self.errno = errno
        self.filename = filename

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def resume_hint(run_dir: Path) -> str:
    """The command that continues a run from its last complete frame."""
    return f"lattice-run resume={Path(run_dir)}"


def has_run(path: Path) -> bool:
    """Whether ``path`` holds the outputs of a run (``run.zarr`` or ``summary.h5``)."""
    path = Path(path)
    return (path / ZARR_NAME).exists() or (path / SUMMARY_NAME).exists()


def prepare_run_dir(path: Path, overwrite: bool) -> Path:
    """Create the run directory, refusing one that already holds a run.

    Args:
        path: the run directory (Hydra's output directory or ``output.dir``).
        overwrite: remove an existing run's ``run.zarr`` and ``summary.h5`` (and the scratch
            files of an interrupted run) instead of refusing. Other files, ``.hydra/``
            included, are left alone.

    Returns:
        The directory as an absolute path.

    Raises:
        RunExistsError: ``path`` holds ``run.zarr`` or ``summary.h5`` and ``overwrite`` is false.
        OutputError: the directory cannot be created or the old run cannot be removed.
    """
    path = Path(path).expanduser().absolute()
    if has_run(path) and not overwrite:
        raise RunExistsError(
            f"{path} already holds a run ({ZARR_NAME} / {SUMMARY_NAME}): pass resume={path} to continue "
            f"it, output.overwrite=true to replace it, or choose another hydra.run.dir"
        )
    try:
        if overwrite:
            for name in RUN_OUTPUTS:
                target = path / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                elif target.exists() or target.is_symlink():
                    target.unlink()
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(
            f"cannot prepare the run directory {path}: {e.strerror or e}", e.errno, e.filename
        ) from e
    return path
