"""Colour limits shared by every step of a field, and a field's range at one step.

Limits are taken over all written steps (so maps of different steps and animation frames
compare colour for colour) and over the cells a view shows (``mask``; e.g. the particles
only when the matrix is hidden). A diverging (signed) field gets limits symmetric about zero,
``±max|v|``; any other field ``[min v, max v]``. Values are in the field's display unit.

Outliers: when a few cells reach far beyond the rest (e.g. the pressure scatter of linear
tetrahedra under plastic flow), a bar spanning them would paint every other cell one colour.
If the full span exceeds OUTLIER_RATIO times the span of the 0.1st–99.9th percentiles (over all
steps), the limits are those percentiles and the outliers take the end colours; the map's
``step_range`` (in its title and figures.json) still gives the true extremes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from postprocess.fields import FieldSpec
from postprocess.reader import RenderError, RunData


def region_mask(run: RunData, spec: FieldSpec, regions: Iterable[str] | None) -> np.ndarray | None:
    """Boolean mask over the field's rows (cells or vertices) of ``regions``; None = all."""
    if regions is None:
        return None
    tags = [run.cell_tags[r] for r in regions if r in run.cell_tags]
    cell_region = run.cell_regions()
    if cell_region is None or not tags:
        raise RenderError(f"{run.run_dir}: no cells tagged {sorted(regions)} (region field)")
    cells = np.isin(cell_region, tags)
    if run.fields[spec.source].center == "Cell":
        return cells
    topology, geometry = run.mesh_arrays()
    vertices = np.zeros(len(geometry), dtype=bool)
    vertices[np.unique(topology[cells])] = True
    return vertices


OUTLIER_RATIO = 3.0
"""Full span / percentile span above which the colour limits drop the outliers."""
PERCENTILES = (0.1, 99.9)


def _values(run: RunData, spec: FieldSpec, index: int, mask: np.ndarray | None) -> np.ndarray:
    """Finite values of the field at its ``index``-th written time over ``mask``."""
    values = spec.values(run.read_field(spec.source, index))
    if mask is not None:
        values = values[mask]
    return values[np.isfinite(values)]


def field_range(
    run: RunData, spec: FieldSpec, index: int, mask: np.ndarray | None
) -> tuple[float, float]:
    """(min, max) of the field at its ``index``-th written time over ``mask`` (display unit)."""
    finite = _values(run, spec, index, mask)
    if finite.size == 0:
        raise RenderError(f"{run.run_dir}: field {spec.key!r} has no finite values to show")
    return float(finite.min()), float(finite.max())


def colour_limits(run: RunData, spec: FieldSpec, mask: np.ndarray | None) -> tuple[float, float]:
    """Colour-bar limits over all written steps (symmetric about 0 for diverging fields).

    Outliers beyond the percentile span are dropped (module docstring).
    """
    steps = range(len(run.fields[spec.source].times))
    ranges = [field_range(run, spec, i, mask) for i in steps]
    lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    p_lo, p_hi = np.percentile(
        np.concatenate([_values(run, spec, i, mask) for i in steps]), PERCENTILES
    )
    if spec.diverging:
        m, p_m = max(abs(lo), abs(hi)), max(abs(p_lo), abs(p_hi))
        m = float(p_m) if m > OUTLIER_RATIO * p_m > 0 else m
        lo, hi = -m, m
    elif hi - lo > OUTLIER_RATIO * (p_hi - p_lo) > 0:
        lo, hi = float(p_lo), float(p_hi)
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):  # a constant field: widen so the bar is drawable
        pad = 0.5 * max(abs(hi), 1.0)
        lo, hi = lo - pad, hi + pad
    return lo, hi
