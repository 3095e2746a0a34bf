"""Output at replicate scale (docs/outputs.md): one run.zarr with one OME image group per
replicate, one summary table with a replicate column, one checkpoint with a replicate axis,
a checkpoint cadence of its own, summary-only runs, and kill -9 + resume of an ensemble.

Small lattices; the subprocess test uses the real CLI.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr
from ome_zarr_models.exceptions import ValidationWarning
from ome_zarr_models.v05.image import Image
from ome_zarr_models.v05.image_label import ImageLabel
from zarr.storage import LocalStore

from lattice.events import compute_events
from lattice.io import RunWriter, find_runs, open_run, prepare_run_dir, read_summary
from lattice.observe import column_doc
from lattice.simulation import Simulation
from tests.kill_helpers import kill_after_frames

SHAPE = (6, 5)
FIELDS = [{"name": "oxygen", "units": "mmHg", "description": "dissolved oxygen"},
          {"name": "drug_a", "units": "uM", "description": "primary drug"}]


def ensemble_arrays(R: int, k: int) -> dict[str, np.ndarray]:
    """Every replicate's arrays at frame k; replicate r's values depend on (r, k)."""
    rng = np.random.default_rng(10 * k)
    out = {name: rng.random((R, *SHAPE), dtype=np.float32) for name in ("clock", "memory", "timer_h")}
    out["cells"] = (np.arange(R)[:, None, None] + k + np.zeros(SHAPE, np.uint8)).astype(np.uint8) % 7 + 1
    out["immune"] = ((np.arange(R)[:, None, None] * 3 + k) % 4 + 1 + np.zeros(SHAPE)).astype(np.uint8)
    offset = np.arange(R, dtype=np.float32)[:, None, None, None]
    out["fields"] = rng.random((R, len(FIELDS), *SHAPE), dtype=np.float32) * np.float32(10) + offset
    return out


def ensemble_table(R: int, n: int) -> dict[str, np.ndarray]:
    t = np.arange(n, dtype=np.float64)
    return {"time_h": np.tile(t, (R, 1)), "tumour_total": (100 + np.arange(R)[:, None] + t[None]).astype(np.int64)}


def make(run_dir: Path, R: int, **kw) -> RunWriter:
    prepare_run_dir(run_dir, overwrite=False)
    args = {"shape": SHAPE, "spacing_um": 10.0, "field_specs": FIELDS, "config": {"seed": 1}, "config_yaml": "seed: 1\n",
            "seed": 1, "version": "test", "frame_every_h": 1.0, "replicates": R}
    return RunWriter(run_dir, **(args | kw))


def record(w: RunWriter, R: int, k: int, **kw) -> None:
    table = ensemble_table(R, k + 1)
    events = [compute_events({c: v[r] for c, v in table.items()}) for r in range(R)]
    w.record(float(k), k, ensemble_arrays(R, k), table, events, **kw)


def validate(group: zarr.Group) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ValidationWarning)
        image = Image.from_zarr(group)
        assert sorted(image.labels.label_paths) == ["cells", "immune"]
        for layer in ("cells", "immune"):
            ImageLabel.from_zarr(group[f"labels/{layer}"])


def test_ensemble_store_layout_views_and_table(tmp_path):
    R = 3
    run_dir = tmp_path / "run"
    w = make(run_dir, R, planned_frames=3)
    for k in range(3):
        record(w, R, k)
        # live: every frame that exists is readable, every replicate image valid
        live = open_run(run_dir, replicate=2)
        assert live.n_frames == k + 1
        np.testing.assert_array_equal(live.frame(k)["cells"], ensemble_arrays(R, k)["cells"][2])
    w.close()
    store = run_dir / "run.zarr"
    root = zarr.open_group(LocalStore(store, read_only=True), mode="r")
    assert "0" not in root and "ome" not in root.attrs  # the root is a collection, not an image
    meta = root.attrs["dtp_lattice"]
    assert meta["replicates"] == R and meta["frame_times_h"] == [0.0, 1.0, 2.0] and meta["schema_version"] == 2
    for r in range(R):
        g = root[f"replicate_{r:03d}"]
        validate(g)
        assert g["0"].shape == (3, len(FIELDS), 1, *SHAPE) and g["labels/cells/0"].shape == (3, 1, *SHAPE)
        for k in range(3):
            a = ensemble_arrays(R, k)
            np.testing.assert_array_equal(g["0"][k, :, 0], a["fields"][r])
            np.testing.assert_array_equal(g["labels/immune/0"][k, 0], a["immune"][r])
        # final display windows: over all replicates and frames
        win = g.attrs["ome"]["omero"]["channels"][1]["window"]
        every = np.stack([ensemble_arrays(R, k)["fields"][:, 1] for k in range(3)])
        assert win["min"] == pytest.approx(every.min()) and win["max"] == pytest.approx(every.max())
    # each replicate is a run view for the viewer and tools
    views = find_runs(run_dir)
    assert views == [store / f"replicate_{r:03d}" for r in range(R)]
    for r, view in enumerate(views):
        rd = open_run(view)
        assert rd.replicate == r and rd.replicates == R and rd.label == f"replicate_{r:03d}"
        assert rd.run_dir == run_dir.absolute() and rd.config == {"seed": 1}
        ts, ev = rd.summary()
        np.testing.assert_array_equal(ts["tumour_total"], 100 + r + np.arange(3))
        assert ev["nadir_burden"] == 100 + r and math.isnan(ev["progression_time_h"])
    with pytest.raises(ValueError, match="replicates 0…2, not 3"):
        open_run(run_dir, replicate=3)
    # one table: replicate column, rows by replicate then step; events one per replicate
    ts, events, attrs = read_summary(run_dir / "summary.h5")
    np.testing.assert_array_equal(ts["replicate"], np.repeat(np.arange(R), 3))
    np.testing.assert_array_equal(ts["time_h"], np.tile(np.arange(3.0), R))
    np.testing.assert_array_equal(events["nadir_burden"], [100.0, 101.0, 102.0])
    assert attrs["replicates"] == R
    with h5py.File(run_dir / "summary.h5") as f:
        np.testing.assert_array_equal(f["events"].attrs["nadir_burden"], [100.0, 101.0, 102.0])
    # the checkpoint: every replicate, replicate axis first
    state = open_run(run_dir).state()
    assert state.step == 2 and state.replicates == R
    for name, a in ensemble_arrays(R, 2).items():
        np.testing.assert_array_equal(state.arrays[name], a)
    assert state.timeseries["tumour_total"].shape == (R, 3)


def test_ensemble_frame_cost_per_replicate_is_its_chunks(tmp_path, monkeypatch):
    """A frame of R replicates writes exactly 3 R chunk files and one root metadata file into
    run.zarr (no per-array metadata: the t extent is reserved); the checkpoint writes the same
    number of files whatever R."""
    counts = {}
    for R in (2, 8):
        w = make(tmp_path / f"r{R}", R, planned_frames=4)
        record(w, R, 0)
        keys: list[str] = []
        real_set = LocalStore.set

        async def set_(self, key, value, _keys=keys, _real=real_set):
            _keys.append(f"{Path(str(self.root)).name}:{key}")
            return await _real(self, key, value)

        monkeypatch.setattr(LocalStore, "set", set_)
        record(w, R, 1, checkpoint=False)
        frame_keys = list(keys)
        keys.clear()
        record(w, R, 2)
        monkeypatch.undo()
        w.close()
        chunks = [k for k in frame_keys if "/c/" in k]
        assert len(chunks) == 3 * R, frame_keys
        assert sorted(k for k in frame_keys if k not in chunks) == ["run.zarr:zarr.json"], frame_keys
        counts[R] = len([k for k in keys if k.startswith(".state.tmp:")])
    assert counts[2] == counts[8] > 0


def test_ensemble_writer_crash_mid_frame_loses_only_that_frame(tmp_path, monkeypatch):
    """The process dies after some replicates' chunks of frame 2 were written: frames 0–1 of
    every replicate stay complete; resume continues all replicates from step 1."""
    R = 4
    run_dir = tmp_path / "run"
    w = make(run_dir, R, planned_frames=5)
    record(w, R, 0)
    record(w, R, 1)

    class Crash(Exception):
        pass

    real_set = LocalStore.set
    n = {"chunks": 0}

    async def die_after_five_chunks(self, key, value):
        if "/c/" in key:
            n["chunks"] += 1
            if n["chunks"] > 5:
                raise Crash
        return await real_set(self, key, value)

    monkeypatch.setattr(LocalStore, "set", die_after_five_chunks)
    with pytest.raises(Crash):
        record(w, R, 2)
    monkeypatch.undo()
    assert open_run(run_dir).n_frames == 2
    w2, state = RunWriter.reopen(run_dir)
    assert state.step == 1 and w2.frame_times_h == [0.0, 1.0]
    np.testing.assert_array_equal(state.arrays["cells"], ensemble_arrays(R, 1)["cells"])
    for k in (2, 3):
        record(w2, R, k)
    w2.close()
    root = zarr.open_group(LocalStore(run_dir / "run.zarr", read_only=True), mode="r")
    for r in range(R):
        validate(root[f"replicate_{r:03d}"])
        for k in range(4):
            np.testing.assert_array_equal(root[f"replicate_{r:03d}/labels/cells/0"][k, 0],
                                          ensemble_arrays(R, k)["cells"][r])


def build_sim(run_dir: Path, *overrides: str) -> Simulation:
    from lattice.backend import make_backend
    from lattice.configure import compose, params_from_config
    from lattice.model import Model

    cfg = compose(["grid.shape=[16,16]", "output.progress=false", "backend=numpy", *overrides])
    params = params_from_config(cfg)
    return Simulation(Model.build(params, make_backend("numpy")), run_dir, {"grid": {"shape": [16, 16]}}, "x: 1\n")


def test_summary_only_ensemble_and_checkpoint_cadence(tmp_path, monkeypatch):
    """output.frames=false: no images, one table of every replicate (rewritten every every_h and
    at the end), resumable. checkpoint_every_h=4 with frames every 2 h: checkpoints at 0, 4, 8
    and the end (9 h), frames only on the 2-h grid."""
    steps: list[int] = []
    real = RunWriter._write_checkpoint

    def spy(self, step, *a):
        steps.append(step)
        return real(self, step, *a)

    monkeypatch.setattr(RunWriter, "_write_checkpoint", spy)
    sim = build_sim(tmp_path / "framed", "replicates=2", "duration_h=9", "output.every_h=2", "output.checkpoint_every_h=4")
    sim.start()
    sim.run()
    assert steps == [0, 4, 8, 9]
    r = open_run(tmp_path / "framed", replicate=1)
    assert list(r.frame_times_h) == [0.0, 2.0, 4.0, 6.0, 8.0] and r.state().step == 9
    ome = r.image_group.attrs["ome"]["multiscales"][0]
    assert ome["axes"][0]["unit"] == "hour" and ome["datasets"][0]["coordinateTransformations"][0]["scale"][0] == 2.0

    steps.clear()
    only = tmp_path / "only"
    sim = build_sim(only, "replicates=3", "duration_h=5", "output.every_h=2", "output.frames=false")
    sim.start()
    result = sim.run()
    assert steps == [0, 2, 4, 5] and len(result.final) == 3
    assert not any(p.name.startswith("replicate_") for p in (only / "run.zarr").iterdir())
    reader = open_run(only)
    assert not reader.has_frames and reader.n_frames == 0 and find_runs(only) == [only.absolute() / "run.zarr"]
    with pytest.raises(IndexError, match="output.frames=false"):
        reader.frame(0)
    from lattice.viewer.store import RunStore

    with pytest.raises(ValueError, match=r"records only the summary \(output.frames=false\)"):
        RunStore(only)
    ts, _, attrs = read_summary(only / "summary.h5")
    assert attrs["replicates"] == 3 and len(ts["time_h"]) == 3 * 6
    np.testing.assert_array_equal(ts["replicate"], np.repeat(np.arange(3), 6))
    # resumed to 8 h, it equals a run of 8 h from the start
    sim = build_sim(only, "replicates=3", "duration_h=8", "output.every_h=2", "output.frames=false")
    sim.resume()
    sim.run()
    fresh = build_sim(tmp_path / "fresh", "replicates=3", "duration_h=8", "output.every_h=2", "output.frames=false")
    fresh.start()
    fresh.run()
    ta, ea, _ = read_summary(only / "summary.h5")
    tb, eb, _ = read_summary(tmp_path / "fresh" / "summary.h5")
    assert list(ta) == list(tb) and len(ta["time_h"]) == 3 * 9
    for k in ta:
        np.testing.assert_array_equal(ta[k], tb[k], err_msg=k)
    for k in ea:
        np.testing.assert_array_equal(ea[k], eb[k], err_msg=k)


def test_summary_datasets_explain_themselves(tmp_path):
    """Every summary.h5 dataset carries units and a description; numbers are numbers."""
    sim = build_sim(tmp_path / "run", "replicates=2", "duration_h=2", "output.every_h=1", "treatment=continuous")
    sim.start()
    sim.run()
    with h5py.File(tmp_path / "run" / "summary.h5") as f:
        assert f.attrs["seed"].dtype.kind == "i" and f.attrs["replicates"] == 2
        for group in ("timeseries", "events"):
            for name, ds in f[group].items():
                assert ds.dtype.kind in "biuf", (group, name, ds.dtype)
                assert "units" in ds.attrs and ds.attrs["description"], (group, name)
        assert f["timeseries/hypoxic_fraction"].attrs["units"] == "1"
        assert f["timeseries/plasma_primary"].attrs["units"] == "uM"
        assert "primary" in f["timeseries/plasma_primary"].attrs["description"]
        assert f["events/progression_time_h"].attrs["units"] == "h"
    assert column_doc("no_such_column") is None


def test_hypoxic_fraction_uses_the_model_threshold():
    """hypoxic_fraction counts live tumour cells below tumour.signals.hypoxic_mmHg (a parameter,
    not a constant): two thresholds give the two direct counts."""
    from lattice import codes
    from lattice.observe import observe

    for threshold in (15.0, 30.0):
        sim = build_sim(Path("unused"), "tumour.signals.hypoxic_mmHg=" + str(threshold))
        model = sim.model
        state = model.initial_state()
        for _ in range(3):
            state = model.step(state)
        o2 = np.asarray(state.fields[:, model.registry.index("oxygen")])
        cells = np.asarray(state.cells)
        live = (cells >= codes.SENSITIVE) & (cells <= codes.RESISTANT)
        expected = (live & (o2 < threshold)).sum() / live.sum()
        assert observe(state, model)["hypoxic_fraction"][0] == pytest.approx(expected)
        sim._io.shutdown()


def test_untreated_run_reports_no_progression():
    t = np.arange(4) * 24.0
    ev = compute_events({"time_h": t, "tumour_total": np.array([10, 11, 13, 20])})
    assert math.isnan(ev["progression_time_h"]) and math.isnan(ev["time_to_progression_h"])
    assert math.isnan(ev["therapy_start_h"]) and ev["nadir_burden"] == 10


def test_resumed_run_reports_totals(tmp_path):
    sim = build_sim(tmp_path / "run", "duration_h=4", "output.every_h=2")
    sim.start()
    first = sim.run()
    assert first.steps == 4 and first.resumed_from_step == 0
    before = open_run(tmp_path / "run").state().wall_s  # compute time up to the checkpoint
    assert 0 < before <= first.wall_s
    sim = build_sim(tmp_path / "run", "duration_h=8", "output.every_h=2")
    sim.resume()
    second = sim.run()
    assert second.steps == 8 and second.time_h == 8.0 and second.resumed_from_step == 4
    assert second.wall_s == pytest.approx(before + second.session_wall_s)
    assert len(open_run(tmp_path / "run").summary()[0]["time_h"]) == 9


def test_old_layout_ensemble_is_read_but_not_resumed(tmp_path):
    """A directory of schema-1 replicates opens in the viewer; resume says clearly it cannot."""
    from lattice.viewer.store import open_runs

    from lattice.io import FrameWriter, OutputError

    for r in range(2):
        w = FrameWriter(tmp_path / "old" / f"replicate_{r:03d}", shape=SHAPE, spacing_um=10.0, field_specs=FIELDS,
                        config={}, config_yaml="", seed=0, replicate=r, version="old", frame_every_h=1.0)
        w.write_frame(0.0, 0, {k: v[0] for k, v in ensemble_arrays(1, 0).items()}, {"time_h": np.zeros(1)}, {})
        w.close()
    runs = open_runs([tmp_path / "old"])
    assert [s.label for s in runs] == ["replicate_000", "replicate_001"]
    sim = build_sim(tmp_path / "old", "replicates=2")
    with pytest.raises(OutputError, match="older one-directory-per-replicate layout .* cannot be resumed"):
        sim.resume()
    sim._io.shutdown()


def test_sigkill_of_an_ensemble_resumes_byte_identical(tmp_path):
    """kill -9 part-way through a 3-replicate run: every committed frame of every replicate
    reads back, and resume ends with exactly the frames, checkpoint and table of an
    uninterrupted run."""
    args = ["grid.shape=[20,20]", "replicates=3", "duration_h=40", "output.every_h=2", "output.progress=false",
            "backend=numpy"]
    killed, full = tmp_path / "killed", tmp_path / "full"

    def cli(*a):
        return subprocess.run([sys.executable, "-m", "lattice.cli", *a], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300, check=False)

    kill_after_frames(args, killed, tmp_path, frames=4)
    n = open_run(killed).n_frames
    assert 4 <= n < 21, "the run must have been killed part-way"
    for r in range(3):
        reader = open_run(killed, replicate=r)
        for i in range(reader.n_frames):
            assert reader.frame(i)["cells"].size == 20 * 20
    resumed = cli(f"resume={killed}")
    assert resumed.returncode == 0, resumed.stderr
    assert cli(*args, f"hydra.run.dir={full}").returncode == 0
    za = zarr.open_group(LocalStore(full / "run.zarr", read_only=True), mode="r")
    zb = zarr.open_group(LocalStore(killed / "run.zarr", read_only=True), mode="r")
    assert za.attrs["dtp_lattice"]["frame_times_h"] == zb.attrs["dtp_lattice"]["frame_times_h"]
    for r in range(3):
        for name in ("0", "labels/cells/0", "labels/immune/0"):
            a, b = za[f"replicate_{r:03d}/{name}"], zb[f"replicate_{r:03d}/{name}"]
            assert a.shape == b.shape
            np.testing.assert_array_equal(a[...], b[...])
    for name in json.loads((full / "run.zarr/state/zarr.json").read_text())["attributes"]["arrays"]:
        np.testing.assert_array_equal(za[f"state/{name}"][...], zb[f"state/{name}"][...], err_msg=name)
    ta, ea, _ = read_summary(full / "summary.h5")
    tb, eb, _ = read_summary(killed / "summary.h5")
    assert list(ta) == list(tb)
    for k in ta:
        np.testing.assert_array_equal(ta[k], tb[k], err_msg=k)
    for k in ea:
        np.testing.assert_array_equal(ea[k], eb[k], err_msg=k)
