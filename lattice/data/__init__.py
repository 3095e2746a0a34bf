"""Small published datasets that the presets claim to reproduce (package data).

Each ``<name>.yaml`` holds: ``source`` (the publication), ``system`` (cells, drug, dose),
``observable`` (what :mod:`lattice.calibrate` computes from a run's table, with
``observable_units``), ``time_units``, ``distance_scale`` (``log`` or ``linear``), ``points``
(each with ``time_days`` and either ``value`` or a published range ``low``/``high``, and a
``note`` quoting what is published) and ``scenario`` (the ``lattice-run`` overrides of the matching
experiment). Only published numbers go in; approximate statements are marked as such in the note.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from lattice.params import ConfigError


@dataclass(frozen=True)
class DataPoint:
    """One observation: a value, or a published range [low, high], at ``time_days`` (None: whole run)."""

    time_days: float | None
    value: float | None = None
    low: float | None = None
    high: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    source: str
    observable: str
    observable_units: str
    distance_scale: str
    points: tuple[DataPoint, ...]
    scenario: tuple[str, ...]


def available() -> list[str]:
    """Names of the shipped datasets."""
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".yaml"))


def load(name_or_path: str | Path) -> Dataset:
    """A shipped dataset by name, or a dataset file of the same layout.

    Raises:
        ConfigError: unknown name, unreadable file or a missing/invalid key (named).
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text, where = path.read_text(), str(path)
    elif str(name_or_path) in available():
        text, where = resources.files(__name__).joinpath(f"{name_or_path}.yaml").read_text(), str(name_or_path)
    else:
        raise ConfigError(f"--data={name_or_path}: not a dataset file; shipped datasets are {', '.join(available())}")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--data={where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"--data={where}: expected a mapping with source, observable, points")
    for key in ("name", "source", "observable", "points"):
        if key not in raw:
            raise ConfigError(f"--data={where}: missing key {key}")
    points = []
    for i, p in enumerate(raw["points"] or []):
        has_value, has_range = p.get("value") is not None, p.get("low") is not None and p.get("high") is not None
        if has_value == has_range:
            raise ConfigError(f"--data={where}: points[{i}] needs either value or low and high")
        if has_range and not p["low"] <= p["high"]:
            raise ConfigError(f"--data={where}: points[{i}].low must not exceed high")
        points.append(DataPoint(time_days=p.get("time_days"), value=p.get("value"), low=p.get("low"),
                                high=p.get("high"), note=str(p.get("note", ""))))
    if not points:
        raise ConfigError(f"--data={where}: points is empty")
    scale = raw.get("distance_scale", "linear")
    if scale not in ("log", "linear"):
        raise ConfigError(f"--data={where}: distance_scale={scale} must be log or linear")
    return Dataset(name=str(raw["name"]), title=str(raw.get("title", "")), source=" ".join(str(raw["source"]).split()),
                   observable=str(raw["observable"]), observable_units=str(raw.get("observable_units", "")),
                   distance_scale=scale, points=tuple(points), scenario=tuple(raw.get("scenario") or ()))
