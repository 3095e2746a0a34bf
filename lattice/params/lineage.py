"""Config group ``tumour.barcodes``: heritable clone ids for virtual lineage tracing (docs/lineage.md).

Off by default (``mode: none``): the state then has no barcode array at all, so runs without
barcodes keep their outputs byte for byte and their speed.
"""

from __future__ import annotations

from dataclasses import dataclass

from lattice.params.spec import Params, param

#: How initial tumour cells are labelled.
BARCODE_MODES = ("none", "cell", "library")
#: Library indices come from one 24-bit uniform (lattice/rng.py to_unit_float32).
MAX_LIBRARY_SIZE = 2**24


@dataclass
class BarcodeParams(Params):
    """A uint32 clone id per tumour cell (``State.barcode``), copied to both cells at division.

    ``cell``: every initial tumour cell is its own clone, id = 1 + its flat voxel index (unique in
    a replicate). ``library``: a lentiviral barcode library of ``library_size`` ids infects the
    initial cells at multiplicity ``moi``: a cell is labelled with probability 1 − e^(−moi) (at
    least one integration, Poisson) with an id drawn uniformly from 1..library_size; id 0 means
    unlabelled. A cell infected more than once keeps one barcode (at moi ≤ 0.3 that is < 15 % of
    the labelled cells); two cells may share an id by chance (the library's collision rate).
    """

    mode: str = param(
        "none", "", "none (no barcodes: no array, no cost), cell (each initial tumour cell its own clone), "
        "library (barcodes drawn from a library of library_size at multiplicity of infection moi)",
        choices=BARCODE_MODES,
    )
    library_size: int = param(
        1_000_000, "barcodes", "library mode: distinct barcodes in the library", min=1, max=MAX_LIBRARY_SIZE,
        source="lentiviral barcode libraries hold 10^5–10^7 distinct ids (uncertain)",
    )
    moi: float = param(
        0.1, "integrations per cell", "library mode: multiplicity of infection; a cell is labelled with "
        "probability 1 − exp(−moi)", min=0.0, min_exclusive=True,
        source="barcoding studies infect at MOI ≈ 0.1 so that labelled cells carry one barcode",
    )
    twin_dishes: bool = param(
        False, "", "split-dish assay: every replicate starts from replicate 0's initial population (the same "
        "cells, states, clocks and barcodes), then draws its own random numbers; replicates 2k and 2k+1 are "
        "sister dishes for the clone_overlap readout",
    )
    evolving_per_division: float = param(
        0.0, "1/division", "probability that a new cell's evolving barcode (State.evolving) mutates at division "
        "to a fresh random id (0: no evolving barcode array)", min=0.0, max=1.0,
        source="CRISPR-scarring recorders edit at ~1e-2–1e-1 per division (uncertain; a modelling knob)",
    )
