"""The field registry: the named, unit-carrying channels of ``State.fields``, and which of the
optional microenvironment fields a run has.

The registry drives allocation (channel order), the solver (coefficients per channel), output
metadata (OME-Zarr channel names, units, descriptions) and the viewer's layer names. The sources
of every field are computed on the field side (:mod:`lattice.processes.sources`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lattice.params.fields import FieldParams

#: Microenvironment fields kept in the registry only when something can secrete them.
STROMA_FIELDS = ("hgf", "tgfb")
IMMUNE_FIELDS = ("ifng", "chemokine")


def stroma_present(params) -> bool:
    """CAFs or macrophages exist (at t = 0) in this run."""
    st = params.organ.stroma
    return (st.caf_pattern != "none" and st.caf_density > 0) or st.macrophage_density > 0


def immune_active(params) -> bool:
    """T cells can exist in this run (recruited or seeded); uses the effective parameters."""
    im = params.immune
    return im.enabled and (im.recruitment_per_h > 0 or im.initial_t_cells > 0)


def active_fields(params) -> set[str]:
    """Names of the microenvironment fields this run solves (the others are left out of the
    registry, so a tumour-only run has exactly the channels it had before): HGF and TGF-β with
    stroma, IFN-γ and the chemokine with T cells."""
    out = set()
    if stroma_present(params):
        out |= set(STROMA_FIELDS)
    if immune_active(params):
        out |= set(IMMUNE_FIELDS)
    return out


def field(state, model, name: str):
    """The ``(R, *S)`` array of the field called ``name`` (KeyError naming the fields when absent)."""
    return state.fields[:, model.registry.index(name)]


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
