"""``ssbmech compare RUN_A RUN_B …``: histories overlaid, maps side by side, shared limits.

Writes into the output directory ``history_compare.png`` (stack pressure and max σ1 per
material against SOC, one colour per run, one line style per material), ``<field>_<view>_
compare.png`` (one panel per run, same view and step — the last — and the same colour limits:
the union of each run's limits over all its steps) and ``compare.json`` (runs, limits).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from postprocess.fields import field_spec
from postprocess.limits import colour_limits, region_mask
from postprocess.maps import draw, plotter, scene_grid, view_of
from postprocess.plots import abscissa, new_figure, save
from postprocess.reader import RenderError, RunData, read_run

_MPA = 1e-6
_PREFIX = "max_principal_Pa_"
_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v")
_PANEL = (800, 700)


def compare_runs(
    run_dirs: Sequence[Path], out_dir: Path, key: str = "max_principal", view_name: str = "clip"
) -> list[Path]:
    """Compare ``run_dirs`` (≥ 2); return the written paths."""
    if len(run_dirs) < 2:
        raise RenderError("compare needs at least two run directories")
    runs = [read_run(Path(d)) for d in run_dirs]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = _labels(runs)
    written = [_history(runs, labels, out / "history_compare.png")]
    png, clim = _maps(runs, labels, key, view_name, out)
    written.append(png)
    manifest = out / "compare.json"
    manifest.write_text(
        json.dumps(
            {
                "runs": [str(r.run_dir) for r in runs],
                "labels": labels,
                "field": key,
                "view": view_name,
                "clim": list(clim),
                "figures": [p.name for p in written],
            },
            indent=2,
        )
        + "\n"
    )
    return [*written, manifest]


def _labels(runs: Sequence[RunData]) -> list[str]:
    """Run-directory names, made unique with the case name where they clash."""
    names = [r.run_dir.name for r in runs]
    if len(set(names)) == len(names):
        return names
    return [f"{r.case_name} ({r.run_dir.parent.name}/{r.run_dir.name})" for r in runs]


def _history(runs: Sequence[RunData], labels: Sequence[str], out_png: Path) -> Path:
    fig = new_figure(8.0, 6.5)
    ax_p, ax_s = fig.subplots(2, 1, sharex=True)
    materials = list(
        dict.fromkeys(
            k.removeprefix(_PREFIX) for r in runs for k in r.history if k.startswith(_PREFIX)
        )
    )
    xlabel = "SOC (–)"
    for i, (run, label) in enumerate(zip(runs, labels, strict=True)):
        h = run.history
        if not h:
            continue
        x, xlabel = abscissa(h)
        if "stack_pressure_Pa" in h:
            ax_p.plot(
                x,
                h["stack_pressure_Pa"] * _MPA,
                color=f"C{i}",
                marker=_MARKERS[i % 5],
                ms=max(3, 8 - i),
                label=label,
            )
        for j, mat in enumerate(materials):
            if _PREFIX + mat in h:
                ax_s.plot(
                    x,
                    h[_PREFIX + mat] * _MPA,
                    color=f"C{i}",
                    ls=_STYLES[j % 4],
                    marker=_MARKERS[i % 5],
                    ms=max(3, 8 - i),
                    label=f"{label}: {mat}",
                )
    ax_p.set_ylabel("stack pressure (MPa)")
    ax_p.set_title("comparison: " + " vs ".join(labels))
    ax_s.axhline(0.0, color="0.5", lw=0.8)
    ax_s.set_ylabel("max $\\sigma_1$ (MPa)")
    ax_s.set_xlabel(xlabel)
    for ax in (ax_p, ax_s):
        ax.grid(True, alpha=0.35)
        if ax.get_lines():
            ax.legend(loc="best", frameon=False, fontsize=8)
    return save(fig, out_png)


def _maps(
    runs: Sequence[RunData], labels: Sequence[str], key: str, view_name: str, out: Path
) -> tuple[Path, tuple[float, float]]:
    specs = [field_spec(r, key) for r in runs]
    views = [view_of(view_name, r) for r in runs]
    limits = [
        colour_limits(r, s, region_mask(r, s, v.regions(r.cell_tags)))
        for r, s, v in zip(runs, specs, views, strict=True)
    ]
    clim = (min(lo for lo, _ in limits), max(hi for _, hi in limits))
    if specs[0].diverging:
        m = max(abs(clim[0]), abs(clim[1]))
        clim = (-m, m)
    n = len(runs)
    pl = plotter(shape=(1, n), size=(_PANEL[0] * n, _PANEL[1]))
    try:
        for i, (run, spec, view, label) in enumerate(zip(runs, specs, views, labels, strict=True)):
            pl.subplot(0, i)
            t = run.last_time
            step, soc = run.step_at(t)
            when = f"SOC {soc:.3g}" if soc is not None else f"t {t:g} s"
            grid = scene_grid(run, spec, t)
            draw(
                pl,
                run,
                grid,
                spec,
                view,
                t,
                clim,
                title=f"{label} — {when} (step {step})",
                scalar_bar=i == n - 1,
            )
        png = out / f"{key}_{view_name}_compare.png"
        image = pl.screenshot(str(png), return_img=True)
    finally:
        pl.close()
    if np.asarray(image).std() == 0:
        raise RenderError(f"{png}: rendered blank")
    return png, clim
