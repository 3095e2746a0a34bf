"""The napari reader of DTP Lattice runs, and the layer data tuples it builds (no Qt).

The reader claims only run directories and ``run.zarr`` stores written by this project (root
attribute ``dtp_lattice``) and returns None for anything else, so it coexists with other zarr
readers (napari-ome-zarr). A directory of replicates or of a sweep opens every run in it side
by side, each named by its overrides (:mod:`lattice.viewer.names`).

Only one field is visible at first (the primary drug if there is one, else oxygen): several
translucent fields on top of each other wash the cells out. A field layer shows its colour bar
whenever it is visible.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lattice.viewer.names import open_named_runs
from lattice.viewer.store import RunStore, find_runs

LayerDataTuple = tuple[Any, dict[str, Any], str]

#: Key of our entry in ``layer.metadata``.
META_KEY = "dtp_lattice"
#: Gap between runs laid out side by side, as a fraction of the run's x extent.
SIDE_BY_SIDE_GAP = 0.1
#: Colormaps of fields other than oxygen (additive blending), in order of appearance; the
#: primary drug takes the first.
FIELD_COLORMAPS = ("cyan", "magenta", "yellow", "green", "blue", "red", "gray")


def napari_get_reader(path: str | Sequence[str]) -> Callable[[Any], list[LayerDataTuple]] | None:
    """npe2 reader: a reader function for DTP Lattice runs, None for anything else."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths or not all(find_runs(p) for p in paths):
        return None
    return read_runs


def read_runs(path: str | Sequence[str]) -> list[LayerDataTuple]:
    """Layer data tuples of every run under ``path`` (several runs are laid out side by side)."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    tuples = layer_tuples(open_named_runs(paths))
    _colorbars_on_insert(_current_viewer())
    return tuples


def _current_viewer():
    """The napari viewer a reader is adding layers to (None outside napari). Looked up only
    when napari's viewer module is loaded already: no viewer can exist otherwise, and importing
    it costs seconds."""
    viewer_module = sys.modules.get("napari.viewer")
    return viewer_module.current_viewer() if viewer_module is not None else None


def _colorbars_on_insert(viewer) -> None:
    """Turn on the colour bar of our field layers when napari inserts them into ``viewer``
    (a reader can only return layer data and keyword arguments, and ``add_image`` takes no
    colour-bar argument). napari connects the same function only once."""
    if viewer is not None:
        viewer.layers.events.inserted.connect(_show_inserted_colorbar)


def _show_inserted_colorbar(event) -> None:
    show_colorbars([event.value])


def is_field_layer(layer) -> bool:
    """Whether a napari layer is a field of a DTP Lattice run."""
    meta = layer.metadata.get(META_KEY) if isinstance(layer.metadata, dict) else None
    return bool(meta) and meta.get("kind") == "field"


def show_colorbars(layers) -> None:
    """Give every field layer among ``layers`` its colour bar while it is visible. napari builds
    a bar's visuals when it is first switched on (about 0.2 s each), so hidden fields get theirs
    when they are first shown."""
    for layer in layers:
        if is_field_layer(layer) and hasattr(layer, "colorbar"):
            _colorbar_follows_visibility(layer)
            layer.events.visible.connect(lambda _event, layer=layer: _colorbar_follows_visibility(layer))


def _colorbar_follows_visibility(layer) -> None:
    if layer.visible and not layer.colorbar.visible:
        layer.colorbar.visible = True


def field_shown_first(run: RunStore) -> str | None:
    """The one field visible when a run opens: the primary drug's if the run has a drug, else
    oxygen, else the first field."""
    names = run.field_names
    drug = run.primary_drug_field()
    if drug in names:
        return drug
    if "oxygen" in names:
        return "oxygen"
    return names[0] if names else None


def check_frames(runs: Sequence[RunStore]) -> None:
    """Raise ValueError naming the runs that have no complete frame yet (nothing to show)."""
    empty = [str(r.run_dir) for r in runs if not r.n_frames]
    if empty:
        raise ValueError(f"no complete frame yet in {', '.join(empty)}: open it once the first frame is written "
                         "(lattice-view --follow waits for it)")


def label_colormap(run: RunStore, layer: str):
    """napari DirectLabelColormap of a label layer: each code's fixed colour; unknown codes and
    0 transparent."""
    from napari.utils.colormaps import DirectLabelColormap

    colors: dict[int | None, tuple[float, ...]] = {None: (0.0, 0.0, 0.0, 0.0)}
    for c in run.label_codes(layer):
        colors[c.code] = c.rgba
    colors[0] = (0.0, 0.0, 0.0, 0.0)
    return DirectLabelColormap(color_dict=colors, background_value=0)


def _common(run: RunStore, translate_x_um: float, keep_z: bool) -> dict[str, Any]:
    t = run.time
    spatial = run.spatial_scale(keep_z)
    scale = (t.scale, *spatial)
    translate = [t.translate] + [0.0] * len(spatial)
    translate[-1] = translate_x_um
    axes = (t.axis_label, *(f"{a} (µm)" for a in run.spatial_axes(keep_z)))
    units = (t.unit, *("micrometer" for _ in spatial))
    return {"scale": scale, "translate": tuple(translate), "axis_labels": axes, "units": units}


def _meta(run: RunStore, kind: str, keep_z: bool, **extra: Any) -> dict[str, Any]:
    return {
        META_KEY: {
            "run": str(run.store_path), "run_dir": str(run.run_dir), "run_label": run.label, "kind": kind,
            "keep_z": keep_z, "frame_times_h": run.frame_times_h.tolist(), **extra,
        }
    }


def run_layer_tuples(
    run: RunStore, translate_x_um: float = 0.0, name_prefix: str = "", keep_z: bool = False,
) -> list[LayerDataTuple]:
    """One run's layers, bottom to top: fields (oxygen first; only :func:`field_shown_first`
    visible), cells, immune.

    Names are the field names and ``cells`` / ``immune`` (with ``name_prefix``); every layer's
    metadata holds ``dtp_lattice`` (run path, label, kind, frame times, field units). A 2D run's
    layers are ``(t, y, x)``, or ``(t, z=1, y, x)`` with ``keep_z``.
    """
    common = _common(run, translate_x_um, keep_z)
    out: list[LayerDataTuple] = []
    names = run.field_names
    order = sorted(names, key=lambda n: (n != "oxygen", n != run.primary_drug_field(), names.index(n)))
    shown = field_shown_first(run)
    cmaps = iter(FIELD_COLORMAPS * (1 + len(names) // len(FIELD_COLORMAPS)))
    for name in order:
        spec = run.field_spec(name)
        is_o2 = name == "oxygen"
        kwargs = {
            **common,
            "name": f"{name_prefix}{name}",
            "colormap": "inferno" if is_o2 else next(cmaps),
            "blending": "translucent" if is_o2 else "additive",
            "contrast_limits": run.contrast_limits(name),
            "visible": name == shown,
            "metadata": {
                **_meta(run, "field", keep_z, field=name, units=spec["units"], description=spec["description"]),
                "units": spec["units"], "description": spec["description"],
            },
        }
        out.append((run.field_data(name, keep_z), kwargs, "image"))
    for layer in ("cells", "immune"):
        codes = run.label_codes(layer)
        kwargs = {
            **common,
            "name": f"{name_prefix}{layer}",
            "colormap": label_colormap(run, layer),
            "opacity": 1.0,
            "blending": "translucent",
            "features": {"index": [c.code for c in codes], "state": [c.name for c in codes]},
            "metadata": _meta(run, layer, keep_z, codes=[[c.code, c.name, list(c.rgba)] for c in codes]),
        }
        out.append((run.label_data(layer, keep_z), kwargs, "labels"))
    return out


def layer_tuples(runs: Sequence[RunStore], layout: str = "row") -> list[LayerDataTuple]:
    """Layers of one or more runs. With several runs, layer names are prefixed by the run's
    label and, with ``layout="row"``, each run is translated along x next to the previous one
    (linked time: all runs share napari's time axis, in hours). ``layout="overlay"`` (or
    ``"grid"``, for napari's grid mode) keeps them in place. 2D runs shown with 3D runs keep
    their singleton ``z`` so that every layer has the same axes."""
    check_frames(runs)
    out: list[LayerDataTuple] = []
    keep_z = any(r.is2d for r in runs) and any(not r.is2d for r in runs)
    x = 0.0
    for run in runs:
        prefix = f"{run.label}: " if len(runs) > 1 else ""
        out.extend(run_layer_tuples(
            run, translate_x_um=x if layout == "row" else 0.0, name_prefix=prefix, keep_z=keep_z,
        ))
        x += run.extent_x_um * (1.0 + SIDE_BY_SIDE_GAP)
    return out


def add_layer_tuples(viewer, tuples: Sequence[LayerDataTuple]) -> list:
    """Add layer data tuples to a viewer (what napari does with a reader's result)."""
    added = []
    for data, kwargs, kind in tuples:
        added.append(getattr(viewer, f"add_{kind}")(data, **kwargs))
    show_colorbars(added)
    return added
