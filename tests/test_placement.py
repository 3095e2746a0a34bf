"""The pull placement rule (docs/model.md step 4): one cell per voxel, independent of traversal order."""

import itertools

import numpy as np
import pytest

from lattice import codes
from lattice.processes import placement
from lattice.rng import Stream
from lattice.state import State
from tests.conftest import build_model


def random_state(model, fill=0.55, seed=0):
    rng = np.random.default_rng(seed)  # test set-up only; the model's decisions use Philox
    shape = (1, *model.grid.shape)
    cells = np.where(rng.random(shape) < fill, codes.SENSITIVE, codes.EMPTY).astype(np.uint8)
    cells[rng.random(shape) < 0.05] = codes.NORMAL
    state = State.empty(1, model.grid.shape, len(model.registry))
    memory = rng.random(shape).astype(np.float32)
    return state.replace(cells=cells, memory=memory, clock=np.ones(shape, np.float32), step=3)


def reference_divide(state, intents, model, order):
    """Per-voxel loop in a given visiting order: the rule as a biologist would state it."""
    cells = state.cells[0]
    shape = cells.shape
    offsets = model.grid.offsets
    u_dir, u_key, _, _ = (u[0] for u in model.uniforms(Stream.PLACEMENT, state.step))
    free = lambda idx: all(0 <= i < n for i, n in zip(idx, shape)) and cells[idx] in (codes.EMPTY, codes.NORMAL)
    target = {}
    for idx in order:
        if not intents[0][idx]:
            continue
        options = [d for d, off in enumerate(offsets) if free(tuple(i + o for i, o in zip(idx, off)))]
        if options:
            choice = min(int(np.float32(u_dir[idx]) * np.float32(len(options))), len(options) - 1)
            target[idx] = options[choice]
    new = cells.copy()
    winners = {}
    for idx in order:
        if not free(idx):
            continue
        best = None
        for d, off in enumerate(offsets):
            mother = tuple(i - o for i, o in zip(idx, off))
            if target.get(mother) == d and (best is None or u_key[mother] < best[0]):
                best = (u_key[mother], d, mother)
        if best is not None:
            new[idx] = cells[best[2]]
            winners[best[2]] = idx
    return new, winners


@pytest.mark.parametrize("grid,neigh", [
    ("grid.shape=[24,20]", "von_neumann"), ("grid.shape=[24,20]", "moore"), ("grid.shape=[9,8,7]", "von_neumann"),
    ("grid.shape=[9,8,7]", "moore"),
])
def test_pull_rule_matches_per_voxel_reference_in_any_order(grid, neigh):
    model = build_model(grid, f"grid.neighbourhood={neigh}", "organ.vessels.pattern=none")
    state = random_state(model)
    intents = placement.free_space(state.cells) == 0
    intents &= state.cells == codes.SENSITIVE
    new_state, renewed = placement.divide(state, intents, model)
    voxels = list(itertools.product(*(range(n) for n in model.grid.shape)))
    rng = np.random.default_rng(1)
    for _ in range(2):  # two different random traversal orders, and the natural one
        order = [voxels[i] for i in rng.permutation(len(voxels))]
        ref, winners = reference_divide(state, intents, model, order)
        np.testing.assert_array_equal(new_state.cells[0], ref)
    ref_natural, winners = reference_divide(state, intents, model, voxels)
    np.testing.assert_array_equal(new_state.cells[0], ref_natural)
    # One daughter per successful mother, each in a distinct voxel next to it.
    born = (new_state.cells[0] != state.cells[0])
    assert born.sum() == len(winners) == len(set(winners.values())) > 0
    # Mothers and daughters restart their cycle; daughters inherit memory.
    for mother, daughter in winners.items():
        assert new_state.clock[0][mother] == 0 and new_state.clock[0][daughter] == 0
        assert new_state.memory[0][daughter] == state.memory[0][mother]
        assert renewed[0][mother] and renewed[0][daughter]


def test_no_room_no_division():
    """Contact inhibition: a cell surrounded by cells keeps its intent (clock stays at 1)."""
    model = build_model("grid.shape=[5,5]", "organ.vessels.pattern=none")
    cells = np.full((1, 5, 5), codes.SENSITIVE, np.uint8)
    state = State.empty(1, (5, 5), len(model.registry)).replace(cells=cells, clock=np.ones((1, 5, 5), np.float32))
    new, renewed = placement.divide(state, np.ones((1, 5, 5), bool), model)
    np.testing.assert_array_equal(new.cells, cells)
    assert not renewed.any() and (new.clock == 1).all()


def test_direction_choice_is_uniform_over_free_neighbours():
    """A lone dividing cell picks each of its 4 free neighbours with probability 1/4
    (over 4000 independent steps: each count within 4.5 binomial s.d. of 1000)."""
    model = build_model("grid.shape=[3,3]", "organ.vessels.pattern=none")
    cells = np.zeros((1, 3, 3), np.uint8)
    cells[0, 1, 1] = codes.SENSITIVE
    counts = np.zeros(4)
    for step in range(4000):
        state = State.empty(1, (3, 3), len(model.registry)).replace(cells=cells, step=step)
        target, _ = placement.choose_targets(state, cells == codes.SENSITIVE, model)
        counts[target[0, 1, 1]] += 1
    sd = np.sqrt(4000 * 0.25 * 0.75)
    assert np.all(np.abs(counts - 1000) < 4.5 * sd), counts
