"""The cell-rule kernels, run on the host (``tests/cuda_host.py``: the ``.cu`` sources compiled by
g++ with ``-ffp-contract=off``), through their real launchers, against the NumPy processes: same
outputs, bit for bit. A machine without a GPU thereby executes the CUDA sources; the same cases
run on the device in ``tests/test_gpu_rules.py``.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from lattice.rng import uniforms
from tests import cuda_host
from tests.rules_cases import (
    CASES,
    PROCESSES,
    assert_same,
    build_case,
    case_state,
    outputs,
    random_masks,
    reference_call,
    twin_call,
)

pytestmark = pytest.mark.skipif(cuda_host.compiler() is None, reason="g++ not installed")

#: Launcher module -> class of the twin.
TWINS = {"cycle": "Cycle", "death": "Death", "drugs": "Drugs", "transitions": "Transitions",
         "mutation": "Mutation"}


def host_twin(name: str, ftz: bool = False):
    module = importlib.import_module(f"lattice.kernels.{name}")
    return getattr(module, TWINS[name])(exact=False, mod=cuda_host.module(name, ftz))


def test_host_emulation_reproduces_philox():
    R, shape, step, stream = 3, (7, 9), 2**32 - 3, 14
    n = R * 63
    out = np.empty((4, n), np.float32)
    philox_fill = cuda_host.module("reference").get_function("philox_fill")
    args = (np.uint32(7), np.int32(R), np.int64(63), np.uint32(step), np.uint32(stream), np.uint32(1), out)
    philox_fill(((n + 63) // 64,), (64,), args)
    ref = uniforms(7, R, shape, step, stream, draw=1)
    for k in range(4):
        np.testing.assert_array_equal(out[k].reshape(R, *shape), ref[k])


def test_host_emulation_checks_argument_types():
    fn = cuda_host.module("mutation").get_function("mutation_update")
    a = np.zeros(4, np.uint8)
    with pytest.raises(TypeError, match="need float32"):
        fn((1,), (4,), (a, np.zeros(4, np.float32), np.zeros(4, bool), 0.1, np.float32(0.2), np.uint32(0),
                          np.uint32(0), np.int32(1), np.int64(4), a.copy(), np.zeros(4, np.float32)))


@pytest.mark.parametrize("process", PROCESSES)
@pytest.mark.parametrize("case", list(CASES))
def test_rule_twin_matches_numpy_on_host(case, process):
    from lattice.processes import drugs

    model = build_case(case)
    state = case_state(case, model)
    intents, renewed = random_masks(model)
    fx = drugs.effects(state, model)
    ref = reference_call(process, state, model, fx, intents, renewed)
    got = twin_call(process, host_twin, state, model, fx, intents, renewed)
    assert_same(outputs(got), outputs(ref), context=f"{case}/{process}")


def test_cases_exercise_every_outcome():
    """The random states do take every fate, so the comparisons above are not vacuous."""
    from lattice import codes
    from lattice.processes import drugs, transitions

    seen = set()
    for case in ("fast_rates", "all_kinds_hgf", "2d_continuous"):
        model = build_case(case)
        state = case_state(case, model)
        new = transitions.update(state, model, drugs.effects(state, model))
        changed = new.cells != state.cells
        seen |= {(int(a), int(b)) for a, b in zip(state.cells[changed], new.cells[changed])}
    S, P, D, E, R, DEAD = (codes.SENSITIVE, codes.PRIMED, codes.DTP, codes.DTEP, codes.RESISTANT, codes.DEAD)
    for pair in [(S, DEAD), (S, D), (S, P), (P, S), (D, E), (D, S), (E, S), (S, R), (D, R)]:
        assert pair in seen, f"no {pair[0]} -> {pair[1]} transition in the test states"


def test_flush_to_zero_would_break_parity():
    """Why the rule kernels are loaded with ``ieee_module`` and not ``cupy.RawModule`` (which
    compiles with ``-ftz=true``): with subnormals flushed, the same kernels no longer match NumPy
    (a washed-out drug's Hill effect, a months-old memory)."""
    from lattice.processes import drugs

    failures = []
    for case, process in [("all_kinds_hgf", "effects"), ("fast_rates", "transitions")]:
        model = build_case(case)
        state = case_state(case, model)
        intents, renewed = random_masks(model)
        fx = drugs.effects(state, model)
        ref = reference_call(process, state, model, fx, intents, renewed)
        got = twin_call(process, lambda name: host_twin(name, ftz=True), state, model, fx, intents, renewed)
        try:
            assert_same(outputs(got), outputs(ref), context=f"{case}/{process}")
        except AssertionError:
            failures.append((case, process))
    assert failures == [("all_kinds_hgf", "effects"), ("fast_rates", "transitions")]

