"""DOFs and weights of named mesh regions, consistent over MPI ranks.

``region_dofs``: the local DOFs (owned and ghost) of a scalar Lagrange space that belong to any
of the given cells on any rank. ``surface_load``: the exact P1 surface integral ∫_S φ_i dA
(m²) of every basis function over tagged facets, which works for boundary and interior
facets alike without ghosted cells.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from dolfinx import fem, la
from petsc4py import PETSc

from meshes.bundle import MeshBundle


def region_dofs(V: fem.FunctionSpace, cells: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """Local DOFs of ``V`` touched by ``cells`` here or by the cells of any other rank."""
    marker = fem.Function(V)
    dofs_per_cell = V.dofmap.dof_layout.num_dofs
    marker.x.array[V.dofmap.list.array.reshape(-1, dofs_per_cell)[cells].ravel()] = 1.0
    marker.x.scatter_reverse(la.ScatterMode.add)
    marker.x.scatter_forward()
    return np.flatnonzero(marker.x.array > 0).astype(np.int32)


def surface_load(V: fem.FunctionSpace, bundle: MeshBundle, names: list[str]) -> PETSc.Vec:
    """Vector w_i = ∫_S φ_i dA (m²) over the facets named ``names`` (P1 ``V``, flat facets).

    Each facet counts once (on the rank that owns it), whether it lies on the boundary or
    between two regions; ∫_f φ_i dA = |f|/3 for a linear triangle f.
    """
    mesh = bundle.mesh
    tdim = mesh.topology.dim
    mesh.topology.create_entities(tdim - 1)
    mesh.topology.create_connectivity(tdim - 1, tdim)
    mesh.topology.create_connectivity(tdim, tdim - 1)
    num_owned = mesh.topology.index_map(tdim - 1).size_local
    tags = [bundle.facet_names[n] for n in names]
    facets = bundle.facet_tags.indices[np.isin(bundle.facet_tags.values, tags)]
    facets = facets[facets < num_owned]
    # one cell of each facet; local facet i of a simplex is the one opposite its vertex i
    f_to_c = mesh.topology.connectivity(tdim - 1, tdim)
    cells = f_to_c.array[f_to_c.offsets[facets]]
    cell_facets = mesh.topology.connectivity(tdim, tdim - 1).array.reshape(-1, tdim + 1)
    keep = cell_facets[cells] != facets[:, None]  # True on the facet's own vertices
    nodes = mesh.geometry.dofmap.array.reshape(-1, tdim + 1)[cells][keep].reshape(-1, tdim)
    dofs = V.dofmap.list.array.reshape(-1, tdim + 1)[cells][keep].reshape(-1, tdim)
    x = mesh.geometry.x[nodes]
    area = 0.5 * np.linalg.norm(np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), axis=1)
    w = la.create_petsc_vector(V.dofmap.index_map, V.dofmap.index_map_bs)
    with w.localForm() as local:
        local.set(0.0)
        np.add.at(local.array, dofs.ravel(), np.repeat(area / 3.0, 3))
    w.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    w.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
    return w
