"""Run a case into its run directory; the time loop of the ``uniform-small`` model.

``run_case`` picks the loop by ``case.model`` and ``lithiation.mode``: Li transport
(``transport-small``, or ``finite`` with galvanostatic or protocol lithiation) runs
solver/run_transport.py; ``uniform-small`` and ``finite`` with uniform θ run this loop (model
``finite`` with the finite-strain problem, solver/physics/finite.py).

For each step k = 0 … N: SOC_k on the ramp, θ = SOC_k in every active material, elastic
equilibrium under the loading mode, derived fields, one history row, fields every
``output.fields_every`` steps. ``summary.json`` says ``running`` until the run ends, then
``complete``, ``failed`` (with the error) or ``interrupted`` (SIGTERM, e.g. SLURM's time
limit, or SIGINT), so a partial run never looks complete.

Restart data go to ``checkpoint/`` every ``output.checkpoint_every`` steps and at a stop
signal (solver/checkpoint.py; model ``finite`` adds u and the plastic state,
``restart_fields``). ``run_case(…, restart=True)`` continues a run directory from
its checkpoint: same case (case.resolved.yaml), mesh re-read from mesh.msh, history.csv cut
to the checkpoint step and appended, fields of the continuation in
``fields_restart<N>.xdmf`` (N-th restart; listed in summary.json ``restarts``).
"""

from __future__ import annotations

import json
import logging
import resource
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dolfinx
from mpi4py import MPI
from petsc4py import PETSc

from meshes import geometry, mesh_xdmf, msh
from meshes.bundle import MeshBundle, MeshStats
from meshes.errors import GeometryError
from solver import __version__
from solver.case import Case, Lithiation, Mechanics, dump_resolved, geometry_error
from solver.checkpoint import Checkpoint, Checkpoints, read_checkpoint
from solver.derived import DerivedFields
from solver.errors import CaseError, RunInterrupted
from solver.extremes import RunExtremes
from solver.physics.finite import FiniteStrainProblem
from solver.physics.mechanics import ElasticityProblem
from solver.physics.periodic import PeriodicElasticityProblem
from solver.physics.supports import supports_for
from solver.rundir import locked_run_dir
from solver.writers import FieldWriter, HistoryWriter, read_json, write_json

log = logging.getLogger("ssbmech")


def versions() -> dict[str, str]:
    """Versions of ssbmech and the libraries that produced a result."""
    import gmsh  # imported here: importing gmsh resets Python's SIGINT handler

    petsc = ".".join(str(v) for v in PETSc.Sys.getVersion())
    return {
        "ssbmech": __version__,
        "dolfinx": dolfinx.__version__,
        "petsc": petsc,
        "gmsh": gmsh.__version__,
    }


def build_mesh(comm: MPI.Comm, case: Case, case_path: Path, msh_path: Path | None) -> MeshBundle:
    """Build the case geometry; geometry errors become CaseErrors naming file and key."""
    try:
        return geometry.build(comm, case.geometry, msh_path=msh_path)
    except GeometryError as exc:
        raise geometry_error(case_path, exc) from None


def mesh_for_run(
    comm: MPI.Comm, case: Case, case_path: Path, out: Path, resume: Checkpoint | None
) -> MeshBundle:
    """Build the mesh into ``out`` (mesh.msh, tags.json, mesh.xdmf), or re-read it to restart.

    A restart reads the partitioned ``mesh.xdmf`` collectively (run directories written before
    it existed: ``mesh.msh`` on rank 0).
    """
    if resume is not None:
        tags = json.loads((out / "tags.json").read_text())
        stats = MeshStats.from_dict(resume.meta["mesh_stats"])
        reader = mesh_xdmf.read if (out / "mesh.xdmf").is_file() else msh.read
        path = out / ("mesh.xdmf" if reader is mesh_xdmf.read else "mesh.msh")
        return reader(comm, path, tags["cells"], tags["facets"], stats)
    bundle = build_mesh(comm, case, case_path, out / "mesh.msh")
    if comm.rank == 0:
        bundle.write_tag_map(out / "tags.json")
    mesh_xdmf.write(comm, out / "mesh.xdmf", bundle)
    return bundle


def fields_path(out: Path, summary: dict[str, Any]) -> Path:
    """``fields.xdmf``, or ``fields_restart<N>.xdmf`` for the continuation of the N-th restart."""
    n = len(summary.get("restarts", []))
    return out / (f"fields_restart{n}.xdmf" if n else "fields.xdmf")


def resume_meta(summary: dict[str, Any], bundle: MeshBundle, **state: Any) -> dict[str, Any]:
    """Checkpoint ``meta`` of a completed step: ``state`` + mesh statistics + summary entries."""
    kept = {k: summary[k] for k in ("steps", "final", "particles") if k in summary}
    return {**state, "mesh_stats": bundle.stats.to_dict(), "summary": kept}


def restart_fields(
    problem: ElasticityProblem | PeriodicElasticityProblem | FiniteStrainProblem,
) -> dict[str, dolfinx.fem.Function]:
    """Fields a restart restores so that the run continues exactly as if uninterrupted.

    Finite strain: the displacement u (Newton's initial guess) and the plastic state Cp⁻¹
    (DG0 tensor) and ε̄_p (DG0), besides ``reference_state()`` in the checkpoint meta. The
    small-strain problems solve each step from θ alone: none.
    """
    if isinstance(problem, FiniteStrainProblem):
        return {"u": problem.u, "cp_inv": problem.cp_inv, "plastic_strain": problem.plastic_strain}
    return {}


@contextmanager
def step_outputs(
    checkpoints: Checkpoints, fields: FieldWriter, history: HistoryWriter
) -> Iterator[None]:
    """Around a time loop: checkpoint on a stop signal, always close the writers.

    RunInterrupted (every rank stopped at the same step boundary) flushes the checkpoint and
    is re-raised; the field and history writers are closed in every case.
    """
    try:
        yield
    except RunInterrupted:
        checkpoints.flush()
        raise
    finally:
        fields.close()
        history.close()


def check_interfaces(case: Case, case_path: Path, bundle: MeshBundle) -> None:
    """CaseError unless every ``crack_risk.interfaces`` name is a facet tag of the mesh."""
    unknown = sorted(set(case.crack_risk.interfaces) - set(bundle.facet_names))
    if unknown:
        raise CaseError(
            f"{case_path}: crack_risk.interfaces.{unknown[0]}: no such facet tag in the mesh "
            f"(known: {', '.join(sorted(bundle.facet_names))})"
        )


def mesh_summary(stats: MeshStats) -> dict[str, Any]:
    """The ``mesh`` entry of summary.json: quality, requested vs achieved geometry."""
    return {
        "min_quality": stats.min_quality,
        "volume_fractions_requested": stats.volume_fractions_requested,
        "volume_fractions_achieved": stats.volume_fractions_achieved,
        "num_particles": len(stats.particles),
        "thicknesses_requested": stats.thicknesses_requested,
        "thicknesses_achieved": stats.thicknesses_achieved,
        "dimensions_requested": stats.dimensions_requested,
        "dimensions_achieved": stats.dimensions_achieved,
    }


def finish_summary(
    comm: MPI.Comm,
    summary: dict[str, Any],
    maxima: dict[str, float],
    clock: tuple[float, float, float],
    solve_time: float,
    solver_timings: dict[str, float],
) -> None:
    """Final values, timings (s; ``clock`` = start, mesh done, end) and peak memory."""
    t_start, t_mesh, t_end = clock
    summary.update(
        final={**summary["final"], **maxima},
        timings_s={
            "mesh": t_mesh - t_start,
            "solve": solve_time,
            "total": t_end - t_start,
            **{f"solve_{k}": v for k, v in solver_timings.items()},
        },
        peak_memory_mb=peak_memory_mb(comm),
    )


def peak_memory_mb(comm: MPI.Comm) -> float:
    """Largest peak resident memory of any rank (MB)."""
    return comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, op=MPI.MAX)


def run_case(
    case: Case, case_path: Path, out: Path, force: bool, comm: MPI.Comm, restart: bool = False
) -> dict[str, Any]:
    """Run ``case`` into the run directory ``out`` (locked while running); return the summary.

    ``restart``: continue the run in ``out`` from its checkpoint (``case`` read from its
    case.resolved.yaml); CaseError if it is complete or has no checkpoint.
    """
    t_start = time.perf_counter()
    with locked_run_dir(comm, out, force, resume=restart):
        resume: Checkpoint | None = None
        if restart:
            summary, resume = _resume(comm, out)
        else:
            if comm.rank == 0:
                (out / "case.resolved.yaml").write_text(dump_resolved(case))
            summary = {
                "status": "running",
                "case": case.name,
                "model": case.model,
                "mpi_size": comm.size,
                "versions": versions(),
            }
        write_json(comm, out / "summary.json", summary)
        loop = _time_loop
        if case.lithiation.mode != "uniform":  # Li transport: transport-small or finite
            from solver.run_transport import transport_time_loop  # imports this module

            loop = transport_time_loop
        try:
            with _interruptible(comm, out / "summary.json", summary) as stop_if_signalled:
                loop(case, case_path, out, comm, summary, t_start, stop_if_signalled, resume)
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, RunInterrupted) else "failed"
            summary.update(status=status, error=f"{type(exc).__name__}: {exc}")
            write_json(comm, out / "summary.json", summary)
            raise
        summary["status"] = "complete"
        write_json(comm, out / "summary.json", summary)
    return summary


def _resume(comm: MPI.Comm, out: Path) -> tuple[dict[str, Any], Checkpoint]:
    """The summary of the run in ``out``, marked running again, and its checkpoint."""
    summary = read_json(comm, out / "summary.json")
    if summary.get("status") == "complete":
        raise CaseError(f"run directory {out} holds a complete run: nothing to restart")
    checkpoint = read_checkpoint(comm, out)
    restarts = [
        *summary.get("restarts", []),
        {
            "step": checkpoint.step,
            "time_s": checkpoint.meta["time_s"],
            "previous_status": summary.get("status", "unknown"),
            "mpi_size": comm.size,
        },
    ]
    summary.update(checkpoint.meta["summary"])
    summary.update(status="running", restarts=restarts, mpi_size=comm.size, versions=versions())
    summary.pop("error", None)
    restarts[-1]["fields"] = fields_path(out, summary).name
    log.info("restart %d of %s from step %d", len(restarts), out, checkpoint.step)
    return summary, checkpoint


@contextmanager
def _interruptible(
    comm: MPI.Comm, summary_path: Path, summary: dict[str, Any]
) -> Iterator[Callable[[], None]]:
    """Catch SIGTERM/SIGINT for the ``with`` block; yield the collective check of the loop.

    SLURM (time limit, scancel) and mpirun signal every rank, not all at the same instant, so
    raising straight from the handler could leave one rank waiting in a collective that the
    other has left. The handler instead records the signal, and rank 0 writes the
    ``interrupted`` summary at once (the launcher's SIGKILL may follow within seconds); the
    check, called by every rank at each step boundary, raises :class:`RunInterrupted`
    everywhere together, so fields.h5 is closed collectively. A second signal raises at once.
    """
    received: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        if received:
            raise RunInterrupted(signum)
        received.append(signum)
        summary.update(status="interrupted", error=f"RunInterrupted: {RunInterrupted(signum)}")
        write_json(comm, summary_path, summary)

    def check() -> None:
        signum = comm.allreduce(received[0] if received else 0, op=MPI.MAX)
        if signum:
            raise RunInterrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield check
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _time_loop(
    case: Case,
    case_path: Path,
    out: Path,
    comm: MPI.Comm,
    summary: dict[str, Any],
    t_start: float,
    stop_if_signalled: Callable[[], None],
    resume: Checkpoint | None,
) -> None:
    log.info("case %s: building geometry and mesh", case.name)
    bundle = mesh_for_run(comm, case, case_path, out, resume)
    t_mesh = time.perf_counter()
    materials = dict(case.materials)
    problem: ElasticityProblem | PeriodicElasticityProblem | FiniteStrainProblem
    if case.model == "finite":
        problem = FiniteStrainProblem(
            bundle,
            materials,
            supports_for(case.loading),
            case.solver,
            case.mechanics or Mechanics(),
        )
    elif case.geometry.periodic:
        problem = PeriodicElasticityProblem(bundle, materials, case.loading, case.solver)
    else:
        problem = ElasticityProblem(
            bundle, materials, supports_for(case.loading, bundle.mesh.geometry.dim), case.solver
        )
    check_interfaces(case, case_path, bundle)
    derived = DerivedFields(problem, case.crack_risk, case.active_surfaces)
    extremes = RunExtremes(resume.meta["extremes"] if resume else None)
    first = 0
    state_fields = restart_fields(problem)
    if resume is not None:
        problem.restore_reference_state(resume.meta["mechanics"])
        for name, f in state_fields.items():
            resume.restore(name, f)
        first = resume.step + 1
    stats = bundle.stats
    summary.update(
        dofs=problem.num_dofs,
        cells=stats.num_cells,
        mesh=mesh_summary(stats),
        materials={region: m.name for region, m in case.materials.items()},
    )
    log.info(
        "mesh: %d cells, %d DOFs (P%d) on %d rank(s)",
        stats.num_cells,
        problem.num_dofs,
        case.solver.degree,
        comm.size,
    )
    fields = FieldWriter(comm, fields_path(out, summary), derived)
    history = HistoryWriter(comm, out / "history.csv", keep_rows=first if resume else None)
    checkpoints = Checkpoints(comm, out, case.output.checkpoint_every, state_fields)
    lith = case.lithiation
    assert isinstance(lith, Lithiation)  # model uniform-small or finite (checked by Case)
    solve_time, maxima = 0.0, {}
    with step_outputs(checkpoints, fields, history):
        for step in range(first, lith.steps + 1):
            stop_if_signalled()  # collective: every rank stops at the same step
            soc, t = lith.soc_at(step), lith.time_at(step)
            tic = time.perf_counter()
            state = problem.solve(soc)
            derived.update()
            solve_time += time.perf_counter() - tic
            particles = derived.particle_table()
            aggregates = derived.aggregates(particles)
            extremes.update(derived.locate(aggregates, particles), step, soc, t)
            row = {
                "time_s": t,
                "soc": soc,
                "stack_pressure_Pa": state.stack_pressure,
                "stack_strain": state.top_displacement / case.geometry.stack_height,
                **aggregates,
                "newton_iterations": state.newton_iterations,
                "krylov_iterations": state.krylov_iterations,
                "dt_s": t - lith.time_at(step - 1) if step else 0.0,
            }
            history.write(row)
            if step % case.output.fields_every == 0 or step == lith.steps:
                fields.write(t)
            maxima = aggregates
            sigma1 = max(v for k, v in aggregates.items() if k.startswith("max_principal_Pa_"))
            log.info(
                "step %3d/%d  t %9.1f s  SOC %.4f  P %7.2f MPa  max σ1 %8.1f MPa  Newton %d  "
                "KSP %d",
                step,
                lith.steps,
                t,
                soc,
                state.stack_pressure / 1e6,
                sigma1 / 1e6,
                state.newton_iterations,
                state.krylov_iterations,
            )
            summary.update(
                steps=step, final={**row}, extremes=extremes.as_dict(), particles=particles
            )
            meta = resume_meta(
                summary,
                bundle,
                time_s=t,
                dt_s=row["dt_s"],
                extremes=extremes.as_dict(),
                mechanics=problem.reference_state(),
            )
            checkpoints.step_done(step, meta, last=step == lith.steps)
    t_end = time.perf_counter()
    finish_summary(comm, summary, maxima, (t_start, t_mesh, t_end), solve_time, problem.timings)
    log.info(
        "done: %d steps in %.1f s (mesh %.1f s, solve %.1f s)",
        lith.steps,
        t_end - t_start,
        t_mesh - t_start,
        solve_time,
    )
