"""``ssbmech render``: maps, plots, animation and report of one run into ``RUN_DIR/figures/``.

By default: every view (:mod:`postprocess.views`) of σ1 (``max_principal``) and the clip of
every other written scalar field, at the last step; for stacked geometries (films, columns:
:mod:`postprocess.layers`) the ``film_section`` view replaces that clip, and is left out for
RVEs; the history, solver and histogram plots;
``report.html``; ``figures.json`` (:mod:`postprocess.manifest`). ``fields``/``views`` narrow
the maps, ``step``/``soc`` pick the step, ``animate`` adds a GIF of the first field and view
over all written steps. Reads only run-directory files; must run in a process that has not
imported DOLFINx (VTK crashes otherwise) — ``python -m postprocess.render RUN_DIR`` or the CLI.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from postprocess.cli_args import add_render_arguments, options_from
from postprocess.reader import RenderError, RunData, read_run

__all__ = ["RenderError", "RenderOptions", "render_run"]

log = logging.getLogger("ssbmech")

FIGURES_DIR = "figures"
REPORT_HTML = "report.html"
DEFAULT_FIELD = "max_principal"
#: the view of stacked geometries (films, columns), drawn by default only for them
STACK_VIEW = "film_section"
#: fields whose clip is drawn by default besides the default field's views
_OVERVIEW_FIELDS = ("von_mises", "hydrostatic", "crack_risk", "theta", "u")


@dataclass(frozen=True)
class RenderOptions:
    """What to render; None means the defaults described in the module docstring."""

    fields: tuple[str, ...] | None = None
    views: tuple[str, ...] | None = None
    step: int | None = None
    soc: float | None = None
    animate: bool = False


def render_run(run_dir: Path, options: RenderOptions | None = None) -> list[Path]:
    """Render ``run_dir`` and return the written paths (maps, plots, animation, report)."""
    if "dolfinx" in sys.modules:
        raise RenderError(
            "dolfinx is imported in this process and would crash VTK; render in a fresh process "
            f"(python -m postprocess.render {run_dir})"
        )
    from postprocess.manifest import write_manifest
    from postprocess.plots import histogram_plot, history_plot, solver_plot
    from postprocess.report import write_report
    from postprocess.stats import field_statistics

    opts = options or RenderOptions()
    start = time.perf_counter()
    run = read_run(Path(run_dir))
    out = run.run_dir / FIGURES_DIR
    out.mkdir(parents=True, exist_ok=True)
    t = select_time(run, opts.step, opts.soc)
    entries = map_figures(run, opts, t, out)
    stats = field_statistics(run)
    plots = []
    if run.history:
        plots += [
            history_plot(run, stats, out / "history.png"),
            solver_plot(run, out / "solver.png"),
        ]
    else:
        log.warning("%s: no history.csv rows; no history plots", run.run_dir)
    if DEFAULT_FIELD in run.fields:
        plots.append(histogram_plot(run, t, out / f"histogram_{DEFAULT_FIELD}.png"))
    entries += [{"file": p.name, "kind": "plot"} for p in plots]
    if opts.animate:
        from postprocess.animate import animate

        entries.append(animate(run, _animated_field(run, opts), _animated_view(opts), out))
    maps = [out / e["file"] for e in entries if e["kind"] == "map"]
    elapsed = time.perf_counter() - start
    timing = {"render_s": round(elapsed, 2)}
    report = write_report(run, maps, plots, stats, timing, out / REPORT_HTML)
    elapsed = time.perf_counter() - start
    manifest = write_manifest(
        out, entries, {"case": run.case_name, "run_dir": str(run.run_dir), "render_s": elapsed}
    )
    log.info("rendered %s in %.1f s (%d figures)", run.run_dir, elapsed, len(entries))
    return [*(out / e["file"] for e in entries), report, manifest]


def select_time(run: RunData, step: int | None, soc: float | None) -> float:
    """Time (s) of history row ``step``, of the row nearest ``soc``, or the last written."""
    times = run.history.get("time_s")
    written = np.array(max(run.fields.values(), key=lambda s: len(s.times)).times)
    if step is not None:
        if times is None or len(times) == 0:
            if not 0 <= step < len(written):
                raise RenderError(f"--step {step}: fields have steps 0…{len(written) - 1}")
            return float(written[step])
        if not 0 <= step < len(times):
            raise RenderError(f"--step {step}: {run.run_dir}/history.csv has 0…{len(times) - 1}")
        t = float(times[step])
        if not np.isclose(written, t, rtol=1e-9, atol=1e-12).any():
            have = [i for i, ti in enumerate(times) if np.isclose(written, ti).any()]
            raise RenderError(f"--step {step}: no fields written then; steps with fields: {have}")
        return t
    if soc is not None:
        socs = run.history.get("soc")
        if socs is None or times is None or len(socs) == 0:
            raise RenderError(f"--soc: {run.run_dir}/history.csv has no soc column")
        ok = np.array([np.isclose(written, ti).any() for ti in times])
        rows = np.flatnonzero(ok)
        return float(times[rows[np.argmin(np.abs(socs[rows] - soc))]])
    return run.last_time


def map_figures(run: RunData, opts: RenderOptions, t: float, out: Path) -> list[dict[str, Any]]:
    """Render the requested maps at time ``t`` (s); return their manifest entries."""
    from postprocess.fields import available_fields, field_spec
    from postprocess.views import VIEWS

    have = available_fields(run)
    keys = (
        list(opts.fields) if opts.fields else [DEFAULT_FIELD if DEFAULT_FIELD in have else have[0]]
    )
    explicit_views = opts.views is not None
    stacked = is_stacked(run)
    all_views = [v for v in VIEWS if stacked or v != STACK_VIEW]
    overview = STACK_VIEW if stacked else "clip"
    entries = []
    for n, key in enumerate(keys):
        spec = field_spec(run, key)
        if explicit_views:
            views = list(opts.views or ())
        elif n == 0 or opts.fields:
            views = all_views
        else:
            views = [overview]
        entries += _maps_of(run, spec, views, explicit_views, t, out)
        if n == 0 and not opts.fields and not explicit_views:
            for extra in (f for f in _OVERVIEW_FIELDS if f in have and f != key):
                entries += _maps_of(run, field_spec(run, extra), [overview], False, t, out)
    return entries


def is_stacked(run: RunData) -> bool:
    """Whether the run's regions are layered in z (films, columns; postprocess.layers)."""
    from postprocess.layers import layout

    grid = run.grid_at(run.last_time)
    return "region" in grid.cell_data and layout(grid, run.cell_tags).stacked


def _maps_of(
    run: RunData, spec: Any, views: list[str], strict: bool, t: float, out: Path
) -> list[dict[str, Any]]:
    from postprocess.limits import colour_limits, field_range, region_mask
    from postprocess.maps import render_map, scene_grid, view_of
    from postprocess.views import VIEWS

    grid = scene_grid(run, spec, t)
    index = run.fields[spec.source].index_at(t)
    if index is None:
        raise RenderError(f"{run.run_dir}: field {spec.key!r} not written by t = {t:g} s")
    step, soc = run.step_at(t)
    entries = []
    for name in views:
        if not strict and name in VIEWS and VIEWS[name].missing(run.fields, run.cell_tags):
            log.info("skipping view %s: %s", name, VIEWS[name].missing(run.fields, run.cell_tags))
            continue
        view = view_of(name, run)
        regions = view.regions(run.cell_tags)
        mask = region_mask(run, spec, regions)
        clim = colour_limits(run, spec, mask)
        step_range = field_range(run, spec, index, mask)
        png = out / f"{spec.key}_{name}.png"
        image, _ = render_map(run, grid, spec, view, t, clim, step_range, png)
        entries.append(
            {
                "file": png.name,
                "kind": "map",
                "field": spec.key,
                "label": spec.label,
                "view": name,
                "unit": spec.unit,
                "step": step,
                "time_s": t,
                "soc": soc,
                "clim": list(clim),
                "step_range": list(step_range),
                "regions": regions,
                "size": [int(image.shape[1]), int(image.shape[0])],
            }
        )
    return entries


def _animated_field(run: RunData, opts: RenderOptions) -> str:
    if opts.fields:
        return opts.fields[0]
    return DEFAULT_FIELD if DEFAULT_FIELD in run.fields else next(iter(run.fields))


def _animated_view(opts: RenderOptions) -> str:
    return opts.views[0] if opts.views else "clip"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: render RUN_DIR; exit 2 with a message on stderr for bad input."""
    parser = argparse.ArgumentParser(prog="python -m postprocess.render", description=__doc__)
    add_render_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        paths = render_run(args.run_dir, options_from(args))
    except RenderError as exc:
        print(f"render: error: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
