"""Backend equivalence (docs/model.md): the CuPy backend takes the same decisions as NumPy, bit for bit.

Marked ``gpu``; skipped cleanly where no CUDA device is usable. Run on a GPU machine with
``pytest -m gpu tests/test_gpu_parity.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from lattice import pmath
from lattice.backend import cupy_usable, make_backend
from lattice.rng import Stream, uniforms
from tests.conftest import build_model

USABLE, WHY = cupy_usable()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not USABLE, reason=f"no usable CUDA device: {WHY}")]


@pytest.fixture(scope="module")
def cp():
    import cupy

    return cupy


def test_philox_device_matches_numpy(cp):
    from lattice.kernels._loader import launch_1d, module

    R, shape, step, stream = 3, (37, 41), 12345, int(Stream.PLACEMENT)
    n = R * shape[0] * shape[1]
    out = cp.empty((4, n), dtype=cp.float32)
    launch_1d(module("reference", True).get_function("philox_fill"), n,
              (np.uint32(7), np.int32(R), np.int64(shape[0] * shape[1]), np.uint32(step), np.uint32(stream),
               np.uint32(0), out))
    ref = uniforms(7, R, shape, step, stream)
    for k in range(4):
        np.testing.assert_array_equal(cp.asnumpy(out[k]).reshape(R, *shape), ref[k])


@pytest.mark.parametrize("op,fn,x", [
    (0, pmath.exp, np.linspace(-80, 80, 100001, dtype=np.float32)),
    (1, pmath.log, np.logspace(-30, 30, 100001).astype(np.float32)),
    (2, pmath.one_minus_exp_neg, np.logspace(-9, 1.5, 100001).astype(np.float32)),
    (3, lambda c: pmath.hill(c, 0.3, 2.5), np.logspace(-4, 4, 100001).astype(np.float32)),
])
def test_portable_math_is_bit_identical(cp, op, fn, x):
    from lattice.kernels._loader import launch_1d, module

    out = cp.empty_like(cp.asarray(x))
    launch_1d(module("reference", True).get_function("pmath_eval"), x.size,
              (np.int32(op), cp.asarray(x), np.float32(0.3), np.float32(2.5), np.int64(x.size), out))
    np.testing.assert_array_equal(cp.asnumpy(out), fn(x))


@pytest.mark.parametrize("grid", ["grid.shape=[40,36]", "grid.shape=[12,14,10]"])
@pytest.mark.parametrize("neigh", ["von_neumann", "moore"])
def test_placement_kernel_matches_numpy(cp, grid, neigh):
    from lattice.processes import placement
    from tests.test_placement import random_state

    m_np = build_model(grid, f"grid.neighbourhood={neigh}", "organ.vessels.pattern=none", backend="numpy")
    m_cp = build_model(grid, f"grid.neighbourhood={neigh}", "organ.vessels.pattern=none", backend="cupy")
    state = random_state(m_np)
    intents = state.cells == 1
    s_np, r_np = placement.divide(state, intents, m_np)
    gpu_state = state.replace(**{k: cp.asarray(v) for k, v in state.arrays().items()})
    s_cp, r_cp = placement.divide(gpu_state, cp.asarray(intents), m_cp)
    for name, arr in s_np.arrays().items():
        np.testing.assert_array_equal(cp.asnumpy(getattr(s_cp, name)), arr, err_msg=name)
    np.testing.assert_array_equal(cp.asnumpy(r_cp), r_np)


@pytest.mark.parametrize("overrides", [
    ("grid.shape=[64,64]", "tumour.initial.radius_um=300"),
    ("grid.shape=[24,24,24]", "tumour.initial.shape=sphere", "tumour.initial.radius_um=160"),
    ("grid.shape=[48,48]", "replicates=3", "organ.vessels.pattern=random", "organ.vessels.density=0.01"),
])
def test_whole_model_steps_match(cp, overrides):
    """30 cell steps: labels and per-cell attributes bit-identical; fields within 1e-5 relative
    (bit-identical where the field kernels are compiled exact)."""
    m_np = build_model(*overrides, backend="numpy")
    m_cp = build_model(*overrides, backend="cupy")
    s_np, s_cp = m_np.initial_state(), m_cp.initial_state()
    for _ in range(30):
        s_np, s_cp = m_np.step(s_np), m_cp.step(s_cp)
    for name, arr in s_np.arrays().items():
        got = cp.asnumpy(getattr(s_cp, name))
        if name == "fields":
            np.testing.assert_allclose(got, arr, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, arr, err_msg=name)


def test_auto_backend_picks_cupy_here():
    assert make_backend("auto").name == "cupy"
