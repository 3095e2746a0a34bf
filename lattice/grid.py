"""The lattice geometry: 2D or 3D, uniform spacing, neighbourhoods.

Arrays of the model carry a leading replicate axis: a per-voxel array has shape
``(replicates, *grid.shape)``; spatial axes are always the last ``grid.ndim`` axes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Grid:
    """A uniform Cartesian lattice.

    Attributes:
        shape: voxels per axis, ``(y, x)`` in 2D or ``(z, y, x)`` in 3D.
        spacing_um: voxel edge length in µm (PhysiCell default 20 µm).
        neighbourhood: ``"von_neumann"`` (4 in 2D, 6 in 3D) or ``"moore"`` (8 / 26).
    """

    shape: tuple[int, ...]
    spacing_um: float = 20.0
    neighbourhood: str = "von_neumann"

    def __post_init__(self) -> None:
        if len(self.shape) not in (2, 3):
            raise ValueError(f"grid.shape must have 2 or 3 entries, got {list(self.shape)}")
        if self.neighbourhood not in ("von_neumann", "moore"):
            raise ValueError("grid.neighbourhood must be 'von_neumann' or 'moore'")

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def spatial_axes(self) -> tuple[int, ...]:
        """Axes of a per-voxel array ``(..., *shape)`` that are spatial (negative indices)."""
        return tuple(range(-self.ndim, 0))

    @cached_property
    def offsets(self) -> tuple[tuple[int, ...], ...]:
        """Neighbour offsets in a fixed order (the order is part of the RNG contract:
        a direction index drawn from the RNG maps to ``offsets[index]``)."""
        if self.neighbourhood == "von_neumann":
            out = []
            for axis in range(self.ndim):
                for sign in (-1, 1):
                    off = [0] * self.ndim
                    off[axis] = sign
                    out.append(tuple(off))
            return tuple(out)
        return tuple(
            off for off in itertools.product((-1, 0, 1), repeat=self.ndim) if any(off)
        )

    def extent_um(self) -> tuple[float, ...]:
        return tuple(n * self.spacing_um for n in self.shape)

    def centre_distance_um(self, xp=np) -> np.ndarray:
        """Distance of every voxel centre from the lattice centre, µm, shape ``self.shape``."""
        coords = xp.meshgrid(
            *[(xp.arange(n, dtype=xp.float32) - (n - 1) / 2) for n in self.shape],
            indexing="ij",
        )
        return xp.sqrt(sum(c * c for c in coords)) * self.spacing_um


def shift(a, offset: tuple[int, ...], fill=0):
    """Return ``b`` with ``b[..., i + offset] = a[..., i]`` over the last ``len(offset)`` axes,
    i.e. the value of the neighbour at ``-offset`` seen from each voxel; voxels whose
    neighbour lies outside the lattice get ``fill``. Works for NumPy and CuPy arrays.

    ``shift(a, off)[v]`` is ``a[v - off]``: the voxel that sits at ``-off`` from ``v``.
    """
    nd = len(offset)
    out = a.copy() if not any(offset) else None
    if out is not None:
        return out
    xp_full = a.__array_namespace__() if hasattr(a, "__array_namespace__") else np
    out = xp_full.full_like(a, fill)
    lead = (slice(None),) * (a.ndim - nd)
    dst, src = [], []
    for o in offset:
        if o > 0:
            dst.append(slice(o, None))
            src.append(slice(None, -o))
        elif o < 0:
            dst.append(slice(None, o))
            src.append(slice(-o, None))
        else:
            dst.append(slice(None))
            src.append(slice(None))
    out[lead + tuple(dst)] = a[lead + tuple(src)]
    return out
