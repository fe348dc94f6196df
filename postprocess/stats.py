"""Per-material statistics of the cell fields at every written step, and where maxima occur.

For each quantity q (σ1, von Mises, crack risk) and each region r, at every written time:
max_r q and the volume-weighted mean ⟨q⟩_r = Σ q_c V_c / Σ V_c over the region's cells (V_c
the tetrahedron volume |det[b−a, c−a, d−a]|/6; in a 2D run the triangle area |(b−a)×(c−a)|/2).
The overall maximum of q in r is reported
with the centroid of its cell (µm), the step and the SOC. ``summary.json`` holds final values
only, without locations, so the maxima are computed here from ``fields.h5``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from postprocess.fields import field_spec
from postprocess.reader import RunData

QUANTITIES = ("max_principal", "von_mises", "crack_risk")


@dataclass(frozen=True)
class Maximum:
    """Largest value of one quantity in one region over all steps, and where/when."""

    quantity: str
    label: str
    unit: str
    region: str
    material: str
    value: float
    position_um: tuple[float, float, float]
    step: int
    time_s: float
    soc: float | None


@dataclass(frozen=True)
class FieldStats:
    """Per-step max and mean per (quantity, region); maxima with location."""

    times: tuple[float, ...] = ()
    soc: tuple[float | None, ...] = ()
    #: (quantity, region) → values per written time (display unit)
    maxima_per_step: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    means_per_step: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    maxima: tuple[Maximum, ...] = ()


def field_statistics(run: RunData) -> FieldStats:
    """Statistics of :data:`QUANTITIES` that the run wrote, per region tagged in tags.json."""
    regions = run.cell_regions()
    present = [q for q in QUANTITIES if q in run.fields and run.fields[q].center == "Cell"]
    if regions is None or not present:
        return FieldStats()
    topology, geometry = run.mesh_arrays()
    corners = geometry[topology]
    volume = run.cell_volumes()
    centroid_um = corners.mean(axis=1) * 1e6
    masks = {name: regions == tag for name, tag in run.cell_tags.items()}
    masks = {name: m for name, m in masks.items() if m.any()}
    times = run.fields[present[0]].times
    socs = tuple(run.step_at(t)[1] for t in times)
    per_max: dict[tuple[str, str], np.ndarray] = {}
    per_mean: dict[tuple[str, str], np.ndarray] = {}
    maxima = []
    for q in present:
        spec = field_spec(run, q)
        best: dict[str, tuple[float, int, int]] = {}
        for i in range(len(run.fields[q].times)):
            values = spec.values(run.read_field(q, i))
            for name, mask in masks.items():
                v = values[mask]
                j = int(np.argmax(v))
                per_max.setdefault((q, name), np.full(len(times), np.nan))[i] = v[j]
                mean = float(np.sum(v * volume[mask]) / np.sum(volume[mask]))
                per_mean.setdefault((q, name), np.full(len(times), np.nan))[i] = mean
                if name not in best or v[j] > best[name][0]:
                    best[name] = (float(v[j]), i, int(np.flatnonzero(mask)[j]))
        for name, (value, i, cell) in best.items():
            t = run.fields[q].times[i]
            step, soc = run.step_at(t)
            x, y, z = (float(c) for c in centroid_um[cell])
            maxima.append(
                Maximum(
                    q,
                    spec.label,
                    spec.unit,
                    name,
                    run.materials.get(name, name),
                    value,
                    (x, y, z),
                    step,
                    t,
                    soc,
                )
            )
    return FieldStats(tuple(times), socs, per_max, per_mean, tuple(maxima))
