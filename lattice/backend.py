"""Array backends: NumPy (the reference, always available) and CuPy (CUDA kernels).

Only this module and :mod:`lattice.kernels` know that CuPy exists. A process asks the backend
for ``xp`` (the array module) and, where a CUDA twin exists, for the fast kernel; the NumPy
code is written against ``xp`` so that it also runs, slowly, on CuPy arrays.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np


def cupy_usable() -> tuple[bool, str]:
    """Whether CuPy can run kernels here, and why not. Importing CuPy is not enough: without a
    driver, allocation fails (docs/pitfalls.md), so ask ``cupy.cuda.is_available()``."""
    try:
        cupy = importlib.import_module("cupy")
    except ImportError:
        return False, "CuPy is not installed (pip install 'dtp-lattice[gpu]' or '[cuda13]')"
    try:
        if not cupy.cuda.is_available():
            return False, "CuPy is installed but no CUDA device is available"
    except Exception as exc:  # driver errors surface as various CUDA exceptions
        return False, f"CuPy cannot reach a CUDA device ({exc})"
    return True, "CUDA device available"


@dataclass
class Backend:
    """The array executor chosen once per run.

    Attributes:
        name: ``"numpy"`` or ``"cupy"``.
        xp: the array module.
        reason: why this backend was chosen (printed at start-up).
        exact: CUDA kernels compiled with ``--fmad=false`` so fields match NumPy bit for bit.
    """

    name: str
    xp: ModuleType
    reason: str = ""
    exact: bool = False
    _kernels: dict[str, Any] = field(default_factory=dict, repr=False)

    def asnumpy(self, a) -> np.ndarray:
        return a.get() if self.name == "cupy" else np.asarray(a)

    def asarray(self, a, dtype=None):
        return self.xp.asarray(a, dtype=dtype)

    def kernel(self, name: str):
        """The CUDA twin named ``name`` (from :mod:`lattice.kernels`), or None on NumPy or when
        no twin exists, in which case the caller runs its ``xp`` code."""
        if self.name != "cupy":
            return None
        if name not in self._kernels:
            try:
                module = importlib.import_module(f"lattice.kernels.{name}")
            except ImportError:
                self._kernels[name] = None
            else:
                self._kernels[name] = module.load(exact=self.exact)
        return self._kernels[name]


def make_backend(choice: str = "auto", exact: bool = False) -> Backend:
    """Resolve ``numpy|cupy|auto`` to a :class:`Backend`.

    Raises:
        RuntimeError: ``cupy`` was asked for but cannot run here (the message says why).
    """
    if choice == "numpy":
        return Backend("numpy", np, "backend=numpy was requested")
    ok, why = cupy_usable()
    if choice == "cupy":
        if not ok:
            raise RuntimeError(f"backend=cupy was requested but {why}; use backend=numpy or auto")
        import cupy

        return Backend("cupy", cupy, "backend=cupy was requested", exact)
    if choice != "auto":
        raise ValueError(f"backend={choice} is not one of numpy, cupy, auto")
    if ok:
        import cupy

        return Backend("cupy", cupy, "backend=auto found a CUDA device", exact)
    return Backend("numpy", np, f"backend=auto fell back to NumPy: {why}")
