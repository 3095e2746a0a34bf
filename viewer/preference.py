"""napari's reader preference for run stores, so ``napari RUN/run.zarr`` needs no ``--plugin``.

napari picks a reader for a path from the readers whose manifest patterns match it, never by
asking them whether they can read it. Every folder matches napari's built-in reader (it claims
all folders and ``*.zarr``) as well as ours, so with two candidates napari asks the user which
to use (a dialog, or ``MultipleReaderError`` from ``viewer.open(path, plugin=None)``) unless its
settings hold a reader preference, ``plugins.extension2reader``: ``{fnmatch pattern: plugin}``
matched against the real path of the folder with a trailing separator. Nothing in a plugin's
manifest can set that preference, so :func:`register_reader` writes it into napari's settings:
``*/run.zarr/`` → ``dtp-lattice``. ``lattice-view`` does this on start (and says so once),
leaving alone a preference the user set for the same pattern to another reader;
``lattice-view --register-reader`` does it even then.

Run directories have no fixed name to match, so they open with ``lattice-view RUN`` or
``napari RUN/run.zarr``. ``viewer.open(path)`` in Python uses napari's built-in reader unless
``plugin=None`` (napari's default) or ``plugin="dtp-lattice"`` is passed.
"""

from __future__ import annotations

import os

from lattice.viewer.store import ZARR_NAME

#: Our npe2 plugin name (the ``name`` of napari.yaml).
PLUGIN = "dtp-lattice"

ADDED, KEPT, OTHER = "added", "kept", "other"


def run_store_pattern() -> str:
    """The reader-preference pattern of ``run.zarr`` folders (``*/run.zarr/`` on POSIX): napari
    matches a folder's real path followed by the path separator."""
    return os.path.join("*", ZARR_NAME) + os.sep


def register_reader(settings=None, force: bool = False) -> tuple[str, str]:
    """Make :data:`PLUGIN` napari's reader for :func:`run_store_pattern` unless the user chose
    another reader for that pattern (``force``: replace that choice too). napari saves its
    settings file itself.

    Args:
        settings: a ``NapariSettings`` (default: napari's ``get_settings()``).
        force: the user asked for it (``lattice-view --register-reader``).

    Returns:
        ``(outcome, plugin)``: ``("added", "dtp-lattice")`` when written now, ``("kept",
        "dtp-lattice")`` when it was already there, ``("other", name)`` when the user's choice
        of another reader was left in place.
    """
    if settings is None:
        from napari.settings import get_settings

        settings = get_settings()
    pattern = run_store_pattern()
    current = dict(settings.plugins.extension2reader)
    chosen = current.get(pattern)
    if chosen == PLUGIN:
        return KEPT, PLUGIN
    if chosen and not force:
        return OTHER, chosen
    settings.plugins.extension2reader = {**current, pattern: PLUGIN}  # assigning emits napari's autosave
    return ADDED, PLUGIN


def describe(outcome: str, plugin: str, settings_path) -> str | None:
    """One line for the user about what :func:`register_reader` did (None when nothing changed)."""
    pattern = run_store_pattern()
    if outcome == ADDED:
        return (f"napari now opens {pattern} folders with the DTP Lattice reader (`napari RUN/{ZARR_NAME}`); "
                f"change it in napari's Preferences > Plugins or {settings_path}")
    if outcome == OTHER:
        return (f"napari opens {pattern} folders with '{plugin}' (your choice, kept); "
                f"use `napari --plugin {PLUGIN} RUN/{ZARR_NAME}` or lattice-view for DTP Lattice runs")
    return None
