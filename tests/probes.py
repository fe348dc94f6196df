"""Point probes of FE fields for verification tests (parallel-safe)."""

from __future__ import annotations

import numpy as np
from dolfinx import fem, geometry

from solver.physics.mechanics import ElasticityProblem


def containing_cell(mesh, candidates: np.ndarray, point: np.ndarray) -> int | None:
    """A local cell containing ``point``, by barycentric coordinates.

    (dolfinx 0.5's compute_colliding_cells uses an absolute GJK tolerance that misses points
    in micrometre-sized cells given in metres.)
    """
    dofs = mesh.geometry.dofmap
    for cell in candidates:
        x = mesh.geometry.x[dofs.links(cell)]
        lam = np.linalg.solve((x[1:] - x[0]).T, point - x[0])
        if lam.min() >= -1e-10 and lam.sum() <= 1 + 1e-10:
            return int(cell)
    return None


def stress_at(problem: ElasticityProblem, points: np.ndarray) -> np.ndarray:
    """σ (Pa) at the given points (n×3), gathered over ranks (first owner wins)."""
    mesh = problem.mesh
    dg = fem.TensorFunctionSpace(mesh, ("DG", max(problem.V.ufl_element().degree() - 1, 0)))
    sigma = fem.Function(dg)
    sigma.interpolate(fem.Expression(problem.stress(problem.u), dg.element.interpolation_points()))
    tree = geometry.BoundingBoxTree(mesh, mesh.topology.dim)
    candidates = geometry.compute_collisions(tree, points)
    found = np.full((len(points), 9), np.nan)
    for i, point in enumerate(points):
        cell = containing_cell(mesh, candidates.links(i), point)
        if cell is not None:
            found[i] = sigma.eval(point, [cell])
    gathered = mesh.comm.allgather(found)
    out = np.full_like(found, np.nan)
    for part in gathered:
        mask = np.isnan(out[:, 0]) & ~np.isnan(part[:, 0])
        out[mask] = part[mask]
    assert not np.isnan(out).any()
    return out.reshape(-1, 3, 3)
