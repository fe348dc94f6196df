"""2D thin film: plane-strain cross-section [0, Lx] x [0, Σ t_i] of a layered stack.

The 2D counterpart of ``thin_film`` (its module docstring describes the stack): layers are
listed bottom → top, y is the stacking direction (ymax is the top face, under the stack
pressure), the lateral faces xmin/xmax are symmetry planes under rollers. The section is
plane strain (ε_zz = 0): a laterally infinite uniform film then has the clamped-film stress
σ_xx = σ_zz = −E_f β/(1 − ν_f) of the 3D stack. One layer may be patterned into stripes
(``width`` with void ``gap``, the section of ``thin_film``'s ``axes: x`` stripes); the
interface above ``roughness.lower`` may be rough, y → y + A sin(2π x/λ) blended linearly to
zero at the neighbouring interfaces.

Physical groups, tags 1, 2, … in this order (absent facet groups are skipped): cells, one per
layer, named by the layer's region; facets ``xmin``, ``xmax``, ``ymin``, ``ymax`` and one
``<lower>_<upper>`` per bonded interface. Meshing (Gmsh built-in kernel, model in µm, saved
and distributed in m): the bottom line is cut at the stripe edges, divided into elements of
``mesh.size`` and extruded layer by layer into structured triangles with the graded element
heights of ``thin_film.layer_heights``; gap cells belong to no physical group.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
from mpi4py import MPI
from pydantic import BaseModel, ConfigDict, Field

from meshes.bundle import MeshBundle, MeshStats
from meshes.element_stats import TRIANGLES
from meshes.errors import GeometryError
from meshes.gmsh_run import MODEL_UNIT, add_physical_groups, distribute, write_msh
from meshes.particle_rve_2d import FACES
from meshes.thin_film import (
    SNAP,
    LayeredStack,
    check_layers,
    check_roughness,
    island_spans,
    layer_heights,
    stack_stats,
)
from solver.units import Length

PositiveLength = Annotated[Length, Field(gt=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Stripes(_Frozen):
    """Pattern of ``layer``: stripes of ``width`` (m) separated by void ``gap`` (m)."""

    layer: str
    width: PositiveLength
    gap: Length


class Roughness2D(_Frozen):
    """Sinusoidal interface above ``lower``: ``amplitude``, ``wavelength`` (m) along x."""

    lower: str
    amplitude: PositiveLength
    wavelength: PositiveLength


class ThinFilm2DSpec(LayeredStack):
    """Geometry of a 2D (plane-strain) film stack (see module docstring)."""

    TOP_FACE: ClassVar[str] = "ymax"
    kind: Literal["thin_film_2d"]
    width: PositiveLength
    pattern: Stripes | None = None
    roughness: Roughness2D | None = None


def stripes(spec: ThinFilm2DSpec) -> list[tuple[float, float]]:
    """Stripe intervals (m) along x; the whole width without a pattern."""
    p = spec.pattern
    if p is None:
        return [(0.0, float(spec.width))]
    if p.layer not in spec.regions:
        raise GeometryError("pattern.layer", f"{p.layer!r} is not a layer ({list(spec.regions)})")
    if p.gap <= 0:
        raise GeometryError(
            "pattern.gap", f"gap must be > 0 (got {p.gap:.3g} m); drop 'pattern' for a full film"
        )
    return island_spans(p.width, p.gap, spec.width, "x")


def check(spec: ThinFilm2DSpec) -> None:
    """Raise GeometryError (naming the key) for a stack that cannot be built."""
    check_layers(spec)
    stripes(spec)
    if spec.roughness is not None:
        r = spec.roughness
        check_roughness(spec, r.lower, r.amplitude, r.wavelength)


@dataclass(frozen=True)
class _Model:
    """Physical groups (entity tags) and the per-layer covered widths (m)."""

    cells: dict[str, list[int]]
    facets: dict[str, list[int]]
    covered_width: dict[str, float]


def _build_model(spec: ThinFilm2DSpec) -> _Model:
    """Bottom segments extruded layer by layer (model units, µm); tags by adjacency."""
    import gmsh

    geo = gmsh.model.geo
    lx = spec.width / MODEL_UNIT
    spans = [(a / MODEL_UNIT, b / MODEL_UNIT) for a, b in stripes(spec)]
    xs = sorted({0.0, lx, *itertools.chain.from_iterable(spans)})
    size = spec.mesh.size / MODEL_UNIT
    pts = [geo.addPoint(x, 0.0, 0.0) for x in xs]
    segments = [geo.addLine(pts[i], pts[i + 1]) for i in range(len(xs) - 1)]
    for i, tag in enumerate(segments):
        geo.mesh.setTransfiniteCurve(tag, 1 + max(1, math.ceil((xs[i + 1] - xs[i]) / size)))
    on_stripe = [
        any(a < 0.5 * (xs[i] + xs[i + 1]) < b for a, b in spans) for i in range(len(segments))
    ]
    top = [(1, t) for t in segments]
    layer_of: dict[int, int] = {}  # material surface → layer index
    cells: dict[str, list[int]] = {}
    covered: dict[str, float] = {}
    for k, (layer, heights) in enumerate(zip(spec.layers, layer_heights(spec), strict=True)):
        fractions = np.cumsum(heights) / layer.thickness
        out = geo.extrude(
            top,
            0.0,
            layer.thickness / MODEL_UNIT,
            0.0,
            numElements=[1] * len(heights),
            heights=[float(f) for f in fractions[:-1]] + [1.0],
            recombine=False,
        )
        stride = len(out) // len(top)  # top curve, surface, then the two side curves
        top = [out[n * stride] for n in range(len(segments))]
        patterned = spec.pattern is not None and spec.pattern.layer == layer.region
        keep = [n for n in range(len(segments)) if not patterned or on_stripe[n]]
        material = [out[n * stride + 1][1] for n in keep]
        layer_of.update(dict.fromkeys(material, k))
        cells[layer.region] = material
        covered[layer.region] = sum(xs[n + 1] - xs[n] for n in keep) * MODEL_UNIT
    geo.synchronize()

    extent = (lx, spec.stack_height / MODEL_UNIT)
    tol = SNAP * max(extent)
    regions = spec.regions
    interfaces = [f"{regions[k]}_{regions[k + 1]}" for k in range(len(regions) - 1)]
    facets: dict[str, list[int]] = {name: [] for name in (*FACES, *interfaces)}
    for _, c in gmsh.model.getEntities(1):
        up, _ = gmsh.model.getAdjacencies(1, c)
        layers = sorted(layer_of[int(s)] for s in up if int(s) in layer_of)
        if len(layers) == 2 and layers[1] == layers[0] + 1:
            facets[interfaces[layers[0]]].append(c)
        elif len(layers) == 1:
            bbox = gmsh.model.getBoundingBox(1, c)
            for f, face in enumerate(FACES):
                axis, value = f // 2, (0.0 if f % 2 == 0 else extent[f // 2])
                if abs(bbox[axis] - value) < tol and abs(bbox[axis + 3] - value) < tol:
                    facets[face].append(c)
    groups = {name: sorted(tags) for name, tags in facets.items() if tags}
    return _Model(cells, groups, covered)


def _roughen(spec: ThinFilm2DSpec) -> None:
    """Move mesh nodes: y += A sin(2π x/λ) w(y), w = 1 at the rough interface, 0 at neighbours."""
    import gmsh

    r = spec.roughness
    assert r is not None
    bounds = np.concatenate(([0.0], np.cumsum([la.thickness for la in spec.layers])))
    bounds /= MODEL_UNIT
    k = spec.regions.index(r.lower) + 1  # index of the rough interface in ``bounds``
    y_lo, y_i, y_hi = bounds[k - 1], bounds[k], bounds[k + 1]
    tags, coords, _ = gmsh.model.mesh.getNodes()
    x = coords.reshape(-1, 3)
    shape = np.sin(2 * np.pi * x[:, 0] / (r.wavelength / MODEL_UNIT))
    y = x[:, 1]
    weight = np.where(
        y <= y_i,
        np.clip((y - y_lo) / (y_i - y_lo), 0.0, 1.0),
        np.clip((y_hi - y) / (y_hi - y_i), 0.0, 1.0),
    )
    x[:, 1] = y + r.amplitude / MODEL_UNIT * shape * weight
    for tag, point in zip(tags, x, strict=True):
        gmsh.model.mesh.setNode(int(tag), point.tolist(), [])


def _mesh_on_root(
    spec: ThinFilm2DSpec, msh_path: Path | None
) -> tuple[dict[str, dict[str, int]], MeshStats]:
    """Check, build, tag and mesh the Gmsh model (initialised); write ``msh_path``."""
    import gmsh

    check(spec)
    gmsh.model.add("thin_film_2d")
    model = _build_model(spec)
    names = add_physical_groups(model.cells, model.facets, dim=2)
    gmsh.model.mesh.generate(2)
    if spec.roughness is not None:
        _roughen(spec)
    write_msh(msh_path)
    return names, stack_stats(spec, TRIANGLES, model.cells, model.covered_width)


def build(
    comm: MPI.Comm, spec: ThinFilm2DSpec, msh_path: Path | None = None, verbose: bool = False
) -> MeshBundle:
    """Build the section on rank 0 (gdim 2), write ``msh_path`` if given, distribute it.

    Collective; GeometryError / RuntimeError on every rank as ``thin_film.build``.
    """
    return distribute(
        comm, lambda path: _mesh_on_root(spec, path), "the 2D thin film", msh_path, verbose, gdim=2
    )
