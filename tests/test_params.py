"""Parameters: declared once with units and bounds, validated with the key's name, frozen for the
model; every preset in conf/ composes and validates."""

from __future__ import annotations

import dataclasses
from importlib.resources import files

import pytest

from lattice.params import ConfigError, RunParams, check
from lattice.params.doc import reference_table
from lattice.params.spec import describe
from tests.conftest import build_params


def test_every_parameter_is_documented():
    rows = describe(RunParams)
    assert len(rows) > 40
    undocumented = [key for key, _, _, help_, _ in rows if not help_ and not key.endswith(("units", "description"))]
    assert undocumented == []
    assert "`tumour.cycle_h`" in reference_table()


def test_params_are_frozen_after_check():
    params = build_params()
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.seed = 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.tumour.cycle_h = 4


@pytest.mark.parametrize("field,value,needle", [
    ("necrosis_max_rate_per_h", -1.0, "tumour.necrosis_max_rate_per_h=-1"),
    ("dead_clearance_h", float("nan"), "tumour.dead_clearance_h=nan"),
    ("o2_necrosis_max_mmHg", 9.0, "o2_necrosis_max_mmHg"),
])
def test_validation_names_the_key(field, value, needle):
    params = RunParams()
    setattr(params.tumour, field, value)
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        check(params)


def _options(group: str) -> list[str]:
    root = files("lattice.conf") / group
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


@pytest.mark.parametrize("group", ["grid", "tumour", "fields", "organ", "output", "experiment"])
def test_every_preset_composes_and_validates(group):
    options = _options(group)
    assert options, f"no presets in conf/{group}"
    for option in options:
        params = build_params(f"{group}={option}")
        assert isinstance(params, RunParams)


def test_plain_cli_run_and_runparams_agree(tmp_path):
    """Parameters are declared once (issue 13 item 8): a plain ``lattice-run`` composes exactly the
    schema's defaults (every key, before validation), and validates to the same parameters as
    ``RunParams()``."""
    import subprocess
    import sys

    import yaml
    from omegaconf import OmegaConf

    from lattice.configure import compose, params_from_config

    proc = subprocess.run([sys.executable, "-m", "lattice.cli", "--cfg", "job"], check=False, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    schema = OmegaConf.to_container(OmegaConf.structured(RunParams))
    assert yaml.safe_load(proc.stdout) == schema
    assert dataclasses.asdict(params_from_config(compose([]))) == dataclasses.asdict(check(RunParams()))


@pytest.mark.parametrize("group,option", [("grid", "2d"), ("tumour", "default"), ("fields", "default"),
                                          ("organ", "generic"), ("host", "default"), ("immune", "default"),
                                          ("treatment", "none"), ("output", "default")])
def test_default_options_hold_no_values(group, option):
    """The groups' default options only name the option: their values live in the schema."""
    import yaml

    text = (files("lattice.conf") / group / f"{option}.yaml").read_text()
    assert yaml.safe_load(text) is None, f"conf/{group}/{option}.yaml repeats values of the schema"


def test_presets_hold_only_differences_from_the_schema():
    """A preset that repeats a schema default is a second declaration waiting to drift. (Organ and
    experiment presets are exempt: they restate some values on purpose, each with its source, as
    claims about that organ or assay: "no FasL⁺ macrophages outside the liver".)"""
    import yaml
    from omegaconf import OmegaConf

    schema = OmegaConf.to_container(OmegaConf.structured(RunParams))

    def repeats(node, ref, path):
        if isinstance(node, dict) and isinstance(ref, dict):
            for k, v in node.items():
                if k in ref:
                    yield from repeats(v, ref[k], f"{path}.{k}")
        elif node == ref and not isinstance(node, dict):
            yield path

    found = []
    for group in ("grid", "tumour", "fields", "host", "immune", "output", "treatment"):
        for option in _options(group):
            text = (files("lattice.conf") / group / f"{option}.yaml").read_text()
            data = yaml.safe_load(text) or {}
            root = data if "@package _global_" in text else {group: data}
            found += [f"conf/{group}/{option}.yaml: {p}" for p in repeats(root, schema, "")]
    assert found == []
