"""Portable float32 math against float64 references (bit parity with CUDA is tested on a GPU)."""

import numpy as np
import pytest

from lattice import pmath

ULP = np.finfo(np.float32).eps


def rel_err(a, b):
    return np.max(np.abs(a.astype(np.float64) - b) / np.maximum(np.abs(b), 1e-30))


def test_exp_within_4_ulp():
    x = np.linspace(-80, 80, 200001, dtype=np.float32)
    assert rel_err(pmath.exp(x), np.exp(x.astype(np.float64))) < 4 * ULP


def test_log_within_4_ulp():
    x = np.concatenate([np.logspace(-30, 30, 200001), [1.0, 2.0, 0.5]]).astype(np.float32)
    ref = np.log(x.astype(np.float64))
    err = np.abs(pmath.log(x).astype(np.float64) - ref)
    assert np.max(err / np.maximum(np.abs(ref), 1.0)) < 4 * ULP


def test_one_minus_exp_neg_relative_accuracy_including_tiny_rates():
    x = np.concatenate([np.logspace(-9, 1.5, 100001)]).astype(np.float32)
    assert rel_err(pmath.one_minus_exp_neg(x), -np.expm1(-x.astype(np.float64))) < 4 * ULP


@pytest.mark.parametrize("n", [0.5, 1.0, 2.0, 3.7])
def test_hill_function(n):
    c = np.logspace(-4, 4, 20001).astype(np.float32)
    ref = c.astype(np.float64) ** n / (c.astype(np.float64) ** n + 0.3**n)
    assert rel_err(pmath.hill(c, 0.3, n), ref) < 64 * ULP
    assert pmath.hill(np.zeros(3, np.float32), 0.3, n).tolist() == [0, 0, 0]


def test_hill_of_vanishing_concentration_is_zero_not_nan():
    """EC50/c overflows to inf for c ≪ EC50 (a washed-out drug on a resistant cell): E → 0."""
    c = np.array([1e-38, 1e-30, 1e-45], dtype=np.float32)
    e = pmath.hill(c, 300.0, 2.0)
    assert np.all(np.isfinite(e)) and np.all(e < 1e-30)
    assert np.isfinite(pmath.log(np.array([np.inf], np.float32)))[0]
