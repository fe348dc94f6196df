"""Columnar Si: a hexagonal array of Si columns on a current collector, under a separator.

Columns of diameter d and height h stand on a collector of thickness t_c with void gaps g
between neighbours (pitch p = d + g, hexagonal); a separator of thickness t_s lies on top.
The model is the smallest cell whose faces are mirror planes of the array,
[0, p/2] x [0, p√3/2] x [0, t_c + h + t_s] (m), with quarter columns at the corners (0, 0)
and (p/2, p√3/2); with rollers on the lateral faces it is the infinite array. z is the
stacking direction (zmax is the separator top, under the stack pressure).

Physical groups, tags 1, 2, … in this order: cells ``collector``, ``columns``,
``separator``; facets ``xmin`` … ``zmax`` (box faces of the material, as in particle_rve),
``collector_columns`` and ``columns_separator`` (the bonded column feet and heads). The
column walls and the collector top between columns are free surfaces.

Meshing (OpenCASCADE, model in µm, saved and distributed in m): the three bodies are
fragmented into conforming volumes; element size h(d) with d the distance to the column
surfaces, as in particle_rve (``interface_size`` near the columns, ``size`` in the bulk).

Gmsh is imported inside the functions: importing it resets Python's SIGINT handler.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from dolfinx.io import gmshio
from mpi4py import MPI
from pydantic import BaseModel, ConfigDict, Field

from meshes.bundle import MeshBundle, MeshStats
from meshes.errors import GeometryError
from meshes.particle_rve import (
    ALGORITHM_3D,
    BOX_FACES,
    DEFAULT_REFINEMENT,
    FINE_LAYER,
    GRADING,
    MODEL_UNIT,
    VERBOSE_ENV,
    MeshSize,
    min_mean_ratio,
)
from solver.units import Length

COLLECTOR, COLUMNS, SEPARATOR = "collector", "columns", "separator"
FOOT, HEAD = f"{COLLECTOR}_{COLUMNS}", f"{COLUMNS}_{SEPARATOR}"
FACE_TOLERANCE = 1e-6  # a surface lies on a box face within this fraction of the cell size

PositiveLength = Annotated[Length, Field(gt=0)]


class ColumnarSpec(BaseModel):
    """Geometry of a columnar Si electrode (see module docstring); lengths in m."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["columnar"]
    diameter: PositiveLength
    height: PositiveLength
    gap: Length
    collector: PositiveLength
    separator: PositiveLength
    mesh: MeshSize

    @property
    def regions(self) -> tuple[str, ...]:
        """Cell region names, bottom → top."""
        return (COLLECTOR, COLUMNS, SEPARATOR)

    def surfaces_of(self, active: set[str]) -> dict[str, str | None]:
        """Facet groups bounding the columns: name → region on the other side."""
        return {HEAD: SEPARATOR, FOOT: COLLECTOR} if COLUMNS in active else {}

    @property
    def periodic(self) -> bool:
        """False: the cell is a symmetry cell (rollers), not periodic."""
        return False

    @property
    def stack_height(self) -> float:
        """Height of the stack (m): collector + columns + separator."""
        return float(self.collector + self.height + self.separator)

    @property
    def has_box_faces(self) -> bool:
        """The cell has the six box faces (rollers and a top face to load)."""
        return True

    @property
    def pitch(self) -> float:
        """Centre distance of neighbouring columns (m)."""
        return float(self.diameter + self.gap)

    @property
    def column_fraction(self) -> float:
        """Area (= volume) fraction of Si in the column layer: π d² / (2√3 p²)."""
        return math.pi * self.diameter**2 / (2 * math.sqrt(3) * self.pitch**2)


def check(spec: ColumnarSpec) -> None:
    """Raise GeometryError for overlapping or touching columns."""
    if spec.gap <= 0:
        raise GeometryError(
            "gap",
            f"columns overlap or touch (gap {spec.gap:.3g} m); the gap between neighbouring "
            "columns must be > 0",
        )


def _build_model(spec: ColumnarSpec) -> tuple[dict[str, list[int]], dict[str, list[int]], float]:
    """Bodies fragmented into conforming volumes (µm): cells, facets, column volume (m³)."""
    import gmsh

    occ = gmsh.model.occ
    lx, ly = spec.pitch / 2 / MODEL_UNIT, spec.pitch * math.sqrt(3) / 2 / MODEL_UNIT
    tc, h, ts = (v / MODEL_UNIT for v in (spec.collector, spec.height, spec.separator))
    r = spec.diameter / 2 / MODEL_UNIT
    collector = occ.addBox(0, 0, 0, lx, ly, tc)
    separator = occ.addBox(0, 0, tc + h, lx, ly, ts)
    layer = occ.addBox(0, 0, tc, lx, ly, h)
    cylinders = [(3, occ.addCylinder(x, y, tc, 0, 0, h, r)) for x, y in ((0, 0), (lx, ly))]
    quarters, _ = occ.intersect(cylinders, [(3, layer)])
    _, pieces = occ.fragment([(3, collector), (3, separator)], quarters)
    occ.synchronize()
    cells = {
        COLLECTOR: sorted(t for _, t in pieces[0]),
        COLUMNS: sorted(t for m in pieces[2:] for _, t in m),
        SEPARATOR: sorted(t for _, t in pieces[1]),
    }
    region_of = {t: name for name, tags in cells.items() for t in tags}
    column_volume = sum(occ.getMass(3, t) for t in cells[COLUMNS]) * MODEL_UNIT**3

    extent = (lx, ly, tc + h + ts)
    tol = FACE_TOLERANCE * max(extent)
    facets: dict[str, list[int]] = {name: [] for name in (*BOX_FACES, FOOT, HEAD)}
    for _, s in gmsh.model.getEntities(2):
        up, _ = gmsh.model.getAdjacencies(2, s)
        regions = {region_of[int(v)] for v in up if int(v) in region_of}
        if regions == {COLLECTOR, COLUMNS}:
            facets[FOOT].append(s)
        elif regions == {COLUMNS, SEPARATOR}:
            facets[HEAD].append(s)
        elif len(up) == 1:
            bbox = gmsh.model.getBoundingBox(2, s)
            for f, face in enumerate(BOX_FACES):
                axis, value = f // 2, (0.0 if f % 2 == 0 else extent[f // 2])
                if abs(bbox[axis] - value) < tol and abs(bbox[axis + 3] - value) < tol:
                    facets[face].append(s)
    return cells, {k: sorted(v) for k, v in facets.items() if v}, column_volume


def _set_mesh_size(spec: ColumnarSpec, cells: dict[str, list[int]]) -> None:
    """interface_size within a layer at the column surfaces, graded to size in the bulk."""
    import gmsh

    surfaces = gmsh.model.getBoundary(
        [(3, t) for t in cells[COLUMNS]], combined=False, oriented=False
    )
    field = gmsh.model.mesh.field
    size = spec.mesh.size / MODEL_UNIT
    fine = (spec.mesh.interface_size or spec.mesh.size / DEFAULT_REFINEMENT) / MODEL_UNIT
    dist = field.add("Distance")
    field.setNumbers(dist, "FacesList", sorted({abs(t) for _, t in surfaces}))
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
    gmsh.option.setNumber("Mesh.Algorithm3D", ALGORITHM_3D)
    gmsh.option.setNumber("Mesh.Optimize", int(spec.mesh.optimize))


def _mesh_on_root(
    spec: ColumnarSpec, msh_path: Path | None
) -> tuple[dict[str, dict[str, int]], MeshStats]:
    """Check, build, tag and mesh the Gmsh model (initialised); write ``msh_path``."""
    import gmsh

    check(spec)
    gmsh.model.add("columnar")
    cells, facets, column_volume = _build_model(spec)
    names: dict[str, dict[str, int]] = {"cells": {}, "facets": {}}
    tag = 1
    for kind, groups, dim in (("cells", cells, 3), ("facets", facets, 2)):
        for name, entities in groups.items():
            gmsh.model.addPhysicalGroup(dim, entities, tag)
            gmsh.model.setPhysicalName(dim, tag, name)
            names[kind][name] = tag
            tag += 1
    _set_mesh_size(spec, cells)
    gmsh.model.mesh.generate(3)
    if msh_path is not None:
        gmsh.option.setNumber("Mesh.ScalingFactor", MODEL_UNIT)  # saved in metres
        gmsh.write(str(msh_path))
        gmsh.option.setNumber("Mesh.ScalingFactor", 1.0)
    _, elem_tags, elem_nodes = gmsh.model.mesh.getElements(3)
    node_tags, coords, _ = gmsh.model.mesh.getNodes()
    layer_volume = spec.pitch**2 * math.sqrt(3) / 4 * spec.height
    stats = MeshStats(
        num_cells=int(sum(len(t) for t in elem_tags)),
        num_vertices=len(node_tags),
        min_quality=min_mean_ratio(node_tags, coords, np.concatenate(elem_nodes)),
        volume_fractions_requested={COLUMNS: spec.column_fraction},
        volume_fractions_achieved={COLUMNS: column_volume / layer_volume},
    )
    return names, stats


def build(
    comm: MPI.Comm, spec: ColumnarSpec, msh_path: Path | None = None, verbose: bool = False
) -> MeshBundle:
    """Build the cell on rank 0, write ``msh_path`` if given, and distribute it over ``comm``.

    Gmsh is silent unless ``verbose`` or ``SSBMECH_GMSH_VERBOSE`` is set (not "0").
    Collective. Raises GeometryError (on every rank) for an impossible request, RuntimeError
    (on every rank) if Gmsh fails.
    """
    import gmsh

    payload: tuple[dict[str, dict[str, int]], MeshStats] | Exception | None = None
    if comm.rank == 0:
        gmsh.initialize(readConfigFiles=False)
        loud = verbose or os.environ.get(VERBOSE_ENV, "0") not in ("", "0")
        gmsh.option.setNumber("General.Terminal", int(loud))
        try:
            payload = _mesh_on_root(spec, msh_path)
        except GeometryError as exc:
            payload = exc
        except Exception as exc:  # reported on every rank: the other ranks must not hang
            payload = RuntimeError(f"Gmsh could not build the columnar electrode: {exc}")
    payload = comm.bcast(payload, root=0)
    try:
        if isinstance(payload, Exception):
            raise payload
        assert payload is not None
        names, stats = payload
        mesh, cell_tags, facet_tags = gmshio.model_to_mesh(gmsh.model, comm, 0, gdim=3)
    finally:
        if comm.rank == 0:
            gmsh.finalize()
    mesh.geometry.x[:] *= MODEL_UNIT
    return MeshBundle(mesh, cell_tags, facet_tags, names["cells"], names["facets"], stats)
