"""Read a mesh directory (``mesh.msh`` + ``tags.json``, as ``ssbmech mesh --out`` writes it).

``mesh.msh`` is Gmsh's MSH 4.1 with coordinates in m and one physical group per region;
meshio reads it. Returns the tetrahedra (triangles of a 2D mesh, at z = 0) as a
``pyvista.UnstructuredGrid`` in µm with the integer region tag as cell data ``region``, and
the tag maps of ``tags.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyvista as pv

from postprocess.errors import RenderError

MESH_MSH = "mesh.msh"
TAGS_JSON = "tags.json"
#: coordinates are drawn in µm
UM = 1e6


def read_mesh_dir(mesh_dir: Path) -> tuple[pv.UnstructuredGrid, dict[str, int]]:
    """(grid in µm with cell data ``region``, region name → tag) of ``mesh_dir``."""
    import meshio

    msh, tags_json = Path(mesh_dir) / MESH_MSH, Path(mesh_dir) / TAGS_JSON
    for path in (msh, tags_json):
        if not path.is_file():
            raise RenderError(f"{path} not found (write it with `ssbmech mesh CASE --out DIR`)")
    cells = {str(k): int(v) for k, v in json.loads(tags_json.read_text())["cells"].items()}
    mesh = meshio.read(msh)
    physical = mesh.cell_data.get("gmsh:physical")
    if physical is None:
        raise RenderError(f"{msh}: no physical groups (regions) in the mesh")
    kind = "tetra" if any(b.type == "tetra" for b in mesh.cells) else "triangle"  # 3D or 2D
    blocks = [
        (block.data, tag)
        for block, tag in zip(mesh.cells, physical, strict=True)
        if block.type == kind
    ]
    if not blocks:
        raise RenderError(f"{msh}: no tetrahedra or triangles")
    cells_ = np.vstack([b for b, _ in blocks]).astype(np.int64)
    region = np.concatenate([np.asarray(t) for _, t in blocks]).astype(np.int32)
    conn = np.hstack([np.full((len(cells_), 1), cells_.shape[1], dtype=np.int64), cells_]).ravel()
    vtk_type = pv.CellType.TETRA if kind == "tetra" else pv.CellType.TRIANGLE
    points = np.zeros((len(mesh.points), 3))
    points[:, : mesh.points.shape[1]] = mesh.points * UM  # 2D meshes: z = 0
    grid = pv.UnstructuredGrid(conn, np.full(len(cells_), vtk_type, dtype=np.uint8), points)
    grid.cell_data["region"] = region
    unknown = sorted(set(np.unique(region)) - set(cells.values()))
    if unknown:
        raise RenderError(f"{msh}: cell tags {unknown} are not named in {tags_json}")
    return grid, cells
