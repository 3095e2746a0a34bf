"""The run loop: steps the model, records frames and the per-step table, resumes.

The model never writes files; this module owns the writers (as in Oceananigans'
``Simulation``). With ``replicates = R > 1`` the R lattices step together (one launch per
kernel) and each is written as its own run under ``<run_dir>/replicate_<r>``.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lattice import __version__
from lattice.events import compute_events
from lattice.io import FrameWriter, prepare_run_dir, saved_step
from lattice.model import Model
from lattice.observe import observe
from lattice.state import State


def replicate_dirs(run_dir: Path, replicates: int) -> list[Path]:
    run_dir = Path(run_dir)
    if replicates == 1:
        return [run_dir]
    return [run_dir / f"replicate_{r:03d}" for r in range(replicates)]


@dataclass
class RunResult:
    """What a finished (or interrupted) run reports."""

    run_dirs: list[Path]
    steps: int
    time_h: float
    wall_s: float
    final: list[dict[str, float]] = field(default_factory=list)
    events: list[dict[str, float]] = field(default_factory=list)


class Simulation:
    """Steps a :class:`Model` from its initial (or saved) state and writes one run per replicate.

    Args:
        model: the model.
        run_dir: the run directory (replicates go into sub-directories).
        config: the resolved config as a plain dict (saved into the outputs).
        config_yaml: the same as YAML text.
    """

    def __init__(self, model: Model, run_dir: Path, config: dict, config_yaml: str):
        self.model = model
        self.run_dirs = replicate_dirs(Path(run_dir), model.params.replicates)
        self.config = config
        self.config_yaml = config_yaml
        p = model.params
        self.frame_every = int(round(p.output.every_h / p.step_h))
        self.writers: list[FrameWriter] = []
        self.timeseries: list[dict[str, list]] = []
        self.state: State | None = None
        # Frames are written by one background thread while the model steps on (the GPU keeps
        # working during zarr/HDF5 I/O); at most one frame is in flight, in order.
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lattice-writer")
        self._pending: Future | None = None

    # -- set-up ---------------------------------------------------------------------------
    def start(self) -> None:
        """Fresh run: refuse to overwrite, write frame 0."""
        p, m = self.model.params, self.model
        specs = [dict(name=s.name, units=s.units, description=s.description) for s in m.registry]
        for r, rd in enumerate(self.run_dirs):
            prepare_run_dir(rd, p.output.overwrite)
            self.writers.append(FrameWriter(
                rd, shape=m.grid.shape, spacing_um=m.grid.spacing_um, field_specs=specs,
                config=self.config, config_yaml=self.config_yaml, seed=p.seed, replicate=r,
                version=__version__, frame_every_h=p.output.every_h,
                # Replicates are written one after another: keep one frame of history so that a
                # crash between them still leaves a step every replicate can resume from.
                keep_previous_state=len(self.run_dirs) > 1,
            ))
        self.state = m.initial_state()
        self.timeseries = [{} for _ in self.run_dirs]
        self._append_rows(self.state)
        self._write_frame(self.state)

    def resume(self) -> None:
        """Continue from the last complete saved state of every replicate."""
        xp = self.model.xp
        # A crash part-way through writing the replicates of one frame leaves some one frame
        # ahead: all resume from the earliest step (the others kept their previous state).
        common = min(saved_step(rd) for rd in self.run_dirs)
        saved = []
        for rd in self.run_dirs:
            writer, s = FrameWriter.reopen(rd, at_step=common)
            self.writers.append(writer)
            saved.append(s)
        arrays = {k: xp.asarray(np.stack([s.arrays[k] for s in saved])) for k in saved[0].arrays}
        self.state = State(**arrays, step=saved[0].step)
        self.timeseries = [{k: list(v) for k, v in s.timeseries.items()} for s in saved]

    # -- loop -----------------------------------------------------------------------------
    def run(self, progress: bool | None = None) -> RunResult:
        """Step to ``duration_h``, writing frames every ``output.every_h`` and at the end."""
        assert self.state is not None, "call start() or resume() first"
        p = self.model.params
        show = p.output.progress if progress is None else progress
        t0 = time.perf_counter()
        try:
            self._loop(p.n_steps, show)
        finally:
            self._drain()  # an interrupted run still completes the frame in flight
            self._io.shutdown(wait=True)
        for w in self.writers:
            w.close()
        return self._result(time.perf_counter() - t0)

    def _loop(self, n_steps: int, show: bool) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        step_h = self.model.params.step_h
        columns = (TextColumn("[bold]t = {task.fields[t]:>7.1f} h"), BarColumn(),
                   TextColumn("{task.completed}/{task.total} steps"), TextColumn("tumour {task.fields[n]}"),
                   TimeRemainingColumn())
        with Progress(*columns, disable=not show, transient=False) as bar:
            task = bar.add_task("run", total=n_steps, completed=self.state.step,
                                t=self.state.step * step_h, n=self._last("tumour_total"))
            while self.state.step < n_steps:
                self.state = self.model.step(self.state)
                self._append_rows(self.state)
                if self.state.step % self.frame_every == 0 or self.state.step == n_steps:
                    self._write_frame(self.state)
                bar.update(task, completed=self.state.step, t=self.state.step * step_h,
                           n=self._last("tumour_total"))

    # -- recording ------------------------------------------------------------------------
    def _append_rows(self, state: State) -> None:
        obs = observe(state, self.model)
        t = state.step * self.model.params.step_h
        for r, table in enumerate(self.timeseries):
            table.setdefault("time_h", []).append(t)
            for k, v in obs.items():
                table.setdefault(k, []).append(v[r].item())

    def _last(self, column: str) -> int:
        values = self.timeseries[0].get(column) if self.timeseries else None
        return int(values[-1]) if values else 0

    def _tables(self) -> list[dict[str, np.ndarray]]:
        return [{k: np.asarray(v) for k, v in t.items()} for t in self.timeseries]

    def _drain(self) -> None:
        """Wait for the frame in flight; re-raise its error (e.g. OutputError: disk full)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _write_frame(self, state: State) -> None:
        """Copy the frame to the host now (the only device→host copy besides the per-step
        counts) and write it in the background once the previous frame is done."""
        backend = self.model.backend
        host = {k: np.array(backend.asnumpy(v), copy=True) for k, v in state.arrays().items()}
        time_h, step, tables = state.step * self.model.params.step_h, state.step, self._tables()
        self._drain()

        def write() -> None:
            for r, (writer, table) in enumerate(zip(self.writers, tables)):
                writer.write_frame(time_h, step, {k: v[r] for k, v in host.items()}, table, compute_events(table))

        self._pending = self._io.submit(write)

    def _result(self, wall_s: float) -> RunResult:
        tables = self._tables()
        final = [{k: float(v[-1]) for k, v in t.items()} for t in tables]
        return RunResult(
            run_dirs=self.run_dirs, steps=self.state.step,
            time_h=self.state.step * self.model.params.step_h, wall_s=wall_s,
            final=final, events=[compute_events(t) for t in tables],
        )
