"""Hydra configuration tree, installed as ``lattice.conf`` (read by Hydra as pkg://lattice.conf)."""
