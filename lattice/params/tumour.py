"""Config group ``tumour``: tumour cell behaviour and the initial tumour."""

from __future__ import annotations

from dataclasses import dataclass

from lattice.params.spec import Params, param


@dataclass
class InitialTumourParams(Params):
    """Where the tumour starts."""

    shape: str = param(
        "disc", "", "disc (2D) or sphere (3D) around the centre, fill (every free voxel), "
        "random (scattered over the lattice)", choices=("disc", "sphere", "fill", "random"),
    )
    radius_um: float = param(200.0, "µm", "radius of the initial disc/sphere", min=0.0)
    density: float = param(1.0, "fraction", "fraction of free voxels occupied inside the shape", min=0.0, max=1.0)


@dataclass
class TumourParams(Params):
    """Tumour cell cycle and death under the microenvironment.

    Cycle: the per-cell ``clock`` advances by ``dt / cycle_h`` times an oxygen factor that
    rises linearly from 0 at ``o2_proliferation_threshold_mmHg`` to 1 at
    ``o2_proliferation_saturation_mmHg`` (PhysiCell's oxygen-dependent birth rate); a cell
    whose clock reaches 1 divides into a free neighbour, or waits (contact inhibition).
    """

    initial: InitialTumourParams = param(InitialTumourParams())
    cycle_h: float = param(
        18.0, "h", "cell-cycle duration at saturating oxygen", min=0.0, min_exclusive=True,
        source="PhysiCell phases G0/G1 5 h + S 8 h + G2 4 h + M 1 h = 18 h (REFERENCES: solid)",
    )
    o2_proliferation_threshold_mmHg: float = param(
        5.0, "mmHg", "below this pO2 the cycle stops", min=0.0,
        source="PhysiCell_cell.cpp (REFERENCES: solid)",
    )
    o2_proliferation_saturation_mmHg: float = param(
        38.0, "mmHg", "above this pO2 the cycle runs at full speed", min=0.0,
        source="PhysiCell standard models (far-field 38 mmHg)",
    )
    o2_necrosis_threshold_mmHg: float = param(
        5.0, "mmHg", "necrosis begins below this pO2", min=0.0, source="PhysiCell (REFERENCES: solid)",
    )
    o2_necrosis_max_mmHg: float = param(
        2.5, "mmHg", "necrosis hazard is maximal below this pO2", min=0.0, source="PhysiCell (REFERENCES: solid)",
    )
    necrosis_max_rate_per_h: float = param(
        1.0 / 6.0, "1/h", "necrosis hazard at anoxia", min=0.0, source="PhysiCell: up to 1/(6 h) (REFERENCES: solid)",
    )
    glucose_starvation_threshold: float = param(
        0.1, "field units (fraction of plasma glucose)", "below this glucose, cells starve (necrosis hazard at the max rate)", min=0.0,
        source="(uncertain)",
    )
    apoptosis_rate_per_h: float = param(
        0.0, "1/h", "background (turnover) death hazard of live tumour cells", min=0.0,
        source="optional turnover, 0 by default (Strobl 2022 uses turnover as a scenario knob)",
    )
    dead_clearance_h: float = param(
        8.6, "h", "time an apoptotic cell occupies its voxel before it is cleared", min=0.0,
        source="PhysiCell: 516 min (REFERENCES: solid)",
    )
