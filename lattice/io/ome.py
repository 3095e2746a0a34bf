"""OME-Zarr 0.5 metadata of the recorded frames (docs/outputs.md): the image's multiscales and
omero channels, the label images' colours and names, and the time axis.

The OME time axis can only say ``time = t0 + index × scale``. Frames that are evenly spaced
(every frame the simulation writes: it records frames only on the ``output.every_h`` grid) get
``scale = interval`` in hours and a translation to the first frame's time. Frames that are not
evenly spaced get ``scale = 1`` and no unit: the axis then counts frames, and the true times are
in ``dtp_lattice.frame_times_h`` (an axis in hours would put the frames at wrong times).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from lattice.io.layout import IMAGE_PATH, LABEL_LAYERS

#: omero display colours of the field channels, cycled.
CHANNEL_COLOURS = ("FF0000", "00FF00", "0080FF", "FFFF00", "FF00FF", "00FFFF", "FF8000", "FFFFFF")


def time_axis(times_h: Sequence[float], every_h: float) -> tuple[float, float, str | None]:
    """``(scale, t0, unit)`` of the OME time axis for frames at ``times_h`` (see the module doc).

    ``every_h`` is the nominal interval, used while fewer than two frames exist.
    """
    t = np.asarray(times_h, dtype=float)
    if t.size < 2:
        return float(every_h), float(t[0]) if t.size else 0.0, "hour"
    d = np.diff(t)
    step = float(d[0])
    if step > 0 and np.allclose(d, step, rtol=1e-9, atol=1e-9):
        return step, float(t[0]), "hour"
    return 1.0, 0.0, None


def _time_entry(unit: str | None) -> dict[str, str]:
    entry = {"name": "t", "type": "time"}
    if unit:
        entry["unit"] = unit
    return entry


def _space_axes() -> list[dict[str, str]]:
    return [{"name": a, "type": "space", "unit": "micrometer"} for a in ("z", "y", "x")]


def _transforms(scale_t: float, spacing_um: float, n_mid: int, t0_h: float) -> list[dict]:
    """scale (and a time translation when the first frame is not at t = 0)."""
    out: list[dict] = [{"type": "scale", "scale": [float(scale_t)] + [1.0] * n_mid + [float(spacing_um)] * 3}]
    if t0_h:
        out.append({"type": "translation", "translation": [float(t0_h)] + [0.0] * (n_mid + 3)})
    return out


def field_spec(spec) -> dict[str, str]:
    """Accept a dict(name, units, description) or an object with those attributes (FieldSpec)."""
    if isinstance(spec, Mapping):
        get = spec.get
    else:
        def get(key, default=""):
            return getattr(spec, key, default)
    name = get("name", None)
    if not name:
        raise ValueError(f"field spec {spec!r} has no name")
    return {"name": str(name), "units": str(get("units", "") or ""), "description": str(get("description", "") or "")}


def image_attrs(
    field_specs: Sequence[Mapping[str, str]], zyx: Sequence[int], spacing_um: float,
    time: tuple[float, float, str | None], windows: Sequence[Sequence[float]] | None = None, name: str = "fields",
) -> dict:
    """The ``ome`` attribute of an image group: one multiscale level ``0`` and omero channels.

    Args:
        time: ``(scale, t0, unit)`` from :func:`time_axis`.
        windows: per channel ``(min, max)`` display window (default 0–1).
    """
    scale_t, t0, unit = time
    axes = [_time_entry(unit), {"name": "c", "type": "channel"}, *_space_axes()]
    channels = []
    for i, spec in enumerate(field_specs):
        lo, hi = windows[i] if windows is not None else (0.0, 1.0)
        channels.append({
            "label": spec["name"], "color": CHANNEL_COLOURS[i % len(CHANNEL_COLOURS)], "active": True,
            "coefficient": 1.0, "family": "linear", "inverted": False,
            "window": {"min": lo, "max": hi, "start": lo, "end": hi},
        })
    return {
        "version": "0.5",
        "multiscales": [{
            "name": name,
            "axes": axes,
            "datasets": [{"path": IMAGE_PATH, "coordinateTransformations": _transforms(scale_t, spacing_um, 1, t0)}],
        }],
        "omero": {"channels": channels, "rdefs": {"model": "color", "defaultT": 0, "defaultZ": int(zyx[0]) // 2}},
    }


def label_attrs(layer: str, spacing_um: float, time: tuple[float, float, str | None]) -> dict:
    """The ``ome`` attribute of ``labels/<layer>``: image-label colours, properties, source."""
    codes = LABEL_LAYERS[layer]
    scale_t, t0, unit = time
    return {
        "version": "0.5",
        "image-label": {
            "colors": [{"label-value": code, "rgba": _rgba_255(rgba)} for code, (_, rgba) in codes.items()],
            "properties": [{"label-value": code, "name": name} for code, (name, _) in codes.items()],
            "source": {"image": "../../"},
        },
        "multiscales": [{
            "name": layer,
            "axes": [_time_entry(unit), *_space_axes()],
            "datasets": [{"path": "0", "coordinateTransformations": _transforms(scale_t, spacing_um, 0, t0)}],
        }],
    }


def labels_group_attrs() -> dict:
    """The ``ome`` attribute of an image's ``labels`` group."""
    return {"version": "0.5", "labels": list(LABEL_LAYERS)}


def label_metadata() -> dict[str, list[dict]]:
    """``dtp_lattice.labels``: per layer, code, name and RGBA colour (0–1) from :mod:`lattice.codes`."""
    return {
        layer: [{"code": code, "name": name, "rgba": list(rgba)} for code, (name, rgba) in codes.items()]
        for layer, codes in LABEL_LAYERS.items()
    }


def _rgba_255(rgba: Sequence[float]) -> list[int]:
    return [round(min(max(c, 0.0), 1.0) * 255) for c in rgba]


def widen_windows(windows: list[list[float]] | None, fields: np.ndarray) -> list[list[float]]:
    """Per channel display windows widened to the finite range of ``fields`` ``(R, F, *S)`` (all
    replicates of a frame at once); an empty range becomes ``[lo, lo + 1]``."""
    f = np.asarray(fields)
    f = f.reshape(f.shape[0], f.shape[1], -1)
    out = []
    for c in range(f.shape[1]):
        v = f[:, c]
        lo, hi = float(np.min(v)), float(np.max(v))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            finite = v[np.isfinite(v)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        if windows is not None:
            lo, hi = min(lo, windows[c][0]), max(hi, windows[c][1])
        out.append([lo, hi if hi > lo else lo + 1.0])
    return out
