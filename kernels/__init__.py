"""CUDA twins of the per-voxel rules (``*.cu``/``*.cuh``) and their thin CuPy launchers.

Installed as ``lattice.kernels``. Each launcher module exposes ``load(exact: bool)`` returning
the callable twin of a NumPy process; :meth:`lattice.backend.Backend.kernel` finds them by name.
"""

from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent
