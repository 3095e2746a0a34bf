"""Immune layer (docs/model.md "Immune", §2 step 5): T-cell killing rate against Halle et al. 2016,
chemotaxis up a chemokine gradient, the pull rule for movement, evasion and checkpoint rules,
exhaustion, FasL⁺ macrophage killing, recruitment ∝ chemokine, and an exact resume."""

from __future__ import annotations

import math
import subprocess
import sys

import h5py
import numpy as np
import pytest
import zarr

from lattice import codes
from lattice.observe import observe
from lattice.processes import immune
from lattice.processes.drugs import Effects
from tests.conftest import build_model
from tests.test_tumour_rules import assert_binomial

ASSAY = ("experiment=t_cell_kill_assay",)
#: A dish without tumour cells: T cells only (movement, death, macrophages).
EMPTY_DISH = (*ASSAY, "tumour.initial.density=0", "fields.chemokine.enabled=false", "fields.ifng.enabled=false")


def t_cells(state):
    return (state.immune == codes.T_CELL) | (state.immune == codes.EXHAUSTED_T_CELL)


def test_kill_assay_rate_is_within_halle_2016():
    """Kills per T cell per day in the co-culture assay fall within 2–16 (Halle 2016, in vivo).
    T-cell days counted over effector and exhausted T cells at the start of each step."""
    model = build_model(*ASSAY)
    state = model.initial_state()
    assert int((state.immune == codes.T_CELL).sum()) > 20
    t_cell_hours = 0.0
    for _ in range(model.params.n_steps):
        t_cell_hours += float(t_cells(state).sum()) * model.params.step_h
        state = model.step(state)
    kills = int(observe(state, model)["kills"][0])
    rate = kills / (t_cell_hours / 24.0)
    assert 2.0 <= rate <= 16.0, f"{rate:.1f} kills per T cell per day ({kills} kills)"
    # Every kill left an apoptotic cell (or a cleared one): the counters are consistent.
    assert int(state.immune_events[0, immune.EVENT["exhausted"]]) > 0  # serial killers exhaust


def gradient_run(chi: float):
    """T cells on an empty dish with a fixed chemokine profile rising towards +x (decay length
    12 voxels = 240 µm, like a tumour's); returns initial and final mean x and the right-half share."""
    model = build_model(*EMPTY_DISH, "immune.initial_t_cells=0.05", f"immune.chemotaxis={chi}",
                        "immune.t_cell_death_per_h=0", "grid.shape=[40,80]", "replicates=2", "duration_h=24")
    state = model.initial_state()
    fields = state.fields.copy()
    x = np.arange(80, dtype=np.float32)
    fields[:, model.registry.index("chemokine")] = np.exp((x - 79) / 12.0)[None, None, :]
    state = state.replace(fields=fields)
    x0 = np.nonzero(t_cells(state))[2].mean()
    n0 = int(t_cells(state).sum())
    for _ in range(24):
        state = model.step(state)
    xs = np.nonzero(t_cells(state))[2]
    assert xs.size == n0  # no deaths, no recruitment: movement conserves T cells
    return x0, xs.mean(), float((xs >= 40).mean())


def test_t_cells_accumulate_up_a_chemokine_gradient():
    """Biased walk (χ = 0.8): in 24 h (144 moves) the T cells drift > 8 voxels up the gradient and
    > 65 % end in the high half; unbiased (χ = 0): drift < 3 voxels, ~half in each half."""
    x0, x1, right = gradient_run(0.8)
    assert x1 - x0 > 8 and right > 0.65, (x0, x1, right)
    x0, x1, right = gradient_run(0.0)
    assert abs(x1 - x0) < 3 and 0.4 < right < 0.6, (x0, x1, right)


def test_movement_is_a_pull_rule_that_conserves_cells_and_counters():
    """Each sub-step: no immune cell is lost or duplicated, macrophages stay, kill counters move with
    their T cell, at most one step per sub-step (a hop to a neighbour)."""
    model = build_model(*EMPTY_DISH, "immune.initial_t_cells=0.3", "organ.stroma.macrophage_density=0.1",
                        "grid.shape=[24,24]")
    state = model.initial_state()
    rng = np.random.default_rng(1)
    kills = np.where(t_cells(state), rng.integers(1, 200, state.immune.shape), 0).astype(np.uint8)
    weights = immune.move_weights(state, model)
    arrested = np.zeros(state.immune.shape, dtype=bool)
    imm, k = state.immune, kills
    for sub in range(6):
        new_imm, new_k = immune.move_substep(imm, k, weights, arrested, model, 0, sub)
        assert np.bincount(new_imm.ravel(), minlength=5).tolist() == np.bincount(imm.ravel(), minlength=5).tolist()
        mac = imm == codes.MACROPHAGE
        assert (new_imm[mac] == codes.MACROPHAGE).all()
        assert sorted(new_k[new_imm > 0].tolist()) == sorted(k[imm > 0].tolist())
        moved = (imm > 0) & (new_imm == 0)
        assert moved.sum() > 0
        # every vacated voxel has an arrival among its neighbours carrying its counter
        for r, y, x in zip(*np.nonzero(moved)):
            nb = [(y + dy, x + dx) for dy, dx in model.grid.offsets if 0 <= y + dy < 24 and 0 <= x + dx < 24]
            assert any(new_imm[r, yy, xx] == imm[r, y, x] and new_k[r, yy, xx] == k[r, y, x]
                       and imm[r, yy, xx] == 0 for yy, xx in nb)
        imm, k = new_imm, new_k


def one_target_state(model, tumour_code: int, ifng: float = 0.0, tgfb: float = 0.0):
    state = model.initial_state()
    cells = np.full_like(state.cells, codes.EMPTY)
    cells[..., ::2, ::2] = tumour_code
    fields = state.fields.copy()
    if "ifng" in model.registry.names:
        fields[:, model.registry.index("ifng")] = ifng
    if "tgfb" in model.registry.names:
        fields[:, model.registry.index("tgfb")] = tgfb
    return state.replace(cells=cells, fields=fields)


@pytest.mark.parametrize("code,cd70,pdl1", [(codes.SENSITIVE, 0.0, 0.0), (codes.DTP, 0.5, 0.5),
                                            (codes.DTEP, 0.3, 0.3)])
def test_kill_probability_rules(code, cd70, pdl1):
    """p = 1 − exp(−k Δt (1 − CD70)(1 − PD-L1(1 − aPD1))), PD-L1 = 1 − (1 − pdl1)(1 − 0.8·I/(I + 1)).
    DTPs evade (CD70, PD-L1), IFN-γ raises PD-L1 (less killing), anti-PD-1 restores all but CD70."""
    model = build_model(*ASSAY)
    k = model.params.immune.kill_rate_per_h
    for ifng in (0.0, 1.0, 3.0):
        state = one_target_state(model, code, ifng=ifng)
        pd = 1 - (1 - pdl1) * (1 - 0.8 * ifng / (ifng + 1))
        for cp in (0.0, 0.5, 1.0):
            fx = Effects(checkpoint=np.full(state.cells.shape, cp, dtype=np.float32))
            p = immune.target_probability(state, model, fx)
            expected = -math.expm1(-k * (1 - cd70) * (1 - pd * (1 - cp)))
            np.testing.assert_allclose(p[state.cells == code], expected, rtol=2e-6)
            assert (p[state.cells == codes.EMPTY] == 0).all()
    state = one_target_state(model, code, ifng=2.0)
    no_pd1 = immune.target_probability(state, model, None)[state.cells == code][0]
    with_pd1 = immune.target_probability(state, model, Effects(checkpoint=np.ones(state.cells.shape, np.float32)))
    assert with_pd1[state.cells == code][0] > no_pd1  # anti-PD-1 raises the kill probability


def test_tgfb_suppresses_potency():
    model = build_model(*ASSAY, "organ.stroma.macrophage_density=0.01")
    assert "tgfb" in model.registry.names
    for t, expected in ((0.0, 1.0), (1.0, 1 - 0.7 * 0.5), (3.0, 1 - 0.7 * 0.75)):
        state = one_target_state(model, codes.SENSITIVE, tgfb=t)
        np.testing.assert_allclose(immune.potency(state, model), expected, rtol=1e-6)


def test_kill_step_matches_probability_and_credits_one_killer():
    """One T cell on every tumour voxel and none in contact elsewhere (targets 2 voxels apart):
    the kill fraction is potency × p(target) (binomial), each kill credited to exactly one T cell."""
    model = build_model(*ASSAY, "grid.shape=[100,100]", "replicates=2")
    state = one_target_state(model, codes.SENSITIVE)
    imm = np.where(state.cells == codes.SENSITIVE, codes.T_CELL, codes.NO_IMMUNE).astype(np.uint8)
    state = state.replace(immune=imm, t_kills=np.zeros_like(imm))
    p = immune.target_probability(state, model)
    after, killed, won = immune.kill(state, model, p, immune.potency(state, model))
    n = int((state.cells == codes.SENSITIVE).sum())
    assert_binomial(int(killed.sum()), n, float(p[state.cells == codes.SENSITIVE][0]))
    assert int(won.sum()) == int(killed.sum())
    assert (after.cells[killed] == codes.DEAD).all() and (after.t_kills[won] == 1).all()
    assert (after.timer_h[killed] == model.params.step_h).all()


def test_crowded_target_dies_once():
    """Several T cells around one tumour cell: at most one kill, credited to the smallest key."""
    model = build_model(*ASSAY, "grid.shape=[30,30]", "immune.kill_rate_per_h=50")
    state = model.initial_state()
    cells = np.zeros_like(state.cells)
    cells[..., 3::6, 3::6] = codes.SENSITIVE
    imm = np.zeros_like(state.immune)
    for dy, dx in [(0, 0), *model.grid.offsets]:
        imm[..., 3 + dy::6, 3 + dx::6][..., :5, :5] = codes.T_CELL
    state = state.replace(cells=cells, immune=imm, t_kills=np.zeros_like(imm))
    _, killed, won = immune.kill(state, model, immune.target_probability(state, model), immune.potency(state, model))
    assert int(killed.sum()) == int((cells == codes.SENSITIVE).sum()) == int(won.sum())


def test_exhaustion_after_kills_to_exhaustion():
    model = build_model(*ASSAY, "immune.kills_to_exhaustion=3", "grid.shape=[20,20]", "immune.moves_per_h=0",
                        "immune.t_cell_death_per_h=0", "immune.exhausted_death_per_h=0")
    state = model.initial_state()
    imm = np.full_like(state.immune, codes.T_CELL)
    kills = np.zeros_like(imm)
    kills[..., :10, :] = 3
    state = state.replace(cells=np.zeros_like(state.cells), immune=imm, t_kills=kills)
    after = immune.update(state, model)
    assert (after.immune[..., :10, :] == codes.EXHAUSTED_T_CELL).all()
    assert (after.immune[..., 10:, :] == codes.T_CELL).all()
    assert int(after.immune_events[0, immune.EVENT["exhausted"]]) == 200


def test_fasl_macrophages_kill_adjacent_t_cells_at_their_rate():
    """A T cell with n adjacent FasL⁺ macrophages dies with p = 1 − exp(−(k₀ + n·k_FasL)Δt), and the
    FasL share of those deaths is counted as killed by macrophages."""
    model = build_model(*EMPTY_DISH, "grid.shape=[120,120]", "immune.fasl_kill_per_h=0.3")
    state = model.initial_state()
    imm = np.full_like(state.immune, codes.T_CELL)
    imm[..., ::3, ::3] = codes.KILLER_MACROPHAGE  # T cells have 0, 1 or 2 killer neighbours
    state = state.replace(immune=imm, t_kills=np.zeros_like(imm))
    p, q = immune.death_probabilities(imm, model)
    killers = imm == codes.KILLER_MACROPHAGE
    n = sum(np.roll(killers, (-dy, -dx), axis=(1, 2)) for dy, dx in model.grid.offsets)  # interior check only
    k0 = model.params.immune.t_cell_death_per_h
    inner = (slice(None), slice(3, -3), slice(3, -3))
    for m in (0, 1, 2):
        sel = (imm == codes.T_CELL)[inner] & (n[inner] == m)
        np.testing.assert_allclose(p[inner][sel], -math.expm1(-(k0 + 0.3 * m)), rtol=2e-6)
        np.testing.assert_allclose(q[inner][sel], -math.expm1(-(k0 + 0.3 * m)) * 0.3 * m / (k0 + 0.3 * m), rtol=2e-6)
    new_imm, _, flags = immune.turnover(state, model, p, q, np.zeros_like(p))
    died = (flags & immune.DIED) > 0
    assert_binomial(int(died.sum()), int((imm == codes.T_CELL).sum()), float(p[imm == codes.T_CELL].mean()), z=6)
    assert ((flags & immune.BY_MACROPHAGE) > 0).sum() > 0.8 * died.sum()
    assert (new_imm[died] == codes.NO_IMMUNE).all() and (new_imm[killers] == codes.KILLER_MACROPHAGE).all()


@pytest.mark.parametrize("chem", [0.0, 0.5, 2.0])
def test_recruitment_at_vessels_scales_with_chemokine(chem):
    """New T cells appear only at free vessel voxels, with p = 1 − exp(−k Δt C/(C + K))."""
    model = build_model(*ASSAY, "grid.shape=[100,100]", "organ.vessels.pattern=random", "organ.vessels.density=0.3",
                        "organ.t_cell_recruitment=1", "immune.recruitment_per_h=0.2")
    state = model.initial_state()
    fields = state.fields.copy()
    fields[:, model.registry.index("chemokine")] = chem
    imm = np.zeros_like(state.immune)
    state = state.replace(fields=fields, immune=imm, t_kills=np.zeros_like(imm))
    p = immune.recruitment_probability(state, model)
    new_imm, _, flags = immune.turnover(state, model, np.zeros_like(p), np.zeros_like(p), p)
    vessels = state.cells == codes.VESSEL
    assert not new_imm[~vessels].any()
    expected = -math.expm1(-0.2 * chem / (chem + 1.0))
    recruited = int((new_imm == codes.T_CELL).sum())
    if chem == 0:
        assert recruited == 0
    else:
        assert_binomial(recruited, int(vessels.sum()), expected)
        assert int((flags & immune.RECRUITED).astype(bool).sum()) == recruited


def lattice_run(args, cwd):
    return subprocess.run([sys.executable, "-m", "lattice.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


def test_kill_assay_from_the_cli_writes_immune_outputs_and_resumes_exactly(tmp_path):
    """The CLI runs the assay; run.zarr holds the immune labels and the ifng/chemokine channels,
    summary.h5 the immune columns; a run cut at its second frame and resumed is identical (the kill
    counters and event counts live in the saved state)."""
    common = [*ASSAY, "grid.shape=[32,32]", "output.every_h=6", "output.progress=false", "backend=numpy"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert lattice_run([*common, "duration_h=24", f"hydra.run.dir={full}"], tmp_path).returncode == 0
    assert lattice_run([*common, "duration_h=12", f"hydra.run.dir={part}"], tmp_path).returncode == 0
    proc = lattice_run([f"resume={part}", "duration_h=24"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    za, zb = zarr.open_group(str(full / "run.zarr"), mode="r"), zarr.open_group(str(part / "run.zarr"), mode="r")
    names = [f["name"] for f in za.attrs["dtp_lattice"]["fields"]]
    assert "ifng" in names and "chemokine" in names
    assert (za["labels/immune/0"][...] == codes.T_CELL).any()
    assert "t_kills" in za["state"]
    for name in ("0", "labels/cells/0", "labels/immune/0", "state/t_kills", "state/immune_events"):
        np.testing.assert_array_equal(za[name][...], zb[name][...], err_msg=name)
    with h5py.File(full / "summary.h5") as fa, h5py.File(part / "summary.h5") as fb:
        for col in ("t_cells", "exhausted_t_cells", "macrophages", "kills", "exhausted", "recruited",
                    "t_cell_deaths", "t_cells_killed_by_macrophages"):
            np.testing.assert_array_equal(fa["timeseries"][col][()], fb["timeseries"][col][()], err_msg=col)
        assert fa["timeseries"]["kills"][-1] > 0
