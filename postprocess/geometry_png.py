"""Picture of a meshed geometry: each region in its fixed colour, legend, scale bar, title.

``python -m postprocess.geometry_png MESH_DIR [--name CASE] [--out PNG]`` reads
``MESH_DIR/mesh.msh`` + ``tags.json`` (:mod:`postprocess.mesh_file`) and writes
``MESH_DIR/geometry.png`` (1200 × 900 px). ``ssbmech mesh CASE --out DIR --png`` runs it in a
process of its own: never import DOLFINx here (VTK crashes). What is shown depends on the
geometry (:mod:`postprocess.layers`):

- RVE (particles in a matrix): the half of the box behind the mid-plane normal to y, seen
  obliquely; the cut face shows the particles' sections;
- layered film (every region a full layer): the section normal to x seen head-on, cropped
  around the thin film and/or with z scaled (stated in the title);
- other stacked geometries (columns, islands): the part beyond the section through the
  columns (normal to x), z scaled as stated in the title, seen obliquely.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyvista as pv

from postprocess.errors import RenderError
from postprocess.layers import Layout, apply_window, layout, section, section_x
from postprocess.maps import WINDOW_SIZE, add_ruler, font, plotter, set_camera, title_size
from postprocess.mesh_file import read_mesh_dir
from postprocess.palette import region_colours

GEOMETRY_PNG = "geometry.png"
#: legend box (fractions of the window): upper right corner
LEGEND_SIZE = (0.2, 0.045)
#: above this many cells, element edges would only darken the picture
_MAX_EDGE_CELLS = 40_000
#: a region is a full layer when it fills this share of its slab (lateral area × thickness)
_FULL_LAYER = 0.95


def render_geometry(mesh_dir: Path, name: str | None = None, out_png: Path | None = None) -> Path:
    """Write the picture of ``mesh_dir`` (default ``mesh_dir/geometry.png``); return its path."""
    if "dolfinx" in sys.modules:
        raise RenderError("dolfinx is imported in this process and would crash VTK")
    mesh_dir = Path(mesh_dir)
    grid, tags = read_mesh_dir(mesh_dir)
    lay = layout(grid, tags)
    parts, camera, what = _scene(grid, tags, lay)
    colours = region_colours(tags)
    out = out_png or mesh_dir / GEOMETRY_PNG
    pl = plotter()
    try:
        shown = []
        for region, mesh in parts.items():
            pl.add_mesh(
                mesh,
                color=colours[region],
                show_edges=mesh.n_cells < _MAX_EDGE_CELLS,
                edge_color="#303030",
                line_width=0.4,
                ambient=0.6,
                diffuse=0.45,
                specular=0.0,
            )
            shown.append(mesh)
        legend = [[r, colours[r]] for r in tags if r in parts]
        box = pl.add_legend(legend, bcolor="white", border=True, face="rectangle")
        width, height = LEGEND_SIZE[0], LEGEND_SIZE[1] * len(legend)
        box.SetPosition(0.99 - width, 0.93 - height)  # below the title, inside the window
        box.SetPosition2(width, height)
        caption = lay.caption()
        title = f"{name or mesh_dir.name} — geometry, {what}" + (f" ({caption})" if caption else "")
        size = title_size(title, WINDOW_SIZE[0] * 0.8)
        pl.add_text(title, position="upper_edge", font_size=size, color="black", font_file=font())
        pl.add_text(
            _footer(grid, tags, lay),
            position=(12, 10),
            font_size=10,
            color="#404040",
            font_file=font(),
        )
        pl.add_axes(color="black", line_width=2)
        add_ruler(pl, shown, camera)
        set_camera(pl, shown, camera)
        pl.camera.zoom(0.9)  # room for the legend, ruler and footer
        pl.screenshot(str(out))
    finally:
        pl.close()
    return out


def _scene(
    grid: pv.UnstructuredGrid, tags: Mapping[str, int], lay: Layout
) -> tuple[dict[str, pv.DataSet], str, str]:
    """(region → dataset to draw, camera preset, what the picture shows)."""
    z0, z1 = grid.bounds[4:6]
    if z1 - z0 <= 0:  # a 2D (plane-strain) section: the whole of it, seen along −z
        return _by_region(grid, tags, surface=False), "oblique", "plane-strain section"
    if not lay.stacked:
        cut = (grid.bounds[2] + grid.bounds[3]) / 2
        half = grid.clip(normal="y", origin=(0.0, cut, 0.0), invert=False)
        return _by_region(half, tags, surface=True), "oblique", f"half box (y > {cut:.3g} µm)"
    if _full_layers(grid, tags):
        what = f"section x = {lay.section_x:.3g} µm"
        return _by_region(section(grid, lay), tags, surface=False), "x", what
    # the camera looks at the −x side: cut at the best section in the lower half of x, keep x >
    x = section_x(grid, tags, upper=(grid.bounds[0] + grid.bounds[1]) / 2)
    part = apply_window(grid, lay).clip(normal="x", origin=(x, 0, 0), invert=False)
    return _by_region(part, tags, surface=True), "oblique", f"cut at x = {x:.3g} µm"


def _by_region(data: pv.DataSet, tags: Mapping[str, int], surface: bool) -> dict[str, pv.DataSet]:
    region = np.asarray(data.cell_data["region"])
    out = {}
    for name, tag in tags.items():
        ids = np.flatnonzero(region == tag)
        if ids.size:
            part = data.extract_cells(ids)
            out[name] = part.extract_surface(algorithm="dataset_surface") if surface else part
    if not out:
        raise RenderError("nothing to draw: no tagged cells in the picture")
    return out


def _full_layers(grid: pv.UnstructuredGrid, tags: Mapping[str, int]) -> bool:
    """Whether every region fills its slab (lateral box area × its z thickness)."""
    x0, x1, y0, y1, _, _ = grid.bounds
    volume = np.asarray(grid.compute_cell_sizes(length=False, area=False)["Volume"])
    region = np.asarray(grid.cell_data["region"])
    for tag in tags.values():
        ids = np.flatnonzero(region == tag)
        if ids.size == 0:
            continue
        z0, z1 = grid.extract_cells(ids).bounds[4:6]
        if volume[ids].sum() < _FULL_LAYER * (x1 - x0) * (y1 - y0) * (z1 - z0):
            return False
    return True


def _footer(grid: pv.UnstructuredGrid, tags: Mapping[str, int], lay: Layout) -> str:
    x0, x1, y0, y1, z0, z1 = grid.bounds
    if z1 - z0 <= 0:
        return f"section {x1 - x0:.3g} × {y1 - y0:.3g} µm, {grid.n_cells} triangles"
    text = f"box {x1 - x0:.3g} × {y1 - y0:.3g} × {z1 - z0:.4g} µm, {grid.n_cells} tetrahedra"
    if lay.stacked:
        text += "; ruler: lateral µm (true scale)"
    return text


def main(argv: list[str] | None = None) -> int:
    """Command-line entry; exit 2 with a message on stderr for a bad mesh directory."""
    parser = argparse.ArgumentParser(prog="python -m postprocess.geometry_png", description=__doc__)
    parser.add_argument("mesh_dir", type=Path, help="directory with mesh.msh and tags.json")
    parser.add_argument("--name", help="case name for the title (default: the directory name)")
    parser.add_argument("--out", type=Path, help=f"PNG to write (default MESH_DIR/{GEOMETRY_PNG})")
    args = parser.parse_args(argv)
    try:
        path = render_geometry(args.mesh_dir, args.name, args.out)
    except RenderError as exc:
        print(f"geometry_png: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
