"""Array backends: NumPy (the reference, always available), host (the CUDA kernels compiled for
the CPU with OpenMP) and CuPy (the CUDA kernels on a GPU).

Only this module and :mod:`lattice.kernels` know that CuPy or a C++ compiler exist. A process
asks the backend for ``xp`` (the array module) and, where a compiled twin exists, for the twin
(:meth:`Backend.kernel`); the NumPy code is written against ``xp`` so that it also runs, slowly,
on CuPy arrays.

Every twin is listed once, in :data:`TWINS`. A twin that fails to import, compile or load on
the host or CuPy backend raises :class:`TwinLoadError` naming the kernel and the reason: never a
silent fall-back to the slow ``xp`` code.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

#: The backends, in the order ``auto`` tries them (NumPy last: always available).
BACKENDS = ("cupy", "host", "numpy")
#: Allowed values of the ``backend`` run key.
BACKEND_CHOICES = ("auto", *BACKENDS)


@dataclass(frozen=True)
class Twin:
    """Where a compiled twin lives: ``<module>.<cls>(exact=..., mod=...)`` over ``kernels/<source>.cu``.

    ``backends``: where it runs (the host build, the CUDA build, or both).
    """

    module: str
    cls: str
    source: str
    backends: tuple[str, ...] = ("cupy", "host")


#: The one dispatch registry: twin name (as processes ask for it) -> where it lives.
TWINS: dict[str, Twin] = {
    "cycle": Twin("lattice.kernels.cycle", "Cycle", "cycle"),
    "death": Twin("lattice.kernels.death", "Death", "death"),
    "drugs": Twin("lattice.kernels.drugs", "Drugs", "drugs"),
    "transitions": Twin("lattice.kernels.transitions", "Transitions", "transitions"),
    "mutation": Twin("lattice.kernels.mutation", "Mutation", "mutation"),
    "placement": Twin("lattice.kernels.placement", "Placement", "placement"),
    "immune": Twin("lattice.kernels.immune", "Immune", "immune"),
    "multigrid": Twin("lattice.kernels.multigrid", "MultigridTwin", "multigrid"),
    # Philox draws: on CuPy the NumPy code already runs as device element-wise kernels.
    "uniforms": Twin("lattice.rng", "PhiloxKernel", "reference", backends=("host",)),
}


class TwinLoadError(RuntimeError):
    """A compiled twin that could not be imported, built or loaded (the message says which, why)."""


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
    except Exception as exc:  # noqa: BLE001 — driver errors surface as various CUDA exceptions
        return False, f"CuPy cannot reach a CUDA device ({exc})"
    return True, "CUDA device available"


def host_usable() -> tuple[bool, str]:
    """Whether the host backend can build kernels here (a C++ compiler with OpenMP that builds
    and runs a tiny program), with a one-line description or the reason it cannot."""
    from lattice.kernels import _host

    return _host.probe()


@dataclass
class Backend:
    """The array executor chosen once per run.

    Attributes:
        name: ``"numpy"``, ``"host"`` or ``"cupy"``.
        xp: the array module (NumPy for ``numpy`` and ``host``).
        reason: why this backend was chosen (printed at start-up).
        exact: fields match NumPy bit for bit (CuPy: kernels built with ``--fmad=false``; the
            host build is always exact).
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
        """The compiled twin ``name`` (:data:`TWINS`), or None on NumPy and where the twin does not
        run on this backend, in which case the caller runs its ``xp`` code.

        Raises:
            KeyError: ``name`` is not in :data:`TWINS`.
            TwinLoadError: the twin failed to import, compile or load (message names it and why).
        """
        if name not in TWINS:
            raise KeyError(f"no compiled twin is registered as {name!r} (lattice.backend.TWINS has "
                           f"{', '.join(TWINS)})")
        twin = TWINS[name]
        if self.name == "numpy" or self.name not in twin.backends:
            return None
        if name not in self._kernels:
            self._kernels[name] = self._load(name, twin)
        return self._kernels[name]

    def _load(self, name: str, twin: Twin):
        try:
            cls = getattr(importlib.import_module(twin.module), twin.cls)
            if self.name == "host":
                from lattice.kernels import _host

                return cls(exact=self.exact, mod=_host.module(twin.source))
            return cls(exact=self.exact)
        except Exception as exc:  # any failure is fatal here: name the twin and say why
            raise TwinLoadError(
                f"the {self.name} twin {name!r} ({twin.module}.{twin.cls}, kernels/{twin.source}.cu) "
                f"failed to load: {type(exc).__name__}: {exc}") from exc


def _host_backend(reason: str) -> Backend:
    """The host backend, with every host twin's library built (concurrently) or found in the cache."""
    from lattice.kernels import _host

    _host.build_all(t.source for t in TWINS.values() if "host" in t.backends)
    return Backend("host", np, reason, exact=True)


def make_backend(choice: str = "auto", exact: bool = False) -> Backend:
    """Resolve ``numpy|host|cupy|auto`` to a :class:`Backend`.

    ``auto`` takes CuPy when a CUDA device is usable, else the host build when a C++ compiler
    with OpenMP works, else NumPy; its reason says which and why.

    Raises:
        RuntimeError: ``cupy`` or ``host`` was asked for but cannot run here (the message says why).
        ValueError: ``choice`` is not one of :data:`BACKEND_CHOICES`.
    """
    if choice not in BACKEND_CHOICES:
        raise ValueError(f"backend={choice} is not one of {', '.join(BACKEND_CHOICES)}")
    if choice == "numpy":
        return Backend("numpy", np, "backend=numpy was requested")
    if choice == "host":
        ok, line = host_usable()
        if not ok:
            raise RuntimeError(f"backend=host was requested but {line}; use backend=numpy or auto")
        return _host_backend(f"backend=host was requested; {line}; fields exact")
    ok, why = cupy_usable()
    if choice == "cupy":
        if not ok:
            raise RuntimeError(f"backend=cupy was requested but {why}; use backend=host, numpy or auto")
        import cupy

        return Backend("cupy", cupy, "backend=cupy was requested", exact)
    if ok:
        import cupy

        return Backend("cupy", cupy, "backend=auto found a CUDA device", exact)
    host_ok, line = host_usable()
    if host_ok:
        return _host_backend(f"backend=auto: no CUDA device ({why}); {line}")
    return Backend("numpy", np, f"backend=auto: no CUDA device ({why}); no host build ({line}); NumPy")
