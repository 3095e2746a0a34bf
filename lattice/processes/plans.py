"""Rule plans: what a twinned process decided once about its rules, shared by its NumPy body and
its kernel launcher (docs/architecture.md, "kernel twins").

A process declares its switches (:class:`Flag`) and its float parameters (:class:`Scalar`) once,
in order. :func:`build` turns the declarations into a :class:`Plan` for one run: the flag word
(bit ``i`` is declaration ``i``), the float32 scalars in declaration order (kernel order) and
the same values by name. The NumPy body reads ``plan.on(name)`` and ``plan.f[name]``; the
launcher passes ``plan.flags`` and ``plan.scalars``; :mod:`lattice.kernels.gen_constants`
writes the bit and index of every declaration into ``kernels/constants.cuh``. So a switch or a
parameter is written down in one place, and both backends read the same float32 numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Flag:
    """One switch of a process: a rule that exists or an optional factor of a rule.

    Attributes:
        name: lower-case identifier; ``<PREFIX>_<NAME>`` in C.
        on: ``(params, present) -> bool``, with ``present`` the names of the drug-effect arrays
            that exist this step (:func:`lattice.processes.drugs.present`).
        doc: one line for the generated header.
    """

    name: str
    on: Callable[[Any, frozenset], bool]
    doc: str = ""


@dataclass(frozen=True)
class Scalar:
    """One float parameter of a kernel, rounded once to float32 from its float64 value.

    Attributes:
        name: lower-case identifier; index ``<PREFIX>_<NAME>`` of the scalars array in C.
        value: ``params -> float`` (float64; the rounding to float32 happens once, in :func:`build`).
        doc: one line for the generated header.
    """

    name: str
    value: Callable[[Any], float]
    doc: str = ""


@dataclass(frozen=True)
class Plan:
    """A process's rule plan for one run (and one set of present drug effects).

    Attributes:
        flags: the flag word (bit i = the i-th declared :class:`Flag` is on).
        names: the declared flag names, in bit order.
        scalars: float32 ``(n,)`` host array, the declared scalars in order (kernel order).
        f: the same float32 values by name.
        extra: process-specific constants (channels, tables), by name.
    """

    flags: int
    names: tuple[str, ...]
    scalars: np.ndarray
    f: Mapping[str, np.float32]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def on(self, name: str) -> bool:
        """Whether the flag ``name`` is set (KeyError for an undeclared name: a typo fails loudly)."""
        return bool(self.flags & bit(self.names, name))


def bit(names: tuple[str, ...], name: str) -> int:
    """The bit of flag ``name`` among the declared ``names``."""
    try:
        return 1 << names.index(name)
    except ValueError:
        raise KeyError(f"no flag {name!r}; declared: {', '.join(names)}") from None


def build(flags: tuple[Flag, ...], scalars: tuple[Scalar, ...], params, present: frozenset,
          extra: Mapping[str, Any] | None = None) -> Plan:
    """Evaluate the declarations for ``params`` and the present drug effects."""
    if len(flags) > 31:
        raise ValueError("a flag word holds 31 flags (a C int); split the declarations")
    names = tuple(fl.name for fl in flags)
    word = sum(1 << i for i, fl in enumerate(flags) if fl.on(params, present))
    values = np.asarray([s.value(params) for s in scalars], dtype=np.float64).astype(np.float32)
    by_name = {s.name: values[i] for i, s in enumerate(scalars)}
    return Plan(flags=word, names=names, scalars=values, f=by_name, extra=dict(extra or {}))


def c_defines(prefix: str, flags: tuple[Flag, ...] = (), scalars: tuple[Scalar, ...] = ()) -> list[str]:
    """``#define`` lines of the flag bits and scalar indices (for ``kernels/constants.cuh``)."""
    lines = []
    for i, fl in enumerate(flags):
        lines.append(c_define(f"{prefix}_{fl.name.upper()}", str(1 << i), fl.doc))
    if scalars:
        lines.append(c_define(f"{prefix}_N_SCALARS", str(len(scalars)), "length of the scalars array"))
    for i, s in enumerate(scalars):
        lines.append(c_define(f"{prefix}_{s.name.upper()}", str(i), s.doc))
    return lines


def c_define(name: str, value, doc: str = "") -> str:
    """One `#define` line with an aligned comment."""
    line = f"#define {name} {value}"
    return f"{line:<44}// {doc}" if doc else line
