"""Names of runs shown together: a run of a sweep is named by its Hydra overrides.

Hydra writes each job's command-line overrides to ``<run dir>/.hydra/overrides.yaml`` (a list
of ``key=value`` strings). Runs shown side by side, or reported together, are named by the
overrides whose values differ between them (``treatment=adaptive seed=3``) instead of their
directory names (``0``, ``1``, ``2`` in a sweep). A run shown alone is named by its overrides
that change the model (not where outputs go, the backend or ``resume``). Runs without overrides (replicates, runs written by other tools) keep their
directory label, which is also appended when override names alone would not tell runs apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lattice.viewer.store import RunStore, open_runs

#: Hydra's record of a job's overrides, relative to the run directory.
OVERRIDES_FILE = Path(".hydra") / "overrides.yaml"
#: Overrides that do not change what is simulated (outputs, backend, resuming): left out of the
#: name of a run shown alone, kept when they are what tells runs shown together apart.
NOT_NAMING_PREFIXES = ("output.", "backend", "resume", "+output.", "+backend")


def read_overrides(run_dir: Path | str) -> dict[str, str]:
    """``{key: value}`` of the overrides a run was launched with, in command-line order;
    empty when the run has no readable ``.hydra/overrides.yaml``. Never raises.

    A run directory without the file (a replicate of a multi-replicate run) uses its parent's.
    Keys keep Hydra's prefixes (``+key``, ``~key``); a deletion ``~key`` has the value ``""``.
    """
    import yaml  # PyYAML comes with Hydra; imported here so --help stays fast

    run_dir = Path(run_dir)
    for folder in (run_dir, run_dir.parent):
        path = folder / OVERRIDES_FILE
        if not path.is_file():
            continue
        try:
            items = yaml.safe_load(path.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return {}
        if not isinstance(items, list):
            return {}
        out: dict[str, str] = {}
        for item in items:
            key, _, value = str(item).partition("=")
            out[key.strip()] = value.strip()
        return out
    return {}


def format_overrides(overrides: dict[str, str], keys: Sequence[str] | None = None) -> str:
    """``"k=v k=v"`` of ``keys`` (default: all), in the order given."""
    keys = list(overrides) if keys is None else keys
    return " ".join(f"{k}={overrides[k]}" if overrides[k] else k for k in keys if k in overrides)


def override_labels(run_dirs: Sequence[Path | str], fallback: Sequence[str]) -> list[str]:
    """Display names of runs shown together (see the module docstring).

    Args:
        run_dirs: the run directories.
        fallback: their current labels (directory names), used for runs without overrides and
            appended in brackets when override names collide.
    """
    overrides = [read_overrides(d) for d in run_dirs]
    if len(run_dirs) == 1:
        differing: list[str] = [k for k in overrides[0] if not k.startswith(NOT_NAMING_PREFIXES)]
    else:
        keys: list[str] = []
        for ov in overrides:
            keys.extend(k for k in ov if k not in keys)
        differing = [k for k in keys if len({ov.get(k) for ov in overrides}) > 1]
    names = [format_overrides(ov, differing) or fb for ov, fb in zip(overrides, fallback)]
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    return [n if seen[n] == 1 or n == fb else f"{n} [{fb}]" for n, fb in zip(names, fallback)]


def open_named_runs(paths: Sequence[Path | str]) -> list[RunStore]:
    """:func:`lattice.viewer.store.open_runs`, with each run labelled by its overrides.

    Raises:
        ValueError: a path holds no DTP Lattice run.
    """
    runs = open_runs(paths)
    for run, label in zip(runs, override_labels([r.run_dir for r in runs], [r.label for r in runs])):
        run.label = label
    return runs
