"""Dock widgets: state legend with counts, population curves, field picker with live follow.

The widgets find the runs shown in a viewer from the ``dtp_lattice`` metadata of its layers
(whichever way they were opened: ``lattice-view``, File ▸ Open, sample data), and talk to each
other only through napari's events: the time slider (``dims.events.current_step``) and the
layers' ``events.data`` (emitted when "follow" extends a live run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lattice.viewer.plots import figure_legend, plot_populations
from lattice.viewer.reader import META_KEY
from lattice.viewer.store import RunStore
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

# --------------------------------------------------------------------------------------------
# Runs shown in a viewer

_STORES: dict[str, RunStore] = {}


def store_for(path: str, label: str | None = None) -> RunStore:
    """A shared RunStore per run path (refreshed by "follow")."""
    st = _STORES.get(path)
    if st is None:
        st = _STORES[path] = RunStore(path, label)
    return st


@dataclass
class ShownRun:
    store: RunStore
    layers: list = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.store.label


def shown_runs(viewer) -> list[ShownRun]:
    """The runs whose layers are in ``viewer``, in layer order. A cached store that has fewer
    frames than a layer shows (the run was reopened since) is reread."""
    runs: dict[str, ShownRun] = {}
    for layer in viewer.layers:
        meta = layer.metadata.get(META_KEY) if isinstance(layer.metadata, dict) else None
        if not meta or "run" not in meta:
            continue
        path = meta["run"]
        if path not in runs:
            try:
                st = store_for(path, meta.get("run_label"))
                if st.n_frames < layer.data.shape[0]:
                    st.refresh()
                runs[path] = ShownRun(st)
            except (ValueError, OSError, KeyError):
                continue
        runs[path].layers.append(layer)
    return list(runs.values())


def time_axis(viewer, layer) -> int:
    """The viewer dims axis of a layer's time axis (its first)."""
    return max(viewer.dims.ndim - layer.ndim, 0)


def current_frame(viewer, run: ShownRun) -> int:
    """Frame of ``run`` at the time slider's position."""
    if not run.layers:
        return 0
    axis = time_axis(viewer, run.layers[0])
    return run.store.time.frame_of_world(viewer.dims.point[axis])


def go_to_frame(viewer, run: ShownRun, k: int) -> None:
    """Move the time slider to frame ``k`` of ``run``."""
    if not run.layers:
        return
    axis = time_axis(viewer, run.layers[0])
    viewer.dims.set_point(axis, run.store.time.world_of_frame(k))


def _rgb_css(rgba) -> str:
    r, g, b = (round(255 * min(max(c, 0.0), 1.0)) for c in rgba[:3])
    return f"rgb({r},{g},{b})"


def _connect_layers(widget: QWidget, viewer, callback) -> QTimer:
    """Call ``callback`` once per event-loop pass in which layers came or went, or one of ours
    got new data (a follow update replaces every layer of a run: one redraw, not one per layer).
    Returns the single-shot timer (``start()`` it to schedule a call)."""
    timer = QTimer(widget)
    timer.setSingleShot(True)
    timer.setInterval(0)
    timer.timeout.connect(callback)

    def schedule(*_args) -> None:
        try:
            timer.start()
        except RuntimeError:  # the widget (and its timer) was closed
            pass

    def hook(layer):
        if isinstance(layer.metadata, dict) and META_KEY in layer.metadata:
            layer.events.data.connect(schedule)

    def inserted(event):
        hook(event.value)
        schedule()

    for layer in viewer.layers:
        hook(layer)
    viewer.layers.events.inserted.connect(inserted)
    viewer.layers.events.removed.connect(schedule)
    return timer


# --------------------------------------------------------------------------------------------
# Legend


class LegendWidget(QWidget):
    """Colour swatch, name and count at the current frame of every cell state and immune type
    (one count column per run)."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.setLayout(QVBoxLayout())
        self.grid_box = QWidget()
        self.grid = QGridLayout(self.grid_box)
        self.grid.setContentsMargins(4, 4, 4, 4)
        self.grid.setVerticalSpacing(2)
        self.layout().addWidget(self.grid_box)
        self.layout().addStretch(1)
        self.count_labels: dict[tuple[str, str, int], QLabel] = {}
        self._runs: list[ShownRun] = []
        self._cache: dict[tuple[str, str, int, int], dict[int, int]] = {}
        self.viewer.dims.events.current_step.connect(self.update_counts)
        self._scheduled = _connect_layers(self, self.viewer, self.rebuild)
        self.rebuild()

    def rebuild(self, *_args) -> None:
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.count_labels.clear()
        self._runs = shown_runs(self.viewer)
        if not self._runs:
            self.grid.addWidget(QLabel("no DTP Lattice run open"), 0, 0)
            return
        first = self._runs[0].store
        row = 0
        if len(self._runs) > 1:
            for j, run in enumerate(self._runs):
                head = QLabel(run.label)
                head.setAlignment(Qt.AlignmentFlag.AlignRight)
                self.grid.addWidget(head, row, 2 + j)
            row += 1
        for layer in ("cells", "immune"):
            title = QLabel("cell states" if layer == "cells" else "immune cells")
            title.setStyleSheet("font-weight: bold")
            self.grid.addWidget(title, row, 0, 1, 2)
            row += 1
            for c in first.label_codes(layer):
                if c.code == 0:
                    continue
                swatch = QLabel()
                swatch.setFixedSize(16, 16)
                swatch.setStyleSheet(f"background-color: {_rgb_css(c.rgba)}; border: 1px solid #888")
                swatch.setToolTip(f"code {c.code}, RGBA {tuple(round(v, 2) for v in c.rgba)}")
                self.grid.addWidget(swatch, row, 0)
                self.grid.addWidget(QLabel(c.name), row, 1)
                for j, run in enumerate(self._runs):
                    n = QLabel("–")
                    n.setAlignment(Qt.AlignmentFlag.AlignRight)
                    self.grid.addWidget(n, row, 2 + j)
                    self.count_labels[(run.store.label, layer, c.code)] = n
                row += 1
        self._cache.clear()
        self.update_counts()

    def counts(self, run: ShownRun, layer: str, k: int) -> dict[int, int]:
        key = (str(run.store.store_path), layer, k, run.store.n_frames)
        if key not in self._cache:
            self._cache[key] = run.store.counts(layer, k) if run.store.n_frames else {}
        return self._cache[key]

    def update_counts(self, *_args) -> None:
        for run in self._runs:
            k = current_frame(self.viewer, run)
            for layer in ("cells", "immune"):
                counts = self.counts(run, layer, k)
                for (label, lay, code), widget in self.count_labels.items():
                    if label == run.store.label and lay == layer:
                        widget.setText(str(counts.get(code, 0)))


# --------------------------------------------------------------------------------------------
# Population curves

class PopulationPlot(QWidget):
    """Population curves of every run shown (one axes per run, shared time axis in hours, log
    count axis unless "log scale" is unticked) with a vertical marker at the time slider's
    frame; clicking the plot moves the slider to the frame nearest to the clicked time."""

    #: With ``defer``, the curves (matplotlib and summary.h5, about a second to import) are
    #: built this long after Qt's event loop starts, once the window has shown the run.
    DEFER_MS = 200

    def __init__(self, napari_viewer, defer: bool = False) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.figure = None
        self.canvas = None
        self._axes: list = []
        self._markers: list = []
        self._runs: list[ShownRun] = []
        self.log_y = QCheckBox("log scale")
        self.log_y.setChecked(True)  # a few persisters next to thousands of sensitive cells stay visible
        self.log_y.toggled.connect(self.redraw)
        self.setLayout(QVBoxLayout())
        self.placeholder = QLabel("population curves: loading…")
        self.placeholder.setMinimumHeight(220)
        self.layout().addWidget(self.placeholder)
        self.layout().addWidget(self.log_y)
        self.viewer.dims.events.current_step.connect(self.update_marker)
        self._scheduled = _connect_layers(self, self.viewer, self.redraw)
        self._pending = defer
        if defer:  # the first timer fires when the event loop runs: count the delay from there
            QTimer.singleShot(0, self._schedule_build)
        else:
            self.redraw()

    @property
    def built(self) -> bool:
        """Whether the matplotlib canvas exists (deferred widgets build it on first use)."""
        return self.canvas is not None

    def _schedule_build(self) -> None:
        QTimer.singleShot(self.DEFER_MS, self._build_if_alive)

    def _build_if_alive(self) -> None:
        try:
            self._build()
        except RuntimeError:  # the widget was closed before its curves were due
            pass

    def _build(self) -> None:
        self._pending = False
        if self.built:
            return
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(5, 3), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(220)
        self.canvas.mpl_connect("button_press_event", self.on_click)
        self.layout().replaceWidget(self.placeholder, self.canvas)
        self.placeholder.deleteLater()
        self.redraw()

    # Built on first use, so that callers never see a half-made widget.
    @property
    def axes(self) -> list:
        self._build()
        return self._axes

    @property
    def markers(self) -> list:
        self._build()
        return self._markers

    @property
    def runs(self) -> list[ShownRun]:
        self._build()
        return self._runs

    def redraw(self, *_args) -> None:
        if not self.built:
            if not self._pending:  # a deferred build draws when it comes
                self._build()
            return
        self.figure.clear()
        self._runs = shown_runs(self.viewer)
        self._axes, self._markers = [], []
        if not self._runs:
            self.canvas.draw_idle()
            return
        axes = self.figure.subplots(len(self._runs), 1, sharex=True, squeeze=False)[:, 0]
        t_max = []
        for ax, run in zip(axes, self._runs):
            ts, _ = run.store.summary()
            plot_populations(ax, run.store, ts, legend=False, log=self.log_y.isChecked())
            if len(ts.get("time_h", ())):
                t_max.append(float(ts["time_h"][-1]))
            if len(self._runs) > 1:
                ax.set_title(run.label, fontsize=9)
            self._markers.append(ax.axvline(0.0, color="black", lw=1.2, alpha=0.8))
            self._axes.append(ax)
        axes[-1].set_xlabel("time (h)")
        figure_legend(self.figure, axes, max_rows=12)
        if t_max and max(t_max) > axes[0].get_xlim()[0]:
            axes[0].set_xlim(right=max(t_max))  # shared x: the longest run
        self.update_marker()

    def marker_times(self) -> list[float]:
        """x of each marker (h)."""
        return [float(m.get_xdata()[0]) for m in self.markers]

    def update_marker(self, *_args) -> None:
        if not self.built:
            return
        for run, marker in zip(self._runs, self._markers):
            if run.store.n_frames:
                t = run.store.frame_times_h[current_frame(self.viewer, run)]
                marker.set_xdata([t, t])
        self.canvas.draw_idle()

    def on_click(self, event) -> None:
        """matplotlib button press: move the time slider to the frame nearest to ``xdata``."""
        if event is None or event.xdata is None or not self.runs:
            return
        run = self.runs[self.axes.index(event.inaxes)] if event.inaxes in self.axes else self.runs[0]
        self.go_to_time(float(event.xdata), run)

    def go_to_time(self, time_h: float, run: ShownRun | None = None) -> None:
        run = run or (self.runs[0] if self.runs else None)
        if run is None or not run.store.n_frames or not math.isfinite(time_h):
            return
        go_to_frame(self.viewer, run, run.store.time.nearest_frame(time_h))


# --------------------------------------------------------------------------------------------
# Field picker, live follow, 3D


class Follower:
    """Re-reads the runs shown in a viewer every ``interval_ms`` and extends their layers when a
    run that is still being written has new frames (staying on the newest frame if the slider
    was on the last one)."""

    def __init__(self, viewer, interval_ms: int = 2000, parent=None) -> None:
        self.viewer = viewer
        self.timer = QTimer(parent)
        self.timer.setInterval(int(interval_ms))
        self.timer.timeout.connect(self.poll)

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    @property
    def active(self) -> bool:
        return self.timer.isActive()

    def poll(self) -> bool:
        """Check every run once; returns True when one grew."""
        grew = False
        for run in shown_runs(self.viewer):
            st = run.store
            shown = min(layer.data.shape[0] for layer in run.layers)
            was_last = current_frame(self.viewer, run) >= shown - 1
            try:
                st.refresh()
            except (OSError, KeyError, ValueError):
                continue  # a metadata file being replaced: try again next tick
            if all(layer.data.shape[0] == st.n_frames for layer in run.layers):
                continue
            grew = True
            update_layers(run)
            if was_last:
                go_to_frame(self.viewer, run, st.n_frames - 1)
        return grew


def update_layers(run: ShownRun) -> None:
    """Point a run's layers at its current frames (after :meth:`RunStore.refresh`)."""
    st = run.store
    for layer in run.layers:
        meta = layer.metadata[META_KEY]
        kind = meta["kind"]
        keep_z = bool(meta.get("keep_z", False))
        data = st.field_data(meta["field"], keep_z) if kind == "field" else st.label_data(kind, keep_z)
        meta["frame_times_h"] = st.frame_times_h.tolist()
        scale = list(layer.scale)
        translate = list(layer.translate)
        scale[0], translate[0] = st.time.scale, st.time.translate
        layer.scale, layer.translate = scale, translate
        layer.data = data


class FieldsWidget(QWidget):
    """Field picker (one checkbox per field, toggling that field's layers in every run), the
    "follow live run" option and, for 3D runs, a 3D/slice switch."""

    def __init__(self, napari_viewer, follow: bool = False, interval_ms: int = 2000) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.follower = Follower(napari_viewer, interval_ms, parent=self)
        self.setLayout(QVBoxLayout())
        self.box = QGroupBox("fields")
        self.box_layout = QVBoxLayout(self.box)
        self.layout().addWidget(self.box)
        self.checks: dict[str, QCheckBox] = {}
        row = QHBoxLayout()
        self.follow = QCheckBox("follow live run every")
        self.interval = QSpinBox()
        self.interval.setRange(1, 3600)
        self.interval.setSuffix(" s")
        self.interval.setValue(max(1, round(interval_ms / 1000)))
        self.interval.valueChanged.connect(lambda s: self.follower.timer.setInterval(int(s) * 1000))
        self.follow.toggled.connect(self.set_follow)
        row.addWidget(self.follow)
        row.addWidget(self.interval)
        row.addStretch(1)
        self.layout().addLayout(row)
        self.view3d = QCheckBox("3D view (unchecked: slice through z)")
        self.view3d.toggled.connect(lambda on: setattr(self.viewer.dims, "ndisplay", 3 if on else 2))
        self.viewer.dims.events.ndisplay.connect(self._sync_ndisplay)
        self.layout().addWidget(self.view3d)
        self.layout().addStretch(1)
        self._scheduled = _connect_layers(self, self.viewer, self.rebuild)
        self.rebuild()
        if follow:
            self.follow.setChecked(True)

    def field_layers(self) -> dict[str, list]:
        out: dict[str, list] = {}
        for run in shown_runs(self.viewer):
            for layer in run.layers:
                meta = layer.metadata[META_KEY]
                if meta["kind"] == "field":
                    out.setdefault(meta["field"], []).append(layer)
        return out

    def rebuild(self, *_args) -> None:
        for cb in self.checks.values():
            cb.setParent(None)
            cb.deleteLater()
        self.checks.clear()
        layers = self.field_layers()
        for name, group in layers.items():
            meta = group[0].metadata
            units = meta.get("units", "")
            cb = QCheckBox(f"{name} ({units})" if units else name)
            cb.setToolTip(meta.get("description", ""))
            cb.setChecked(any(layer.visible for layer in group))
            cb.toggled.connect(lambda on, n=name: self.set_visible(n, on))
            for layer in group:
                layer.events.visible.connect(self._sync)  # a bound method: connected once
            self.box_layout.addWidget(cb)
            self.checks[name] = cb
        runs = shown_runs(self.viewer)
        self.view3d.setEnabled(any(not r.store.is2d for r in runs))
        self.view3d.setChecked(self.viewer.dims.ndisplay == 3)

    def set_visible(self, name: str, on: bool) -> None:
        for layer in self.field_layers().get(name, []):
            layer.visible = on

    def _sync(self, *_args) -> None:
        """Follow visibility changes made in the layer list."""
        layers = self.field_layers()
        for name, cb in self.checks.items():
            cb.blockSignals(True)
            cb.setChecked(any(layer.visible for layer in layers.get(name, [])))
            cb.blockSignals(False)

    def _sync_ndisplay(self, *_args) -> None:
        self.view3d.blockSignals(True)
        self.view3d.setChecked(self.viewer.dims.ndisplay == 3)
        self.view3d.blockSignals(False)

    def set_follow(self, on: bool) -> None:
        if on:
            self.follower.start()
        else:
            self.follower.stop()


def canvas_overlay(viewer, name: str):
    """A canvas overlay (``text``, ``scale_bar``): ``viewer.canvas.overlays`` since napari 0.9,
    the legacy attribute before."""
    canvas = getattr(viewer, "canvas", None)
    overlays = getattr(canvas, "overlays", None)
    if overlays is not None and name in overlays:
        return overlays[name]
    return getattr(viewer, "text_overlay" if name == "text" else name)


def time_text(viewer) -> str:
    """``t = 24 h`` of the shown frame (per run when several are shown)."""
    runs = [r for r in shown_runs(viewer) if r.store.n_frames]
    parts = []
    for run in runs:
        t = run.store.frame_times_h[current_frame(viewer, run)]
        parts.append(f"{run.label}: t = {t:g} h" if len(runs) > 1 else f"t = {t:g} h")
    return "   ".join(parts)


def attach_time_overlay(viewer) -> None:
    """Show the shown frame's time in hours on the canvas (the slider may count frames when
    they are unevenly spaced) and a scale bar in µm."""
    text = canvas_overlay(viewer, "text")
    text.visible = True
    text.position = "top_left"
    text.font_size = 12

    def update(*_args) -> None:
        text.text = time_text(viewer)

    viewer.dims.events.current_step.connect(update)
    viewer.layers.events.inserted.connect(update)
    update()
    bar = canvas_overlay(viewer, "scale_bar")
    bar.visible = True


def add_dock_widgets(viewer, follow: bool = False) -> dict[str, QWidget]:
    """Dock the legend and field picker on the right and the curves at the bottom."""
    widgets = {
        "legend": LegendWidget(viewer),
        "fields": FieldsWidget(viewer, follow=follow),
        "curves": PopulationPlot(viewer, defer=True),  # the run shows first, the curves a moment later
    }
    viewer.window.add_dock_widget(widgets["legend"], name="Lattice states", area="right")
    viewer.window.add_dock_widget(widgets["fields"], name="Lattice fields", area="right")
    viewer.window.add_dock_widget(widgets["curves"], name="Lattice populations", area="bottom")
    return widgets
