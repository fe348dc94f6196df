"""Geometry of a tagged set of facets for traction evaluation: owned facets, unit normals,
areas (m2), midpoints (m) and the (one or two) adjacent cells.

The normal points away from the adjacent cell with the smaller cell tag (in a particle RVE:
from ``particles`` into ``matrix``, i.e. n = e_r on a particle surface). The stress on a
facet is the mean of the adjacent cells' cell-wise (DG0) stresses, σ̄ = ½(σ⁺ + σ⁻), so the
traction σ̄ n is the average of the two one-sided tractions. With the default ghost mode
(shared facet) both cells of an owned facet are present on the owning rank.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from dolfinx.cpp.mesh import MeshTags_int32
from dolfinx.mesh import Mesh, compute_midpoints


class InterfaceFacets:
    """Owned facets tagged ``tag`` with normals, areas, midpoints and adjacent cells."""

    def __init__(self, mesh: Mesh, facet_tags: MeshTags_int32, tag: int, cell_tags: MeshTags_int32):
        tdim = mesh.topology.dim
        mesh.topology.create_connectivity(tdim - 1, tdim)
        f2c = mesh.topology.connectivity(tdim - 1, tdim)
        num_owned = mesh.topology.index_map(tdim - 1).size_local
        facets = facet_tags.indices[facet_tags.values == tag]
        self.facets = facets[facets < num_owned].astype(np.int32)
        num_cells = mesh.topology.index_map(tdim).size_local
        num_cells += mesh.topology.index_map(tdim).num_ghosts
        cell_value = np.full(num_cells, np.iinfo(np.int32).max, dtype=np.int64)
        cell_value[cell_tags.indices] = cell_tags.values
        pairs = []
        for f in self.facets:
            cells = f2c.links(f)
            first = cells[np.argmin(cell_value[cells])]
            other = cells[cells != first]
            pairs.append((first, other[0] if other.size else first))
        adjacent = np.array(pairs, dtype=np.int32).reshape(-1, 2)
        self.cells = adjacent
        """Adjacent cells (facets, 2): [from-cell, to-cell] (both the same on a boundary)."""
        x = _facet_vertex_coordinates(mesh, self.facets, adjacent[:, 0])
        normal = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])
        length = np.linalg.norm(normal, axis=1)
        self.areas: npt.NDArray[np.float64] = 0.5 * length
        self.midpoints: npt.NDArray[np.float64] = x.mean(axis=1)
        normal = normal / np.maximum(length, 1e-300)[:, None]
        from_mid = compute_midpoints(mesh, tdim, adjacent[:, 0]).reshape(-1, 3)
        flip = np.einsum("fi,fi->f", normal, self.midpoints - from_mid) < 0
        normal[flip] *= -1
        self.normals: npt.NDArray[np.float64] = normal

    def stress(self, sigma_cells: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """σ̄ (facets, 3, 3) (Pa): mean of the adjacent cells' stresses (cells, 3, 3)."""
        return 0.5 * (sigma_cells[self.cells[:, 0]] + sigma_cells[self.cells[:, 1]])


def _facet_vertex_coordinates(
    mesh: Mesh, facets: npt.NDArray[np.int32], cells: npt.NDArray[np.int32]
) -> npt.NDArray[np.float64]:
    """Coordinates (facets, 3, 3) of the vertices of each facet, read through an adjacent cell
    (affine cells: the geometry dofmap lists a cell's nodes in its vertex order).
    """
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, 0)
    mesh.topology.create_connectivity(tdim, 0)
    f2v, c2v = mesh.topology.connectivity(tdim - 1, 0), mesh.topology.connectivity(tdim, 0)
    dofmap = mesh.geometry.dofmap
    out = np.empty((len(facets), 3, 3))
    for i, (f, c) in enumerate(zip(facets, cells, strict=True)):
        on_facet = np.isin(c2v.links(c), f2v.links(f))
        out[i] = mesh.geometry.x[dofmap.links(c)[:4][on_facet]]
    return out
