"""Every CUDA source compiles with nvcc for sm_80 and sm_90 (runs wherever nvcc exists, GPU or not)."""

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
            capture_output=True, text=True, timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
