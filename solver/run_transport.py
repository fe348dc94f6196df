"""The time loop of the transport models: diffuse, solve mechanics, derive, write.

Models ``transport-small`` and ``finite`` with ``lithiation.mode`` galvanostatic or protocol
(the problems per model: solver/transport_models.py). Step 0 is the initial state (θ =
soc_start in the active materials; ``finite``: the equilibrium at it, ramped from the
unlithiated state). Each step k ≥ 1 advances θ by Δt_k under the surface condition of the
current protocol step (solver/protocol_driver.py; a galvanostatic lithiation is a protocol of
one charge step; flux or hold: solver/physics/transport.py). ``transport-small`` then solves
elastic equilibrium with the eigenstrain β(θ(x)) (one-way coupling: the stress does not act
back on the diffusion); with ``transport.stress_coupling`` θ, u and the projected σ_h are
solved together in one Newton step instead (solver/physics/coupled_transport.py). ``finite``
advances θ and u together with staggered transport–mechanics passes
(solver/physics/chemomech.py). A failed step is cut back with ``solver.adaptive``
(solver/stepping.py), else it fails the run (exit 3).

History per step: ``soc`` is the volume-average θ of the active materials, ``soc_charge`` the
SOC from the charge passed (they agree to the solver tolerance: mass balance),
``theta_min``/``theta_max`` (nodal), ``theta_surface_mean`` (area-average on the active
surfaces), the iteration counts of the model (``transport-small``: ``newton_iterations`` of
the transport, ``krylov_iterations`` of the elastic solve; ``finite``: mechanics
``newton_iterations`` and ``krylov_iterations`` of all passes, ``coupling_passes``,
``transport_newton_iterations``), ``dt_s``, ``protocol_step`` (index into lithiation.steps),
``protocol_kind`` (charge 1, discharge −1, rest 0, hold 2) and ``current_density_A_m2``
(applied i = F j, positive for lithiation; for a hold from the mass change over the step).

Restart: the checkpoint holds θ (``finite``: also u and the plastic state,
solver.run.restart_fields), the mechanics reference state and the driver state; the run
continues from them (``finite``: the displacement predictor of the first step after a
restart starts afresh, so the coupling passes reach the same fixed point within
mechanics.coupling_tol).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mpi4py import MPI

from meshes.bundle import MeshBundle
from solver.case import Case, GalvanostaticLithiation, Transport
from solver.checkpoint import Checkpoint, Checkpoints
from solver.derived import DerivedFields
from solver.extremes import RunExtremes
from solver.physics.transport import FARADAY, ThetaMeasures
from solver.protocol import ProtocolLithiation
from solver.protocol_driver import KIND_CODES, ProtocolDriver, StepRecord, resume_state
from solver.run import (
    check_interfaces,
    fields_path,
    finish_summary,
    mesh_for_run,
    mesh_summary,
    restart_fields,
    resume_meta,
    step_outputs,
)
from solver.transport_models import transport_model
from solver.writers import FieldWriter, HistoryWriter

log = logging.getLogger("ssbmech")

LOG_COUNTS = {
    "newton_iterations": "Newton",
    "krylov_iterations": "KSP",
    "coupling_passes": "passes",
    "transport_newton_iterations": "transport Newton",
}
"""Labels of the iteration counts in the step log line."""


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
    """Run the transport model of ``case`` into ``out`` (updates ``summary``).

    ``stop_if_signalled`` is called after every step (collective: raises RunInterrupted on
    every rank once a stop signal arrived). ``resume``: continue after its step (θ, and for
    ``finite`` u and the plastic state, restored). Time steps: solver/protocol_driver.py and
    solver/stepping.py (fixed, or adaptive with cut-backs).
    """
    lith, settings = case.lithiation, case.transport
    assert isinstance(lith, GalvanostaticLithiation | ProtocolLithiation)
    assert isinstance(settings, Transport)
    protocol = lith.as_protocol() if isinstance(lith, GalvanostaticLithiation) else lith
    log.info("case %s: building geometry and mesh", case.name)
    bundle = mesh_for_run(comm, case, case_path, out, resume)
    t_mesh = time.perf_counter()
    model = transport_model(case, bundle, protocol.soc_start)
    mechanics, transport = model.mechanics, model.transport
    check_interfaces(case, case_path, bundle)
    derived = DerivedFields(mechanics, case.crack_risk, case.active_surfaces)
    extremes = RunExtremes(resume.meta["extremes"] if resume else None)
    state_fields = {"theta": transport.theta, **restart_fields(mechanics)}
    tic = time.perf_counter()
    if resume is not None:
        mechanics.restore_reference_state(resume.meta["mechanics"])
        for name, f in state_fields.items():
            resume.restore(name, f)
        model.resume()
    solve_time = time.perf_counter() - tic
    driver = ProtocolDriver(
        protocol,
        case.solver.adaptive,
        model.target,
        resume_state(resume.meta, protocol) if resume else None,
        where=f"{case_path}: lithiation",
    )
    describe_transport(
        summary,
        case,
        bundle,
        mechanics.num_dofs,
        transport,
        stress_coupling=settings.stress_coupling,
        current_density_1C_A_m2=driver.flux(1.0 / 3600.0) * FARADAY,
        protocol=protocol.describe(),
    )
    fields = FieldWriter(comm, fields_path(out, summary), derived)
    history = HistoryWriter(
        comm, out / "history.csv", keep_rows=resume.step + 1 if resume else None
    )
    checkpoints = Checkpoints(comm, out, case.output.checkpoint_every, fields=state_fields)
    maxima: dict[str, float] = {}

    def record(taken: StepRecord) -> None:
        """Mechanics, derived fields, history row, fields, checkpoint of the accepted step."""
        nonlocal solve_time, maxima
        step, t, dt = driver.step, driver.time, taken.dt
        tic = time.perf_counter()
        state, counts = model.equilibrium(taken.result)
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
            "soc_charge": taken.soc_charge,
            "stack_pressure_Pa": state.stack_pressure,
            "stack_strain": state.top_displacement / case.geometry.stack_height,
            **aggregates,
            "theta_min": theta_min,
            "theta_max": theta_max,
            "theta_surface_mean": transport.surface_mean(),
            **counts,
            "dt_s": dt,
            "protocol_step": taken.index,
            "protocol_kind": KIND_CODES[taken.kind],
            "current_density_A_m2": taken.current_density,
        }
        history.write(row)
        if step % case.output.fields_every == 0 or driver.done:
            fields.write(t)
        maxima = aggregates
        sigma1 = max(v for k, v in aggregates.items() if k.startswith("max_principal_Pa_"))
        log.info(
            "step %3d/%s  t %9.1f s  dt %8.2f s  SOC %.4f  θ %.3f–%.3f  %s  max σ1 %8.1f MPa",
            step,
            driver.total_steps or "?",
            t,
            dt,
            soc,
            theta_min,
            theta_max,
            "  ".join(f"{LOG_COUNTS[k]} {v}" for k, v in counts.items()),
            sigma1 / 1e6,
        )
        summary.update(steps=step, final={**row}, extremes=extremes.as_dict(), particles=particles)
        meta = resume_meta(
            summary,
            bundle,
            time_s=t,
            protocol=driver.state(),
            extremes=extremes.as_dict(),
            mechanics=mechanics.reference_state(),
        )
        checkpoints.step_done(step, meta, last=driver.done)
        stop_if_signalled()  # collective: every rank stops at the same step

    with step_outputs(checkpoints, fields, history):
        if resume is None:  # step 0: the initial state
            tic = time.perf_counter()
            initial = model.start()
            solve_time += time.perf_counter() - tic
            record(StepRecord(0.0, initial, 0, driver.current.kind, 0.0, protocol.soc_start))
        while not driver.done:
            tic = time.perf_counter()
            taken = driver.advance()
            solve_time += time.perf_counter() - tic
            record(taken)
    t_end = time.perf_counter()
    finish_summary(comm, summary, maxima, (t_start, t_mesh, t_end), solve_time, mechanics.timings)
    log.info("done: %d steps in %.1f s", driver.step, t_end - t_start)


def describe_transport(
    summary: dict[str, Any],
    case: Case,
    bundle: MeshBundle,
    mechanics_dofs: int,
    transport: ThetaMeasures,
    **extra: Any,
) -> None:
    """Mesh, DOFs and the transport set-up (surfaces, volume, flux) into ``summary`` and the log.

    ``extra`` entries join summary["transport"].
    """
    stats = bundle.stats
    transport_dofs = int(transport.num_dofs)
    summary.update(
        dofs=mechanics_dofs,
        transport_dofs=transport_dofs,
        cells=stats.num_cells,
        mesh=mesh_summary(stats),
        materials={region: m.name for region, m in case.materials.items()},
        transport={
            "active_surfaces": case.active_surfaces,
            "active_surface_area_m2": transport.surface_area,
            "active_volume_m3": transport.volume,
            "flux_mol_m2_s": transport.flux,
            "current_density_A_m2": transport.current_density,
            **extra,
        },
    )
    log.info(
        "mesh: %d cells, %d DOFs (P%d) + %d transport DOFs on %d rank(s); j = %.3g mol/m²/s "
        "(per reference area)",
        stats.num_cells,
        mechanics_dofs,
        case.solver.degree,
        transport_dofs,
        transport.comm.size,
        transport.flux,
    )
