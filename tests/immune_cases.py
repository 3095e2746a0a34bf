"""Random states and comparisons shared by the parity tests of the immune twins
(``tests/test_gpu_immune.py`` on a GPU, ``tests/test_immune_kernels_host.py`` on the host
emulation of ``kernels/immune.cu``): the NumPy reference of :mod:`lattice.processes.immune` and
the twin (:class:`lattice.kernels.immune.Immune`) on the same inputs give the same bits."""

from __future__ import annotations

import numpy as np

from lattice import codes
from lattice.processes import immune
from tests.conftest import build_model

GRIDS = ["grid.shape=[40,36]", "grid.shape=[12,14,10]"]
NEIGHBOURHOODS = ["von_neumann", "moore"]


def case_model(grid: str, neigh: str, *extra: str, backend: str = "numpy"):
    return build_model("experiment=t_cell_kill_assay", grid, f"grid.neighbourhood={neigh}", "replicates=2",
                       "organ.stroma.macrophage_density=0.05", "organ.stroma.killer_macrophage_fraction=0.5",
                       "seed=987654321", *extra, backend=backend)


def random_state(model, seed: int = 3):
    """Tumour cells of every state, dead cells, CAFs and vessels; T cells (with kill counts up to
    255), exhausted T cells and both macrophages; random fields; a step word past 2³²."""
    rng = np.random.default_rng(seed)
    state = model.initial_state()
    shape = state.cells.shape
    cells = rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 9], size=shape, p=[.3, .3, .05, .1, .05, .05, .05, .05, .05])
    imm = rng.choice([0, 1, 2, 3, 4], size=shape, p=[.6, .25, .05, .05, .05])
    kills = np.where((imm == codes.T_CELL) | (imm == codes.EXHAUSTED_T_CELL), rng.integers(0, 256, shape), 0)
    fields = rng.uniform(0, 3, state.fields.shape).astype(np.float32)
    return state.replace(cells=cells.astype(np.uint8), immune=imm.astype(np.uint8), t_kills=kills.astype(np.uint8),
                         fields=fields, step=2**32 + 17)


def inputs(state, model):
    """The xp probability maps the decisions read (NumPy)."""
    p_death, q_mac = immune.death_probabilities(state.immune, model)
    p_recruit = np.where(state.cells == codes.VESSEL, np.float32(0.3), np.float32(0)).astype(np.float32)
    arrested = np.random.default_rng(5).random(state.immune.shape) < 0.1
    return {
        "p_target": immune.target_probability(state, model), "potency": immune.potency(state, model),
        "p_death": p_death, "q_macrophage": q_mac, "p_recruit": p_recruit,
        "weights": immune.move_weights(state, model), "arrested": arrested,
    }


def reference(state, model, x):
    """NumPy outputs by name."""
    s, killed, won = immune.kill(state, model, x["p_target"], x["potency"])
    out = {f"kill.{k}": v for k, v in s.arrays().items()} | {"kill.killed": killed, "kill.won": won}
    im, k, flags = immune.turnover(state, model, x["p_death"], x["q_macrophage"], x["p_recruit"])
    out |= {"turnover.immune": im, "turnover.t_kills": k, "turnover.flags": flags}
    im, k = immune.move(state, model, x["weights"], x["arrested"])
    return out | {"move.immune": im, "move.t_kills": k}


def twin_outputs(twin, state, model, x):
    """Twin outputs by name (``state``, ``x`` already on the twin's device)."""
    s, killed, won = twin.kill(state, model, x["p_target"], x["potency"])
    out = {f"kill.{k}": v for k, v in s.arrays().items()} | {"kill.killed": killed, "kill.won": won}
    im, k, flags = twin.turnover(state, model, x["p_death"], x["q_macrophage"], x["p_recruit"])
    out |= {"turnover.immune": im, "turnover.t_kills": k, "turnover.flags": flags}
    im, k = twin.move(state, model, x["weights"], x["arrested"], immune.n_moves(model))
    return out | {"move.immune": im, "move.t_kills": k}


def assert_same(got: dict, ref: dict, to_numpy=np.asarray):
    assert got.keys() == ref.keys()
    for name, a in ref.items():
        b = to_numpy(got[name])
        assert b.dtype == a.dtype and b.shape == a.shape, name
        np.testing.assert_array_equal(b, a, err_msg=name)


def assert_not_vacuous(ref: dict):
    """The random state takes every kind of decision."""
    assert ref["kill.killed"].any() and ref["kill.won"].any()
    flags = ref["turnover.flags"]
    for bit in (immune.DIED, immune.BY_MACROPHAGE, immune.RECRUITED):
        assert ((flags & bit) > 0).any(), bit
    assert (ref["move.immune"] != ref["turnover.immune"]).any()
