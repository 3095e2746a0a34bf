"""Portable float32 math: exp, log, pow and 1 − e^(−x) from + − × ÷, rint, ldexp and frexp only.

Why: NumPy's and CUDA's ``expf``/``logf``/``powf`` differ in the last bits, and a one-ulp
difference flips ``u < p`` decisions, so the backends would drift apart. These routines use the
same operation sequence in :file:`kernels/pmath.cuh` (compiled with ``--fmad=false`` in exact
mode), so both backends produce identical bits. Accuracy: a few float32 ulp over the ranges
that matter (checked against float64 in ``tests/test_pmath.py``).

Every function takes and returns float32 arrays (NumPy or CuPy) and evaluates the polynomials
in Horner form, in exactly the order written.
"""

from __future__ import annotations

import numpy as np

F = np.float32
LOG2E = F(1.4426950408889634)
LN2_HI = F(0.693145751953125)  # few mantissa bits: k × LN2_HI is exact for |k| < 2^11
LN2_LO = F(1.4286067653e-06)
SQRT_HALF = F(0.70710678118654752)
# exp(r) on |r| ≤ ln2/2: Taylor coefficients 1/n!, n = 2..7 (truncation < 2e-9 relative).
_EXP_C = [F(1 / 5040), F(1 / 720), F(1 / 120), F(1 / 24), F(1 / 6), F(1 / 2)]


def _xp(a):
    return a.__array_namespace__() if hasattr(a, "__array_namespace__") else np


def _expm1_poly(r, xp):
    """e^r − 1 on |r| ≤ ln2/2: r + r²(1/2 + r(1/6 + …)) in Horner form."""
    q = xp.full_like(r, _EXP_C[0])
    for c in _EXP_C[1:]:
        q = q * r + c
    return r + (r * r) * q


def exp(x):
    """e^x for float32 ``x`` (clamped to [−87, 88])."""
    xp = _xp(x)
    x = xp.clip(x.astype(xp.float32), F(-87.0), F(88.0))
    k = xp.rint(x * LOG2E)
    r = (x - k * LN2_HI) - k * LN2_LO
    p = _expm1_poly(r, xp) + F(1.0)
    return xp.ldexp(p, k.astype(xp.int32)).astype(xp.float32)


def one_minus_exp_neg(x):
    """1 − e^(−x) for x ≥ 0: the probability of an event in a step of hazard × Δt = x.

    Small x uses the series directly (no cancellation), larger x uses ``1 − exp(−x)``.
    """
    xp = _xp(x)
    x = x.astype(xp.float32)
    small = -_expm1_poly(-xp.minimum(x, F(0.34657359)), xp)
    large = F(1.0) - exp(-x)
    return xp.where(x < F(0.34657359), small, large).astype(xp.float32)


def log(x):
    """Natural log of float32 ``x > 0`` (returns −87.3 for x ≤ 0, i.e. log of the smallest
    normal, and 88.7 for +inf: callers guard zeros themselves)."""
    xp = _xp(x)
    # Clamp to the finite normal range: log(inf) would be NaN through frexp, and pow_/hill
    # feed it EC50/c, which overflows for vanishing concentrations (the answer there is ~0).
    x = xp.minimum(xp.maximum(x.astype(xp.float32), F(1.1754944e-38)), F(3.4028235e38))
    m, e = xp.frexp(x)  # x = m 2^e, m in [0.5, 1)
    low = m < SQRT_HALF
    m = xp.where(low, m + m, m)
    e = xp.where(low, e - 1, e).astype(xp.float32)
    f = m - F(1.0)
    s = f / (F(2.0) + f)  # log(m) = 2 atanh(s), |s| ≤ 0.172
    s2 = s * s
    q = F(1 / 9)
    for c in (F(1 / 7), F(1 / 5), F(1 / 3)):
        q = q * s2 + c
    log_m = F(2.0) * s + (F(2.0) * s) * (s2 * q)
    return (e * LN2_HI + (e * LN2_LO + log_m)).astype(xp.float32)


def pow_(x, n):
    """x^n for x ≥ 0 and a float32 exponent n (0 for x = 0 when n > 0)."""
    xp = _xp(x)
    x = x.astype(xp.float32)
    out = exp(F(n) * log(x)) if not hasattr(n, "shape") else exp(n.astype(xp.float32) * log(x))
    return xp.where(x > F(0.0), out, F(0.0)).astype(xp.float32)


def hill(c, ec50: float, n: float, emax: float = 1.0):
    """Emax · cⁿ / (cⁿ + EC50ⁿ), computed as Emax / (1 + (EC50/c)ⁿ) for c > 0, 0 at c = 0."""
    xp = _xp(c)
    c = c.astype(xp.float32)
    safe = xp.where(c > F(0.0), c, F(1.0))
    ratio = pow_(F(ec50) / safe, n)
    return xp.where(c > F(0.0), F(emax) / (F(1.0) + ratio), F(0.0)).astype(xp.float32)
