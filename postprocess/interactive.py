"""``ssbmech view RUN_DIR``: an interactive window on one field and view of the last step.

With a display (``DISPLAY``/``WAYLAND_DISPLAY`` set, or macOS/Windows) a PyVista window opens.
Without one, if trame is installed (``pip install 'ssbmech[view]'``), the same scene is served
as a trame web page (the URL is printed). Otherwise :class:`ViewUnavailable` says so and the
CLI exits 2.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pyvista as pv

from postprocess.fields import field_spec
from postprocess.limits import colour_limits, region_mask
from postprocess.maps import draw, plotter, scene_grid, view_of
from postprocess.reader import RenderError, read_run


class ViewUnavailable(RenderError):
    """Neither a display nor trame is available for an interactive view."""


def has_display() -> bool:
    """Whether a window can be opened (X11/Wayland display, or a desktop OS)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def has_trame() -> bool:
    """Whether trame and its VTK/Vuetify widgets are installed (the ``[view]`` extra)."""
    return all(importlib.util.find_spec(m) for m in ("trame", "trame_vtk", "trame_vuetify"))


def open_view(run_dir: Path, key: str = "max_principal", view_name: str = "clip") -> None:
    """Show ``key`` in ``view_name`` at the last step: window, else trame page, else error."""
    window, web = has_display(), has_trame()
    if not window and not web:
        raise ViewUnavailable(
            "no display (DISPLAY/WAYLAND_DISPLAY unset) and trame is not installed; install "
            "the web view with pip install 'ssbmech[view]', or write images with ssbmech render"
        )
    run = read_run(Path(run_dir))
    spec = field_spec(run, key)
    view = view_of(view_name, run)
    clim = colour_limits(run, spec, region_mask(run, spec, view.regions(run.cell_tags)))
    t = run.last_time
    pl = pv.Plotter(title=f"ssbmech — {run.case_name}") if window else plotter()
    if window:
        pl.set_background("white")
    draw(pl, run, scene_grid(run, spec, t), spec, view, t, clim)
    if window:
        pl.show()
        return
    _serve(pl, f"ssbmech — {run.case_name}")


def _serve(pl: pv.Plotter, title: str) -> None:
    """Serve the plotter as a trame page (blocks until the server stops)."""
    from pyvista.trame.ui import plotter_ui
    from trame.app import get_server
    from trame.ui.vuetify3 import SinglePageLayout

    server = get_server()
    server.client_type = "vue3"
    with SinglePageLayout(server) as layout:
        layout.title.set_text(title)
        with layout.content:
            plotter_ui(pl)
    server.start(open_browser=False)
