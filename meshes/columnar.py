"""Columnar Si: an array of Si columns (or rods) on a current collector, under a separator.

Columns of base diameter d and height h stand on a collector of thickness t_c with void gaps
g between neighbours (pitch p = d + g); a separator of thickness t_s lies on top. z is the
stacking direction (zmax is the separator top, under the stack pressure); lateral faces are
symmetry planes (rollers), so the cell stands for an infinite array.

``arrangement``:

- ``hexagonal`` (default): the smallest cell whose faces are mirror planes of the hexagonal
  array, [0, p/2] x [0, p√3/2] x [0, t_c + h + t_s] (m), with quarter columns at the corners
  (0, 0) and (p/2, p√3/2).
- ``jittered``: a supercell of ``sites`` = (n, m) hexagonal sites, n per row and m rows,
  every column whole and inside the cell. Row j lies at y_j = p/2 + j p√3/2 and has its axes
  at x = p/2 + i p (even j) or p + i p (odd j), i = 0 … n−1; the cell is
  [0, (n + ½) p] x [0, (m − 1) p√3/2 + p], so the walls are half a pitch from the outermost
  axes (a full pitch for the other rows: slightly wider gaps at the walls). Each centre is
  moved by a seeded random displacement, uniform in a disc of radius ``jitter`` × g, and
  each diameter drawn from a normal distribution (mean d, standard deviation
  ``diameter_std``), all from ``seed`` (numpy's default generator). The walls are mirror
  planes, so a column's image across a wall is its neighbour there: every gap between two
  columns and between a column and its image must stay > 0, otherwise GeometryError names
  ``jitter`` (overlap at the nominal diameters; jitter ≤ 0.5 never overlaps if taper ≤ 1) or
  ``diameter_std`` (overlap only with the drawn diameters).

``taper``: the top diameter as a fraction of the base diameter (a truncated cone; gaps are
checked at the wider end). ``penetration``: the separator fills the gaps from the column tops
down to this depth (the region ``separator`` includes the fill); the void is what remains
below. A penetration equal to the height fills the gaps completely.

Physical groups, tags 1, 2, … in this order (absent facet groups are skipped, the others keep
the order): cells ``collector``, ``columns``, ``separator``; facets ``xmin`` … ``zmax``
(box faces of the material, as in particle_rve), ``collector_columns`` (column feet),
``columns_separator`` (column heads and the walls in the gap fill), ``collector_separator``
(collector under a complete fill) and ``columns_void`` (the free column walls below the
fill). The collector top between the columns and the underside of the fill are free
surfaces as well (untagged).

Statistics (MeshStats): the column volume fraction of the column layer, requested (nominal
diameters, no jitter: N π d² h f / (4 A h) with f = (1 + τ + τ²)/3 the frustum factor of
taper τ, quarter columns counted as quarters) and achieved (OpenCASCADE volume of the built
columns); dimensions ``column_diameter`` (requested d, achieved the mean of the realised
base diameters) and ``penetration`` (achieved: column top − lowest point of the separator).

Meshing (OpenCASCADE, model in µm, saved and distributed in m): the bodies are fragmented
into conforming volumes; element size h(d) with d the distance to the column surfaces, as in
particle_rve (``interface_size`` near the columns, ``size`` in the bulk).

Gmsh is imported inside the functions: importing it resets Python's SIGINT handler.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from mpi4py import MPI
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from meshes.bundle import MeshBundle, MeshStats
from meshes.element_stats import TETRAHEDRA, element_stats
from meshes.errors import GeometryError
from meshes.gmsh_run import (
    DEFAULT_REFINEMENT,
    MODEL_UNIT,
    add_physical_groups,
    distribute,
    graded_size_field,
    write_msh,
)
from meshes.particle_rve import BOX_FACES, MeshSize
from solver.units import Length

COLLECTOR, COLUMNS, SEPARATOR = "collector", "columns", "separator"
REGIONS = (COLLECTOR, COLUMNS, SEPARATOR)  # bottom → top
FOOT, HEAD = f"{COLLECTOR}_{COLUMNS}", f"{COLUMNS}_{SEPARATOR}"
BASE = f"{COLLECTOR}_{SEPARATOR}"  # collector under a gap filled completely
WALL = f"{COLUMNS}_void"  # free column walls
DIAMETER, PENETRATION = "column_diameter", "penetration"  # keys of the reported dimensions
FACE_TOLERANCE = 1e-6  # a surface lies on a box face within this fraction of the cell size

PositiveLength = Annotated[Length, Field(gt=0)]
NonNegativeLength = Annotated[Length, Field(ge=0)]


class ColumnarSpec(BaseModel):
    """Geometry of a columnar Si electrode (see module docstring); lengths in m.

    ``jitter`` is a fraction of the gap, ``taper`` a fraction of the base diameter;
    ``sites``, ``jitter``, ``diameter_std`` and ``seed`` belong to ``jittered``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["columnar"]
    diameter: PositiveLength
    height: PositiveLength
    gap: Length
    collector: PositiveLength
    separator: PositiveLength
    arrangement: Literal["hexagonal", "jittered"] = "hexagonal"
    sites: tuple[PositiveInt, PositiveInt] | None = None
    jitter: Annotated[float, Field(ge=0)] = 0.0
    diameter_std: NonNegativeLength = 0.0
    seed: int = 0
    taper: Annotated[float, Field(gt=0)] = 1.0
    penetration: NonNegativeLength = 0.0
    mesh: MeshSize

    @property
    def regions(self) -> tuple[str, ...]:
        """Cell region names, bottom → top."""
        return REGIONS

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
        """Centre distance of neighbouring sites (m)."""
        return float(self.diameter + self.gap)

    @property
    def frustum_factor(self) -> float:
        """Column volume over that of a cylinder of the base diameter: (1 + τ + τ²)/3."""
        return (1 + self.taper + self.taper**2) / 3

    @property
    def cell(self) -> tuple[float, float]:
        """Lateral extent (m) of the cell (module docstring)."""
        p = self.pitch
        if self.arrangement == "hexagonal":
            return p / 2, p * math.sqrt(3) / 2
        n, m = self.sites or (1, 1)
        return (n + 0.5) * p, (m - 1) * p * math.sqrt(3) / 2 + p

    @property
    def column_fraction(self) -> float:
        """Requested Si volume fraction of the column layer (nominal diameters, no jitter).

        Hexagonal: π d² f / (2√3 p²); jittered: n m π d² f / (4 lx ly).
        """
        area = math.pi * self.diameter**2 / 4 * self.frustum_factor
        count = 0.5 if self.arrangement == "hexagonal" else math.prod(self.sites or (1, 1))
        lx, ly = self.cell
        return count * area / (lx * ly)


@dataclass(frozen=True)
class Column:
    """One column: axis position (m) and base diameter (m)."""

    x: float
    y: float
    diameter: float


def _check_keys(spec: ColumnarSpec) -> None:
    if spec.gap <= 0:
        raise GeometryError(
            "gap",
            f"columns overlap or touch (gap {spec.gap:.3g} m); the gap between neighbouring "
            "columns must be > 0",
        )
    top_gap = spec.pitch - spec.diameter * spec.taper
    if top_gap <= 0:
        raise GeometryError(
            "taper",
            f"the column tops (diameter {spec.diameter * spec.taper:.3g} m) overlap at pitch "
            f"{spec.pitch:.3g} m; taper must be < {spec.pitch / spec.diameter:.4g}",
        )
    if spec.penetration > spec.height:
        raise GeometryError(
            "penetration",
            f"penetration {spec.penetration:.3g} m exceeds the column height {spec.height:.3g} m",
        )
    if spec.arrangement == "hexagonal":
        for key, value in (
            ("sites", spec.sites),
            ("jitter", spec.jitter),
            ("diameter_std", spec.diameter_std),
        ):
            if value:
                raise GeometryError(key, f"{key} needs 'arrangement: jittered'")
    elif spec.sites is None:
        raise GeometryError("sites", "'arrangement: jittered' needs sites: [n, m] (per row, rows)")


def _min_gap(cols: list[Column], cell: tuple[float, float], widening: float) -> tuple[float, str]:
    """Smallest gap (m) between columns, and between a column and its mirror image, and where.

    ``widening``: the widest column diameter over its base diameter (max(1, taper)).
    """
    lx, ly = cell
    best, where = math.inf, ""
    for i, a in enumerate(cols):
        ra = a.diameter * widening / 2
        wall = 2 * (min(a.x, lx - a.x, a.y, ly - a.y) - ra)  # gap to its image
        if wall < best:
            best, where = wall, f"column {i} and its mirror image across the cell wall"
        for j in range(i + 1, len(cols)):
            b = cols[j]
            gap = math.hypot(a.x - b.x, a.y - b.y) - ra - b.diameter * widening / 2
            if gap < best:
                best, where = gap, f"columns {i} and {j}"
    return best, where


def layout(spec: ColumnarSpec) -> list[Column]:
    """The columns of the cell (quarter columns of ``hexagonal`` listed as whole columns).

    Raises GeometryError naming the key of an impossible request (module docstring).
    """
    _check_keys(spec)
    p, d = spec.pitch, spec.diameter
    lx, ly = spec.cell
    if spec.arrangement == "hexagonal":
        return [Column(0.0, 0.0, d), Column(lx, ly, d)]
    n, m = spec.sites or (1, 1)
    rng = np.random.default_rng(spec.seed)
    sites = [
        (p / 2 + (i + 0.5 * (j % 2)) * p, p / 2 + j * p * math.sqrt(3) / 2)
        for j in range(m)
        for i in range(n)
    ]
    radius = spec.jitter * spec.gap * np.sqrt(rng.random(len(sites)))
    angle = 2 * math.pi * rng.random(len(sites))
    diameters = d + spec.diameter_std * rng.standard_normal(len(sites))
    moved = [
        Column(x + r * math.cos(a), y + r * math.sin(a), d)
        for (x, y), r, a in zip(sites, radius, angle, strict=True)
    ]
    widening = max(1.0, spec.taper)
    gap, where = _min_gap(moved, spec.cell, widening)
    if gap <= 0:
        raise GeometryError(
            "jitter",
            f"{where} overlap after the jitter (gap {gap:.3g} m, must be > 0); reduce jitter "
            "(≤ 0.5 never overlaps if taper ≤ 1) or use another seed",
        )
    if diameters.min() <= 0:
        raise GeometryError(
            "diameter_std",
            f"a drawn diameter is {diameters.min():.3g} m ≤ 0; reduce diameter_std",
        )
    cols = [Column(c.x, c.y, float(di)) for c, di in zip(moved, diameters, strict=True)]
    gap, where = _min_gap(cols, spec.cell, widening)
    if gap <= 0:
        raise GeometryError(
            "diameter_std",
            f"{where} overlap with the drawn diameters (gap {gap:.3g} m, must be > 0); reduce "
            "diameter_std or jitter, or use another seed",
        )
    return cols


def check(spec: ColumnarSpec) -> None:
    """Raise GeometryError (naming the key) for overlapping columns or inconsistent keys."""
    layout(spec)


@dataclass(frozen=True)
class _Model:
    """Physical groups (entity tags), column volume (m³), lowest separator point (m)."""

    cells: dict[str, list[int]]
    facets: dict[str, list[int]]
    column_volume: float
    separator_bottom: float


def _build_model(spec: ColumnarSpec, cols: list[Column]) -> _Model:
    """Bodies fragmented into conforming volumes (µm); groups by adjacency."""
    import gmsh

    occ = gmsh.model.occ
    lx, ly = (v / MODEL_UNIT for v in spec.cell)
    tc, h, ts, fill = (
        v / MODEL_UNIT for v in (spec.collector, spec.height, spec.separator, spec.penetration)
    )
    slabs = [(3, occ.addBox(0, 0, 0, lx, ly, tc)), (3, occ.addBox(0, 0, tc + h, lx, ly, ts))]
    if fill > 0:
        slabs.append((3, occ.addBox(0, 0, tc + h - fill, lx, ly, fill)))
    bodies = []
    for c in cols:
        x, y, r = c.x / MODEL_UNIT, c.y / MODEL_UNIT, c.diameter / 2 / MODEL_UNIT
        if spec.taper == 1.0:
            bodies.append((3, occ.addCylinder(x, y, tc, 0, 0, h, r)))
        else:
            bodies.append((3, occ.addCone(x, y, tc, 0, 0, h, r, r * spec.taper)))
    if spec.arrangement == "hexagonal":
        bodies, _ = occ.intersect(bodies, [(3, occ.addBox(0, 0, tc, lx, ly, h))])
    _, pieces = occ.fragment(slabs, bodies)
    occ.synchronize()
    columns = sorted({t for m in pieces[len(slabs) :] for _, t in m})
    separator = sorted({t for m in pieces[1 : len(slabs)] for _, t in m} - set(columns))
    cells = {COLLECTOR: sorted(t for _, t in pieces[0]), COLUMNS: columns, SEPARATOR: separator}
    region_of = {t: name for name, tags in cells.items() for t in tags}
    column_volume = sum(occ.getMass(3, t) for t in columns) * MODEL_UNIT**3
    corners = gmsh.model.getBoundary(
        [(3, t) for t in separator], combined=False, oriented=False, recursive=True
    )
    bottom = min(gmsh.model.getValue(0, t, [])[2] for _, t in corners) * MODEL_UNIT

    extent = (lx, ly, tc + h + ts)
    tol = FACE_TOLERANCE * max(extent)
    facets: dict[str, list[int]] = {name: [] for name in (*BOX_FACES, FOOT, HEAD, BASE, WALL)}
    for _, s in gmsh.model.getEntities(2):
        up, _ = gmsh.model.getAdjacencies(2, s)
        regions = {region_of[int(v)] for v in up if int(v) in region_of}
        if len(regions) == 2:
            facets["_".join(r for r in REGIONS if r in regions)].append(s)
        elif len(up) == 1:
            bbox = gmsh.model.getBoundingBox(2, s)
            faces = [
                face
                for f, face in enumerate(BOX_FACES)
                if all(
                    abs(bbox[f // 2 + k] - (0.0 if f % 2 == 0 else extent[f // 2])) < tol
                    for k in (0, 3)
                )
            ]
            if faces:
                facets[faces[0]].append(s)
            elif regions == {COLUMNS}:
                facets[WALL].append(s)
    groups = {k: sorted(v) for k, v in facets.items() if v}
    return _Model(cells, groups, column_volume, bottom)


def _mesh_on_root(
    spec: ColumnarSpec, msh_path: Path | None
) -> tuple[dict[str, dict[str, int]], MeshStats]:
    """Check, build, tag and mesh the Gmsh model (initialised); write ``msh_path``."""
    import gmsh

    cols = layout(spec)
    gmsh.model.add("columnar")
    model = _build_model(spec, cols)
    names = add_physical_groups(model.cells, model.facets)
    walls = gmsh.model.getBoundary(
        [(3, t) for t in model.cells[COLUMNS]], combined=False, oriented=False
    )
    size = spec.mesh.size / MODEL_UNIT
    fine = (spec.mesh.interface_size or spec.mesh.size / DEFAULT_REFINEMENT) / MODEL_UNIT
    graded_size_field(sorted({abs(t) for _, t in walls}), size, fine, spec.mesh.optimize)
    gmsh.model.mesh.generate(3)
    write_msh(msh_path)
    mesh, _ = element_stats(TETRAHEDRA, model.cells)
    lx, ly = spec.cell
    top = spec.collector + spec.height
    stats = replace(
        mesh,
        volume_fractions_requested={COLUMNS: spec.column_fraction},
        volume_fractions_achieved={COLUMNS: model.column_volume / (lx * ly * spec.height)},
        dimensions_requested={DIAMETER: spec.diameter, PENETRATION: spec.penetration},
        dimensions_achieved={
            DIAMETER: float(np.mean([c.diameter for c in cols])),
            PENETRATION: top - model.separator_bottom,
        },
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
    return distribute(
        comm, lambda path: _mesh_on_root(spec, path), "the columnar electrode", msh_path, verbose
    )
