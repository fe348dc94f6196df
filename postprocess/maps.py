"""PyVista field maps of one time step, rendered off screen to PNG.

:func:`max_principal_map` shows the maximum principal stress σ1 (MPa) on the RVE cut in half
by the plane normal to y through the centre of the mesh bounds (the box centre of an RVE):
a diverging colour map centred at zero (tension red, compression blue, symmetric limits),
the particle boundaries as dark lines, orientation axes, a title with case, SOC and step,
and a footer with time and σ1 range.

Off-screen trap: these pip VTK wheels first try an X window and print "bad X server
connection" when there is no display, then fall back to EGL. Setting
``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow`` selects EGL directly
and silences the warning (``vtkOSOpenGLRenderWindow`` needs libOSMesa, absent here). VTK reads
the variable when a render window is created, so it is set (``setdefault``: a user's own choice
wins) just before the plotter is made, not at import. Never render in a process that imported
DOLFINx (its VTK/OpenGL libraries clash): render in a process of its own.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pyvista as pv
from matplotlib import font_manager

from postprocess.reader import RenderError, RunData

WINDOW_SIZE = (1200, 900)
#: Display length unit: geometry is in m, the map is drawn in µm (better-conditioned camera).
_UM = 1e6
_MPA = 1e-6
_PARTICLE_EDGE = "#1a1a1a"
#: Above this many cells in the half, element edges would only darken the map.
_MAX_EDGE_CELLS = 8_000


def max_principal_map(run: RunData, out_png: Path, time: float | None = None) -> Path:
    """Write the σ1 (MPa) half-RVE map at ``time`` (s; default last) to ``out_png``."""
    if "max_principal" not in run.fields:
        raise RenderError(f"{run.run_dir / 'fields.xdmf'}: no 'max_principal' field")
    t = run.fields["max_principal"].times[-1] if time is None else float(time)
    grid = run.grid_at(t).scale(_UM, inplace=False)
    grid.cell_data["σ1 (MPa)"] = np.asarray(grid.cell_data["max_principal"]) * _MPA
    grid.set_active_scalars("σ1 (MPa)", preference="cell")
    centre = _mesh_centre(grid)
    half = grid.clip(normal="y", origin=centre, invert=False)
    if half.n_cells == 0:
        raise RenderError(f"{run.run_dir}: the mid-plane clip is empty")

    values = np.asarray(grid.cell_data["σ1 (MPa)"])
    limit = _nice_ceil(float(np.nanmax(np.abs(values))))
    step, soc = run.step_at(t)

    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    pl = pv.Plotter(off_screen=True, window_size=list(WINDOW_SIZE))
    pl.set_background("white")
    pl.add_mesh(
        half,
        scalars="σ1 (MPa)",
        cmap="RdBu_r",
        clim=(-limit, limit),
        show_edges=half.n_cells < _MAX_EDGE_CELLS,
        edge_color="#c4c4c4",
        line_width=0.5,
        ambient=0.55,
        diffuse=0.55,
        specular=0.0,
        scalar_bar_args=_scalar_bar_args(limit),
    )
    _style_scalar_bar(pl)
    outline = _particle_outline(run, half)
    if outline is not None:
        pl.add_mesh(outline, color=_PARTICLE_EDGE, line_width=4.0, render_lines_as_tubes=True)

    soc_text = f"SOC {soc:.3g}" if soc is not None else f"t {t:.3g} s"
    pl.add_text(
        f"{run.case_name} — {soc_text} (step {step})",
        position="upper_edge",
        font_size=16,
        color="black",
        font_file=_font(),
    )
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    pl.add_text(
        f"t = {t:g} s    σ1 from {lo:.0f} to {hi:.0f} MPa    cut at y = {centre[1]:.2f} µm",
        position=(12, 10),
        font_size=11,
        color="#404040",
        font_file=_font(),
    )
    pl.add_axes(color="black", line_width=2, labels_off=False)
    _set_camera(pl, half, centre)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    pl.screenshot(str(out_png))
    pl.close()
    return out_png


def _mesh_centre(grid: pv.DataSet) -> tuple[float, float, float]:
    """Centre of the mesh bounds: the box centre of an RVE, the particle's for a free one."""
    b = grid.bounds
    return ((b[0] + b[1]) / 2, (b[2] + b[3]) / 2, (b[4] + b[5]) / 2)


def _particle_outline(run: RunData, half: pv.UnstructuredGrid) -> pv.PolyData | None:
    """Particle boundaries as seen on the half's outer faces (cut face and box faces).

    The visible surface of the half is thresholded to the particle tag; the boundary edges of
    those patches are the particle outlines.
    """
    tag = run.cell_tags.get("particles")
    if tag is None or "region" not in half.cell_data:
        return None
    surface = half.extract_surface(algorithm="dataset_surface")
    patches = surface.extract_cells(np.flatnonzero(np.asarray(surface["region"]) == tag))
    if patches.n_cells == 0:
        return None
    edges = patches.extract_surface(algorithm="dataset_surface").extract_feature_edges(
        boundary_edges=True, feature_edges=False, non_manifold_edges=False, manifold_edges=False
    )
    return edges if edges.n_cells else None


@functools.cache
def _font() -> str:
    """Path of DejaVu Sans (has σ, µ, —; VTK's built-in Arial lacks σ)."""
    return str(font_manager.findfont("DejaVu Sans"))


def _nice_ceil(value: float) -> float:
    """Smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k that is ≥ ``value`` (> 0)."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    exp = np.floor(np.log10(value))
    for m in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if m * 10**exp >= value * (1 - 1e-12):
            return float(m * 10**exp)
    return float(10 ** (exp + 1))


def _scalar_bar_args(limit: float) -> dict:
    """Vertical bar on the right; labels at 0, ±limit/2, ±limit with just enough decimals."""
    decimals = next((d for d in range(7) if abs(round(limit / 2, d) - limit / 2) < 1e-9), 6)
    return {
        "title": "σ1 (MPa)",
        "vertical": True,
        "position_x": 0.86,
        "position_y": 0.2,
        "height": 0.6,
        "width": 0.07,
        "n_labels": 5,
        "fmt": f"%.{decimals}f",
        "color": "black",
        "title_font_size": 20,
        "label_font_size": 16,
    }


def _style_scalar_bar(pl: pv.Plotter) -> None:
    """Give the scalar bar a font with Greek letters."""
    for bar in pl.scalar_bars.values():
        for prop in (bar.GetTitleTextProperty(), bar.GetLabelTextProperty()):
            prop.SetFontFamily(4)  # VTK_FONT_FILE
            prop.SetFontFile(_font())
            prop.BoldOff()
            prop.ItalicOff()
            prop.ShadowOff()


def _set_camera(pl: pv.Plotter, half: pv.DataSet, centre: tuple[float, float, float]) -> None:
    """Look at the cut face (from −y), z up, slightly from above and the side."""
    size = max(half.length, 1e-12)
    focal = half.center
    pl.camera.focal_point = focal
    pl.camera.position = (focal[0], focal[1] - 3.0 * size, focal[2])
    pl.camera.up = (0.0, 0.0, 1.0)
    pl.camera.view_angle = 25.0
    pl.camera.Azimuth(-28.0)
    pl.camera.Elevation(18.0)
    pl.camera.OrthogonalizeViewUp()
    pl.reset_camera()
    pl.camera.zoom(1.05)
