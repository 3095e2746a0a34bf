"""The whole run configuration (docs/configuration.md) and its registration as a Hydra structured config."""

from __future__ import annotations

from dataclasses import dataclass

from lattice.backend import BACKEND_CHOICES
from lattice.params.fields import FieldsParams
from lattice.params.grid import GridParams
from lattice.params.host import HostParams
from lattice.params.host import apply as apply_host
from lattice.params.immune import ImmuneParams
from lattice.params.monitoring import check_monitoring
from lattice.params.organ import OrganParams
from lattice.params.output import OutputParams
from lattice.params.spec import ConfigError, Params, param, validate
from lattice.params.treatment import TreatmentParams, drug_from_config
from lattice.params.tumour import TumourParams


@dataclass
class RunParams(Params):
    """Top-level keys that scripts rely on, and one node per config group."""

    seed: int = param(0, "", "random seed (key of the counter-based generator)", min=0, max=2**32 - 1)
    backend: str = param("auto", "", "numpy, host (the CUDA kernels compiled for the CPU with OpenMP), cupy, or "
                         "auto (CuPy when a CUDA device is usable, else host when a C++ compiler works, else NumPy)",
                         choices=BACKEND_CHOICES)
    replicates: int = param(1, "", "independent lattices run together (seeds: replicate index in the key)", min=1)
    duration_h: float = param(720.0, "h", "simulated time", min=0.0, min_exclusive=True)
    step_h: float = param(1.0, "h", "cell step", min=0.0, min_exclusive=True)
    exact: bool = param(False, "", "CuPy: compile the field kernels with --fmad=false so fields match NumPy "
                        "bit for bit (slightly slower); labels match either way. The host backend is always exact")
    device: int | None = param(None, "", "CUDA device (index among the visible ones) for the CuPy backend; null: "
                               "round robin over the visible devices by Hydra job number (docs/cloud.md)", min=0)
    resume: str | None = param(None, "", "path of a run directory to continue from its last complete frame")
    grid: GridParams = param(GridParams())
    tumour: TumourParams = param(TumourParams())
    fields: FieldsParams = param(FieldsParams())
    organ: OrganParams = param(OrganParams())
    host: HostParams = param(HostParams())
    immune: ImmuneParams = param(ImmuneParams())
    treatment: TreatmentParams = param(TreatmentParams())
    output: OutputParams = param(OutputParams())

    @property
    def n_steps(self) -> int:
        return round(self.duration_h / self.step_h)


def check(params: RunParams) -> RunParams:
    """Validate bounds and the relations between parameters; return the frozen params."""
    params.treatment.drugs = {name: drug_from_config(name, d) for name, d in params.treatment.drugs.items()}
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
    _check_lifecycle(params)
    _check_treatment(params)
    apply_host(params)  # organ and host multipliers -> effective values (once, before freezing)
    ratio = params.duration_h / params.step_h
    if abs(ratio - round(ratio)) > 1e-9:
        raise ConfigError(f"duration_h={params.duration_h:g} must be a whole number of step_h={params.step_h:g}")
    ratio = params.output.every_h / params.step_h
    if abs(ratio - round(ratio)) > 1e-9:
        raise ConfigError(f"output.every_h={params.output.every_h:g} must be a whole number of step_h={params.step_h:g}")
    ckpt = params.output.checkpoint_every_h
    if ckpt is not None and abs(ckpt / params.step_h - round(ckpt / params.step_h)) > 1e-9:
        raise ConfigError(f"output.checkpoint_every_h={ckpt:g} must be a whole number of step_h={params.step_h:g} "
                          "(or null: a checkpoint at every frame)")
    return params.freeze()


def _check_lifecycle(params: RunParams) -> None:
    t = params.tumour
    if t.initial.primed_fraction + t.initial.resistant_fraction > 1.0:
        raise ConfigError(
            f"tumour.initial.primed_fraction={t.initial.primed_fraction:g} + tumour.initial.resistant_fraction="
            f"{t.initial.resistant_fraction:g} must not exceed 1"
        )
    if t.signals.low_glucose < t.glucose_starvation_threshold:
        raise ConfigError(
            f"tumour.signals.low_glucose={t.signals.low_glucose:g} must be at least "
            f"tumour.glucose_starvation_threshold={t.glucose_starvation_threshold:g}"
        )
    if t.signals.hypoxic_mmHg < t.o2_necrosis_threshold_mmHg:
        raise ConfigError(
            f"tumour.signals.hypoxic_mmHg={t.signals.hypoxic_mmHg:g} must be at least "
            f"tumour.o2_necrosis_threshold_mmHg={t.o2_necrosis_threshold_mmHg:g}"
        )


def _check_treatment(params: RunParams) -> None:
    check_monitoring(params.treatment.monitoring, params.step_h)
    fields = set(params.fields.named())
    for name, drug in params.treatment.drugs.items():
        key = f"treatment.drugs.{name}"
        if f"drug_{name}" in fields:
            raise ConfigError(f"{key}: the field drug_{name} already exists; rename the drug")
        sch = drug.schedule
        if sch.kind == "adaptive" and sch.on_above < sch.off_below:
            raise ConfigError(
                f"{key}.schedule.on_above={sch.on_above:g} must be at least {key}.schedule.off_below={sch.off_below:g} "
                "(treatment resumes at a higher burden than it stops)"
            )
        if sch.stop_h is not None and sch.stop_h <= sch.start_h:
            raise ConfigError(f"{key}.schedule.stop_h={sch.stop_h:g} must exceed {key}.schedule.start_h={sch.start_h:g}")
        if drug.pk == "bolus" and params.treatment.delivery == "vessels" and drug.interval_h < params.step_h:
            raise ConfigError(
                f"{key}.interval_h={drug.interval_h:g} is shorter than step_h={params.step_h:g}: give at most one bolus "
                "per step (or use pk=infusion)"
            )


def register_configs() -> None:
    """Register the schema with Hydra's ConfigStore (conf/config.yaml lists it first)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="schema", node=RunParams)
    from lattice.run_id import register_resolver

    register_resolver()  # ${run_id:} in conf/config.yaml's run directories
