"""The field registry: the named, unit-carrying channels of ``State.fields``.

The registry drives allocation (channel order), the solver (coefficients per channel), output
metadata (OME-Zarr channel names, units, descriptions) and the viewer's layer names.
"""

from __future__ import annotations

from dataclasses import dataclass

from lattice.params.fields import FieldParams


@dataclass(frozen=True)
class FieldSpec:
    """One channel of ``State.fields``.

    Attributes:
        name: channel name (``oxygen``, ``glucose``, ``drug_<name>``…).
        units: concentration units.
        description: one line for humans.
        params: the transport parameters.
    """

    name: str
    units: str
    description: str
    params: FieldParams


@dataclass(frozen=True)
class FieldRegistry:
    specs: tuple[FieldSpec, ...]

    @classmethod
    def from_params(cls, named: dict[str, FieldParams]) -> FieldRegistry:
        return cls(tuple(FieldSpec(n, p.units, p.description, p) for n, p in named.items()))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.specs)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no field named {name!r}; fields are {', '.join(self.names)}") from None

    def __len__(self) -> int:
        return len(self.specs)

    def __iter__(self):
        return iter(self.specs)
