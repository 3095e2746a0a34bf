"""CUDA twins of the cell rules (kernels/cycle, death, drugs, transitions, mutation) against the
NumPy processes, bit for bit (issue 5, docs/model.md).

Each process function runs on the NumPy model and its twin (``model.backend.kernel(<module>)``)
on the CuPy model, from the same random state copied to the device; every output array must have
the same dtype, shape and bits, in both the exact and the fast backend mode (the rule kernels are
compiled with ``--fmad=false`` either way). Then whole-model runs: 40 steps on both backends with
identical labels and per-cell attributes.

Marked ``gpu``; skipped cleanly where no CUDA device is usable. Run on a GPU machine with
``pytest -m gpu tests/test_gpu_rules.py``. The same per-process cases run without a GPU through
the host emulation in ``tests/test_kernels_host.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from lattice.backend import cupy_usable, make_backend
from lattice.model import Model
from tests.conftest import build_params
from tests.rules_cases import (
    CASES,
    PROCESSES,
    assert_same,
    build_case,
    case_state,
    effects_to,
    outputs,
    random_masks,
    reference_call,
    twin_call,
)

USABLE, WHY = cupy_usable()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not USABLE, reason=f"no usable CUDA device: {WHY}")]

#: (launcher module, method) of every twin, and the NumPy function it replaces.
TWIN_METHODS = [("cycle", "update"), ("death", "update"), ("drugs", "effects"), ("drugs", "division_kill"),
                ("transitions", "update"), ("transitions", "initial_phenotypes"), ("mutation", "update")]


@pytest.fixture(scope="module")
def cp():
    import cupy

    return cupy


def to_device(state, cp):
    return state.replace(**{name: cp.asarray(a) for name, a in state.arrays().items()})


def test_every_rule_twin_loads(cp):
    backend = make_backend("cupy")
    for module, method in TWIN_METHODS:
        twin = backend.kernel(module)
        assert twin is not None, f"lattice.kernels.{module} did not load"
        assert callable(getattr(twin, method))


@pytest.mark.parametrize("exact", [False, True], ids=["fast", "exact"])
@pytest.mark.parametrize("process", PROCESSES)
@pytest.mark.parametrize("case", list(CASES))
def test_rule_twin_matches_numpy(cp, case, process, exact):
    from lattice.processes import drugs

    m_np = build_case(case, "numpy")
    m_cp = build_case(case, "cupy", exact=exact)
    state = case_state(case, m_np)
    intents, renewed = random_masks(m_np)
    fx = drugs.effects(state, m_np)
    ref = reference_call(process, state, m_np, fx, intents, renewed)
    got = twin_call(process, m_cp.backend.kernel, to_device(state, cp), m_cp, effects_to(fx, cp.asarray),
                    cp.asarray(intents), cp.asarray(renewed))
    assert_same(outputs(got), outputs(ref), asnumpy=cp.asnumpy, context=f"{case}/{process}")


def test_process_functions_dispatch_to_their_twins(cp, monkeypatch):
    """On the CuPy backend the NumPy process functions hand over to the twins (the dispatch lines
    at the top of each function), including inside Model.initial_state and Model.step."""
    model = Model.build(build_params("experiment=competitive_release", "grid.shape=[40,40]", "replicates=2",
                                     "tumour.mutation.per_division=0.01"), make_backend("cupy"))
    calls = []
    for module, method in TWIN_METHODS:
        twin = model.backend.kernel(module)
        original = getattr(twin, method)

        def spy(*args, _original=original, _name=f"{module}.{method}", **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(twin, method, spy)
    state = model.initial_state()
    for _ in range(2):
        state = model.step(state)
    missing = {f"{m}.{f}" for m, f in TWIN_METHODS} - set(calls)
    assert not missing, f"these NumPy functions did not dispatch to their twins: {sorted(missing)}"


WHOLE_MODEL = {
    "continuous_2d": ("treatment=continuous", "grid.shape=[48,48]", "replicates=3",
                      "tumour.initial.radius_um=300"),
    "continuous_3d": ("treatment=continuous", "grid.shape=[16,16,16]", "tumour.initial.shape=sphere",
                      "tumour.initial.radius_um=120", "grid.neighbourhood=moore"),
    "persister_assay": ("experiment=persister_assay", "grid.shape=[40,40]", "replicates=3"),
    "competitive_release": ("experiment=competitive_release", "grid.shape=[40,40]", "replicates=3"),
}


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "fast"])
@pytest.mark.parametrize("scenario", list(WHOLE_MODEL))
def test_whole_model_40_steps_match(cp, scenario, exact):
    """40 cell steps on both backends: labels and per-cell attributes bit-identical; fields
    bit-identical in exact mode and within 1e-5 relative in the fast mode."""
    overrides = WHOLE_MODEL[scenario]
    m_np = Model.build(build_params(*overrides), make_backend("numpy"))
    params = build_params(*overrides, f"exact={str(exact).lower()}")
    m_cp = Model.build(params, make_backend("cupy", exact=exact))
    s_np, s_cp = m_np.initial_state(), m_cp.initial_state()
    for step in range(40):
        s_np, s_cp = m_np.step(s_np), m_cp.step(s_cp)
        # Fail at the first step where the labels part (the most useful report).
        np.testing.assert_array_equal(cp.asnumpy(s_cp.cells), s_np.cells,
                                      err_msg=f"cells after step {step + 1}")
    for name, arr in s_np.arrays().items():
        got = cp.asnumpy(getattr(s_cp, name))
        if name == "fields" and not exact:
            np.testing.assert_allclose(got, arr, rtol=1e-5, atol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(got, arr, err_msg=name)
