"""Colour limits shared by every step of a field, and a field's range at one step.

Limits are taken over all written steps (so maps of different steps and animation frames
compare colour for colour) and over the cells a view shows (``mask``; e.g. the particles
only when the matrix is hidden). A diverging (signed) field gets limits symmetric about zero,
``±max|v|``; any other field ``[min v, max v]``. Values are in the field's display unit.
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


def field_range(
    run: RunData, spec: FieldSpec, index: int, mask: np.ndarray | None
) -> tuple[float, float]:
    """(min, max) of the field at its ``index``-th written time over ``mask`` (display unit)."""
    values = spec.values(run.read_field(spec.source, index))
    if mask is not None:
        values = values[mask]
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise RenderError(f"{run.run_dir}: field {spec.key!r} has no finite values to show")
    return float(finite.min()), float(finite.max())


def colour_limits(run: RunData, spec: FieldSpec, mask: np.ndarray | None) -> tuple[float, float]:
    """Colour-bar limits over all written steps (symmetric about 0 for diverging fields)."""
    ranges = [field_range(run, spec, i, mask) for i in range(len(run.fields[spec.source].times))]
    lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    if spec.diverging:
        m = max(abs(lo), abs(hi))
        lo, hi = -m, m
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):  # a constant field: widen so the bar is drawable
        pad = 0.5 * max(abs(hi), 1.0)
        lo, hi = lo - pad, hi + pad
    return lo, hi
