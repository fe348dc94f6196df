"""Particle RVE: silicon spheres in a solid-electrolyte box (or free-standing, without matrix).

Box [0, Lx] x [0, Ly] x [0, Lz] (m); z is the stacking direction (zmax is the top face, under
the stack pressure). Regions and boundaries are Gmsh physical groups with the names below.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from solver.units import Length

# Physical-group names (cells)
PARTICLES = "particles"
MATRIX = "matrix"
# Physical-group names (facets)
INTERFACE = "interface"  # particle/matrix interface
PARTICLE_SURFACE = "particle_surface"  # free particle surface (no matrix)
BOX_FACES = ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax")

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
