"""Parameters: one module per config group, each a dataclass declared with units and sources."""

from lattice.params.fields import FieldParams, FieldsParams
from lattice.params.grid import GridParams
from lattice.params.host import HostEffect, HostParams
from lattice.params.immune import ImmuneParams
from lattice.params.organ import OrganParams, StromaParams, VesselParams
from lattice.params.output import OutputParams
from lattice.params.run import RunParams, check, register_configs
from lattice.params.spec import ConfigError, Params, param, validate
from lattice.params.treatment import DrugParams, ScheduleParams, TreatmentParams
from lattice.params.tumour import InitialTumourParams, TumourParams

__all__ = [
    "ConfigError", "DrugParams", "FieldParams", "FieldsParams", "GridParams", "HostEffect", "HostParams",
    "ImmuneParams", "InitialTumourParams", "OrganParams", "OutputParams", "Params", "RunParams", "ScheduleParams",
    "StromaParams", "TreatmentParams", "TumourParams", "VesselParams",
    "check", "param", "register_configs", "validate",
]
