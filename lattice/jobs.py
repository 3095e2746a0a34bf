"""The record of one job of a sweep: ``<job dir>/job.json`` (docs/sweeps.md "Failed jobs and relaunching").

``lattice-run -m`` writes it in each Hydra job directory: ``running`` when the job starts,
``finished`` when its run completed, ``failed`` (with the one-line error) or ``interrupted``
otherwise. It is the one notion of "this job finished" shared by the launcher (a relaunch into
the same ``hydra.sweep.dir`` skips finished jobs and reruns the rest) and ``lattice-sweep``
(which reports the recorded error of a job it skips).

The file is replaced atomically (written beside, then renamed), so a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: The record's file name inside a job directory.
JOB_FILE = "job.json"
RUNNING, FINISHED, FAILED, INTERRUPTED = "running", "finished", "failed", "interrupted"
STATUSES = (RUNNING, FINISHED, FAILED, INTERRUPTED)


@dataclass(frozen=True)
class JobRecord:
    """One job: its Hydra job number, command-line overrides, status and (if failed) the error."""

    num: int
    overrides: list[str] = field(default_factory=list)
    status: str = RUNNING
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.status == FINISHED


def write_job(job_dir: Path, record: JobRecord) -> Path:
    """Write ``record`` to ``job_dir/job.json`` (atomically); returns the path."""
    job_dir = Path(job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    path = job_dir / JOB_FILE
    tmp = job_dir / (JOB_FILE + ".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=1) + "\n")
    os.replace(tmp, path)
    return path


def read_job(job_dir: Path) -> JobRecord | None:
    """The record in ``job_dir``; None when there is none or it cannot be read (treated as not run)."""
    try:
        raw = json.loads((Path(job_dir) / JOB_FILE).read_text())
        record = JobRecord(int(raw["num"]), [str(o) for o in raw.get("overrides", [])], str(raw["status"]),
                           str(raw.get("message", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if record.status in STATUSES else None


def find_job_records(sweep_dir: Path) -> dict[Path, JobRecord]:
    """Every job record under ``sweep_dir`` (job directory -> record), run stores not searched."""
    found: dict[Path, JobRecord] = {}
    for root, dirs, files in os.walk(sweep_dir):
        if JOB_FILE in files:
            record = read_job(Path(root))
            if record is not None:
                found[Path(root)] = record
        dirs[:] = [d for d in dirs if not d.endswith(".zarr") and not d.startswith(".")]
    return found
