"""The distribution installs the top-level folders under one namespace (docs/architecture.md): a normal
(non-editable) install imports lattice, lattice.kernels, lattice.viewer and lattice.conf, ships
the CUDA sources and the Hydra YAML, and composes the config from the installed package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import sys, importlib.resources as r
import lattice, lattice.kernels, lattice.viewer, lattice.conf
assert lattice.__file__.startswith(sys.argv[1]), lattice.__file__
kernels = [p.name for p in r.files("lattice.kernels").iterdir()]
assert "placement.cu" in kernels and "philox.cuh" in kernels, kernels
assert (r.files("lattice.conf") / "config.yaml").is_file()
assert (r.files("lattice.conf") / "grid" / "2d.yaml").is_file()
from lattice.configure import compose, params_from_config
p = params_from_config(compose(["grid=3d"]))
assert list(p.grid.shape) == [64, 64, 64]
print("ok")
"""


@pytest.mark.slow
def test_normal_install_imports_namespace_and_data(tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps",
         "--target", str(target), str(ROOT)], capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-c", CHECK, str(target)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def test_editable_install_maps_the_top_level_folders():
    import lattice.conf
    import lattice.kernels
    import lattice.viewer

    assert Path(lattice.kernels.__file__).parent == ROOT / "kernels"
    assert Path(lattice.viewer.__file__).parent == ROOT / "viewer"
    assert Path(lattice.conf.__file__).parent == ROOT / "conf"
