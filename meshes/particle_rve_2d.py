"""2D particle RVE: silicon disks in a solid-electrolyte rectangle (plane-strain cross-section).

Rectangle [0, Lx] x [0, Ly] (m); y is the stacking direction (ymax is the top face, under the
stack pressure). The disks are the cross-sections of long cylinders (plane strain, ε_zz = 0,
solved by ``ElasticityProblem`` on the 2D mesh); fractions are area fractions. A separate
``kind`` (not a 2-element ``box`` of ``particle_rve``): the 3D options — shells, yolks,
periodic images, a free-standing particle — do not carry over, and a distinct spec keeps
``ssbmech check`` errors exact.

``build`` (rank 0 does all Gmsh work, in µm as ``particle_rve``): rectangle and disks are
fragmented (OpenCASCADE) so the interfaces are conforming; with ``clipped`` placement the disk
parts outside the rectangle are removed and their straight edges belong to the face groups.
Physical-group tags 1, 2, … in this order: cells ``particles``, ``matrix``; facets
``interface``, ``xmin``, ``xmax``, ``ymin``, ``ymax``. Mesh size as in ``particle_rve``:
``interface_size`` within FINE_LAYER interface sizes of the disk boundaries, growing linearly
to ``size`` over GRADING ``size``. Particle packing: ``meshes.packing`` / ``meshes.rearrange``
with a 2-element box (disks, exact clipped areas).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from mpi4py import MPI
from pydantic import BaseModel, ConfigDict, Field, model_validator

from meshes.bundle import MeshBundle, MeshStats, Particle
from meshes.element_stats import TRIANGLES, element_stats
from meshes.gmsh_run import (
    DEFAULT_REFINEMENT,
    MODEL_UNIT,
    add_physical_groups,
    distribute,
    graded_size_field,
    write_msh,
)
from meshes.packing import check_explicit, pack_random
from meshes.particle_rve import (
    FACE_TOLERANCE,
    INTERFACE,
    MATRIX,
    PARTICLES,
    MeshSize,
    RandomParticles,
)
from meshes.rearrange import pack_dense
from solver.units import Length

FACES = ("xmin", "xmax", "ymin", "ymax")

PositiveLength = Annotated[Length, Field(gt=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExplicitDisk(_Frozen):
    """A disk given by its centre (x, y) (m) and radius (m)."""

    center: tuple[Length, Length]
    radius: PositiveLength


class ExplicitDisks(_Frozen):
    """Disks listed one by one (no overlaps; ``inside`` placement keeps them in)."""

    mode: Literal["explicit"] = "explicit"
    items: list[ExplicitDisk] = Field(min_length=1)
    placement: Literal["inside", "clipped"] = "inside"


class ParticleRVE2DSpec(_Frozen):
    """Geometry of a 2D (plane-strain) particle RVE (see module docstring)."""

    kind: Literal["particle_rve_2d"] = "particle_rve_2d"
    box: tuple[PositiveLength, PositiveLength]
    particles: Annotated[ExplicitDisks | RandomParticles, Field(discriminator="mode")]
    mesh: MeshSize

    @property
    def regions(self) -> tuple[str, ...]:
        """Cell region names (the keys of the case's ``materials``): particles, matrix."""
        return (PARTICLES, MATRIX)

    def surfaces_of(self, active: set[str]) -> dict[str, str | None]:
        """Facet groups bounding the Si: name → region on the other side."""
        return {INTERFACE: MATRIX}

    @property
    def stack_height(self) -> float:
        """Height of the rectangle (m) in the stacking direction y."""
        return float(self.box[1])

    @property
    def has_box_faces(self) -> bool:
        """The faces xmin … ymax exist (the cell-stack supports apply)."""
        return True

    @property
    def periodic(self) -> bool:
        """Never periodic (placement ``periodic`` is not offered in 2D)."""
        return False

    @model_validator(mode="after")
    def _not_periodic(self) -> ParticleRVE2DSpec:
        if self.particles.placement == "periodic":
            raise ValueError("placement 'periodic' is not available for particle_rve_2d")
        return self


def place_particles(spec: ParticleRVE2DSpec) -> list[Particle]:
    """Disks of the spec (validated list, or seeded packing); GeometryError if impossible."""
    box = np.array(spec.box)
    if isinstance(spec.particles, ExplicitDisks):
        return check_explicit(spec.particles, box)  # type: ignore[arg-type]  # same fields
    if spec.particles.packer == "rearrange":
        return pack_dense(spec.particles, box)
    return pack_random(spec.particles, box)


@dataclass(frozen=True)
class _Model:
    """Entity tags of the OCC model: physical groups in tag order, disk curves, fraction."""

    cells: dict[str, list[int]]
    facets: dict[str, list[int]]
    particle_curves: list[int]
    fraction: float


def _build_model(spec: ParticleRVE2DSpec, particles: list[Particle]) -> _Model:
    """Rectangle and disks, fragmented into conforming surfaces (model units, µm)."""
    import gmsh

    occ = gmsh.model.occ
    box = np.array(spec.box) / MODEL_UNIT
    disks = [
        occ.addDisk(
            p.center[0] / MODEL_UNIT, p.center[1] / MODEL_UNIT, 0, *[p.radius / MODEL_UNIT] * 2
        )
        for p in particles
    ]
    rect = occ.addRectangle(0, 0, 0, *box)
    _, pieces = occ.fragment([(2, rect)], [(2, t) for t in disks])
    box_pieces = {t for _, t in pieces[0]}
    in_disk = {t for result in pieces[1:] for _, t in result}
    outside = in_disk - box_pieces
    particle_surfs = sorted(box_pieces & in_disk)
    matrix_surfs = sorted(box_pieces - in_disk)
    occ.synchronize()
    fraction = sum(occ.getMass(2, t) for t in particle_surfs) / float(np.prod(box))
    if outside:
        occ.remove([(2, t) for t in sorted(outside)], recursive=True)
        occ.synchronize()

    def boundary(surfs: list[int]) -> set[int]:
        dimtags = gmsh.model.getBoundary([(2, t) for t in surfs], combined=False, oriented=False)
        return {abs(t) for _, t in dimtags}

    facets = {INTERFACE: sorted(boundary(particle_surfs) & boundary(matrix_surfs))}
    curves = boundary(particle_surfs + matrix_surfs)
    tol = FACE_TOLERANCE * float(box.max())
    for i, name in enumerate(FACES):
        axis, value = i // 2, (0.0 if i % 2 == 0 else box[i // 2])
        facets[name] = sorted(
            c
            for c in curves
            if abs(gmsh.model.getBoundingBox(1, c)[axis] - value) < tol
            and abs(gmsh.model.getBoundingBox(1, c)[axis + 3] - value) < tol
        )
    cells = {PARTICLES: particle_surfs, MATRIX: matrix_surfs}
    return _Model(cells, facets, sorted(boundary(particle_surfs)), fraction)


def _mesh_on_root(
    spec: ParticleRVE2DSpec, msh_path: Path | None
) -> tuple[dict[str, dict[str, int]], MeshStats]:
    """Place disks, build, tag and mesh the Gmsh model (initialised); write ``msh_path``."""
    import gmsh

    particles = place_particles(spec)
    gmsh.model.add("particle_rve_2d")
    model = _build_model(spec, particles)
    names = add_physical_groups(model.cells, model.facets, dim=2)
    size = spec.mesh.size / MODEL_UNIT
    fine = (spec.mesh.interface_size or spec.mesh.size / DEFAULT_REFINEMENT) / MODEL_UNIT
    graded_size_field(model.particle_curves, size, fine, spec.mesh.optimize, dim=2)
    gmsh.model.mesh.generate(2)
    write_msh(msh_path)
    mesh, _ = element_stats(TRIANGLES, model.cells)
    requested = (
        {PARTICLES: spec.particles.volume_fraction}
        if isinstance(spec.particles, RandomParticles)
        else {}
    )
    stats = replace(
        mesh,
        volume_fractions_requested=requested,
        volume_fractions_achieved={PARTICLES: model.fraction},
        particles=tuple(particles),
    )
    return names, stats


def build(
    comm: MPI.Comm, spec: ParticleRVE2DSpec, msh_path: Path | None = None, verbose: bool = False
) -> MeshBundle:
    """Build the 2D RVE on rank 0 (gdim 2), write ``msh_path`` if given, distribute it.

    Collective; GeometryError / RuntimeError on every rank as ``particle_rve.build``.
    """
    return distribute(
        comm,
        lambda path: _mesh_on_root(spec, path),
        "the 2D particle RVE",
        msh_path,
        verbose,
        gdim=2,
    )
