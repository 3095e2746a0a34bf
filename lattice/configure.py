"""From Hydra config to validated, frozen parameters, and one-line explanations of bad input."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lattice.params import ConfigError, RunParams, check, register_configs

CONFIG_MODULE = "lattice.conf"


def params_from_config(cfg: DictConfig | dict) -> RunParams:
    """Validate a composed config (or a saved one) and return frozen :class:`RunParams`."""
    _reject_unknown(cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg), RunParams, "")
    schema = OmegaConf.structured(RunParams)
    try:
        merged = OmegaConf.merge(schema, cfg)
        obj = OmegaConf.to_object(merged)
    except Exception as exc:  # OmegaConf's errors carry the key in "full_key:"
        raise ConfigError(explain(exc)) from None
    return check(obj)  # type: ignore[arg-type]


def _reject_unknown(cfg: DictConfig, cls: type, path: str) -> None:
    """Keys added with ``+key=value`` (or present in a saved config) that the schema lacks."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in cfg.keys():
        full = f"{path}.{key}" if path else str(key)
        if key not in fields:
            allowed = ", ".join(fields)
            raise ConfigError(f"unknown config key {full}: allowed keys{' under ' + path if path else ''} are {allowed}")
        f = fields[key]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default  # type: ignore[misc]
        value = cfg.get(key)
        if dataclasses.is_dataclass(default) and isinstance(value, DictConfig):
            _reject_unknown(value, type(default), full)


def _allowed_keys(path: str) -> tuple[list[str], bool]:
    """Keys allowed under a dotted path of the schema, and whether that node is a mapping
    (new entries of a mapping are added with ``+key=value``)."""
    node: Any = RunParams
    for part in [p for p in path.split(".") if p]:
        fields = {f.name: f for f in dataclasses.fields(node)} if dataclasses.is_dataclass(node) else {}
        if part not in fields:
            return [], False
        f = fields[part]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default  # type: ignore[misc]
        if isinstance(default, dict):
            return list(f.metadata.get("keys") or ()), True
        if not dataclasses.is_dataclass(default):
            return [], False
        node = type(default)
    return ([f.name for f in dataclasses.fields(node)] if dataclasses.is_dataclass(node) else []), False


def explain(exc: BaseException) -> str:
    """One line naming the key and what is allowed, from Hydra/OmegaConf/our own errors."""
    if isinstance(exc, ConfigError):
        return str(exc)
    # Hydra wraps OmegaConf's error (which names the key) as the cause.
    text = "\n".join(str(e) for e in (exc, exc.__cause__) if e is not None)
    full_key = re.search(r"full_key:\s*(\S+)", text)
    key = full_key.group(1) if full_key else None
    missing_group = re.search(r"Could not find '([^']+)/([^']+)'", text)
    if missing_group:
        group, option = missing_group.groups()
        options = re.findall(r"^\t(\S+)$", text, flags=re.MULTILINE)
        allowed = f": choose one of {', '.join(options)}" if options else ""
        return f"{group}={option} is not a known {group} preset{allowed}"
    if "not in struct" in text or "not in '" in text or "Key '" in text and "not" in text:
        bad = key or (re.search(r"Key '([^']+)'", text).group(1) if re.search(r"Key '([^']+)'", text) else "?")
        parent = bad.rsplit(".", 1)[0] if "." in bad else ""
        allowed, is_mapping = _allowed_keys(parent)
        where = f" under {parent}" if parent else ""
        if is_mapping:
            return (f"{bad} is not set yet: add an entry with +{bad}=VALUE"
                    + (f" (allowed entries: {', '.join(allowed)})" if allowed else ""))
        hint = f": allowed keys{where} are {', '.join(allowed)}" if allowed else ""
        return f"unknown config key {bad}{hint}"
    conv = re.search(r"Value '([^']*)' (?:of type '(\w+)' )?could not be converted to (\w+)", text)
    if conv:
        return f"{key or '?'}={conv.group(1)} is not a valid {conv.group(3).lower()}"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return f"{first}" + (f" ({key})" if key and key not in first else "")


def compose(overrides: list[str]) -> DictConfig:
    """Compose the config for ``overrides`` outside of a Hydra run (used to validate first)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    register_configs()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def expand_for_validation(overrides: list[str]) -> list[list[str]]:
    """Override lists to validate: each sweep value once, others at their first value.

    ``a=1,2 b=x`` gives ``[[a=1, b=x], [a=2, b=x]]``; hydra.* overrides are left to Hydra.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides([o for o in overrides if not o.lstrip("+~").startswith("hydra")])
    firsts, sweeps = [], []
    for ov in parsed:
        if ov.is_sweep_override():
            values = list(ov.sweep_string_iterator())
            prefix = ov.get_key_element()
            firsts.append(f"{prefix}={values[0]}")
            sweeps.append((len(firsts) - 1, [f"{prefix}={v}" for v in values]))
        else:
            firsts.append(ov.input_line)
    combos = [firsts]
    for i, variants in sweeps:
        for v in variants[1:]:
            combo = list(firsts)
            combo[i] = v
            combos.append(combo)
    return combos


def validate_overrides(overrides: list[str]) -> None:
    """Compose and validate every variant of the command line; raise ConfigError on the first bad one."""
    try:
        combos = expand_for_validation(overrides)
    except Exception as exc:
        raise ConfigError(f"cannot parse the command line: {explain(exc)}") from None
    for combo in combos:
        try:
            cfg = compose(combo)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(explain(exc)) from None
        params_from_config(cfg)
