"""The problems of a transport run, per model, as the time loop drives them.

solver/run_transport.py runs models ``transport-small`` and ``finite`` (with galvanostatic or
protocol lithiation) through one loop; a model here supplies

- ``target``: the ``LithiationTarget`` the ProtocolDriver steps (solver/protocol_driver.py),
- ``transport``: θ and its measures (SOC, surface mean, range; checkpointed),
- ``mechanics``: the problem the derived fields read (stresses, reactions, timings),
- ``start()``: the step result of the initial state (step 0), ``resume()``: continue after a
  checkpoint's fields and mechanics reference state were restored,
- ``equilibrium(result)``: the mechanics state of an accepted step and the iteration counts
  its history row records.

``transport-small`` (SmallStrainModel): the transport step (Fick, two-phase or stress-coupled)
then, one-way, linear elasticity at the new θ; history ``newton_iterations`` are the
transport's, ``krylov_iterations`` the elastic solve's. ``finite`` (FiniteStrainModel): the
staggered FiniteTransport step already solved the mechanics; ``newton_iterations`` and
``krylov_iterations`` count the mechanics iterations of all passes, plus ``coupling_passes``
and ``transport_newton_iterations``. Step 0 of ``finite`` is the equilibrium at soc_start,
ramped from the unlithiated state.
"""

from __future__ import annotations

from meshes.bundle import MeshBundle
from solver.case import Case, Mechanics, RegularSolution, Transport
from solver.physics.chemomech import CoupledStep, FiniteTransport
from solver.physics.coupled_transport import CoupledTransportProblem
from solver.physics.finite import FiniteStrainProblem
from solver.physics.mechanics import ElasticityProblem, MechanicsState
from solver.physics.supports import supports_for
from solver.physics.transport import ThetaMeasures, TransportProblem, TransportStep
from solver.physics.two_phase import TwoPhaseProblem
from solver.protocol_driver import LithiationTarget, TransportStepResult


class SmallStrainModel:
    """``transport-small``: a transport problem and the small-strain elasticity it drives."""

    def __init__(self, case: Case, bundle: MeshBundle, soc_start: float) -> None:
        settings = case.transport
        assert isinstance(settings, Transport)
        materials = dict(case.materials)
        self.mechanics = ElasticityProblem(
            bundle, materials, supports_for(case.loading, bundle.mesh.geometry.dim), case.solver
        )
        self.transport: TransportProblem | CoupledTransportProblem | TwoPhaseProblem
        if settings.stress_coupling:
            self.transport = CoupledTransportProblem(
                bundle,
                materials,
                settings,
                case.solver,
                self.mechanics,
                case.active_surfaces,
                soc_start,
                0.0,
            )
        else:  # Cahn–Hilliard (regular solution) or Fick (ideal solution)
            two_phase = isinstance(settings.free_energy, RegularSolution)
            problem = TwoPhaseProblem if two_phase else TransportProblem
            self.transport = problem(
                bundle, materials, settings, case.active_surfaces, soc_start, 0.0
            )
        self.target: LithiationTarget = self.transport

    def start(self) -> TransportStepResult:
        """The initial state: no transport solve (θ = soc_start)."""
        return TransportStep(0, 0)

    def resume(self) -> None:
        """Continue from the restored θ (stress-coupled: u and σ_h of that θ)."""
        if isinstance(self.transport, CoupledTransportProblem):
            self.transport.equilibrate()

    def equilibrium(self, result: TransportStepResult) -> tuple[MechanicsState, dict[str, int]]:
        """Elastic equilibrium at the current θ (stress-coupled: the one already solved)."""
        if isinstance(self.transport, CoupledTransportProblem):
            state = self.transport.mechanics_state()  # u and θ already handed to the mechanics
        else:
            self.mechanics.theta.interpolate(self.transport.theta)
            state = self.mechanics.solve_current()
        counts = {
            "newton_iterations": result.newton_iterations,
            "krylov_iterations": state.krylov_iterations,
        }
        return state, counts


class FiniteStrainModel:
    """``finite``: reference-configuration transport staggered with finite-strain mechanics."""

    def __init__(self, case: Case, bundle: MeshBundle, soc_start: float) -> None:
        settings = case.transport
        assert isinstance(settings, Transport)
        self.coupled = FiniteTransport(
            bundle,
            dict(case.materials),
            supports_for(case.loading),
            case.solver,
            case.mechanics or Mechanics(),
            settings,
            case.active_surfaces,
            soc_start,
            0.0,
        )
        self.target: LithiationTarget = self.coupled
        self.transport: ThetaMeasures = self.coupled.transport
        self.mechanics: FiniteStrainProblem = self.coupled.mechanics

    def start(self) -> TransportStepResult:
        """Equilibrium at the uniform θ = soc_start."""
        return self.coupled.start()

    def resume(self) -> None:
        """Continue from the restored θ, u and plastic state (C⁻¹ and coefficients updated)."""
        self.coupled.resume()

    def equilibrium(self, result: TransportStepResult) -> tuple[MechanicsState, dict[str, int]]:
        """The equilibrium the staggered step accepted, and its iterations."""
        assert isinstance(result, CoupledStep)
        counts = {
            "newton_iterations": result.newton_iterations,
            "krylov_iterations": result.krylov_iterations,
            "coupling_passes": result.passes,
            "transport_newton_iterations": result.transport_newton_iterations,
        }
        return result.state, counts


def transport_model(
    case: Case, bundle: MeshBundle, soc_start: float
) -> SmallStrainModel | FiniteStrainModel:
    """The model of ``case`` on ``bundle``, θ = soc_start in the active materials."""
    if case.model == "finite":
        return FiniteStrainModel(case, bundle, soc_start)
    return SmallStrainModel(case, bundle, soc_start)
