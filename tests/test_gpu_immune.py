"""Backend equivalence of the immune layer on a GPU: the CUDA twins in ``kernels/immune.cu`` (kill,
turnover, movement sub-steps) take the same decisions as the NumPy reference, bit for bit, and
whole immune runs (organ presets, the kill assay, a checkpoint-blockade run) stay identical step
for step. The same kernel cases run on the host emulation in ``tests/test_immune_kernels_host.py``.

Marked ``gpu``; skipped cleanly where no CUDA device is usable. Run on a GPU machine with
``pytest -m gpu tests/test_gpu_immune.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from lattice.backend import cupy_usable, make_backend
from lattice.model import Model
from lattice.processes import immune
from tests.conftest import build_params
from tests.immune_cases import (
    GRIDS,
    NEIGHBOURHOODS,
    assert_not_vacuous,
    assert_same,
    case_model,
    inputs,
    random_state,
    reference,
    twin_outputs,
)

USABLE, WHY = cupy_usable()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not USABLE, reason=f"no usable CUDA device: {WHY}")]


@pytest.fixture(scope="module")
def cp():
    import cupy

    return cupy


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("neigh", NEIGHBOURHOODS)
@pytest.mark.parametrize("exact", [False, True])
def test_immune_kernels_match_numpy(cp, grid, neigh, exact):
    extra = ("immune.kill_rate_per_h=2.0", "immune.fasl_kill_per_h=0.5")
    m_np = case_model(grid, neigh, *extra)
    m_cp = Model.build(m_np.params, make_backend("cupy", exact=exact))
    state = random_state(m_np)
    x = inputs(state, m_np)
    ref = reference(state, m_np, x)
    assert_not_vacuous(ref)
    twin = m_cp.backend.kernel("immune")
    assert twin is not None
    gpu_state = state.replace(**{k: cp.asarray(v) for k, v in state.arrays().items()})
    got = twin_outputs(twin, gpu_state, m_cp, {k: cp.asarray(v) for k, v in x.items()})
    assert_same(got, ref, cp.asnumpy)
    # the shared xp probability maps give the same bits on the device
    x_dev = inputs(gpu_state, m_cp)
    for name in ("p_target", "potency", "p_death", "q_macrophage", "weights"):
        np.testing.assert_array_equal(cp.asnumpy(x_dev[name]), x[name], err_msg=name)


@pytest.mark.parametrize("overrides", [
    ("experiment=t_cell_kill_assay", "grid.shape=[48,48]", "replicates=2"),
    ("organ=lung", "grid.shape=[48,48]", "tumour.initial.radius_um=200"),
    ("organ=liver", "grid.shape=[16,20,20]", "tumour.initial.shape=sphere", "tumour.initial.radius_um=120"),
    ("experiment=checkpoint_blockade", "organ=breast", "grid.shape=[48,48]", "host.sex=male"),
])
@pytest.mark.parametrize("exact", [False, True])
def test_whole_immune_model_steps_match(cp, overrides, exact):
    """30 cell steps with stroma and T cells: labels, kill counters and event counts bit-identical;
    fields within 1e-5 relative (bit-identical in exact mode)."""
    params = build_params(*overrides)
    m_np = Model.build(params, make_backend("numpy"))
    m_cp = Model.build(params, make_backend("cupy", exact=exact))
    s_np, s_cp = m_np.initial_state(), m_cp.initial_state()
    for _ in range(30):
        s_np, s_cp = m_np.step(s_np), m_cp.step(s_cp)
    events = s_np.immune_events
    assert events[:, immune.EVENT["recruited"]].sum() + events[:, immune.EVENT["kills"]].sum() > 0
    for name, arr in s_np.arrays().items():
        got = cp.asnumpy(getattr(s_cp, name))
        if name == "fields" and not exact:
            np.testing.assert_allclose(got, arr, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, arr, err_msg=name)
