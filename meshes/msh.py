"""Re-read a saved ``mesh.msh`` (coordinates in m) into a distributed :class:`MeshBundle`.

A restart solves on the mesh that was saved, not on a regenerated one: rank 0 opens the file
with the Gmsh API and ``gmshio.model_to_mesh`` distributes it, as the generators do
(``gmshio.read_from_msh`` is broken in DOLFINx 0.5.2). Node and element order are those of
the file, so ``mesh.geometry.input_global_indices`` (Gmsh node tag − 1) match the run that
wrote it. The tag names come from ``tags.json``, the statistics from the writing run.
"""

from __future__ import annotations

from pathlib import Path

from dolfinx.io import gmshio
from mpi4py import MPI

from meshes.bundle import MeshBundle, MeshStats


def read(
    comm: MPI.Comm,
    msh_path: Path,
    cell_names: dict[str, int],
    facet_names: dict[str, int],
    stats: MeshStats,
) -> MeshBundle:
    """Distribute the mesh of ``msh_path`` (m) over ``comm`` (collective)."""
    import gmsh  # imported here: importing gmsh resets Python's SIGINT handler

    dim = None
    if comm.rank == 0:
        gmsh.initialize(readConfigFiles=False)
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.open(str(msh_path))
        dim = gmsh.model.getDimension()  # 3, or 2 for the plane-strain generators
    dim = comm.bcast(dim, root=0)
    try:
        mesh, cell_tags, facet_tags = gmshio.model_to_mesh(gmsh.model, comm, 0, gdim=dim)
    finally:
        if comm.rank == 0:
            gmsh.finalize()
    return MeshBundle(mesh, cell_tags, facet_tags, cell_names, facet_names, stats)
