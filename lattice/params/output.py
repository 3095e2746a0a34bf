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
