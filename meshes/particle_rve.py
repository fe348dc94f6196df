"""Particle RVE: silicon spheres in a solid-electrolyte box (or free-standing, without matrix).

Box [0, Lx] x [0, Ly] x [0, Lz] (m); z is the stacking direction (zmax is the top face, under
the stack pressure). Regions and boundaries are Gmsh physical groups with the names below.

The Gmsh model is built in micrometres (OpenCASCADE's absolute tolerance, 1e-7, is too coarse
for booleans of micrometre bodies written in metres); the saved mesh and the DOLFINx mesh are
in metres.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import gmsh
import numpy as np
from dolfinx.io import gmshio
from mpi4py import MPI
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

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


def _place(spec: ParticleRVESpec) -> list[Particle]:
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


def _flat_on(bbox: list[float], axis: int, value: float, tol: float) -> bool:
    return abs(bbox[axis] - value) < tol and abs(bbox[axis + 3] - value) < tol


def _build_model(spec: ParticleRVESpec, particles: list[Particle]) -> tuple[dict, dict, dict]:
    """Gmsh OCC model (µm) on this rank; returns (cell groups, facet groups, volume fractions)."""
    occ = gmsh.model.occ
    box = np.array(spec.box) / MODEL_UNIT
    spheres = [
        (3, occ.addSphere(*(np.array(p.center) / MODEL_UNIT), p.radius / MODEL_UNIT))
        for p in particles
    ]
    box_tag = occ.addBox(0, 0, 0, *box)
    _, pieces = occ.fragment([(3, box_tag)], spheres)
    box_pieces = {t for _, t in pieces[0]}
    particle_pieces = {t for m in pieces[1:] for _, t in m}
    outside = particle_pieces - box_pieces  # parts of clipped spheres beyond the box
    if outside:
        occ.remove([(3, t) for t in outside], recursive=True)
    particle_vols = sorted(particle_pieces & box_pieces)
    matrix_vols = sorted(box_pieces - particle_pieces)
    if not spec.matrix:
        occ.remove([(3, t) for t in matrix_vols], recursive=True)
        matrix_vols = []
    occ.synchronize()

    box_volume = float(np.prod(box))
    fraction = sum(occ.getMass(3, t) for t in particle_vols) / box_volume
    cells = {PARTICLES: particle_vols}
    if matrix_vols:
        cells[MATRIX] = matrix_vols

    def boundary(vols: list[int]) -> set[int]:
        dimtags = gmsh.model.getBoundary([(3, t) for t in vols], combined=False, oriented=False)
        return {abs(t) for _, t in dimtags}

    particle_surfaces = boundary(particle_vols)
    facets: dict[str, list[int]] = {}
    tol = 1e-6 * float(box.max())
    if matrix_vols:
        facets[INTERFACE] = sorted(particle_surfaces & boundary(matrix_vols))
        outer = boundary(particle_vols + matrix_vols)
        for i, name in enumerate(BOX_FACES):
            axis, value = i // 2, (0.0 if i % 2 == 0 else box[i // 2])
            facets[name] = sorted(
                s for s in outer if _flat_on(gmsh.model.getBoundingBox(2, s), axis, value, tol)
            )
    else:
        facets[PARTICLE_SURFACE] = sorted(particle_surfaces)
    return cells, facets, {PARTICLES: fraction}


def _set_mesh_size(spec: ParticleRVESpec, surfaces: list[int]) -> None:
    field = gmsh.model.mesh.field
    size = spec.mesh.size / MODEL_UNIT
    fine = (spec.mesh.interface_size or spec.mesh.size / 3) / MODEL_UNIT
    dist = field.add("Distance")
    field.setNumbers(dist, "FacesList", surfaces)
    thr = field.add("Threshold")
    field.setNumber(thr, "InField", dist)
    field.setNumber(thr, "SizeMin", fine)
    field.setNumber(thr, "SizeMax", size)
    field.setNumber(thr, "DistMin", 0.5 * fine)
    field.setNumber(thr, "DistMax", 0.5 * fine + 2 * size)
    field.setAsBackgroundMesh(thr)
    for option in ("MeshSizeExtendFromBoundary", "MeshSizeFromPoints", "MeshSizeFromCurvature"):
        gmsh.option.setNumber(f"Mesh.{option}", 0)
    gmsh.option.setNumber("Mesh.MeshSizeMax", size)
    gmsh.option.setNumber("Mesh.Optimize", int(spec.mesh.optimize))


def build(comm: MPI.Comm, spec: ParticleRVESpec, msh_path: Path | None = None) -> MeshBundle:
    """Build the RVE on rank 0, write ``msh_path`` if given, and distribute it over ``comm``.

    Raises GeometryError (on every rank) for an impossible request.
    """
    payload: tuple | GeometryError | None = None
    if comm.rank == 0:
        try:
            particles = _place(spec)
        except GeometryError as exc:
            payload = exc
        else:
            gmsh.initialize()
            gmsh.option.setNumber("General.Terminal", 0)
            gmsh.model.add("particle_rve")
            cells, facets, fractions = _build_model(spec, particles)
            names: dict[str, dict[str, int]] = {"cells": {}, "facets": {}}
            tag = 1
            for kind, groups, dim in (("cells", cells, 3), ("facets", facets, 2)):
                for name, entities in groups.items():
                    gmsh.model.addPhysicalGroup(dim, entities, tag)
                    gmsh.model.setPhysicalName(dim, tag, name)
                    names[kind][name] = tag
                    tag += 1
            _set_mesh_size(spec, facets.get(INTERFACE) or facets.get(PARTICLE_SURFACE, []))
            gmsh.model.mesh.generate(3)
            if msh_path is not None:
                gmsh.option.setNumber("Mesh.ScalingFactor", MODEL_UNIT)  # saved in metres
                gmsh.write(str(msh_path))
            _, etags, enodes = gmsh.model.mesh.getElements(3)
            node_tags, coords, _ = gmsh.model.mesh.getNodes()
            requested = (
                {PARTICLES: spec.particles.volume_fraction}
                if isinstance(spec.particles, RandomParticles)
                else {}
            )
            stats = MeshStats(
                num_cells=int(sum(len(t) for t in etags)),
                num_vertices=len(node_tags),
                min_quality=min_mean_ratio(node_tags, coords, np.concatenate(enodes)),
                volume_fractions_requested=requested,
                volume_fractions_achieved=fractions,
                particles=tuple(particles),
            )
            payload = (names, stats)
    payload = comm.bcast(payload, root=0)
    if isinstance(payload, GeometryError):
        raise payload
    assert payload is not None
    names, stats = payload
    mesh, cell_tags, facet_tags = gmshio.model_to_mesh(gmsh.model, comm, 0, gdim=3)
    mesh.geometry.x[:] *= MODEL_UNIT
    if comm.rank == 0:
        gmsh.finalize()
    return MeshBundle(mesh, cell_tags, facet_tags, names["cells"], names["facets"], stats)
