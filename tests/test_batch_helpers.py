"""Helpers for batch jobs: plain progress lines in logs (lattice.progress_log) and unique default
run directories (lattice.run_id)."""

from __future__ import annotations

import io
import re
import subprocess
import sys

from omegaconf import OmegaConf

from lattice.progress_log import ProgressLines, is_terminal
from lattice.run_id import RESOLVER, make_run_id, register_resolver, run_id


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_progress_lines_at_the_interval_with_rate_and_time_left():
    clock, out = FakeClock(), io.StringIO()
    p = ProgressLines(total_steps=720, step_h=1.0, every_s=30.0, stream=out, clock=clock)
    printed = []
    for step in range(1, 721):
        clock.t += 0.5  # 2 steps per second
        printed.append(p.update(step, tumour=1000 + step))
    p.close(720, 1720)
    lines = out.getvalue().splitlines()
    # 360 s of wall time, a line every 30 s -> 12 lines, then the closing line.
    assert sum(printed) == 12 and len(lines) == 13
    assert lines[0] == ("lattice-run: step 60/720 (8.3 %), t = 60.0 h, tumour 1060 cells, 2.00 steps/s, "
                        "about 5 min 30 s left")
    assert lines[-1] == "lattice-run: finished at step 720/720, t = 720.0 h, tumour 1720 cells, after 6 min 0 s"


def test_resumed_run_counts_its_rate_from_where_it_started():
    clock, out = FakeClock(), io.StringIO()
    p = ProgressLines(total_steps=100, step_h=24.0, start_step=50, every_s=10.0, stream=out, clock=clock)
    clock.t += 10.0
    assert p.update(60, 5)
    assert "step 60/100 (60.0 %), t = 1440.0 h" in out.getvalue() and "1.00 steps/s, about 40 s left" in out.getvalue()


def test_a_pipe_is_not_a_terminal():
    assert not is_terminal(io.StringIO())


def test_run_id_from_slurm_or_random():
    assert make_run_id({"SLURM_ARRAY_JOB_ID": "123456", "SLURM_ARRAY_TASK_ID": "7", "SLURM_JOB_ID": "123463"}) \
        == "123456_7"
    assert make_run_id({"SLURM_JOB_ID": "98765"}) == "98765"
    ids = [make_run_id({}) for _ in range(1000)]
    assert all(re.fullmatch(r"[0-9a-f]{8}", i) for i in ids)
    # 32 random bits: two equal ids among 1000 have probability 1.2e-4, three or more ~1e-12.
    assert len(set(ids)) >= 999


def test_resolver_is_stable_within_a_process_and_differs_between_processes():
    register_resolver()
    register_resolver()  # twice is harmless
    a = OmegaConf.create({"dir": "runs/x-${" + RESOLVER + ":}"})
    b = OmegaConf.create({"dir": "runs/x-${" + RESOLVER + ":}"})
    assert a.dir == b.dir == f"runs/x-{run_id()}"
    code = "from lattice.run_id import run_id; print(run_id())"
    others = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={"PATH": ""}).stdout.strip() for _ in range(3)}
    assert len(others) == 3 and run_id() not in others


def test_interrupted_run_says_stopped():
    clock, out = FakeClock(), io.StringIO()
    p = ProgressLines(total_steps=100, step_h=1.0, every_s=30.0, stream=out, clock=clock)
    p.close(40, 12)
    assert out.getvalue().startswith("lattice-run: stopped at step 40/100")


def test_run_logged_to_a_file_prints_plain_progress_lines(tmp_path):
    """A run whose output is not a terminal (a batch job's log) ends with a plain progress line."""
    import subprocess
    import sys

    log = tmp_path / "job.log"
    with log.open("w") as fh:
        proc = subprocess.run([sys.executable, "-m", "lattice.cli", "grid.shape=[8,8]", "duration_h=4",
                               "backend=numpy", f"hydra.run.dir={tmp_path / 'run'}"],
                              stdout=fh, stderr=subprocess.STDOUT, timeout=300, check=False)
    text = log.read_text()
    assert proc.returncode == 0, text
    assert "lattice-run: finished at step 4/4, t = 4.0 h" in text
    assert "\x1b[" not in text.split("finished at step")[0]  # no terminal escape codes before it
