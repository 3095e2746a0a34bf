"""Run outputs (docs/outputs.md): run.zarr frames + OME-Zarr 0.5 metadata, summary.h5, checkpoint, resume.

One-replicate runs through :class:`FrameWriter` (the ensemble layout is in test_io_ensemble.py).
Small lattices only; every store is read back with plain zarr / h5py and validated with
ome-zarr-models, and the crash paths (a write interrupted at each step, disk full, a damaged
checkpoint) are checked to leave earlier frames readable and a resumable state, or a one-line
error naming the file and the fix.
"""

from __future__ import annotations

import errno
import json
import math
import os
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

from lattice import codes
from lattice.io import (
    FrameWriter,
    OutputError,
    RunExistsError,
    checkpoint,
    layout,
    open_run,
    prepare_run_dir,
    read_summary,
    write_summary,
)
from lattice.io.layout import chunk_layout, is_lattice_run
from lattice.io.reader import RunReader
from lattice.state import VOXEL_ARRAYS, State

FIELDS = [
    {"name": "oxygen", "units": "mmHg", "description": "dissolved oxygen"},
    {"name": "glucose", "units": "mM", "description": "glucose"},
    {"name": "drug_a", "units": "uM", "description": "primary drug"},
]
CONFIG = {"seed": 7, "grid": {"shape": [6, 5], "spacing_um": 20.0}, "tumour": {"cap": math.inf}, "resume": None}
CONFIG_YAML = "seed: 7\ngrid:\n  shape: [6, 5]\n"
EVERY_H = 24.0


# -------------------------------------------------------------------------------------------
# helpers


def fake_state(shape: tuple[int, ...], k: int) -> dict[str, np.ndarray]:
    """One replicate's arrays (State.empty filled with frame-dependent values)."""
    rng = np.random.default_rng(1000 + k)
    s = State.empty(1, shape, len(FIELDS))
    s.cells[...] = rng.integers(0, len(codes.CELL_LABELS), s.cells.shape)
    s.immune[...] = rng.integers(0, len(codes.IMMUNE_LABELS), s.immune.shape)
    for name in ("clock", "memory", "timer_h"):
        getattr(s, name)[...] = rng.random(s.cells.shape, dtype=np.float32)
    s.fields[...] = rng.random(s.fields.shape, dtype=np.float32) * 40
    return {name: a[0] for name, a in s.arrays().items()}


def fake_rows(n_steps: int) -> dict[str, np.ndarray]:
    t = np.arange(n_steps + 1, dtype=np.float64)
    return {
        "time_h": t,
        "sensitive": (100 + 3 * t).astype(np.int64),
        "dtp": (t % 5).astype(np.int64),
        "o2_mean_mmHg": 38.0 - 0.1 * t,
        "on_a": (t % 2).astype(bool),
    }


def fake_events(k: int) -> dict[str, float | None]:
    return {"nadir_time_h": float(k), "nadir_burden": None, "progression_time_h": math.nan}


def make_writer(run_dir: Path, shape, **kw) -> FrameWriter:
    prepare_run_dir(run_dir, overwrite=False)
    args = {"shape": shape, "spacing_um": 20.0, "field_specs": FIELDS, "config": CONFIG,
            "config_yaml": CONFIG_YAML, "seed": 7, "replicate": 0, "version": "0.1.0-test",
            "frame_every_h": EVERY_H}
    args.update(kw)
    return FrameWriter(run_dir, **args)


STEPS = [0, 24, 48, 72, 96]


def write(writer: FrameWriter, shape, k: int) -> None:
    step = STEPS[k]
    writer.write_frame(float(step), step, fake_state(shape, k), fake_rows(step), fake_events(k))


def zyx(shape):
    return (1, *shape) if len(shape) == 2 else tuple(shape)


def chunk_files(array_dir: Path, t: int) -> list[Path]:
    """Chunk/shard files of frame t (default chunk key encoding: c/<t>/...)."""
    base = array_dir / "c" / str(t)
    if base.is_file():
        return [base]
    return sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []


def validate_ome(store: Path) -> None:
    """OME-Zarr 0.5 validation of the image and both label images; warnings are failures."""
    group = zarr.open_group(LocalStore(store, read_only=True), mode="r", use_consolidated=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ValidationWarning)
        image = Image.from_zarr(group)
        assert image.labels is not None and sorted(image.labels.label_paths) == ["cells", "immune"]
        for layer in ("cells", "immune"):
            label = ImageLabel.from_zarr(group[f"labels/{layer}"])
            il = label.attributes.ome.image_label
            assert il is not None and il.source is not None and il.colors


def check_frames(run_dir: Path, shape, ks: list[int]) -> None:
    """Plain zarr reads of run.zarr equal the written frames exactly."""
    g = zarr.open_group(LocalStore(run_dir / "run.zarr", read_only=True), mode="r", use_consolidated=False)
    meta = g.attrs["dtp_lattice"]
    assert meta["frame_times_h"] == [float(STEPS[k]) for k in ks]
    assert meta["frame_steps"] == [STEPS[k] for k in ks]
    for t, k in enumerate(ks):
        a = fake_state(shape, k)
        np.testing.assert_array_equal(g["0"][t], a["fields"].reshape(len(FIELDS), *zyx(shape)))
        np.testing.assert_array_equal(g["labels/cells/0"][t], a["cells"].reshape(zyx(shape)))
        np.testing.assert_array_equal(g["labels/immune/0"][t], a["immune"].reshape(zyx(shape)))


def check_summary(run_dir: Path, k: int) -> None:
    with h5py.File(run_dir / "summary.h5", "r") as f:
        rows = fake_rows(STEPS[k])
        assert list(f["timeseries"]) == ["replicate", *rows]
        np.testing.assert_array_equal(f["timeseries"]["replicate"][()], np.zeros(len(rows["time_h"])))
        for name, col in rows.items():
            np.testing.assert_array_equal(f["timeseries"][name][()], col)
            assert f["timeseries"][name].dtype == col.dtype
        assert f["events"].attrs["nadir_time_h"] == float(k)
        assert f["events"]["nadir_time_h"][()].tolist() == [float(k)]
        assert math.isnan(f["events"].attrs["nadir_burden"])
        assert math.isnan(f["events"].attrs["dtp_fraction_at_nadir"])
        assert f.attrs["config"] == CONFIG_YAML and f.attrs["version"] == "0.1.0-test" and f.attrs["seed"] == 7


def check_state(state, shape, k: int) -> None:
    """The checkpoint of frame k: one replicate, replicate axis first."""
    a = fake_state(shape, k)
    assert state.step == STEPS[k] and state.time_h == float(STEPS[k]) and state.replicates == 1
    assert set(state.arrays) == set(a)
    for name in a:
        assert state.arrays[name].dtype == a[name].dtype
        np.testing.assert_array_equal(state.arrays[name], a[name][None])
    rows = fake_rows(STEPS[k])
    assert list(state.timeseries) == list(rows)
    for name in rows:
        np.testing.assert_array_equal(state.timeseries[name], rows[name][None])
    assert state.events[0]["nadir_time_h"] == float(k) and math.isnan(state.events[0]["nadir_burden"])


@pytest.fixture
def sharded(monkeypatch):
    """Force the sharded layout on small lattices."""
    monkeypatch.setattr(layout, "SINGLE_CHUNK_MAX_BYTES", 16)
    monkeypatch.setattr(layout, "INNER_CHUNK_BYTES", 16)


SHAPES = {"2d": (6, 5), "3d": (4, 6, 5)}


# -------------------------------------------------------------------------------------------
# layout and metadata


@pytest.mark.parametrize("layout", ["chunk", "shard"])
@pytest.mark.parametrize("dim", ["2d", "3d"])
def test_three_frames_round_trip(tmp_path, request, dim, layout):
    if layout == "shard":
        request.getfixturevalue("sharded")
    shape = SHAPES[dim]
    run_dir = tmp_path / "run"
    w = make_writer(run_dir, shape)
    for k in range(3):
        write(w, shape, k)
        validate_ome(run_dir / "run.zarr")  # valid after every frame (live readers)
    w.close()
    check_frames(run_dir, shape, [0, 1, 2])
    check_summary(run_dir, 2)
    validate_ome(run_dir / "run.zarr")

    store = run_dir / "run.zarr"
    g = zarr.open_group(LocalStore(store, read_only=True), mode="r")  # consolidated after close
    image, cells = g["0"], g["labels/cells/0"]
    assert image.dtype == np.float32 and cells.dtype == np.uint8 and g["labels/immune/0"].dtype == np.uint8
    assert image.shape == (3, len(FIELDS), *zyx(shape)) and cells.shape == (3, *zyx(shape))
    assert image.metadata.dimension_names == ("t", "c", "z", "y", "x")
    assert cells.metadata.dimension_names == ("t", "z", "y", "x")
    if layout == "chunk":
        assert image.shards is None and image.chunks == (1, len(FIELDS), *zyx(shape))
    else:
        assert image.shards[:2] == (1, len(FIELDS)) and image.chunks[:2] == (1, 1)
        assert image.chunks[2:] != zyx(shape)  # several inner chunks per frame
        assert cells.shards is not None and cells.shards[0] == 1
    # one chunk or shard file per frame and array
    for arr_dir in (store / "0", store / "labels/cells/0", store / "labels/immune/0"):
        for t in range(3):
            assert len(chunk_files(arr_dir, t)) == 1, (arr_dir, t, chunk_files(arr_dir, t))
        assert chunk_files(arr_dir, 3) == []
    assert not list(store.rglob("*.partial"))
    assert not (run_dir / "summary.h5.tmp").exists()
    assert not any((run_dir / n).exists() for n in (".state.tmp", ".state.new", ".state.old"))

    # root metadata (docs/outputs.md)
    root = json.loads((store / "zarr.json").read_text())["attributes"]
    meta, ome = root["dtp_lattice"], root["ome"]
    assert meta["version"] == "0.1.0-test" and meta["seed"] == 7 and meta["replicate"] == 0
    assert meta["schema_version"] == 2 and meta["replicates"] == 1 and meta["frames"] is True
    assert meta["fields"] == FIELDS
    assert meta["frame_times_h"] == [0.0, 24.0, 48.0]
    assert meta["config"]["grid"] == CONFIG["grid"] and meta["config"]["tumour"]["cap"] == "inf"
    assert meta["labels"]["cells"][codes.DTP] == {
        "code": codes.DTP, "name": "dtp", "rgba": list(codes.CELL_LABELS[codes.DTP][1])}
    assert [e["code"] for e in meta["labels"]["immune"]] == sorted(codes.IMMUNE_LABELS)
    axes = ome["multiscales"][0]["axes"]
    assert [a["name"] for a in axes] == ["t", "c", "z", "y", "x"]
    assert axes[0]["unit"] == "hour" and all(a["unit"] == "micrometer" for a in axes[2:])
    scale = ome["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"]
    assert scale == [EVERY_H, 1.0, 20.0, 20.0, 20.0]
    assert [c["label"] for c in ome["omero"]["channels"]] == [f["name"] for f in FIELDS]
    win = ome["omero"]["channels"][0]["window"]
    all_o2 = np.stack([fake_state(shape, k)["fields"][0] for k in range(3)])
    assert win["min"] == pytest.approx(all_o2.min()) and win["max"] == pytest.approx(all_o2.max())
    cells_label = json.loads((store / "labels/cells/zarr.json").read_text())["attributes"]["ome"]["image-label"]
    colours = {c["label-value"]: c["rgba"] for c in cells_label["colors"]}
    assert colours[codes.RESISTANT] == [round(c * 255) for c in codes.CELL_LABELS[codes.RESISTANT][1]]
    assert cells_label["source"] == {"image": "../../"}


def test_open_run_reader(tmp_path):
    shape = SHAPES["3d"]
    run_dir = tmp_path / "run"
    w = make_writer(run_dir, shape)
    write(w, shape, 0)
    live = open_run(run_dir)  # a run still being written
    assert live.n_frames == 1
    write(w, shape, 1)
    assert live.n_frames == 1 and live.refresh().n_frames == 2
    w.close()
    for path in (run_dir, run_dir / "run.zarr", str(run_dir)):
        r = open_run(path)
        assert isinstance(r, RunReader)
        np.testing.assert_array_equal(r.frame_times_h, [0.0, 24.0])
        assert r.field_names == ["oxygen", "glucose", "drug_a"] and r.field_units == ["mmHg", "mM", "uM"]
        assert r.shape == shape and r.spacing_um == 20.0 and r.seed == 7
        assert r.config["grid"] == CONFIG["grid"]
        assert r.fields.shape == (2, 3, *shape) and r.cells.shape == (2, *shape) and r.immune.shape == (2, *shape)
        a = fake_state(shape, 1)
        frame = r.frame(-1)
        for name in ("cells", "immune", "fields"):
            np.testing.assert_array_equal(frame[name], a[name])
        np.testing.assert_array_equal(r.field("glucose", 1), a["fields"][1])
        check_state(r.state(), shape, 1)
        assert RunReader.is_lattice_run(path)


def test_is_lattice_run_false_for_foreign(tmp_path):
    foreign = tmp_path / "other.zarr"
    g = zarr.open_group(LocalStore(foreign), mode="w", attributes={"ome": {"version": "0.5"}})
    g.create_array("0", shape=(2, 2), dtype="f4")
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    for path in (foreign, tmp_path / "file.txt", tmp_path / "empty", tmp_path / "missing", tmp_path):
        assert not is_lattice_run(path)
        assert not RunReader.is_lattice_run(path)
    with pytest.raises(ValueError, match="not a DTP Lattice run"):
        open_run(foreign)
    with pytest.raises(FileNotFoundError):
        open_run(tmp_path / "missing")


def test_first_frame_not_at_zero_gets_time_translation(tmp_path):
    shape = SHAPES["2d"]
    run_dir = tmp_path / "run"
    w = make_writer(run_dir, shape)
    for k in (1, 2):
        write(w, shape, k)
    w.close()
    validate_ome(run_dir / "run.zarr")
    ome = json.loads((run_dir / "run.zarr/zarr.json").read_text())["attributes"]["ome"]
    transforms = ome["multiscales"][0]["datasets"][0]["coordinateTransformations"]
    assert transforms[1] == {"type": "translation", "translation": [24.0, 0.0, 0.0, 0.0, 0.0]}
    label = json.loads((run_dir / "run.zarr/labels/immune/zarr.json").read_text())["attributes"]["ome"]
    assert label["multiscales"][0]["datasets"][0]["coordinateTransformations"][1]["translation"][0] == 24.0


def test_uneven_frames_get_a_time_axis_in_frames_not_wrong_hours(tmp_path):
    """Frames at 0, 24 and 30 h cannot be put on an OME axis in hours (index × scale): the axis
    counts frames instead (scale 1, no unit), the true times stay in frame_times_h, the store
    stays valid; evenly spaced frames keep hours."""
    shape = SHAPES["2d"]
    run_dir = tmp_path / "run"
    w = make_writer(run_dir, shape)
    for t in (0, 24):
        w.write_frame(float(t), t, fake_state(shape, 0), fake_rows(t), {})
    ome = json.loads((run_dir / "run.zarr/zarr.json").read_text())["attributes"]["ome"]
    assert ome["multiscales"][0]["axes"][0] == {"name": "t", "type": "time", "unit": "hour"}
    w.write_frame(30.0, 30, fake_state(shape, 0), fake_rows(30), {})
    w.close()
    validate_ome(run_dir / "run.zarr")
    ome = json.loads((run_dir / "run.zarr/zarr.json").read_text())["attributes"]["ome"]
    assert ome["multiscales"][0]["axes"][0] == {"name": "t", "type": "time"}
    assert ome["multiscales"][0]["datasets"][0]["coordinateTransformations"] == [
        {"type": "scale", "scale": [1.0, 1.0, 20.0, 20.0, 20.0]}]
    label = json.loads((run_dir / "run.zarr/labels/cells/zarr.json").read_text())["attributes"]["ome"]
    assert label["multiscales"][0]["axes"][0] == {"name": "t", "type": "time"}
    assert list(open_run(run_dir).frame_times_h) == [0.0, 24.0, 30.0]


def test_write_frame_rejects_bad_input(tmp_path):
    shape = SHAPES["2d"]
    w = make_writer(tmp_path / "run", shape)
    bad = fake_state(shape, 0)
    bad["cells"] = bad["cells"][:-1]
    with pytest.raises(ValueError, match="cells has shape"):
        w.write_frame(0.0, 0, bad, fake_rows(0), {})
    missing = fake_state(shape, 0)
    del missing["fields"]
    with pytest.raises(ValueError, match="lack fields"):
        w.write_frame(0.0, 0, missing, fake_rows(0), {})
    write(w, shape, 0)
    with pytest.raises(ValueError, match="not after"):
        w.write_frame(0.0, 0, fake_state(shape, 0), fake_rows(0), {})
    with pytest.raises(ValueError, match="equal lengths"):
        w.write_frame(24.0, 24, fake_state(shape, 1), {"a": np.zeros(2), "b": np.zeros(3)}, {})
    with pytest.raises(ValueError, match="event 'nadir_burden'"):
        w.write_frame(24.0, 24, fake_state(shape, 1), fake_rows(24), {"nadir_burden": "low"})
    write(w, shape, 1)  # rejected input leaves the writer usable
    w.close()
    check_frames(tmp_path / "run", shape, [0, 1])


# -------------------------------------------------------------------------------------------
# run directory


def test_prepare_run_dir_refuses_and_overwrites(tmp_path):
    run_dir = tmp_path / "a" / "b"
    assert prepare_run_dir(run_dir, overwrite=False) == run_dir.absolute() and run_dir.is_dir()
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "config.yaml").write_text("seed: 1\n")
    prepare_run_dir(run_dir, overwrite=False)  # Hydra's config copy alone is not a run
    w = FrameWriter(run_dir, shape=(4, 4), spacing_um=20.0, field_specs=FIELDS, config={}, config_yaml="",
                    seed=0, replicate=0, version="x", frame_every_h=1.0)
    w.write_frame(0.0, 0, fake_state((4, 4), 0), fake_rows(0), {})
    w.close()
    with pytest.raises(RunExistsError) as info:
        prepare_run_dir(run_dir, overwrite=False)
    msg = str(info.value)
    assert str(run_dir) in msg and f"resume={run_dir}" in msg and "output.overwrite=true" in msg
    assert "hydra.run.dir" in msg
    assert isinstance(info.value, FileExistsError)
    with pytest.raises(RunExistsError):
        FrameWriter(run_dir, shape=(4, 4), spacing_um=20.0, field_specs=FIELDS, config={}, config_yaml="",
                    seed=0, replicate=0, version="x", frame_every_h=1.0)
    (run_dir / "run.zarr").rename(tmp_path / "moved.zarr")
    with pytest.raises(RunExistsError):  # summary.h5 alone also marks a run
        prepare_run_dir(run_dir, overwrite=False)
    (tmp_path / "moved.zarr").rename(run_dir / "run.zarr")
    prepare_run_dir(run_dir, overwrite=True)
    assert not (run_dir / "run.zarr").exists() and not (run_dir / "summary.h5").exists()
    assert (run_dir / ".hydra" / "config.yaml").exists()
    make_writer(run_dir, (4, 4))  # a fresh run fits again


# -------------------------------------------------------------------------------------------
# summary.h5


def test_summary_round_trip_and_checks(tmp_path):
    path = tmp_path / "summary.h5"
    rows = fake_rows(5)
    write_summary(path, rows, {"nadir_burden": 3, "extra_event": None}, CONFIG_YAML, "v", 3)
    ts, events, attrs = read_summary(path)
    assert list(ts) == ["replicate", *rows]
    for name in rows:
        np.testing.assert_array_equal(ts[name], rows[name])
        assert ts[name].dtype == rows[name].dtype
    assert events["nadir_burden"] == 3.0 and math.isnan(events["extra_event"])
    assert all(math.isnan(events[k]) for k in ("nadir_time_h", "dtp_fraction_at_nadir", "progression_time_h"))
    assert attrs == {"config": CONFIG_YAML, "version": "v", "seed": 3, "replicates": 1, "schema_version": 2}
    assert all(isinstance(attrs[k], int) for k in ("seed", "replicates", "schema_version"))
    one, _, _ = read_summary(path, replicate=0)
    assert list(one) == list(rows)  # a replicate's rows, without the replicate column
    with pytest.raises(KeyError, match="replicates 0…0, not 1"):
        read_summary(path, replicate=1)
    with pytest.raises(ValueError, match="equal lengths"):
        write_summary(path, {"a": np.zeros(3), "b": np.zeros(4)}, {}, "", "v", 0)
    with pytest.raises(ValueError, match="1-D"):
        write_summary(path, {"a": np.zeros((3, 2, 2))}, {}, "", "v", 0)
    with pytest.raises(ValueError, match="events are given for 1 replicates, expected 3"):
        write_summary(path, {"a": np.zeros((3, 2))}, {}, "", "v", 0)
    assert read_summary(path, replicate=0)[0].keys() == rows.keys()  # the failed writes left the file alone


def test_summary_write_failure_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "summary.h5"
    write_summary(path, fake_rows(2), {}, "", "v", 0)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path) + ".tmp")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError):
        write_summary(path, fake_rows(9), {}, "", "v", 0)
    monkeypatch.undo()
    assert len(read_summary(path)[0]["time_h"]) == 3
    assert not (tmp_path / "summary.h5.tmp").exists()


# -------------------------------------------------------------------------------------------
# crashes and resume


class Crash(Exception):
    """Stands for the process dying: not an OSError, so the writer does not translate it."""


def crash(*args, **kwargs):
    raise Crash


@pytest.mark.parametrize("where", ["_write_frames", "_write_summary", "_commit", "write_state_group"])
def test_crash_before_commit_resumes_from_previous_frame(tmp_path, monkeypatch, where):
    """A crash in steps 1–4 (before the new state is complete) loses only the frame being written."""
    shape = SHAPES["3d"]
    run_dir = tmp_path / "run"
    w = make_writer(run_dir, shape)
    write(w, shape, 0)
    write(w, shape, 1)
    if where == "_write_frames":  # die after the data write
        orig = FrameWriter._write_frames

        def append_then_crash(self, *a):
            orig(self, *a)
            raise Crash

        monkeypatch.setattr(FrameWriter, "_write_frames", append_then_crash)
    elif where == "write_state_group":  # die half-way through writing the new state
        orig = checkpoint.write_array

        async def partial(group, name, *a):
            if name == "memory":
                raise Crash
            await orig(group, name, *a)

        monkeypatch.setattr(checkpoint, "write_array", partial)
    else:
        monkeypatch.setattr(FrameWriter, where, crash)
    with pytest.raises(Crash):
        write(w, shape, 2)
    monkeypatch.undo()

    # earlier frames and the summary stay readable; the reader sees the committed frames only
    committed = [0, 1, 2] if where == "write_state_group" else [0, 1]
    r = open_run(run_dir)
    assert r.n_frames == len(committed)
    check_frames(run_dir, shape, committed)
    check_summary(run_dir, 1 if where in ("_write_frames", "_write_summary") else 2)
    validate_ome(run_dir / "run.zarr")

    w2, state = FrameWriter.reopen(run_dir)
    check_state(state, shape, 1)
    assert w2.n_frames == 2 and w2.frame_times_h == [0.0, 24.0]
    g = zarr.open_group(LocalStore(run_dir / "run.zarr"), mode="r", use_consolidated=False)
    assert g["0"].shape[0] == 2 and g["labels/cells/0"].shape[0] == 2 and g["labels/immune/0"].shape[0] == 2
    check_summary(run_dir, 1)  # rewritten to the resumed state's rows
    assert not (run_dir / ".state.tmp").exists()
    for arr_dir in ("0", "labels/cells/0", "labels/immune/0"):  # the dropped frame's files are gone
        assert chunk_files(run_dir / "run.zarr" / arr_dir, 2) == []

    write(w2, shape, 2)
    write(w2, shape, 3)
    w2.close()
    check_frames(run_dir, shape, [0, 1, 2, 3])
    check_summary(run_dir, 3)
    check_state(open_run(run_dir).state(), shape, 3)
    validate_ome(run_dir / "run.zarr")
    for t in range(4):
        assert len(chunk_files(run_dir / "run.zarr/0", t)) == 1


@pytest.mark.parametrize("fail_at, resumed", [(1, 1), (2, 2), (3, 2)])
def test_crash_during_state_swap_recovers(tmp_path, monkeypatch, fail_at, resumed):
    """Renames: 1 .state.tmp→.state.new (complete), 2 state→.state.old, 3 .state.new→state."""
    shape = SHAPES["2d"]
    run_dir = tmp_path / "run"
    w = make_writer(run_dir, shape)
    write(w, shape, 0)
    write(w, shape, 1)
    calls = []
    real_rename = os.rename

    def rename(src, dst):
        calls.append((src, dst))
        if len(calls) == fail_at:
            raise Crash
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(Crash):
        write(w, shape, 2)
    monkeypatch.undo()
    check_frames(run_dir, shape, [0, 1, 2])  # frame 2 was committed before the state swap
    w2, state = FrameWriter.reopen(run_dir)
    check_state(state, shape, resumed)
    assert w2.n_frames == resumed + 1
    check_frames(run_dir, shape, list(range(resumed + 1)))
    check_summary(run_dir, resumed)
    assert (run_dir / "run.zarr/state").is_dir()
    assert not any((run_dir / n).exists() for n in (".state.tmp", ".state.new", ".state.old"))
    write(w2, shape, resumed + 1)
    w2.close()
    check_frames(run_dir, shape, list(range(resumed + 2)))


def test_resume_after_close_drops_consolidated_metadata(tmp_path):
    shape = SHAPES["2d"]
    run_dir = tmp_path / "run"
    w = make_writer(run_dir, shape)
    write(w, shape, 0)
    write(w, shape, 1)
    w.close()
    assert "consolidated_metadata" in json.loads((run_dir / "run.zarr/zarr.json").read_text())
    w2, state = FrameWriter.reopen(run_dir / "run.zarr")  # run.zarr accepted too
    check_state(state, shape, 1)
    assert json.loads((run_dir / "run.zarr/zarr.json").read_text()).get("consolidated_metadata") is None
    write(w2, shape, 2)
    g = zarr.open_group(LocalStore(run_dir / "run.zarr", read_only=True), mode="r")  # default open
    assert g["0"].shape[0] == 3 and len(g.attrs["dtp_lattice"]["frame_times_h"]) == 3
    w2.close()
    validate_ome(run_dir / "run.zarr")


def test_reopen_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no DTP Lattice run"):
        FrameWriter.reopen(tmp_path / "nothing")
    run_dir = tmp_path / "run"
    make_writer(run_dir, SHAPES["2d"])  # created, but no frame written
    with pytest.raises(OutputError, match="no saved state"):
        FrameWriter.reopen(run_dir)


def enospc_on_chunks(monkeypatch, after: int = 0):
    """Make LocalStore fail with ENOSPC on chunk writes (after ``after`` successful ones)."""
    real_set = LocalStore.set
    count = {"n": 0}

    async def set_(self, key, value):
        if "/c/" in f"/{key}":
            count["n"] += 1
            if count["n"] > after:
                raise OSError(errno.ENOSPC, "No space left on device", str(Path(str(self.root)) / key))
        return await real_set(self, key, value)

    monkeypatch.setattr(LocalStore, "set", set_)


@pytest.mark.parametrize("where", ["frame", "summary", "state"])
def test_disk_full_raises_output_error_and_keeps_frames(tmp_path, monkeypatch, where):
    shape = SHAPES["3d"]
    run_dir = tmp_path / "run"
    w = make_writer(run_dir, shape)
    write(w, shape, 0)
    write(w, shape, 1)
    if where == "frame":
        enospc_on_chunks(monkeypatch, after=1)  # the image shard is written, the labels are not
    elif where == "summary":
        def h5_full(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device", str(run_dir / "summary.h5.tmp"))
        monkeypatch.setattr(h5py, "File", h5_full)
    else:
        real = checkpoint.write_array

        async def state_full(group, name, *a):
            if name == "clock":
                raise OSError(errno.ENOSPC, "No space left on device", str(run_dir / ".state.tmp" / name))
            await real(group, name, *a)

        monkeypatch.setattr(checkpoint, "write_array", state_full)
    with pytest.raises(OutputError) as info:
        write(w, shape, 2)
    monkeypatch.undo()
    err = info.value
    msg = str(err)
    assert err.errno == errno.ENOSPC and isinstance(err, OSError)
    assert "\n" not in msg
    assert str(run_dir) in msg and f"lattice-run resume={run_dir}" in msg
    assert "No space left on device" in msg and "free disk space" in msg
    assert "cannot write frame 2 (t=48 h)" in msg and "last complete frame is 1 (t=24 h)" in msg
    with pytest.raises(RuntimeError, match="earlier write .* failed; continue with: lattice-run resume="):
        write(w, shape, 3)
    w.close()  # no consolidation after a failure, no error either

    check_frames(run_dir, shape, [0, 1, 2] if where == "state" else [0, 1])
    check_summary(run_dir, 2 if where == "state" else 1)
    assert not (run_dir / "summary.h5.tmp").exists()
    validate_ome(run_dir / "run.zarr")
    w2, state = FrameWriter.reopen(run_dir)
    check_state(state, shape, 1)
    write(w2, shape, 2)
    w2.close()
    check_frames(run_dir, shape, [0, 1, 2])


def test_disk_full_on_first_frame_says_start_again(tmp_path, monkeypatch):
    shape = SHAPES["2d"]
    run_dir = tmp_path / "run"
    w = make_writer(run_dir, shape)
    enospc_on_chunks(monkeypatch)
    with pytest.raises(OutputError, match="no frame was completed.*output.overwrite=true") as info:
        write(w, shape, 0)
    assert str(run_dir) in str(info.value)
    monkeypatch.undo()
    assert open_run(run_dir).n_frames == 0


# -------------------------------------------------------------------------------------------
# layout rules for large lattices (no data written)


def test_chunk_layout_large_3d_and_2d():
    # 500³ × 8 fields float32: one shard per frame, 64³ inner chunks of one channel (1 MiB)
    chunks, shards = chunk_layout((8, 500, 500, 500), 4, 1)
    assert chunks == (1, 64, 64, 64) and shards == (8, 512, 512, 512)
    chunks, shards = chunk_layout((500, 500, 500), 1, 0)  # labels: 64³ uint8 inner chunks (256 KiB)
    assert chunks == (64, 64, 64) and shards == (512, 512, 512)
    chunks, shards = chunk_layout((8, 1, 4000, 4000), 4, 1)  # big 2D: z stays 1
    assert chunks == (1, 1, 512, 512) and shards == (8, 1, 4096, 4096)
    chunks, shards = chunk_layout((8, 1, 200, 200), 4, 1)  # small 2D: one plain chunk
    assert chunks == (8, 1, 200, 200) and shards is None
    assert all(s % c == 0 for s, c in zip(shards or chunks, chunks))


def test_state_keys_match_state_dataclass():
    """Resume rebuilds State(**arrays): the saved arrays are exactly State's fields."""
    assert set(fake_state((3, 3), 0)) == {*VOXEL_ARRAYS, "fields"}


def test_checkpoint_sparser_than_frames_resumes_from_the_checkpoint(tmp_path):
    """Frames without a checkpoint stay readable; a reopen goes back to the checkpoint's frame
    (the later frames are dropped, to be rewritten identically by the resumed run)."""
    shape = SHAPES["2d"]
    run_dir = tmp_path / "run"
    w = make_writer(run_dir, shape)
    write(w, shape, 0)
    write(w, shape, 1)
    for k in (2, 3):
        w.record(float(STEPS[k]), STEPS[k], {n: a[None] for n, a in fake_state(shape, k).items()}, fake_rows(STEPS[k]),
                 fake_events(k), checkpoint=False)
    assert open_run(run_dir).n_frames == 4  # frames 2 and 3 are complete without a checkpoint
    check_summary(run_dir, 3)
    w2, state = FrameWriter.reopen(run_dir)
    check_state(state, shape, 1)
    assert w2.frame_times_h == [0.0, 24.0]
    check_summary(run_dir, 1)
    write(w2, shape, 2)
    w2.close()
    check_frames(run_dir, shape, [0, 1, 2])


def _damaged_run(tmp_path) -> Path:
    shape = SHAPES["3d"]
    run_dir = tmp_path / "run"
    w = make_writer(run_dir, shape)
    write(w, shape, 0)
    w.close()
    return run_dir


@pytest.mark.parametrize("damage", ["metadata", "chunk", "attributes"])
def test_damaged_checkpoint_is_one_line_naming_the_file_and_the_fix(tmp_path, damage):
    """A corrupt state/zarr.json, a truncated state chunk (a blosc error) or a checkpoint without
    its 'step' give an OutputError naming the file and what to do, not a traceback."""
    run_dir = _damaged_run(tmp_path)
    state = run_dir / "run.zarr" / "state"
    if damage == "metadata":
        (state / "zarr.json").write_text('{"zarr_format": 3, "node_type": "gro')
        named = state / "zarr.json"
    elif damage == "chunk":
        chunk = next(p for p in sorted((state / "fields").rglob("*")) if p.is_file() and p.name != "zarr.json")
        assert chunk.stat().st_size > 20
        chunk.write_bytes(chunk.read_bytes()[:20])
        named = state / "fields"
    else:
        meta = json.loads((state / "zarr.json").read_text())
        del meta["attributes"]["step"]
        (state / "zarr.json").write_text(json.dumps(meta))
        named = state
    with pytest.raises(OutputError) as info:
        FrameWriter.reopen(run_dir)
    msg = str(info.value)
    assert "\n" not in msg and str(named) in msg
    assert "cannot be resumed" in msg and "output.overwrite=true" in msg
    assert open_run(run_dir).frame(0)["cells"].size  # the frames stay readable
    with pytest.raises(OutputError, match="unreadable"):
        open_run(run_dir).state()
