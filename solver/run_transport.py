"""The time loop of the ``transport-small`` model: diffuse, solve mechanics, derive, write.

Step 0 is the initial state (θ = soc_start in the active materials). Each step k ≥ 1 advances
θ by Δt_k with the galvanostatic flux (solver/physics/transport.py), then solves elastic
equilibrium with the eigenstrain β(θ(x)) (one-way coupling: the stress does not act back on
the diffusion at this model level). History per step: ``soc`` is the volume-average θ of
the active materials, ``soc_charge`` the SOC from the charge passed (they agree to the solver
tolerance: mass balance), ``theta_min``/``theta_max`` (nodal) and ``theta_surface_mean``
(area-average on the active surfaces).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mpi4py import MPI

from solver.case import Case, GalvanostaticLithiation, RegularSolution, Transport
from solver.checkpoint import Checkpoint, Checkpoints
from solver.derived import DerivedFields
from solver.errors import RunInterrupted, SolverError
from solver.extremes import RunExtremes
from solver.physics.mechanics import ElasticityProblem
from solver.physics.supports import supports_for
from solver.physics.transport import TransportProblem
from solver.physics.two_phase import TwoPhaseProblem
from solver.run import (
    check_interfaces,
    fields_path,
    finish_summary,
    mesh_for_run,
    mesh_summary,
    resume_meta,
)
from solver.stepping import StepControl
from solver.writers import FieldWriter, HistoryWriter

log = logging.getLogger("ssbmech")


def transport_time_loop(
    case: Case,
    case_path: Path,
    out: Path,
    comm: MPI.Comm,
    summary: dict[str, Any],
    t_start: float,
    stop_if_signalled: Callable[[], None],
    resume: Checkpoint | None,
) -> None:
    """Run the ``transport-small`` model of ``case`` into ``out`` (updates ``summary``).

    ``stop_if_signalled`` is called after every step (collective: raises RunInterrupted on
    every rank once a stop signal arrived). ``resume``: continue after its step (θ restored).
    Time steps: solver/stepping.py (fixed, or adaptive with cut-backs).
    """
    lith, settings = case.lithiation, case.transport
    assert isinstance(lith, GalvanostaticLithiation) and isinstance(settings, Transport)
    log.info("case %s: building geometry and mesh", case.name)
    bundle = mesh_for_run(comm, case, case_path, out, resume)
    t_mesh = time.perf_counter()
    materials = dict(case.materials)
    mechanics = ElasticityProblem(
        bundle, materials, supports_for(case.loading, bundle.mesh.geometry.dim), case.solver
    )
    two_phase = isinstance(settings.free_energy, RegularSolution)
    problem = TwoPhaseProblem if two_phase else TransportProblem  # Cahn–Hilliard or Fick
    transport = problem(
        bundle, materials, settings, case.active_surfaces, lith.soc_start, lith.theta_rate
    )
    check_interfaces(case, case_path, bundle)
    derived = DerivedFields(mechanics, case.crack_risk, case.active_surfaces)
    extremes = RunExtremes(resume.meta["extremes"] if resume else None)
    if resume is not None:
        mechanics.restore_reference_state(resume.meta["mechanics"])
    stats = bundle.stats
    summary.update(
        dofs=mechanics.num_dofs,
        transport_dofs=int(transport.num_dofs),
        cells=stats.num_cells,
        mesh=mesh_summary(stats),
        materials={region: m.name for region, m in case.materials.items()},
        transport={
            "active_surfaces": case.active_surfaces,
            "active_surface_area_m2": transport.surface_area,
            "active_volume_m3": transport.volume,
            "flux_mol_m2_s": transport.flux,
            "current_density_A_m2": transport.current_density,
        },
    )
    log.info(
        "mesh: %d cells, %d DOFs (P%d) + %d transport DOFs on %d rank(s); j = %.3g mol/m²/s",
        stats.num_cells,
        mechanics.num_dofs,
        case.solver.degree,
        transport.num_dofs,
        comm.size,
        transport.flux,
    )
    fields = FieldWriter(comm, fields_path(out, summary), derived)
    history = HistoryWriter(
        comm, out / "history.csv", keep_rows=resume.step + 1 if resume else None
    )
    checkpoints = Checkpoints(
        comm, out, case.output.checkpoint_every, nodal={"theta": transport.theta}
    )
    control = StepControl(lith, case.solver.adaptive)
    if resume is not None:
        resume.restore("theta", transport.theta)
        m = resume.meta
        control = StepControl(lith, case.solver.adaptive, resume.step, m["time_s"], m["next_dt_s"])
    solve_time, maxima = 0.0, {}

    def record(dt: float, newton: int) -> None:
        """Mechanics, derived fields, history row, fields, checkpoint of the accepted step."""
        nonlocal solve_time, maxima
        step, t = control.step, control.time
        tic = time.perf_counter()
        mechanics.theta.interpolate(transport.theta)
        state = mechanics.solve_current()
        derived.update()
        solve_time += time.perf_counter() - tic
        particles = derived.particle_table()
        aggregates = derived.aggregates(particles)
        theta_min, theta_max = transport.theta_range()
        soc = transport.soc()
        extremes.update(derived.locate(aggregates, particles), step, soc, t)
        row = {
            "time_s": t,
            "soc": soc,
            "soc_charge": lith.soc_start + lith.theta_rate * t,
            "stack_pressure_Pa": state.stack_pressure,
            "stack_strain": state.top_displacement / case.geometry.stack_height,
            **aggregates,
            "theta_min": theta_min,
            "theta_max": theta_max,
            "theta_surface_mean": transport.surface_mean(),
            "newton_iterations": newton,
            "krylov_iterations": state.krylov_iterations,
            "dt_s": dt,
        }
        history.write(row)
        if step % case.output.fields_every == 0 or control.done:
            fields.write(t)
        maxima = aggregates
        sigma1 = max(v for k, v in aggregates.items() if k.startswith("max_principal_Pa_"))
        log.info(
            "step %3d/%s  t %9.1f s  dt %8.2f s  SOC %.4f  θ %.3f–%.3f  Newton %d  "
            "max σ1 %8.1f MPa",
            step,
            control.total_steps or "?",
            t,
            dt,
            soc,
            theta_min,
            theta_max,
            newton,
            sigma1 / 1e6,
        )
        summary.update(steps=step, final={**row}, extremes=extremes.as_dict(), particles=particles)
        meta = resume_meta(
            summary,
            bundle,
            time_s=t,
            next_dt_s=control.dt,
            extremes=extremes.as_dict(),
            mechanics=mechanics.reference_state(),
        )
        checkpoints.step_done(step, meta, last=control.done)
        stop_if_signalled()  # collective: every rank stops at the same step

    try:
        if resume is None:
            record(0.0, 0)  # step 0: the initial state
        while not control.done:
            dt = control.next_time() - control.time
            tic = time.perf_counter()
            try:
                newton = transport.step(dt).newton_iterations
            except SolverError as exc:  # θ is back at the last accepted state
                solve_time += time.perf_counter() - tic
                control.cut_back(exc)
                continue
            solve_time += time.perf_counter() - tic
            control.accept(newton)
            record(dt, newton)
    except RunInterrupted:
        checkpoints.flush()  # every rank stopped at the same step boundary
        raise
    finally:
        fields.close()
        history.close()
    t_end = time.perf_counter()
    finish_summary(comm, summary, maxima, (t_start, t_mesh, t_end), solve_time, mechanics.timings)
    log.info("done: %d steps in %.1f s", control.step, t_end - t_start)
