"""Benchmark: elasticity solve of the default RVE at growing mesh sizes, serial and 2 ranks.

Usage: ``python bench/elasticity.py [--scales 1 0.55 0.35 0.21] [--ranks 1 2]``. The driver runs
one worker process per rank count (``mpirun -n R``) and mesh scale (scale multiplies the default
case's mesh sizes), then prints DOFs, Krylov iterations, assembly / preconditioner set-up /
solve times, memory per rank (at solve and peak), and the targets of issue 2, all from this one run:
iterations grow < 30 % from smallest to largest; wall time per DOF at the largest size
<= 1.3x that at ~100k DOFs; 2-rank speed-up >= 1.7x at the largest size; < 3 GB per rank.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
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
    "geometry.mesh.size=100 nm",
    "geometry.mesh.interface_size=35 nm",
]


def resident_gb() -> float:
    """Current resident memory of this process (GB), from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def worker(scales: list[float], out: Path) -> None:
    """Solve one elasticity step (SOC 0.03, P1) at each scale; rank 0 writes JSON rows."""
    from mpi4py import MPI

    from solver.case import load_case
    from solver.physics.mechanics import ElasticityProblem
    from solver.physics.supports import supports_for
    from solver.run import build_mesh

    comm = MPI.COMM_WORLD
    rows = []
    for scale in scales:
        base = load_case(CASE, ELASTIC)
        size, fine = base.geometry.mesh.size * scale, base.geometry.mesh.interface_size
        assert fine is not None
        case = load_case(
            CASE,
            [
                *ELASTIC,
                f"geometry.mesh.size={size}",
                f"geometry.mesh.interface_size={fine * scale}",
                "solver.degree=1",
            ],
        )
        tic = time.perf_counter()
        bundle = build_mesh(comm, case, CASE, None)
        mesh_s = time.perf_counter() - tic
        problem = ElasticityProblem(
            bundle, dict(case.materials), supports_for(case.loading), case.solver
        )
        problem.solve(0.0)  # warm-up: JIT and first set-up
        problem.timings = dict.fromkeys(problem.timings, 0.0)
        comm.barrier()
        tic = time.perf_counter()
        state = problem.solve(case.lithiation.soc_end)
        comm.barrier()
        wall = time.perf_counter() - tic
        mem = comm.allreduce(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, op=MPI.MAX
        )
        rss = comm.allreduce(resident_gb(), op=MPI.MAX)
        timings = {k: comm.allreduce(v, op=MPI.MAX) for k, v in problem.timings.items()}
        rows.append(
            {
                "scale": scale,
                "ranks": comm.size,
                "dofs": problem.num_dofs,
                "cells": bundle.stats.num_cells,
                "krylov": state.krylov_iterations,
                "mesh_s": mesh_s,
                "wall_s": wall,
                **{f"{k}_s": v for k, v in timings.items()},
                "peak_gb_per_rank": mem,
                "solve_rss_gb_per_rank": rss,
            }
        )
        if comm.rank == 0:
            print(json.dumps(rows[-1]), flush=True)
        del problem, bundle
    if comm.rank == 0:
        out.write_text(json.dumps(rows))


def driver(scales: list[float], ranks: list[int]) -> None:
    """Run the workers and print the table and the targets."""
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    results: dict[int, list[dict]] = {n: [] for n in ranks}
    with tempfile.TemporaryDirectory() as tmp:
        for n in ranks:
            for scale in scales:  # one process per size: memory figures are that size's own
                out = Path(tmp) / f"r{n}_{scale}.json"
                cmd = [sys.executable, __file__, "--worker", str(out), "--scales", str(scale)]
                if n > 1:
                    cmd = ["mpirun", "-n", str(n), *cmd]
                print(f"# {n} rank(s), mesh scale {scale}", flush=True)
                subprocess.run(cmd, check=True, env=env, cwd=ROOT)
                results[n] += json.loads(out.read_text())
    print(
        "\n| ranks | DOFs | cells | Krylov its | assembly (s) | PC set-up (s) | solve (s) "
        "| wall (s) | µs/DOF | GB/rank at solve | peak GB/rank (incl. meshing) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, rows in results.items():
        for r in rows:
            print(
                f"| {n} | {r['dofs']} | {r['cells']} | {r['krylov']} | {r['assemble_s']:.2f} "
                f"| {r['setup_s']:.2f} | {r['solve_s']:.2f} | {r['wall_s']:.2f} "
                f"| {1e6 * r['wall_s'] / r['dofs']:.2f} | {r['solve_rss_gb_per_rank']:.2f} "
                f"| {r['peak_gb_per_rank']:.2f} |"
            )
    serial = results[ranks[0]]
    small, large = serial[0], serial[-1]
    ref = min(serial, key=lambda r: abs(math.log(r["dofs"] / 1e5)))  # nearest to 100k DOFs
    per_dof = lambda r: r["wall_s"] / r["dofs"]  # noqa: E731
    print("\ntargets (issue 2):")
    growth = large["krylov"] / small["krylov"] - 1
    print(f"- Krylov growth smallest → largest: {100 * growth:.0f} % (target < 30 %)")
    ratio = per_dof(large) / per_dof(ref)
    print(f"- time/DOF at {large['dofs']} vs {ref['dofs']} DOFs: {ratio:.2f}x (target <= 1.3x)")
    if len(ranks) > 1:
        par = results[ranks[-1]][-1]
        print(
            f"- {ranks[-1]}-rank speed-up at {par['dofs']} DOFs: "
            f"{large['wall_s'] / par['wall_s']:.2f}x (target >= 1.7x)"
        )
        print(
            f"- memory of the largest rank at the largest size: "
            f"{par['solve_rss_gb_per_rank']:.2f} GB at solve, {par['peak_gb_per_rank']:.2f} GB "
            f"peak incl. meshing ({ranks[-1]} ranks); serial "
            f"{large['solve_rss_gb_per_rank']:.2f} / {large['peak_gb_per_rank']:.2f} GB "
            "(target < 3 GB)"
        )


def main() -> None:
    """Parse arguments; run as driver or worker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.55, 0.35, 0.21])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.scales, args.worker)
    else:
        driver(args.scales, args.ranks)


if __name__ == "__main__":
    main()
