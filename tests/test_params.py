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
