"""From the command line to validated, frozen parameters, and one-line explanations of bad input.

``lattice-run`` composes every variant of a command line here (each sweep value once) with the
same search path Hydra will use, so a bad key, value, preset or user folder is refused before
Hydra writes anything (docs/configuration.md "Errors").
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import warnings
from pathlib import Path
from typing import Any

from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lattice.params import ConfigError, RunParams, check, register_configs
from lattice.params.spec import number

CONFIG_MODULE = "lattice.conf"
#: Folders of user presets (``os.pathsep``-separated), searched after the package's own conf/.
ENV_SEARCH_PATH = "LATTICE_CONFIG_PATH"
#: The config groups of conf/ whose options a user picks with ``group=option``.
GROUPS = ("grid", "tumour", "fields", "organ", "host", "immune", "treatment", "output", "experiment")
#: How to add a drug on the command line (a conf/drug preset merged under a new name).
ADD_DRUG_HINT = ("add a drug with +drug@treatment.drugs.{name}=KIND (KIND: a conf/drug preset such as cytotoxic "
                 "or targeted, or your own DIR/drug/KIND.yaml), then set its keys, e.g. "
                 "treatment.drugs.{name}.dose_uM=2")


def params_from_config(cfg: DictConfig | dict) -> RunParams:
    """Validate a composed config (or a saved one) and return frozen :class:`RunParams`."""
    _reject_unknown(cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg), RunParams, "")
    try:
        merged = OmegaConf.merge(_schema(), cfg)
        obj = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:  # OmegaConf's errors carry the key in "full_key:"
        raise ConfigError(explain(exc)) from None
    return check(obj)  # type: ignore[arg-type]


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return f.default


def _reject_unknown(cfg: DictConfig, cls: type, path: str) -> None:
    """Keys added with ``+key=value`` (or present in a saved config) that the schema lacks."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in cfg:
        full = f"{path}.{key}" if path else str(key)
        if key not in fields:
            allowed = ", ".join(fields)
            raise ConfigError(f"unknown config key {full}: allowed keys{' under ' + path if path else ''} are {allowed}")
        default = _default(fields[key])
        value = cfg.get(key)
        if dataclasses.is_dataclass(default) and isinstance(value, DictConfig):
            _reject_unknown(value, type(default), full)


def schema_field(path: str) -> dataclasses.Field | None:
    """The schema field of a dotted key; list indices are dropped and mapping entries resolve to
    the mapping's field, or into the dataclass of its values (``treatment.drugs.NAME.dose_uM``)."""
    import typing

    node: Any = RunParams
    found = None
    parts = [p for p in re.sub(r"\[\d+\]", "", path).split(".") if p]
    i = 0
    while i < len(parts):
        if not dataclasses.is_dataclass(node):
            return found if isinstance(_default(found), dict) else None
        fields = {f.name: f for f in dataclasses.fields(node)}
        if parts[i] not in fields:
            return None
        found = fields[parts[i]]
        default = _default(found)
        if isinstance(default, dict):
            args = typing.get_args(typing.get_type_hints(node).get(parts[i]))
            value_type = args[1] if len(args) == 2 else None
            if dataclasses.is_dataclass(value_type) and i + 2 < len(parts):
                node, i = value_type, i + 2  # step over the entry's name into its dataclass
                continue
            node = None
        else:
            node = type(default) if dataclasses.is_dataclass(default) else None
        i += 1
    return found


def _allowed_keys(path: str) -> tuple[list[str], bool]:
    """Keys allowed under a dotted path of the schema, and whether that node is a mapping
    (new entries of a mapping are added with ``+key=value``)."""
    node: Any = RunParams
    for part in [p for p in path.split(".") if p]:
        fields = {f.name: f for f in dataclasses.fields(node)} if dataclasses.is_dataclass(node) else {}
        if part not in fields:
            return [], False
        f = fields[part]
        default = _default(f)
        if isinstance(default, dict):
            return list(f.metadata.get("keys") or ()), True
        if not dataclasses.is_dataclass(default):
            return [], False
        node = type(default)
    return ([f.name for f in dataclasses.fields(node)] if dataclasses.is_dataclass(node) else []), False


def _value_hint(key: str, kind: str) -> str:
    """What a value of ``key`` must look like, from the schema (choices, units)."""
    f = schema_field(key)
    meta = f.metadata if f is not None else {}
    if meta.get("choices"):
        return f"choose one of {', '.join(str(c) for c in meta['choices'])}"
    if kind == "bool":
        return "use true or false"
    units = f" in {meta['units']}" if meta.get("units") else ""
    bounds = []
    if meta.get("min") is not None:
        bounds.append(f"{'>' if meta.get('min_exclusive') else '>='} {number(meta['min'])}")
    if meta.get("max") is not None:
        bounds.append(f"<= {number(meta['max'])}")
    return f"give a {kind}{units}" + (f" ({' and '.join(bounds)})" if bounds else "")


def _override_text(text: str) -> str | None:
    """The override Hydra could not apply, from "Error merging override X" / "Could not override 'X'"."""
    m = re.search(r"Error merging override (\S+)", text) or re.search(r"Could not override '([^']+)'", text)
    return m.group(1) if m else None


def explain(exc: BaseException) -> str:
    """One line naming the key, what is allowed and the fix, from Hydra/OmegaConf/our own errors."""
    if isinstance(exc, ConfigError):
        return str(exc)
    # Hydra wraps OmegaConf's error (which names the key) as the cause.
    text = "\n".join(str(e) for e in (exc, exc.__cause__) if e is not None)
    full_key = re.search(r"full_key:\s*(\S+)", text)
    key = full_key.group(1) if full_key else None
    override = _override_text(text)
    if type(exc).__name__ == "OverrideParseException":
        where = re.search(r"override '([^']+)'", text)
        bad = f"'{where.group(1)}'" if where else "an argument"
        return (f"cannot parse {bad}: write KEY=VALUE or group=option (lists: key=[1,2]; sweeps with -m: "
                f"key=1,2); see docs/configuration.md")
    missing_group = re.search(r"Could not find '([^']+)/([^']+)'", text)
    if missing_group:
        group, option = missing_group.groups()
        options = re.findall(r"^\t(\S+)$", text, flags=re.MULTILINE)
        allowed = f": choose one of {', '.join(options)}" if options else ""
        own = "" if group.startswith("hydra/") else (
            f" (or put your own {group}/{option}.yaml in a folder DIR and pass --config-dir=DIR)")
        return f"{group}={option} is not a known {group} preset{allowed}{own}"
    drug = re.match(r"\+?treatment\.drugs\.([^.=]+)", override or key or "")
    if drug and ("is not a subclass of DrugParams" in text or "not in struct" in text):
        return f"treatment.drugs.{drug.group(1)} does not exist: " + ADD_DRUG_HINT.format(name=drug.group(1))
    if "not in struct" in text or "not in '" in text or ("Key '" in text and "not" in text):
        found = re.search(r"Key '([^']+)'", text)
        bad = key or (found.group(1) if found else "?")
        parent = bad.rsplit(".", 1)[0] if "." in bad else ""
        allowed, is_mapping = _allowed_keys(parent)
        where = f" under {parent}" if parent else ""
        if is_mapping:
            return (f"{bad} is not set yet: add an entry with +{bad}=VALUE"
                    + (f" (allowed entries: {', '.join(allowed)})" if allowed else ""))
        hint = f": allowed keys{where} are {', '.join(allowed)}" if allowed else ""
        return f"unknown config key {bad}{hint}"
    not_bool = re.search(r"Value '([^']*)' is not a valid bool", text)
    if not_bool:
        return f"{key or '?'}={not_bool.group(1)} is not allowed: {_value_hint(key or '', 'bool')}"
    conv = re.search(r"Value '([^']*)' (?:of type '(\w+)' )?could not be converted to (\w+)", text)
    if conv:
        kind = {"integer": "whole number", "float": "number"}.get(conv.group(3).lower(), conv.group(3).lower())
        shown = override or f"{key}={conv.group(1)}"
        return f"{shown} is not a {kind}: {_value_hint(key or '', kind)}"
    if "is not a ListConfig, list or tuple" in text:
        return f"{override or key} is not a list: write {key}=[...], e.g. grid.shape=[200,200]"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return f"{first}" + (f" ({key})" if key and key not in first else "")


# -- the search path: package presets first, then the user's folders ------------------------------

def _as_search_entry(path: str) -> str:
    """``/my/conf`` or ``file://my/conf`` -> ``file:///abs/my/conf``; ``pkg://`` entries unchanged.

    Raises:
        ConfigError: a file:// folder that does not exist.
    """
    if path.startswith("pkg://"):
        return path
    local = Path(path.removeprefix("file://")).expanduser()
    if not local.is_dir():
        raise ConfigError(f"config folder {local} does not exist: give an existing folder of presets "
                          f"(DIR/treatment/NAME.yaml, DIR/drug/NAME.yaml, ...)")
    return f"file://{local.absolute()}"


def search_path_override(overrides: list[str], config_dir: str | None = None,
                         env: dict[str, str] | None = None) -> list[str]:
    """``overrides`` with one ``hydra.searchpath=[...]`` holding the user's own folders: those the
    command line names (``hydra.searchpath``, ``--config-dir``) and ``$LATTICE_CONFIG_PATH``.

    Hydra searches them after the package's conf/, so they add presets (new names) without
    shadowing the package's own. ``--config-dir`` stays with Hydra as well; listing it here makes
    the validation compose see the same presets as the run.
    """
    env = os.environ if env is None else env
    entries: list[str] = []
    rest = []
    for o in overrides:
        if o.split("=", 1)[0] == "hydra.searchpath":
            from hydra.core.override_parser.overrides_parser import OverridesParser

            try:
                value = OverridesParser.create().parse_override(o).value()
            except HydraException as exc:
                raise ConfigError(explain(exc)) from None
            if not isinstance(value, list):
                raise ConfigError(f"{o}: hydra.searchpath must be a list, e.g. hydra.searchpath=[file:///my/conf]")
            entries += [str(v) for v in value]
        else:
            rest.append(o)
    if config_dir:
        entries.append(config_dir)
    entries += [p for p in env.get(ENV_SEARCH_PATH, "").split(os.pathsep) if p.strip()]
    if not entries:
        return list(overrides)
    unique = list(dict.fromkeys(_as_search_entry(e) for e in entries))
    return [*rest, f"hydra.searchpath=[{','.join(unique)}]"]


# -- composing and validating -------------------------------------------------------------------

def compose(overrides: list[str], return_hydra_config: bool = False) -> DictConfig:
    """Compose the config for ``overrides`` outside of a Hydra run (used to validate first)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    register_configs()
    with warnings.catch_warnings():  # Hydra warns about missing search-path folders: checked already
        warnings.simplefilter("ignore", UserWarning)
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            return hydra_compose(config_name="config", overrides=overrides, return_hydra_config=return_hydra_config)


def expand_for_validation(overrides: list[str]) -> list[list[str]]:
    """Override lists to validate: each sweep value once, others at their first value.

    ``a=1,2 b=x`` gives ``[[a=1, b=x], [a=2, b=x]]``.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
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


@dataclasses.dataclass
class Variant:
    """One validated variant of a command line: its overrides, composed config (with the
    ``hydra`` node) and parameters."""

    overrides: list[str]
    cfg: DictConfig
    params: RunParams


@dataclasses.dataclass
class SweepPlan:
    """Every job a command line will run, in Hydra's job order, each checked.

    Attributes:
        jobs: each job's overrides, exactly as Hydra's sweeper hands them to the job.
        params: each job's validated parameters; None for a job whose combination is invalid.
        errors: job index -> the one-line error of an invalid combination.
        hydra_cfg: the first job's composed config, ``hydra`` node included (run and sweep dirs).
    """

    jobs: list[list[str]]
    params: list[RunParams | None]
    errors: dict[int, str]
    hydra_cfg: DictConfig

    @property
    def valid(self) -> list[RunParams]:
        return [p for p in self.params if p is not None]


def job_overrides(overrides: list[str]) -> list[list[str]]:
    """The override list of every job, in job order, as Hydra's basic sweeper (used by the basic,
    joblib and submitit launchers) builds them: the cartesian product of the swept values."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
        jobs = BasicSweeper.split_arguments(parsed, None)[0]
    except HydraException as exc:
        raise ConfigError(explain(exc)) from None
    except ValueError as exc:  # range(0,10,0) and the like, raised while the values are listed
        raise ConfigError(f"cannot list the values of the sweep ({exc}): write key=a,b,c or key='range(START,STOP,STEP)' "
                          f"with STEP not 0") from None
    if not jobs:
        empty = next((ov.input_line for ov in parsed if ov.is_sweep_override() and not list(ov.sweep_string_iterator())),
                     "?")
        raise ConfigError(f"{empty} gives no values: the sweep would run no job; give at least one value")
    return jobs


def _fast_key(ov) -> str | None:
    """The dotted key of a plain ``key=value`` override that can be applied to an already composed
    config (a leaf of the schema outside the drug mapping); None for groups, ``+``/``~``, packages."""
    key = ov.key_or_group
    if ov.package is not None or ov.is_add() or ov.is_delete() or ov.is_force_add() or "/" in key:
        return None
    if key in GROUPS or key.startswith(("hydra", "treatment.drugs")):
        return None
    f = schema_field(key)
    if f is None or dataclasses.is_dataclass(_default(f)) or isinstance(_default(f), dict):
        return None
    return key


def _set_path(obj: Any, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    if isinstance(obj, dict):
        obj[last] = value
    else:
        setattr(obj, last, value)


def validate_overrides(overrides: list[str], progress=None) -> SweepPlan:
    """Compose and validate every job of the command line (one job without ``-m`` sweeps).

    Fast enough for sweeps of hundreds of jobs: Hydra composes once per distinct choice of the
    overrides that change the composition (groups, ``+``/``~``, drug entries); a swept plain key is
    type-checked once per value against the schema, then set on a copy of the composed
    parameters of each job before the cross-key checks (:func:`lattice.params.check`).

    Args:
        progress: called as ``progress(done, total)`` while the jobs are checked.

    Raises:
        ConfigError: a bad key, value or preset (one line naming it and the fix); a swept value
            whose every combination is invalid; or every job invalid. A combination that is
            invalid while its values are valid elsewhere is not raised: it is in ``errors``.
    """
    import copy

    from hydra.core.override_parser.overrides_parser import OverridesParser

    jobs = job_overrides(overrides)
    parsed = OverridesParser.create().parse_overrides(overrides)
    fast = {}  # key -> {value text -> typed value}
    for ov in parsed:
        key = _fast_key(ov) if ov.is_sweep_override() else None
        if key is not None:
            fast[ov.get_key_element()] = dict(zip(ov.sweep_string_iterator(), ov.sweep_iterator(), strict=True))

    # The overrides that change the composition -> (config with its hydra node, typed config, raw params).
    composed: dict[tuple[str, ...], tuple[DictConfig, DictConfig, RunParams]] = {}

    def base_of(job: list[str]) -> tuple[DictConfig, DictConfig, RunParams]:
        rest = tuple(o for o in job if o.split("=", 1)[0] not in fast)
        if rest not in composed:
            try:
                cfg = compose(list(rest), return_hydra_config=True)
            except (HydraException, OmegaConfBaseException) as exc:
                raise ConfigError(explain(exc)) from None
            job_cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
            _reject_unknown(job_cfg, RunParams, "")
            try:
                merged = OmegaConf.merge(_schema(), job_cfg)
                raw = OmegaConf.to_object(merged)
            except OmegaConfBaseException as exc:
                raise ConfigError(explain(exc)) from None
            composed[rest] = (cfg, merged, raw)
        return composed[rest]

    typed: dict[str, dict[str, Any]] = {}  # key -> value text -> value of the schema's type
    if fast:
        _, merged, _ = base_of(jobs[0])
        for key, values in fast.items():
            typed[key] = {}
            before = OmegaConf.select(merged, key)
            before = OmegaConf.to_container(before) if OmegaConf.is_config(before) else before
            for text, value in values.items():
                try:  # the typed config converts the value or names the key and the type it needs
                    OmegaConf.update(merged, key, value, merge=False)
                except OmegaConfBaseException as exc:
                    raise ConfigError(explain(exc)) from None
                node = OmegaConf.select(merged, key)
                typed[key][text] = OmegaConf.to_container(node) if OmegaConf.is_config(node) else node
            OmegaConf.update(merged, key, before, merge=False)

    params: list[RunParams | None] = []
    errors: dict[int, str] = {}
    for n, job in enumerate(jobs):
        _, _, raw = base_of(job)
        obj = copy.deepcopy(raw)
        for o in job:
            key, text = o.split("=", 1)
            if key in fast:
                _set_path(obj, key, copy.deepcopy(typed[key][text]))
        try:
            params.append(check(obj))
        except ConfigError as exc:
            params.append(None)
            errors[n] = str(exc)
        if progress is not None:
            progress(n + 1, len(jobs))
    if errors:
        _raise_value_errors(jobs, errors)
    return SweepPlan(jobs, params, errors, base_of(jobs[0])[0])


def _raise_value_errors(jobs: list[list[str]], errors: dict[int, str]) -> None:
    """Refuse the command line when the errors are not about combinations: every job invalid,
    or one swept value invalid whatever it is combined with (a typo such as seed=-1,2)."""
    if len(errors) == len(jobs):
        raise ConfigError(errors[min(errors)])
    by_value: dict[str, list[int]] = {}
    for n, job in enumerate(jobs):
        for o in job:
            by_value.setdefault(o, []).append(n)
    for o, members in by_value.items():
        if all(n in errors for n in members):
            raise ConfigError(errors[members[0]])


@functools.cache
def _schema() -> DictConfig:
    """The structured schema, built once per process (OmegaConf.merge copies it)."""
    return OmegaConf.structured(RunParams)


def _leaves(node: Any, prefix: str) -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_leaves(v, f"{prefix}.{k}"))
        return out
    return {prefix: node}


def preset_conflicts(overrides: list[str]) -> list[str]:
    """Warnings for an experiment preset that sets keys of a group the user chose on the command
    line (``grid=3d experiment=persister_assay``: the preset's grid.shape wins). One line per group.

    A warning and not an error: experiments are meant to combine with groups (the documented arms
    ``experiment=persister_assay treatment=epigenetic_combination``), and a preset's values on top
    of a group are often the point (a dish has no vessels whatever the organ); but the user must
    see which of their choices a preset replaced, and how to keep them.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    first = expand_for_validation(overrides)[0]
    chosen = {ov.key_or_group: ov.input_line for ov in parsed
              if ov.key_or_group in GROUPS and ov.key_or_group != "experiment" and ov.package is None}
    experiment = [ov for ov in parsed if ov.key_or_group == "experiment"]
    if not chosen or not experiment:
        return []
    set_keys = [ov.key_or_group for ov in parsed if "." in ov.key_or_group]
    without = [o for o in first if not o.lstrip("+~").startswith("experiment=")]
    a = OmegaConf.to_container(compose(without), resolve=True)
    b = OmegaConf.to_container(compose(first), resolve=True)
    exp_choice = next(o for o in first if o.lstrip("+~").startswith("experiment="))
    out = []
    for group, choice in chosen.items():
        la, lb = _leaves(a.get(group), group), _leaves(b.get(group), group)
        changed = [k for k in lb if la.get(k) != lb[k] and not any(k == s or k.startswith(s + ".") for s in set_keys)]
        if changed:
            shown = ", ".join(f"{k}={lb[k]}" for k in changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3
                                                                       else "")
            out.append(f"{exp_choice} sets {shown} over your {choice}; give the key on the command line "
                       f"(e.g. {changed[0]}=...) to keep your own value")
    return out
