"""Plain-text reports for the terminal."""

from __future__ import annotations

from dolfinx import fem

from meshes.bundle import MeshBundle


def describe_mesh(bundle: MeshBundle) -> str:
    """Mesh statistics: cells, vertices, P1/P2 DOFs, fractions, dimensions, minimum quality."""
    s = bundle.stats
    dofs = {
        k: fem.VectorFunctionSpace(bundle.mesh, ("CG", k)).dofmap.index_map.size_global
        * bundle.mesh.geometry.dim
        for k in (1, 2)
    }
    lines = [
        f"cells {s.num_cells}, vertices {s.num_vertices}, DOFs {dofs[1]} (P1) / {dofs[2]} (P2)",
        f"minimum element quality (mean ratio, 1 = regular) {s.min_quality:.3f}",
        f"particles {len(s.particles)}",
    ]
    for region, achieved in s.volume_fractions_achieved.items():
        requested = s.volume_fractions_requested.get(region)
        req = f"requested {requested:.4f}, " if requested is not None else ""
        lines.append(f"volume fraction {region}: {req}achieved {achieved:.4f}")
    for region, achieved in s.thicknesses_achieved.items():
        requested = s.thicknesses_requested[region]
        lines.append(f"thickness {region}: requested {requested:.4g} m, achieved {achieved:.4g} m")
    for name, achieved in s.dimensions_achieved.items():
        requested = s.dimensions_requested[name]
        lines.append(f"{name}: requested {requested:.4g} m, achieved {achieved:.4g} m")
    return "\n".join(lines)
