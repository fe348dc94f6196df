"""The time loop of the ``transport-small`` model: diffuse, solve mechanics, derive, write.

Step 0 is the initial state (θ = soc_start in the active materials). Each step k ≥ 1 advances
θ by Δt_k under the surface condition of the current protocol step (solver/protocol_driver.py;
a galvanostatic lithiation is a protocol of one charge step; flux or hold:
solver/physics/transport.py), then solves elastic equilibrium with the eigenstrain β(θ(x))
(one-way coupling: the stress does not act back on the diffusion). With
``transport.stress_coupling`` θ, u and the projected σ_h are solved together in one Newton
step instead (solver/physics/coupled_transport.py) and the mechanics state comes from that
solve. History per step: ``soc`` is the volume-average θ of the active materials,
``soc_charge`` the SOC from the charge passed (they agree to the solver tolerance: mass
balance), ``theta_min``/``theta_max`` (nodal), ``theta_surface_mean`` (area-average on the
active surfaces), ``protocol_step`` (index into lithiation.steps), ``protocol_kind`` (charge 1,
discharge −1, rest 0, hold 2) and ``current_density_A_m2`` (applied i = F j, positive for
lithiation; for a hold from the mass change over the step).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mpi4py import MPI

from meshes.bundle import MeshBundle
from solver.case import Case, GalvanostaticLithiation, RegularSolution, Transport
from solver.checkpoint import Checkpoint, Checkpoints
from solver.derived import DerivedFields
from solver.extremes import RunExtremes
from solver.physics.coupled_transport import CoupledTransportProblem
from solver.physics.mechanics import ElasticityProblem
from solver.physics.supports import supports_for
from solver.physics.transport import FARADAY, ThetaMeasures, TransportProblem
from solver.physics.two_phase import TwoPhaseProblem
from solver.protocol import ProtocolLithiation
from solver.protocol_driver import KIND_CODES, ProtocolDriver, StepRecord, resume_state
from solver.run import (
    check_interfaces,
    fields_path,
    finish_summary,
    mesh_for_run,
    mesh_summary,
    resume_meta,
    step_outputs,
)
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
    Time steps: solver/protocol_driver.py and solver/stepping.py (fixed, or adaptive with
    cut-backs).
    """
    lith, settings = case.lithiation, case.transport
    assert isinstance(lith, GalvanostaticLithiation | ProtocolLithiation)
    assert isinstance(settings, Transport)
    protocol = lith.as_protocol() if isinstance(lith, GalvanostaticLithiation) else lith
    log.info("case %s: building geometry and mesh", case.name)
    bundle = mesh_for_run(comm, case, case_path, out, resume)
    t_mesh = time.perf_counter()
    materials = dict(case.materials)
    mechanics = ElasticityProblem(
        bundle, materials, supports_for(case.loading, bundle.mesh.geometry.dim), case.solver
    )
    transport: TransportProblem | CoupledTransportProblem | TwoPhaseProblem
    if settings.stress_coupling:
        transport = CoupledTransportProblem(
            bundle,
            materials,
            settings,
            case.solver,
            mechanics,
            case.active_surfaces,
            protocol.soc_start,
            0.0,
        )
    else:  # Cahn–Hilliard (regular solution) or Fick (ideal solution)
        two_phase = isinstance(settings.free_energy, RegularSolution)
        problem = TwoPhaseProblem if two_phase else TransportProblem
        transport = problem(
            bundle, materials, settings, case.active_surfaces, protocol.soc_start, 0.0
        )
    check_interfaces(case, case_path, bundle)
    derived = DerivedFields(mechanics, case.crack_risk, case.active_surfaces)
    extremes = RunExtremes(resume.meta["extremes"] if resume else None)
    if resume is not None:
        mechanics.restore_reference_state(resume.meta["mechanics"])
        resume.restore("theta", transport.theta)
        if isinstance(transport, CoupledTransportProblem):
            transport.equilibrate()  # u and σ_h of the restored θ
    driver = ProtocolDriver(
        protocol,
        case.solver.adaptive,
        transport,
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
    checkpoints = Checkpoints(
        comm, out, case.output.checkpoint_every, fields={"theta": transport.theta}
    )
    solve_time, maxima = 0.0, {}

    def record(taken: StepRecord) -> None:
        """Mechanics, derived fields, history row, fields, checkpoint of the accepted step."""
        nonlocal solve_time, maxima
        step, t, dt, newton = driver.step, driver.time, taken.dt, taken.newton_iterations
        tic = time.perf_counter()
        if isinstance(transport, CoupledTransportProblem):
            state = transport.mechanics_state()  # u and θ already handed to the mechanics
        else:
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
            "soc_charge": taken.soc_charge,
            "stack_pressure_Pa": state.stack_pressure,
            "stack_strain": state.top_displacement / case.geometry.stack_height,
            **aggregates,
            "theta_min": theta_min,
            "theta_max": theta_max,
            "theta_surface_mean": transport.surface_mean(),
            "newton_iterations": newton,
            "krylov_iterations": state.krylov_iterations,
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
            "step %3d/%s  t %9.1f s  dt %8.2f s  SOC %.4f  θ %.3f–%.3f  Newton %d  "
            "max σ1 %8.1f MPa",
            step,
            driver.total_steps or "?",
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
            protocol=driver.state(),
            extremes=extremes.as_dict(),
            mechanics=mechanics.reference_state(),
        )
        checkpoints.step_done(step, meta, last=driver.done)
        stop_if_signalled()  # collective: every rank stops at the same step

    with step_outputs(checkpoints, fields, history):
        if resume is None:  # step 0: the initial state
            record(StepRecord(0.0, 0, 0, driver.current.kind, 0.0, protocol.soc_start))
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
