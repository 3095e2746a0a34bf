"""Run the ``__global__`` kernels of ``kernels/*.cu`` on the host, for machines without a GPU.

The CUDA source is compiled unchanged by the host C++ compiler (``g++``) behind a small prelude
(``__device__``/``__global__`` removed, ``blockIdx``/``threadIdx``/``blockDim`` as globals,
``__umulhi`` in C), with ``-ffp-contract=off`` — the host twin of ``--fmad=false`` — and without
fast-math, so every float32 operation is one IEEE-rounded SSE operation, as on the device. A
launch runs every thread of the grid in turn through ctypes; that is exact for the per-voxel
rule kernels, whose threads only read inputs and write their own outputs.

:class:`HostModule` stands in for ``cupy.RawModule`` (``get_function(name)`` returns a callable
``(grid, block, args)``), so the real launchers (``lattice.kernels.<name>``) drive it with NumPy
arrays. Arguments are checked against the kernel's C signature as CuPy would need them: numpy
scalars of the exact C type, C-contiguous arrays of the pointed-to dtype.

What this cannot check: nvcc/NVRTC acceptance (tests/test_kernels_compile.py does), CuPy's
argument marshalling and device memory, the device's math library (the kernels use only
+ − × ÷, comparisons, rint, ldexp, frexp: exact operations on both), and races between
threads (none in these kernels).
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import numpy as np

KERNELS = Path(__file__).resolve().parents[1] / "kernels"

PRELUDE = r"""
#include <stdint.h>
#include <math.h>
#define __device__
#define __host__
#define __global__
#define __forceinline__ inline
struct emu_dim3 { unsigned int x, y, z; };
extern "C" { emu_dim3 blockIdx, threadIdx, blockDim, gridDim; }
static inline uint32_t __umulhi(uint32_t a, uint32_t b) { return (uint32_t)(((uint64_t)a * b) >> 32); }
#include <xmmintrin.h>
// Flush-to-zero and denormals-are-zero (MXCSR bits 15 and 6): what CUDA's .ftz instructions do.
extern "C" void emu_set_ftz(int on) {
    unsigned int m = _mm_getcsr();
    _mm_setcsr(on ? (m | 0x8040u) : (m & ~0x8040u));
}
"""

#: C parameter type -> (numpy scalar type, ctypes type) for by-value arguments.
SCALARS = {
    "int": (np.int32, ctypes.c_int32),
    "long": (np.int64, ctypes.c_int64),
    "uint32_t": (np.uint32, ctypes.c_uint32),
    "float": (np.float32, ctypes.c_float),
}
#: C pointee type -> numpy dtype for pointer arguments.
POINTEES = {"uint8_t": np.uint8, "float": np.float32, "bool": np.bool_, "int": np.int32}


def compiler() -> str | None:
    return shutil.which("g++")


@cache
def _workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="cuda_host_"))


def parse_kernels(source: str) -> dict[str, list[tuple[str, str, bool]]]:
    """``name -> [(param name, C type, is pointer), ...]`` of every ``extern "C" __global__``."""
    text = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    text = re.sub(r"//[^\n]*", "", text)
    out = {}
    for m in re.finditer(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)', text):
        params = []
        for p in m.group(2).split(","):
            p = p.replace("const", " ").strip()
            pointer = "*" in p
            ctype, name = p.replace("*", " ").split()
            params.append((name, ctype, pointer))
        out[m.group(1)] = params
    return out


class HostFunction:
    def __init__(self, lib, name: str, params, ftz: bool = False):
        self.name, self.params, self.lib, self.ftz = name, params, lib, ftz
        self.fn = getattr(lib, name)
        self.fn.restype = None
        self.fn.argtypes = [ctypes.c_void_p if ptr else SCALARS[ctype][1] for _, ctype, ptr in params]

    def _convert(self, args):
        if len(args) != len(self.params):
            raise TypeError(f"{self.name}: {len(args)} arguments for {len(self.params)} parameters")
        out = []
        for a, (pname, ctype, ptr) in zip(args, self.params):
            where = f"{self.name}({pname}: {ctype}{'*' if ptr else ''})"
            if ptr:
                if not isinstance(a, np.ndarray):
                    raise TypeError(f"{where}: got {type(a).__name__}, not an array")
                if a.dtype != POINTEES[ctype]:
                    raise TypeError(f"{where}: array of {a.dtype}")
                if not a.flags.c_contiguous:
                    raise TypeError(f"{where}: array is not C-contiguous")
                out.append(ctypes.c_void_p(a.ctypes.data))
            else:
                if type(a) is not SCALARS[ctype][0]:
                    raise TypeError(f"{where}: got {type(a).__name__}, need {SCALARS[ctype][0].__name__}")
                out.append(a.item())
        return out

    def __call__(self, grid, block, args):
        cargs = self._convert(args)
        bidx = _dim3(self.lib, "blockIdx")
        tidx = _dim3(self.lib, "threadIdx")
        bdim = _dim3(self.lib, "blockDim")
        gdim = _dim3(self.lib, "gridDim")
        bdim.x, bdim.y, bdim.z = block[0], 1, 1
        gdim.x, gdim.y, gdim.z = grid[0], 1, 1
        bidx.y = bidx.z = tidx.y = tidx.z = 0
        fn = self.fn
        self.lib.emu_set_ftz(int(self.ftz))
        try:
            for b in range(grid[0]):
                bidx.x = b
                for t in range(block[0]):
                    tidx.x = t
                    fn(*cargs)
        finally:
            self.lib.emu_set_ftz(0)


class _Dim3(ctypes.Structure):
    _fields_ = [("x", ctypes.c_uint), ("y", ctypes.c_uint), ("z", ctypes.c_uint)]


def _dim3(lib, name):
    return _Dim3.in_dll(lib, name)


class HostModule:
    """``kernels/<name>.cu`` compiled for the host; ``get_function`` as ``cupy.RawModule``.

    ``ftz=True`` runs the kernels with flush-to-zero and denormals-are-zero, as a device kernel
    compiled with ``-ftz=true`` (every ``cupy.RawModule``) would.
    """

    def __init__(self, name: str, ftz: bool = False):
        src = KERNELS / f"{name}.cu"
        self.ftz = ftz
        self.kernels = parse_kernels(src.read_text())
        self.lib = ctypes.CDLL(str(_build(name, src.stat().st_mtime_ns)))
        self.lib.emu_set_ftz.argtypes = [ctypes.c_int]
        self.lib.emu_set_ftz.restype = None

    def get_function(self, name: str) -> HostFunction:
        return HostFunction(self.lib, name, self.kernels[name], self.ftz)


@cache
def _build(name: str, _mtime: int) -> Path:
    work = _workdir()
    prelude = work / "prelude.h"
    prelude.write_text(PRELUDE)
    out = work / f"{name}_{_mtime}.so"
    cmd = [compiler() or "g++", "-std=c++17", "-O2", "-fPIC", "-shared", "-ffp-contract=off",
           "-fno-fast-math", "-Wno-unknown-pragmas", "-include", str(prelude), "-I", str(KERNELS),
           "-x", "c++", str(KERNELS / f"{name}.cu"), "-o", str(out)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    if proc.returncode:
        raise RuntimeError(f"host build of {name}.cu failed:\n{proc.stderr}")
    return out


@cache
def module(name: str, ftz: bool = False) -> HostModule:
    return HostModule(name, ftz)
