"""The run loop: steps the model, records frames, the per-step table and checkpoints, resumes.

The model never writes files; this module owns the writer (as in Oceananigans'
``Simulation``). With ``replicates = R > 1`` the R lattices step together (one launch per
kernel) and are written together into one store and one summary table (docs/outputs.md), so
the cost of recording grows with the data, not with a per-replicate overhead.

Recording points: a frame every ``output.every_h`` from t = 0 (none with ``output.frames=false``:
then only the summary table is rewritten there), a checkpoint every
``output.checkpoint_every_h`` (default: at every frame) and always at the last step. Frames are
recorded only on the ``every_h`` grid, so the OME time axis is exact; the end state of a run
whose duration is not a multiple of ``every_h`` is in the checkpoint and the table.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lattice import __version__
from lattice.events import compute_events, describe
from lattice.io import OutputError, RunWriter, planned_frames, prepare_run_dir
from lattice.io.rundir import ZARR_NAME
from lattice.lineage import write_frame as write_lineage_frame
from lattice.model import Model
from lattice.observe import observe
from lattice.params import ConfigError
from lattice.state import State


def replicate_dirs(run_dir: Path, replicates: int) -> list[Path]:
    """Where a run's outputs may live: the run directory, and for R > 1 also schema 1's
    ``replicate_<r>`` sub-directories (so that an older ensemble there is not overwritten)."""
    run_dir = Path(run_dir)
    if replicates == 1:
        return [run_dir]
    return [run_dir, *(run_dir / f"replicate_{r:03d}" for r in range(replicates))]


@dataclass
class RunResult:
    """What a finished (or interrupted) run reports.

    Attributes:
        run_dirs: the run directory (one entry: every replicate is in it).
        steps: cell steps completed in total (all sessions of a resumed run).
        time_h: simulated time in total, h.
        wall_s: compute time of the run in total, s (all sessions).
        final: per replicate, the last row of the table.
        events: per replicate, the events.
        resumed_from_step: the step this session started from (0 for a fresh run).
        session_wall_s: compute time of this session, s.
    """

    run_dirs: list[Path]
    steps: int
    time_h: float
    wall_s: float
    final: list[dict[str, float]] = field(default_factory=list)
    events: list[dict[str, float]] = field(default_factory=list)
    resumed_from_step: int = 0
    session_wall_s: float = 0.0


def _column(values: np.ndarray) -> np.ndarray:
    """One step's ``(R,)`` values as stored: float64 for reals, int64 for counts and flags."""
    v = np.asarray(values)
    if v.dtype == np.bool_:
        return v
    if np.issubdtype(v.dtype, np.integer):
        return v.astype(np.int64)
    return v.astype(np.float64)


def _whole_steps(key: str, hours: float, step_h: float) -> int:
    ratio = hours / step_h
    if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
        raise ConfigError(f"{key}={hours:g} must be a positive whole number of step_h={step_h:g}")
    return round(ratio)


class Simulation:
    """Steps a :class:`Model` from its initial (or saved) state and records the run.

    Args:
        model: the model.
        run_dir: the run directory (all replicates go into its ``run.zarr`` and ``summary.h5``).
        config: the resolved config as a plain dict (saved into the outputs).
        config_yaml: the same as YAML text.

    Raises:
        ConfigError: ``output.checkpoint_every_h`` is not a whole number of steps.
    """

    def __init__(self, model: Model, run_dir: Path, config: dict, config_yaml: str):
        self.model = model
        self.run_dir = Path(run_dir).expanduser().absolute()
        self.run_dirs = [self.run_dir]
        self.config = config
        self.config_yaml = config_yaml
        p = model.params
        self.frame_every = _whole_steps("output.every_h", p.output.every_h, p.step_h)
        ckpt = p.output.checkpoint_every_h
        self.checkpoint_every = self.frame_every if ckpt is None else _whole_steps(
            "output.checkpoint_every_h", ckpt, p.step_h)
        self.writer: RunWriter | None = None
        #: One dict per recorded step: column → (R,) values (time_h first).
        self.rows: list[dict[str, np.ndarray]] = []
        self.state: State | None = None
        self.resumed_from_step = 0
        self._wall_before = 0.0
        self._t_session = time.perf_counter()
        # Frames are written by one background thread while the model steps on (the GPU keeps
        # working during zarr/HDF5 I/O); at most one recording is in flight, in order.
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lattice-writer")
        self._pending: Future | None = None

    # -- set-up ---------------------------------------------------------------------------
    def _planned(self) -> int:
        p = self.model.params
        return planned_frames(p.n_steps, self.frame_every) if p.output.frames else 0

    def start(self) -> None:
        """Fresh run: refuse to overwrite, record t = 0."""
        p, m = self.model.params, self.model
        specs = [{"name": s.name, "units": s.units, "description": s.description} for s in m.registry]
        prepare_run_dir(self.run_dir, p.output.overwrite)
        self.writer = RunWriter(
            self.run_dir, shape=m.grid.shape, spacing_um=m.grid.spacing_um, field_specs=specs,
            config=self.config, config_yaml=self.config_yaml, seed=p.seed, version=__version__,
            frame_every_h=p.output.every_h, replicates=p.replicates, frames=p.output.frames,
            describe=describe, planned_frames=self._planned(),
        )
        self._t_session = time.perf_counter()
        self.state = m.initial_state()
        self._append_row(self.state)
        self._record(self.state, frame=True, checkpoint=True)

    def resume(self) -> None:
        """Continue from the run's checkpoint (all replicates).

        Raises:
            OutputError: the directory holds the older one-directory-per-replicate layout (read
                by the viewer and reports, not resumable), no checkpoint, or an unreadable one.
        """
        if not (self.run_dir / ZARR_NAME).exists() and (self.run_dir / "replicate_000" / ZARR_NAME).exists():
            raise OutputError(
                f"{self.run_dir} holds replicates in the older one-directory-per-replicate layout (schema 1): "
                f"lattice-view and lattice-report read it, but it cannot be resumed; run it again with "
                f"output.overwrite=true (the same config and seed give the same results)"
            )
        xp = self.model.xp
        self.writer, saved = RunWriter.reopen(self.run_dir, describe=describe)
        if self.model.params.output.frames:
            self.writer.reserve(max(self._planned(), self.writer.n_frames))
        self._t_session = time.perf_counter()
        self.state = State(**{k: xp.asarray(v) for k, v in saved.arrays.items()}, step=saved.step)
        n_rows = next(iter(saved.timeseries.values())).shape[1] if saved.timeseries else 0
        self.rows = [{k: v[:, i] for k, v in saved.timeseries.items()} for i in range(n_rows)]
        self.resumed_from_step = saved.step
        self._wall_before = saved.wall_s

    # -- loop -----------------------------------------------------------------------------
    def run(self, progress: bool | None = None) -> RunResult:
        """Step to ``duration_h``, recording frames, the table and checkpoints (module doc)."""
        assert self.state is not None, "call start() or resume() first"
        p = self.model.params
        show = p.output.progress if progress is None else progress
        try:
            self._loop(p.n_steps, show)
        finally:
            self._drain()  # an interrupted run still completes the recording in flight
            self._io.shutdown(wait=True)
        self.writer.close()
        return self._result()

    def _loop(self, n_steps: int, show: bool) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        from lattice.progress_log import ProgressLines, is_terminal

        step_h = self.model.params.step_h
        columns = (TextColumn("[bold]t = {task.fields[t]:>7.1f} h"), BarColumn(),
                   TextColumn("{task.completed}/{task.total} steps"), TextColumn("tumour {task.fields[n]}"),
                   TimeRemainingColumn())
        # A batch job's log is not a terminal: plain lines at a fixed interval instead of the bar.
        lines = ProgressLines(n_steps, step_h, start_step=self.state.step) if show and not is_terminal() else None
        with Progress(*columns, disable=not show or lines is not None, transient=False) as bar:
            task = bar.add_task("run", total=n_steps, completed=self.state.step,
                                t=self.state.step * step_h, n=self._last("tumour_total"))
            while self.state.step < n_steps:
                self.state = self.model.step(self.state)
                self._append_row(self.state)
                step = self.state.step
                frame = step % self.frame_every == 0
                ckpt = step % self.checkpoint_every == 0 or step == n_steps
                if frame or ckpt:
                    self._record(self.state, frame=frame, checkpoint=ckpt)
                bar.update(task, completed=step, t=step * step_h, n=self._last("tumour_total"))
                if lines is not None:
                    lines.update(step, self._last("tumour_total"))
        if lines is not None:
            lines.close(self.state.step, self._last("tumour_total"))

    # -- recording ------------------------------------------------------------------------
    def _append_row(self, state: State) -> None:
        obs = observe(state, self.model)
        t = state.step * self.model.params.step_h
        row = {"time_h": np.full(state.replicates, t, dtype=np.float64)}
        row |= {k: _column(v) for k, v in obs.items()}
        self.rows.append(row)

    def _last(self, column: str) -> int:
        return int(self.rows[-1][column][0]) if self.rows and column in self.rows[-1] else 0

    def _table(self) -> dict[str, np.ndarray]:
        """The table so far: column → ``(R, rows)``."""
        return {k: np.stack([row[k] for row in self.rows], axis=1) for k in self.rows[0]}

    def _events(self, table: dict[str, np.ndarray]) -> list[dict[str, float]]:
        factor = self.model.params.treatment.progression_factor
        R = next(iter(table.values())).shape[0]
        return [compute_events({k: v[r] for k, v in table.items()}, factor) for r in range(R)]

    def _drain(self) -> None:
        """Wait for the recording in flight; re-raise its error (e.g. OutputError: disk full)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _wall_s(self) -> float:
        return self._wall_before + (time.perf_counter() - self._t_session)

    def _record(self, state: State, frame: bool, checkpoint: bool) -> None:
        """Copy the state to the host now (the only device→host copy besides the per-step
        counts) and record it in the background once the previous recording is done."""
        backend = self.model.backend
        host = {k: np.array(backend.asnumpy(v), copy=True) for k, v in state.arrays().items()}
        time_h, step, table = state.step * self.model.params.step_h, state.step, self._table()
        wall_s = self._wall_s()
        self._drain()

        def write() -> None:
            self.writer.record(time_h, step, host, table, self._events(table), frame=frame, checkpoint=checkpoint,
                               wall_s=wall_s)
            if frame and "barcode" in host:  # barcoded runs: clone tables in lineage.h5 (lattice.lineage)
                write_lineage_frame(self.run_dir, time_h, step, host["barcode"], host["cells"])

        self._pending = self._io.submit(write)

    def _result(self) -> RunResult:
        table = self._table()
        R = next(iter(table.values())).shape[0]
        final = [{k: float(v[r, -1]) for k, v in table.items()} for r in range(R)]
        session = time.perf_counter() - self._t_session
        return RunResult(
            run_dirs=self.run_dirs, steps=self.state.step, time_h=self.state.step * self.model.params.step_h,
            wall_s=self._wall_before + session, final=final, events=self._events(table),
            resumed_from_step=self.resumed_from_step, session_wall_s=session,
        )
