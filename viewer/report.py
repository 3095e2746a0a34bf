"""``lattice-report RUN [--out DIR]``: PNG figures of a run for people without a display.

Writes, per run (a directory of replicates or a sweep gives one sub-folder per run):

- ``populations.png``: every state, immune cells and drug on/off shading over time, on a
  log count axis by default (``--linear`` for a linear one) so that a few persisters next to
  a thousand sensitive cells stay visible;
- ``snapshots.png``: cell labels and oxygen (and the primary drug when there is one) at the
  key times: start, nadir (``events.nadir_time_h``), progression (when it happened), end —
  the frame nearest to each; 3D runs show their middle z slice.

Runs of a sweep are titled by their overrides (:mod:`lattice.viewer.names`). Uses matplotlib's
Agg backend only (no Qt). Prints the paths written.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# numpy, zarr, h5py and matplotlib are imported where they are used: ``--help`` and argument
# errors answer without loading them.
if TYPE_CHECKING:
    import numpy as np
    from lattice.viewer.store import RunStore

DPI = 120


def key_frames(store: RunStore, events: dict[str, float]) -> list[tuple[str, int]]:
    """``(title, frame)`` of start, nadir, progression (if not NaN) and end; keys falling on the
    same frame are merged (``"start, nadir"``)."""
    n = store.n_frames
    if not n:
        return []
    keys: list[tuple[str, int]] = [("start", 0)]
    for key, event in (("nadir", "nadir_time_h"), ("progression", "progression_time_h")):
        t = events.get(event, math.nan)
        if t is not None and math.isfinite(t):
            k = store.time.nearest_frame(t)
            keys.append((key if math.isclose(t, store.frame_times_h[k]) else f"{key} ({t:g} h)", k))
    keys.append(("end", n - 1))
    merged: dict[int, list[str]] = {}
    for key, k in keys:
        merged.setdefault(k, []).append(key)
    return [(", ".join(names), k) for k, names in sorted(merged.items())]


def _label_rgba(store: RunStore, layer: str, data: np.ndarray) -> np.ndarray:
    import numpy as np

    lut = np.zeros((256, 4))
    for c in store.label_codes(layer):
        lut[c.code] = c.rgba
    return lut[data]


def _slice2d(store: RunStore, a: np.ndarray) -> np.ndarray:
    return a if a.ndim == 2 else a[a.shape[0] // 2]


def populations_figure(store: RunStore, log: bool = True):
    """The population curves of one run (a matplotlib Figure); ``log``: symmetric-log count
    axis (linear below one cell, so that zero is drawn)."""
    from lattice.viewer.plots import figure_legend, plot_populations
    from matplotlib.figure import Figure

    ts, events = store.summary()
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.subplots()
    plot_populations(ax, store, ts, legend=False, log=log)
    for key, event, style in (("nadir", "nadir_time_h", ":"), ("progression", "progression_time_h", "--")):
        t = events.get(event, math.nan)
        if math.isfinite(t):
            ax.axvline(t, color="0.3", ls=style, lw=1)
            ax.annotate(key, (t, 1.0), xycoords=("data", "axes fraction"), fontsize=8, rotation=90,
                        va="top", ha="right", color="0.3")
    ax.set_xlabel("time (h)")
    ax.set_title(f"{store.label}: populations", wrap=True)
    figure_legend(fig, [ax], max_rows=20)
    return fig


def write_populations(store: RunStore, out: Path, log: bool = True) -> Path:
    path = out / "populations.png"
    populations_figure(store, log=log).savefig(path, dpi=DPI)
    return path


def snapshots_figure(store: RunStore):
    """Cell states and fields of one run at its key times (a matplotlib Figure), or None when
    the run has no frame. Axes in µm on the outer panels; colour bars carry the field units."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    _, events = store.summary()
    frames = key_frames(store, events)
    if not frames:
        return None
    rows: list[tuple[str, str | None]] = [("cells", None)]
    if "oxygen" in store.field_names:
        rows.append(("field", "oxygen"))
    drug = store.primary_drug_field()
    if drug:
        rows.append(("field", drug))
    ny, nx = store.zyx[1], store.zyx[2]
    sy, sx = store.spacing_zyx_um[1], store.spacing_zyx_um[2]
    extent = (0, nx * sx, ny * sy, 0)
    fig = Figure(figsize=(2.6 * len(frames) + 1.2, 2.6 * len(rows) + 0.8), layout="constrained")
    grid = fig.add_gridspec(len(rows), len(frames) + 1, width_ratios=[1.0] * len(frames) + [0.06])
    for i, (kind, name) in enumerate(rows):
        if kind == "field":
            lo, hi = store.contrast_limits(name)
            cmap = "inferno" if name == "oxygen" else "viridis"
        for j, (title, k) in enumerate(frames):
            ax = fig.add_subplot(grid[i, j])
            if i < len(rows) - 1:
                ax.set_xticks([])
            else:
                ax.set_xlabel("x (µm)", fontsize=8)
            if j > 0:
                ax.set_yticks([])
            ax.locator_params(nbins=4)  # few tick labels: readable, and text is what costs time here
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(f"{title}\nt = {store.frame_times_h[k]:g} h", fontsize=9)
            if kind == "cells":
                ax.set_facecolor("black")
                ax.imshow(_label_rgba(store, "cells", _slice2d(store, store.frame_labels("cells", k))),
                          extent=extent, interpolation="nearest")
            else:
                im = ax.imshow(_slice2d(store, store.frame_field(name, k)), extent=extent, cmap=cmap,
                               vmin=lo, vmax=hi, interpolation="nearest")
            if j == 0:
                ax.set_ylabel(f"{'cell states' if kind == 'cells' else name}\ny (µm)", fontsize=9)
        if kind == "field":
            units = store.field_spec(name)["units"]
            fig.colorbar(im, cax=fig.add_subplot(grid[i, -1]), label=f"{name} ({units})" if units else name)
    counts_any = set()
    for _, k in frames:
        counts_any |= set(store.counts("cells", k))
    handles = [Patch(facecolor=c.rgba, edgecolor="0.5", label=c.name)
               for c in store.label_codes("cells") if c.code and c.code in counts_any]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 6), fontsize=8)
    where = " (middle z slice)" if not store.is2d else ""
    fig.suptitle(f"{store.label}: key times{where}; voxel {sx:g} µm", fontsize=10, wrap=True)
    return fig


def write_snapshots(store: RunStore, out: Path) -> Path | None:
    fig = snapshots_figure(store)
    if fig is None:
        return None
    path = out / "snapshots.png"
    fig.savefig(path, dpi=DPI)
    return path


def write_report(run: Path | str, out: Path | str | None = None, log: bool = True) -> list[Path]:
    """Write the report PNGs of every run under ``run``; returns the paths written.

    ``out`` defaults to ``<run dir>/report``; with several runs, one sub-folder per run (named
    like the run's directory). ``log``: log count axis of the population curves.
    """
    import matplotlib
    from lattice.viewer.names import open_named_runs

    matplotlib.use("Agg", force=False)
    stores = open_named_runs([run])
    base = Path(out) if out is not None else None
    written: list[Path] = []
    for store in stores:
        if base is None:
            target = store.run_dir / "report"
        else:
            target = base / store.run_dir.name if len(stores) > 1 else base
        target.mkdir(parents=True, exist_ok=True)
        written.append(write_populations(store, target, log=log))
        snap = write_snapshots(store, target)
        if snap is not None:
            written.append(snap)
        from lattice.io.rundir import LINEAGE_NAME

        if (store.run_dir / LINEAGE_NAME).exists():  # barcoded runs: ranked clone sizes and relapse clones
            from lattice.lineage import plot_clones

            written.append(plot_clones(store.run_dir, target / "clones.png"))
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lattice-report", description="Write PNG figures of a DTP Lattice run.")
    p.add_argument("run", metavar="RUN", help="run directory or run.zarr (or a directory of runs)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: RUN/report)")
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--log", dest="log", action="store_true", default=True,
                       help="log count axis for the population curves (default): a few DTPs stay visible")
    scale.add_argument("--linear", dest="log", action="store_false", help="linear count axis instead")
    args = p.parse_args(argv)
    try:
        paths = write_report(args.run, args.out, log=args.log)
    except ValueError as exc:
        print(f"lattice-report: error: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
