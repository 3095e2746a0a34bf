"""Output cost at replicate scale: frame, summary and checkpoint writing against stepping.

    .venv/bin/python scripts/bench_io.py                       # R = 1, 32, 256, 1000 on 64² and 100²
    .venv/bin/python scripts/bench_io.py --replicates 1 32 --shapes 64 --steps 4 --repeats 3

Each row runs the real :class:`lattice.simulation.Simulation` (numpy backend) for ``--steps``
cell steps with a frame (and, by default, a checkpoint) every ``--every`` steps (default: every
step), in a fresh run directory, and times separately:

- ``step``: ``Model.step`` (the main thread), per step;
- ``frame``, ``summary``, ``checkpoint``: the writer's phases (wall time inside the background
  writer thread), per recorded frame, all replicates together;
- ``wait``: time the main thread spent waiting for the writer;
- ``wall``: the whole run (start + steps + close); ``wall/step`` = wall / total step time.

``--steps 132 --every 12 --replicates 32 --shapes 64`` is exactly ``lattice-run
experiment=fluctuation_test`` (its wall / stepping ratio is the issue's first target).

The last columns scale the measured costs to a real cadence: ``write/step @ every_h`` is
(frame + summary + checkpoint per frame) / (step time × steps per frame) for frames every 24 h
(fluctuation-test-like) and every 720 h (30 days); lattices step at 1 h.

The scenario is the ``fluctuation_test`` preset (cells + bath drug field, no oxygen solver) so
that stepping 1,000 replicates stays affordable on 2 cores; the field count is printed.
Medians over ``--repeats`` runs. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

#: Writer methods whose wall time makes up each phase; whichever exist are timed (the names of
#: the per-replicate writer of the old layout and of the one-store writer).
PHASES = {
    "frame": ("_append_frame", "_commit_frame", "_write_frames", "_commit"),
    "summary": ("_write_summary",),
    "checkpoint": ("_replace_state", "_write_checkpoint"),
}


#: The current run's totals (phase → seconds); the wrappers below add to whatever it holds.
TOTALS: dict[str, float] = defaultdict(float)
_LOCK = threading.Lock()


def _instrument(cls) -> None:
    for phase, names in PHASES.items():
        for name in names:
            if not hasattr(cls, name) or getattr(getattr(cls, name), "_bench", False):
                continue
            orig = getattr(cls, name)

            @functools.wraps(orig)
            def timed(*a, _orig=orig, _phase=phase, **kw):
                t0 = time.perf_counter()
                try:
                    return _orig(*a, **kw)
                finally:
                    with _LOCK:
                        TOTALS[_phase] += time.perf_counter() - t0

            timed._bench = True
            setattr(cls, name, timed)


def run_once(replicates: int, side: int, steps: int, extra: list[str], workdir: Path, every: int = 1) -> dict[str, float]:
    from lattice import io as lio
    from lattice.backend import make_backend
    from lattice.configure import compose, params_from_config
    from lattice.model import Model
    from lattice.simulation import Simulation

    overrides = ["experiment=fluctuation_test", f"replicates={replicates}", f"grid.shape=[{side},{side}]",
                 f"duration_h={steps}", f"output.every_h={every}", "output.progress=false", "backend=numpy", *extra]
    params = params_from_config(compose(overrides))
    model = Model.build(params, make_backend("numpy"))
    totals = TOTALS
    totals.clear()
    for name in ("FrameWriter", "RunWriter"):
        if hasattr(lio, name):
            _instrument(getattr(lio, name))
    step_orig = model.step

    def step(state):
        t0 = time.perf_counter()
        out = step_orig(state)
        totals["step"] += time.perf_counter() - t0
        return out

    object.__setattr__(model, "step", step)  # Model is a frozen dataclass
    run_dir = workdir / f"r{replicates}_{side}"
    t0 = time.perf_counter()
    sim = Simulation(model, run_dir, {"bench": True}, "bench: true\n")
    drain = sim._drain

    def timed_drain():
        t1 = time.perf_counter()
        drain()
        totals["wait"] += time.perf_counter() - t1

    sim._drain = timed_drain
    sim.start()
    sim.run(progress=False)
    totals["wall"] = time.perf_counter() - t0
    totals["n_fields"] = len(model.registry)
    shutil.rmtree(run_dir, ignore_errors=True)
    frames = steps // every + 1 + (steps % every > 0)  # recordings: t = 0, every `every` steps, the end
    return {
        "step_ms": 1e3 * totals["step"] / steps,
        "frame_ms": 1e3 * totals["frame"] / frames,
        "summary_ms": 1e3 * totals["summary"] / frames,
        "checkpoint_ms": 1e3 * totals["checkpoint"] / frames,
        "wait_s": totals["wait"], "wall_s": totals["wall"], "n_fields": totals["n_fields"],
        "wall_per_step": totals["wall"] / totals["step"],
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicates", type=int, nargs="+", default=[1, 32, 256, 1000])
    ap.add_argument("--shapes", type=int, nargs="+", default=[64, 100], help="lattice sides (2D, square)")
    ap.add_argument("--steps", type=int, default=3, help="cell steps per run (a frame at every step)")
    ap.add_argument("--every", type=int, default=1, help="steps between frames")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--extra", nargs="*", default=[], help="further overrides, e.g. output.frames=false")
    args = ap.parse_args(argv)
    print(f"# python {sys.version.split()[0]}; steps={args.steps}; every={args.every}; repeats={args.repeats}; "
          f"extra={args.extra}")
    print("| R | lattice | fields | step ms | frame ms | summary ms | checkpoint ms | write ms / replicate "
          "| wait s | wall s | wall/step | write/step @24 h | write/step @720 h |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench-io-") as tmp:
        for side in args.shapes:
            for r in args.replicates:
                rows = [run_once(r, side, args.steps, args.extra, Path(tmp), args.every) for _ in range(args.repeats)]
                med = {k: statistics.median(row[k] for row in rows) for k in rows[0]}
                write = med["frame_ms"] + med["summary_ms"] + med["checkpoint_ms"]
                print(f"| {r} | {side}² | {int(med['n_fields'])} | {med['step_ms']:.1f} | {med['frame_ms']:.1f} "
                      f"| {med['summary_ms']:.1f} | {med['checkpoint_ms']:.1f} | {write / r:.2f} "
                      f"| {med['wait_s']:.2f} | {med['wall_s']:.1f} | {med['wall_per_step']:.2f} "
                      f"| {write / (24 * med['step_ms']):.1%} "
                      f"| {write / (720 * med['step_ms']):.2%} |", flush=True)


if __name__ == "__main__":
    main()
