"""The geometry section of a case: one spec per generator, chosen by ``kind``.

A missing ``kind`` means ``particle_rve`` (case files written before other geometries).
Every spec exposes ``regions`` (cell region names, the keys of ``materials:``),
``stack_height`` (m, the extent along the stacking axis — z in 3D, y in 2D — that defines the
stack strain) and ``has_box_faces`` (the box faces xmin … zmax, or xmin … ymax in 2D, exist,
so the cell-stack supports apply). ``particle_rve_2d`` and ``thin_film_2d`` build 2D
(gdim 2, plane-strain) meshes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from mpi4py import MPI
from pydantic import BeforeValidator, Field

from meshes import columnar, particle_rve, particle_rve_2d, thin_film, thin_film_2d
from meshes.bundle import MeshBundle
from meshes.columnar import ColumnarSpec
from meshes.particle_rve import ParticleRVESpec
from meshes.particle_rve_2d import ParticleRVE2DSpec
from meshes.thin_film import ThinFilmSpec
from meshes.thin_film_2d import ThinFilm2DSpec

DEFAULT_KIND = "particle_rve"


def _default_kind(value: Any) -> Any:
    if isinstance(value, dict) and "kind" not in value:
        return {**value, "kind": DEFAULT_KIND}
    return value


GeometrySpec = Annotated[
    ParticleRVESpec | ParticleRVE2DSpec | ThinFilmSpec | ThinFilm2DSpec | ColumnarSpec,
    Field(discriminator="kind"),
    BeforeValidator(_default_kind),
]
"""Any geometry spec, discriminated by ``kind``."""


AnySpec = ParticleRVESpec | ParticleRVE2DSpec | ThinFilmSpec | ThinFilm2DSpec | ColumnarSpec


def dimension(spec: AnySpec) -> int:
    """2 for the plane-strain geometries (gdim 2 meshes), else 3."""
    return 2 if isinstance(spec, ParticleRVE2DSpec | ThinFilm2DSpec) else 3


def check(spec: AnySpec) -> None:
    """Everything short of meshing (particle placement, layer checks); GeometryError if bad."""
    if isinstance(spec, ParticleRVE2DSpec):
        particle_rve_2d.place_particles(spec)
    elif isinstance(spec, ThinFilm2DSpec):
        thin_film_2d.check(spec)
    elif isinstance(spec, ThinFilmSpec):
        thin_film.check(spec)
    elif isinstance(spec, ColumnarSpec):
        columnar.check(spec)
    else:
        particle_rve.place_particles(spec)


def build(
    comm: MPI.Comm,
    spec: AnySpec,
    msh_path: Path | None = None,
) -> MeshBundle:
    """Build and distribute the mesh of ``spec`` (collective; see each generator's build)."""
    if isinstance(spec, ParticleRVE2DSpec):
        return particle_rve_2d.build(comm, spec, msh_path=msh_path)
    if isinstance(spec, ThinFilm2DSpec):
        return thin_film_2d.build(comm, spec, msh_path=msh_path)
    if isinstance(spec, ThinFilmSpec):
        return thin_film.build(comm, spec, msh_path=msh_path)
    if isinstance(spec, ColumnarSpec):
        return columnar.build(comm, spec, msh_path=msh_path)
    return particle_rve.build(comm, spec, msh_path=msh_path)
