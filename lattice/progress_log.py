"""Plain progress lines for runs whose output is not a terminal (batch jobs, log files).

rich's progress bar draws only on a terminal; written to a file it shows nothing until the run
ends. :class:`ProgressLines` prints one self-contained line at a fixed wall-clock interval
instead, e.g.::

    lattice-run: step 120/720 (16.7 %), t = 120.0 h, tumour 1234 cells, 2.10 steps/s, about 4 min 46 s left

so ``tail -f slurm-123.out`` shows a run's progress. The simulation loop decides which of the
two to use with :func:`is_terminal`.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import TextIO

#: Wall-clock seconds between two progress lines (and the first line comes after this long).
EVERY_S = 30.0


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether progress can be drawn as a live bar: rich's own test (it honours FORCE_COLOR,
    TTY_COMPATIBLE and Jupyter) on ``stream`` (default: standard output, where the bar goes)."""
    from rich.console import Console

    return Console(file=stream).is_terminal


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


class ProgressLines:
    """Prints a progress line at most every ``every_s`` seconds, and one at the end.

    Args:
        total_steps: the step the run ends at.
        step_h: simulated hours per step.
        start_step: the step the loop starts from (a resumed run starts part-way).
        every_s: wall-clock seconds between lines.
        stream: where to print (default standard error, which batch systems log).
        prefix: the start of each line.
        clock: seconds, monotonic (tests pass a fake).
    """

    def __init__(self, total_steps: int, step_h: float, start_step: int = 0, every_s: float = EVERY_S,
                 stream: TextIO | None = None, prefix: str = "lattice-run",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = int(total_steps)
        self.step_h = float(step_h)
        self.start_step = int(start_step)
        self.every_s = float(every_s)
        self.stream = stream
        self.prefix = prefix
        self.clock = clock
        self.t0 = clock()
        self.last = self.t0
        self.lines = 0

    def line(self, step: int, tumour: float) -> str:
        """The text of one progress line at ``step`` (no side effects)."""
        elapsed = self.clock() - self.t0
        done = step - self.start_step
        rate = done / elapsed if elapsed > 0 and done > 0 else math.nan
        left = (self.total - step) / rate if rate > 0 else math.nan
        pct = 100.0 * step / self.total if self.total else 100.0
        return (f"{self.prefix}: step {step}/{self.total} ({pct:.1f} %), t = {step * self.step_h:.1f} h, "
                f"tumour {int(tumour)} cells, {rate:.2f} steps/s, about {_duration(left)} left")

    def update(self, step: int, tumour: float) -> bool:
        """Print a line if ``every_s`` has passed since the last one; returns whether it did."""
        now = self.clock()
        if now - self.last < self.every_s:
            return False
        self.last = now
        self._print(self.line(step, tumour))
        return True

    def close(self, step: int, tumour: float) -> None:
        """The last line: where the run stopped (the end, or where it was interrupted)."""
        elapsed = self.clock() - self.t0
        verb = "finished" if step >= self.total else "stopped"
        self._print(f"{self.prefix}: {verb} at step {step}/{self.total}, t = {step * self.step_h:.1f} h, "
                    f"tumour {int(tumour)} cells, after {_duration(elapsed)}")

    def _print(self, text: str) -> None:
        stream = self.stream or sys.stderr
        print(text, file=stream, flush=True)  # flush: a log file shows the line at once
        self.lines += 1
