"""Layout of stacked geometries (films, columns): z window, z scale and section plane.

The layout makes thin layers and tall stacks readable in one picture.

A mesh is *stacked* when its regions are layered in z: the lowest and the highest region
(by the centre of their z ranges) do not overlap in z. An RVE is not (its matrix spans the
box). For a stacked mesh of height H (µm) and larger lateral size W:

- window: if the thinnest region (thickness t) is thinner than H/20 (a 180 nm film on a
  1 mm pellet), z is cropped to ``WINDOW_THICKNESSES`` · t around it (inside the mesh);
  otherwise the window is the whole height;
- z scale: the window of height h is shown with z multiplied by f, the 1-2-5 number nearest
  (in log) to ``TARGET_ASPECT`` · W / h, when h/W is outside [1/3, 3]; else f = 1;
- section: the plane normal to x where the least represented region is most visible (a
  section through column axes, not through the gaps); films: the centre.

The caption states the window and the scale, e.g. "z × 0.2" or "z 999.46–1000.18 µm".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyvista as pv

#: window height in thicknesses of the thinnest layer
WINDOW_THICKNESSES = 4.0
#: a layer thinner than this share of the height gets a window
THIN_SHARE = 1 / 20
#: shown height/width aimed at when z is scaled
TARGET_ASPECT = 1.5
#: section candidates across x
_CANDIDATES = 25


@dataclass(frozen=True)
class Layout:
    """How to show a geometry: z window (µm), z scale, section plane x (µm), stacked or not."""

    stacked: bool
    z_window: tuple[float, float]
    z_scale: float
    section_x: float
    cropped: bool

    def caption(self) -> str:
        """What was done to the geometry, for the title ("" if nothing)."""
        parts = []
        if self.cropped:
            lo, hi = self.z_window
            d = max(0, int(np.ceil(-np.log10(hi - lo))) + 1)
            parts.append(f"z {lo:.{d}f}–{hi:.{d}f} µm only")
        if self.z_scale != 1:
            parts.append(f"z × {self.z_scale:g}")
        return ", ".join(parts)


def region_z_ranges(grid: pv.DataSet, tags: Mapping[str, int]) -> dict[str, tuple[float, float]]:
    """The z range (µm) of each tagged region present in ``grid``."""
    out = {}
    for name, tag in tags.items():
        ids = np.flatnonzero(np.asarray(grid.cell_data["region"]) == tag)
        if ids.size:
            b = grid.extract_cells(ids).bounds
            out[name] = (float(b[4]), float(b[5]))
    return out


def layout(grid: pv.UnstructuredGrid, tags: Mapping[str, int]) -> Layout:
    """The :class:`Layout` of ``grid`` (µm, cell data ``region``)."""
    x0, x1, y0, y1, z0, z1 = grid.bounds
    height, width = z1 - z0, max(x1 - x0, y1 - y0)
    centre_x = (x0 + x1) / 2
    ranges = region_z_ranges(grid, tags)
    if height <= 0 or not _is_stacked(ranges, height):  # a flat 2D section is not stacked
        return Layout(False, (z0, z1), 1.0, centre_x, cropped=False)
    _, (lo, hi) = min(ranges.items(), key=lambda kv: kv[1][1] - kv[1][0])
    t = hi - lo
    window, cropped = (z0, z1), False
    if t < THIN_SHARE * height:
        h = WINDOW_THICKNESSES * t
        a = min(max((lo + hi) / 2 - h / 2, z0), z1 - h)
        window, cropped = (a, a + h), True
    return Layout(
        True, window, z_scale(window[1] - window[0], width), section_x(grid, tags), cropped
    )


def z_scale(h: float, width: float) -> float:
    """1-2-5 factor nearest to TARGET_ASPECT·width/h if h/width is outside [1/3, 3], else 1."""
    if 1 / 3 <= h / width <= 3:
        return 1.0
    raw = TARGET_ASPECT * width / h
    exp = np.floor(np.log10(raw))
    options = [m * 10**e for e in (exp - 1, exp, exp + 1) for m in (1, 2, 5)]
    return float(min(options, key=lambda f: abs(np.log(f / raw))))


def section_x(
    grid: pv.UnstructuredGrid, tags: Mapping[str, int], upper: float | None = None
) -> float:
    """The x (µm, ≤ ``upper`` if given) of the section where the least visible region shows most.

    Ties go to the candidate nearest the centre of the searched range.
    """
    x0, x1 = grid.bounds[0], grid.bounds[1] if upper is None else upper
    xs = np.linspace(x0, x1, _CANDIDATES + 2)[1:-1]
    centre = (x0 + x1) / 2
    best, best_score = centre, -1.0
    for x in sorted(xs, key=lambda v: abs(v - centre)):
        plane = grid.slice(normal="x", origin=(x, 0.0, 0.0))
        if plane.n_cells == 0:
            continue
        area = plane.compute_cell_sizes(length=False, volume=False)["Area"]
        region = np.asarray(plane.cell_data["region"])
        score = min(float(area[region == t].sum()) for t in tags.values()) / float(area.sum())
        if score > best_score * (1 + 1e-6) + 1e-12:
            best, best_score = float(x), score
    return best


def section(grid: pv.UnstructuredGrid, lay: Layout) -> pv.PolyData:
    """The plane x = ``lay.section_x`` of ``grid``, cropped to the z window, z scaled."""
    plane = grid.slice(normal="x", origin=(lay.section_x, 0.0, 0.0))
    return apply_window(plane, lay)


def apply_window(data: pv.DataSet, lay: Layout) -> pv.DataSet:
    """``data`` cropped to the z window and with z multiplied by the z scale."""
    lo, hi = lay.z_window
    if lay.cropped:
        data = data.clip(normal="z", origin=(0.0, 0.0, hi)).clip(normal="-z", origin=(0.0, 0.0, lo))
    if lay.z_scale != 1:
        data = data.scale((1.0, 1.0, lay.z_scale), inplace=False)
    return data


def _is_stacked(ranges: Mapping[str, tuple[float, float]], height: float) -> bool:
    if len(ranges) < 2:
        return False
    by_centre = sorted(ranges.values(), key=lambda r: r[0] + r[1])
    (_, low_top), (high_bottom, _) = by_centre[0], by_centre[-1]
    return low_top <= high_bottom + 1e-6 * height
