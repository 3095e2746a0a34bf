"""``lattice-report RUN [--out DIR]`` (issue 6): PNG figures without a display (no Qt)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from lattice.viewer.report import key_frames, main, populations_figure, snapshots_figure
from lattice.viewer.store import RunStore
from viewer_conftest import real_run, write_foreign_zarr, write_synthetic_run

from lattice import codes

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pixels_near(img: np.ndarray, rgba, tol: float = 2 / 255) -> int:
    return int((np.abs(img[..., :3] - np.asarray(rgba[:3])).max(axis=-1) <= tol).sum())


def test_report_writes_populations_and_snapshots(tmp_path, capsys):
    import matplotlib.image

    write_synthetic_run(tmp_path / "run")
    assert main([str(tmp_path / "run"), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == ["populations.png", "snapshots.png"]
    for p in printed:
        data = Path(p).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, p
    snap = matplotlib.image.imread(printed[1])
    curves = matplotlib.image.imread(printed[0])
    # the snapshots draw the cell states in their fixed colours; the curves in theirs
    assert pixels_near(snap, codes.CELL_LABELS[codes.SENSITIVE][1]) > 500
    assert pixels_near(snap, codes.CELL_LABELS[codes.DTP][1]) > 100
    assert pixels_near(curves, codes.CELL_LABELS[codes.SENSITIVE][1]) > 50


def _height(ax, t: float, y: float) -> float:
    """Height of a data point in axes fraction (0 bottom, 1 top), through the axis scale."""
    return float((ax.transScale + ax.transLimits).transform((t, y))[1])


def test_log_scale_makes_a_few_cells_visible(tmp_path):
    """Five cells next to a total of about 300: a sliver above zero on a linear axis, a good
    part of the height on the default log axis."""
    write_synthetic_run(tmp_path / "run")
    st = RunStore(tmp_path / "run")
    log_ax = populations_figure(st).axes[0]
    lin_ax = populations_figure(st, log=False).axes[0]
    assert log_ax.get_yscale() == "symlog" and lin_ax.get_yscale() == "linear"
    assert _height(lin_ax, 24.0, 5.0) - _height(lin_ax, 24.0, 0.0) < 0.03
    assert _height(log_ax, 24.0, 5.0) - _height(log_ax, 24.0, 0.0) > 0.3
    assert _height(log_ax, 24.0, 0.0) == pytest.approx(0.0)  # zero counts on the bottom edge
    for ax, unit in ((log_ax, "cells (count, log scale)"), (lin_ax, "cells (count)")):
        assert ax.get_ylabel() == unit and ax.get_xlabel() == "time (h)"
    log_ax.figure.canvas.draw()  # tick labels are plain counts, not powers of ten
    labels = [t.get_text() for t in log_ax.get_yticklabels() if t.get_text()]
    assert {"0", "1", "10", "100"} <= set(labels), labels


def test_report_axes_have_units(tmp_path):
    write_synthetic_run(tmp_path / "run")
    fig = snapshots_figure(RunStore(tmp_path / "run"))
    panels = [ax for ax in fig.axes if ax.images]
    colorbars = [ax for ax in fig.axes if not ax.images]
    assert len(panels) == 3 * 2  # cells, oxygen, drug at start and "nadir, end"
    for ax in panels:  # outer panels name their axis with its unit; inner ones share it
        assert ax.get_xlabel() in ("", "x (µm)") and (ax.get_xlabel() or not ax.get_xticks().size)
        assert ax.get_ylabel().endswith("y (µm)") or not ax.get_yticks().size
    assert sum(ax.get_xlabel() == "x (µm)" for ax in panels) == 2
    assert sorted(ax.get_ylabel() for ax in colorbars) == ["drug_primary (µM)", "oxygen (mmHg)"]


def test_report_cli_scale_and_sweep_titles(tmp_path, capsys):
    import matplotlib.image

    for i, arm in enumerate(("adaptive", "continuous")):
        write_synthetic_run(tmp_path / "sweep" / str(i), n_frames=2, overrides=[f"treatment={arm}", "seed=1"])
    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "log")]) == 0
    assert main([str(tmp_path / "sweep"), "--linear", "--out", str(tmp_path / "lin")]) == 0
    out = capsys.readouterr().out.split()
    assert len(out) == 8 and {Path(p).parent.name for p in out} == {"0", "1"}
    log_png = matplotlib.image.imread(tmp_path / "log" / "0" / "populations.png")
    lin_png = matplotlib.image.imread(tmp_path / "lin" / "0" / "populations.png")
    assert log_png.shape == lin_png.shape and not np.array_equal(log_png, lin_png)
    from lattice.viewer.names import open_named_runs

    titles = [populations_figure(st).axes[0].get_title() for st in open_named_runs([tmp_path / "sweep"])]
    assert titles == ["treatment=adaptive: populations", "treatment=continuous: populations"]
    with pytest.raises(SystemExit):
        main([str(tmp_path / "sweep"), "--log", "--linear"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_key_frames(tmp_path):
    write_synthetic_run(tmp_path / "run")
    st = RunStore(tmp_path / "run")
    _, events = st.summary()
    assert events["nadir_time_h"] == 48.0 and np.isnan(events["progression_time_h"])
    assert key_frames(st, events) == [("start", 0), ("nadir, end", 4)]
    assert key_frames(st, {"nadir_time_h": 13.0, "progression_time_h": 31.0}) == [
        ("start", 0), ("nadir (13 h)", 1), ("progression (31 h)", 3), ("end", 4),
    ]


@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_console_script_on_lattice_run_output_without_qt(kind, tmp_path):
    run = real_run(kind)
    out = tmp_path / "report"
    script = Path(sys.executable).with_name("lattice-report")
    code = (
        "import sys; from lattice.viewer.report import main; rc = main(sys.argv[1:]); "
        "qt = [m for m in sys.modules if m.split('.')[0] in ('qtpy', 'PyQt6', 'PyQt5', 'PySide6', 'napari')]; "
        "assert not qt, qt; sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(run), "--out", str(out)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["populations.png", "snapshots.png"]
    assert all(p.stat().st_size > 10_000 for p in out.iterdir())
    if script.exists():  # the installed console script (default output folder RUN/report)
        proc = subprocess.run([str(script), str(run)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert Path(proc.stdout.split()[0]).parent == run / "report"


def test_report_rejects_what_is_not_a_run(tmp_path, capsys):
    assert main([str(write_foreign_zarr(tmp_path / "other.zarr"))]) == 2
    assert "holds no DTP Lattice run" in capsys.readouterr().err
    assert main([str(tmp_path / "missing")]) == 2


@pytest.mark.parametrize("module", ["lattice.viewer.report", "lattice.viewer.cli"])
def test_help_answers_without_loading_the_heavy_libraries(module):
    """``lattice-report --help`` and ``lattice-view --help`` import only the standard library
    (they took over a second when numpy, zarr and the run readers came first)."""
    code = (
        f"import sys\nfrom {module} import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numpy', 'zarr', 'h5py', 'matplotlib', 'napari', 'qtpy', 'dask', 'yaml'})\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert "usage:" in proc.stdout, proc.stderr
    assert "HEAVY []" in proc.stdout, proc.stdout
