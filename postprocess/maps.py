"""PyVista maps of one field, one view, one time step, rendered off screen.

A map shows the field in its display unit (MPa for stresses) with the view's geometry
(:mod:`postprocess.views`), a vertical colour bar with the unit, a diverging colour map
centred at zero for signed fields (tension red, compression blue), the colour limits passed in
(the same for every step: :mod:`postprocess.limits`), a ruler along the bottom edge as scale
bar in µm, an orientation widget, a title with case, field, view, SOC and step, and a footer
with time and the field's range at that step.

Off-screen trap: these pip VTK wheels first try an X window and print "bad X server
connection" when there is no display, then fall back to EGL. Setting
``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow`` selects EGL directly and silences the warning
(``vtkOSOpenGLRenderWindow`` needs libOSMesa, absent here). VTK reads the variable when a
render window is created, so it is set (``setdefault``: a user's own choice wins) just before
a plotter is made, not at import. Never render in a process that imported DOLFINx (its
VTK/OpenGL libraries clash): render in a process of its own.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv
from matplotlib import font_manager

from postprocess.fields import FieldSpec
from postprocess.reader import RenderError, RunData
from postprocess.views import VIEWS, Scene, View

WINDOW_SIZE = (1200, 900)
#: Display length unit: geometry is in m, maps are drawn in µm (better-conditioned camera).
UM = 1e6
VALUE = "value"
#: Above this many cells, element edges would only darken the map.
_MAX_EDGE_CELLS = 3_000


def plotter(shape: tuple[int, int] = (1, 1), size: tuple[int, int] = WINDOW_SIZE) -> pv.Plotter:
    """An off-screen plotter on EGL with a white background."""
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    pl = pv.Plotter(off_screen=True, window_size=list(size), shape=shape, border=False)
    pl.set_background("white")
    return pl


def scene_grid(run: RunData, spec: FieldSpec, time: float) -> pv.UnstructuredGrid:
    """The mesh in µm at ``time`` (s) with the field's display values as ``value``."""
    grid = run.grid_at(time).scale(UM, inplace=False)
    data = grid.cell_data if run.fields[spec.source].center == "Cell" else grid.point_data
    data[VALUE] = spec.values(np.asarray(data[spec.source]))
    if "u" in grid.point_data:
        grid.point_data["u_um"] = np.asarray(grid.point_data["u"]) * UM
    return grid


def view_of(name: str, run: RunData) -> View:
    """The view ``name``; RenderError naming the views if unknown or unusable for this run."""
    view = VIEWS.get(name)
    if view is None:
        raise RenderError(f"unknown view {name!r}; views: {', '.join(VIEWS)}")
    why = view.missing(run.fields, run.cell_tags)
    if why:
        raise RenderError(f"{run.run_dir}: view {name!r} {why}")
    return view


def draw(
    pl: pv.Plotter,
    run: RunData,
    grid: pv.UnstructuredGrid,
    spec: FieldSpec,
    view: View,
    time: float,
    clim: tuple[float, float],
    *,
    title: str | None = None,
    scalar_bar: bool = True,
) -> Scene:
    """Draw ``view`` of ``grid`` into the plotter's current renderer; return the scene."""
    scene = view.build(grid, VALUE, run.cell_tags)
    bar = _scalar_bar_args(spec, clim) if scalar_bar else None
    for i, mesh in enumerate(scene.coloured):
        pl.add_mesh(
            mesh,
            scalars=VALUE,
            preference="cell" if VALUE in mesh.cell_data else "point",
            cmap="RdBu_r" if spec.diverging else "viridis",
            clim=clim,
            show_edges=mesh.n_cells < _MAX_EDGE_CELLS and view.name != "particles",
            edge_color="#c4c4c4",
            line_width=0.5,
            ambient=0.55,
            diffuse=0.55,
            specular=0.0,
            show_scalar_bar=scalar_bar and i == 0,
            scalar_bar_args=bar,
        )
    if not scene.coloured and scalar_bar:  # nothing coloured: still show the colour scale
        pl.add_scalar_bar(mapper=_lookup_mapper(spec, clim), **bar)  # type: ignore[arg-type]
    for mesh, style in scene.context:
        pl.add_mesh(mesh, **style)
    _style_scalar_bars(pl)
    step, soc = run.step_at(time)
    when = f"SOC {soc:.3g}" if soc is not None else f"t {time:.3g} s"
    shown_as = f"{view.title} ({scene.caption})" if scene.caption else view.title
    title = title or f"{run.case_name} — {spec.label}, {shown_as} — {when} (step {step})"
    width = pl.window_size[0] / pl.shape[1]
    pl.add_text(
        title,
        position="upper_edge",
        font_size=title_size(title, width),
        color="black",
        font_file=font(),
    )
    pl.add_axes(color="black", line_width=2)
    shown = [*scene.coloured, *(m for m, _ in scene.context)]
    add_ruler(pl, shown, scene.camera)
    set_camera(pl, shown, scene.camera)
    if scene.zoom != 1:
        pl.camera.zoom(scene.zoom)
    return scene


def render_map(
    run: RunData,
    grid: pv.UnstructuredGrid,
    spec: FieldSpec,
    view: View,
    time: float,
    clim: tuple[float, float],
    step_range: tuple[float, float],
    out_png: Path | None,
) -> tuple[np.ndarray, Scene]:
    """Render one map; write ``out_png`` if given; return the RGB image and the scene."""
    pl = plotter()
    try:
        scene = draw(pl, run, grid, spec, view, time, clim)
        lo, hi = step_range
        pl.add_text(
            f"t = {time:g} s    {spec.label} from {_num(lo, hi - lo)} to {_num(hi, hi - lo)}"
            f"{'' if spec.unit == '–' else ' ' + spec.unit}"
            f"    {scene.note}",
            position=(12, 10),
            font_size=10,
            color="#404040",
            font_file=font(),
        )
        image = pl.screenshot(None if out_png is None else str(out_png), return_img=True)
    finally:
        pl.close()
    return np.asarray(image), scene


@functools.cache
def font() -> str:
    """Path of DejaVu Sans (has σ, µ, θ, —; VTK's built-in Arial lacks σ)."""
    return str(font_manager.findfont("DejaVu Sans"))


def title_size(title: str, width: float) -> int:
    """Font size (≤ 14) at which ``title`` fits ``width`` px (≈ 1.4 px per point per char)."""
    return int(max(8, min(14, width / (1.45 * max(len(title), 1)))))


def _num(x: float, span: float) -> str:
    """``x`` with 3 significant digits (integers from 100), 0 if negligible against ``span``."""
    x = 0.0 if abs(x) < 1e-9 * abs(span) else x
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def label_format(lo: float, hi: float, n_labels: int = 5) -> str:
    """The printf format with the fewest decimals (≤ 6) showing ``n_labels`` ticks over [lo, hi].

    A tick is shown well enough when rounding moves it by less than 0.2 % of the range.
    """
    span = hi - lo
    if not np.isfinite(span) or span <= 0:
        return "%.3g"
    ticks = np.linspace(lo, hi, n_labels)
    for d in range(7):
        if np.all(np.abs(np.round(ticks, d) - ticks) < 2e-3 * span):
            return f"%.{d}f"
    return "%.3g"


def _scalar_bar_args(spec: FieldSpec, clim: tuple[float, float]) -> dict[str, Any]:
    """Vertical bar on the right with the unit in the title."""
    return {
        "title": spec.title,
        "vertical": True,
        "position_x": 0.86,
        "position_y": 0.2,
        "height": 0.6,
        "width": 0.07,
        "n_labels": 5,
        "fmt": label_format(*clim),
        "color": "black",
        "title_font_size": 18,
        "label_font_size": 16,
    }


def _lookup_mapper(spec: FieldSpec, clim: tuple[float, float]) -> Any:
    """A mapper carrying only the colour map and limits (for a bar with nothing coloured)."""
    lut = pv.LookupTable(cmap="RdBu_r" if spec.diverging else "viridis")
    lut.scalar_range = clim
    mapper = pv.DataSetMapper(pv.PolyData())
    mapper.lookup_table = lut
    mapper.scalar_range = clim
    return mapper


def _style_scalar_bars(pl: pv.Plotter) -> None:
    """Give the scalar bars a font with Greek letters."""
    for bar in pl.scalar_bars.values():
        for prop in (bar.GetTitleTextProperty(), bar.GetLabelTextProperty()):
            prop.SetFontFamily(4)  # VTK_FONT_FILE
            prop.SetFontFile(font())
            prop.BoldOff()
            prop.ItalicOff()
            prop.ShadowOff()


def _bounds(meshes: list[pv.DataSet]) -> tuple[float, ...]:
    b = np.array([m.bounds for m in meshes if m.n_points])
    if b.size == 0:
        raise RenderError("nothing to draw in this view")
    return tuple(
        float(v) for pair in zip(b[:, 0::2].min(0), b[:, 1::2].max(0), strict=True) for v in pair
    )


def add_ruler(pl: pv.Plotter, meshes: list[pv.DataSet], camera: str) -> None:
    """Scale bar in µm along the bottom front edge of what is shown."""
    x0, x1, y0, y1, z0, z1 = _bounds(meshes)
    size = max(x1 - x0, y1 - y0, z1 - z0)
    below = z0 - (0.04 if camera == "x" else 0.0) * size
    if camera == "x":
        a, b = (x1, y0, below), (x1, y1, below)
    else:
        a, b = (x0, y0, below), (x1, y0, below)
    pl.add_ruler(
        a,
        b,
        title="µm",
        number_labels=3,
        label_format="%.2g",
        font_size_factor=0.7,
        label_color="black",
        tick_color="black",
    )
    for actor in pl.renderer.actors.values():  # the ruler's text: a font with µ
        if hasattr(actor, "GetTitleTextProperty"):
            for prop in (actor.GetTitleTextProperty(), actor.GetLabelTextProperty()):
                prop.SetFontFamily(4)
                prop.SetFontFile(font())


def set_camera(pl: pv.Plotter, meshes: list[pv.DataSet], camera: str) -> None:
    """Oblique: from −y, z up, a little from above and the side. "x": head-on along −x.

    A flat (2D, z = 0) scene is always seen head-on along −z, y up.
    """
    x0, x1, y0, y1, z0, z1 = _bounds(meshes)
    focal = ((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2)
    size = max(x1 - x0, y1 - y0, z1 - z0, 1e-12)
    cam = pl.camera
    cam.focal_point = focal
    cam.up = (0.0, 0.0, 1.0)
    if z1 - z0 <= 1e-9 * size:  # a 2D (plane-strain) section: from +z, y up
        cam.position = (focal[0], focal[1], focal[2] + 3.0 * size)
        cam.up = (0.0, 1.0, 0.0)
        pl.enable_parallel_projection()
        pl.reset_camera()
        return
    if camera == "x":
        cam.position = (focal[0] + 3.0 * size, focal[1], focal[2])
        pl.enable_parallel_projection()
        pl.reset_camera()
        cam.zoom(1.0)
        return
    cam.position = (focal[0], focal[1] - 3.0 * size, focal[2])
    cam.view_angle = 25.0
    cam.Azimuth(-28.0)
    cam.Elevation(18.0)
    cam.OrthogonalizeViewUp()
    pl.reset_camera()
    cam.zoom(0.95)
