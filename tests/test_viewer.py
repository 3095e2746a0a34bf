"""The napari plugin (issue 6): reader, layers, dock widgets, live follow, compare, sample data.

Core tests use no Qt. GUI tests are marked ``viewer`` and skipped (before any Qt import) when
there is neither a display nor an Xvfb binary: with no display Qt would abort the process.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from lattice.viewer.reader import META_KEY, SIDE_BY_SIDE_GAP, layer_tuples, napari_get_reader
from lattice.viewer.store import RunStore, TimeMap, open_runs
from viewer_conftest import (
    EVERY_H,
    NO_DISPLAY_REASON,
    SPACING_UM,
    append_frames,
    frame_arrays,
    has_display,
    real_run,
    timeseries,
    write_foreign_zarr,
    write_synthetic_run,
)

from lattice import codes


@pytest.fixture
def run2d(tmp_path):
    write_synthetic_run(tmp_path / "continuous")
    return tmp_path / "continuous"


def layers_of(path):
    """napari layers built from what the reader returns (no viewer, no Qt)."""
    from napari.layers import Layer

    reader = napari_get_reader(str(path))
    assert reader is not None
    return {kw["name"]: Layer.create(data, kw, kind) for data, kw, kind in reader(str(path))}


def rgba(c):
    return np.asarray(codes.CELL_LABELS[c][1])


# --------------------------------------------------------------------------------------------
# Core (no Qt)


def test_reader_claims_folders_only():
    """napari asks which reader to use whenever two claim a path: our reader must claim no
    file (a "*" pattern made every image file napari opens ambiguous)."""
    import npe2

    pm = npe2.PluginManager.instance()
    pm.discover()
    for name in ("cells.tif", "image.png", "data.zarr.zip", "run.zarr"):
        path = str(Path(tempfile.gettempdir()) / "no-such-dir" / name)  # not a folder: a file
        assert "dtp-lattice" not in {r.plugin_name for r in pm.iter_compatible_readers([path])}, name
    assert "dtp-lattice" in {r.plugin_name for r in pm.iter_compatible_readers([tempfile.gettempdir()])}


def test_reader_preference_is_written_once_and_respects_the_users_choice(tmp_path):
    from lattice.viewer.preference import PLUGIN, register_reader, run_store_pattern
    from napari.settings import NapariSettings

    settings = NapariSettings(config_path=tmp_path / "settings.yaml")
    settings._connect_events()  # napari's autosave
    assert register_reader(settings) == ("added", PLUGIN)
    assert register_reader(settings) == ("kept", PLUGIN)
    assert run_store_pattern() in (tmp_path / "settings.yaml").read_text()  # saved for the next napari
    other = NapariSettings(config_path=tmp_path / "other.yaml")
    other.plugins.extension2reader = {run_store_pattern(): "napari-ome-zarr", "*.tif": "napari"}
    assert register_reader(other) == ("other", "napari-ome-zarr")
    assert other.plugins.extension2reader[run_store_pattern()] == "napari-ome-zarr"
    assert register_reader(other, force=True) == ("added", PLUGIN)  # lattice-view --register-reader
    assert other.plugins.extension2reader == {run_store_pattern(): PLUGIN, "*.tif": "napari"}
    # the pattern names run stores only: the real path of the folder with a trailing separator
    from fnmatch import fnmatch

    assert fnmatch(str(tmp_path / "runs" / "a" / "run.zarr") + os.sep, run_store_pattern())
    assert not fnmatch(str(tmp_path / "images" / "cells.zarr") + os.sep, run_store_pattern())


def test_lattice_view_register_reader_flag(tmp_path, capsys, monkeypatch):
    from lattice.viewer import cli
    from napari import settings as napari_settings

    monkeypatch.setattr(napari_settings, "_SETTINGS", napari_settings.NapariSettings(tmp_path / "s.yaml"))
    assert cli.main(["--register-reader"]) == 0
    assert "napari now opens" in capsys.readouterr().err
    assert cli.main(["--register-reader"]) == 0
    assert "already opens" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main([])
    assert "a PATH is required" in capsys.readouterr().err


def test_manifest_is_discovered():
    import npe2

    pm = npe2.PluginManager.instance()
    pm.discover()
    manifest = pm.get_manifest("dtp-lattice")
    ids = [c.id for c in manifest.contributions.commands]
    assert ids and all(i.startswith("dtp-lattice.") for i in ids)
    assert manifest.contributions.readers and manifest.contributions.sample_data
    assert len(manifest.contributions.widgets) == 3


def test_reader_claims_runs_and_rejects_foreign_stores(run2d, tmp_path):
    assert napari_get_reader(str(run2d)) is not None
    assert napari_get_reader(str(run2d / "run.zarr")) is not None
    assert napari_get_reader(str(write_foreign_zarr(tmp_path / "other.zarr"))) is None
    (tmp_path / "plain").mkdir()
    (tmp_path / "file.txt").write_text("x")
    for p in ("plain", "file.txt", "missing", "run.zarr"):
        assert napari_get_reader(str(tmp_path / p)) is None, p


def test_layers_names_dtypes_colours_scale(run2d):
    import dask.array as da

    layers = layers_of(run2d)
    assert list(layers) == ["oxygen", "drug_primary", "glucose", "cells", "immune"]
    cells, immune, o2 = layers["cells"], layers["immune"], layers["oxygen"]
    assert cells.dtype == np.uint8 and immune.dtype == np.uint8 and o2.dtype == np.float32
    assert isinstance(cells.data, da.Array) and cells.data.chunksize[0] == 1  # lazy, one frame per chunk
    assert cells.data.shape == (5, 32, 32)  # 2D run: singleton z dropped
    for layer in layers.values():
        assert tuple(layer.scale) == (EVERY_H, SPACING_UM, SPACING_UM)
        assert layer.axis_labels == ("t (h)", "y (µm)", "x (µm)")
        assert [str(u) for u in layer.units] == ["hour", "micrometer", "micrometer"]
        assert layer.metadata[META_KEY]["run"].endswith("run.zarr")
    np.testing.assert_allclose(cells.colormap.map(codes.DTP), rgba(codes.DTP))
    np.testing.assert_allclose(cells.colormap.map(codes.SENSITIVE), rgba(codes.SENSITIVE))
    assert cells.colormap.map(0)[3] == 0.0
    np.testing.assert_allclose(immune.colormap.map(codes.T_CELL), codes.IMMUNE_LABELS[codes.T_CELL][1])
    assert list(cells.features["state"])[codes.DTP] == "dtp"
    assert o2.metadata["units"] == "mmHg" and layers["drug_primary"].metadata["units"] == "µM"
    assert tuple(o2.contrast_limits) == (0.0, 38.0)
    # one field at first: the primary drug (oxygen under it would wash the view out)
    assert {n for n, lay in layers.items() if lay.visible} == {"drug_primary", "cells", "immune"}
    # the frame data are the written ones
    np.testing.assert_array_equal(np.asarray(cells.data[3]), frame_arrays(3, (32, 32))["cells"])


@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_reader_on_lattice_run_output(kind):
    run = real_run(kind)
    layers = layers_of(run)
    st = RunStore(run)
    assert {"oxygen", "cells", "immune"} <= set(layers)
    assert "drug_primary" in st.field_names and layers["drug_primary"].visible
    cells = layers["cells"]
    if kind == "2d":
        assert cells.data.shape == (st.n_frames, 32, 32)
        assert len(cells.scale) == 3
    else:
        assert cells.data.shape == (st.n_frames, 12, 16, 16)
        assert cells.axis_labels == ("t (h)", "z (µm)", "y (µm)", "x (µm)")
        assert tuple(cells.scale[1:]) == st.spacing_zyx_um
    assert cells.scale[0] == 12.0
    assert (np.asarray(cells.data[0]) == codes.SENSITIVE).any()


def test_untreated_run_shows_oxygen_only(tmp_path):
    write_synthetic_run(tmp_path / "untreated", with_drug=False)
    layers = layers_of(tmp_path / "untreated")
    assert list(layers) == ["oxygen", "glucose", "cells", "immune"]
    assert {n for n, lay in layers.items() if lay.visible} == {"oxygen", "cells", "immune"}


def test_field_shown_first_without_oxygen_or_drug(run2d):
    from lattice.viewer.reader import field_shown_first

    st = RunStore(run2d)
    assert field_shown_first(st) == "drug_primary"
    st.fields = [f for f in st.fields if f["name"] == "glucose"]  # a run with one other field
    assert field_shown_first(st) == "glucose"
    st.fields = []
    assert field_shown_first(st) is None


def test_sweep_runs_are_named_by_their_overrides(tmp_path):
    """A Hydra sweep directory (jobs 0, 1, 2) opens with each run named by the overrides that
    differ between the jobs, not by the job number."""
    sweep = tmp_path / "multirun"
    jobs = [("adaptive", 0), ("adaptive", 1), ("continuous", 0)]
    for i, (arm, seed) in enumerate(jobs):
        write_synthetic_run(sweep / str(i), n_frames=2,
                            overrides=[f"treatment={arm}", f"seed={seed}", "grid.shape=[32,32]"])
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    reader = napari_get_reader(str(sweep))
    tuples = reader(str(sweep))
    names = [kw["name"] for _, kw, _ in tuples]
    for arm, seed in jobs:
        assert f"treatment={arm} seed={seed}: cells" in names
    labels = {kw["metadata"][META_KEY]["run_label"] for _, kw, _ in tuples}
    assert labels == {"treatment=adaptive seed=0", "treatment=adaptive seed=1", "treatment=continuous seed=0"}


def test_override_names(tmp_path):
    from lattice.viewer.names import override_labels, read_overrides

    def job(name, lines):
        d = tmp_path / name
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(lines)
        return d

    a = job("a", "- treatment=adaptive\n- +treatment.drugs.second.kind=cytotoxic\n- ~immune\n")
    assert read_overrides(a) == {"treatment": "adaptive", "+treatment.drugs.second.kind": "cytotoxic", "~immune": ""}
    # one run alone: all its overrides; a deletion keeps its bare key
    assert override_labels([a], ["a"]) == ["treatment=adaptive +treatment.drugs.second.kind=cytotoxic ~immune"]
    # … but not where its outputs went or which backend ran it, unless that is what differs
    o1 = job("o1", "- backend=numpy\n- output.every_h=6\n- seed=2\n")
    o2 = job("o2", "- backend=cupy\n- output.every_h=6\n- seed=2\n")
    assert override_labels([o1], ["o1"]) == ["seed=2"]
    assert override_labels([o1, o2], ["o1", "o2"]) == ["backend=numpy", "backend=cupy"]
    # unreadable or missing files: the directory label, never an exception
    bad = job("bad", "- [unclosed\n")
    odd = job("odd", "treatment: adaptive\n")  # a mapping, not Hydra's list
    (tmp_path / "none").mkdir()
    assert read_overrides(bad) == {} and read_overrides(odd) == {} and read_overrides(tmp_path / "none") == {}
    assert override_labels([bad, tmp_path / "none"], ["bad", "none"]) == ["bad", "none"]
    # same differing overrides twice (two sweeps side by side): the directory label tells them apart
    b1, b2 = job("s1/0", "- seed=1\n"), job("s2/0", "- seed=1\n")
    c = job("s2/1", "- seed=2\n")
    assert override_labels([b1, b2, c], ["s1/0", "s2/0", "s2/1"]) == ["seed=1 [s1/0]", "seed=1 [s2/0]", "seed=2"]
    # replicates of one run share its overrides: named by their directories
    r0, r1 = job("rep", "- seed=4\n") / "replicate_000", tmp_path / "rep" / "replicate_001"
    r0.mkdir()
    r1.mkdir()
    assert read_overrides(r0) == {"seed": "4"}
    assert override_labels([r0, r1], ["replicate_000", "replicate_001"]) == ["replicate_000", "replicate_001"]


def test_live_store_picks_up_new_frames(tmp_path):
    writer = write_synthetic_run(tmp_path / "live", n_frames=2, close=False)
    st = RunStore(tmp_path / "live")
    assert st.n_frames == 2 and st.label_data("cells").shape[0] == 2
    assert not st.refresh()
    append_frames(writer, 2)
    assert st.refresh() and st.n_frames == 4
    assert st.field_data("oxygen").shape == (4, 32, 32)
    assert list(st.frame_times_h) == [0.0, 12.0, 24.0, 36.0]
    writer.close()


def test_layers_are_lazy(run2d):
    """The reader reads no frame and napari only the slice it shows: with the chunk files of
    frames 1… corrupted, the layers still build; reading such a frame fails."""
    from lattice.viewer.reader import read_runs

    store = run2d / "run.zarr"
    for p in store.rglob("*"):
        rel = p.relative_to(store).parts
        if p.is_file() and "c" in rel[:-1] and "state" not in rel and rel[rel.index("c") + 1] != "0":
            p.write_bytes(b"not a chunk")
    assert len(read_runs(str(run2d))) == 5
    layers = layers_of(run2d)  # napari slices frame 0 on creation
    assert layers["cells"].data.shape == (5, 32, 32)
    with pytest.raises((RuntimeError, ValueError, OSError)):  # the codec on garbage
        np.asarray(layers["cells"].data[4])


def test_run_without_frames_and_uneven_frames(tmp_path):
    writer = write_synthetic_run(tmp_path / "run", n_frames=0, close=False)
    reader = napari_get_reader(str(tmp_path / "run"))
    assert reader is not None and RunStore(tmp_path / "run").n_frames == 0
    with pytest.raises(ValueError, match="no complete frame yet"):
        reader(str(tmp_path / "run"))
    append_frames(writer, 2)  # 0 h, 12 h, then a last frame off the 12 h grid (a run's end)
    writer.write_frame(20.0, 20, frame_arrays(2, (32, 32)), timeseries(3), {})
    writer.close()
    layers = layers_of(tmp_path / "run")
    assert layers["cells"].scale[0] == 1.0 and layers["cells"].axis_labels[0] == "t (frame)"
    assert RunStore(tmp_path / "run").time.time_of_world(2) == 20.0


def test_lattice_view_rejects_what_is_not_a_run(tmp_path, capsys):
    from lattice.viewer.cli import main

    assert main([str(tmp_path)]) == 2
    assert "holds no DTP Lattice run" in capsys.readouterr().err


def test_time_map():
    even = TimeMap.from_times([6.0, 18.0, 30.0])
    assert even.in_hours and even.scale == 12.0 and even.translate == 6.0
    assert even.frame_of_world(19.0) == 1 and even.world_of_frame(2) == 30.0
    assert even.nearest_frame(100.0) == 2 and even.nearest_frame(math.nan) == 0
    uneven = TimeMap.from_times([0.0, 12.0, 20.0])
    assert not uneven.in_hours and uneven.axis_label == "t (frame)"
    assert uneven.frame_of_world(2.2) == 2 and uneven.time_of_world(1) == 12.0
    assert TimeMap.from_times([0.0], every_h=6.0).scale == 6.0


def test_compare_layout_side_by_side(tmp_path):
    write_synthetic_run(tmp_path / "a" / "run")
    write_synthetic_run(tmp_path / "b" / "run", shape=(4, 32, 32))
    runs = open_runs([tmp_path / "a" / "run", tmp_path / "b" / "run"])
    assert [r.label for r in runs] == ["a/run", "b/run"]  # same directory names: parents added
    tuples = layer_tuples(runs)
    names = [kw["name"] for _, kw, _ in tuples]
    assert "a/run: cells" in names and "b/run: cells" in names
    by_name = {kw["name"]: (data, kw) for data, kw, _ in tuples}
    # a 2D run next to a 3D one keeps its singleton z so all layers share (t, z, y, x)
    assert by_name["a/run: cells"][0].shape == (5, 1, 32, 32)
    assert by_name["a/run: cells"][1]["translate"][-1] == 0.0
    assert by_name["b/run: cells"][1]["translate"][-1] == pytest.approx(32 * SPACING_UM * (1 + SIDE_BY_SIDE_GAP))


def test_directory_of_replicates_opens_every_run(tmp_path):
    for r in range(2):
        write_synthetic_run(tmp_path / f"replicate_{r:03d}", n_frames=2)
    reader = napari_get_reader(str(tmp_path))
    assert reader is not None
    names = [kw["name"] for _, kw, _ in reader(str(tmp_path))]
    assert "replicate_000: cells" in names and "replicate_001: cells" in names


def test_sample_data_generates_a_run(monkeypatch, tmp_path):
    from lattice.viewer import sample

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the sample run goes
    monkeypatch.setattr(sample, "SAMPLE_OVERRIDES", (
        "grid.shape=[16,16]", "duration_h=12", "output.every_h=6", "output.progress=false", "backend=numpy",
    ))
    tuples = sample.make_sample_data()
    names = [kw["name"] for _, kw, _ in tuples]
    assert {"oxygen", "cells", "immune"} <= set(names)
    assert tuples[0][0].shape[0] == 3
    assert list(tmp_path.glob("dtp-lattice-sample-*/run/run.zarr"))


# --------------------------------------------------------------------------------------------
# GUI (napari under Xvfb)


def colour_present(img: np.ndarray, rgba_, tol: int = 6) -> int:
    """Pixels of ``img`` within ``tol`` (per channel, 0–255) of a colour."""
    target = np.round(np.asarray(rgba_[:3]) * 255)
    return int((np.abs(img[..., :3].astype(int) - target).max(axis=-1) <= tol).sum())


class _Click:
    """A synthetic matplotlib button-press event."""

    def __init__(self, xdata, inaxes=None):
        self.xdata, self.inaxes = xdata, inaxes


@pytest.mark.viewer
@pytest.mark.skipif(not has_display(), reason=NO_DISPLAY_REASON)
def test_viewer_shows_states_and_curves_follow_the_slider(make_napari_viewer, qtbot, run2d):
    from lattice.viewer.cli import open_in_viewer

    viewer = make_napari_viewer(show=True)
    runs, _layers, widgets = open_in_viewer(viewer, [run2d])
    assert viewer.dims.axis_labels[0] == "t (h)"
    assert viewer.dims.ndisplay == 2
    # screenshot of the shown canvas holds the state colours (hidden screenshots are black)
    qtbot.wait(100)
    img = viewer.screenshot(canvas_only=True, flash=False)
    assert colour_present(img, codes.CELL_LABELS[codes.SENSITIVE][1]) > 100
    assert colour_present(img, codes.CELL_LABELS[codes.DTP][1]) > 10
    assert colour_present(img, codes.IMMUNE_LABELS[codes.T_CELL][1]) > 10
    # legend counts = voxels of each state in the shown frame
    legend = widgets["legend"]
    label = runs[0].label
    expected = np.bincount(frame_arrays(0, (32, 32))["cells"].ravel(), minlength=11)
    assert legend.count_labels[(label, "cells", codes.SENSITIVE)].text() == str(expected[codes.SENSITIVE])
    # fields: one visible at first, with its colour bar; a field shown later gets its bar then
    assert [layer.name for layer in viewer.layers if layer.visible] == ["drug_primary", "cells", "immune"]
    assert viewer.layers["drug_primary"].colorbar.visible and not viewer.layers["oxygen"].colorbar.visible
    viewer.layers["oxygen"].visible = True
    assert viewer.layers["oxygen"].colorbar.visible
    viewer.layers["oxygen"].visible = False
    # curves on a log count axis by default (a few DTPs next to many sensitive cells stay visible)
    plot = widgets["curves"]
    qtbot.waitUntil(lambda: plot.built, timeout=5000)  # built once the run is shown
    assert plot.axes[0].get_yscale() == "symlog"
    plot.log_y.setChecked(False)
    assert plot.axes[0].get_yscale() == "linear"
    # moving the time slider moves the plot marker (and the legend counts)
    assert plot.marker_times() == [0.0]
    viewer.dims.set_current_step(0, 3)
    assert plot.marker_times() == [3 * EVERY_H]
    expected = np.bincount(frame_arrays(3, (32, 32))["cells"].ravel(), minlength=11)
    assert legend.count_labels[(label, "cells", codes.DTP)].text() == str(expected[codes.DTP])
    # clicking the plot moves the slider to the nearest frame
    plot.on_click(_Click(13.0, plot.axes[0]))
    assert viewer.dims.current_step[0] == 1 and plot.marker_times() == [EVERY_H]
    plot.on_click(_Click(1e6))
    assert viewer.dims.current_step[0] == 4
    # drug shading from on_primary (an axvspan per on-interval)
    assert any(p.get_label() == "primary on" for p in plot.axes[0].patches)
    # field picker toggles the field layers
    fields = widgets["fields"]
    assert set(fields.checks) == {"oxygen", "drug_primary", "glucose"}
    fields.checks["glucose"].setChecked(True)
    assert viewer.layers["glucose"].visible
    viewer.layers["oxygen"].visible = False
    assert not fields.checks["oxygen"].isChecked()


@pytest.mark.viewer
@pytest.mark.skipif(not has_display(), reason=NO_DISPLAY_REASON)
def test_deferred_curves_build_after_the_run_is_shown(make_napari_viewer, qtbot, run2d):
    """lattice-view's curves widget imports matplotlib only after the viewer showed the run;
    asking it for its axes builds it at once."""
    from lattice.viewer.reader import add_layer_tuples, read_runs
    from lattice.viewer.widgets import PopulationPlot

    viewer = make_napari_viewer()
    add_layer_tuples(viewer, read_runs(str(run2d)))
    plot = PopulationPlot(viewer, defer=True)
    assert not plot.built and plot.placeholder.text().startswith("population curves")
    qtbot.waitUntil(lambda: plot.built, timeout=5000)
    assert len(plot.axes) == 1 and plot.marker_times() == [viewer.dims.current_step[0] * EVERY_H]
    eager = PopulationPlot(viewer, defer=True)
    assert len(eager.axes) == 1 and eager.built  # built on first use


@pytest.mark.viewer
@pytest.mark.skipif(not has_display(), reason=NO_DISPLAY_REASON)
def test_open_through_napari_plugin(make_napari_viewer, qtbot, run2d, monkeypatch):
    from lattice.viewer import sample
    from lattice.viewer.widgets import LegendWidget, PopulationPlot

    viewer = make_napari_viewer()
    viewer.open(str(run2d), plugin="dtp-lattice")
    assert [layer.name for layer in viewer.layers] == ["oxygen", "drug_primary", "glucose", "cells", "immune"]
    assert viewer.dims.axis_labels == ("t (h)", "y (µm)", "x (µm)")
    # the plugin's dock widgets find the run from the layers, however they were opened
    _, legend = viewer.window.add_plugin_dock_widget("dtp-lattice", "Lattice states")
    _, plot = viewer.window.add_plugin_dock_widget("dtp-lattice", "Lattice populations")
    assert isinstance(legend, LegendWidget) and isinstance(plot, PopulationPlot)
    assert len(plot.axes) == 1 and legend.count_labels
    # sample data (a tiny run here; the real sample takes ~10 s)
    monkeypatch.setattr(tempfile, "tempdir", str(run2d.parent))
    monkeypatch.setattr(sample, "SAMPLE_OVERRIDES", (
        "grid.shape=[16,16]", "duration_h=12", "output.every_h=6", "output.progress=false", "backend=numpy",
    ))
    viewer.layers.clear()
    viewer.open_sample("dtp-lattice", "treated-run")
    assert {"oxygen", "cells", "immune"} <= {layer.name for layer in viewer.layers}
    qtbot.waitUntil(lambda: len(plot.runs) == 1 and plot.runs[0].store.n_frames == 3, timeout=3000)
    assert len(plot.axes) == 1


@pytest.mark.viewer
@pytest.mark.skipif(not has_display(), reason=NO_DISPLAY_REASON)
def test_follow_extends_a_live_run(make_napari_viewer, qtbot, tmp_path):
    from lattice.viewer.cli import open_in_viewer

    writer = write_synthetic_run(tmp_path / "live", n_frames=2, close=False)
    viewer = make_napari_viewer()
    _, layers, widgets = open_in_viewer(viewer, [tmp_path / "live"], follow=True, interval_s=60)
    assert widgets["fields"].follower.active
    viewer.dims.set_current_step(0, 1)  # on the newest frame: follow keeps it there
    follower = widgets["fields"].follower
    assert not follower.poll()
    append_frames(writer, 3)
    assert follower.poll()
    assert all(layer.data.shape[0] == 5 for layer in layers)
    assert viewer.dims.current_step[0] == 4
    assert widgets["curves"].marker_times() == [4 * EVERY_H]
    assert len(widgets["curves"].runs[0].store.summary()[0]["time_h"]) == 4 * EVERY_H + 1
    # the QTimer does the same on its own
    widgets["fields"].follower.timer.setInterval(20)
    append_frames(writer, 2)
    qtbot.waitUntil(lambda: all(layer.data.shape[0] == 7 for layer in layers), timeout=5000)
    assert viewer.dims.current_step[0] == 6
    widgets["fields"].follow.setChecked(False)
    assert not widgets["fields"].follower.active
    writer.close()


@pytest.mark.viewer
@pytest.mark.skipif(not has_display(), reason=NO_DISPLAY_REASON)
def test_compare_runs_with_linked_time(make_napari_viewer, tmp_path):
    from lattice.viewer.cli import open_in_viewer

    write_synthetic_run(tmp_path / "continuous", n_frames=5)
    write_synthetic_run(tmp_path / "adaptive", n_frames=3)
    viewer = make_napari_viewer()
    _runs, _layers, widgets = open_in_viewer(viewer, [tmp_path / "continuous", tmp_path / "adaptive"])
    assert viewer.layers["adaptive: cells"].translate[-1] > 0
    plot = widgets["curves"]
    assert len(plot.axes) == 2
    viewer.dims.set_current_step(0, 2)
    assert plot.marker_times() == [24.0, 24.0]  # one time axis for both runs
    plot.on_click(_Click(30.0, plot.axes[1]))
    assert plot.marker_times() == [24.0, 24.0]  # nearest frame of "adaptive" is 24 h
    viewer.dims.set_current_step(0, 4)
    assert plot.marker_times() == [48.0, 24.0]  # "adaptive" stops at its last frame
    assert set(widgets["legend"].count_labels) >= {("continuous", "cells", 1), ("adaptive", "cells", 1)}


@pytest.mark.viewer
@pytest.mark.skipif(not has_display(), reason=NO_DISPLAY_REASON)
def test_3d_run_in_3d_and_grid_mode(make_napari_viewer, qtbot, tmp_path):
    from lattice.viewer.cli import grid_of, open_in_viewer

    write_synthetic_run(tmp_path / "a", n_frames=2, shape=(16, 32, 32))
    write_synthetic_run(tmp_path / "b", n_frames=2, shape=(16, 32, 32))
    viewer = make_napari_viewer(show=True)
    _, _layers, widgets = open_in_viewer(viewer, [tmp_path / "a", tmp_path / "b"], layout="grid")
    grid = grid_of(viewer)
    assert viewer.dims.ndisplay == 3 and grid.enabled and grid.stride == 5
    assert widgets["fields"].view3d.isEnabled() and widgets["fields"].view3d.isChecked()
    widgets["fields"].view3d.setChecked(False)
    assert viewer.dims.ndisplay == 2
    qtbot.wait(100)
    img = viewer.screenshot(canvas_only=True, flash=False)
    assert colour_present(img, codes.CELL_LABELS[codes.SENSITIVE][1]) > 50


@pytest.mark.viewer
@pytest.mark.skipif(not has_display(), reason=NO_DISPLAY_REASON)
def test_open_run_zarr_without_naming_the_plugin(make_napari_viewer, run2d, tmp_path, monkeypatch):
    """``viewer.open(path, plugin=None)`` is what ``napari PATH`` does: ambiguous (napari's
    built-in reader claims every folder) until the reader preference is registered."""
    from lattice.viewer.preference import register_reader
    from napari import settings as napari_settings
    from napari.errors import MultipleReaderError

    monkeypatch.setattr(napari_settings, "_SETTINGS", napari_settings.NapariSettings(tmp_path / "settings.yaml"))
    viewer = make_napari_viewer()
    store = str(run2d / "run.zarr")
    with pytest.raises(MultipleReaderError):
        viewer.open(store, plugin=None)
    assert register_reader()[0] == "added"
    viewer.open(store, plugin=None)
    assert [layer.name for layer in viewer.layers] == ["oxygen", "drug_primary", "glucose", "cells", "immune"]
    fields = [layer for layer in viewer.layers if layer.name in ("oxygen", "drug_primary", "glucose")]
    assert [layer.visible for layer in fields] == [False, True, False]
    assert [layer.colorbar.visible for layer in fields] == [False, True, False]
    fields[2].visible = True  # a field shown later gets its colour bar then
    assert fields[2].colorbar.visible


NAPARI_PROBE = """
import napari
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QDialog

def report():
    app = napari.qt.get_qapp()
    for d in [w for w in app.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]:
        print("DIALOG", type(d).__name__, flush=True)
        d.reject()
    for layer in napari.current_viewer().layers:
        bar = getattr(layer, "colorbar", None)
        print("LAYER", layer.name, layer.visible, bar is not None and bar.visible, flush=True)
    QTimer.singleShot(0, app.quit)

QTimer.singleShot(500, report)
"""


@pytest.mark.viewer
@pytest.mark.skipif(not has_display(), reason=NO_DISPLAY_REASON)
def test_napari_command_line_opens_run_zarr_with_the_preference_saved(run2d, tmp_path):
    """The user's command, ``napari RUN/run.zarr``, in a fresh process with its own napari
    settings: once the reader preference is saved it opens through our reader (a napari
    startup script lists the layers, closes any reader-choice dialog and quits)."""
    (tmp_path / "probe.py").write_text(NAPARI_PROBE)
    settings = tmp_path / "napari.yaml"
    settings.write_text(f"application:\n  startup_script: {tmp_path / 'probe.py'}\n")
    from lattice.viewer.preference import register_reader
    from napari.settings import NapariSettings

    saved = NapariSettings(config_path=settings)  # what `lattice-view --register-reader` does, into this file
    assert register_reader(saved)[0] == "added"
    saved.save()
    env = {**os.environ, "NAPARI_CONFIG": str(settings)}
    proc = subprocess.run([sys.executable, "-m", "napari", str(run2d / "run.zarr")], env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    lines = [line.split() for line in proc.stdout.splitlines() if line.startswith(("LAYER", "DIALOG"))]
    assert ["LAYER", "drug_primary", "True", "True"] in lines, proc.stdout + proc.stderr[-2000:]
    assert ["LAYER", "oxygen", "False", "False"] in lines
    assert not [line for line in lines if line[0] == "DIALOG"]
