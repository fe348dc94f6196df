"""What a geometry generator hands to the solver: a distributed mesh with named tags."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dolfinx.cpp.mesh import MeshTags_int32
from dolfinx.mesh import Mesh


@dataclass(frozen=True)
class Particle:
    """One spherical particle: centre (m), radius (m) and species."""

    center: tuple[float, float, float]
    radius: float
    species: int = 0
    """0: the Si (region ``particles``); 1: the second species (``second_species``)."""


@dataclass(frozen=True)
class MeshStats:
    """Geometry and mesh statistics reported by ``ssbmech mesh`` and stored in summary.json.

    Volume fractions are of the named region in the box; layer thicknesses (m) of layered
    geometries are achieved as region volume / covered area; other named lengths (m) of a
    generator (e.g. a mean column diameter) go to ``dimensions_*``; quality is the smallest
    element quality (1 = regular simplex, → 0 degenerate; see ``meshes.element_stats``).
    """

    num_cells: int
    num_vertices: int
    min_quality: float
    volume_fractions_requested: dict[str, float] = field(default_factory=dict)
    volume_fractions_achieved: dict[str, float] = field(default_factory=dict)
    particles: tuple[Particle, ...] = ()
    thicknesses_requested: dict[str, float] = field(default_factory=dict)
    thicknesses_achieved: dict[str, float] = field(default_factory=dict)
    dimensions_requested: dict[str, float] = field(default_factory=dict)
    dimensions_achieved: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for restart data); inverse of :meth:`from_dict`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MeshStats:
        """The statistics written by :meth:`to_dict`."""
        particles = tuple(
            Particle(tuple(p["center"]), p["radius"], p["species"]) for p in data["particles"]
        )
        return cls(**{**data, "particles": particles})


@dataclass(frozen=True)
class MeshBundle:
    """Mesh, cell/facet tags and the name -> integer maps for both (same on every rank)."""

    mesh: Mesh
    cell_tags: MeshTags_int32
    facet_tags: MeshTags_int32
    cell_names: dict[str, int]
    facet_names: dict[str, int]
    stats: MeshStats

    def write_tag_map(self, path: Path) -> None:
        """Write ``tags.json`` ({"cells": {name: id}, "facets": {name: id}}); call on rank 0."""
        path.write_text(
            json.dumps({"cells": self.cell_names, "facets": self.facet_names}, indent=2) + "\n"
        )
