"""Compile and cache the CUDA sources of this folder with CuPy (the only place besides the
launchers that touches CuPy).

``exact=True`` compiles with ``--fmad=false`` so that float results match the NumPy reference
bit for bit (docs/model.md); the default lets nvcc contract multiply–adds (faster; fields within
1e-5 relative).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent


@cache
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


#: NVRTC options of :func:`ieee_module`: no contraction, no flush-to-zero, IEEE division.
IEEE_OPTIONS = ("--fmad=false", "-ftz=false", "-prec-div=true", "-prec-sqrt=true")


@cache
def ieee_module(name: str):
    """``<name>.cu`` compiled for IEEE float32 arithmetic, bit-compatible with NumPy: no
    multiply–add contraction and no flush-to-zero of subnormals.

    ``cupy.RawModule`` cannot give that: CuPy appends ``-ftz=true`` to every compilation
    (``cupy/cuda/compiler.py``, ``_compile_with_cache_cuda``), and NVRTC obeys the last ``-ftz``
    it is given, so a subnormal input or result (a Hill effect of a washed-out drug, a memory that
    decayed for months) becomes 0 on the device and not in NumPy. So this calls NVRTC through
    ``cupy.cuda.compiler.compile_using_nvrtc`` with :data:`IEEE_OPTIONS` and loads the binary as
    CuPy itself does (``cupy.cuda.function.Module.load``). ``get_function(name)`` returns a
    kernel called as ``kernel(grid, block, args)``, like a RawModule's.
    """
    import cupy
    from cupy.cuda import compiler, function

    source = (KERNEL_DIR / f"{name}.cu").read_text()
    options = ("-std=c++17", f"-I{KERNEL_DIR}", *IEEE_OPTIONS)
    arch = cupy.cuda.Device().compute_capability
    out = compiler.compile_using_nvrtc(source, options, arch, f"{name}.cu")
    binary = out[0] if isinstance(out, tuple) else out  # (binary, name mapping) since CuPy 9
    mod = function.Module()
    mod.load(binary if isinstance(binary, bytes) else binary.encode())
    return mod
