"""The whole run configuration (DESIGN §4) and its registration as a Hydra structured config."""

from __future__ import annotations

from dataclasses import dataclass

from lattice.params.fields import FieldsParams
from lattice.params.grid import GridParams
from lattice.params.organ import OrganParams
from lattice.params.output import OutputParams
from lattice.params.spec import ConfigError, Params, param, validate
from lattice.params.tumour import TumourParams


@dataclass
class RunParams(Params):
    """Top-level keys that scripts rely on, and one node per config group."""

    seed: int = param(0, "", "random seed (key of the counter-based generator)", min=0, max=2**32 - 1)
    backend: str = param("auto", "", "numpy, cupy, or auto (CuPy only when a CUDA device is usable)",
                         choices=("numpy", "cupy", "auto"))
    replicates: int = param(1, "", "independent lattices run together (seeds: replicate index in the key)", min=1)
    duration_h: float = param(720.0, "h", "simulated time", min=0.0, min_exclusive=True)
    step_h: float = param(1.0, "h", "cell step", min=0.0, min_exclusive=True)
    resume: str | None = param(None, "", "path of a run directory to continue from its last complete frame")
    grid: GridParams = param(GridParams())
    tumour: TumourParams = param(TumourParams())
    fields: FieldsParams = param(FieldsParams())
    organ: OrganParams = param(OrganParams())
    output: OutputParams = param(OutputParams())

    @property
    def n_steps(self) -> int:
        return int(round(self.duration_h / self.step_h))


def check(params: RunParams) -> RunParams:
    """Validate bounds and the relations between parameters; return the frozen params."""
    validate(params)
    g, t = params.grid, params.tumour
    if len(g.shape) not in (2, 3):
        raise ConfigError(f"grid.shape={list(g.shape)} must have 2 entries [y, x] or 3 entries [z, y, x]")
    if t.o2_necrosis_max_mmHg > t.o2_necrosis_threshold_mmHg:
        raise ConfigError(
            f"tumour.o2_necrosis_max_mmHg={t.o2_necrosis_max_mmHg:g} must not exceed "
            f"tumour.o2_necrosis_threshold_mmHg={t.o2_necrosis_threshold_mmHg:g}"
        )
    if t.o2_proliferation_saturation_mmHg <= t.o2_proliferation_threshold_mmHg:
        raise ConfigError(
            f"tumour.o2_proliferation_saturation_mmHg={t.o2_proliferation_saturation_mmHg:g} must exceed "
            f"tumour.o2_proliferation_threshold_mmHg={t.o2_proliferation_threshold_mmHg:g}"
        )
    ratio = params.duration_h / params.step_h
    if abs(ratio - round(ratio)) > 1e-9:
        raise ConfigError(f"duration_h={params.duration_h:g} must be a whole number of step_h={params.step_h:g}")
    ratio = params.output.every_h / params.step_h
    if abs(ratio - round(ratio)) > 1e-9:
        raise ConfigError(f"output.every_h={params.output.every_h:g} must be a whole number of step_h={params.step_h:g}")
    return params.freeze()


def register_configs() -> None:
    """Register the schema with Hydra's ConfigStore (conf/config.yaml lists it first)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="schema", node=RunParams)
