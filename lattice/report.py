"""The end-of-run summary table printed by ``lattice-run``."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

SUMMARY_COLUMNS = ("tumour_total", "sensitive", "primed", "dtp", "dtep", "resistant", "dead", "necrotic",
                   "t_cells", "o2_mean_mmHg", "hypoxic_fraction")


def _fmt(v: float) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "—"
    return f"{v:.3g}" if isinstance(v, float) and not float(v).is_integer() else f"{int(v)}"


def print_summary(result, params) -> None:
    """A rich table: final counts and events per replicate, and where the outputs are."""
    console = Console(stderr=False)
    table = Table(title=f"DTP Lattice — {result.time_h:g} h simulated in {result.wall_s:.1f} s "
                        f"({result.steps} steps)")
    table.add_column("quantity")
    for r in range(len(result.final)):
        table.add_column(f"replicate {r}" if len(result.final) > 1 else "value", justify="right")
    for col in SUMMARY_COLUMNS:
        table.add_row(col, *(_fmt(f.get(col, math.nan)) for f in result.final))
    drug_cols = sorted(k for k in (result.final[0] if result.final else {})
                       if k.startswith(("plasma_", "on_", "cumulative_dose_")))
    for col in drug_cols:
        table.add_row(col, *(_fmt(f.get(col, math.nan)) for f in result.final))
    for key in ("nadir_time_h", "nadir_burden", "dtp_fraction_at_nadir", "progression_time_h",
                "time_to_progression_h", "relapse_resistant_fraction"):
        if any(key in e for e in result.events):
            table.add_row(key, *(_fmt(e.get(key, math.nan)) for e in result.events))
    console.print(table)
    for d in result.run_dirs:
        console.print(f"output: {d}/run.zarr and {d}/summary.h5")
