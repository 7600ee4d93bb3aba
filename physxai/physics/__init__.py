"""Physical systems: samplers and exact references (numpy/scipy, torch for the Monte Carlo kernels).

Submodules: ``ising`` (2D Ising: checkerboard Metropolis and Wolff samplers, Onsager's exact results,
exact enumeration), ``orbits`` (central potential), ``relativity`` (Lorentz transformations),
``hubbard`` (extended Fermi-Hubbard chain, exact diagonalisation), ``snapshots`` (one-hot
spin-up/down/hole lattice snapshots: Ising antiferromagnet, random, Gutzwiller-projected pi-flux
by Metropolis, geometric strings).
"""

from . import hubbard, ising, orbits, relativity, snapshots

__all__ = ["hubbard", "ising", "orbits", "relativity", "snapshots"]
