"""Field solvers against analytic solutions (docs/model.md: Gaussian spreading, steady state with
first-order uptake in a slab / disc / sphere, mass conservation under zero flux), plus the
stability contract and batching.

Units are arbitrary but consistent (D in µm²/min, h in µm, t in min). Tolerances are stated in
each test's docstring; the measured values they guard are quoted beside them.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import i0

from lattice.solvers import UnstableStepError, get_solver
from lattice.solvers import ftcs as ftcs_module

SOLVERS = ("multigrid", "ftcs")
BOUNDARIES = ("zero_flux", "dirichlet", "periodic")
MG_EXACT = {"cycles": 12}  # enough V-cycles that the algebraic error is at float32 rounding


def params(batch=1, *, dt, h=1.0, D=1.0, lam=0.0, boundary="zero_flux", g=0.0, uptake=None, source=None):
    """Keyword arguments of the solver contract for a batch of identical fields."""
    return {
        "dt_min": dt, "spacing_um": h, "diffusion": np.full(batch, D, np.float32),
        "decay": np.full(batch, lam, np.float32), "uptake": uptake, "source": source, "boundary": boundary,
        "boundary_value": np.full(batch, g, np.float32),
    }


def options(name: str, cycles: int = 12) -> dict:
    return {"cycles": cycles} if name == "multigrid" else {}


def centres(shape, h=1.0):
    """Voxel-centre coordinates per axis (cell-centred: ``(i + ½) h``)."""
    return np.meshgrid(*[(np.arange(n) + 0.5) * h for n in shape], indexing="ij")


# ---------------------------------------------------------------------------------------------
# Gaussian spreading


def periodic_gaussian(shape, h, sigma2, amplitude):
    """A Gaussian centred in a periodic box of side ``n h``, summed over the nearest images."""
    out = np.full(shape, amplitude, dtype=np.float64)
    for axis, n in enumerate(shape):
        x = (np.arange(n) + 0.5) * h - n * h / 2
        profile = sum(np.exp(-((x + m * n * h) ** 2) / (2 * sigma2)) for m in (-2, -1, 0, 1, 2))
        out = out * profile.reshape([-1 if a == axis else 1 for a in range(len(shape))])
    return out


def gaussian_error(name, shape, h, sigma0, t, dt, D=1.0):
    """Max error, relative to the peak, of a spread Gaussian after time t (periodic box)."""
    c = periodic_gaussian(shape, h, sigma0**2, 1.0).astype(np.float32)[None]
    solve = get_solver(name)
    kw = params(dt=dt, h=h, D=D, boundary="periodic")
    for _ in range(round(t / dt)):
        c = solve(c, **kw, **options(name))
    sigma2 = sigma0**2 + 2 * D * t
    exact = periodic_gaussian(shape, h, sigma2, (sigma0**2 / sigma2) ** (len(shape) / 2))
    return float(np.abs(c[0] - exact).max() / exact.max())


@pytest.mark.parametrize("shape,sigma0,t", [((64, 64), 4.0, 16.0), ((32, 32, 32), 3.0, 8.0)],
                         ids=["2d", "3d"])
def test_gaussian_backward_euler_first_order_in_dt(shape, sigma0, t):
    """Multigrid (backward Euler), fixed h: halving dt halves the error (ratio 1.6–2.2; measured
    1.84–1.92), and the error at dt = t/16 is below 7 % of the peak (measured 3.1 % 2D, 5.7 % 3D)."""
    errors = [gaussian_error("multigrid", shape, 1.0, sigma0, t, t / n) for n in (2, 4, 8, 16)]
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all((ratios > 1.6) & (ratios < 2.2)), (errors, ratios)
    assert errors[-1] < 0.07


@pytest.mark.parametrize("shape,sigma0,t,refinements", [((32, 32), 2.0, 2.0, (1, 2, 4)),
                                                       ((16, 16, 16), 1.5, 1.0, (1, 2))],
                         ids=["2d", "3d"])
def test_gaussian_ftcs_second_order_in_h(shape, sigma0, t, refinements):
    """FTCS with dt = 0.1 h²/D in a fixed periodic box: halving h divides the error by ~4 (ratio
    3.5–4.5; measured 4.0–4.1); the error is below 0.5 % of the peak at h = 1 (measured 0.32 %
    2D, 0.40 % 3D)."""
    errors = []
    for f in refinements:
        h = 1.0 / f
        errors.append(gaussian_error("ftcs", tuple(n * f for n in shape), h, sigma0, t, 0.1 * h * h))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all((ratios > 3.5) & (ratios < 4.5)), (errors, ratios)
    assert errors[0] < 0.005


# ---------------------------------------------------------------------------------------------
# Discrete eigenmodes: every boundary, both solvers, exact to float32 rounding


def eigenmode(shape, boundary):
    """An eigenvector of the cell-centred Laplacian under ``boundary`` and its eigenvalue (h = 1)."""
    mode = np.ones(shape)
    mu = 0.0
    for axis, n in enumerate(shape):
        i = np.arange(n) + 0.5
        if boundary == "dirichlet":
            v, theta = np.sin(np.pi * i / n), np.pi / n  # ghost −c: odd about each face
        elif boundary == "zero_flux":
            v, theta = np.cos(np.pi * i / n), np.pi / n  # ghost = c: even about each face
        else:
            v, theta = np.cos(2 * np.pi * i / n), 2 * np.pi / n
        mode = mode * v.reshape([-1 if a == axis else 1 for a in range(len(shape))])
        mu += 2.0 - 2.0 * np.cos(theta)
    return mode, mu


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("shape", [(20, 13), (9, 12, 7)], ids=["2d", "3d"])
def test_eigenmode_decays_at_the_discrete_rate(name, boundary, shape):
    """``c = g + A·φ`` with φ a discrete eigenmode (eigenvalue μ), uptake k and source k·g (so that
    g is steady, also under Dirichlet value g): each step multiplies A by exactly
    ``1/(1 + dt(Dμ + k))`` (backward Euler) or ``1 − dt(Dμ + k)`` (FTCS). Checked after 5 steps
    to 2e-5 of A (measured ≤ 6.4e-7): the boundary ghosts (2g − c, c, wrap) and the operator are
    exactly right."""
    D, k, g, amp = 2.0, 0.05, 3.0, 1.0
    mode, mu = eigenmode(shape, boundary)
    dt = 0.9 / (2 * len(shape) * D + k) if name == "ftcs" else 4.0
    uptake = np.full((1, *shape), k, np.float32)
    source = np.full((1, *shape), k * g, np.float32)
    c = (g + amp * mode).astype(np.float32)[None]
    solve = get_solver(name)
    kw = params(dt=dt, D=D, boundary=boundary, g=g, uptake=uptake, source=source)
    steps = 5
    for _ in range(steps):
        c = solve(c, **kw, **options(name))
    rate = D * mu + k
    factor = (1.0 / (1.0 + dt * rate)) if name == "multigrid" else (1.0 - dt * rate)
    exact = g + amp * factor**steps * mode
    assert np.abs(c[0] - exact).max() < 2e-5 * amp


# ---------------------------------------------------------------------------------------------
# Steady states with first-order uptake (one backward-Euler solve with a huge step)

HELD = 1.0e6  # uptake (1/min) that holds a voxel at s/u


def steady_state(held, held_value, k, *, boundary="zero_flux", cycles=20):
    """One backward-Euler multigrid solve with dt = 1e6 min (D = 1, h = 1): voxels in ``held`` are
    held at ``held_value`` by uptake 1e6 and source 1e6·value, the others take up k."""
    uptake = np.where(held, HELD, k).astype(np.float32)[None]
    source = np.where(held, HELD * held_value, 0.0).astype(np.float32)[None]
    c = np.zeros((1, *held.shape), np.float32)
    kw = params(dt=1.0e6, boundary=boundary, uptake=uptake, source=source)
    return get_solver("multigrid")(c, **kw, cycles=cycles)[0].astype(np.float64)


@pytest.mark.parametrize("ndim", [2, 3])
def test_steady_slab(ndim):
    """Slab, 1D variation: layer x = 0 held at c₀ = 1, zero flux elsewhere, uptake k = D/λ²,
    domain 16λ long; exact c₀·cosh((L − x)/λ)/cosh(L/λ) (x from the held layer's centre, far face
    at L = (N − ½)h). Max relative error where c > 1e-2: < 1.5 % at λ = 4 voxels (measured
    1.17 %), < 0.4 % at λ = 8 (0.28 %): second order, ratio > 3."""
    errors = []
    for lam in (4, 8):
        n = 16 * lam
        shape = (n,) + (4,) * (ndim - 1)
        x = centres(shape)[0] - 0.5
        c = steady_state(x == 0, 1.0, 1.0 / lam**2)
        length = n - 0.5
        exact = np.cosh((length - x) / lam) / np.cosh(length / lam)
        sel = exact > 1e-2
        errors.append(np.max(np.abs(c - exact)[sel] / exact[sel]))
    assert errors[0] < 0.015 and errors[1] < 0.004, errors
    assert errors[0] / errors[1] > 3.0, errors


def ball(n, ndim):
    """Distance of each voxel centre from the lattice centre (voxel units)."""
    grids = np.meshgrid(*[np.arange(n) - (n - 1) / 2] * ndim, indexing="ij")
    return np.sqrt(sum(g**2 for g in grids))


def disc_exact(r, R, lam):
    return i0(r / lam) / i0(R / lam)


def sphere_exact(r, R, lam):
    r = np.maximum(r, 1e-12)
    return (R / r) * np.sinh(r / lam) / np.sinh(R / lam)


@pytest.mark.parametrize("ndim", [2, 3], ids=["disc", "sphere"])
def test_steady_disc_sphere_held_at_c0(ndim):
    """Disc (2D, R = 4λ) / sphere (3D, R = 3λ) with c₀ = 1 held outside (u = 1e6, s = 1e6·c₀ in
    voxels whose centre lies beyond R), uptake k = D/λ² inside; exact I₀(r/λ)/I₀(R/λ) and
    (R/r)·sinh(r/λ)/sinh(R/λ). The staircase boundary puts the held values up to h beyond R, an
    O(h/λ) error: max relative error inside < 10 % at λ = 6 voxels (disc; measured 8.3 %) and
    λ = 4 (sphere; measured 7.7 %), and halving h divides it by > 1.4 (measured 1.9 disc, 1.65
    sphere)."""
    exact_fn = disc_exact if ndim == 2 else sphere_exact
    lams = (6, 12) if ndim == 2 else (4, 8)
    errors = []
    for lam in lams:
        R = 4 * lam if ndim == 2 else 3 * lam
        r = ball(2 * R + 4, ndim)
        held = r > R
        c = steady_state(held, 1.0, 1.0 / lam**2)
        exact = exact_fn(r, R, lam)
        errors.append(np.max(np.abs(c - exact)[~held] / exact[~held]))
    assert errors[0] < 0.10, errors
    assert errors[0] / errors[1] > 1.4, errors


@pytest.mark.parametrize("ndim", [2, 3], ids=["disc", "sphere"])
def test_steady_disc_sphere_second_order(ndim):
    """As above, but the held voxels carry the exact solution's smooth continuation (which solves
    the same equation), so no staircase error remains: max relative error inside < 1 % at
    λ = 4 voxels (measured 0.69 % disc, 0.32 % sphere), and halving h divides it by > 3
    (measured 4.3, 4.6)."""
    exact_fn = disc_exact if ndim == 2 else sphere_exact
    errors = []
    for lam in (4, 8):
        R = 4 * lam if ndim == 2 else 3 * lam
        r = ball(2 * R + 4, ndim)
        held = r > R
        exact = exact_fn(r, R, lam)
        c = steady_state(held, exact, 1.0 / lam**2)
        errors.append(np.max(np.abs(c - exact)[~held] / exact[~held]))
    assert errors[0] < 0.01, errors
    assert errors[0] / errors[1] > 3.0, errors


def test_steady_state_dirichlet_boundary():
    """The lattice's own Dirichlet faces: square of side L with c = g on its outer faces, uptake k
    and source k·g inside, so the steady state is exactly g everywhere. From a zero start, one
    backward-Euler step of 1e8 min reaches it to within 1/(1 + dt·k) = 1e-6 relative; asserted to
    1e-5."""
    shape = (37, 50)
    k, g = 0.01, 2.5
    uptake = np.full((1, *shape), k, np.float32)
    source = np.full((1, *shape), k * g, np.float32)
    c0 = np.zeros((1, *shape), np.float32)
    kw = params(dt=1.0e8, boundary="dirichlet", g=g, uptake=uptake, source=source)
    c = get_solver("multigrid")(c0, **kw, cycles=12)
    assert np.abs(c - g).max() < 1e-5 * g


# ---------------------------------------------------------------------------------------------
# Mass conservation


@pytest.mark.parametrize("boundary", ["zero_flux", "periodic"])
@pytest.mark.parametrize("shape", [(32, 29), (14, 16, 11)], ids=["2d", "3d"])
def test_mass_conserved_ftcs(boundary, shape):
    """FTCS, no decay/uptake/source, 400 steps at 90 % of the stable step: the total changes by
    < 1e-5 relative (float32 rounding; measured ≤ 6e-8)."""
    rng = np.random.default_rng(1)
    c = (1.0 + rng.random((2, *shape))).astype(np.float32)
    total0 = c.astype(np.float64).sum(axis=tuple(range(1, c.ndim)))
    D = np.array([1.0, 3.0], np.float32)
    dt = 0.9 / (2 * len(shape) * 3.0)
    kw = {"dt_min": dt, "spacing_um": 1.0, "diffusion": D, "decay": np.zeros(2, np.float32),
          "boundary": boundary}
    for _ in range(400):
        c = get_solver("ftcs")(c, **kw)
    total = c.astype(np.float64).sum(axis=tuple(range(1, c.ndim)))
    assert np.all(np.abs(total / total0 - 1.0) < 1e-5)


@pytest.mark.parametrize("boundary", ["zero_flux", "periodic"])
@pytest.mark.parametrize("shape", [(32, 29), (14, 16, 11)], ids=["2d", "3d"])
@pytest.mark.parametrize("ratio", [10.0, 1.0e4])
def test_mass_conserved_multigrid(boundary, shape, ratio):
    """Multigrid, no decay/uptake/source, 20 steps with D·dt/h² = 10 and 1e4, 8 V-cycles each:
    the total changes by < 1e-5 relative. (The mass error of a step is the sum of its residual,
    so it measures convergence: 8 cycles, measured ≤ 1.2e-8; the default 4 give ≤ 2.3e-7.)"""
    rng = np.random.default_rng(2)
    c = (1.0 + rng.random((1, *shape))).astype(np.float32)
    total0 = c.astype(np.float64).sum()
    kw = params(dt=ratio, boundary=boundary)
    for _ in range(20):
        c = get_solver("multigrid")(c, **kw, cycles=8)
    assert abs(c.astype(np.float64).sum() / total0 - 1.0) < 1e-5


# ---------------------------------------------------------------------------------------------
# Stability


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("ratio", [1e2, 1e3, 1e4])
@pytest.mark.parametrize("shape", [(40, 33), (17, 20, 15)], ids=["2d", "3d"])
def test_multigrid_stable_and_bounded(boundary, ratio, shape):
    """Multigrid with D·dt/h² = 1e2…1e4 from a random field in [1, 2] (Dirichlet value 1.5),
    default 4 cycles, 3 steps: finite, and within [min, max] of the initial data up to 1e-3 of
    its range (maximum principle of backward Euler; the slack allows for the unconverged
    algebraic error, measured 0: no overshoot at all)."""
    rng = np.random.default_rng(3)
    c = (1.0 + rng.random((1, *shape))).astype(np.float32)
    lo, hi = float(c.min()), float(c.max())
    kw = params(dt=ratio, boundary=boundary, g=1.5)
    for _ in range(3):
        c = get_solver("multigrid")(c, **kw)
        assert np.all(np.isfinite(c))
        assert c.min() >= lo - 1e-3 * (hi - lo) and c.max() <= hi + 1e-3 * (hi - lo)


@pytest.mark.parametrize("shape", [(40, 33), (17, 20, 15)], ids=["2d", "3d"])
def test_multigrid_stable_with_stiff_uptake(shape):
    """Uptake jumping between 0, 10 and 1e3 /min (vessels) with D = 1e5 µm²/min, h = 20 µm,
    dt = 60 min, no source: the field stays finite, ≥ −1e-3·max and ≤ its initial max."""
    rng = np.random.default_rng(4)
    c = (38.0 * rng.random((1, *shape))).astype(np.float32)
    uptake = np.where(rng.random(shape) < 0.3, 10.0, 0.0)
    uptake[rng.random(shape) < 0.02] = 1e3
    kw = params(dt=60.0, h=20.0, D=1e5, lam=0.1, boundary="zero_flux",
                uptake=uptake.astype(np.float32)[None])
    top = float(c.max())
    for _ in range(3):
        c = get_solver("multigrid")(c, **kw)
        assert np.all(np.isfinite(c))
        assert c.min() >= -1e-3 * top and c.max() <= top


def test_ftcs_raises_for_unstable_step():
    """dt above 1/(2·ndim·D/h² + λ + max u) raises UnstableStepError naming D and the largest
    stable step; at the bound it runs."""
    shape = (12, 10)
    D = np.array([1.0, 5.0], np.float32)
    lam = np.array([0.1, 0.2], np.float32)
    uptake = np.zeros((2, *shape), np.float32)
    uptake[1, 3, 4] = 2.0
    dt_max = 1.0 / (2 * 2 * 5.0 / 4.0 + 0.2 + 2.0)  # h = 2: the second field sets it
    kw = {"spacing_um": 2.0, "diffusion": D, "decay": lam, "uptake": uptake, "boundary": "zero_flux"}
    c = np.ones((2, *shape), np.float32)
    with pytest.raises(UnstableStepError) as info:
        get_solver("ftcs")(c, dt_min=1.5 * dt_max, **kw)
    message = str(info.value)
    assert "D=5" in message and f"dt_min={dt_max:.4g}" in message
    assert "multigrid" in message and "substeps" in message
    assert "\n" not in message
    out = get_solver("ftcs")(c, dt_min=dt_max, **kw)
    assert np.all(np.isfinite(out))
    assert ftcs_module.stable_dt(spacing_um=2.0, diffusion=D, decay=lam, uptake=uptake, ndim=2)[0] == (
        pytest.approx(dt_max, rel=1e-6))


# ---------------------------------------------------------------------------------------------
# Batching


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("shape", [(21, 18), (9, 10, 7)], ids=["2d", "3d"])
def test_batch_equals_separate_calls(name, boundary, shape):
    """A batch of B = 3 fields with different D, λ, u, s and Dirichlet values gives bit-identical
    results to three separate calls."""
    rng = np.random.default_rng(5)
    c = rng.random((3, *shape)).astype(np.float32)
    D = np.array([1.0, 0.3, 2.0], np.float32)
    lam = np.array([0.0, 0.1, 0.02], np.float32)
    g = np.array([0.5, 1.0, 0.0], np.float32)
    uptake = (rng.random((3, *shape)) < 0.2).astype(np.float32) * np.array([1.0, 5.0, 0.5]).reshape(
        (3,) + (1,) * len(shape)).astype(np.float32)
    source = rng.random((3, *shape)).astype(np.float32) * 0.1
    dt = 0.05 if name == "ftcs" else 5.0
    solve = get_solver(name)
    common = dict(dt_min=dt, spacing_um=1.0, boundary=boundary, **options(name, cycles=3))
    together = solve(c, diffusion=D, decay=lam, uptake=uptake, source=source, boundary_value=g, **common)
    for b in range(3):
        alone = solve(c[b:b + 1], diffusion=D[b:b + 1], decay=lam[b:b + 1], uptake=uptake[b:b + 1],
                      source=source[b:b + 1], boundary_value=g[b:b + 1], **common)
        assert np.array_equal(together[b], alone[0]), b


@pytest.mark.parametrize("name", SOLVERS)
def test_contract_types(name):
    """float32 in and out, shape kept, the input left untouched, None uptake/source accepted."""
    c = np.random.default_rng(6).random((2, 8, 9)).astype(np.float32)
    before = c.copy()
    out = get_solver(name)(c, **params(2, dt=0.1, boundary="dirichlet", g=1.0), **options(name, 2))
    assert out.dtype == np.float32 and out.shape == c.shape
    assert np.array_equal(c, before)
