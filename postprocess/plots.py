"""Matplotlib plots of ``history.csv`` (Agg canvas, no pyplot state, no display).

:func:`history_plot` draws two panels against SOC (or time when SOC does not change): the
stack pressure (MPa) and the maximum principal stress σ1 per material (MPa). A brittle
material's fracture strength σ_f = σ1 / crack_risk (MPa, from ``max_crack_risk_<M>``) is drawn
dashed when it lies within twice the plotted stress range.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from postprocess.reader import RenderError, RunData

_MPA = 1e-6
_PREFIX = "max_principal_Pa_"


def history_plot(run: RunData, out_png: Path) -> Path:
    """Write the two-panel history figure (stack pressure, max σ1 per material) to ``out_png``."""
    h = run.history
    if not h or ("soc" not in h and "time_s" not in h):
        raise RenderError(f"{run.run_dir / 'history.csv'}: no history to plot")
    x, xlabel = _abscissa(h)
    materials = [k.removeprefix(_PREFIX) for k in h if k.startswith(_PREFIX)]
    marker = "o" if len(x) <= 40 else None

    fig = Figure(figsize=(7.5, 6.5), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)
    ax_p, ax_s = fig.subplots(2, 1, sharex=True)

    if "stack_pressure_Pa" in h:
        ax_p.plot(x, h["stack_pressure_Pa"] * _MPA, marker=marker, color="black", label="stack")
        ax_p.legend(loc="best", frameon=False)
        ax_p.set_ylim(bottom=min(0.0, float(np.nanmin(h["stack_pressure_Pa"])) * _MPA * 1.1))
    else:
        ax_p.text(0.5, 0.5, "no stack_pressure_Pa column", ha="center", transform=ax_p.transAxes)
    ax_p.set_ylabel("stack pressure (MPa)")
    ax_p.set_title(f"{run.case_name}: history ({len(x)} steps recorded)")

    colours = [f"C{i}" for i in range(10)]
    top = 0.0
    for i, mat in enumerate(materials):
        s1 = h[_PREFIX + mat] * _MPA
        ax_s.plot(x, s1, marker=marker, color=colours[i % 10], label=f"{mat}")
        top = max(top, float(np.nanmax(np.abs(s1))) if np.isfinite(s1).any() else 0.0)
    for i, mat in enumerate(materials):
        strength = _strength_mpa(h, mat)
        if strength is not None and top > 0 and strength <= 2 * top:
            ax_s.axhline(
                strength, ls="--", lw=1.2, color=colours[i % 10], label=f"$\\sigma_f$ {mat}"
            )
    ax_s.axhline(0.0, color="0.5", lw=0.8)
    ax_s.set_ylabel("max $\\sigma_1$ (MPa)")
    ax_s.set_xlabel(xlabel)
    if materials:
        ax_s.legend(loc="best", frameon=False)
    for ax in (ax_p, ax_s):
        ax.grid(True, alpha=0.35)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png)
    return out_png


def _abscissa(h: dict[str, np.ndarray]) -> tuple[np.ndarray, str]:
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
