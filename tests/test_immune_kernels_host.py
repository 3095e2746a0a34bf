"""The immune twins (``kernels/immune.cu``) run on the host (``tests/cuda_host.py``: the CUDA
source compiled by g++ with ``-ffp-contract=off``) through their real launcher, against the NumPy
reference of :mod:`lattice.processes.immune`: the same decisions, bit for bit. The same cases run
on the device in ``tests/test_gpu_immune.py``."""

from __future__ import annotations

import pytest
from lattice.kernels.immune import Immune

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

cuda_host = pytest.importorskip("tests.cuda_host")
pytestmark = pytest.mark.skipif(cuda_host.compiler() is None, reason="g++ not installed")


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("neigh", NEIGHBOURHOODS)
@pytest.mark.parametrize("ftz", [False, True])
def test_immune_twin_matches_numpy_on_host(grid, neigh, ftz):
    model = case_model(grid, neigh, "immune.kill_rate_per_h=2.0", "immune.fasl_kill_per_h=0.5")
    state = random_state(model)
    x = inputs(state, model)
    ref = reference(state, model, x)
    assert_not_vacuous(ref)
    twin = Immune(mod=cuda_host.module("immune", ftz))
    assert_same(twin_outputs(twin, state, model, x), ref)


@pytest.mark.parametrize("overrides", [
    ("organ=liver", "grid.shape=[32,32]", "tumour.initial.radius_um=160", "immune.initial_t_cells=0.05"),
    ("experiment=t_cell_kill_assay", "grid.shape=[24,24]", "replicates=2", "grid.neighbourhood=moore"),
])
def test_whole_immune_run_with_the_host_twin_matches_numpy(overrides):
    """Ten cell steps with the immune stage dispatched to the host-emulated twin (the other
    processes on NumPy): every state array, kill counters and event counts included, identical."""
    ref_model, twin_model = case_model_pair(overrides)
    twin = Immune(mod=cuda_host.module("immune"))
    twin_model.backend.kernel = lambda name: twin if name == "immune" else None
    a, b = ref_model.initial_state(), twin_model.initial_state()
    for _ in range(10):
        a, b = ref_model.step(a), twin_model.step(b)
    assert int(a.immune_events.sum()) > 0
    assert_same(b.arrays(), a.arrays())


def case_model_pair(overrides):
    from tests.conftest import build_model

    return build_model(*overrides), build_model(*overrides)
