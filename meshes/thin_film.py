"""Thin film: a layered slab [0, Lx] x [0, Ly] x [0, Σ t_i], layers listed bottom → top.

Each layer has a region name (the key ``materials:`` refers to) and a thickness; z is the
stacking direction (zmax is the top face, under the stack pressure). One layer may be
patterned into islands (square islands of width w with void gaps g in x and y, or stripes in
x): island i spans [g/2 + i (w + g), g/2 + i (w + g) + w], clipped at the domain edge. The
lateral faces are symmetry planes under roller supports, so choose Lx = n (w + g) for a
periodic array of identical islands. The interface between one layer and the next may be
rough: z → z + A sin(2π x/λ) sin(2π y/λ) (``xy``) or A sin(2π x/λ) (``x``) at the interface,
blended linearly to zero at the neighbouring interfaces (a mapping of the mesh nodes).

Physical groups, tags 1, 2, … in this order (absent facet groups are skipped): cells, one per
layer, named by the layer's region; facets ``xmin`` … ``zmax`` (the box faces of the
material, as in particle_rve) and one ``<lower>_<upper>`` per bonded interface (e.g.
``substrate_film``; islands bond only where they stand).

Meshing (Gmsh built-in kernel, model in µm, saved and distributed in m): the bottom face is
cut into rectangles at the island edges and meshed transfinitely with lateral element size
``mesh.size``; the rectangles are extruded layer by layer into structured tetrahedra. Element
heights are graded: at an interface they are min(t_lower, t_upper) / ``layer_elements`` (at
the bottom and top faces t / ``layer_elements`` of that layer), and grow geometrically by
``growth`` away from it up to ``max_height`` — a 50 nm film on a 500 µm pellet needs a few
dozen element layers, not 10⁴. Gap cells are meshed (the layers above stay conforming) but
belong to no physical group, so they are not part of the mesh.

Gmsh is imported inside the functions: importing it resets Python's SIGINT handler.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Protocol

import numpy as np
from mpi4py import MPI
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from meshes.bundle import MeshBundle, MeshStats
from meshes.element_stats import TETRAHEDRA, Simplex, element_stats
from meshes.errors import GeometryError
from meshes.gmsh_run import add_physical_groups, distribute, write_msh
from meshes.particle_rve import BOX_FACES, MODEL_UNIT
from solver.units import Length

PositiveLength = Annotated[Length, Field(gt=0)]
RegionName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]

SNAP = 1e-9  # island edges within this fraction of the domain of a face are moved onto it


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Layer(_Frozen):
    """One layer of the stack: region name and thickness (m)."""

    region: RegionName
    thickness: PositiveLength


class Islands(_Frozen):
    """Pattern of ``layer``: islands of ``width`` (m) separated by void ``gap`` (m).

    ``axes``: ``xy`` square islands (a 2D array), ``x`` stripes running along y.
    """

    layer: str
    width: PositiveLength
    gap: Length
    axes: Literal["x", "xy"] = "xy"


class Roughness(_Frozen):
    """Rough interface between ``lower`` and the layer above: amplitude, wavelength (m).

    ``profile``: ``sinusoidal`` — h = A sin(2πx/λ) (· sin(2πy/λ) for ``axes: xy``); or
    ``random`` — seeded from ``seed``, h = A Σ_k a_k cos(π m_k x/Lx) cos(π n_k y/Ly) with
    ``RANDOM_MODES`` modes of random integer orders (wavelengths 2L/m between λ and 4λ),
    random signs and weights, Σ|a_k| = 1: the height stays within ±A and the profile is
    mirror-symmetric at the lateral faces, consistent with their roller (symmetry) supports.
    """

    lower: str
    amplitude: PositiveLength
    wavelength: PositiveLength
    axes: Literal["x", "xy"] = "xy"
    profile: Literal["sinusoidal", "random"] = "sinusoidal"
    seed: int = 0


class FilmMesh(_Frozen):
    """Element sizes (m): lateral ``size``; heights graded from interfaces (module docstring).

    ``max_height`` defaults to ``size``; ``layer_elements`` element layers span the thinner
    layer at each interface; heights grow by ``growth`` per element away from interfaces.
    """

    size: PositiveLength
    max_height: PositiveLength | None = None
    layer_elements: PositiveInt = 2
    growth: Annotated[float, Field(ge=1.0, le=3.0)] = 1.5


class Stack(Protocol):
    """What the layer checks and the element grading need of a film spec (3D or 2D)."""

    @property
    def layers(self) -> list[Layer]:
        """Layers bottom → top."""

    @property
    def mesh(self) -> FilmMesh:
        """Element sizes."""

    @property
    def regions(self) -> tuple[str, ...]:
        """Cell region names, bottom → top."""


class LayeredStack(_Frozen):
    """What every film stack shares: named ``layers`` bottom → top and the ``mesh`` sizes.

    ``TOP_FACE`` names the free top face (``zmax`` in 3D, ``ymax`` for the 2D section).
    """

    TOP_FACE: ClassVar[str] = "zmax"
    layers: list[Layer] = Field(min_length=1)
    mesh: FilmMesh

    @property
    def regions(self) -> tuple[str, ...]:
        """Cell region names, bottom → top."""
        return tuple(layer.region for layer in self.layers)

    def surfaces_of(self, active: set[str]) -> dict[str, str | None]:
        """Facet groups bounding the ``active`` layers: name → region on the other side.

        None marks the free top face.
        """
        regions = self.regions
        out: dict[str, str | None] = {}
        for lower, upper in itertools.pairwise(regions):
            if lower in active or upper in active:
                out[f"{lower}_{upper}"] = upper if lower in active else lower
        if regions[-1] in active:
            out[self.TOP_FACE] = None
        return out

    @property
    def periodic(self) -> bool:
        """False: laterally the stack is infinite by symmetry (rollers), not periodic."""
        return False

    @property
    def stack_height(self) -> float:
        """Height of the stack (m): the sum of the layer thicknesses."""
        return float(sum(layer.thickness for layer in self.layers))

    @property
    def has_box_faces(self) -> bool:
        """The stack always has its box faces (rollers and a top face to load)."""
        return True


class ThinFilmSpec(LayeredStack):
    """Geometry of a layered film stack (see module docstring)."""

    kind: Literal["thin_film"]
    lateral: tuple[PositiveLength, PositiveLength]
    pattern: Islands | None = None
    roughness: Roughness | None = None


def check(spec: ThinFilmSpec) -> None:
    """Raise GeometryError (naming the key) for a stack that cannot be built."""
    check_layers(spec)
    if spec.pattern is not None:
        _islands(spec, spec.pattern)
    if spec.roughness is not None:
        check_roughness(
            spec, spec.roughness.lower, spec.roughness.amplitude, spec.roughness.wavelength
        )


def check_layers(spec: Stack) -> None:
    """GeometryError unless every layer has its own region."""
    regions = spec.regions
    for i, name in enumerate(regions):
        if name in regions[:i]:
            raise GeometryError(f"layers.{i}.region", f"region {name!r} is used by two layers")


def check_roughness(spec: Stack, lower: str, amplitude: float, wavelength: float) -> None:
    """GeometryError unless the rough interface above ``lower`` fits and is resolved (m)."""
    regions = spec.regions
    if lower not in regions[:-1]:
        raise GeometryError(
            "roughness.lower",
            f"{lower!r} is not a layer with a layer above it (layers: {list(regions)})",
        )
    k = regions.index(lower)
    thinner = min(spec.layers[k].thickness, spec.layers[k + 1].thickness)
    if amplitude >= 0.5 * thinner:
        raise GeometryError(
            "roughness.amplitude",
            f"amplitude {amplitude:.3g} m must be below half the thinner adjacent layer "
            f"({0.5 * thinner:.3g} m)",
        )
    if wavelength < 4 * spec.mesh.size:
        raise GeometryError(
            "roughness.wavelength",
            f"wavelength {wavelength:.3g} m is not resolved by mesh.size "
            f"{spec.mesh.size:.3g} m (needs ≥ 4 elements per wavelength)",
        )


def _islands(spec: ThinFilmSpec, p: Islands) -> list[list[tuple[float, float]]]:
    """Island intervals (m) along x and y (y: one full-width interval for stripes)."""
    if p.layer not in spec.regions:
        raise GeometryError("pattern.layer", f"{p.layer!r} is not a layer ({list(spec.regions)})")
    if p.gap <= 0:
        raise GeometryError(
            "pattern.gap", f"gap must be > 0 (got {p.gap:.3g} m); drop 'pattern' for a full film"
        )
    out = []
    for axis, length in enumerate(spec.lateral):
        if axis == 1 and p.axes == "x":
            out.append([(0.0, length)])
            continue
        out.append(island_spans(p.width, p.gap, length, "xy"[axis]))
    return out


def island_spans(width: float, gap: float, length: float, axis: str) -> list[tuple[float, float]]:
    """Islands of ``width`` after a half ``gap``, repeating every width + gap, clipped (m)."""
    if gap / 2 + width > length * (1 + SNAP):
        raise GeometryError(
            "pattern.width",
            f"an island (width {width:.3g} m after a half gap {gap / 2:.3g} m) does not "
            f"fit in the domain ({axis} extent {length:.3g} m)",
        )
    spans, start = [], gap / 2
    while start < length * (1 - SNAP):
        end = start + width
        if end > length * (1 - SNAP):
            end = length
        spans.append((start, end))
        start = end + gap
    return spans


def element_heights(
    thickness: float, bottom: float, top: float, growth: float, cap: float
) -> list[float]:
    """Element heights (m) through a layer, bottom → top, summing to ``thickness``.

    They start at ``bottom`` and ``top`` at the layer faces and grow by ``growth`` away from
    each face up to ``cap``; the middle is filled with equal elements.
    """
    lo: list[float] = []
    hi: list[float] = []
    a, b, left = min(bottom, cap), min(top, cap), thickness
    while True:
        nxt = min(a, b)
        if left <= 2 * nxt:
            break
        if a <= b:
            lo.append(a)
            left -= a
            a = min(a * growth, cap)
        else:
            hi.append(b)
            left -= b
            b = min(b * growth, cap)
    middle = max(1, math.ceil(left / max(a, b)))
    heights = lo + [left / middle] * middle + hi[::-1]
    scale = thickness / sum(heights)
    return [h * scale for h in heights]


def layer_heights(spec: Stack) -> list[list[float]]:
    """Graded element heights (m) of every layer (see module docstring)."""
    layers, m = spec.layers, spec.mesh
    cap = m.max_height or m.size
    interface = [
        min(layers[k].thickness, layers[k + 1].thickness) / m.layer_elements
        for k in range(len(layers) - 1)
    ]
    out = []
    for k, layer in enumerate(layers):
        outer = layer.thickness / m.layer_elements  # at zmin / zmax
        bottom = interface[k - 1] if k > 0 else outer
        top = interface[k] if k < len(layers) - 1 else outer
        out.append(element_heights(layer.thickness, bottom, top, m.growth, cap))
    return out


@dataclass(frozen=True)
class _Model:
    """Physical groups (entity tags) and the area each layer's material covers (m²)."""

    cells: dict[str, list[int]]
    facets: dict[str, list[int]]
    covered_area: dict[str, float]


def stack_stats(
    spec: Stack, simplex: Simplex, cells: dict[str, list[int]], covered: dict[str, float]
) -> MeshStats:
    """Mesh statistics of a meshed film stack (3D tetrahedra, or triangles of the 2D section).

    Thickness of a layer: requested ``thickness``, achieved = measure of its region (m³, m²)
    / ``covered`` (the area its material covers (m²), in 2D the width (m)).
    """
    mesh, measures = element_stats(simplex, cells)
    return replace(
        mesh,
        thicknesses_requested={la.region: la.thickness for la in spec.layers},
        thicknesses_achieved={r: m / covered[r] for r, m in measures.items()},
    )


def _breaks(spans: list[tuple[float, float]], length: float) -> list[float]:
    points = {0.0, length}
    for a, b in spans:
        points.update((a, b))
    return sorted(points)


def _build_model(spec: ThinFilmSpec) -> _Model:
    """Bottom rectangles, extruded layer by layer (model units, µm); tags by adjacency."""
    import gmsh

    geo = gmsh.model.geo
    lx, ly = (v / MODEL_UNIT for v in spec.lateral)
    if spec.pattern is not None:
        sx, sy = (
            [(a / MODEL_UNIT, b / MODEL_UNIT) for a, b in s] for s in _islands(spec, spec.pattern)
        )
    else:
        sx, sy = [(0.0, lx)], [(0.0, ly)]
    xs, ys = _breaks(sx, lx), _breaks(sy, ly)
    size = spec.mesh.size / MODEL_UNIT
    pts = {(i, j): geo.addPoint(x, y, 0.0) for i, x in enumerate(xs) for j, y in enumerate(ys)}
    hor = {
        (i, j): geo.addLine(pts[i, j], pts[i + 1, j])
        for i in range(len(xs) - 1)
        for j in range(len(ys))
    }
    ver = {
        (i, j): geo.addLine(pts[i, j], pts[i, j + 1])
        for i in range(len(xs))
        for j in range(len(ys) - 1)
    }
    rects = {}
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            loop = geo.addCurveLoop([hor[i, j], ver[i + 1, j], -hor[i, j + 1], -ver[i, j]])
            rects[i, j] = geo.addPlaneSurface([loop])
    for (i, _), tag in hor.items():
        geo.mesh.setTransfiniteCurve(tag, 1 + max(1, math.ceil((xs[i + 1] - xs[i]) / size)))
    for (_, j), tag in ver.items():
        geo.mesh.setTransfiniteCurve(tag, 1 + max(1, math.ceil((ys[j + 1] - ys[j]) / size)))
    for tag in rects.values():
        geo.mesh.setTransfiniteSurface(tag)

    def on_island(i: int, j: int) -> bool:
        cx, cy = 0.5 * (xs[i] + xs[i + 1]), 0.5 * (ys[j] + ys[j + 1])
        return any(a < cx < b for a, b in sx) and any(a < cy < b for a, b in sy)

    keys = list(rects)
    top = [(2, rects[k]) for k in keys]
    layer_of: dict[int, int] = {}  # material volume → layer index
    cells: dict[str, list[int]] = {}
    covered: dict[str, float] = {}
    for k, (layer, heights) in enumerate(zip(spec.layers, layer_heights(spec), strict=True)):
        fractions = np.cumsum(heights) / layer.thickness
        out = geo.extrude(
            top,
            0.0,
            0.0,
            layer.thickness / MODEL_UNIT,
            numElements=[1] * len(heights),
            heights=[float(f) for f in fractions[:-1]] + [1.0],
            recombine=False,
        )
        stride = len(out) // len(top)  # top face, volume, then the lateral faces
        top = [out[n * stride] for n in range(len(keys))]
        patterned = spec.pattern is not None and spec.pattern.layer == layer.region
        material = [
            out[n * stride + 1][1] for n, key in enumerate(keys) if not patterned or on_island(*key)
        ]
        layer_of.update(dict.fromkeys(material, k))
        cells[layer.region] = material
        covered[layer.region] = (
            sum(
                (xs[i + 1] - xs[i]) * (ys[j + 1] - ys[j])
                for i, j in keys
                if not patterned or on_island(i, j)
            )
            * MODEL_UNIT**2
        )
    geo.synchronize()

    height = spec.stack_height / MODEL_UNIT
    extent = (lx, ly, height)
    tol = SNAP * max(extent)
    regions = spec.regions
    interfaces = [f"{regions[k]}_{regions[k + 1]}" for k in range(len(regions) - 1)]
    facets: dict[str, list[int]] = {name: [] for name in (*BOX_FACES, *interfaces)}
    for _, s in gmsh.model.getEntities(2):
        up, _ = gmsh.model.getAdjacencies(2, s)
        layers = sorted(layer_of[int(v)] for v in up if int(v) in layer_of)
        if len(layers) == 2 and layers[1] == layers[0] + 1:
            facets[interfaces[layers[0]]].append(s)
        elif len(layers) == 1:
            bbox = gmsh.model.getBoundingBox(2, s)
            for f, face in enumerate(BOX_FACES):
                axis, value = f // 2, (0.0 if f % 2 == 0 else extent[f // 2])
                if abs(bbox[axis] - value) < tol and abs(bbox[axis + 3] - value) < tol:
                    facets[face].append(s)
    groups = {name: sorted(tags) for name, tags in facets.items() if tags}
    return _Model(cells, groups, covered)


RANDOM_MODES = 12  # cosine modes of a random roughness profile


def random_profile(
    x: np.ndarray, y: np.ndarray | None, lx: float, ly: float, wavelength: float, seed: int
) -> np.ndarray:
    """Seeded random height shape in [−1, 1] at (x, y) (see ``Roughness``; y None: along x)."""
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.2, 1.0, RANDOM_MODES) * rng.choice([-1.0, 1.0], RANDOM_MODES)
    weights /= np.abs(weights).sum()

    def orders(length: float) -> np.ndarray:  # wavelength 2L/m in [λ, 4λ] (at least order 1)
        lo, hi = max(1, int(np.ceil(length / (2 * wavelength)))), int(2 * length / wavelength)
        return rng.integers(lo, max(hi, lo) + 1, RANDOM_MODES)

    shape = np.zeros_like(x)
    m = orders(lx)
    n = orders(ly) if y is not None else np.zeros(RANDOM_MODES, dtype=int)
    for a, mk, nk in zip(weights, m, n, strict=True):
        term = np.cos(np.pi * mk * x / lx)
        if y is not None:
            term = term * np.cos(np.pi * nk * y / ly)
        shape += a * term
    return shape


def _roughen(spec: ThinFilmSpec) -> None:
    """Move mesh nodes: z += A s(x, y) w(z), w = 1 at the rough interface, 0 at its neighbours."""
    import gmsh

    r = spec.roughness
    assert r is not None
    bounds = np.concatenate(([0.0], np.cumsum([la.thickness for la in spec.layers])))
    bounds /= MODEL_UNIT
    k = spec.regions.index(r.lower) + 1  # index of the rough interface in ``bounds``
    z_lo, z_i, z_hi = bounds[k - 1], bounds[k], bounds[k + 1]
    tags, coords, _ = gmsh.model.mesh.getNodes()
    x = coords.reshape(-1, 3)
    lam = r.wavelength / MODEL_UNIT
    if r.profile == "random":
        lx, ly = (v / MODEL_UNIT for v in spec.lateral)
        shape = random_profile(x[:, 0], x[:, 1] if r.axes == "xy" else None, lx, ly, lam, r.seed)
    else:
        shape = np.sin(2 * np.pi * x[:, 0] / lam)
        if r.axes == "xy":
            shape = shape * np.sin(2 * np.pi * x[:, 1] / lam)
    z = x[:, 2]
    weight = np.where(
        z <= z_i,
        np.clip((z - z_lo) / (z_i - z_lo), 0.0, 1.0),
        np.clip((z_hi - z) / (z_hi - z_i), 0.0, 1.0),
    )
    x[:, 2] = z + r.amplitude / MODEL_UNIT * shape * weight
    for tag, point in zip(tags, x, strict=True):
        gmsh.model.mesh.setNode(int(tag), point.tolist(), [])


def _mesh_on_root(
    spec: ThinFilmSpec, msh_path: Path | None
) -> tuple[dict[str, dict[str, int]], MeshStats]:
    """Check, build, tag and mesh the Gmsh model (initialised); write ``msh_path``."""
    import gmsh

    check(spec)
    gmsh.model.add("thin_film")
    model = _build_model(spec)
    names = add_physical_groups(model.cells, model.facets)
    gmsh.model.mesh.generate(3)
    if spec.roughness is not None:
        _roughen(spec)
    write_msh(msh_path)
    return names, stack_stats(spec, TETRAHEDRA, model.cells, model.covered_area)


def build(
    comm: MPI.Comm, spec: ThinFilmSpec, msh_path: Path | None = None, verbose: bool = False
) -> MeshBundle:
    """Build the stack on rank 0, write ``msh_path`` if given, and distribute it over ``comm``.

    Gmsh is silent unless ``verbose`` or ``SSBMECH_GMSH_VERBOSE`` is set (not "0").
    Collective. Raises GeometryError (on every rank) for an impossible request, RuntimeError
    (on every rank) if Gmsh fails.
    """
    return distribute(
        comm, lambda path: _mesh_on_root(spec, path), "the thin film", msh_path, verbose
    )
