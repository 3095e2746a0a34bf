"""Shared fixtures: models built from the real config tree with overrides, small lattices."""

from __future__ import annotations

import os
import shutil

import pytest

from lattice.backend import make_backend
from lattice.configure import compose, params_from_config
from lattice.model import Model


def build_params(*overrides: str):
    """Validated RunParams from conf/ plus overrides (exactly what lattice-run would use)."""
    return params_from_config(compose(list(overrides)))


def build_model(*overrides: str, backend: str = "numpy") -> Model:
    params = build_params(*overrides)
    return Model.build(params, make_backend(backend))


@pytest.fixture
def model_factory():
    return build_model


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY")) or shutil.which("Xvfb") is not None
