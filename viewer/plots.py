"""Population curves drawn with matplotlib (no Qt): shared by the dock widget and the report."""

from __future__ import annotations

import numpy as np
from lattice.viewer.store import IMMUNE_COLUMNS, RunStore

TUMOUR_COLUMNS = ("sensitive", "primed", "dtp", "dtep", "resistant", "dead", "necrotic")
STROMA_COLUMNS = ("caf", "vessel", "normal")
DRUG_SHADES = ("#999999", "#cc79a7", "#56b4e9", "#e69f00", "#009e73")


def on_intervals(time_h: np.ndarray, on: np.ndarray) -> list[tuple[float, float]]:
    """Time intervals over which ``on`` is true (row i covers ``time_h[i-1]..time_h[i]``: the
    drug was on during the step that ended at ``time_h[i]``)."""
    t = np.asarray(time_h, dtype=float)
    on = np.asarray(on) > 0
    out: list[tuple[float, float]] = []
    start = None
    for i in range(len(t)):
        lo = t[i - 1] if i > 0 else t[i]
        if on[i] and start is None:
            start = lo
        elif not on[i] and start is not None:
            out.append((start, lo))
            start = None
    if start is not None and len(t):
        out.append((start, t[-1]))
    return out


def set_count_scale(ax, log: bool) -> None:
    """Count axis of population curves: symmetric log (linear below one cell, so that zero
    counts are drawn and 1, 10, 100… are evenly spaced), or linear; labelled with its unit."""
    if log:
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("symlog", linthresh=1.0, linscale=0.5)
        ax.set_ylim(bottom=0.0)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))  # 1, 10, 1,000: no 10^k
        ax.set_ylabel("cells (count, log scale)")
    else:
        ax.set_yscale("linear")
        ax.set_ylabel("cells (count)")


def plot_populations(ax, store: RunStore, ts: dict[str, np.ndarray], legend: bool = True, log: bool = False) -> None:
    """Draw one run's curves on a matplotlib axes: tumour states, total, stroma that changes,
    immune cells (dashed), drug on/off shading; ``log``: log count axis (:func:`set_count_scale`).
    Shared with ``lattice-report``."""
    if "time_h" not in ts or not len(ts["time_h"]):
        ax.text(0.5, 0.5, "no summary yet", ha="center", va="center", transform=ax.transAxes)
        return
    t = ts["time_h"]
    colours = {c.name: c.rgba for c in store.label_codes("cells")}
    if "tumour_total" in ts:  # underneath, wide and pale: a state equal to the total stays visible
        ax.plot(t, ts["tumour_total"], color="black", lw=3.0, alpha=0.3, label="tumour total")
    for name in TUMOUR_COLUMNS:
        if name in ts:
            ax.plot(t, ts[name], color=colours.get(name, None), lw=1.4, label=name)
    for name in STROMA_COLUMNS:
        if name in ts and np.ptp(ts[name]) > 0:
            rgba = colours.get(name, (0.5, 0.5, 0.5, 1.0))
            ax.plot(t, ts[name], color=(*rgba[:3], 1.0), lw=1.0, ls=":", label=name)
    immune = {c.name: c.rgba for c in store.label_codes("immune")}
    for name, column in IMMUNE_COLUMNS.items():
        if column in ts and np.any(ts[column]):
            ax.plot(t, ts[column], color=immune.get(name), lw=1.2, ls="--", label=column.replace("_", " "))
    drugs = [c[3:] for c in ts if c.startswith("on_")]
    for i, drug in enumerate(drugs):
        shade = DRUG_SHADES[i % len(DRUG_SHADES)]
        for j, (a, b) in enumerate(on_intervals(t, ts[f"on_{drug}"])):
            ax.axvspan(a, b, color=shade, alpha=0.18, lw=0, label=f"{drug} on" if j == 0 else None)
    ax.set_xlim(float(t[0]), float(t[-1]) if t[-1] > t[0] else float(t[0]) + 1.0)
    set_count_scale(ax, log)
    ax.grid(alpha=0.25)
    if legend:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)


def figure_legend(fig, axes, max_rows: int = 9) -> None:
    """One legend for all axes, outside on the right (every curve label once)."""
    seen: dict[str, object] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    if seen:
        ncol = max(1, -(-len(seen) // max_rows))
        fig.legend(list(seen.values()), list(seen), loc="outside right upper", fontsize=7, frameon=False, ncol=ncol)
