"""Running a Gmsh generator under MPI: rank 0 builds and meshes, every rank gets its part.

Every generator (``particle_rve``, ``thin_film``, ``columnar``) models in micrometres
(MODEL_UNIT m per model unit: OpenCASCADE's tolerance is too coarse for µm bodies written in
metres); the saved ``mesh.msh`` and the DOLFINx mesh are in metres. Gmsh is imported inside
the functions: importing it resets Python's SIGINT handler.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from dolfinx.io import gmshio
from mpi4py import MPI

from meshes.bundle import MeshBundle, MeshStats
from meshes.errors import GeometryError

MODEL_UNIT = 1e-6  # m per Gmsh model unit
VERBOSE_ENV = "SSBMECH_GMSH_VERBOSE"  # set (not "0") to let Gmsh print its log
ALGORITHM_2D = 6  # Gmsh 2D Frontal-Delaunay
CURVE_POINTS = 200  # sampling of each curve for the 2D distance field
ALGORITHM_3D = 1  # Gmsh 3D Delaunay: reproducible (4.8's HXT, 10, is faster but varies run to run)
DEFAULT_REFINEMENT = 3  # interface_size = size / DEFAULT_REFINEMENT when not given
FINE_LAYER = 0.5  # thickness of the layer meshed at interface_size, in interface sizes
GRADING = 2.0  # distance over which the size grows to the bulk size, in bulk sizes

TagMaps = dict[str, dict[str, int]]
"""{"cells": {name: tag}, "facets": {name: tag}} of the physical groups."""
MeshOnRoot = Callable[[Path | None], tuple[TagMaps, MeshStats]]
"""Builds, tags and meshes the model in an initialised Gmsh (rank 0), writes the .msh."""


def write_msh(path: Path | None) -> None:
    """Write the current Gmsh mesh to ``path`` in metres (the model is in MODEL_UNIT)."""
    import gmsh

    if path is None:
        return
    gmsh.option.setNumber("Mesh.ScalingFactor", MODEL_UNIT)
    gmsh.write(str(path))
    gmsh.option.setNumber("Mesh.ScalingFactor", 1.0)


def distribute(
    comm: MPI.Comm,
    mesh_on_root: MeshOnRoot,
    what: str,
    msh_path: Path | None,
    verbose: bool,
    gdim: int = 3,
) -> MeshBundle:
    """Run ``mesh_on_root`` on rank 0 and distribute the mesh with its tags over ``comm``.

    Gmsh is silent unless ``verbose`` or the environment variable ``SSBMECH_GMSH_VERBOSE`` is
    set (not "0"). Collective. Raises GeometryError (on every rank) for an impossible request,
    RuntimeError naming ``what`` (on every rank) if Gmsh fails. ``gdim``: 3, or 2 for the
    plane-strain generators.
    """
    import gmsh

    payload: tuple[TagMaps, MeshStats] | Exception | None = None
    if comm.rank == 0:
        gmsh.initialize(readConfigFiles=False)
        loud = verbose or os.environ.get(VERBOSE_ENV, "0") not in ("", "0")
        gmsh.option.setNumber("General.Terminal", int(loud))
        try:
            payload = mesh_on_root(msh_path)
        except GeometryError as exc:
            payload = exc
        except Exception as exc:  # reported on every rank: the other ranks must not hang
            payload = RuntimeError(f"Gmsh could not build {what}: {exc}")
    payload = comm.bcast(payload, root=0)
    try:
        if isinstance(payload, Exception):
            raise payload
        assert payload is not None
        names, stats = payload
        mesh, cell_tags, facet_tags = gmshio.model_to_mesh(gmsh.model, comm, 0, gdim=gdim)
    finally:
        if comm.rank == 0:
            gmsh.finalize()
    mesh.geometry.x[:] *= MODEL_UNIT
    return MeshBundle(mesh, cell_tags, facet_tags, names["cells"], names["facets"], stats)


def add_physical_groups(
    cells: dict[str, list[int]], facets: dict[str, list[int]], dim: int = 3
) -> TagMaps:
    """Physical groups 1, 2, … in the order cells, then facets; the name → tag maps.

    Cells have dimension ``dim`` (3, or 2 for the plane-strain generators), facets ``dim − 1``.
    """
    import gmsh

    names: TagMaps = {"cells": {}, "facets": {}}
    tag = 1
    for kind, groups, d in (("cells", cells, dim), ("facets", facets, dim - 1)):
        for name, entities in groups.items():
            gmsh.model.addPhysicalGroup(d, entities, tag)
            gmsh.model.setPhysicalName(d, tag, name)
            names[kind][name] = tag
            tag += 1
    return names


def graded_size_field(
    surfaces: list[int], size: float, fine: float, optimize: bool, dim: int = 3
) -> None:
    """Size ``fine`` near ``surfaces``, graded to ``size`` in the bulk (model units).

    h = fine within FINE_LAYER·fine of the surfaces, growing linearly to ``size`` over
    GRADING·size; Delaunay, optional optimisation. ``dim`` 2: ``surfaces`` are the curves of
    a 2D model.
    """
    import gmsh

    field = gmsh.model.mesh.field
    dist = field.add("Distance")
    if dim == 3:
        field.setNumbers(dist, "FacesList", surfaces)
    else:
        field.setNumbers(dist, "EdgesList", surfaces)
        field.setNumber(dist, "NumPointsPerCurve", CURVE_POINTS)
    thr = field.add("Threshold")
    field.setNumber(thr, "InField", dist)
    field.setNumber(thr, "SizeMin", fine)
    field.setNumber(thr, "SizeMax", size)
    field.setNumber(thr, "DistMin", FINE_LAYER * fine)
    field.setNumber(thr, "DistMax", FINE_LAYER * fine + GRADING * size)
    field.setAsBackgroundMesh(thr)
    for option in ("MeshSizeExtendFromBoundary", "MeshSizeFromPoints", "MeshSizeFromCurvature"):
        gmsh.option.setNumber(f"Mesh.{option}", 0)
    gmsh.option.setNumber("Mesh.MeshSizeMax", size)
    if dim == 3:
        gmsh.option.setNumber("Mesh.Algorithm3D", ALGORITHM_3D)
    else:
        gmsh.option.setNumber("Mesh.Algorithm", ALGORITHM_2D)
    gmsh.option.setNumber("Mesh.Optimize", int(optimize))
