"""napari plugin for DTP Lattice runs (installed as ``lattice.viewer``)."""
