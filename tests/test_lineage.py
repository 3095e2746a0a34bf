"""Virtual lineage tracing: barcodes at t = 0 (cell and library modes, twin dishes), inheritance
at division, the evolving barcode, save/kill/resume, backend identity, the readouts, and the
barcode_assay preset's "same clone, same fate?" test."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
import zarr

from lattice import codes
from lattice.lineage import clone_table, overlap, overlap_from_table, sister
from lattice.observe import observe
from lattice.processes import placement
from tests.conftest import build_model
from tests.kill_helpers import kill_after_frames
from tests.test_cli import lattice_run

DISH = ("experiment=persister_assay", "grid.shape=[32,32]", "treatment=none")


def run_table(model, steps):
    state = model.initial_state()
    rows = [observe(state, model)]
    for _ in range(steps):
        state = model.step(state)
        rows.append(observe(state, model))
    return {k: np.stack([r[k] for r in rows], axis=1) for k in rows[0]}, state


def test_barcodes_off_by_default_add_no_array():
    state = build_model(*DISH).initial_state()
    assert state.barcode is None and state.evolving is None
    assert not {"barcode", "evolving"} & set(state.arrays())
    assert "clones" not in observe(state, build_model(*DISH))


def test_cell_mode_gives_every_initial_cell_its_own_clone():
    model = build_model(*DISH, "tumour.barcodes.mode=cell", "replicates=2")
    state = model.initial_state()
    live = codes.is_live_tumour(state.cells)
    assert state.barcode.dtype == np.uint32 and state.barcode.shape == state.cells.shape
    for r in range(2):
        ids = state.barcode[r][live[r]]
        assert ids.min() >= 1 and np.unique(ids).size == ids.size
    assert (state.barcode[~live] == 0).all()
    assert state.evolving is None, "no evolving array unless evolving_per_division > 0"


def test_library_mode_labels_at_the_moi_from_the_library():
    moi, size = 0.3, 50
    model = build_model("experiment=persister_assay", "grid.shape=[100,100]", "treatment=none",
                        "tumour.barcodes.mode=library", f"tumour.barcodes.moi={moi}", f"tumour.barcodes.library_size={size}")
    state = model.initial_state()
    live = codes.is_live_tumour(state.cells)
    ids = state.barcode[live]
    n, p = ids.size, 1 - math.exp(-moi)
    assert abs((ids > 0).mean() - p) < 4 * math.sqrt(p * (1 - p) / n)
    labelled = ids[ids > 0]
    assert labelled.min() >= 1 and labelled.max() <= size
    counts = np.bincount(labelled, minlength=size + 1)[1:]
    expected = labelled.size / size  # uniform over the library: chi-square well below its 99.9 % point
    assert ((counts - expected) ** 2 / expected).sum() < 86.7  # chi2(49) 0.999 quantile


def test_twin_dishes_start_identical_then_diverge():
    model = build_model(*DISH, "tumour.barcodes.mode=library", "tumour.barcodes.twin_dishes=true", "replicates=2",
                        "tumour.barcodes.moi=1")
    state = model.initial_state()
    for name in ("cells", "clock", "barcode", "immune", "fields"):
        a = getattr(state, name)
        np.testing.assert_array_equal(a[0], a[1], err_msg=name)
    for _ in range(30):
        state = model.step(state)
    assert not np.array_equal(state.cells[0], state.cells[1]), "each dish draws its own random numbers"


def test_daughters_inherit_the_mothers_barcode():
    model = build_model("grid.shape=[5,5]", "tumour.barcodes.mode=cell", "tumour.barcodes.evolving_per_division=0")
    state = model.initial_state()
    cells = np.zeros_like(state.cells)
    cells[0, 2, 2] = codes.PRIMED
    barcode = np.zeros_like(cells, dtype=np.uint32)
    barcode[0, 2, 2] = 4242
    state = state.replace(cells=cells, barcode=barcode, memory=np.full_like(state.memory, 0.5))
    new, renewed = placement.divide(state, cells > 0, model)
    born = (new.cells == codes.PRIMED) & (cells == 0)
    assert born.sum() == 1 and renewed.sum() == 2
    assert new.barcode[born][0] == 4242 and new.barcode[0, 2, 2] == 4242


def test_clones_grow_by_inheritance_and_evolving_barcodes_mutate_at_the_stated_rate():
    p = 0.2
    model = build_model(*DISH, "tumour.initial.density=0.05", "tumour.barcodes.mode=cell",
                        f"tumour.barcodes.evolving_per_division={p}")
    state = model.initial_state()
    founders = set(np.unique(state.barcode[codes.is_live_tumour(state.cells)]).tolist())
    np.testing.assert_array_equal(state.evolving, state.barcode)
    divisions = mutated = 0
    for _ in range(48):
        before = state.evolving
        state = model.step(state)
        live = codes.is_live_tumour(state.cells)
        renewed = live & (state.clock == 0)  # both cells of each division restart their clocks
        divisions += int(renewed.sum())
        mutated += int((renewed & (state.evolving != before) & (before != 0)).sum())
    live = codes.is_live_tumour(state.cells)
    assert set(np.unique(state.barcode[live]).tolist()) <= founders, "no new clone ids, only inheritance"
    table = clone_table(state.barcode, state.cells, top=5)
    assert table["size"].sum() == live.sum() and table["size"].max() > 1
    assert (np.diff(table["size"]) <= 0).all(), "largest clone first"
    np.testing.assert_allclose(table["top_shares"].sum(axis=1), 1.0)
    # Every renewed cell mutates with probability p (a daughter born into a voxel that held
    # another id counts as changed too, so bound the rate from both sides loosely).
    assert divisions > 200
    assert abs(mutated / divisions - p) < 4 * math.sqrt(p * (1 - p) / divisions) + 0.05


def test_overlap_statistic():
    assert sister(0, 4) == 1 and sister(3, 4) == 2 and sister(2, 3) is None
    o = overlap(clones_a=100, clones_b=50, shared=20, clones_split=1000)
    assert o["chance"] == pytest.approx(5.0) and o["ratio"] == pytest.approx(4.0)
    assert math.isnan(overlap(0, 0, 0, 0)["ratio"])


def test_barcodes_stay_with_cells_killed_by_t_cells():
    model = build_model("experiment=t_cell_kill_assay", "grid.shape=[32,32]", "immune.initial_t_cells=0.05",
                        "tumour.barcodes.mode=cell")
    state = model.initial_state()
    killed = 0
    for _ in range(24):
        before = state
        state = model.step(state)
        died = codes.is_live_tumour(before.cells) & (state.cells == codes.DEAD)
        killed += int(died.sum())
        np.testing.assert_array_equal(state.barcode[died], before.barcode[died])
    assert killed > 0 and state.immune_events[:, 1].sum() > 0, "T cells killed tumour cells"


@pytest.mark.parametrize("preset", ["persister_assay", "t_cell_kill_assay"])
def test_barcodes_are_identical_on_numpy_and_host(preset):
    from lattice.kernels import _host

    if _host.compiler() is None or not _host.probe()[0]:
        pytest.skip("no host build")
    from tests.test_host_backend import assert_same_states

    over = (f"experiment={preset}", "grid.shape=[32,32]", "replicates=2", "tumour.barcodes.mode=library",
            "tumour.barcodes.moi=1", "tumour.barcodes.library_size=40", "tumour.barcodes.evolving_per_division=0.3")
    over += ("immune.initial_t_cells=0.05",) if preset == "t_cell_kill_assay" else ("treatment=none",)
    ref, host = build_model(*over), build_model(*over, backend="host")
    a, b = ref.initial_state(), host.initial_state()
    for step in range(24):
        assert_same_states(a, b, f"step {step}")
        a, b = ref.step(a), host.step(b)
    assert_same_states(a, b, "end")
    assert (a.evolving != a.barcode).any()


def _twin_assay(*extra):
    model = build_model("experiment=barcode_assay", "replicates=4", "seed=0", *extra)
    table, _ = run_table(model, model.params.n_steps)
    pairs = overlap_from_table(table)
    return sum(p["shared"] for p in pairs), sum(p["chance"] for p in pairs)


def test_barcode_assay_primed_memory_makes_persister_fate_clonal():
    """Two pairs of twin dishes, 7 days of drug. With priming, the clones that survive in one
    dish survive in its twin far more often than chance; with primed_per_h = sensitive_per_h
    the shared clones are at the chance level (Poisson bounds)."""
    shared, chance = _twin_assay()
    assert shared > 4 * chance and shared > chance + 5 * math.sqrt(chance), (shared, chance)
    shared0, chance0 = _twin_assay("tumour.entry.primed_per_h=1.0e-3")  # = sensitive_per_h of the preset
    assert abs(shared0 - chance0) <= 3 * math.sqrt(chance0) + 1, (shared0, chance0)
    assert shared0 / chance0 < shared / chance / 3


def test_barcodes_and_monitoring_survive_a_kill_and_resume(tmp_path):
    """SIGKILL part-way through a barcoded, monitored run; resume gives exactly the uninterrupted
    run's barcodes, measured series and lineage columns."""
    from lattice.io import open_run

    args = ["experiment=barcode_assay", "grid.shape=[40,40]", "duration_h=36", "output.every_h=3",
            "tumour.barcodes.evolving_per_division=0.1", "treatment.monitoring.kind=psa",
            "treatment.monitoring.interval_h=6", "treatment.monitoring.delay_h=3", "treatment.monitoring.cv=0.2",
            "output.progress=false", "backend=numpy"]
    killed, full = tmp_path / "killed", tmp_path / "full"
    kill_after_frames(args, killed, tmp_path, frames=3, poll_s=0.02)
    assert open_run(killed).n_frames < 13, "the run must have been killed part-way"
    proc = lattice_run([f"resume={killed}"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert lattice_run([*args, f"hydra.run.dir={full}"], tmp_path).returncode == 0
    za, zb = zarr.open_group(str(full / "run.zarr"), mode="r"), zarr.open_group(str(killed / "run.zarr"), mode="r")
    for name in ("state/barcode", "state/evolving", "state/measured", "state/measured_baseline", "state/cells"):
        np.testing.assert_array_equal(za[name][...], zb[name][...], err_msg=name)
    assert za["state/barcode"].dtype == np.uint32
    with h5py.File(full / "summary.h5") as fa, h5py.File(killed / "summary.h5") as fb:
        for col in ("clones", "largest_clone", "shared_clones", "measured_burden", "measured_progression_h"):
            np.testing.assert_array_equal(fa["timeseries"][col][()], fb["timeseries"][col][()], err_msg=col)
        assert np.isfinite(fa["timeseries"]["measured_burden"][()]).any()
    with h5py.File(full / "lineage.h5") as fa, h5py.File(killed / "lineage.h5") as fb:
        assert list(fa["frames"]) == list(fb["frames"]) and len(fa["frames"]) == 13  # every 3 h of 36 h
        for name, group in fa["frames"].items():
            for ds in ("replicate", "barcode", "size", "top_barcode", "top_shares"):
                np.testing.assert_array_equal(group[ds][()], fb["frames"][name][ds][()], err_msg=f"{name}/{ds}")
        first, last = fa["frames"]["000000000"], fa["frames"]["000000036"]
        assert last.attrs["time_h"] == 36.0 and first["size"][()].max() == 1  # one cell per clone at the split
        assert last["size"][()].sum() < first["size"][()].sum()  # the drug killed most clones


def test_lineage_file_keeps_earlier_frames_replaces_later_ones_and_plots(tmp_path):
    from lattice.lineage import plot_clones, read_frames, write_frame

    cells = np.full((1, 4, 4), codes.SENSITIVE, dtype=np.uint8)
    cells[0, 0, :2] = codes.DTP
    barcode = np.repeat(np.arange(1, 5, dtype=np.uint32), 4).reshape(1, 4, 4)
    for step in (0, 10, 20):
        write_frame(tmp_path, step * 1.0, step, barcode, cells)
    write_frame(tmp_path, 10.0, 10, barcode[:, ::-1], cells)  # a resumed run rewrites step 10 and drops 20
    frames = read_frames(tmp_path)
    assert [f["step"] for f in frames] == [0, 10]
    assert frames[0]["size"].tolist() == [4, 4, 4, 4] and frames[0]["barcode"].tolist() == [1, 2, 3, 4]
    shares = dict(zip(frames[0]["top_barcode"].tolist(), frames[0]["top_shares"].tolist(), strict=True))
    assert shares[1] == [0.5, 0.0, 0.5, 0.0, 0.0]  # clone 1: two S, two D
    out = plot_clones(tmp_path, tmp_path / "clones.png")
    assert out.stat().st_size > 1000
