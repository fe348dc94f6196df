"""Benchmark: strong and weak scaling of ``ssbmech run`` on the default case, 1 → R ranks.

Usage: ``python bench/scaling.py [--ranks 1 2] [--steps 2]``. Each configuration is one
``ssbmech run`` process (``mpirun -n R`` for R > 1) of ``cases/si_lpscl_rve.yaml`` in its
small-strain elastic setting (``ELASTIC``: P2, SOC 0.03) with ``--set lithiation.steps=STEPS``,
into a temporary run directory; all numbers come from its ``summary.json``:

- strong scaling: the case's own mesh on 1 and R ranks;
- weak scaling: on R ranks the mesh sizes are multiplied by R^(-1/k), so DOFs grow ≈ R-fold
  and DOFs per rank stay ≈ those of the 1-rank run. k = 2.1 (``--dof-exponent``) was measured
  on this case: DOFs ∝ scale^-2.1, not scale^-3, because the refinement sits at the particle
  surfaces (scale 0.794 gave 1.64x the DOFs).

Columns: DOFs, ranks, DOFs/rank, wall (whole run, s), mesh (Gmsh on rank 0, serial, s),
solve (all steps: elasticity solves + derived fields, s), speed-up and efficiency from the
solve time (strong: S = t1/tR, E = S/R; weak: E = (t1/N1) / (tR/(NR/R)), time per DOF per
rank, so the inexact DOF match is normalised out), peak MB/rank (largest peak resident set of
any rank; rank 0 also meshes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "cases" / "si_lpscl_rve.yaml"
# The benchmarks time the small-strain elastic solve of the default RVE as it was defined when
# they were measured (uniform-small, SOC 0.03, mesh 100 nm / 35 nm); the case itself is now
# finite-strain plastic to SOC 1 (cases/si_lpscl_rve.yaml).
ELASTIC = [
    "model=uniform-small",
    "mechanics=null",
    "lithiation.soc_end=0.03",
    "solver.petsc_options={}",
    "solver.degree=2",
    "geometry.mesh.size=100 nm",
    "geometry.mesh.interface_size=35 nm",
]


def run(ranks: int, scale: float, steps: int, tmp: Path) -> dict:
    """One ``ssbmech run`` of the default case; return its summary plus the configuration."""
    from solver.case import load_case

    mesh = load_case(CASE, ELASTIC).geometry.mesh
    assert mesh.interface_size is not None
    out = tmp / f"r{ranks}_s{scale:.3f}"
    cmd = [sys.executable, "-m", "solver.cli", "run", str(CASE), "--out", str(out)]
    cmd += [a for o in ELASTIC for a in ("--set", o)]
    cmd += ["--set", f"lithiation.steps={steps}"]
    if scale != 1.0:
        cmd += ["--set", f"geometry.mesh.size={mesh.size * scale}"]
        cmd += ["--set", f"geometry.mesh.interface_size={mesh.interface_size * scale}"]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    env = {
        **os.environ,
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_rmaps_base_oversubscribe": "1",
    }
    print(f"# {ranks} rank(s), mesh scale {scale:.3f}", flush=True)
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    summary = json.loads((out / "summary.json").read_text())
    return {"ranks": ranks, "scale": scale, **summary}


def row(kind: str, r: dict, speed_up: float | None, efficiency: float | None) -> str:
    """One Markdown table row."""
    t = r["timings_s"]
    s = f"{speed_up:.2f}" if speed_up is not None else "–"
    e = f"{100 * efficiency:.0f} %" if efficiency is not None else "–"
    return (
        f"| {kind} | {r['dofs']} | {r['ranks']} | {r['dofs'] // r['ranks']} | {t['total']:.1f} "
        f"| {t['mesh']:.1f} | {t['solve']:.1f} | {s} | {e} | {r['peak_memory_mb']:.0f} |"
    )


def main() -> None:
    """Run the configurations and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--dof-exponent", type=float, default=2.1, help="DOFs ∝ scale^-k")
    args = parser.parse_args()
    base, *more = args.ranks
    with tempfile.TemporaryDirectory() as tmp:
        ref = run(base, 1.0, args.steps, Path(tmp))
        strong = [run(n, 1.0, args.steps, Path(tmp)) for n in more]
        weak = [run(n, (n / base) ** (-1 / args.dof_exponent), args.steps, Path(tmp)) for n in more]
    t1 = ref["timings_s"]["solve"]
    per_dof_rank = lambda r: r["timings_s"]["solve"] / (r["dofs"] / r["ranks"])  # noqa: E731
    from solver.case import load_case

    print(
        f"\n{CASE.name}, P{load_case(CASE, ELASTIC).solver.degree}, {args.steps + 1} solves per "
        "run (steps 0…N); speed-up/efficiency from solve time\n"
    )
    print(
        "| scaling | DOFs | ranks | DOFs/rank | wall (s) | mesh (s) | solve (s) | speed-up "
        "| efficiency | peak MB/rank |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(row("reference", ref, None, None))
    for r in strong:
        s = t1 / r["timings_s"]["solve"]
        print(row("strong", r, s, s * base / r["ranks"]))
    for r in weak:
        print(row("weak", r, None, per_dof_rank(ref) / per_dof_rank(r)))


if __name__ == "__main__":
    main()
