"""Every CUDA source compiles with nvcc for sm_80 and sm_90 (runs wherever nvcc exists, GPU or not),
and for the host backend with the system C++ compiler (lattice.kernels._host)."""

import shutil
import subprocess
from pathlib import Path

import pytest

KERNELS = Path(__file__).resolve().parents[1] / "kernels"
SOURCES = sorted(KERNELS.glob("*.cu"))


def test_there_are_kernels():
    assert SOURCES, "no CUDA sources found"


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("source", SOURCES, ids=[s.name for s in SOURCES])
def test_cuda_source_compiles(source, arch):
    for extra in ([], ["--fmad=false"]):
        proc = subprocess.run(
            ["nvcc", f"-arch={arch}", "--ptx", "-std=c++17", "-I", str(KERNELS), *extra, "-o", "/dev/null", str(source)],
            check=False, capture_output=True, text=True, timeout=300,
        )
        assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("source", SOURCES, ids=[s.name for s in SOURCES])
def test_cuda_source_builds_for_the_host(source):
    """A kernel that uses block-shared memory without a host body (``#ifdef LATTICE_HOST``) fails
    here; every kernel of the source gets a ``host_<name>`` entry with a signature."""
    from lattice.kernels import _host

    if _host.compiler() is None:
        pytest.skip("no C++ compiler")
    mod = _host.module(source.stem)
    names = _host.kernel_names(source.read_text())
    assert names, f"{source.name} has no extern \"C\" __global__ kernel"
    for name in names:
        assert mod.get_function(name).codes, name
