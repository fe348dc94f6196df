"""The solved mesh with its tags as partitioned XDMF/HDF5: ``RUN_DIR/mesh.xdmf`` + ``mesh.h5``.

Written collectively once, when a run starts (every rank writes its part; no rank-0
bottleneck), and read collectively by ``ssbmech run --restart`` instead of regenerating the
geometry or re-reading ``mesh.msh`` on rank 0. The cell and facet tags are stored as the
meshtags ``cell_tags`` and ``facet_tags``; their names come from ``tags.json``.
"""

from __future__ import annotations

from pathlib import Path

from dolfinx.io import XDMFFile
from mpi4py import MPI

from meshes.bundle import MeshBundle, MeshStats

MESH_NAME, CELL_TAGS, FACET_TAGS = "mesh", "cell_tags", "facet_tags"


def write(comm: MPI.Comm, path: Path, bundle: MeshBundle) -> None:
    """Write mesh, cell tags and facet tags of ``bundle`` to ``path`` (collective)."""
    mesh = bundle.mesh
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    mesh.name = MESH_NAME
    bundle.cell_tags.name = CELL_TAGS
    bundle.facet_tags.name = FACET_TAGS
    with XDMFFile(comm, str(path), "w") as xdmf:
        xdmf.write_mesh(mesh)
        xdmf.write_meshtags(bundle.cell_tags)
        xdmf.write_meshtags(bundle.facet_tags)


def read(
    comm: MPI.Comm,
    path: Path,
    cell_names: dict[str, int],
    facet_names: dict[str, int],
    stats: MeshStats,
) -> MeshBundle:
    """Read the mesh and its tags written by ``write`` (collective)."""
    with XDMFFile(comm, str(path), "r") as xdmf:
        mesh = xdmf.read_mesh(name=MESH_NAME)
        tdim = mesh.topology.dim
        mesh.topology.create_entities(tdim - 1)
        mesh.topology.create_connectivity(tdim - 1, tdim)
        cell_tags = xdmf.read_meshtags(mesh, name=CELL_TAGS)
        facet_tags = xdmf.read_meshtags(mesh, name=FACET_TAGS)
    return MeshBundle(mesh, cell_tags, facet_tags, cell_names, facet_names, stats)
