"""``ssbmech`` command line: check, mesh, run, render, compare, view, sweep, slurm.

Exit codes: 0 success, 2 bad input, 3 solver failure, 1 anything else. Heavy libraries
(DOLFINx, PETSc, PyVista) are imported only by the subcommand that needs them, so ``render``
never loads DOLFINx and ``check`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from solver import slurm
from solver.errors import CaseError, RunInterrupted, SolverError

log = logging.getLogger("ssbmech")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ssbmech", description="Chemo-mechanics of Si anodes in all-solid-state batteries."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug output")
    sub = parser.add_subparsers(dest="command", required=True)

    def case_command(name: str, help_: str, optional: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("case", type=Path, help="case file (YAML)", nargs="?" if optional else None)
        p.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY.PATH=VALUE",
            help="override a case value (repeatable)",
        )
        return p

    case_command("check", "validate a case and print it resolved (SI units)")
    p = case_command("mesh", "build geometry and mesh only; print statistics")
    p.add_argument("--out", type=Path, help="write mesh.msh and tags.json here")
    p.add_argument("--png", action="store_true", help="also draw the geometry to OUT/geometry.png")
    p = case_command("run", "run a case (works under mpirun -n N)", optional=True)
    p.add_argument("--out", type=Path, help="run directory (default runs/<case name>)")
    p.add_argument("--force", action="store_true", help="replace an existing run directory")
    p.add_argument(
        "--restart",
        type=Path,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its checkpoint (no CASE, --set, --out, --force)",
    )
    from postprocess.cli_args import add_postprocess_commands

    add_postprocess_commands(sub)
    p = sub.add_parser(
        "sweep", help="run the cases of a sweep file one by one into sweep.csv, draw its plots"
    )
    p.add_argument("sweep", type=Path, help="sweep file (YAML; see solver/sweep.py)")
    p.add_argument("--out", type=Path, help="sweep directory (default runs/<sweep file name>)")
    p.add_argument("--np", type=int, default=1, help="MPI ranks per case (mpirun -n N)")
    p.add_argument(
        "--slurm",
        action="store_true",
        help="write OUT/sweep.sbatch (a SLURM job array of the cases not yet complete) instead "
        "of running; needs --ntasks-per-node and --time",
    )
    p.add_argument("--nodes", type=int, default=1, help="with --slurm: nodes per case")
    p.add_argument("--ntasks-per-node", type=int, help="with --slurm: MPI ranks per node")
    p.add_argument("--time", help="with --slurm: wall-time limit per case, HH:MM:SS")
    p.add_argument("--partition", help="with --slurm: SLURM partition")
    p.add_argument("--container", type=Path, help="with --slurm: Apptainer image (.sif)")
    slurm.add_arguments(case_command("slurm", "write an sbatch script that runs a case"))
    return parser


def _configure_logging(verbose: bool, rank: int) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level if rank == 0 else logging.WARNING)
    log.propagate = False


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ssbmech`` console script."""
    args = _parser().parse_args(argv)
    rank = 0
    if args.command in ("mesh", "run"):
        from mpi4py import MPI

        rank = MPI.COMM_WORLD.rank
    _configure_logging(args.verbose, rank)
    try:
        return _dispatch(args)
    except (CaseError, SolverError, RunInterrupted) as exc:
        if rank == 0:
            print(f"ssbmech {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code


def _sweep_plots(path: Path, out: Path | None, rc: int) -> int:
    """Draw the sweep file's ``plots`` (matplotlib; the solver itself never draws).

    A plot that cannot be drawn is a bad sweep file (exit 2) unless cases failed (exit 3 kept).
    """
    from postprocess.errors import RenderError
    from postprocess.sweep_plot import plot_histories, plot_sweep
    from solver.sweep import load_sweep, sweep_dir

    directory = sweep_dir(path, out)
    for plot in load_sweep(path).plots:
        try:
            if plot.history:
                png = plot_histories(
                    directory, plot.x, plot.y, directory / plot.file, plot.log, plot.reference
                )
            else:
                png = plot_sweep(
                    directory / "sweep.csv",
                    plot.x,
                    plot.y,
                    directory / plot.file,
                    plot.series,
                    plot.log,
                    plot.reference,
                )
        except RenderError as exc:
            if rc == 0:
                raise CaseError(f"{path}: plots: {plot.file}: {exc}") from None
            log.warning("%s: not drawn: %s", plot.file, exc)
            continue
        log.info("wrote %s", png)
    return rc


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in ("render", "compare", "view"):
        from postprocess.cli_args import RenderError, run_postprocess_command

        try:
            for path in run_postprocess_command(args):
                log.info("wrote %s", path)
        except RenderError as exc:
            raise CaseError(str(exc)) from None
        return 0

    if args.command == "sweep":
        from solver.sweep import run_sweep, write_slurm_array

        if args.slurm:
            if args.ntasks_per_node is None or args.time is None:
                raise CaseError("sweep --slurm needs --ntasks-per-node and --time")
            resources = slurm.Resources(args.nodes, args.ntasks_per_node, args.time, args.partition)
            write_slurm_array(args.sweep, args.out, resources, args.container)
            return 0
        rc = run_sweep(args.sweep, args.out, args.np)
        return _sweep_plots(args.sweep, args.out, rc)

    from solver.case import check_geometry, dump_resolved, load_case

    if args.command == "run" and args.restart is not None:
        return _restart(args)
    if args.case is None:
        raise CaseError(f"{args.command}: give a case file (or --restart RUN_DIR to resume a run)")
    case = load_case(args.case, args.overrides)
    if args.command in ("check", "slurm"):
        check_geometry(case, args.case)
    if args.command == "slurm":
        return slurm.slurm_command(case, args)
    if args.command == "check":
        print(dump_resolved(case), end="")
        return 0

    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if args.command == "mesh":
        from solver.mesh_report import describe_mesh
        from solver.run import build_mesh

        if args.png and not args.out:
            raise CaseError("ssbmech mesh: --png needs --out DIR (the picture is DIR/geometry.png)")
        if args.out and comm.rank == 0:
            args.out.mkdir(parents=True, exist_ok=True)
        bundle = build_mesh(comm, case, args.case, args.out / "mesh.msh" if args.out else None)
        if args.out and comm.rank == 0:
            bundle.write_tag_map(args.out / "tags.json")
        log.info("%s", describe_mesh(bundle))
        return _draw_geometry(args.out, case.name) if args.png and comm.rank == 0 else 0

    from solver.run import run_case

    out = args.out or Path("runs") / case.name
    run_case(case, args.case, out, args.force, comm)
    log.info("run directory: %s", out)
    return 0


def _draw_geometry(out: Path, name: str) -> int:
    """Draw OUT/geometry.png in a fresh process (VTK crashes in one that imported DOLFINx)."""
    import subprocess

    cmd = [sys.executable, "-m", "postprocess.geometry_png", str(out), "--name", name]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"ssbmech mesh: error: {' '.join(cmd)} failed:\n{done.stderr}", file=sys.stderr)
        return 1
    log.info("%s", done.stdout.strip())
    return 0


def _restart(args: argparse.Namespace) -> int:
    """``ssbmech run --restart RUN_DIR``: continue the run exactly as it was set up."""
    from mpi4py import MPI

    from solver.case import load_case
    from solver.run import run_case

    given = [
        flag
        for flag, value in (
            ("CASE", args.case),
            ("--set", args.overrides),
            ("--out", args.out),
            ("--force", args.force),
        )
        if value
    ]
    if given:
        raise CaseError(
            f"run --restart: {', '.join(given)} cannot be combined with --restart: a restart "
            f"continues {args.restart}/case.resolved.yaml unchanged into the same directory "
            "(to change the case, start a new run)"
        )
    case_path = args.restart / "case.resolved.yaml"
    if not case_path.is_file():
        raise CaseError(
            f"run --restart: {args.restart} is not a run directory (no {case_path.name})"
        )
    case = load_case(case_path)
    run_case(case, case_path, args.restart, False, MPI.COMM_WORLD, restart=True)
    log.info("run directory: %s", args.restart)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
