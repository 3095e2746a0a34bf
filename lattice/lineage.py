"""Lineage readouts from barcodes (docs/lineage.md): clone sizes, surviving clones, per-clone
state shares and the barcode overlap between sister dishes.

A *clone* is the set of live tumour cells of one replicate that carry the same non-zero
``State.barcode``. Sister dishes are replicates ``2k`` and ``2k + 1`` (with
``tumour.barcodes.twin_dishes`` they start from one population). The overlap test of barcoding
studies: the clones that survive in both dishes (``shared_clones``) against what independent
fates would give, ``chance = clones_a × clones_b / clones at the split`` (each of the N clones at
the split survives in dish a with probability clones_a/N, independently of dish b).
"""

from __future__ import annotations

import math

import numpy as np

from lattice import codes
from lattice.io.rundir import LINEAGE_NAME  # the file beside summary.h5 (docs/lineage.md)

#: State columns of the per-clone table, in order (S, P, D, E, R).
STATE_CODES = {"sensitive": codes.SENSITIVE, "primed": codes.PRIMED, "dtp": codes.DTP, "dtep": codes.DTEP,
               "resistant": codes.RESISTANT}


def sister(r: int, replicates: int) -> int | None:
    """The sister dish of replicate ``r`` (r XOR 1), or None for the last of an odd number."""
    s = r ^ 1
    return s if s < replicates else None


def clone_ids(barcode, cells, xp):
    """Per replicate, the sorted distinct barcodes of live labelled tumour cells."""
    live = codes.is_live_tumour(cells) & (barcode > 0)
    return [xp.unique(barcode[r][live[r]]) for r in range(barcode.shape[0])]


def columns(state, xp) -> dict[str, object]:
    """Per-step summary columns ``(R,)``: ``clones``, ``largest_clone``, ``shared_clones``."""
    R = state.replicates
    live = codes.is_live_tumour(state.cells) & (state.barcode > 0)
    ids, largest = [], []
    for r in range(R):
        values, counts = xp.unique(state.barcode[r][live[r]], return_counts=True)
        ids.append(values)
        largest.append(counts.max() if counts.size else xp.int64(0))
    shared = []
    for r in range(R):
        s = sister(r, R)
        shared.append(xp.isin(ids[r], ids[s]).sum() if s is not None else xp.int64(-1))
    return {"clones": xp.asarray([i.size for i in ids], dtype=xp.int64),
            "largest_clone": xp.stack([xp.asarray(v, dtype=xp.int64) for v in largest]),
            "shared_clones": xp.stack([xp.asarray(v, dtype=xp.int64) for v in shared])}


def clone_table(barcode: np.ndarray, cells: np.ndarray, top: int) -> dict[str, np.ndarray]:
    """The clone-size distribution and the state shares of the largest clones (NumPy, one frame).

    Returns:
        ``replicate``, ``barcode``, ``size`` (int64, every clone of every replicate, largest
        first within a replicate) and, for the ``top`` largest clones of each replicate, the
        rows ``top_replicate``, ``top_barcode`` and ``top_shares`` float64 ``(rows, 5)``: the
        fraction of the clone's cells in S, P, D, E, R (STATE_CODES order).
    """
    out = {k: [] for k in ("replicate", "barcode", "size", "top_replicate", "top_barcode", "top_shares")}
    live = codes.is_live_tumour(cells) & (barcode > 0)
    for r in range(barcode.shape[0]):
        ids, inverse, counts = np.unique(barcode[r][live[r]], return_inverse=True, return_counts=True)
        order = np.lexsort((ids, -counts))  # largest first, ties by barcode
        out["replicate"].append(np.full(ids.size, r, dtype=np.int64))
        out["barcode"].append(ids[order].astype(np.int64))
        out["size"].append(counts[order].astype(np.int64))
        best = order[:top]
        state = cells[r][live[r]]
        shares = np.stack([np.bincount(inverse, weights=(state == c), minlength=ids.size)
                           for c in STATE_CODES.values()], axis=1) / np.maximum(counts, 1)[:, None]
        out["top_replicate"].append(np.full(best.size, r, dtype=np.int64))
        out["top_barcode"].append(ids[best].astype(np.int64))
        out["top_shares"].append(shares[best])
    table = {k: np.concatenate(v) for k, v in out.items() if k != "top_shares"}
    table["top_shares"] = np.concatenate(out["top_shares"]).reshape(-1, len(STATE_CODES))
    return table


def overlap(clones_a: float, clones_b: float, shared: float, clones_split: float) -> dict[str, float]:
    """Observed shared clones against chance for one pair of sister dishes.

    Returns:
        ``shared``, ``chance`` (= clones_a × clones_b / clones_split) and ``ratio`` = shared / chance
        (NaN when chance is 0): ≫ 1 when fates are clonal, ≈ 1 when they are independent.
    """
    chance = clones_a * clones_b / clones_split if clones_split > 0 else math.nan
    ratio = shared / chance if chance and not math.isnan(chance) else math.nan
    return {"shared": float(shared), "chance": float(chance), "ratio": float(ratio)}


def overlap_from_table(table: dict[str, np.ndarray], row: int = -1) -> list[dict[str, float]]:
    """:func:`overlap` for every pair of sister dishes at ``row`` of a summary table (column →
    ``(R, rows)``), the split being row 0."""
    R = table["clones"].shape[0]
    out = []
    for a in range(0, R - 1, 2):
        b = a + 1
        split = min(table["clones"][a, 0], table["clones"][b, 0])
        out.append(overlap(table["clones"][a, row], table["clones"][b, row], table["shared_clones"][a, row], split))
    return out


#: Clones per replicate whose state shares are written at each frame.
TOP_CLONES = 10


def write_frame(run_dir, time_h: float, step: int, barcode: np.ndarray, cells: np.ndarray,
                top: int = TOP_CLONES) -> None:
    """Add one frame's clone table (:func:`clone_table`) to ``<run_dir>/lineage.h5`` as the group
    ``frames/<step, 9 digits>``, dropping frames at or after ``step`` (a resumed run rewrites them
    identically). The file is rewritten to a temporary name and renamed, so a killed run leaves
    the previous complete file."""
    import os
    from pathlib import Path

    import h5py

    path = Path(run_dir) / LINEAGE_NAME
    tmp = path.with_name(LINEAGE_NAME + ".tmp")
    table = clone_table(barcode, cells, top)
    with h5py.File(tmp, "w") as out:
        out.attrs["description"] = ("clone sizes (live tumour cells per non-zero barcode, per replicate, largest "
                                    "first) and the S/P/D/E/R shares of each replicate's largest clones, per frame")
        out.attrs["state_columns"] = list(STATE_CODES)
        frames = out.create_group("frames")
        if path.exists():
            with h5py.File(path, "r") as old:
                for name, group in old.get("frames", {}).items():
                    if int(group.attrs["step"]) < step:
                        old.copy(group, frames, name=name)
        group = frames.create_group(f"{step:09d}")
        group.attrs["time_h"], group.attrs["step"] = float(time_h), int(step)
        docs = {"replicate": ("1", "replicate of each clone"), "barcode": ("1", "clone id"),
                "size": ("cells", "live tumour cells of the clone"),
                "top_replicate": ("1", "replicate of each of the largest clones"),
                "top_barcode": ("1", "clone id of each of the largest clones"),
                "top_shares": ("1", "fraction of the clone's cells in S, P, D, E, R (state_columns)")}
        for name, values in table.items():
            ds = group.create_dataset(name, data=values)
            ds.attrs["units"], ds.attrs["description"] = docs[name]
    os.replace(tmp, path)


def read_frames(run_dir) -> list[dict]:
    """Every frame of ``<run_dir>/lineage.h5``, in time order: ``time_h``, ``step`` and the
    :func:`clone_table` arrays."""
    from pathlib import Path

    import h5py

    with h5py.File(Path(run_dir) / LINEAGE_NAME, "r") as f:
        return [{"time_h": float(g.attrs["time_h"]), "step": int(g.attrs["step"]), **{k: g[k][()] for k in g}}
                for _, g in sorted(f["frames"].items())]


def plot_clones(run_dir, out, replicate: int = 0, n_times: int = 4, n_clones: int = 8):
    """One replicate's clones (``lineage.h5``): ranked clone sizes at ``n_times`` frames spread
    over the run (left: before, under and after drug) and, Muller-style, the sizes over time of
    the ``n_clones`` largest clones at the end stacked on all the others (right: which clones
    the relapse came from). Returns ``out``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    frames = read_frames(run_dir)
    picks = sorted({round(i * (len(frames) - 1) / max(1, n_times - 1)) for i in range(n_times)})
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for i in picks:
        fr = frames[i]
        sizes = fr["size"][fr["replicate"] == replicate]
        if sizes.size:
            left.loglog(np.arange(1, sizes.size + 1), sizes, drawstyle="steps-post", label=f"{fr['time_h']:g} h")
    left.set(xlabel="clone rank", ylabel="live cells in the clone", title=f"ranked clone sizes, replicate {replicate}")
    left.legend(frameon=False)
    mine = [(fr["barcode"][fr["replicate"] == replicate], fr["size"][fr["replicate"] == replicate]) for fr in frames]
    leaders = mine[-1][0][:n_clones]
    t = [fr["time_h"] for fr in frames]
    layers = [[int(sz[ids == b].sum()) for ids, sz in mine] for b in leaders]
    others = [int(sz.sum()) - sum(layer[k] for layer in layers) for k, (_, sz) in enumerate(mine)]
    right.stackplot(t, *layers, others, labels=[f"clone {b}" for b in leaders] + ["all other clones"])
    right.set(xlabel="time (h)", ylabel="live barcoded cells",
              title=f"the {len(leaders)} largest clones at {t[-1]:g} h, over time")
    right.legend(frameon=False, fontsize="small", loc="upper left")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
