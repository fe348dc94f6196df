"""Li transport at finite strain, staggered with the finite-strain mechanics.

Model ``finite`` with ``lithiation.mode: galvanostatic`` or ``protocol`` (run by
solver/run_transport.py through solver/protocol_driver.py: FiniteTransport is a
``LithiationTarget``). Transport is formulated in the
reference configuration X (cf. Bower, Guduru & Sethuraman 2011, J. Mech. Phys. Solids 59,
804): c (mol m-3) per reference volume, θ = c/c_max, F = I + ∇u, C = FᵀF, J = det F,

    ∂θ/∂t + ∇_X·(J0/c_max) = 0,   J0 = −M c C⁻¹ ∇_X μ   (mol m-2 s-1, per reference area),

the pull-back J0 = J F⁻¹ j of the spatial flux j = −M (c/J) ∇_x μ. For an ideal solution,
μ = μ0 + RT ln θ and M = D/(RT), this is Fick's law pulled back:

    J0/c_max = −D(θ) C⁻¹ ∇_X θ   (m s-1)

(a θ-dependent D(θ) absorbs a thermodynamic factor such as the 1/(1 − θ) of
μ = RT ln(θ/(1 − θ))). At C = I it is exactly the small-strain law, so TransportProblem
(solver/physics/transport.py) solves it with C⁻¹ as a coefficient: DG0, interpolated from the
latest displacement (exact for P1 u: ∇u is constant in a cell). The galvanostatic flux is
per reference area (same charge law as model ``transport-small``), so the charge balance
∫θ dX = ∫θ_0 dX + (j/c_max) A_S0 t holds at any deformation. With a regular-solution free
energy (``transport.free_energy``) the Cahn–Hilliard solver (solver/physics/two_phase.py)
takes C⁻¹ the same way, in its flux and its gradient-energy term: the two-phase front of c-Si
at finite strain.

Coupling. By default the mechanics acts on the transport only geometrically, through C. With
``transport.stress_coupling`` the stress drives the flux too: μ = μ0 − Ω τ_h adds a drift
towards tension, J0/c_max = −D(θ) C⁻¹ [∇θ − θ(1−θ)(Ω/RT) ∇τ_h] (τ_h = J_e σ_h; derivation and
the fixed-stress correction that makes the passes converge: solver/physics/stress_drift.py).
The mechanics reads the nodal θ (solver/physics/finite.py: J_c, E, ν, σ_Y from the cell-mean
θ). Each time step t_n → t_{n+1} is staggered:

    pass k = 1, 2, …:
        θ^k = backward-Euler transport step from θ_n with C⁻¹(u^{k−1}), u^0 = u_n (and with
              the stress drift: τ_h and θ of the last mechanics solve, of t_n for k = 1);
        if k ≥ 2 and max over nodes |θ^k − θ^{k−1}| < coupling_tol: accept θ^{k−1}, u^{k−1};
        u^k = finite-strain equilibrium at θ^k (Newton from u^{k−1}, plastic state of t_n).

Relaxation: from pass 3 on, the θ handed to the mechanics is relaxed with Aitken's factor
(Irons & Tuck 1969; Küttler & Wall 2008), θ^k = θ^{k−1} + ω_k r_k with the pass residual
r_k = T(θ^{k−1}) − θ^{k−1} (T: the transport step) and ω_k = −ω_{k−1} r_{k−1}·(r_k − r_{k−1}) /
|r_k − r_{k−1}|², ω_2 = 1 (dot products over the owned nodes); a factor outside AITKEN_RANGE
(noise near stagnation) falls back to the plain pass, ω = 1. It matters with the stress
drift, whose passes contract slowly when plastic flow softens the response that the fixed-stress
correction assumes (ratio ≈ 0.6 per pass in a plastic RVE: 10 passes, 6 with Aitken). Every
θ^k is an affine combination of transport solutions, so the mass balance holds exactly.

Predictor: from the second step on, u^0 is extrapolated linearly in time from the last two
accepted steps, u^0 = u_n + (Δt/Δt_{n−1})(u_n − u_{n−1}), as the start of pass 1's C⁻¹ and of
its Newton solve (the passes then start O(Δt²) rather than O(Δt) from their fixed point);
it starts afresh with each protocol step (a new surface condition is a new process).
The accepted pair is consistent: u^{k−1} is the equilibrium at θ^{k−1}, and θ^{k−1} solves the
transport step with the C of that u to within coupling_tol (the check pass k's transport
solve costs little, and no mechanics solve is wasted on it: 2 passes = 2 transport solves +
1 mechanics solve). C changes little over a step, so the passes contract fast. The plastic
state is committed only for the accepted step. A failed step (transport or mechanics
diverged, or no convergence in coupling_max_passes) puts back θ_n, u_n, the plastic state
and C⁻¹(u_n) and raises SolverError: the time loop cuts Δt back (solver/stepping.py).

Protocols. The surface condition is the transport problem's: a uniform flux (``set_flux``;
0 is a rest) or, in a potentiostatic hold, θ = θ_s on the active-surface DOFs
(``hold_surface``), which the mechanics sees through the synced nodal θ. ``reject_step`` puts
back the state before the last accepted step (θ_n, u_n, the committed plastic state of t_n,
the platen, C⁻¹(u_n) and the predictor history), so that the driver can redo it with a
shorter Δt (a hold stopped at a SOC).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.function import ElementMetaData
from mpi4py import MPI
from petsc4py import PETSc

from meshes.bundle import MeshBundle
from solver.case import Mechanics, RegularSolution, SolverSettings, Transport
from solver.errors import SolverError
from solver.materials import Material
from solver.physics.finite import FiniteStrainProblem
from solver.physics.mechanics import MechanicsState
from solver.physics.stress_drift import HydrostaticDrift
from solver.physics.supports import Supports
from solver.physics.transport import TransportProblem, lithium_host
from solver.physics.two_phase import TwoPhaseProblem

AITKEN_RANGE = (0.1, 10.0)
"""Accepted Aitken factors ω: 1/(1 − ρ) for a pass contraction ρ in (−9, 0.9)."""


@dataclass(frozen=True)
class CoupledStep:
    """One accepted time step: staggered passes and the iterations they took."""

    passes: int
    """Transport solves (the last one confirmed convergence)."""
    transport_newton_iterations: int
    newton_iterations: int
    """Mechanics Newton iterations of all passes."""
    krylov_iterations: int
    """Mechanics Krylov iterations of all those Newton iterations."""
    theta_change: float
    """max |θ^k − θ^{k−1}| (-) of the last pass."""
    state: MechanicsState
    """Stack pressure and top displacement of the accepted equilibrium."""


@dataclass(frozen=True)
class _Saved:
    """The state at t_n that a failed or rejected step returns to."""

    theta: np.ndarray
    mechanics: tuple[np.ndarray, np.ndarray, np.ndarray, float]
    """FiniteStrainProblem.snapshot(): u, Cp⁻¹, ε̄_p, platen position."""
    c_inv: np.ndarray
    previous: tuple[np.ndarray, float] | None
    """The displacement predictor's u_{n−1}, Δt_{n−1} (s)."""


class FiniteTransport:
    """θ by reference-configuration transport and u by finite-strain mechanics, staggered.

    ``transport.theta`` and ``mechanics.theta`` hold the same nodal θ after every call.
    ``theta_start``, ``theta_rate``: as TransportProblem (initial θ, dSOC/dt in s-1).
    A ``LithiationTarget`` (solver/protocol_driver.py): ``set_flux``, ``hold_surface``,
    ``step``, ``reject_step``, ``soc`` and the active volume, area and c_max.
    """

    def __init__(
        self,
        bundle: MeshBundle,
        materials: dict[str, Material],
        supports: Supports,
        settings: SolverSettings,
        mechanics: Mechanics,
        transport: Transport,
        active_surfaces: list[str],
        theta_start: float,
        theta_rate: float,
    ) -> None:
        mesh = bundle.mesh
        self.comm = mesh.comm
        self.mechanics = FiniteStrainProblem(bundle, materials, supports, settings, mechanics)
        tdg0 = fem.TensorFunctionSpace(mesh, ElementMetaData("DG", 0))
        self.c_inv = fem.Function(tdg0, name="c_inv")
        """C⁻¹ = (FᵀF)⁻¹ (-) of the latest displacement, cell-wise."""
        F = ufl.Identity(3) + ufl.grad(self.mechanics.u)
        self._c_inv_expr = fem.Expression(
            ufl.inv(ufl.dot(F.T, F)), tdg0.element.interpolation_points()
        )
        self._update_c_inv()
        self.drift: HydrostaticDrift | None = None
        """The stress-driven flux (``transport.stress_coupling``), else None."""
        if transport.stress_coupling:
            host, c_max = lithium_host({r: m for r, m in materials.items() if m.active})
            self.drift = HydrostaticDrift(self.mechanics, host, c_max, transport.temperature)
        args = (bundle, materials, transport, active_surfaces, theta_start, theta_rate)
        self.transport: TransportProblem | TwoPhaseProblem
        if isinstance(transport.free_energy, RegularSolution):  # no stress drift (case check)
            self.transport = TwoPhaseProblem(*args, c_inv=self.c_inv)
        else:
            gradient = None if self.drift is None else self.drift.gradient
            self.transport = TransportProblem(*args, c_inv=self.c_inv, drift=gradient)
        self.tol, self.max_passes = mechanics.coupling_tol, mechanics.coupling_max_passes
        self._theta_start = theta_start
        self._krylov = 0
        self.mechanics.newton.krylov_solver.setMonitor(self._count_krylov)
        self._owned = self.transport.V.dofmap.index_map.size_local
        self._previous: tuple[np.ndarray, float] | None = None  # u_{n−1}, Δt_{n−1} (s)
        self._undo: _Saved | None = None  # the state before the last accepted step

    def _count_krylov(self, _ksp: PETSc.KSP, iteration: int, _rnorm: float) -> None:
        if iteration > 0:
            self._krylov += 1

    def _update_c_inv(self) -> None:
        self.c_inv.interpolate(self._c_inv_expr)
        self.c_inv.x.scatter_forward()

    def _sync_mechanics(self) -> None:
        """mechanics.theta ← transport.theta (same P1 nodes)."""
        self.mechanics.theta.interpolate(self.transport.theta)

    def _update_drift(self) -> None:
        """τ_h* and θ* of the stress drift from the mechanics' current state (if coupled)."""
        if self.drift is not None:
            self.drift.update()

    def start(self) -> CoupledStep:
        """Step 0: equilibrium at the uniform initial θ, ramped from the unlithiated state."""
        self._krylov, self._previous, self._undo = 0, None, None
        state = self.mechanics.solve(self._theta_start)
        self._update_c_inv()
        self._update_drift()
        return CoupledStep(0, 0, state.newton_iterations, self._krylov, 0.0, state)

    def resume(self) -> None:
        """Continue from a checkpoint's restored θ, u and plastic state.

        Updates C⁻¹ and the θ-dependent coefficients; the displacement predictor starts afresh.
        """
        self._krylov, self._previous, self._undo = 0, None, None
        self._sync_mechanics()
        self.mechanics.update_lithiation()
        self._update_c_inv()
        self._update_drift()

    def step(self, dt: float) -> CoupledStep:
        """Advance by ``dt`` (s) with staggered passes; SolverError leaves the state of t_n."""
        saved = _Saved(
            self.transport.theta.x.array.copy(),
            self.mechanics.snapshot(),
            self.c_inv.x.array.copy(),
            self._previous,
        )
        u_n = saved.mechanics[0]
        try:
            if self._previous is not None:
                u_prev, dt_prev = self._previous
                self.mechanics.u.x.array[:] = u_n + (dt / dt_prev) * (u_n - u_prev)
                self._update_c_inv()
            result = self._passes(dt, saved.theta)
        except SolverError:
            self._put_back(saved)
            raise
        self._previous, self._undo = (u_n, dt), saved
        return result

    def reject_step(self) -> None:
        """Return to the state before the last accepted ``step`` (θ, u, plastic state, C⁻¹)."""
        assert self._undo is not None, "no step to reject"
        self._put_back(self._undo)
        self._undo = None

    def _put_back(self, saved: _Saved) -> None:
        self.transport.theta.x.array[:] = saved.theta
        self.mechanics.restore(saved.mechanics)
        self._sync_mechanics()
        self.mechanics.update_lithiation()
        self.c_inv.x.array[:] = saved.c_inv
        self._previous = saved.previous
        self._update_drift()

    # --------------------------------------------- LithiationTarget: the transport's surface

    @property
    def volume(self) -> float:
        """V_a (m³): volume of the active materials (reference configuration)."""
        return self.transport.volume

    @property
    def surface_area(self) -> float:
        """A_S (m²): reference area of the active surfaces."""
        return self.transport.surface_area

    @property
    def c_max(self) -> float:
        """c_max (mol m-3, per reference volume) of the active material."""
        return self.transport.c_max

    def set_flux(self, flux: float) -> None:
        """Uniform inward flux j (mol m-2 s-1, per reference area) from now on; ends a hold.

        A new surface condition starts a new process: the displacement predictor starts afresh.
        """
        self.transport.set_flux(flux)
        self._previous = None

    def hold_surface(self, theta: float) -> None:
        """Hold θ = ``theta`` (-) on the active-surface DOFs (no flux; the predictor restarts)."""
        self.transport.hold_surface(theta)
        self._previous = None

    def soc(self) -> float:
        """∫θ dX / V_a (-) over the active materials."""
        return self.transport.soc()

    def _aitken(self, relaxation: float, r_old: np.ndarray, r: np.ndarray) -> float:
        """Aitken's relaxation factor ω_k = −ω_{k−1} r_{k−1}·Δr / Δr·Δr (module docstring)."""
        owned = self._owned
        delta = r[:owned] - r_old[:owned]
        num = self.comm.allreduce(float(r_old[:owned] @ delta), op=MPI.SUM)
        den = self.comm.allreduce(float(delta @ delta), op=MPI.SUM)
        omega = relaxation if den == 0.0 else -relaxation * num / den
        return omega if AITKEN_RANGE[0] <= omega <= AITKEN_RANGE[1] else 1.0

    def _passes(self, dt: float, theta_n: np.ndarray) -> CoupledStep:
        self._krylov = 0
        transport_its = newton = 0
        previous: np.ndarray | None = None  # θ^{k−1}, the θ that u^{k−1} carries
        residual: np.ndarray | None = None  # r_{k−1} = T(θ^{k−2}) − θ^{k−2}
        relaxation = 1.0
        state: MechanicsState | None = None
        change = np.inf
        for k in range(1, self.max_passes + 1):
            self.transport.theta.x.array[:] = theta_n
            transport_its += self.transport.step(dt).newton_iterations
            theta = self.transport.theta.x.array
            if previous is not None:
                r = theta - previous
                change = self.comm.allreduce(
                    float(np.abs(r[: self._owned]).max(initial=0.0)), op=MPI.MAX
                )
                if change < self.tol:
                    assert state is not None
                    self.transport.theta.x.array[:] = previous
                    self.mechanics.commit()
                    return CoupledStep(k, transport_its, newton, self._krylov, change, state)
                if residual is not None:
                    relaxation = self._aitken(relaxation, residual, r)
                residual = r
                theta[:] = previous + relaxation * r
            previous = theta.copy()
            self._sync_mechanics()
            state = self.mechanics.solve_trial()
            newton += state.newton_iterations
            self._update_c_inv()
            self._update_drift()
        raise SolverError(
            f"staggered transport–mechanics passes did not converge in {self.max_passes} "
            f"passes (max |Δθ| {change:.3g} > mechanics.coupling_tol {self.tol:g}, dt {dt:g} s)"
        )
