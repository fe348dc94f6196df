"""Test-only geometries for verification against analytic solutions."""

from __future__ import annotations

import gmsh
import numpy as np
from dolfinx.io import gmshio
from dolfinx.mesh import CellType, create_box, locate_entities_boundary, meshtags
from mpi4py import MPI

from meshes.bundle import MeshBundle, MeshStats, Particle

CORE, SHELL = "particles", "matrix"


def sphere_in_shell_octant(comm: MPI.Comm, a: float, b: float, h: float) -> MeshBundle:
    """Octant (x, y, z ≥ 0) of a sphere of radius a (m) in a shell of outer radius b (m).

    Cells: ``particles`` (core), ``matrix`` (shell). Facets: ``x0``, ``y0``, ``z0`` (symmetry
    planes), ``interface`` (r = a), ``outer`` (r = b). Uniform element size h (m).
    """
    names = {
        "cells": {CORE: 1, SHELL: 2},
        "facets": {"x0": 3, "y0": 4, "z0": 5, "interface": 6, "outer": 7},
    }
    num_cells = 0
    if comm.rank == 0:
        gmsh.initialize()
        gmsh.option.setNumber("General.Terminal", 0)
        occ = gmsh.model.occ
        outer = occ.addSphere(0, 0, 0, b)
        core = occ.addSphere(0, 0, 0, a)
        box = occ.addBox(0, 0, 0, b, b, b)
        cut, _ = occ.intersect([(3, outer)], [(3, box)], removeObject=True, removeTool=False)
        cut_core, _ = occ.intersect([(3, core)], [(3, box)])
        frag, _ = occ.fragment(cut, cut_core)
        occ.synchronize()
        vols = [t for d, t in frag if d == 3]
        core_vol = min(vols, key=lambda t: occ.getMass(3, t))
        gmsh.model.addPhysicalGroup(3, [core_vol], names["cells"][CORE])
        gmsh.model.addPhysicalGroup(3, [t for t in vols if t != core_vol], names["cells"][SHELL])
        groups: dict[str, list[int]] = {k: [] for k in names["facets"]}
        for _, s in gmsh.model.getEntities(2):
            c = np.array(occ.getCenterOfMass(2, s))
            for axis, key in enumerate(("x0", "y0", "z0")):
                if abs(c[axis]) < 1e-9 * b:
                    groups[key].append(s)
                    break
            else:
                radius = gmsh.model.getBoundingBox(2, s)[3]  # x_max of the patch = its radius
                groups["interface" if radius < 0.5 * (a + b) else "outer"].append(s)
        for key, tags in groups.items():
            gmsh.model.addPhysicalGroup(2, tags, names["facets"][key])
        gmsh.option.setNumber("Mesh.MeshSizeMin", h)
        gmsh.option.setNumber("Mesh.MeshSizeMax", h)
        gmsh.model.mesh.generate(3)
        num_cells = int(sum(len(t) for t in gmsh.model.mesh.getElements(3)[1]))
    mesh, ct, ft = gmshio.model_to_mesh(gmsh.model, comm, 0, gdim=3)
    if comm.rank == 0:
        gmsh.finalize()
    stats = MeshStats(
        num_cells=comm.bcast(num_cells, root=0),
        num_vertices=0,
        min_quality=0.0,
        particles=(Particle((0.0, 0.0, 0.0), a),),
    )
    return MeshBundle(mesh, ct, ft, names["cells"], names["facets"], stats)


def sphere_octant(comm: MPI.Comm, radius: float, h: float) -> MeshBundle:
    """Octant (x, y, z ≥ 0) of a free sphere of radius (m), uniform element size h (m).

    Cells: ``particles``. Facets: ``x0``, ``y0``, ``z0`` (symmetry planes), ``particle_surface``
    (r = radius). Built in µm (OpenCASCADE tolerance), coordinates scaled to metres.
    """
    unit = 1e-6
    names = {"cells": {CORE: 1}, "facets": {"x0": 2, "y0": 3, "z0": 4, "particle_surface": 5}}
    if comm.rank == 0:
        gmsh.initialize()
        gmsh.option.setNumber("General.Terminal", 0)
        occ = gmsh.model.occ
        r = radius / unit
        ball = occ.addSphere(0, 0, 0, r)
        box = occ.addBox(0, 0, 0, r, r, r)
        octant, _ = occ.intersect([(3, ball)], [(3, box)])
        occ.synchronize()
        gmsh.model.addPhysicalGroup(3, [t for _, t in octant], names["cells"][CORE])
        groups: dict[str, list[int]] = {k: [] for k in names["facets"]}
        for _, s in gmsh.model.getEntities(2):
            c = np.array(occ.getCenterOfMass(2, s))
            planes = [k for axis, k in enumerate(("x0", "y0", "z0")) if abs(c[axis]) < 1e-9 * r]
            groups[planes[0] if planes else "particle_surface"].append(s)
        for key, tags in groups.items():
            gmsh.model.addPhysicalGroup(2, tags, names["facets"][key])
        gmsh.option.setNumber("Mesh.MeshSizeMin", h / unit)
        gmsh.option.setNumber("Mesh.MeshSizeMax", h / unit)
        gmsh.option.setNumber("Mesh.Algorithm3D", 1)
        gmsh.model.mesh.generate(3)
    mesh, ct, ft = gmshio.model_to_mesh(gmsh.model, comm, 0, gdim=3)
    if comm.rank == 0:
        gmsh.finalize()
    mesh.geometry.x[:] *= unit
    stats = MeshStats(num_cells=0, num_vertices=0, min_quality=0.0)
    return MeshBundle(mesh, ct, ft, names["cells"], names["facets"], stats)


def cylinder_quarter(comm: MPI.Comm, radius: float, length: float, h: float) -> MeshBundle:
    """Quarter (x, y ≥ 0) of a cylinder slab r ≤ radius, 0 ≤ z ≤ length (m), element size h.

    Cells: ``particles``. Facets: ``x0``, ``y0`` (symmetry planes), ``z0``, ``z1`` (end faces),
    ``particle_surface`` (r = radius). Built in µm, coordinates scaled to metres.
    """
    unit = 1e-6
    names = {
        "cells": {CORE: 1},
        "facets": {"x0": 2, "y0": 3, "z0": 4, "z1": 5, "particle_surface": 6},
    }
    if comm.rank == 0:
        gmsh.initialize()
        gmsh.option.setNumber("General.Terminal", 0)
        occ = gmsh.model.occ
        r, z = radius / unit, length / unit
        body = occ.addCylinder(0, 0, 0, 0, 0, z, r)
        box = occ.addBox(0, 0, 0, r, r, z)
        quarter, _ = occ.intersect([(3, body)], [(3, box)])
        occ.synchronize()
        gmsh.model.addPhysicalGroup(3, [t for _, t in quarter], names["cells"][CORE])
        groups: dict[str, list[int]] = {k: [] for k in names["facets"]}
        for _, s in gmsh.model.getEntities(2):
            c = np.array(occ.getCenterOfMass(2, s))
            checks = {"x0": abs(c[0]), "y0": abs(c[1]), "z0": abs(c[2]), "z1": abs(c[2] - z)}
            flat = [k for k, d in checks.items() if d < 1e-9 * r]
            groups[flat[0] if flat else "particle_surface"].append(s)
        for key, tags in groups.items():
            gmsh.model.addPhysicalGroup(2, tags, names["facets"][key])
        gmsh.option.setNumber("Mesh.MeshSizeMin", h / unit)
        gmsh.option.setNumber("Mesh.MeshSizeMax", h / unit)
        gmsh.option.setNumber("Mesh.Algorithm3D", 1)
        gmsh.model.mesh.generate(3)
    mesh, ct, ft = gmshio.model_to_mesh(gmsh.model, comm, 0, gdim=3)
    if comm.rank == 0:
        gmsh.finalize()
    mesh.geometry.x[:] *= unit
    stats = MeshStats(num_cells=0, num_vertices=0, min_quality=0.0)
    return MeshBundle(mesh, ct, ft, names["cells"], names["facets"], stats)


def disk_in_disk(comm: MPI.Comm, a: float, b: float, h: float, h_interface: float) -> MeshBundle:
    """Disk of radius a (m) centred in a disk of radius b (m), 2D (gdim 2) for plane strain.

    Cells: ``particles`` (r < a), ``matrix`` (a < r < b). Facets: ``interface`` (r = a),
    ``outer`` (r = b). Element size h_interface at r = a growing linearly to h at r = b.
    Built in µm (OpenCASCADE tolerance), coordinates scaled to metres.
    """
    unit = 1e-6
    names = {"cells": {CORE: 1, SHELL: 2}, "facets": {"interface": 3, "outer": 4}}
    num_cells = 0
    if comm.rank == 0:
        gmsh.initialize()
        gmsh.option.setNumber("General.Terminal", 0)
        occ = gmsh.model.occ
        outer = occ.addDisk(0, 0, 0, b / unit, b / unit)
        core = occ.addDisk(0, 0, 0, a / unit, a / unit)
        frag, _ = occ.fragment([(2, outer)], [(2, core)])
        occ.synchronize()
        surfs = [t for d, t in frag if d == 2]
        core_surf = min(surfs, key=lambda t: occ.getMass(2, t))
        gmsh.model.addPhysicalGroup(2, [core_surf], names["cells"][CORE])
        gmsh.model.addPhysicalGroup(2, [t for t in surfs if t != core_surf], names["cells"][SHELL])
        curves = {
            abs(t): gmsh.model.getBoundingBox(1, abs(t))[3]
            for _, t in gmsh.model.getBoundary([(2, t) for t in surfs], combined=False)
        }
        gmsh.model.addPhysicalGroup(
            1,
            [c for c, r in curves.items() if r < 0.5 * (a + b) / unit],
            names["facets"]["interface"],
        )
        gmsh.model.addPhysicalGroup(
            1, [c for c, r in curves.items() if r >= 0.5 * (a + b) / unit], names["facets"]["outer"]
        )
        field = gmsh.model.mesh.field
        f = field.add("MathEval")
        slope = (h - h_interface) / (b - a)
        field.setString(
            f, "F", f"{h_interface / unit} + {slope} * Max(0, Sqrt(x*x + y*y) - {a / unit})"
        )
        field.setAsBackgroundMesh(f)
        for option in ("MeshSizeExtendFromBoundary", "MeshSizeFromPoints", "MeshSizeFromCurvature"):
            gmsh.option.setNumber(f"Mesh.{option}", 0)
        gmsh.model.mesh.generate(2)
        num_cells = int(sum(len(t) for t in gmsh.model.mesh.getElements(2)[1]))
    mesh, ct, ft = gmshio.model_to_mesh(gmsh.model, comm, 0, gdim=2)
    if comm.rank == 0:
        gmsh.finalize()
    mesh.geometry.x[:] *= unit
    stats = MeshStats(
        num_cells=comm.bcast(num_cells, root=0),
        num_vertices=0,
        min_quality=0.0,
        particles=(Particle((0.0, 0.0, 0.0), a),),
    )
    return MeshBundle(mesh, ct, ft, names["cells"], names["facets"], stats)


def box(
    comm: MPI.Comm, lengths: tuple[float, float, float], cells: tuple[int, int, int]
) -> MeshBundle:
    """Box [0, Lx]×[0, Ly]×[0, Lz] (m) of one active material, cells per edge, 6 tets a hexahedron.

    Cells: ``particles``. Facets: ``x0``, ``x1``, ``y0``, ``y1``, ``z0``, ``z1`` (the faces at
    the low and high end of each axis). A structured dolfinx mesh, no Gmsh.
    """
    mesh = create_box(comm, [np.zeros(3), np.array(lengths)], list(cells), CellType.tetrahedron)
    tdim = mesh.topology.dim
    num_cells = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
    all_cells = np.arange(num_cells, dtype=np.int32)
    ct = meshtags(mesh, tdim, all_cells, np.full(num_cells, 1, dtype=np.int32))
    names = {f"{axis}{end}": 2 + 2 * i + end for i, axis in enumerate("xyz") for end in (0, 1)}
    indices, values = [], []
    for i, axis in enumerate("xyz"):
        for end in (0, 1):
            at = lengths[i] * end
            facets = locate_entities_boundary(
                mesh, tdim - 1, lambda x, i=i, at=at: np.isclose(x[i], at, atol=1e-9 * max(lengths))
            )
            indices.append(facets)
            values.append(np.full(facets.size, names[f"{axis}{end}"], dtype=np.int32))
    order = np.argsort(np.concatenate(indices))
    ft = meshtags(mesh, tdim - 1, np.concatenate(indices)[order], np.concatenate(values)[order])
    stats = MeshStats(num_cells=0, num_vertices=0, min_quality=0.0)
    return MeshBundle(mesh, ct, ft, {CORE: 1}, names, stats)
