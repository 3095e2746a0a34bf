"""Declaring parameters once: default, units, meaning, allowed range.

Every parameter is a dataclass field made with :func:`param`; its metadata drives validation
(:func:`validate`), the config reference in the README and the output metadata. Parameter
classes derive from :class:`Params`, which freezes instances once they are validated: the
classes stay mutable while Hydra merges overrides into them (OmegaConf makes frozen dataclasses
read-only, which breaks overrides) and become immutable when the model receives them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import FrozenInstanceError, field
from typing import Any


class ConfigError(ValueError):
    """A config value that cannot be run. The message names the key, the value, what is
    allowed and how to fix it, on one line."""


def param(
    default: Any,
    units: str = "",
    help: str = "",
    *,
    min: float | None = None,
    max: float | None = None,
    min_exclusive: bool = False,
    choices: Sequence[Any] | None = None,
    keys: Sequence[str] | None = None,
    source: str = "",
) -> Any:
    """A dataclass field with units, meaning, bounds and source attached as metadata.

    Mutable defaults (lists, dicts) are copied per instance.
    """
    meta = dict(
        units=units, help=help, min=min, max=max, min_exclusive=min_exclusive,
        choices=tuple(choices) if choices is not None else None,
        keys=tuple(keys) if keys is not None else None, source=source,
    )
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    if dataclasses.is_dataclass(default):
        return field(default_factory=lambda d=default: dataclasses.replace(d), metadata=meta)
    return field(default=default, metadata=meta)


class Params:
    """Base of parameter dataclasses: immutable after :meth:`freeze`."""

    _frozen = False

    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen:
            raise FrozenInstanceError(f"cannot assign to field {name!r}: parameters are frozen")
        object.__setattr__(self, name, value)

    def freeze(self) -> Params:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Params):
                value.freeze()
            elif isinstance(value, Mapping):
                for v in value.values():
                    if isinstance(v, Params):
                        v.freeze()
        object.__setattr__(self, "_frozen", True)
        return self


def number(x: float) -> str:
    """A bound or value as people write it: whole numbers in full (4294967295, not 4.29497e+09)."""
    if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and float(x).is_integer() \
            and abs(x) < 1e16:
        return str(int(x))
    return f"{x:g}" if isinstance(x, float) else str(x)


def _describe_bounds(meta: Mapping[str, Any]) -> str:
    parts = []
    if meta.get("min") is not None:
        parts.append(f"{'>' if meta.get('min_exclusive') else '>='} {number(meta['min'])}")
    if meta.get("max") is not None:
        parts.append(f"<= {number(meta['max'])}")
    return " and ".join(parts)


def _check_number(path: str, value: Any, meta: Mapping[str, Any]) -> None:
    units = f" {meta['units']}" if meta.get("units") else ""
    what = f" ({meta['help']})" if meta.get("help") else ""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{path}={value} is not a finite number{what}; give a finite value{units}")
    lo, hi = meta.get("min"), meta.get("max")
    too_low = lo is not None and (value <= lo if meta.get("min_exclusive") else value < lo)
    too_high = hi is not None and value > hi
    if too_low or too_high:
        raise ConfigError(
            f"{path}={number(value)} is out of range{what}: must be {_describe_bounds(meta)}{units}"
        )


def validate(obj: Any, path: str = "") -> None:
    """Check every :func:`param` field of a (nested) parameter dataclass against its metadata.

    Raises:
        ConfigError: naming the first offending key with its allowed values.
    """
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{path}.{f.name}" if path else f.name
        meta = f.metadata
        if dataclasses.is_dataclass(value):
            validate(value, key)
            continue
        if meta.get("choices") is not None and value not in meta["choices"]:
            allowed = ", ".join(str(c) for c in meta["choices"])
            raise ConfigError(f"{key}={value} is not allowed: choose one of {allowed}")
        if isinstance(value, Mapping):
            allowed_keys = meta.get("keys")
            for k, v in value.items():
                if allowed_keys is not None and k not in allowed_keys:
                    raise ConfigError(
                        f"{key}.{k} is not a known key: use one of {', '.join(allowed_keys)}"
                    )
                if dataclasses.is_dataclass(v):
                    validate(v, f"{key}.{k}")
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    _check_number(f"{key}.{k}", v, meta)
            continue
        if isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    _check_number(f"{key}[{i}]", v, meta)
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            _check_number(key, value, meta)


def describe(cls: type, path: str = "") -> list[tuple[str, Any, str, str, str]]:
    """Rows ``(key, default, units, help, source)`` for every parameter, for documentation."""
    rows = []
    for f in dataclasses.fields(cls):
        key = f"{path}.{f.name}" if path else f.name
        default = (
            f.default if f.default is not dataclasses.MISSING
            else f.default_factory() if f.default_factory is not dataclasses.MISSING  # type: ignore[misc]
            else None
        )
        if dataclasses.is_dataclass(default):
            rows.extend(describe(type(default), key))
            continue
        m = f.metadata
        rows.append((key, default, m.get("units", ""), m.get("help", ""), m.get("source", "")))
    return rows
