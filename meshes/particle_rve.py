"""Particle RVE: silicon spheres in a solid-electrolyte box (or free-standing, without matrix).

Box [0, Lx] x [0, Ly] x [0, Lz] (m); z is the stacking direction (zmax is the top face, under
the stack pressure). Regions and boundaries are Gmsh physical groups with the names below.

The Gmsh model is built in micrometres (OpenCASCADE's absolute tolerance, 1e-7, is too coarse
for booleans of micrometre bodies written in metres); the saved mesh and the DOLFINx mesh are
in metres.

``build`` (rank 0 does all Gmsh work): box and spheres are fragmented (OpenCASCADE) so the
interfaces are conforming; with ``clipped`` placement the sphere parts outside the box are
removed, and their flat faces on the box belong to the box-face groups. Physical-group tags are
1, 2, … in this fixed order (absent groups are skipped, the rest keep the order):
cells ``particles``, ``matrix``; facets ``interface``, ``xmin`` … ``zmax`` — or, without matrix
(free-standing particles), cells ``particles`` and facets ``particle_surface``. Mesh size h(d)
with d the distance to the particle surfaces: h = interface_size for d ≤ FINE_LAYER
interface_size, growing linearly to ``size`` over GRADING ``size``.

Gmsh is imported inside the functions: importing it resets Python's SIGINT handler.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from dolfinx.io import gmshio
from mpi4py import MPI
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from meshes.bundle import MeshBundle, MeshStats, Particle
from meshes.errors import GeometryError
from meshes.packing import check_explicit, pack_random
from solver.units import Length

# Physical-group names (cells)
PARTICLES = "particles"
MATRIX = "matrix"
# Physical-group names (facets)
INTERFACE = "interface"  # particle/matrix interface
PARTICLE_SURFACE = "particle_surface"  # free particle surface (no matrix)
BOX_FACES = ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax")

MODEL_UNIT = 1e-6  # m per Gmsh model unit
VERBOSE_ENV = "SSBMECH_GMSH_VERBOSE"  # set (not "0") to let Gmsh print its log
ALGORITHM_3D = 1  # Gmsh 3D Delaunay: reproducible (4.8's HXT, 10, is faster but varies run to run)
DEFAULT_REFINEMENT = 3  # interface_size = size / DEFAULT_REFINEMENT when not given
FINE_LAYER = 0.5  # thickness of the layer meshed at interface_size, in interface sizes
GRADING = 2.0  # distance over which the size grows to the bulk size, in bulk sizes
FACE_TOLERANCE = 1e-6  # a surface lies on a box face within this fraction of the box size

PositiveLength = Annotated[Length, Field(gt=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExplicitParticle(_Frozen):
    """A particle given by its centre (m) and radius (m)."""

    center: tuple[Length, Length, Length]
    radius: PositiveLength


class ExplicitParticles(_Frozen):
    """Particles listed one by one (they must not overlap; 'inside' placement keeps them in)."""

    mode: Literal["explicit"] = "explicit"
    items: list[ExplicitParticle] = Field(min_length=1)
    placement: Literal["inside", "clipped"] = "inside"


class RandomParticles(_Frozen):
    """Particles placed reproducibly from ``seed``: log-normal radii (mean, std in m)."""

    mode: Literal["random"] = "random"
    volume_fraction: float = Field(gt=0, lt=1)
    radius_mean: PositiveLength
    radius_std: Annotated[Length, Field(ge=0)] = 0.0
    min_gap: Annotated[Length, Field(ge=0)] = 0.0
    seed: int = 0
    placement: Literal["inside", "clipped"] = "inside"
    max_particles: PositiveInt = 500


class MeshSize(_Frozen):
    """Target element sizes (m): ``size`` in the bulk, ``interface_size`` at particle surfaces."""

    size: PositiveLength
    interface_size: PositiveLength | None = None
    optimize: bool = True


class ParticleRVESpec(_Frozen):
    """Geometry of a particle RVE (see module docstring)."""

    kind: Literal["particle_rve"] = "particle_rve"
    box: tuple[PositiveLength, PositiveLength, PositiveLength]
    matrix: bool = True
    particles: ExplicitParticles | RandomParticles = Field(discriminator="mode")
    mesh: MeshSize

    @property
    def regions(self) -> tuple[str, ...]:
        """Cell region names: particles (and matrix)."""
        return (PARTICLES, MATRIX) if self.matrix else (PARTICLES,)

    @property
    def stack_height(self) -> float:
        """Height of the box (m) in the stacking direction z."""
        return float(self.box[2])

    @property
    def has_box_faces(self) -> bool:
        """Only with a matrix: a free-standing particle has no faces to support or load."""
        return self.matrix

    @model_validator(mode="after")
    def _free_standing_is_one_particle(self) -> ParticleRVESpec:
        if not self.matrix and not (
            isinstance(self.particles, ExplicitParticles) and len(self.particles.items) == 1
        ):
            raise ValueError(
                "a geometry without matrix is one free-standing particle: give exactly one "
                "explicit particle (separate bodies would each need their rigid motion fixed)"
            )
        return self


def place_particles(spec: ParticleRVESpec) -> list[Particle]:
    """Particles of the spec (validated list, or seeded packing); GeometryError if impossible."""
    box = np.array(spec.box)
    if isinstance(spec.particles, ExplicitParticles):
        return check_explicit(spec.particles, box)
    return pack_random(spec.particles, box)


def min_mean_ratio(node_tags: np.ndarray, coords: np.ndarray, tets: np.ndarray) -> float:
    """Smallest mean-ratio quality 12 (3V)^(2/3) / Σ l² of linear tetrahedra (1 = regular)."""
    x = np.empty((int(node_tags.max()) + 1, 3))
    x[node_tags] = coords.reshape(-1, 3)
    p = x[tets.reshape(-1, 4)]
    e = [p[:, j] - p[:, i] for i, j in ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))]
    volume = np.abs(np.einsum("ij,ij->i", e[0], np.cross(e[1], e[2]))) / 6
    sum_l2 = sum(np.einsum("ij,ij->i", v, v) for v in e)
    return float((12 * (3 * volume) ** (2 / 3) / sum_l2).min())


@dataclass(frozen=True)
class _Model:
    """Entity tags of the OCC model: physical groups in tag order, particle boundary, fraction."""

    cells: dict[str, list[int]]
    facets: dict[str, list[int]]
    particle_surfaces: list[int]
    particle_fraction: float


def _flat_on(bbox: list[float], axis: int, value: float, tol: float) -> bool:
    return abs(bbox[axis] - value) < tol and abs(bbox[axis + 3] - value) < tol


def _build_model(spec: ParticleRVESpec, particles: list[Particle]) -> _Model:
    """Box and spheres, fragmented into conforming volumes (model units, µm)."""
    import gmsh

    occ = gmsh.model.occ
    box = np.array(spec.box) / MODEL_UNIT
    spheres = [
        (3, occ.addSphere(*(np.array(p.center) / MODEL_UNIT), p.radius / MODEL_UNIT))
        for p in particles
    ]
    box_tag = occ.addBox(0, 0, 0, *box)
    # the output map lists, per input (box first), the volumes it became
    _, pieces = occ.fragment([(3, box_tag)], spheres)
    box_pieces = {t for _, t in pieces[0]}
    particle_pieces = {t for m in pieces[1:] for _, t in m}
    outside = particle_pieces - box_pieces  # parts of clipped spheres beyond the box
    if outside:
        occ.remove([(3, t) for t in sorted(outside)], recursive=True)
    particle_vols = sorted(particle_pieces & box_pieces)
    matrix_vols = sorted(box_pieces - particle_pieces)
    if not spec.matrix:
        occ.remove([(3, t) for t in matrix_vols], recursive=True)
        matrix_vols = []
    occ.synchronize()

    fraction = sum(occ.getMass(3, t) for t in particle_vols) / float(np.prod(box))

    def boundary(vols: list[int]) -> set[int]:
        dimtags = gmsh.model.getBoundary([(3, t) for t in vols], combined=False, oriented=False)
        return {abs(t) for _, t in dimtags}

    particle_surfaces = boundary(particle_vols)
    cells = {PARTICLES: particle_vols}
    facets: dict[str, list[int]] = {}
    if matrix_vols:
        cells[MATRIX] = matrix_vols
        facets[INTERFACE] = sorted(particle_surfaces & boundary(matrix_vols))
        surfaces = boundary(particle_vols + matrix_vols)
        tol = FACE_TOLERANCE * float(box.max())
        for i, name in enumerate(BOX_FACES):
            axis, value = i // 2, (0.0 if i % 2 == 0 else box[i // 2])
            facets[name] = sorted(
                s for s in surfaces if _flat_on(gmsh.model.getBoundingBox(2, s), axis, value, tol)
            )
    else:
        facets[PARTICLE_SURFACE] = sorted(particle_surfaces)
    return _Model(cells, facets, sorted(particle_surfaces), fraction)


def _add_physical_groups(model: _Model) -> dict[str, dict[str, int]]:
    """Physical groups 1, 2, … in the order cells, then facets; returns the name → tag maps."""
    import gmsh

    names: dict[str, dict[str, int]] = {"cells": {}, "facets": {}}
    tag = 1
    for kind, groups, dim in (("cells", model.cells, 3), ("facets", model.facets, 2)):
        for name, entities in groups.items():
            gmsh.model.addPhysicalGroup(dim, entities, tag)
            gmsh.model.setPhysicalName(dim, tag, name)
            names[kind][name] = tag
            tag += 1
    return names


def _set_mesh_size(spec: ParticleRVESpec, surfaces: list[int]) -> None:
    """Size field: interface_size within the layer at the surfaces, graded to size in the bulk."""
    import gmsh

    field = gmsh.model.mesh.field
    size = spec.mesh.size / MODEL_UNIT
    fine = (spec.mesh.interface_size or spec.mesh.size / DEFAULT_REFINEMENT) / MODEL_UNIT
    dist = field.add("Distance")
    field.setNumbers(dist, "FacesList", surfaces)
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
    spec: ParticleRVESpec, msh_path: Path | None
) -> tuple[dict[str, dict[str, int]], MeshStats]:
    """Place particles, build, tag and mesh the Gmsh model (initialised); write ``msh_path``."""
    import gmsh

    particles = place_particles(spec)
    gmsh.model.add("particle_rve")
    model = _build_model(spec, particles)
    names = _add_physical_groups(model)
    _set_mesh_size(spec, model.particle_surfaces)
    gmsh.model.mesh.generate(3)
    if msh_path is not None:
        gmsh.option.setNumber("Mesh.ScalingFactor", MODEL_UNIT)  # saved in metres
        gmsh.write(str(msh_path))
        gmsh.option.setNumber("Mesh.ScalingFactor", 1.0)
    _, elem_tags, elem_nodes = gmsh.model.mesh.getElements(3)
    node_tags, coords, _ = gmsh.model.mesh.getNodes()
    requested = (
        {PARTICLES: spec.particles.volume_fraction}
        if isinstance(spec.particles, RandomParticles)
        else {}
    )
    stats = MeshStats(
        num_cells=int(sum(len(t) for t in elem_tags)),
        num_vertices=len(node_tags),
        min_quality=min_mean_ratio(node_tags, coords, np.concatenate(elem_nodes)),
        volume_fractions_requested=requested,
        volume_fractions_achieved={PARTICLES: model.particle_fraction},
        particles=tuple(particles),
    )
    return names, stats


def build(
    comm: MPI.Comm, spec: ParticleRVESpec, msh_path: Path | None = None, verbose: bool = False
) -> MeshBundle:
    """Build the RVE on rank 0, write ``msh_path`` if given, and distribute it over ``comm``.

    Gmsh is silent unless ``verbose`` or the environment variable ``SSBMECH_GMSH_VERBOSE`` is
    set (not "0"). Collective. Raises GeometryError (on every rank) for an impossible request,
    RuntimeError (on every rank) if Gmsh fails.
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
            payload = RuntimeError(f"Gmsh could not build the particle RVE: {exc}")
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
