"""LOD solver (lattice.solvers.lod): exactness against a dense float64 solve of the same split
scheme, analytic solutions (Gaussian spreading, steady slab with uptake), conservation, the
maximum principle for huge steps, periodic wrap, batching, and the documented splitting error.

Small lattices only; the whole file runs in a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from lattice.backend import cupy_usable
from lattice.solvers import get_solver, lod
from lattice.solvers.lod import line_factors, solve

F32 = np.float32
BOUNDARIES = ("zero_flux", "dirichlet", "periodic")


def run(c, *, dt, h=1.0, D=1.0, lam=0.0, uptake=None, source=None, boundary="zero_flux", g=0.0,
        steps=1):
    """``steps`` LOD steps of float32 ``c`` (B, *S) with per-field scalars broadcast to (B,)."""
    B = c.shape[0]
    def per(v):
        return np.broadcast_to(np.asarray(v, dtype=F32), (B,)).copy()
    for _ in range(steps):
        c = solve(c, dt_min=dt, spacing_um=h, diffusion=per(D), decay=per(lam), uptake=uptake,
                  source=source, boundary=boundary, boundary_value=per(g))
    return c


def gaussian(shape, var, shift=None):
    """Unit-mass Gaussian of variance ``var`` (cells²) sampled at cell centres, centred."""
    axes = [np.arange(n) + 0.5 - n / 2 for n in shape]
    grids = np.meshgrid(*axes, indexing="ij")
    r2 = sum(x * x for x in grids)
    return np.exp(-r2 / (2 * var)) / (2 * np.pi * var) ** (len(shape) / 2)


def dense_line(n, r, boundary):
    """Float64 matrix of (I − r∂²) on a cell-centred line, and its Dirichlet rhs per unit g."""
    A = np.zeros((n, n))
    rhs = np.zeros(n)
    for i in range(n):
        A[i, i] += 1 + 2 * r
        for j in (i - 1, i + 1):
            if 0 <= j < n:
                A[i, j] -= r
            elif boundary == "zero_flux":
                A[i, i] -= r
            elif boundary == "dirichlet":
                A[i, i] += r
                rhs[i] += 2 * r
            else:
                A[i, j % n] -= r
    return A, rhs


def dense_lod(c, *, dt, h, D, lam, uptake, source, boundary, g):
    """The same split step in float64 with dense solves (reaction, then x, y, z)."""
    B, shape = c.shape[0], c.shape[1:]
    def col(v):
        return np.asarray(v, dtype=np.float64).reshape((B,) + (1,) * len(shape))
    x = (c + dt * source) / (1 + dt * (col(lam) + uptake))
    for b in range(B):
        y = x[b]
        for ax in reversed(range(len(shape))):
            n = shape[ax]
            A, rhs = dense_line(n, float(F32(D[b])) * dt / h**2, boundary)
            ym = np.moveaxis(y, ax, 0)
            sol = np.linalg.solve(A, ym.reshape(n, -1) + (rhs * float(F32(g[b])))[:, None])
            y = np.moveaxis(sol.reshape(ym.shape), 0, ax)
        x[b] = y
    return x


def test_registered_and_contract():
    assert get_solver("lod") is solve
    c = np.random.default_rng(0).random((2, 5, 6)).astype(F32)
    before = c.copy()
    out = run(c, dt=0.5, lam=0.1)
    assert out.dtype == F32 and out.shape == c.shape and out.flags.c_contiguous
    np.testing.assert_array_equal(c, before)  # input untouched
    with pytest.raises(ValueError):
        run(c, dt=0.5, boundary="open")
    with pytest.raises(TypeError):
        run(c.astype(np.float64), dt=0.5)
    with pytest.raises(ValueError):
        solve(c, dt_min=1.0, spacing_um=1.0, diffusion=np.ones(3, F32), decay=np.zeros(2, F32),
              uptake=None, source=None, boundary="zero_flux", boundary_value=np.zeros(2, F32))
    with pytest.raises(ValueError):
        solve(c, dt_min=1.0, spacing_um=1.0, diffusion=np.ones(2, F32), decay=np.zeros(2, F32),
              uptake=None, source=None, boundary="zero_flux", boundary_value=np.zeros(2, F32),
              engine="lapack")


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("shape", [(7, 9), (1, 2), (2, 3), (3, 4, 6), (2, 1, 5)])
def test_matches_dense_float64_split_step(boundary, shape):
    """Every boundary, odd sizes (n = 1, 2 included): the Thomas/Sherman–Morrison sweeps equal a
    dense float64 solve of the same split scheme to float32 rounding."""
    rng = np.random.default_rng(1)
    B = 2
    c = rng.random((B, *shape)).astype(F32)
    u = rng.random((B, *shape)).astype(F32)
    s = rng.random((B, *shape)).astype(F32)
    D, lam, g = np.array([100.0, 300.0], F32), np.array([0.1, 0.2], F32), np.array([0.5, 2.0], F32)
    kw = {"dt": 0.7, "h": 10.0, "D": D, "lam": lam, "uptake": u, "source": s, "boundary": boundary, "g": g}
    out = solve(c, dt_min=0.7, spacing_um=10.0, diffusion=D, decay=lam, uptake=u, source=s,
                boundary=boundary, boundary_value=g)
    ref = dense_lod(c.astype(np.float64), **kw)
    assert np.abs(out - ref).max() <= 2e-6 * np.abs(ref).max()


@pytest.mark.parametrize("shape", [(64, 64), (40, 40, 40)])
def test_gaussian_spreading_first_order_in_dt(shape):
    """Unit Gaussian, σ₀² = 9 cells², D = 1, T = 8: against the exact Gaussian with
    σ² = σ₀² + 2DT. Tolerance: max error / peak < 4 % (2D) / 5 % (3D) at dt = T/16 (what is left
    is mostly O(h²) space error), and successive error differences halve with dt (order 0.8–1.2)."""
    var0, D, T = 9.0, 1.0, 8.0
    c0 = gaussian(shape, var0)[None].astype(F32)
    exact = gaussian(shape, var0 + 2 * D * T)
    errs = []
    for nsteps in (4, 8, 16):
        c = run(c0, dt=T / nsteps, D=D, steps=nsteps)
        errs.append(np.abs(c[0] - exact).max() / exact.max())
    order = np.log2((errs[0] - errs[1]) / (errs[1] - errs[2]))
    assert errs[0] > errs[1] > errs[2]
    assert 0.8 < order < 1.2, (errs, order)
    assert errs[2] < (0.04 if len(shape) == 2 else 0.05), errs


def slab_steady_state(dt, *, k, D, h, n=80, steps=None):
    """Zero flux everywhere, source s₀ in the first column, uniform uptake k: run to steady
    state; returns the profile along x (float64) and s₀."""
    s0 = 1.0
    shape = (1, 2, n)
    source = np.zeros(shape, F32)
    source[..., 0] = s0
    uptake = np.full(shape, k, F32)
    steps = steps or int(np.ceil(12.0 / (k * dt))) + 2  # all modes decay at least like e^(−kt)
    c = run(np.zeros(shape, F32), dt=dt, h=h, D=D, uptake=uptake, source=source, steps=steps)
    assert np.allclose(c[0, 0], c[0, 1], rtol=1e-6)  # stays uniform across the thin direction
    return c[0, 0].astype(np.float64), s0


def test_steady_slab_matches_exponential():
    """Steady ∂c/∂t = D c'' − k c + s with the source in the first cell: for x ≥ h the exact
    solution is c₀ e^{−x/λ}, λ = √(D/k), c₀ = (s₀/k)·sinh(h/λ) (x from the face). With
    k·dt = 2e-3 (splitting error 0.1 % in λ) and λ = 5 cells, the profile matches within 2 %
    over 1 ≤ x/h ≤ 3λ/h (the rest is the O(h²/λ²) space error)."""
    D, k, h = 25.0, 1.0, 1.0
    lam_len = np.sqrt(D / k)
    prof, s0 = slab_steady_state(2e-3, k=k, D=D, h=h, steps=6000)
    x = (np.arange(prof.size) + 0.5) * h
    exact = s0 / k * np.sinh(h / lam_len) * np.exp(-x / lam_len)
    sel = (x >= h) & (x <= 3 * lam_len)
    rel = np.abs(prof[sel] - exact[sel]) / exact[sel]
    assert rel.max() < 0.02, rel.max()


def test_splitting_error_as_documented():
    """The docstring's claim: LOD's fixed point with first-order loss k solves
    −D(1 + k·dt)∇²c + kc = s, so the penetration length is λ√(1 + k·dt). With oxygen-like
    numbers (D = 1e5 µm²/min, h = 20 µm, k = 10/min, λ = 100 µm = 5 cells): at dt = 0.01 min the
    profile is within 5 % of the unsplit steady state near the source (λ off by √1.1 − 1 ≈ 5 %);
    at dt = 60 min it is wildly off (λ ≈ 24.5× too long, the source cell ~90 % low). In both
    cases the profile equals the dense steady state with D(1 + k·dt) to 1e-4, which confirms
    the formula."""
    D, k, h, n = 1e5, 10.0, 20.0, 80

    def unsplit_steady(D_eff):
        A, _ = dense_line(n, D_eff / h**2, "zero_flux")  # (I − D_eff ∂²) with r = D_eff/h²…
        M = (A - np.eye(n)) + k * np.eye(n)  # …so M = −D_eff ∂² + k
        rhs = np.zeros(n)
        rhs[0] = 1.0
        return np.linalg.solve(M, rhs)

    exact = unsplit_steady(D)
    near = slice(0, 10)  # x ≤ 2λ
    for dt, steps in ((0.01, 150), (60.0, 12)):
        prof, _ = slab_steady_state(dt, k=k, D=D, h=h, n=n, steps=steps)
        predicted = unsplit_steady(D * (1 + k * dt))
        assert np.abs(prof - predicted).max() <= 1e-4 * predicted.max()
        rel = np.abs(prof[near] - exact[near]) / exact[near]
        if dt == 0.01:
            assert rel.max() < 0.05, rel.max()
        else:
            assert rel.max() > 0.5, rel.max()  # the source cell reads ~90 % low


@pytest.mark.parametrize("shape", [(31, 17), (12, 9, 10)])
@pytest.mark.parametrize("r", [0.1, 10.0, 1e4])
def test_mass_conserved_zero_flux(shape, r):
    """No reaction, zero flux: total amount kept to float32 rounding (relative 1e-5)."""
    c = np.random.default_rng(2).random((2, *shape)).astype(F32)
    out = run(c, dt=r, D=1.0, steps=5)
    m0, m1 = c.sum(dtype=np.float64), out.sum(dtype=np.float64)
    assert abs(m1 - m0) <= 1e-5 * m0


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("r", [1.0, 100.0, 1e4])
def test_unconditionally_stable_max_principle(boundary, r):
    """D·dt/h² up to 1e4: finite, and within [min, max] of the initial values and the Dirichlet
    value (to float32 rounding)."""
    rng = np.random.default_rng(3)
    for shape in ((33, 17), (9, 10, 11)):
        c = rng.random((2, *shape)).astype(F32)
        g = np.array([0.3, 0.7], F32)
        out = run(c, dt=r, D=1.0, boundary=boundary, g=g, steps=3)
        assert np.isfinite(out).all()
        for b in range(2):
            lo, hi = c[b].min(), c[b].max()
            if boundary == "dirichlet":
                lo, hi = min(lo, g[b]), max(hi, g[b])
            assert out[b].min() >= lo - 1e-5 and out[b].max() <= hi + 1e-5


def test_dirichlet_holds_uniform_value_and_relaxes_to_it():
    """A field already at the Dirichlet value stays there; a zero field relaxes towards it."""
    g = 2.5
    c = np.full((1, 8, 9, 10), g, F32)
    np.testing.assert_allclose(run(c, dt=5.0, boundary="dirichlet", g=g), g, rtol=2e-6)
    out = run(np.zeros((1, 8, 9, 10), F32), dt=1e3, boundary="dirichlet", g=g, steps=10)
    np.testing.assert_allclose(out, g, rtol=1e-3)


@pytest.mark.parametrize("shape", [(32, 48), (20, 24, 16)])
def test_periodic_wraps(shape):
    """A Gaussian straddling the corner, spread with periodic boundaries, equals the centred
    Gaussian spread the same way and then shifted; far from the faces, periodic = zero flux."""
    centred = gaussian(shape, 4.0)[None].astype(F32)
    shift = tuple(n // 2 for n in shape)
    axes = tuple(range(1, len(shape) + 1))
    wrapped = np.roll(centred, shift, axis=axes)
    a = run(centred, dt=0.5, boundary="periodic", steps=4)
    b = run(wrapped, dt=0.5, boundary="periodic", steps=4)
    np.testing.assert_allclose(b, np.roll(a, shift, axis=axes), rtol=0, atol=1e-6 * a.max())
    zf = run(centred, dt=0.5, boundary="zero_flux", steps=4)
    np.testing.assert_allclose(a, zf, rtol=0, atol=1e-5 * a.max())
    assert abs(b.sum(dtype=np.float64) - centred.sum(dtype=np.float64)) < 1e-5 * centred.sum()


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("shape", [(12, 10), (6, 7, 8)])
def test_batch_bit_identical_to_single_calls(boundary, shape, monkeypatch):
    """B = 3 fields with different D, λ, g, uptake and source: bit-identical to three single
    calls, for every layout path (in-place slabs, copied slabs, field-by-field)."""
    rng = np.random.default_rng(4)
    B = 3
    c = rng.random((B, *shape)).astype(F32)
    u = rng.random((B, *shape)).astype(F32)
    s = rng.random((B, *shape)).astype(F32)
    D, lam, g = np.array([50, 80, 80], F32), np.array([0.1, 0.0, 0.3], F32), np.array([1, 2, 3], F32)
    kw = {"dt_min": 0.9, "spacing_um": 5.0, "boundary": boundary}
    for min_row, fieldwise in ((0, 1 << 30), (1 << 30, 1 << 30), (0, 1), (1 << 30, 1)):
        monkeypatch.setattr(lod, "_MIN_ROW", min_row)
        monkeypatch.setattr(lod, "_FIELDWISE_VOXELS", fieldwise)
        batched = solve(c, diffusion=D, decay=lam, uptake=u, source=s, boundary_value=g, **kw)
        for b in range(B):
            one = slice(b, b + 1)
            single = solve(c[one], diffusion=D[one], decay=lam[one], uptake=u[one], source=s[one],
                           boundary_value=g[one], **kw)
            np.testing.assert_array_equal(batched[one], single)


def test_zero_diffusion_is_pointwise_reaction():
    rng = np.random.default_rng(5)
    c, u, s = (rng.random((2, 5, 6)).astype(F32) for _ in range(3))
    out = run(c, dt=2.0, D=0.0, lam=0.5, uptake=u, source=s)
    expected = (c + F32(2.0) * s) / (F32(1.0) + F32(2.0) * (F32(0.5) + u))
    np.testing.assert_array_equal(out, expected)


def test_line_factors_cached_and_float32():
    f1 = line_factors(17, 2.5, "periodic")
    assert line_factors(17, 2.5, "periodic") is f1
    assert f1.a.dtype == f1.cp.dtype == f1.inv.dtype == f1.z.dtype == F32
    assert line_factors(17, 2.5, "zero_flux").z is None


@pytest.mark.gpu
def test_cupy_bit_identical_to_numpy():
    ok, why = cupy_usable()
    if not ok:
        pytest.skip(why)
    import cupy

    rng = np.random.default_rng(6)
    c, u, s = (rng.random((2, 9, 10, 11)).astype(F32) for _ in range(3))
    D, lam, g = np.array([40, 90], F32), np.array([0.1, 0.2], F32), np.array([1, 2], F32)
    for boundary in BOUNDARIES:
        kw = {"dt_min": 0.8, "spacing_um": 3.0, "boundary": boundary}
        ref = solve(c, diffusion=D, decay=lam, uptake=u, source=s, boundary_value=g, **kw)
        dev = solve(cupy.asarray(c), diffusion=cupy.asarray(D), decay=cupy.asarray(lam),
                    uptake=cupy.asarray(u), source=cupy.asarray(s), boundary_value=cupy.asarray(g),
                    **kw)
        assert isinstance(dev, cupy.ndarray)
        np.testing.assert_array_equal(cupy.asnumpy(dev), ref)


def test_model_diffusion_step_with_lod(model_factory):
    """Smoke: the diffusion process runs a one-hour cell step with fields.solver=lod."""
    from lattice.processes import diffusion

    model = model_factory("fields.solver=lod")
    state = model.initial_state()
    new = diffusion.update(state, model)
    fields = np.asarray(new.fields)
    assert fields.dtype == F32 and fields.shape == state.fields.shape
    assert np.isfinite(fields).all() and fields.min() >= 0
