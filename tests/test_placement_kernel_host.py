"""The placement twin (``kernels/placement.cu``) run on the host through ``tests/cuda_host.py``
(g++, IEEE float, no contraction) with its real launcher: same lattice as the NumPy pull rule."""

from __future__ import annotations

import numpy as np
import pytest
from lattice.kernels.placement import Placement

from lattice import codes
from lattice.processes import placement
from tests.conftest import build_model
from tests.test_placement import random_state

cuda_host = pytest.importorskip("tests.cuda_host")
pytestmark = pytest.mark.skipif(cuda_host.compiler() is None, reason="g++ not installed")


@pytest.mark.parametrize("grid", ["grid.shape=[24,20]", "grid.shape=[9,8,7]"])
@pytest.mark.parametrize("neigh", ["von_neumann", "moore"])
def test_placement_twin_matches_numpy_on_the_host(grid, neigh):
    model = build_model(grid, f"grid.neighbourhood={neigh}", "organ.vessels.pattern=none", "replicates=2")
    one = random_state(model)
    state = one.replace(**{k: np.concatenate([v, v[:, ::-1].copy()]) for k, v in one.arrays().items()
                           if v is not None and v.shape[:1] == (1,)})
    intents = state.cells == codes.SENSITIVE
    ref, ref_renewed = placement.divide(state, intents, model)
    got, got_renewed = Placement(mod=cuda_host.module("placement")).divide(state, intents, model)
    for name in ("cells", "clock", "memory", "timer_h"):
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name), err_msg=name)
    np.testing.assert_array_equal(got_renewed, ref_renewed)
    assert (got.cells != state.cells).any(), "no division happened: the comparison would be vacuous"
