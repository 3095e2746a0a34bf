"""The kernels of ``kernels/*.cu`` on the host, for the tests: the production host backend
(:mod:`lattice.kernels._host`), so the kernels CI checks are the kernels users run.

``module(name)`` is ``_host.module(name)``: the ``.cu`` source compiled by the system C++ compiler
with ``-ffp-contract=off`` (the host twin of ``--fmad=false``), no fast-math, one OpenMP loop
over the blocks of a launch, arguments checked against the kernel's C signature.

``module(name, ftz=True)`` is the same build with flush-to-zero and denormals-are-zero switched
on around each launch (MXCSR bits 15 and 6), i.e. what a device kernel compiled with
``-ftz=true`` (every ``cupy.RawModule``) computes. It exists only for the tests that show why
the rule kernels are loaded IEEE-exact.

What this cannot check: nvcc/NVRTC acceptance (tests/test_kernels_compile.py does), CuPy's
argument marshalling and device memory, and the device's math library (the kernels use only
+ − × ÷, comparisons, rint, ldexp, frexp: exact operations on both).
"""

from __future__ import annotations

from lattice.kernels import _host

FTZ_FLAGS = ("-DLATTICE_HOST_FTZ",)


def compiler() -> str | None:
    """The host C++ compiler, or None (the tests that need it skip)."""
    return _host.compiler()


def module(name: str, ftz: bool = False) -> _host.HostModule:
    """The host build of ``kernels/<name>.cu`` (``ftz``: with flush-to-zero, tests only)."""
    return _host.module(name, FTZ_FLAGS if ftz else ())
