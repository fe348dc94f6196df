"""Mesh statistics of a generator: the linear simplices Gmsh meshed into its cell groups.

Every generator reports, for the elements DOLFINx receives (those of the physical cell groups;
meshed cells in no group, such as thin_film's gap cells, do not count): the number of cells and
of vertices, the smallest element quality and the measure of each group (volume, area in 2D).
With e_ij = x_j − x_i the edge vectors and Σ l² the sum of the squared edge lengths, quality
(1 = regular simplex, → 0 degenerate) and measure are

- tetrahedra: mean ratio 12 (3V)^(2/3) / Σ l², V = |e_01 · (e_02 × e_03)| / 6;
- triangles: 4√3 A / Σ l², A = |e_01 × e_02| / 2.

Gmsh is imported inside the functions: importing it resets Python's SIGINT handler.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from meshes.bundle import MeshStats
from meshes.gmsh_run import MODEL_UNIT

Edges = list[np.ndarray]
"""Edge vectors e_ij (n × 3 each) of n simplices, pairs (i, j) in lexical order: e_01, e_02, …"""


def _tet_volume(e: Edges) -> np.ndarray:
    return np.abs(np.einsum("ij,ij->i", e[0], np.cross(e[1], e[2]))) / 6


def _tet_quality(volume: np.ndarray, sum_l2: np.ndarray) -> np.ndarray:
    return 12 * (3 * volume) ** (2 / 3) / sum_l2


def _triangle_area(e: Edges) -> np.ndarray:
    return 0.5 * np.linalg.norm(np.cross(e[0], e[1]), axis=1)


def _triangle_quality(area: np.ndarray, sum_l2: np.ndarray) -> np.ndarray:
    return 4 * np.sqrt(3) * area / sum_l2


@dataclass(frozen=True)
class Simplex:
    """A linear simplex: dimension, Gmsh element type, measure(edges), quality(measure, Σ l²)."""

    dim: int
    gmsh_type: int
    measure: Callable[[Edges], np.ndarray]
    quality: Callable[[np.ndarray, np.ndarray], np.ndarray]


TETRAHEDRA = Simplex(3, 4, _tet_volume, _tet_quality)
TRIANGLES = Simplex(2, 2, _triangle_area, _triangle_quality)


def element_stats(
    simplex: Simplex, cells: dict[str, list[int]]
) -> tuple[MeshStats, dict[str, float]]:
    """Statistics of the elements of the cell groups ``{name: entity tags}`` of the Gmsh model.

    Returns the MeshStats with the cell and vertex counts and the smallest quality (the
    generator adds its geometry fields with ``dataclasses.replace``) and the measure of each
    group (m^dim). Call on rank 0 once the nodes are in place (after meshing and any mapping).
    """
    import gmsh

    node_tags, coords, _ = gmsh.model.mesh.getNodes()
    x = np.empty((int(node_tags.max()) + 1, 3))
    x[node_tags] = coords.reshape(-1, 3)
    no_nodes = np.empty(0, dtype=node_tags.dtype)  # a group may have no entities
    pairs = list(itertools.combinations(range(simplex.dim + 1), 2))
    all_nodes, qualities, measures = [], [], {}
    for name, entities in cells.items():
        nodes = np.concatenate(
            [no_nodes]
            + [gmsh.model.mesh.getElementsByType(simplex.gmsh_type, t)[1] for t in entities]
        )
        p = x[nodes.reshape(-1, simplex.dim + 1)]
        edges = [p[:, j] - p[:, i] for i, j in pairs]
        measure = simplex.measure(edges)
        sum_l2 = sum(np.einsum("ij,ij->i", e, e) for e in edges)
        qualities.append(simplex.quality(measure, sum_l2))
        measures[name] = float(measure.sum() * MODEL_UNIT**simplex.dim)
        all_nodes.append(nodes)
    nodes = np.concatenate(all_nodes)
    stats = MeshStats(
        num_cells=len(nodes) // (simplex.dim + 1),
        num_vertices=len(np.unique(nodes)),
        min_quality=float(np.concatenate(qualities).min()),
    )
    return stats, measures
