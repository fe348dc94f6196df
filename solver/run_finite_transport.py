"""The time loop of model ``finite`` with galvanostatic lithiation: Li transport at finite strain.

Step 0 is the equilibrium at the initial θ = soc_start (ramped from the unlithiated state).
Each step k ≥ 1 advances θ and u by Δt_k with staggered transport–mechanics passes
(solver/physics/chemomech.py); a failed step is cut back when ``solver.adaptive`` is on
(solver/stepping.py), else it fails the run (exit 3). History per step as model
``transport-small`` (``soc`` from θ, ``soc_charge`` from the charge passed, ``theta_min``,
``theta_max``, ``theta_surface_mean``), except that ``newton_iterations`` and
``krylov_iterations`` count the mechanics Newton and Krylov iterations of all passes of the
step, plus ``coupling_passes`` (transport solves of the step) and
``transport_newton_iterations``. Restart: θ, u and the plastic state (Cp⁻¹, ε̄_p) are
checkpointed (solver.run.restart_fields) and restored; the run continues from them (the
displacement predictor of the first step after a restart starts afresh).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mpi4py import MPI

from solver.case import Case, GalvanostaticLithiation, Mechanics, Transport
from solver.checkpoint import Checkpoint, Checkpoints
from solver.derived import DerivedFields
from solver.errors import SolverError
from solver.extremes import RunExtremes
from solver.physics.chemomech import CoupledStep, FiniteTransport
from solver.physics.supports import supports_for
from solver.run import (
    check_interfaces,
    fields_path,
    finish_summary,
    mesh_for_run,
    restart_fields,
    resume_meta,
    step_outputs,
)
from solver.run_transport import describe_transport
from solver.stepping import StepControl, Window
from solver.writers import FieldWriter, HistoryWriter

log = logging.getLogger("ssbmech")


def finite_transport_time_loop(
    case: Case,
    case_path: Path,
    out: Path,
    comm: MPI.Comm,
    summary: dict[str, Any],
    t_start: float,
    stop_if_signalled: Callable[[], None],
    resume: Checkpoint | None,
) -> None:
    """Run the galvanostatic ``finite`` model of ``case`` into ``out`` (updates ``summary``).

    Arguments as ``solver.run_transport.transport_time_loop``.
    """
    lith, settings = case.lithiation, case.transport
    assert isinstance(lith, GalvanostaticLithiation) and isinstance(settings, Transport)
    options = case.mechanics or Mechanics()
    log.info("case %s: building geometry and mesh", case.name)
    bundle = mesh_for_run(comm, case, case_path, out, resume)
    t_mesh = time.perf_counter()
    coupled = FiniteTransport(
        bundle,
        dict(case.materials),
        supports_for(case.loading),
        case.solver,
        options,
        settings,
        case.active_surfaces,
        lith.soc_start,
        lith.theta_rate,
    )
    mechanics, transport = coupled.mechanics, coupled.transport
    check_interfaces(case, case_path, bundle)
    derived = DerivedFields(mechanics, case.crack_risk, case.active_surfaces)
    extremes = RunExtremes(resume.meta["extremes"] if resume else None)
    describe_transport(
        summary,
        case,
        bundle,
        mechanics.num_dofs,
        transport,
        stress_coupling=settings.stress_coupling,
    )
    fields = FieldWriter(comm, fields_path(out, summary), derived)
    history = HistoryWriter(
        comm, out / "history.csv", keep_rows=resume.step + 1 if resume else None
    )
    state_fields = {"theta": transport.theta, **restart_fields(mechanics)}
    checkpoints = Checkpoints(comm, out, case.output.checkpoint_every, fields=state_fields)
    window = Window(0.0, lith.duration, dt=lith.dt, steps=lith.steps)
    control = StepControl(window, case.solver.adaptive)
    solve_time, maxima = 0.0, {}

    def record(dt: float, info: CoupledStep) -> None:
        """Derived fields, history row, fields, checkpoint of the accepted step."""
        nonlocal solve_time, maxima
        step, t = control.step, control.time
        tic = time.perf_counter()
        derived.update()
        solve_time += time.perf_counter() - tic
        particles = derived.particle_table()
        aggregates = derived.aggregates(particles)
        state = info.state
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
            "newton_iterations": info.newton_iterations,
            "krylov_iterations": info.krylov_iterations,
            "coupling_passes": info.passes,
            "transport_newton_iterations": info.transport_newton_iterations,
            "dt_s": dt,
        }
        history.write(row)
        if step % case.output.fields_every == 0 or control.done:
            fields.write(t)
        maxima = aggregates
        sigma1 = max(v for k, v in aggregates.items() if k.startswith("max_principal_Pa_"))
        log.info(
            "step %3d/%s  t %9.1f s  dt %8.2f s  SOC %.4f  θ %.3f–%.3f  passes %d  Newton %d  "
            "KSP %d  max σ1 %8.1f MPa",
            step,
            control.total_steps or "?",
            t,
            dt,
            soc,
            theta_min,
            theta_max,
            info.passes,
            info.newton_iterations,
            info.krylov_iterations,
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

    with step_outputs(checkpoints, fields, history):
        tic = time.perf_counter()
        if resume is None:
            first = coupled.start()
            solve_time += time.perf_counter() - tic
            record(0.0, first)  # step 0: the initial state
        else:
            mechanics.restore_reference_state(resume.meta["mechanics"])
            for name, f in state_fields.items():
                resume.restore(name, f)
            m = resume.meta
            control = StepControl(
                window, case.solver.adaptive, resume.step, m["time_s"], m["next_dt_s"]
            )
            coupled.resume()
            solve_time += time.perf_counter() - tic
        while not control.done:
            dt = control.next_time() - control.time
            tic = time.perf_counter()
            try:
                result = coupled.step(dt)
            except SolverError as exc:  # θ, u and the plastic state are back at t_n
                solve_time += time.perf_counter() - tic
                control.cut_back(exc)
                continue
            solve_time += time.perf_counter() - tic
            control.accept(result.newton_iterations)
            record(dt, result)
    t_end = time.perf_counter()
    finish_summary(comm, summary, maxima, (t_start, t_mesh, t_end), solve_time, mechanics.timings)
    log.info("done: %d steps in %.1f s", control.step, t_end - t_start)
