"""Compile and cache the CUDA sources of this folder with CuPy (the only place besides the
launchers that touches CuPy).

``exact=True`` compiles with ``--fmad=false`` so that float results match the NumPy reference
bit for bit (DESIGN §2); the default lets nvcc contract multiply–adds (faster; fields within
1e-5 relative).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def module(name: str, exact: bool = False):
    """The ``cupy.RawModule`` compiled from ``<name>.cu`` (headers in this folder)."""
    import cupy

    source = (KERNEL_DIR / f"{name}.cu").read_text()
    options = ("-std=c++17", f"-I{KERNEL_DIR}") + (("--fmad=false",) if exact else ())
    return cupy.RawModule(code=source, options=options, name_expressions=None)


def launch_1d(kernel, n: int, args, block: int = 256) -> None:
    """Launch ``kernel`` with one thread per item over ``n`` items."""
    grid = (max(1, (n + block - 1) // block),)
    kernel(grid, (block,), args)
