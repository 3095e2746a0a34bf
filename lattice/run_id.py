"""A short id that keeps default run directories apart: the ``${run_id:}`` config resolver.

Two runs started in the same second (the jobs of a SLURM array, parallel scripts) would share
``runs/<date>/<HH-MM-SS>``; with ``runs/<date>/<HH-MM-SS>-${run_id:}`` they cannot:

- in a SLURM array task: ``<array job id>_<task id>`` (e.g. ``123456_7``), in a plain SLURM
  job: its job id, so the folder names the job that wrote it;
- elsewhere: 8 random hexadecimal digits (4.3 billion values: 1000 runs started in the same
  second share a folder with probability 1e-4, and then the second is refused, never overwritten).

The id is drawn once per process, so every config object that resolves it (the command-line
pre-check and Hydra's own) names the same folder.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Mapping

#: The resolver's name in config files: ``${run_id:}``.
RESOLVER = "run_id"


def make_run_id(env: Mapping[str, str] | None = None, random_hex: int = 4) -> str:
    """A fresh id from the environment (SLURM) or random bytes; see the module docstring."""
    env = os.environ if env is None else env
    array_job, task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    if array_job and task:
        return f"{array_job}_{task}"
    if env.get("SLURM_JOB_ID"):
        return str(env["SLURM_JOB_ID"])
    return secrets.token_hex(random_hex)


@functools.cache
def run_id() -> str:
    """This process's id (drawn on first use, then always the same)."""
    return make_run_id()


def register_resolver() -> None:
    """Make ``${run_id:}`` available to OmegaConf/Hydra configs (call before Hydra composes)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, run_id)
