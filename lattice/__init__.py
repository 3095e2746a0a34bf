"""DTP Lattice: a spatial lattice simulator of tumour tissue under therapy.

The model lives here (grid, state, parameters, processes, stepping, output); CUDA twins of the
per-voxel rules live in :mod:`lattice.kernels`, the napari plugin in :mod:`lattice.viewer`.
"""

__version__ = "0.1.0"
