"""Time one reaction–diffusion field step of every registered solver on BioFVM's benchmark problem.

Physics and units
-----------------
Each field obeys ``∂c/∂t = D∇²c − λc`` on a cubic cell-centred lattice (the solver contract of
:mod:`lattice.solvers`, with no uptake and no source), with the numbers of BioFVM's LOD solver
benchmark (Ghaffarizadeh et al. 2016):

- D = 1e5 µm²/min (oxygen), voxel edge h = 20 µm, step dt = 0.01 min, uniform decay λ = 0.1/min
  (so D·dt/h² = 2.5, λ·dt = 1e-3);
- lattices of 64³, 128³ and 200³ voxels, 1 and 4 independent fields (one batched call);
- zero-flux outer boundaries by default (``--boundary dirichlet`` holds 0 on the outer faces).

Initial field: 1 + a Gaussian bump of peak 1 and σ₀ = 4 voxels (80 µm) at the centre, so that
one step does real diffusion work (the diffusion length of one step, √(2D·dt) ≈ 2.2 voxels).

Reported per (solver, lattice, fields): median and minimum wall time of one step over
``--repeats`` timed calls after a warm-up call, in ms; voxel-updates/s = voxels × fields / median
time; and two accuracy columns, both ``max|c − c_ref| / max|c_ref|`` after one step:
``err dt/10``: against the same solver run as 10 steps of dt/10 (its own time-step error), and
``err exact``: against the exact solution (the Gaussian with σ² = σ₀² + 2D·dt, decayed by
e^{−λdt}; zero flux only), which adds the O(h²) space error common to all solvers. A solver
that cannot take dt = 0.01 min (FTCS: explicit, stable only for dt ≤ h²/(6D + …) ≈ 6.7e-4 min)
is timed with the fewest equal sub-steps that are stable, and the table says how many.

Solvers: every name in ``lattice.solvers.SOLVERS`` whose module imports (others are listed as
skipped); ``multigrid`` runs with ``--mg-cycles`` V-cycles (2 by default: enough at this small
dt, and the accuracy columns show it). ``--lapack-probe`` adds an exploratory LOD step whose
three line sweeps use LAPACK ``sgttrs`` (factorised once) instead of the vectorised NumPy Thomas
sweep, to show why the compiled inner sweep is not offered (see BENCHMARKS.md).

Reference numbers (2-core x86 CI machine, one field, ms per step at 64³ / 128³ / 200³):
BioFVM LOD solver, 2 threads: 21.8 / 205 / 581; paraBioFVM (vectorised OpenMP, float32):
1.5 / 12.3 / 44.5.

Run (from the repository root)::

    .venv/bin/python scripts/bench_diffusion.py                        # all sizes, 1 and 4 fields
    .venv/bin/python scripts/bench_diffusion.py --sizes 64 128 --fields 1 --repeats 7 \\
        --lapack-probe --json bench.json
    .venv/bin/python scripts/bench_diffusion.py --backend cupy         # GPU, cupy.cuda.Event timing
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

from lattice.backend import cupy_usable
from lattice.solvers import SOLVERS, UnstableStepError

D_UM2_PER_MIN = 1e5
SPACING_UM = 20.0
DT_MIN = 0.01
DECAY_PER_MIN = 0.1
SIGMA0_VOXELS = 4.0

REFERENCES_MS = {
    "BioFVM LOD, 2 threads": {64: 21.8, 128: 205.0, 200: 581.0},
    "paraBioFVM": {64: 1.5, 128: 12.3, 200: 44.5},
}


def machine_info() -> dict:
    """CPU model, core count and library versions (printed above the table)."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import scipy

    return {
        "cpu": model,
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }


def initial_field(n: int, fields: int) -> np.ndarray:
    """1 + a centred Gaussian bump (peak 1, σ₀ = 4 voxels); float32 ``(fields, n, n, n)``."""
    x = (np.arange(n) + 0.5 - n / 2).astype(np.float64)
    g1 = np.exp(-(x**2) / (2 * SIGMA0_VOXELS**2))
    bump = g1[:, None, None] * g1[None, :, None] * g1[None, None, :]
    c = (1.0 + bump).astype(np.float32)
    return np.broadcast_to(c, (fields, n, n, n)).copy()


def exact_field(n: int, dt: float) -> np.ndarray:
    """Exact zero-flux solution after ``dt`` for the initial field (free-space Gaussian; the bump
    is < 1e-10 at the faces for n ≥ 64, so the images are negligible); float64 ``(n, n, n)``."""
    x = np.arange(n) + 0.5 - n / 2
    var0 = SIGMA0_VOXELS**2
    var = var0 + 2 * D_UM2_PER_MIN * dt / SPACING_UM**2
    g1 = np.exp(-(x**2) / (2 * var)) * math.sqrt(var0 / var)
    bump = g1[:, None, None] * g1[None, :, None] * g1[None, None, :]
    return (1.0 + bump) * math.exp(-DECAY_PER_MIN * dt)


def load_solvers(names, lapack_probe: bool):
    """``{name: solve}`` for the solvers that import, and ``[(name, why)]`` for those that don't."""
    found, skipped = {}, []
    for name in names:
        try:
            module = importlib.import_module(f"lattice.solvers.{name}")
            found[name] = module.solve
        except ImportError as exc:
            skipped.append((name, f"module does not import ({exc})"))
    if lapack_probe:
        found["lod[lapack sgttrs probe]"] = lapack_lod_solve
    return found, skipped


def lapack_lod_solve(c, *, dt_min, spacing_um, diffusion, decay, uptake, source, boundary,
                     boundary_value, **_):
    """Exploratory LOD step (NumPy reaction, then x, y, z sweeps by LAPACK ``sgttrs`` with all
    lines of an axis as right-hand sides). Same scheme as ``lod``; CPU only; zero flux and
    Dirichlet; one diffusion coefficient for the whole batch."""
    from scipy.linalg import lapack

    if boundary == "periodic" or uptake is not None or source is not None:
        raise NotImplementedError("the LAPACK probe covers zero flux/Dirichlet without u, s")
    D = np.asarray(diffusion, dtype=np.float64)
    if np.any(D != D[0]):
        raise NotImplementedError("the LAPACK probe needs one D for the batch")
    B, ndim = c.shape[0], c.ndim
    den = (np.float32(1) + np.float32(dt_min) * np.asarray(decay, np.float32)).reshape(
        (B,) + (1,) * (ndim - 1))
    w = c / den
    r = float(np.float32(D[0])) * float(np.float32(dt_min)) / spacing_um**2
    g = np.asarray(boundary_value, np.float64).reshape((B,) + (1,) * (ndim - 2))
    for axis in range(ndim - 1, 0, -1):  # x, y, z like lod
        n = w.shape[axis]
        key = (n, r, boundary)
        if key not in _LAPACK_CACHE:
            d = np.full(n, 1 + 2 * r)
            edge = -r if boundary == "zero_flux" else r
            d[0] += edge
            d[-1] += edge
            off = np.full(n - 1, -r, dtype=np.float32)
            _LAPACK_CACHE[key] = lapack.sgttrf(off, d.astype(np.float32), off.copy())[:5]
        dl, d, du, du2, ipiv = _LAPACK_CACHE[key]
        line_last = np.ascontiguousarray(np.moveaxis(w, axis, -1)) if axis != ndim - 1 else w
        if boundary == "dirichlet":
            q = (2 * r * g).astype(np.float32)
            line_last[..., 0] += q
            line_last[..., -1] += q
        rhs = line_last.reshape(-1, n).T  # Fortran-ordered (n, lines): no copy
        x, info = lapack.sgttrs(dl, d, du, du2, ipiv, rhs, overwrite_b=1)
        if info != 0 or not np.shares_memory(x, line_last):
            raise RuntimeError("sgttrs did not solve in place")
        if axis != ndim - 1:
            np.copyto(np.moveaxis(w, axis, -1), line_last)
    return w


_LAPACK_CACHE: dict = {}


def fewest_stable_substeps(solve, c, kwargs) -> int:
    """1 if the solver takes ``dt`` in one step, else the fewest equal sub-steps it accepts."""
    for k in (1, 2, 4, 8, 16, 32, 64, 128, 256):
        kw = dict(kwargs, dt_min=kwargs["dt_min"] / k)
        try:
            solve(c[:1, :8, :8, :8].copy(), **dict(kw, diffusion=kw["diffusion"][:1],
                                                   decay=kw["decay"][:1],
                                                   boundary_value=kw["boundary_value"][:1]))
            return k
        except UnstableStepError:
            continue
    raise RuntimeError("no stable sub-step found")


def advance(solve, c, kwargs, dt, substeps):
    kw = dict(kwargs, dt_min=dt / substeps)
    for _ in range(substeps):
        c = solve(c, **kw)
    return c


def time_steps(run_once, repeats, xp):
    """Median and min wall time (s) of ``run_once`` after one warm-up call."""
    run_once()
    times = []
    if xp is np:
        for _ in range(repeats):
            t0 = time.perf_counter()
            run_once()
            times.append(time.perf_counter() - t0)
    else:
        start, stop = xp.cuda.Event(), xp.cuda.Event()
        for _ in range(repeats):
            start.record()
            run_once()
            stop.record()
            stop.synchronize()
            times.append(xp.cuda.get_elapsed_time(start, stop) / 1e3)
    return statistics.median(times), min(times)


def bench_one(name, solve, n, fields, args, xp):
    c_host = initial_field(n, fields)
    c = xp.asarray(c_host)
    kwargs = {
        "spacing_um": SPACING_UM,
        "diffusion": xp.full(fields, D_UM2_PER_MIN, dtype=xp.float32),
        "decay": xp.full(fields, DECAY_PER_MIN, dtype=xp.float32),
        "uptake": None,
        "source": None,
        "boundary": args.boundary,
        "boundary_value": xp.zeros(fields, dtype=xp.float32),
        "dt_min": DT_MIN,
    }
    if name == "multigrid":
        kwargs["cycles"] = args.mg_cycles
    substeps = fewest_stable_substeps(solve, c, kwargs)
    out = advance(solve, c, kwargs, DT_MIN, substeps)
    median, best = time_steps(lambda: advance(solve, c, kwargs, DT_MIN, substeps), args.repeats, xp)
    ref = advance(solve, c, kwargs, DT_MIN, 10 * substeps)
    out_h, ref_h = _host(out), _host(ref)
    err_ref = float(np.abs(out_h - ref_h).max() / np.abs(ref_h).max())
    err_exact = None
    if args.boundary == "zero_flux":
        exact = exact_field(n, DT_MIN)
        err_exact = float(np.abs(out_h - exact).max() / np.abs(exact).max())
    voxels = n**3 * fields
    label = f"{name} ({args.mg_cycles} cycles)" if name == "multigrid" else name
    return {
        "solver": label,
        "size": n,
        "fields": fields,
        "substeps": substeps,
        "ms_median": median * 1e3,
        "ms_min": best * 1e3,
        "voxel_updates_per_s": voxels / median,
        "err_vs_dt_over_10": err_ref,
        "err_vs_exact": err_exact,
    }


def _host(a):
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def markdown_table(rows) -> str:
    head = ("| solver | lattice | fields | ms/step (median) | ms (min) | voxel-updates/s "
            "| err dt/10 | err exact | BioFVM ms / ours | ours / paraBioFVM ms |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        name = r["solver"] + (f" ({r['substeps']} sub-steps)" if r["substeps"] > 1 else "")
        bio = REFERENCES_MS["BioFVM LOD, 2 threads"].get(r["size"]) if r["fields"] == 1 else None
        para = REFERENCES_MS["paraBioFVM"].get(r["size"]) if r["fields"] == 1 else None
        ms = r["ms_median"]
        exact = "—" if r["err_vs_exact"] is None else f"{r['err_vs_exact']:.1e}"
        vs_bio = "—" if bio is None else f"{bio / ms:.1f}×"
        vs_para = "—" if para is None else f"{ms / para:.2f}×"
        lines.append(
            f"| {name} | {r['size']}³ | {r['fields']} | {ms:.1f} | {r['ms_min']:.1f} "
            f"| {r['voxel_updates_per_s']:.2e} | {r['err_vs_dt_over_10']:.1e} | {exact} "
            f"| {vs_bio} | {vs_para} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 200],
                    help="lattice edges in voxels (cubic lattices); default 64 128 200")
    ap.add_argument("--fields", type=int, nargs="+", default=[1, 4],
                    help="numbers of fields per batched call; default 1 4")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls after a warm-up (≥ 5)")
    ap.add_argument("--solvers", nargs="+", default=list(SOLVERS),
                    help=f"subset of {', '.join(SOLVERS)}")
    ap.add_argument("--boundary", choices=["zero_flux", "dirichlet"], default="zero_flux")
    ap.add_argument("--mg-cycles", type=int, default=2, help="multigrid V-cycles per step")
    ap.add_argument("--backend", choices=["numpy", "cupy"], default="numpy")
    ap.add_argument("--lapack-probe", action="store_true",
                    help="also time an LOD step with LAPACK sgttrs line sweeps (CPU only)")
    ap.add_argument("--json", metavar="PATH", help="save machine info and results as JSON")
    args = ap.parse_args(argv)
    if args.repeats < 5:
        ap.error("--repeats must be at least 5 (the median of ≥ 5 timed calls is reported)")

    if args.backend == "cupy":
        ok, why = cupy_usable()
        if not ok:
            print(f"backend=cupy unavailable: {why}; nothing to time.")
            return 0
        xp = importlib.import_module("cupy")
        if args.lapack_probe:
            print("note: --lapack-probe is CPU only; ignored with --backend cupy")
            args.lapack_probe = False
    else:
        xp = np

    info = machine_info()
    if xp is not np:
        info["gpu"] = xp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    print("Machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    print(f"Problem: D={D_UM2_PER_MIN:g} µm²/min, h={SPACING_UM:g} µm, dt={DT_MIN:g} min, "
          f"λ={DECAY_PER_MIN:g}/min, no uptake, boundary={args.boundary}, backend={args.backend}")
    solvers, skipped = load_solvers(args.solvers, args.lapack_probe)
    rows = []
    for name, solve in solvers.items():
        for n in args.sizes:
            for fields in args.fields:
                try:
                    row = bench_one(name, solve, n, fields, args, xp)
                except (NotImplementedError, RuntimeError, TypeError, ValueError) as exc:
                    skipped.append((f"{name} {n}³×{fields}", f"{type(exc).__name__}: {exc}"))
                    continue
                rows.append(row)
                print(f"  {name:>24s} {n:4d}³ × {fields}: {row['ms_median']:9.2f} ms "
                      f"(err dt/10 {row['err_vs_dt_over_10']:.1e})", file=sys.stderr, flush=True)
    print()
    print(markdown_table(rows))
    for name, why in skipped:
        print(f"\nskipped {name}: {why}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "args": vars(args), "results": rows,
                       "skipped": skipped, "references_ms": REFERENCES_MS}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
