"""Geometric views of one step: which part of the mesh is shown and from where.

Every view takes the mesh in µm carrying the field to draw (display unit, under the field's
key, cell or point data), ``region`` (cell tags) and ``u_um`` (displacement in µm, when
written), and returns a :class:`Scene`: the datasets coloured by the field, grey context
(outlines, particle edges), the camera preset and a note for the footer.

- ``clip``: the half of the RVE behind the plane y = centre (cut face shows the inside).
- ``slices``: three orthogonal planes through the centre.
- ``particles``: the surfaces of every region except ``matrix`` (matrix hidden).
- ``risk``: the cells with crack risk σ1/σ_f > 1 in the clipped half, particles in grey.
- ``deformed``: the clip of the deformed mesh, x ← x + u (true scale).
- ``deformed_exaggerated``: the same with u scaled so that max |u| is ≈ 8 % of the mesh size.
- ``cross_section``: the plane normal to x through the centre, seen head-on (works for any
  geometry whose cells are tagged by region: layered films, columns, RVEs).
- ``film_section``: for stacked geometries (films, columns; :mod:`postprocess.layers`) the
  section through the columns, cropped to a window around a thin film and/or with z scaled
  (stated in the title), seen head-on; ``render`` draws it by default for stacked runs only.

A 2D (plane-strain) run is flat (z = 0): every view then shows the whole section instead of a
clip, slice or cross-section (``clip``, ``slices`` and ``cross_section`` coincide), and the
camera looks down −z with y up (``maps``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyvista as pv

from postprocess.layers import layout, section
from postprocess.reader import RenderError

MATRIX = "matrix"
_CONTEXT_GREY = "#b0b0b0"
_EDGE = "#1a1a1a"
#: target max |u| of the exaggerated view as a fraction of the mesh's diagonal
_EXAGGERATION_TARGET = 0.08


@dataclass
class Scene:
    """What one view draws: coloured datasets, grey context, camera preset, footer note."""

    coloured: list[pv.DataSet]
    context: list[tuple[pv.DataSet, dict]] = field(default_factory=list)
    camera: str = "oblique"  # or "x": head-on along −x, parallel projection
    note: str = ""
    #: what was done to the geometry (z window, z scale), for the title
    caption: str = ""
    #: camera zoom after fitting (< 1 leaves room for the ruler under tall sections)
    zoom: float = 1.0


@dataclass(frozen=True)
class View:
    """A named view; ``regions`` says which cells it colours (None = all, for colour limits)."""

    name: str
    title: str
    build: Callable[[pv.UnstructuredGrid, str, Mapping[str, int]], Scene]
    hides_matrix: bool = False
    needs: tuple[str, ...] = ()

    def regions(self, cell_tags: Mapping[str, int]) -> list[str] | None:
        """Region names whose cells are coloured (None: all cells)."""
        if not self.hides_matrix:
            return None
        return [r for r in cell_tags if r != MATRIX]

    def missing(self, fields: Mapping[str, object], cell_tags: Mapping[str, int]) -> str | None:
        """Why this view cannot be drawn for a run (None if it can)."""
        for need in self.needs:
            if need not in fields:
                return f"needs field {need!r}"
        if self.hides_matrix and not self.regions(cell_tags):
            return "needs a region other than 'matrix' in tags.json"
        return None


def centre(grid: pv.DataSet) -> tuple[float, float, float]:
    """Centre of the mesh bounds: the box centre of an RVE, the particle's for a free one."""
    b = grid.bounds
    return ((b[0] + b[1]) / 2, (b[2] + b[3]) / 2, (b[4] + b[5]) / 2)


def is_flat(grid: pv.DataSet) -> bool:
    """A 2D (plane-strain) mesh: no extent in z."""
    b = grid.bounds
    return b[5] - b[4] <= 1e-9 * max(b[1] - b[0], b[3] - b[2], 1e-300)


def _section(grid: pv.UnstructuredGrid, tags: Mapping[str, int]) -> Scene:
    """The whole 2D section with region boundaries in black."""
    return Scene([grid], _edges_layer(grid, tags), note="2D section (plane strain)")


def region_edges(data: pv.DataSet, tags: Mapping[str, int]) -> pv.PolyData | None:
    """Boundaries of every non-matrix region as seen on the outer faces of ``data``."""
    if "region" not in data.cell_data:
        return None
    surface = data.extract_surface(algorithm="dataset_surface")
    inner = [t for name, t in tags.items() if name != MATRIX]
    patches = surface.extract_cells(np.flatnonzero(np.isin(surface["region"], inner)))
    if patches.n_cells == 0:
        return None
    edges = patches.extract_surface(algorithm="dataset_surface").extract_feature_edges(
        boundary_edges=True, feature_edges=False, non_manifold_edges=False, manifold_edges=False
    )
    return edges if edges.n_cells else None


def _edges_layer(data: pv.DataSet, tags: Mapping[str, int]) -> list[tuple[pv.DataSet, dict]]:
    edges = region_edges(data, tags)
    style = {"color": _EDGE, "line_width": 3.0, "render_lines_as_tubes": True}
    return [(edges, style)] if edges is not None else []


def _outline(grid: pv.DataSet) -> tuple[pv.DataSet, dict]:
    return grid.outline(), {"color": "#606060", "line_width": 1.5}


def _half(grid: pv.UnstructuredGrid) -> pv.UnstructuredGrid:
    if is_flat(grid):  # 2D: the whole section
        return grid
    half = grid.clip(normal="y", origin=centre(grid), invert=False)
    if half.n_cells == 0:
        raise RenderError("the mid-plane clip is empty")
    return half


def clip(grid: pv.UnstructuredGrid, key: str, tags: Mapping[str, int]) -> Scene:
    """Half of the mesh behind the mid-plane normal to y; region boundaries in black."""
    if is_flat(grid):
        return _section(grid, tags)
    half = _half(grid)
    note = f"cut at y = {centre(grid)[1]:.2f} µm"
    return Scene([half], _edges_layer(half, tags), note=note)


def slices(grid: pv.UnstructuredGrid, key: str, tags: Mapping[str, int]) -> Scene:
    """Three orthogonal slices through the centre."""
    if is_flat(grid):
        return _section(grid, tags)
    x, y, z = centre(grid)
    planes = [grid.slice(normal=n, origin=(x, y, z)) for n in ("x", "y", "z")]
    planes = [p for p in planes if p.n_cells]
    context = [_outline(grid)]
    for p in planes:
        context += _edges_layer(p, tags)
    return Scene(planes, context, note=f"slices through ({x:.2f}, {y:.2f}, {z:.2f}) µm")


def particles(grid: pv.UnstructuredGrid, key: str, tags: Mapping[str, int]) -> Scene:
    """Surfaces of all non-matrix regions coloured by the field; the matrix is hidden."""
    inner = [t for name, t in tags.items() if name != MATRIX]
    cells = grid.extract_cells(np.flatnonzero(np.isin(grid["region"], inner)))
    surface = cells.extract_surface(algorithm="dataset_surface")
    names = ", ".join(n for n in tags if n != MATRIX)
    return Scene([surface], [_outline(grid)], note=f"{names} only (matrix hidden)")


def risk(grid: pv.UnstructuredGrid, key: str, tags: Mapping[str, int]) -> Scene:
    """Cells with crack risk > 1 in the clipped half, the other regions' surfaces in grey."""
    half = _half(grid)
    inner = [t for name, t in tags.items() if name != MATRIX]
    context = [_outline(half)]
    if inner:
        grey = half.extract_cells(np.flatnonzero(np.isin(half["region"], inner)))
        style = {"color": _CONTEXT_GREY, "opacity": 0.6, "smooth_shading": False}
        context.append((grey.extract_surface(algorithm="dataset_surface"), style))
    at_risk = np.flatnonzero(np.asarray(half.cell_data["crack_risk"]) > 1.0)
    share = float(np.mean(np.asarray(grid.cell_data["crack_risk"]) > 1.0))
    if at_risk.size == 0:
        return Scene([], context, note="crack risk ≤ 1 everywhere at this step")
    volume = half.extract_cells(at_risk).extract_surface(algorithm="dataset_surface")
    note = f"half at y > {centre(grid)[1]:.2f} µm: cells with crack risk > 1 ({share:.1%} of all)"
    return Scene([volume], context, note=note)


def _deformed(grid: pv.UnstructuredGrid, factor: float, tags: Mapping[str, int]) -> Scene:
    reference = _half(grid)  # cut the reference configuration: same material section
    half = reference.warp_by_vector("u_um", factor=factor)
    note = "deformed, true scale" if factor == 1 else f"deformed, displacement × {factor:g}"
    note += "; grey box: undeformed half"
    return Scene([half], [*_edges_layer(half, tags), _outline(reference)], note=note)


def deformed(grid: pv.UnstructuredGrid, key: str, tags: Mapping[str, int]) -> Scene:
    """Clip of the deformed configuration at true scale, undeformed box outline for reference."""
    return _deformed(grid, 1.0, tags)


def deformed_exaggerated(grid: pv.UnstructuredGrid, key: str, tags: Mapping[str, int]) -> Scene:
    """Clip of the deformed configuration, displacement scaled to be visible."""
    return _deformed(grid, exaggeration(grid), tags)


def exaggeration(grid: pv.UnstructuredGrid) -> float:
    """Round factor (1, 2, 5 × 10^k) making max |u| about 8 % of the mesh diagonal."""
    umax = float(np.max(np.linalg.norm(np.asarray(grid["u_um"]), axis=1), initial=0.0))
    if umax <= 0:
        return 1.0
    raw = _EXAGGERATION_TARGET * grid.length / umax
    exp = np.floor(np.log10(raw))
    best = max((m * 10**exp for m in (1, 2, 5) if m * 10**exp <= raw), default=10**exp)
    return float(max(best, 1.0))


def cross_section(grid: pv.UnstructuredGrid, key: str, tags: Mapping[str, int]) -> Scene:
    """The plane normal to x through the centre, seen head-on; region boundaries in black."""
    if is_flat(grid):
        return _section(grid, tags)
    x = centre(grid)[0]
    plane = grid.slice(normal="x", origin=centre(grid))
    if plane.n_cells == 0:
        raise RenderError("the cross-section at the mid-plane is empty")
    return Scene([plane], _section_edges(plane), camera="x", note=f"section x = {x:.2f} µm")


def film_section(grid: pv.UnstructuredGrid, key: str, tags: Mapping[str, int]) -> Scene:
    """Section of a stacked geometry with its z window and z scale; region boundaries black."""
    lay = layout(grid, tags)
    plane = section(grid, lay)
    if plane.n_cells == 0:
        raise RenderError(f"the section x = {lay.section_x:.3g} µm is empty")
    caption = lay.caption()
    note = f"section x = {lay.section_x:.3g} µm" + (f"; {caption}" if caption else "")
    return Scene([plane], _section_edges(plane), camera="x", note=note, caption=caption, zoom=0.85)


def _section_edges(plane: pv.DataSet) -> list[tuple[pv.DataSet, dict]]:
    """Boundaries of each region in a plane section, as black lines."""
    edges = []
    if "region" in plane.cell_data:
        for tag in np.unique(plane["region"]):
            part = plane.extract_cells(np.flatnonzero(plane["region"] == tag))
            e = part.extract_surface(algorithm="dataset_surface").extract_feature_edges(
                boundary_edges=True,
                feature_edges=False,
                non_manifold_edges=False,
                manifold_edges=False,
            )
            if e.n_cells:
                edges.append((e, {"color": _EDGE, "line_width": 2.5}))
    return edges


VIEWS: dict[str, View] = {
    v.name: v
    for v in (
        View("clip", "half RVE", clip),
        View("slices", "slices", slices),
        View("particles", "particles", particles, hides_matrix=True),
        View("risk", "where risk > 1", risk, needs=("crack_risk",)),
        View("deformed", "deformed", deformed, needs=("u",)),
        View("deformed_exaggerated", "deformed, exaggerated", deformed_exaggerated, needs=("u",)),
        View("cross_section", "cross-section", cross_section),
        View("film_section", "film section", film_section),
    )
}
