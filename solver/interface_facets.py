"""Tagged facets for traction evaluation.

Owned facets, unit normals, areas (m2), midpoints (m), the (one or two) adjacent cells and
the local facet index in each.

The normal points away from the adjacent cell with the smaller cell tag (in a particle RVE:
from ``particles`` into ``matrix``, i.e. n = e_r on a particle surface). The stress on a
facet is σ̄ = ½(σ⁺ + σ⁻), the mean of the stress σ(u) of the two adjacent cells evaluated
at the facet midpoint (each cell's own polynomial, so P2 displacements give the linear
variation of σ up to the facet, not a cell-midpoint value); σ̄ n is the average of the two
one-sided tractions. With the default ghost mode (shared facet) both cells of an owned facet
are present on the owning rank. 2D meshes (triangles): facets are edges, "areas" are lengths
(m, per unit depth), normals lie in the plane (z component 0) and σ is the full 3×3 stress.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import ufl
from dolfinx import fem
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
        mesh.topology.create_connectivity(tdim, tdim - 1)
        c2f = mesh.topology.connectivity(tdim, tdim - 1)
        self.local_facets = np.array(
            [
                [int(np.flatnonzero(c2f.links(c) == f)[0]) for c in pair]
                for f, pair in zip(self.facets, adjacent, strict=True)
            ],
            dtype=np.int64,
        ).reshape(-1, 2)
        """Local index (0…tdim) of the facet in each adjacent cell (facet i opposite vertex i)."""
        self._facets_per_cell = tdim + 1
        x = _facet_vertex_coordinates(mesh, self.facets, adjacent[:, 0])
        edge = x[:, 1] - x[:, 0]
        if tdim == 3:
            normal = np.cross(edge, x[:, 2] - x[:, 0])
        else:  # the edge turned by 90° in the plane
            normal = np.stack([edge[:, 1], -edge[:, 0], np.zeros(len(edge))], axis=1)
        length = np.linalg.norm(normal, axis=1)
        self.areas: npt.NDArray[np.float64] = (0.5 if tdim == 3 else 1.0) * length
        self.midpoints: npt.NDArray[np.float64] = x.mean(axis=1)
        normal = normal / np.maximum(length, 1e-300)[:, None]
        from_mid = compute_midpoints(mesh, tdim, adjacent[:, 0]).reshape(-1, 3)
        flip = np.einsum("fi,fi->f", normal, self.midpoints - from_mid) < 0
        normal[flip] *= -1
        self.normals: npt.NDArray[np.float64] = normal

    def stress(self, sigma_at_facets: fem.Expression) -> npt.NDArray[np.float64]:
        """σ̄ (facets, 3, 3) (Pa) from ``facet_stress_expression``: mean of the two sides."""
        rows = np.arange(len(self.facets))
        sides = []
        for side in (0, 1):
            values = sigma_at_facets.eval(self.cells[:, side])
            values = values.reshape(-1, self._facets_per_cell, 3, 3)
            sides.append(values[rows, self.local_facets[:, side]])
        s = 0.5 * (sides[0] + sides[1])
        return 0.5 * (s + s.transpose(0, 2, 1))


REFERENCE_FACET_MIDPOINTS = np.array(
    [[1 / 3, 1 / 3, 1 / 3], [0.0, 1 / 3, 1 / 3], [1 / 3, 0.0, 1 / 3], [1 / 3, 1 / 3, 0.0]]
)
"""Midpoints of the facets 0…3 of the reference tetrahedron (facet i opposite vertex i)."""
REFERENCE_EDGE_MIDPOINTS = np.array([[0.5, 0.5], [0.0, 0.5], [0.5, 0.0]])
"""Midpoints of the edges 0…2 of the reference triangle (edge i opposite vertex i)."""


def facet_stress_expression(stress: ufl.core.expr.Expr, tdim: int = 3) -> fem.Expression:
    """3×3 σ evaluated in a cell at its facet midpoints: values (cells, (tdim + 1) × 9)."""
    points = REFERENCE_FACET_MIDPOINTS if tdim == 3 else REFERENCE_EDGE_MIDPOINTS
    return fem.Expression(stress, points)


def _facet_vertex_coordinates(
    mesh: Mesh, facets: npt.NDArray[np.int32], cells: npt.NDArray[np.int32]
) -> npt.NDArray[np.float64]:
    """Coordinates (facets, tdim, 3) of the vertices of each facet, read through a cell.

    Affine cells: the geometry dofmap lists a cell's nodes in its vertex order.
    """
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, 0)
    mesh.topology.create_connectivity(tdim, 0)
    f2v, c2v = mesh.topology.connectivity(tdim - 1, 0), mesh.topology.connectivity(tdim, 0)
    dofmap = mesh.geometry.dofmap
    out = np.empty((len(facets), tdim, 3))
    for i, (f, c) in enumerate(zip(facets, cells, strict=True)):
        on_facet = np.isin(c2v.links(c), f2v.links(f))
        out[i] = mesh.geometry.x[dofmap.links(c)[: tdim + 1][on_facet]]
    return out
