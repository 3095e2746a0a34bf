"""napari plugin and reports for DTP Lattice runs (installed as ``lattice.viewer``).

- :mod:`lattice.viewer.store`: lazy read access to ``run.zarr`` / ``summary.h5`` (no Qt);
- :mod:`lattice.viewer.reader`: the npe2 reader and the layers it builds (no Qt);
- :mod:`lattice.viewer.widgets`: dock widgets (legend, population curves, field picker, follow);
- :mod:`lattice.viewer.cli`: ``lattice-view PATH…``; :mod:`lattice.viewer.report`:
  ``lattice-report RUN`` (matplotlib Agg, no display);
- :mod:`lattice.viewer.sample`: sample data generated on the fly.

The manifest is ``napari.yaml`` (plugin ``dtp-lattice``, entry point ``napari.manifest``).
"""
