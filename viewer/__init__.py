"""napari plugin and reports for DTP Lattice runs (installed as ``lattice.viewer``).

- :mod:`lattice.viewer.store`: lazy read access to ``run.zarr`` / ``summary.h5`` (no Qt);
- :mod:`lattice.viewer.reader`: the npe2 reader and the layers it builds (no Qt);
- :mod:`lattice.viewer.names`: runs of a sweep named by their Hydra overrides;
- :mod:`lattice.viewer.preference`: napari's reader preference, so ``napari RUN/run.zarr`` picks
  this plugin without ``--plugin``;
- :mod:`lattice.viewer.widgets`: dock widgets (legend, population curves, field picker, follow);
- :mod:`lattice.viewer.cli`: ``lattice-view PATH…``; :mod:`lattice.viewer.report`:
  ``lattice-report RUN`` (matplotlib Agg, no display);
- :mod:`lattice.viewer.sample`: sample data generated on the fly.

Modules import numpy, zarr, h5py, matplotlib and napari where they are used, not at the top:
``--help`` answers at once and the viewer shows a run before the curves are drawn.

The manifest is ``napari.yaml`` (plugin ``dtp-lattice``, entry point ``napari.manifest``).
"""
