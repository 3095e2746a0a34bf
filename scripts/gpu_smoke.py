"""GPU smoke test: print the CUDA device, then run a small scenario on NumPy and on CuPy and
check that the two backends agree (labels and per-cell attributes bit for bit; fields within
1e-5 relative, bit for bit with --exact).

    python scripts/gpu_smoke.py            # after: pip install -e '.[gpu]'  (or '.[cuda13]')
    python scripts/gpu_smoke.py --steps 50 --exact grid.shape=[96,96]

Extra arguments are config overrides, as for lattice-run. Exit status 0 when the backends
agree, 1 when they differ, 2 when no CUDA device is usable (with the reason).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=24, help="cell steps to compare (default 24)")
    parser.add_argument("--exact", action="store_true", help="compile kernels with --fmad=false")
    parser.add_argument("overrides", nargs="*", help="config overrides (KEY=VALUE)")
    args = parser.parse_args(argv)

    from lattice.backend import cupy_usable, make_backend

    ok, why = cupy_usable()
    if not ok:
        print(f"gpu_smoke: no usable CUDA device: {why}")
        return 2
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    print(f"device: {props['name'].decode()}  memory {props['totalGlobalMem'] / 2**30:.1f} GiB  "
          f"CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}  CuPy {cupy.__version__}")

    from lattice.configure import compose, params_from_config
    from lattice.model import Model

    overrides = args.overrides or ["grid.shape=[64,64]", "tumour.initial.radius_um=300"]
    params = params_from_config(compose(overrides))
    models = {name: Model.build(params, make_backend(name, exact=args.exact)) for name in ("numpy", "cupy")}
    states = {name: m.initial_state() for name, m in models.items()}
    timings = {}
    for name, m in models.items():
        t0 = time.perf_counter()
        s = states[name]
        for _ in range(args.steps):
            s = m.step(s)
        if name == "cupy":
            cupy.cuda.Stream.null.synchronize()
        timings[name] = time.perf_counter() - t0
        states[name] = s
    failures = []
    for key, ref in states["numpy"].arrays().items():
        got = cupy.asnumpy(getattr(states["cupy"], key))
        if key == "fields" and not args.exact:
            err = np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-6))
            status = "ok" if err <= 1e-5 else "DIFFERS"
            print(f"  {key:10s} max relative difference {err:.2e}  {status}")
        else:
            same = np.array_equal(got, ref)
            status = "ok" if same else "DIFFERS"
            print(f"  {key:10s} bit-identical: {same}  {status}")
        if status != "ok":
            failures.append(key)
    print(f"{args.steps} steps: numpy {timings['numpy']:.2f} s, cupy {timings['cupy']:.2f} s")
    print("backends agree" if not failures else f"backends differ in: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
