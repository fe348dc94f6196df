"""Lithium diffusion in the active (Li-hosting) materials, surface flux or held surface θ.

Unknown θ = c/c_max (-), c per reference volume (mol m-3). In the active cells Ω_a:

    ∂θ/∂t + ∇·(J/c_max) = 0,   J/c_max = −D(θ) ∇θ

(Fick; the mechanics reads θ; only the optional finite-strain ``drift`` below lets the
stress drive the flux). On the
active surfaces S the inward flux is uniform, −J·n = j (mol m-2 s-1), and zero on every other
boundary of Ω_a; or, during a potentiostatic hold (``hold_surface``), θ = θ_s on the DOFs of S
(Dirichlet) instead of the flux. Backward Euler, weak form
(m³; v P1 test functions):

    ∫_a (θ − θ_n) v dx + Δt ∫_a D(θ) ∇θ·∇v dx − Δt (j/c_max) ∫_S v dA = 0

At finite strain (model ``finite``) the same equation holds in the reference configuration
with θ per reference volume and the pulled-back Fick flux J0/c_max = −D(θ) C⁻¹ ∇_X θ
(C = FᵀF): the optional argument ``c_inv`` (a UFL tensor, e.g. DG0 C⁻¹ of the latest
displacement; derivation in solver/physics/chemomech.py) turns the diffusion term into
Δt ∫_a D(θ) (C⁻¹ ∇θ)·∇v dX. Without it (C = I) the form is exactly the small-strain one. The
surface flux j is per reference area and the mass balance below holds unchanged. With
``transport.stress_coupling`` at finite strain, the optional ``drift`` g(θ) (m-1) adds the
stress-driven part, J0/c_max = −D(θ) C⁻¹ (∇θ − g) (solver/physics/stress_drift.py); it is a
flux too, so the mass balance still holds.

Verification hook: an optional volumetric source s (s-1, a UFL expression) turns the balance
into ∂θ/∂t + ∇·(J/c_max) = s and adds − Δt ∫_a s v dx to the weak form (s is evaluated with
whatever time the caller has put into its Constants, t_{n+1} for backward Euler); the mass
balance then gains Δt ∫_a s dx per step. Used only by the manufactured-solution test.

Discretisation: one P1 space on the whole mesh; the form is assembled over the active cells
only and the DOFs not touched by an active cell carry θ = 0 (identity rows), so no submesh is
needed and θ is directly the field the mechanics reads. ∫_S v dA is assembled exactly for
flat facets without facet integrals (solver/physics/regions.py), so interior interfaces work
in parallel without ghost cells. Summing the equations of the active DOFs gives the discrete
mass balance ∫_a θ dx = ∫_a θ_0 dx + (j/c_max) A_S t exactly (to the solver tolerance).

Each step is a Newton solve (dolfinx NewtonSolver, incremental criterion on θ): a constant D
makes it linear and it converges in 2 iterations (the second confirms); a tabulated D(θ)
needs a few more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.petsc import NonlinearProblem
from dolfinx.nls.petsc import NewtonSolver
from mpi4py import MPI
from petsc4py import PETSc

from meshes.bundle import MeshBundle
from solver.case import TabulatedDiffusivity, Transport
from solver.errors import SolverError
from solver.materials import Material
from solver.physics.regions import region_dofs, surface_load

FARADAY = 96485.33212  # C mol-1

DEFAULT_PETSC_OPTIONS: dict[str, str | int | float | bool] = {
    "ksp_type": "gmres",
    "ksp_rtol": 1.0e-12,
    "ksp_atol": 1.0e-30,
    "ksp_max_it": 1000,
    "pc_type": "gamg",
}
"""GMRES (the Jacobian is non-symmetric for D(θ)) + algebraic multigrid."""

NEWTON_RTOL = 1.0e-9  # ‖δθ_k‖ / ‖δθ_1‖
NEWTON_ATOL = 1.0e-12  # ‖δθ‖ (-): a step that changes nothing
NEWTON_MAX_IT = 25


def piecewise_linear(x: ufl.core.expr.Expr, xs: list[float], ys: list[float]) -> ufl.core.expr.Expr:
    """UFL interpolant through (xs, ys), constant beyond the first and last point."""
    expr: ufl.core.expr.Expr = ufl.as_ufl(ys[0])
    for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:], strict=False):
        expr = ufl.conditional(ufl.ge(x, x0), y0 + (y1 - y0) / (x1 - x0) * (x - x0), expr)
    return ufl.conditional(ufl.ge(x, xs[-1]), ys[-1], expr)


@dataclass(frozen=True)
class TransportStep:
    """Newton and Krylov iterations of one accepted step."""

    newton_iterations: int
    krylov_iterations: int


class _FluxProblem(NonlinearProblem):
    """The residual of the form minus the surface-flux vector Δt (j/c_max) w."""

    def __init__(
        self, F: ufl.Form, u: fem.Function, bcs: list[fem.DirichletBCMetaClass], flux: PETSc.Vec
    ) -> None:
        super().__init__(F, u, bcs=bcs)
        self.flux = flux
        self.scale = 0.0

    def F(self, x: PETSc.Vec, b: PETSc.Vec) -> None:
        """Assemble the residual into ``b``."""
        super().F(x, b)
        b.axpy(-self.scale, self.flux)


def lithium_host(active: dict[str, Material]) -> tuple[Material, float]:
    """The one material of the active regions and its c_max (mol m-3); SolverError otherwise."""
    host = next(iter(active.values()))
    if any(m != host for m in active.values()):
        raise SolverError("transport: all active regions must share one material")
    c_max = host.max_concentration
    if c_max is None:
        raise SolverError(f"transport: material {host.name!r} has no c_max")
    return host, c_max


class ThetaMeasures:
    """What the transport problem classes share: the surface flux, SOC and θ measures.

    The subclass sets ``theta`` (P1), ``dx`` (the active cells), ``volume`` V_a (m³),
    ``surface_area`` A_S (m²), ``_w`` (the ∫_S v dA vector), ``_owned`` (owned active DOFs),
    ``comm``, ``c_max``, ``num_dofs`` (active θ DOFs), its nonlinear problem ``_problem``
    and the boundary conditions without a hold ``_free_bcs``.
    """

    theta: fem.Function
    dx: ufl.Measure
    volume: float
    surface_area: float
    _w: PETSc.Vec
    _owned: np.ndarray
    comm: MPI.Intracomm
    c_max: float
    num_dofs: float
    flux: float
    current_density: float
    _flux_theta: float
    _problem: _FluxProblem
    _free_bcs: list[fem.DirichletBCMetaClass]

    def set_flux(self, flux: float) -> None:
        """Uniform inward flux j = ``flux`` (mol m-2 s-1) on the active surfaces from now on.

        Ends a hold (``hold_surface``); ``flux`` 0 is a rest.
        """
        self.flux = flux
        self.current_density = FARADAY * flux
        self._flux_theta = flux / self.c_max
        self._problem.bcs = self._free_bcs

    def soc(self) -> float:
        """Volume-average θ (-) over the active materials."""
        return self._allsum(fem.assemble_scalar(fem.form(self.theta * self.dx))) / self.volume

    def surface_mean(self) -> float:
        """Area-average θ (-) over the active surfaces (exact for P1)."""
        return float(self._w.dot(self.theta.vector)) / self.surface_area

    def theta_range(self) -> tuple[float, float]:
        """Smallest and largest nodal θ (-) in the active materials."""
        values = self.theta.x.array[self._owned]
        lo = self.comm.allreduce(float(values.min(initial=np.inf)), op=MPI.MIN)
        hi = self.comm.allreduce(float(values.max(initial=-np.inf)), op=MPI.MAX)
        return lo, hi

    def _allsum(self, value: float) -> float:
        return float(self.comm.allreduce(value, op=MPI.SUM))


class TransportProblem(ThetaMeasures):
    """θ in the active materials, advanced by ``step(dt)``; ``theta`` is P1 on the whole mesh.

    ``theta_rate`` (s-1) is dSOC/dt of the applied current (positive: lithiation): the
    inward flux is j = theta_rate c_max V_a / A_S (mol m-2 s-1). Protocols change the surface
    condition between steps with ``set_flux`` / ``hold_surface`` and redo a step after
    ``reject_step`` (the interface solver/protocol_driver.py ``LithiationTarget``).
    ``source``: optional volumetric source s (s-1) of the θ equation (see module docstring;
    verification only).
    ``c_inv``: optional inverse right Cauchy–Green tensor C⁻¹ (-) of the finite-strain
    flux (module docstring); the caller updates it between steps.
    ``drift``: optional g(θ) (m-1, UFL of the unknown θ) of a flux −D(θ) C⁻¹ (∇θ − g), the
    stress-enhanced diffusion at finite strain (solver/physics/stress_drift.py).
    """

    def __init__(
        self,
        bundle: MeshBundle,
        materials: dict[str, Material],
        settings: Transport,
        active_surfaces: list[str],
        theta_start: float,
        theta_rate: float,
        source: ufl.core.expr.Expr | None = None,
        c_inv: ufl.core.expr.Expr | None = None,
        drift: Callable[[fem.Function], ufl.core.expr.Expr] | None = None,
    ) -> None:
        mesh = bundle.mesh
        self.mesh, self.comm = mesh, mesh.comm
        active = {r: m for r, m in materials.items() if m.active}
        self.c_max = lithium_host(active)[1]
        c_max = self.c_max
        self.V = fem.FunctionSpace(mesh, ("CG", 1))
        self.theta = fem.Function(self.V, name="theta")
        self._theta_n = fem.Function(self.V)
        tags = tuple(bundle.cell_names[r] for r in active)
        cells = np.concatenate(
            [bundle.cell_tags.indices[bundle.cell_tags.values == t] for t in tags]
        )
        self.active_dofs = region_dofs(self.V, cells)
        num_dofs = self.V.dofmap.index_map.size_local + self.V.dofmap.index_map.num_ghosts
        self._owned = self.active_dofs[self.active_dofs < self.V.dofmap.index_map.size_local]
        inactive = np.setdiff1d(np.arange(num_dofs, dtype=np.int32), self.active_dofs)
        bcs = [fem.dirichletbc(PETSc.ScalarType(0.0), inactive, self.V)]
        self.dx = ufl.Measure("dx", domain=mesh, subdomain_data=bundle.cell_tags)(tags)

        self._w = surface_load(self.V, bundle, active_surfaces)
        with self._w.localForm() as w_local:  # owned and ghost DOFs on the active surfaces
            surface_dofs = np.flatnonzero(w_local.array > 0).astype(np.int32)
        self._theta_hold = fem.Constant(mesh, PETSc.ScalarType(0.0))
        self._hold_bc = fem.dirichletbc(self._theta_hold, surface_dofs, self.V)
        self.surface_area = self._w.sum()
        """A_S (m²): area of the active surfaces."""
        self.volume = self._allsum(fem.assemble_scalar(fem.form(1.0 * self.dx)))
        """V_a (m³): volume of the active materials."""
        self.flux = theta_rate * c_max * self.volume / self.surface_area
        """Inward Li flux j (mol m-2 s-1) on the active surfaces."""
        self.current_density = FARADAY * self.flux
        """i = F j (A m-2)."""

        D = settings.diffusivity
        if isinstance(D, TabulatedDiffusivity):
            self.diffusivity: ufl.core.expr.Expr = piecewise_linear(self.theta, D.theta, D.values)
        else:
            self.diffusivity = fem.Constant(mesh, PETSc.ScalarType(D))
        self._dt = fem.Constant(mesh, PETSc.ScalarType(0.0))
        theta, v = self.theta, ufl.TestFunction(self.V)
        F = (theta - self._theta_n) * v * self.dx
        grad = ufl.grad(theta) if drift is None else ufl.grad(theta) - drift(theta)
        grad = grad if c_inv is None else ufl.dot(c_inv, grad)
        F += self._dt * self.diffusivity * ufl.inner(grad, ufl.grad(v)) * self.dx
        if source is not None:
            F -= self._dt * source * v * self.dx
        others = tuple(t for r, t in bundle.cell_names.items() if r not in active)
        if others:  # zero-valued: gives the held DOFs a diagonal (identity rows, e.g. for LU)
            zero = fem.Constant(mesh, PETSc.ScalarType(0.0))
            dx_others = ufl.Measure("dx", domain=mesh, subdomain_data=bundle.cell_tags)(others)
            F += zero * theta * v * dx_others
        self._problem = _FluxProblem(F, theta, bcs, self._w)
        self._free_bcs = bcs
        self._flux_theta = self.flux / c_max  # m s-1
        self.solver = NewtonSolver(self.comm, self._problem)
        self.solver.convergence_criterion = "incremental"
        self.solver.rtol, self.solver.atol = NEWTON_RTOL, NEWTON_ATOL
        self.solver.max_it = NEWTON_MAX_IT
        self.solver.error_on_nonconvergence = False
        self.solver.report = False
        ksp = self.solver.krylov_solver
        ksp.setOptionsPrefix("ssbmech_transport_")
        options = PETSc.Options()
        for key, value in {**DEFAULT_PETSC_OPTIONS, **settings.petsc_options}.items():
            options[f"ssbmech_transport_{key}"] = value
        ksp.setFromOptions()
        self.theta.x.array[self.active_dofs] = theta_start
        self.num_dofs = self._allsum(float(self._owned.size))

    def step(self, dt: float) -> TransportStep:
        """Advance θ by ``dt`` (s) with backward Euler; raise SolverError if Newton fails."""
        self._theta_n.x.array[:] = self.theta.x.array
        self._dt.value = dt
        self._problem.scale = dt * self._flux_theta
        its, converged = self.solver.solve(self.theta)
        ksp = self.solver.krylov_solver
        if not converged or ksp.getConvergedReason() < 0:
            self.theta.x.array[:] = self._theta_n.x.array
            raise SolverError(
                f"transport Newton solver did not converge in {its} iterations (dt {dt:g} s, "
                f"last Krylov reason {ksp.getConvergedReason()}); use more steps or adjust "
                "transport.petsc_options"
            )
        return TransportStep(int(its), int(ksp.getIterationNumber()))

    def hold_surface(self, theta: float) -> None:
        """Hold θ = ``theta`` (-) on every DOF of the active surfaces (potentiostatic).

        A Dirichlet condition replaces the flux until ``set_flux``; the current then follows
        from the mass change (solver/protocol_driver.py).
        """
        self._theta_hold.value = theta
        self.set_flux(0.0)
        self._problem.bcs = [*self._free_bcs, self._hold_bc]

    def reject_step(self) -> None:
        """Return θ to the state before the last ``step`` (event detection redoes a step)."""
        self.theta.x.array[:] = self._theta_n.x.array
