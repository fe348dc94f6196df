"""Run a case into its run directory; the time loop of the ``uniform-small`` model.

``run_case`` picks the loop by ``case.model`` (``transport-small``: solver/run_transport.py);
model ``finite`` runs this loop with the finite-strain problem (solver/physics/finite.py).

For each step k = 0 … N: SOC_k on the ramp, θ = SOC_k in every active material, elastic
equilibrium under the loading mode, derived fields, one history row, fields every
``output.fields_every`` steps. ``summary.json`` says ``running`` until the run ends, then
``complete`` or ``failed`` (with the error), so a partial run never looks complete.
"""

from __future__ import annotations

import logging
import resource
import time
from pathlib import Path
from typing import Any

import dolfinx
from mpi4py import MPI
from petsc4py import PETSc

from meshes import geometry
from meshes.bundle import MeshBundle
from meshes.errors import GeometryError
from solver import __version__
from solver.case import Case, Lithiation, Mechanics, dump_resolved, geometry_error
from solver.derived import DerivedFields
from solver.errors import CaseError
from solver.extremes import RunExtremes
from solver.physics.finite import FiniteStrainProblem
from solver.physics.mechanics import ElasticityProblem
from solver.physics.periodic import PeriodicElasticityProblem
from solver.physics.supports import supports_for
from solver.rundir import create_run_dir
from solver.writers import FieldWriter, HistoryWriter, write_json

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


def check_interfaces(case: Case, case_path: Path, bundle: MeshBundle) -> None:
    """CaseError unless every ``crack_risk.interfaces`` name is a facet tag of the mesh."""
    unknown = sorted(set(case.crack_risk.interfaces) - set(bundle.facet_names))
    if unknown:
        raise CaseError(
            f"{case_path}: crack_risk.interfaces.{unknown[0]}: no such facet tag in the mesh "
            f"(known: {', '.join(sorted(bundle.facet_names))})"
        )


def peak_memory_mb(comm: MPI.Comm) -> float:
    """Largest peak resident memory of any rank (MB)."""
    return comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, op=MPI.MAX)


def run_case(case: Case, case_path: Path, out: Path, force: bool, comm: MPI.Comm) -> dict[str, Any]:
    """Run ``case`` into the run directory ``out``; return the summary."""
    t_start = time.perf_counter()
    create_run_dir(comm, out, force)
    if comm.rank == 0:
        (out / "case.resolved.yaml").write_text(dump_resolved(case))
    summary: dict[str, Any] = {
        "status": "running",
        "case": case.name,
        "model": case.model,
        "mpi_size": comm.size,
        "versions": versions(),
    }
    write_json(comm, out / "summary.json", summary)
    loop = _time_loop
    if case.model == "transport-small":
        from solver.run_transport import transport_time_loop  # imports this module

        loop = transport_time_loop
    try:
        loop(case, case_path, out, comm, summary, t_start)
    except BaseException as exc:
        summary.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        write_json(comm, out / "summary.json", summary)
        raise
    summary["status"] = "complete"
    write_json(comm, out / "summary.json", summary)
    return summary


def _time_loop(
    case: Case, case_path: Path, out: Path, comm: MPI.Comm, summary: dict[str, Any], t_start: float
) -> None:
    log.info("case %s: building geometry and mesh", case.name)
    bundle = build_mesh(comm, case, case_path, out / "mesh.msh")
    if comm.rank == 0:
        bundle.write_tag_map(out / "tags.json")
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
        problem = ElasticityProblem(bundle, materials, supports_for(case.loading), case.solver)
    check_interfaces(case, case_path, bundle)
    derived = DerivedFields(problem, case.crack_risk)
    extremes = RunExtremes()
    stats = bundle.stats
    summary.update(
        dofs=problem.num_dofs,
        cells=stats.num_cells,
        mesh={
            "min_quality": stats.min_quality,
            "volume_fractions_requested": stats.volume_fractions_requested,
            "volume_fractions_achieved": stats.volume_fractions_achieved,
            "num_particles": len(stats.particles),
            "thicknesses_requested": stats.thicknesses_requested,
            "thicknesses_achieved": stats.thicknesses_achieved,
            "dimensions_requested": stats.dimensions_requested,
            "dimensions_achieved": stats.dimensions_achieved,
        },
        materials={region: m.name for region, m in case.materials.items()},
    )
    log.info(
        "mesh: %d cells, %d DOFs (P%d) on %d rank(s)",
        stats.num_cells,
        problem.num_dofs,
        case.solver.degree,
        comm.size,
    )
    fields = FieldWriter(comm, out / "fields.xdmf", derived)
    history = HistoryWriter(comm, out / "history.csv")
    lith = case.lithiation
    assert isinstance(lith, Lithiation)  # model uniform-small or finite (checked by Case)
    solve_time, maxima = 0.0, {}
    try:
        for step in range(lith.steps + 1):
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
    finally:
        fields.close()
        history.close()
    t_end = time.perf_counter()
    summary.update(
        final={**summary["final"], **maxima},
        timings_s={
            "mesh": t_mesh - t_start,
            "solve": solve_time,
            "total": t_end - t_start,
            **{f"solve_{k}": v for k, v in problem.timings.items()},
        },
        peak_memory_mb=peak_memory_mb(comm),
    )
    log.info(
        "done: %d steps in %.1f s (mesh %.1f s, solve %.1f s)",
        lith.steps,
        t_end - t_start,
        t_mesh - t_start,
        solve_time,
    )
