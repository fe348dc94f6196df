"""Matplotlib plots of a run (Agg canvas, no pyplot state, no display).

- :func:`history_plot`: against SOC (or time when SOC does not change): stack pressure (MPa);
  the voltage shift (V) when ``history.csv`` has ``voltage_shift_V``; max (solid) and
  volume-mean (dashed) σ1 per material (MPa), with a brittle material's fracture strength
  σ_f = σ1 / crack_risk dashed when it lies within twice the plotted range; max and mean crack
  risk σ1/σ_f per material with the line risk = 1. Max/mean come from the fields
  (:mod:`postprocess.stats`), else max σ1 from ``history.csv``.
- :func:`solver_plot`: Newton and Krylov iterations and the time step dt (s) per step.
- :func:`histogram_plot`: volume-weighted histogram of σ1 (MPa) per material at one step
  (cell data of each region).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from postprocess.errors import RenderError

if TYPE_CHECKING:  # no PyVista import for sweep_plot users (they may have DOLFINx loaded)
    from postprocess.reader import RunData
    from postprocess.stats import FieldStats

_MPA = 1e-6
_PREFIX = "max_principal_Pa_"


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure on an Agg canvas (150 dpi)."""
    fig = Figure(figsize=(width, height), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, out_png: Path) -> Path:
    """Save ``fig`` to ``out_png`` (parent made)."""
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png)
    return out_png


def history_plot(run: RunData, stats: FieldStats, out_png: Path) -> Path:
    """Stack pressure, [voltage shift], σ1 and crack risk per material against SOC."""
    h = run.history
    if not h or ("soc" not in h and "time_s" not in h):
        raise RenderError(f"{run.run_dir / 'history.csv'}: no history to plot")
    x, xlabel = abscissa(h)
    voltage = "voltage_shift_V" in h
    n = 3 + int(voltage)
    fig = new_figure(7.5, 2.6 * n)
    axes = list(fig.subplots(n, 1, sharex=True))
    ax_p = axes.pop(0)
    marker = "o" if len(x) <= 40 else None
    if "stack_pressure_Pa" in h:
        ax_p.plot(x, h["stack_pressure_Pa"] * _MPA, marker=marker, color="black")
        ax_p.set_ylim(bottom=min(0.0, float(np.nanmin(h["stack_pressure_Pa"])) * _MPA * 1.1))
    else:
        ax_p.text(0.5, 0.5, "no stack_pressure_Pa column", ha="center", transform=ax_p.transAxes)
    ax_p.set_ylabel("stack pressure (MPa)")
    ax_p.set_title(f"{run.case_name}: history ({len(x)} steps recorded)")
    if voltage:
        ax_v = axes.pop(0)
        ax_v.plot(x, h["voltage_shift_V"] * 1e3, marker=marker, color="C3")
        ax_v.set_ylabel("voltage shift (mV)")
    ax_s, ax_r = axes
    sx = _stats_abscissa(run, stats, x)
    _per_material(ax_s, run, stats, "max_principal", sx, marker)
    if not stats.maxima_per_step:  # no fields: max σ1 from the history
        for i, mat in enumerate(k.removeprefix(_PREFIX) for k in h if k.startswith(_PREFIX)):
            ax_s.plot(x, h[_PREFIX + mat] * _MPA, marker=marker, color=f"C{i}", label=mat)
    _strength_lines(ax_s, h)
    ax_s.axhline(0.0, color="0.5", lw=0.8)
    ax_s.set_ylabel("$\\sigma_1$ (MPa)")
    _per_material(ax_r, run, stats, "crack_risk", sx, marker)
    ax_r.axhline(1.0, color="#c62828", lw=1.0, ls=":", label="risk = 1")
    ax_r.set_ylabel("crack risk $\\sigma_1/\\sigma_f$ (–)")
    ax_r.set_xlabel(xlabel)
    for ax in (ax_p, *([ax_v] if voltage else []), ax_s, ax_r):
        ax.grid(True, alpha=0.35)
    for ax in (ax_s, ax_r):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", frameon=False, fontsize=8, ncol=2)
    return save(fig, out_png)


def _stats_abscissa(run: RunData, stats: FieldStats, x: np.ndarray) -> np.ndarray:
    """SOC (or time) of each written field step, matching :func:`abscissa`."""
    socs = np.array([np.nan if s is None else s for s in stats.soc], dtype=float)
    if len(socs) and np.isfinite(socs).all() and len(x) and "soc" in run.history:
        if np.nanmax(run.history["soc"]) > np.nanmin(run.history["soc"]):
            return socs
    return np.array(stats.times, dtype=float)


def _per_material(
    ax: Axes, run: RunData, stats: FieldStats, q: str, x: np.ndarray, marker: str | None
) -> None:
    regions = [r for (quantity, r) in stats.maxima_per_step if quantity == q]
    for i, region in enumerate(regions):
        mat = run.materials.get(region, region)
        ax.plot(
            x, stats.maxima_per_step[(q, region)], marker=marker, color=f"C{i}", label=f"max {mat}"
        )
        ax.plot(x, stats.means_per_step[(q, region)], ls="--", color=f"C{i}", label=f"mean {mat}")


def _strength_lines(ax: Axes, h: dict[str, np.ndarray]) -> None:
    lines = ax.get_lines()
    top = max((float(np.nanmax(np.abs(ln.get_ydata()))) for ln in lines), default=0.0)
    for i, mat in enumerate(k.removeprefix(_PREFIX) for k in h if k.startswith(_PREFIX)):
        strength = _strength_mpa(h, mat)
        if strength is not None and top > 0 and strength <= 2 * top:
            ax.axhline(strength, ls="-.", lw=1.0, color=f"C{i}", label=f"$\\sigma_f$ {mat}")


def solver_plot(run: RunData, out_png: Path) -> Path:
    """Newton and Krylov iterations and dt (s) per step."""
    h = run.history
    steps = np.arange(len(next(iter(h.values()))))
    fig = new_figure(7.5, 4.5)
    ax_it, ax_dt = fig.subplots(2, 1, sharex=True)
    for col, label, colour in (
        ("newton_iterations", "Newton iterations", "C0"),
        ("krylov_iterations", "Krylov iterations", "C1"),
    ):
        if col in h:
            ax_it.plot(steps, h[col], marker="o", color=colour, label=label)
    ax_it.set_ylabel("iterations")
    ax_it.set_title(f"{run.case_name}: solver history")
    if ax_it.get_lines():
        ax_it.legend(loc="best", frameon=False)
    if "dt_s" in h:
        ax_dt.plot(steps, h["dt_s"], marker="o", color="black")
    ax_dt.set_ylabel("dt (s)")
    ax_dt.set_xlabel("step")
    for ax in (ax_it, ax_dt):
        ax.grid(True, alpha=0.35)
    return save(fig, out_png)


def histogram_plot(run: RunData, time: float, out_png: Path) -> Path:
    """Volume-weighted histogram of σ1 (MPa) per material at ``time`` (s)."""
    from postprocess.fields import field_spec

    spec = field_spec(run, "max_principal")
    index = run.fields[spec.source].index_at(time)
    regions = run.cell_regions()
    if index is None or regions is None:
        raise RenderError(f"{run.run_dir}: no σ1 and region fields at t = {time:g} s")
    values = spec.values(run.read_field(spec.source, index))
    volume = run.cell_volumes()
    step, soc = run.step_at(time)
    fig = new_figure(7.5, 4.0)
    ax = fig.subplots()
    bins = np.linspace(float(values.min()), float(values.max()), 61)
    for i, (region, tag) in enumerate(run.cell_tags.items()):
        mask = regions == tag
        if not mask.any():
            continue
        weights = volume[mask] / volume[mask].sum()
        mat = run.materials.get(region, region)
        ax.hist(
            values[mask],
            bins=bins,
            weights=weights,
            histtype="stepfilled",
            alpha=0.45,
            color=f"C{i}",
            label=f"{mat} ({region})",
        )
        ax.hist(values[mask], bins=bins, weights=weights, histtype="step", color=f"C{i}")
    ax.axvline(0.0, color="0.4", lw=0.8)
    ax.set_xlabel(f"{spec.label} ({spec.unit})")
    ax.set_ylabel("volume fraction of the material")
    when = f"SOC {soc:.3g}" if soc is not None else f"t {time:g} s"
    ax.set_title(f"{run.case_name}: {spec.label} per material, {when} (step {step})")
    ax.legend(loc="best", frameon=False)
    ax.grid(True, alpha=0.35)
    return save(fig, out_png)


def abscissa(h: dict[str, np.ndarray]) -> tuple[np.ndarray, str]:
    """SOC if it varies, else time (s)."""
    soc = h.get("soc")
    if soc is not None and np.nanmax(soc) - np.nanmin(soc) > 0:
        return soc, "SOC (–)"
    return h.get("time_s", np.arange(len(next(iter(h.values()))))), "time (s)"


def _strength_mpa(h: dict[str, np.ndarray], mat: str) -> float | None:
    """σ_f (MPa) of ``mat`` from σ1 / crack_risk at the row of largest |crack_risk|."""
    risk = h.get(f"max_crack_risk_{mat}")
    s1 = h.get(_PREFIX + mat)
    if risk is None or s1 is None or not np.isfinite(risk).any():
        return None
    i = int(np.nanargmax(np.abs(risk)))
    if abs(risk[i]) < 1e-6:
        return None
    value = float(s1[i] / risk[i]) * _MPA
    return value if value > 0 and np.isfinite(value) else None
