"""``lattice-view PATH…``: open runs in napari with the state legend, curves and field picker.

    lattice-view runs/2026-11-23/10-00-00                 # one run (directory or run.zarr)
    lattice-view runs/continuous runs/adaptive            # side by side, linked time
    lattice-view --grid RUN1 RUN2                         # napari grid mode instead
    lattice-view --follow RUN                             # a run still being written
    lattice-view runs/multirun/2026-11-23/10-00-00        # every run of a sweep / replicates
    lattice-view --register-reader                        # only make `napari RUN/run.zarr` pick our reader

Runs of a sweep are named by their overrides (``treatment=adaptive seed=3``). On start,
lattice-view also makes this plugin napari's reader for ``run.zarr`` folders
(:mod:`lattice.viewer.preference`), so that plain ``napari RUN/run.zarr`` works afterwards.
"""

from __future__ import annotations

import argparse
import sys
import time

# Only the standard library at module level: ``--help`` and argument errors answer at once; the
# run readers, napari and Qt are imported once the arguments are known to be usable.


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="lattice-view", description="Open DTP Lattice runs in napari (several runs: side by side, linked time).",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="run directory, run.zarr, or a directory of runs")
    layout = p.add_mutually_exclusive_group()
    layout.add_argument("--grid", action="store_true", help="show several runs in napari's grid mode")
    layout.add_argument("--overlay", action="store_true", help="several runs on top of each other")
    p.add_argument("--follow", action="store_true", help="pick up new frames of a run still being written")
    p.add_argument("--interval", type=float, default=2.0, metavar="S", help="follow: seconds between checks (2)")
    nd = p.add_mutually_exclusive_group()
    nd.add_argument("--3d", dest="ndisplay", action="store_const", const=3, help="3D view (default for 3D runs)")
    nd.add_argument("--2d", dest="ndisplay", action="store_const", const=2, help="slice through z (3D runs)")
    p.add_argument("--no-widgets", action="store_true", help="layers only, no dock widgets")
    p.add_argument("--register-reader", action="store_true",
                   help="make DTP Lattice napari's reader for run.zarr folders (`napari RUN/run.zarr`), replacing "
                        "another choice; without PATH, do only that")
    args = p.parse_args(argv)
    if not args.paths and not args.register_reader:
        p.error("a PATH is required (a run directory, run.zarr, or a directory of runs)")
    return args


def register_reader(asked: bool = False) -> None:
    """Make our reader napari's choice for run.zarr folders (``asked``: the user asked for it,
    replace another choice); print one line when that changed something (or, when asked, always)."""
    from lattice.viewer.preference import describe
    from lattice.viewer.preference import register_reader as register
    from napari.settings import get_settings

    settings = get_settings()
    outcome, plugin = register(settings, force=asked)
    line = describe(outcome, plugin, settings.config_path)
    if line is None and asked:
        line = f"napari already opens run.zarr folders with the DTP Lattice reader ({settings.config_path})"
    if line:
        print(f"lattice-view: {line}", file=sys.stderr)


def open_in_viewer(viewer, paths, layout: str = "row", widgets: bool = True, follow: bool = False,
                   interval_s: float = 2.0, ndisplay: int | None = None, runs=None):
    """Add the layers of every run under ``paths`` to ``viewer`` and dock the widgets.

    ``runs``: the runs of ``paths`` already opened (:func:`~lattice.viewer.names.open_named_runs`).
    Returns ``(runs, layers, widgets)``.
    """
    from lattice.viewer.names import open_named_runs
    from lattice.viewer.reader import add_layer_tuples, layer_tuples

    runs = open_named_runs(paths) if runs is None else runs
    tuples = layer_tuples(runs, layout="overlay" if layout in ("grid", "overlay") else "row")
    layers = add_layer_tuples(viewer, tuples)
    if layout == "grid" and len(runs) > 1:
        per_run = len(tuples) // len(runs)
        if per_run * len(runs) == len(tuples):
            grid = grid_of(viewer)
            grid.stride = per_run
            grid.enabled = True
        else:  # runs with different fields: fall back to side by side
            for layer in layers:
                layer.translate = (0.0,) * layer.ndim
            _translate_side_by_side(runs, layers)
    viewer.dims.axis_labels = layers[-1].axis_labels
    if ndisplay is None:
        ndisplay = 3 if any(not r.is2d for r in runs) else 2
    viewer.dims.ndisplay = ndisplay
    # Start at the first frame (napari starts in the middle of the slider range).
    viewer.dims.set_point(0, runs[0].time.world_of_frame(0))
    from lattice.viewer.widgets import attach_time_overlay

    attach_time_overlay(viewer)
    docked = {}
    if widgets:
        from lattice.viewer.widgets import add_dock_widgets

        docked = add_dock_widgets(viewer, follow=follow)
        docked["fields"].follower.timer.setInterval(int(interval_s * 1000))
        docked["fields"].interval.setValue(max(1, round(interval_s)))
    viewer.reset_view()
    if docked:  # docking shrinks the canvas once Qt lays the window out: fit again then
        from qtpy.QtCore import QTimer

        QTimer.singleShot(0, viewer.reset_view)
    return runs, layers, docked


def grid_of(viewer):
    """napari's grid settings (``viewer.canvas.grid`` since 0.9, ``viewer.grid`` before)."""
    canvas = getattr(viewer, "canvas", None)
    return canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid


def _translate_side_by_side(runs, layers) -> None:
    from lattice.viewer.reader import META_KEY, SIDE_BY_SIDE_GAP

    x, offsets = 0.0, {}
    for r in runs:
        offsets[str(r.store_path)] = x
        x += r.extent_x_um * (1.0 + SIDE_BY_SIDE_GAP)
    for layer in layers:
        t = list(layer.translate)
        t[-1] = offsets[layer.metadata[META_KEY]["run"]]
        layer.translate = t


def wait_for_first_frames(runs, interval_s: float) -> None:
    """Block until every run has a complete frame (a run just started)."""
    waiting = [r for r in runs if not r.n_frames]
    if waiting:
        print(f"lattice-view: waiting for the first frame of {', '.join(str(r.run_dir) for r in waiting)}",
              file=sys.stderr)
    while waiting:
        time.sleep(interval_s)
        for r in waiting:
            r.refresh()
        waiting = [r for r in waiting if not r.n_frames]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.register_reader:
        register_reader(asked=True)
        if not args.paths:
            return 0
    from lattice.viewer.names import open_named_runs
    from lattice.viewer.reader import check_frames

    try:
        runs = open_named_runs(args.paths)
        if args.follow:
            wait_for_first_frames(runs, args.interval)
        check_frames(runs)
    except ValueError as exc:
        print(f"lattice-view: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    import napari

    if not args.register_reader:
        register_reader()
    viewer = napari.Viewer(title="DTP Lattice — " + " | ".join(args.paths))
    layout = "grid" if args.grid else "overlay" if args.overlay else "row"
    open_in_viewer(viewer, args.paths, layout=layout, widgets=not args.no_widgets, follow=args.follow,
                   interval_s=args.interval, ndisplay=args.ndisplay, runs=runs)
    napari.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
