"""Config group ``output``: what is recorded and where."""

from __future__ import annotations

from dataclasses import dataclass

from lattice.params.spec import Params, param


@dataclass
class OutputParams(Params):
    every_h: float = param(24.0, "h", "interval between recorded frames", min=0.0, min_exclusive=True)
    dir: str | None = param(None, "", "run directory; default: Hydra's output directory")
    overwrite: bool = param(False, "", "replace an existing run in the directory (otherwise refuse)")
    progress: bool = param(True, "", "show a progress bar")
    frames: bool = param(True, "", "record frames in run.zarr; false records only summary.h5 (one table, written "
                         "every every_h and at the end) and the checkpoint: large ensembles, sweeps")
    checkpoint_every_h: float | None = param(
        None, "h", "interval between checkpoints (the state resume continues from), a whole number of step_h; "
        "null: at every frame. Sparser checkpoints cost less; a killed run then redoes the frames since the last one",
        min=0.0, min_exclusive=True)
    report: bool = param(False, "", "at the end, write report/populations.png and report/snapshots.png beside the "
                         "run (lattice-report's figures; needs matplotlib: the viewer extra)")
