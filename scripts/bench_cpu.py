"""CPU benchmark: NumPy vs the host backend (the CUDA kernels compiled with OpenMP), same run.

Rows (the targets of issue #10, see BENCHMARKS.md "CPU: host backend vs NumPy"):

- ``default``: the default scenario (200², O₂ + glucose, multigrid), time per 720-step run,
  measured over ``--steps`` steps and scaled to 720;
- ``competitive_release``: ``experiment=competitive_release`` (100², daily step) with
  ``--replicates`` replicates batched, time per 10-year (3650-step) run of one replicate, measured
  over ``--cr-steps`` steps and scaled;
- ``spheroid 128³``: ``experiment=spheroid`` on 128³, time per cell step;
- ``multigrid N³``: one 4-cycle V(2,2) solve of one field (O₂-like: D = 1e5 µm²/min, h = 20 µm,
  dt = 60 min, λ = 0.1/min, uptake 10/min in a ball), NumPy vs the host twin;
- ``LOD N³``: one LOD step of one field (BioFVM's problem: dt = 0.01 min); NumPy only (the host
  backend has no compiled LOD sweep yet: both columns are the NumPy solver).

Each number is the median of ``--repeats`` timed repetitions after one untimed warm-up (which
also builds the host kernels). Model rows time ``Model.step`` only (no output writing). The
diffusion process solves through ``Backend.kernel("multigrid")``: on the host backend that is the
host twin. The machine (CPU model, cores, load average
before and after) is printed with the table: on a shared machine the numbers move with the load.

Run (from the repository root)::

    .venv/bin/python scripts/bench_cpu.py --quick            # a few minutes
    .venv/bin/python scripts/bench_cpu.py --json bench_cpu.json
    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_cpu.py --quick --cpu-time   # one-core work
    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_cpu.py --cpu-time --rows default,multigrid
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "omp_threads": os.environ.get("OMP_NUM_THREADS", "default"),
            "python": platform.python_version(), "numpy": np.__version__,
            "load_avg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


#: The clock: wall time, or (``--cpu-time``) CPU seconds of this process, all threads: on a machine
#: shared with other work, the CPU time of a one-thread run (OMP_NUM_THREADS=1) is the stable
#: measure of the work done (and the one-core figure that HAL's target is).
CLOCK = {"clock": time.perf_counter}

#: The row groups ``--rows`` selects from.
ROWS = ("default", "competitive_release", "spheroid", "multigrid", "lod")


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up: host kernels built and loaded, plans cached
    clock = CLOCK["clock"]
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def model_for(overrides: list[str], backend: str):
    from lattice.backend import make_backend
    from lattice.configure import compose, params_from_config
    from lattice.model import Model

    params = params_from_config(compose([*overrides, "output.progress=false"]))
    return Model.build(params, make_backend(backend))


def steps_time(overrides: list[str], backend: str, steps: int, repeats: int) -> float:
    """Median seconds for ``steps`` cell steps from the initial state."""
    model = model_for(overrides, backend)
    state0 = model.initial_state()

    def run():
        s = state0
        for _ in range(steps):
            s = model.step(s)

    return median_time(run, repeats)


def mg_problem(n: int):
    shape = (n, n, n)
    grids = np.meshgrid(*[np.arange(k) - (k - 1) / 2 for k in shape], indexing="ij")
    r = np.sqrt(sum(g**2 for g in grids))
    c = np.full((1, *shape), 38.0, np.float32)
    u = np.where(r < n / 4, 10.0, 0.0).astype(np.float32)[None]
    kw = {"dt_min": 60.0, "spacing_um": 20.0, "diffusion": np.float32([1e5]), "decay": np.float32([0.1]),
          "uptake": u, "source": None, "boundary": "dirichlet", "boundary_value": np.float32([38.0])}
    return c, kw


def rows(args) -> list[dict]:
    from lattice.backend import make_backend
    from lattice.solvers import lod
    from lattice.solvers import multigrid as mg

    out = []

    def add(name, unit, numpy_s, host_s, target, note=""):
        row = {"row": name, "unit": unit, "numpy": numpy_s, "host": host_s,
               "speedup": (numpy_s / host_s) if host_s else None, "target": target, "note": note}
        out.append(row)
        print(f"  {name}: numpy {numpy_s:.4g} s, host {host_s:.4g} s", file=sys.stderr, flush=True)

    if "default" in args.rows:
        scale = 720 / args.steps
        t = {b: steps_time([], b, args.steps, args.repeats) * scale for b in ("numpy", "host")}
        add("default scenario 200², 720 steps", "s per run", t["numpy"], t["host"], 5.0,
            f"measured over {args.steps} steps, ×{scale:g}")

    if "competitive_release" in args.rows:
        R = args.replicates
        scale = 3650 / args.cr_steps
        ov = ["experiment=competitive_release", f"replicates={R}"]
        t = {b: steps_time(ov, b, args.cr_steps, args.repeats) * scale / R for b in ("numpy", "host")}
        add(f"competitive_release, 10-year run ({R} replicates batched)", "s per replicate-run", t["numpy"],
            t["host"], 1.5, f"measured over {args.cr_steps} steps, ×{scale:g}, ÷{R}")

    if "spheroid" in args.rows:
        ov = ["experiment=spheroid", "grid.shape=[128,128,128]"]
        t = {b: steps_time(ov, b, args.spheroid_steps, max(1, args.repeats - 1)) / args.spheroid_steps
             for b in ("numpy", "host")}
        add("spheroid 128³, one cell step", "s per step", t["numpy"], t["host"], None)

    if "multigrid" in args.rows:
        twin = make_backend("host").kernel("multigrid")
        for n in args.mg_sizes:
            c, kw = mg_problem(n)
            tn = median_time(lambda: mg.solve(c, cycles=4, **kw), args.repeats)  # noqa: B023 — called at once
            th = median_time(lambda: mg.solve(c, cycles=4, kernel=twin, **kw), args.repeats)  # noqa: B023
            add(f"multigrid {n}³, 4 cycles, 1 field", "s per solve", tn, th, 0.05 if n == 128 else None)

    if "lod" in args.rows:
        for n in args.lod_sizes:
            c = np.ones((1, n, n, n), np.float32)
            kw = {"dt_min": 0.01, "spacing_um": 20.0, "diffusion": np.float32([1e5]), "decay": np.float32([0.1]),
                  "uptake": None, "source": None, "boundary": "zero_flux", "boundary_value": np.float32([0.0])}
            tn = median_time(lambda: lod.solve(c, **kw), args.repeats)  # noqa: B023
            add(f"LOD {n}³, one step, 1 field", "s per step", tn, tn, 0.004 if n == 128 else None,
                "no compiled LOD: host runs the NumPy solver")
    return out


def markdown(result: dict) -> str:
    m = result["machine"]
    head = (f"Machine: {m['cpu']}, {m['cores']} cores (OMP_NUM_THREADS={m['omp_threads']}), Python "
            f"{m['python']}, NumPy {m['numpy']}; load average {m['load_avg_1min']:.1f} before, "
            f"{result['load_avg_after']:.1f} after; {result['clock']}, median of {result['repeats']} repeats.")
    lines = [head, "",
             "| what | unit | NumPy | host | speed-up | target (issue #10) | note |",
             "|---|---|---:|---:|---:|---:|---|"]
    for r in result["rows"]:
        target = "—" if r["target"] is None else f"≤ {r['target']:g}"
        sp = "—" if r["speedup"] is None else f"{r['speedup']:.1f}×"
        lines.append(f"| {r['row']} | {r['unit']} | {r['numpy']:.3g} | {r['host']:.3g} | {sp} | {target} | "
                     f"{r['note']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and repeats, no 200³ rows")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--cpu-time", action="store_true", help="time CPU seconds of this process, not wall time")
    ap.add_argument("--rows", default=",".join(ROWS),
                    help=f"comma-separated subset of {', '.join(ROWS)} (default: all)")
    args = ap.parse_args(argv)
    args.rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = sorted(set(args.rows) - set(ROWS))
    if unknown:
        ap.error(f"--rows: unknown {', '.join(unknown)} (choose from {', '.join(ROWS)})")
    if args.cpu_time:
        CLOCK["clock"] = time.process_time
    from lattice.backend import host_usable

    ok, why = host_usable()
    if not ok:
        print(f"bench_cpu: the host backend cannot run here: {why}")
        return 0
    q = args.quick
    args.repeats = args.repeats or (2 if q else 5)
    args.steps = 12 if q else 120
    args.cr_steps = 120 if q else 3650
    args.replicates = 10
    args.spheroid_steps = 1 if q else 5
    args.mg_sizes = [128] if q else [128, 200]
    args.lod_sizes = [64, 128] if q else [64, 128, 200]
    result = {"machine": machine(), "repeats": args.repeats, "quick": q,
              "clock": "CPU time" if args.cpu_time else "wall time"}
    result["rows"] = rows(args)
    result["load_avg_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(markdown(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
