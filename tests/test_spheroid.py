"""A tumour held at fixed size in well-oxygenated tissue develops a necrotic core whose radius
matches the analytic oxygen profile (docs/validation.md "Analytic checks": uptake in a disc/sphere).

Set-up: every voxel outside radius R is a vessel (Dirichlet-like 38 mmHg source), so the tumour
cannot grow and sees c(R) = 38 mmHg. Live cells consume with k = 10/min (λ = √(D/k) = 100 µm);
necrotic cells only decay (0.1/min). Cells die where pO2 < 5 mmHg, so the core stops growing
when the innermost live cells sit at 5 mmHg: the predicted core radius r_n solves
c(r_n) = 5 mmHg for the piecewise profile (rim: I₀/K₀ in 2D, sinh/cosh over r in 3D; core:
decay only), continuous in value and flux at r_n.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import i0, i1, k0, k1

from lattice import codes
from tests.conftest import build_model

D, K_LIVE, K_CORE, C_OUT, C_STAR = 1.0e5, 10.0, 0.1, 38.0, 5.0


def boundary_oxygen_2d(rn, R):
    """pO2 at r_n for a live rim rn < r < R (uptake) around a non-consuming core, 2D."""
    lam, lam_c = math.sqrt(D / K_LIVE), math.sqrt(D / K_CORE)
    x, xc, xr = rn / lam, rn / lam_c, R / lam
    # Unknowns A, B, alpha: value and flux continuity at rn, c(R) = C_OUT.
    M = np.array([[i0(x), k0(x), -i0(xc)],
                  [i1(x) / lam, -k1(x) / lam, -i1(xc) / lam_c],
                  [i0(xr), k0(xr), 0.0]])
    A, B, alpha = np.linalg.solve(M, [0.0, 0.0, C_OUT])
    return alpha * i0(xc)


def boundary_oxygen_3d(rn, R):
    lam, lam_c = math.sqrt(D / K_LIVE), math.sqrt(D / K_CORE)
    # rim: (A sinh(r/λ) + B cosh(r/λ)) / r ; core: α sinh(r/λc) / r
    def f(r, l, kind):
        return (math.sinh if kind == "s" else math.cosh)(r / l) / r

    def df(r, l, kind):
        g, h = (math.sinh, math.cosh) if kind == "s" else (math.cosh, math.sinh)
        return h(r / l) / (l * r) - g(r / l) / r**2
    M = np.array([[f(rn, lam, "s"), f(rn, lam, "c"), -f(rn, lam_c, "s")],
                  [df(rn, lam, "s"), df(rn, lam, "c"), -df(rn, lam_c, "s")],
                  [f(R, lam, "s"), f(R, lam, "c"), 0.0]])
    A, B, alpha = np.linalg.solve(M, [0.0, 0.0, C_OUT])
    return alpha * f(rn, lam_c, "s")


def predicted_core_radius(R, ndim):
    g = boundary_oxygen_2d if ndim == 2 else boundary_oxygen_3d
    return brentq(lambda rn: g(rn, R) - C_STAR, 1.0, R - 1.0)


@pytest.mark.parametrize("ndim,shape,R_um,hours", [(2, [58, 58], 500.0, 240), (3, [54, 54, 54], 500.0, 168)])
def test_necrotic_core_radius_matches_analytic_profile(ndim, shape, R_um, hours):
    """Tolerance: |r_n(measured) − r_n(analytic)| ≤ 1.5 voxels (30 µm), r_n from the
    equivalent-area (2D) or equivalent-volume (3D) radius of the necrotic voxels."""
    h = 20.0
    model = build_model(
        f"grid.shape={shape}", "organ.vessels.pattern=random", "organ.vessels.density=1.0",
        f"organ.vessels.tumour_clearance_um={R_um}", f"tumour.initial.radius_um={R_um}",
        "fields.glucose.enabled=false", "fields.oxygen.boundary_value=38.0",
        "fields.oxygen.vessel_permeability_per_min=1.0e5", "fields.cycles=6",
        f"duration_h={hours}",
    )
    state = model.initial_state()
    for _ in range(hours):
        state = model.step(state)
    necrotic = int((state.cells == codes.NECROTIC).sum())
    live = int(codes.is_live_tumour(state.cells).sum())
    assert live > 0 and necrotic > 0
    if ndim == 2:
        rn = math.sqrt(necrotic / math.pi) * h
    else:
        rn = (3 * necrotic / (4 * math.pi)) ** (1 / 3) * h
    expected = predicted_core_radius(R_um, ndim)
    assert abs(rn - expected) <= 1.5 * h, f"necrotic core {rn:.0f} µm vs analytic {expected:.0f} µm"
