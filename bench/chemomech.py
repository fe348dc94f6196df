"""Benchmark: Li transport at finite strain with plasticity on the default RVE, 1 and 2 ranks.

Usage: ``python bench/chemomech.py [--scales 2 1.4 1] [--ranks 1 2] [--soc-end 0.9]``.
The case is the default case's geometry, materials and loading (``cases/si_lpscl_rve.yaml``)
with overrides, so it follows that file: model ``finite`` with J2 plasticity, P1,
galvanostatic 1C lithiation from SOC 0 to ``--soc-end`` (D = ``--diffusivity``), adaptive
time steps (first Δt ``--dt``, grow 1.5 after a step of ≤ ``--easy-newton`` mechanics Newton
iterations), mesh sizes multiplied by each scale. Each configuration is one ``ssbmech run``
process (``mpirun -n R`` for R > 1) into a temporary run directory; all numbers come from its
history.csv and summary.json, measured in this one invocation:

DOFs (displacement), ranks, accepted time steps and their Δt range, staggered passes per
step (median), mechanics Newton iterations per step (median over steps 1…N, all passes;
target ≤ 5) and per mechanics solve, Krylov iterations per Newton iteration, wall time per
step (the run's solve time / steps; it includes derived fields and the step-0 equilibrium)
and per step per DOF (µs), 2-rank speed-up of the time per step (t_1 / t_2 at the same scale),
peak MB per rank, status and final SOC (a failed run is shown, not hidden).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "cases" / "si_lpscl_rve.yaml"


def overrides(args: argparse.Namespace, scale: float) -> list[str]:
    """``--set`` items that turn the default case into the chemo-mechanics benchmark."""
    from solver.case import load_case

    mesh = load_case(CASE).geometry.mesh
    assert mesh.interface_size is not None
    return [
        "model=finite",
        f"lithiation={{mode: galvanostatic, soc_start: 0.0, soc_end: {args.soc_end}, "
        f"c_rate: 1C, dt: {args.dt}}}",
        f"transport={{diffusivity: {args.diffusivity}}}",
        "mechanics={plasticity: true}",
        f"solver={{degree: 1, adaptive: {{easy_newton: {args.easy_newton}, "
        f"dt_max: {args.dt_max}}}}}",
        "output={fields_every: 1000000, checkpoint_every: 1000000}",
        f"geometry.mesh.size={mesh.size * scale}",
        f"geometry.mesh.interface_size={mesh.interface_size * scale}",
    ]


def run(args: argparse.Namespace, ranks: int, scale: float, tmp: Path) -> dict:
    """One ``ssbmech run``; its summary, history columns and the configuration."""
    out = tmp / f"r{ranks}_s{scale:.3f}"
    cmd = [sys.executable, "-m", "solver.cli", "run", str(CASE), "--out", str(out)]
    for item in overrides(args, scale):
        cmd += ["--set", item]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    env = {
        **os.environ,
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_rmaps_base_oversubscribe": "1",
    }
    print(f"# {ranks} rank(s), mesh scale {scale:.3f}", flush=True)
    proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, check=False)
    summary = json.loads((out / "summary.json").read_text())
    with (out / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    history = {k: [float(r[k]) for r in rows] for k in rows[0]} if rows else {}
    return {"ranks": ranks, "scale": scale, "rc": proc.returncode, "history": history, **summary}


def table_row(r: dict, serial: dict | None) -> str:
    """One Markdown row (see module docstring)."""
    h = r["history"]
    steps = len(h.get("time_s", [])) - 1
    if steps < 1:
        return (
            f"| {r['scale']:.2f} | {r.get('dofs', '–')} | {r['ranks']} | 0 | "
            + "– | " * 8
            + (f"{r['status']} |")
        )
    newton, krylov = h["newton_iterations"][1:], h["krylov_iterations"][1:]
    passes = h["coupling_passes"][1:]
    solves = sum(p - 1 for p in passes)  # mechanics solves: the last pass only confirms
    dt = h["dt_s"][1:]
    step_time = r["timings_s"]["solve"] / steps if "timings_s" in r else float("nan")
    per_dof = 1e6 * step_time / r["dofs"]
    speed = "–"
    if serial is not None and "timings_s" in serial and "timings_s" in r:
        s_steps = len(serial["history"]["time_s"]) - 1
        speed = f"{(serial['timings_s']['solve'] / s_steps) / step_time:.2f}"
    memory = r.get("peak_memory_mb", float("nan"))
    return (
        f"| {r['scale']:.2f} | {r['dofs']} | {r['ranks']} | {steps} | {min(dt):.0f}–{max(dt):.0f} "
        f"| {statistics.median(passes):.0f} | {statistics.median(newton):.0f} "
        f"| {sum(newton) / max(solves, 1):.1f} | {sum(krylov) / max(sum(newton), 1):.1f} "
        f"| {step_time:.2f} | {per_dof:.1f} | {speed} | {memory:.0f} "
        f"| {r['status']} (SOC {h['soc'][-1]:.3f}) |"
    )


def main() -> None:
    """Run the configurations and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[2.0, 1.4, 1.0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--soc-end", type=float, default=0.9)
    parser.add_argument("--diffusivity", type=float, default=1e-16, help="m²/s")
    parser.add_argument("--dt", type=float, default=60.0, help="first Δt (s)")
    parser.add_argument("--dt-max", type=float, default=300.0, help="largest Δt (s)")
    parser.add_argument("--easy-newton", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(args, n, s, Path(tmp)) for s in args.scales for n in args.ranks]
    print(
        f"\n{CASE.name} geometry/materials/loading; model finite + J2, P1, galvanostatic 1C "
        f"SOC 0 → {args.soc_end}, D = {args.diffusivity:g} m²/s, adaptive Δt from "
        f"{args.dt:g} s (≤ {args.dt_max:g} s)\n"
    )
    print(
        "| scale | DOFs | ranks | steps | Δt (s) | passes/step | Newton/step (median) "
        "| Newton/solve | Krylov/Newton | s/step | µs/step/DOF | speed-up | peak MB/rank "
        "| status |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        serial = next((s for s in results if s["scale"] == r["scale"] and s["ranks"] == 1), None)
        print(table_row(r, serial if r["ranks"] > 1 else None))


if __name__ == "__main__":
    main()
