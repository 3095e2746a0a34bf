"""GPU benchmarks (issue 5, BENCHMARKS.md): one command, one Markdown table.

    python scripts/bench_gpu.py                 # full run (a few minutes on an H100)
    python scripts/bench_gpu.py --quick         # smaller sizes, fewer repeats (~1 minute)
    python scripts/bench_gpu.py --json bench.json

Exits 0 with a message when no CUDA device is usable (nothing is measured then).

Rows (all times are medians of ``--repeats`` timed runs after warm-up, CUDA events):

- ``copy``: the measured memory bandwidth, ``2 × bytes / time`` (read + write) of a device-to-
  device copy of a large float32 array. Every floor below is ``bytes / this bandwidth``.
- ``mg kernel``: single multigrid kernels on the finest level of a 256³ / 512³ lattice, one
  field: a red–black sweep (two half-sweeps; floor 20 B/voxel: each half-sweep reads its
  colour's c, f, a0 and the other colour's c and writes its colour's c, 5 × 2 B per voxel),
  the fused residual–restriction (12 B/voxel read + 12 B per coarse voxel) and the
  prolongation (8 B/voxel + 4 B per coarse voxel).
- ``mg solve``: one backward-Euler multigrid solve (4 V(2,2) cycles, per-voxel uptake and
  source, zero flux) of 1 or 4 fields, as ``lattice.solvers.multigrid.solve`` runs it (graph
  replay where the automatic rule picks it; ``plain``/``graph`` rows force one). Floor: the
  byte model of :func:`lattice.kernels.multigrid.traffic_bytes` (every array a kernel touches
  read or written once: ~102 B per finest voxel per V-cycle on the finest level, ~117 B with the
  coarse levels in 3D, plus set-up and output: ~0.5 kB per voxel and solve).
- ``model``: one full cell step of ``lattice.model.Model`` (``Model.build``/``initial_state``/
  ``step`` only, so the row follows the model as it evolves), default scenario with the lattice
  overridden. Floor: every state array read and written once, plus the field solves' traffic
  (``traffic_bytes`` for the enabled fields × replicates × substeps). ``B/voxel`` is that floor
  per voxel. Peak memory: the CuPy memory pool's size after the run, freed before each case.
- ``replicates``: 256² lattices × N replicates in one model; aggregate voxel-updates/s.
- ``numpy`` rows: the reference backend on the smaller problems, for comparison.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COLUMNS = ["group", "case", "backend", "ms", "voxel-updates/s", "B/voxel", "floor ms", "of floor", "peak GiB"]


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def row(group, case, backend, ms, updates=None, bpv=None, floor_ms=None, peak=None):
    frac = floor_ms / ms if (floor_ms is not None and ms) else None
    return {"group": group, "case": case, "backend": backend, "ms": ms,
            "voxel_updates_per_s": updates, "bytes_per_voxel": bpv, "floor_ms": floor_ms,
            "fraction_of_floor": frac, "peak_gib": peak}


def markdown(rows) -> str:
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        out.append("| " + " | ".join([
            r["group"], r["case"], r["backend"], fmt(r["ms"], ".3f"), fmt(r["voxel_updates_per_s"], ".2e"),
            fmt(r["bytes_per_voxel"], ".0f"), fmt(r["floor_ms"], ".3f"),
            "—" if r["fraction_of_floor"] is None else f"{100 * r['fraction_of_floor']:.0f} %",
            fmt(r["peak_gib"], ".2f"),
        ]) + " |")
    return "\n".join(out)


class Timer:
    """Median milliseconds of ``fn`` (``inner`` calls per timed window) with CUDA events."""

    def __init__(self, cp, repeats: int):
        self.cp, self.repeats = cp, repeats

    def __call__(self, fn, inner: int = 1, warmup: int = 1) -> float:
        cp = self.cp
        for _ in range(warmup):
            fn()
        cp.cuda.Device().synchronize()
        times = []
        for _ in range(self.repeats):
            start, stop = cp.cuda.Event(), cp.cuda.Event()
            start.record()
            for _ in range(inner):
                fn()
            stop.record()
            stop.synchronize()
            times.append(cp.cuda.get_elapsed_time(start, stop) / inner)
        return statistics.median(times)


def wall_ms(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def field_problem(xp, shape, batch, seed=0):
    """Tissue-like oxygen step: D = 1e5 µm²/min, h = 20 µm, dt = 60 min, λ = 0.1/min, u = 10/min
    in a ball/disc and 1 % vessel voxels (u = 10³, s = 3.8·10⁴); start random in [0, 38]."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.arange(n, dtype=np.float32) - (n - 1) / 2 for n in shape], indexing="ij",
                        sparse=True)
    r2 = sum(g * g for g in grids)
    u = np.where(r2 < (min(shape) / 4) ** 2, np.float32(10), np.float32(0))
    vessels = rng.random(shape, dtype=np.float32) < 0.01
    u = np.where(vessels, np.float32(1e3), u).astype(np.float32)
    s = np.where(vessels, np.float32(3.8e4), np.float32(0)).astype(np.float32)
    c = (38 * rng.random(shape, dtype=np.float32)).astype(np.float32)
    rep = (batch,) + (1,) * len(shape)
    arrays = [xp.asarray(np.tile(a[None], rep)) for a in (c, u, s)]
    kw = {"dt_min": 60.0, "spacing_um": 20.0, "diffusion": xp.full(batch, 1e5, dtype=xp.float32),
          "decay": xp.full(batch, 0.1, dtype=xp.float32), "uptake": arrays[1], "source": arrays[2],
          "boundary": "zero_flux"}
    return arrays[0], kw


def label(shape, n=None):
    s = "×".join(str(x) for x in shape) if len(set(shape)) > 1 else f"{shape[0]}{'²' if len(shape) == 2 else '³'}"
    return s if n is None else f"{s} × {n}"


def copy_bandwidth(cp, timer, nbytes):
    src = cp.ones(nbytes // 4, dtype=cp.float32)
    dst = cp.empty_like(src)
    ms = timer(lambda: cp.copyto(dst, src), inner=5, warmup=3)
    bw = 2 * nbytes / (ms * 1e-3)
    return bw, row("copy", f"{nbytes / 2**30:.2f} GiB float32", "cupy", ms, None, 8, ms, None)


def kernel_rows(cp, timer, bw, sizes):
    from lattice.kernels import multigrid as kmg

    twin = kmg.load(False)
    out = []
    for n in sizes:
        out += _kernel_rows_one(cp, timer, bw, twin, kmg, (n, n, n))
        cp.get_default_memory_pool().free_all_blocks()
    return out


def _kernel_rows_one(cp, timer, bw, twin, kmg, shape):
    c, kw = field_problem(cp, shape, 1)
    plan = kmg._dev_plan(cp, shape, "zero_flux")
    work = kmg._Work.allocate(cp, plan, 1)
    work.cur = [[0, 0] for _ in plan.levels]
    k = kw["dt_min"] / kw["spacing_um"] ** 2
    twin._params(work, 1, k, kw["diffusion"].astype(cp.float64), kw["decay"], None)
    twin._setup0(plan, work, c, kw["uptake"], kw["source"], np.float32(kw["dt_min"]))
    twin._body(plan, work, 0, 2, 2)  # coarse set-up + LU, no cycles
    nd2, three_d, bnd, inhom = np.float32(6), 1, 0, np.int32(0)
    v, vc = int(np.prod(shape)), int(np.prod(plan.levels[1].shape))
    cases = [
        ("red–black sweep", lambda: twin._smooth(plan, work, 0, bnd, three_d, inhom), 20 * v),
        ("residual–restriction", lambda: twin._restrict(plan, work, 0, bnd, three_d, inhom, nd2),
         12 * v + 12 * vc),
        ("prolongation", lambda: twin._prolong(plan, work, 0, bnd, three_d), 8 * v + 4 * vc),
    ]
    out = []
    for name, fn, nbytes in cases:
        ms = timer(fn, inner=5, warmup=2)
        out.append(row("mg kernel", f"{label(shape)} {name}", "cupy", ms, v / (ms * 1e-3), nbytes / v,
                       1e3 * nbytes / bw))
    return out


def solve_rows(cp, timer, bw, cases, numpy_cases, repeats):
    from lattice.kernels.multigrid import GRAPH_AUTO_VOXELS, traffic_bytes

    from lattice.solvers import multigrid as mg

    out = []
    for shape, batch, modes in cases:
        c, kw = field_problem(cp, shape, batch)
        t = traffic_bytes(shape, batch=batch, cycles=4)
        v = batch * int(np.prod(shape))
        for mode in modes:
            graph = {"auto": None, "plain": False, "graph": True}[mode]
            used = mode if mode != "auto" else ("graph" if v <= GRAPH_AUTO_VOXELS else "plain")
            pool = cp.get_default_memory_pool()
            ms = timer(lambda graph=graph, c=c, kw=kw: mg.solve(c, cycles=4, graph=graph, **kw), inner=3,
                       warmup=2)
            peak = pool.total_bytes() / 2**30
            out.append(row("mg solve", f"{label(shape, batch)} fields, 4 cycles ({used})", "cupy", ms,
                           v / (ms * 1e-3), t["per_voxel"], 1e3 * t["total"] / bw, peak))
        c = kw = None
        cp.get_default_memory_pool().free_all_blocks()
    for shape, batch in numpy_cases:
        c, kw = field_problem(np, shape, batch)
        ms = wall_ms(lambda c=c, kw=kw: mg.solve(c, cycles=4, **kw), repeats)
        out.append(row("mg solve", f"{label(shape, batch)} fields, 4 cycles", "numpy", ms,
                       batch * int(np.prod(shape)) / (ms * 1e-3)))
    return out


def model_floor(model, state) -> tuple[float, int]:
    """(floor bytes of one step, voxels × replicates): state read + written once, plus the
    multigrid solves of the enabled fields."""
    from lattice.kernels.multigrid import traffic_bytes

    p = model.params
    shape = tuple(model.grid.shape)
    voxels = p.replicates * int(np.prod(shape))
    arrays = state.arrays()
    state_bytes = sum(int(a.nbytes) for a in arrays.values() if hasattr(a, "nbytes"))
    solver = 0.0
    enabled = [s for s in model.registry if s.params.enabled]
    if enabled and p.fields.solver == "multigrid":
        bounds = {}
        for s in enabled:
            bounds[s.params.boundary] = bounds.get(s.params.boundary, 0) + 1
        for boundary, n in bounds.items():
            solver += p.fields.substeps * traffic_bytes(
                shape, batch=p.replicates * n, cycles=p.fields.cycles, boundary=boundary)["total"]
    return 2 * state_bytes + solver, voxels


def model_rows(cp, bw, cases, numpy_cases, repeats, steps, group="model"):
    from lattice.backend import make_backend
    from lattice.configure import compose, params_from_config
    from lattice.model import Model

    out = []
    for backend, todo in (("cupy", cases), ("numpy", numpy_cases)):
        for shape, replicates in todo:
            overrides = [("grid=3d" if len(shape) == 3 else "grid=2d"),
                         f"grid.shape=[{','.join(str(n) for n in shape)}]", f"replicates={replicates}",
                         f"backend={backend}"]
            if len(shape) == 3:
                overrides.append("tumour.initial.shape=sphere")
            case = label(shape, replicates if group == "replicates" else None)
            try:
                if backend == "cupy":
                    cp.get_default_memory_pool().free_all_blocks()
                model = Model.build(params_from_config(compose(overrides)), make_backend(backend))
                state = model.initial_state()
                floor_bytes, voxels = model_floor(model, state)
                holder = {"s": model.step(state)}  # warm-up (compilation, plans, graphs)

                def step(model=model, holder=holder):
                    holder["s"] = model.step(holder["s"])

                if backend == "cupy":
                    n_inner = steps
                    cp.cuda.Device().synchronize()
                    ms = Timer(cp, repeats)(step, inner=n_inner, warmup=1)
                    peak = cp.get_default_memory_pool().total_bytes() / 2**30
                    floor_ms = 1e3 * floor_bytes / bw
                else:
                    ms = wall_ms(step, max(1, repeats // 2), warmup=0)
                    peak = floor_ms = None
                out.append(row(group, case, backend, ms, voxels / (ms * 1e-3), floor_bytes / voxels, floor_ms,
                               peak))
                model = state = holder = None
            except Exception as exc:  # noqa: BLE001 — out of memory or a model change: say so in the table
                out.append(row(group, f"{case}: {type(exc).__name__}: {str(exc)[:60]}", backend, None))
                if backend == "cupy":
                    cp.get_default_memory_pool().free_all_blocks()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    parser.add_argument("--json", type=Path, help="also write the rows (and the device) as JSON here")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per row (default 10, quick 3)")
    args = parser.parse_args(argv)

    from lattice.backend import cupy_usable

    ok, why = cupy_usable()
    if not ok:
        print(f"bench_gpu: no usable CUDA device: {why}. Nothing measured; run this on a GPU machine.")
        return 0
    import cupy as cp

    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    device = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    header = (f"device: {device}, {props['totalGlobalMem'] / 2**30:.1f} GiB; CUDA runtime "
              f"{cp.cuda.runtime.runtimeGetVersion()}, driver {cp.cuda.runtime.driverGetVersion()}; "
              f"CuPy {cp.__version__}; NumPy {np.__version__}; Python {platform.python_version()}; "
              f"host {platform.processor() or platform.machine()}")
    print(header, flush=True)
    quick = args.quick
    repeats = args.repeats or (3 if quick else 10)
    timer = Timer(cp, repeats)

    rows = []
    bw, r = copy_bandwidth(cp, timer, (256 if quick else 2048) * 2**20)
    rows.append(r)
    print(f"copy bandwidth {bw / 1e12:.2f} TB/s (read + write)", flush=True)

    rows += kernel_rows(cp, timer, bw, [128, 256] if quick else [256, 512])
    print("kernels done", flush=True)
    solve_cases = ([((128, 128, 128), 1, ["auto", "plain"]), ((256, 256, 256), 1, ["auto"])] if quick else
                   [((128, 128, 128), 1, ["auto", "plain"]), ((256, 256, 256), 1, ["graph", "plain"]),
                    ((256, 256, 256), 4, ["auto", "graph"]), ((512, 512, 512), 1, ["auto"]),
                    ((512, 512, 512), 4, ["auto"])])
    rows += solve_rows(cp, timer, bw, solve_cases, [((64, 64, 64), 1)] if quick else [((128, 128, 128), 1)],
                       max(1, repeats // 3))
    print("solves done", flush=True)
    model_cases = [((1024, 1024), 1), ((128, 128, 128), 1)] if quick else [
        ((1024, 1024), 1), ((4096, 4096), 1), ((128, 128, 128), 1), ((256, 256, 256), 1)]
    model_numpy = [((256, 256), 1)] if quick else [((1024, 1024), 1), ((128, 128, 128), 1)]
    rows += model_rows(cp, bw, model_cases, model_numpy, max(2, repeats // 2), 3 if quick else 5)
    print("model done", flush=True)
    reps = [1, 16] if quick else [1, 16, 64, 256]
    rows += model_rows(cp, bw, [((256, 256), n) for n in reps], [((256, 256), n) for n in reps[:2]],
                       max(2, repeats // 2), 3 if quick else 5, group="replicates")

    print()
    print(markdown(rows))
    print()
    print(f"Floors: bytes / {bw / 1e12:.2f} TB/s (the copy row). B/voxel: the byte model per voxel "
          "(per field voxel for mg rows, per lattice voxel × replicate for model rows); see the "
          "docstring of scripts/bench_gpu.py.")
    if args.json:
        args.json.write_text(json.dumps({"device": device, "header": header, "copy_bandwidth_Bps": bw,
                                         "quick": quick, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
