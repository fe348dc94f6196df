"""Two-phase lithiation of crystalline Si: Cahn–Hilliard transport with a regular solution.

Unknowns θ = c/c_max (-) and the chemical potential μ (J mol-1), P1 × P1 on the active cells
Ω_a (c per reference volume, mol m-3). Free energy per mole of host sites (solver/free_energy.py)

    G[θ] = ∫ g(θ) + (κ/2) |∇θ|² dx,   g = RT [θ ln θ + (1 − θ) ln(1 − θ)] + Ω_rs θ (1 − θ)

    ∂θ/∂t + ∇·(J/c_max) = 0,   J/c_max = −M(θ) ∇μ,   M(θ) = D(θ) θ (1 − θ)/(RT)
    μ = RT ln(θ/(1 − θ)) + Ω_rs (1 − 2θ) − κ ∇²θ

with the galvanostatic inward flux −J·n = j (mol m-2 s-1) on the active surfaces S and
∇θ·n = 0, J·n = 0 elsewhere. Backward Euler (v, w P1 test functions):

    ∫_a (θ − θ_n) v dx + Δt ∫_a M(θ) ∇μ·∇v dx − Δt (j/c_max) ∫_S v dA = 0
    ∫_a μ w dx − ∫_a [RT ln(θ/(1 − θ)) + Ω_rs (1 − 2θ)] w dx − ∫_a κ ∇θ·∇w dx = 0

With Ω_rs = κ = 0, θ(1 − θ) ∇ln(θ/(1 − θ)) = ∇θ and this is Fick's law with D(θ)
(solver/physics/transport.py); with Ω_rs > 2RT the solution separates into θ_α and
θ_β = 1 − θ_α (binodal) across an interface of width ≈ sqrt(κ/Ω_rs): the sharp a-Li_xSi/c-Si
front of the first lithiation of c-Si (Chon et al., PRL 107 (2011) 045503; McDowell et al.,
Adv. Mater. 24 (2012) 6034; phase-field treatments of the same front: Chen et al.,
J. Electrochem. Soc. 161 (2014) F3164; its sharp-interface limit: Meca, Münch & Wagner,
Eur. J. Appl. Math. (2018), doi:10.1017/S0956792517000067). Defaults of Ω_rs, κ, T:
solver.case.RegularSolution.

At finite strain (model ``finite``, solver/physics/chemomech.py) the same equations hold in
the reference configuration X with θ per reference volume: the gradient energy penalises the
spatial gradient, (κ/2) ∇_Xθ·C⁻¹∇_Xθ per host site, and the flux is pulled back,
J0/c_max = −M(θ) C⁻¹ ∇_X μ (C = FᵀF, cf. solver/physics/transport.py), so the optional
``c_inv`` puts C⁻¹ into both gradient terms:

    Δt ∫_a M(θ) (C⁻¹∇μ)·∇v dX   and   ∫_a κ (C⁻¹∇θ)·∇w dX.

The mechanics enters only geometrically (no stress term in μ). The charge balance is the
same, and so is the sharp-front mass balance in reference coordinates.

Discretisation choices:
- Internally μ̃ = μ/(RT) (-) is the unknown, so both fields are O(1) for Newton's increment
  test; M ∇μ = D θ(1 − θ) ∇μ̃.
- The μ equation is integrated with the vertex rule (lumped mass): μ̃_i m_i =
  m_i [ln(θ_i/(1 − θ_i)) + χ (1 − 2θ_i)] + (κ/RT) (K θ)_i (m_i = ∫ φ_i dx, K the P1 stiffness,
  integrated exactly): the logarithm is evaluated only at nodes (Copetti & Elliott,
  Numer. Math. 63 (1992) 39, lumped scheme for the logarithmic free energy), and μ̃ at a
  given θ is explicit. Each step starts Newton from (θ_n, μ̃(θ_n)), so a step depends on θ_n
  and Δt only: a restart from a θ checkpoint reproduces the uninterrupted run exactly.
- ln x is continued linearly below x = LOG_FLOOR (C¹), so a Newton iterate that leaves (0, 1)
  is pulled back instead of producing NaN; the converged θ stays inside (0, 1).
- Like the Fick solver: one P1 × P1 space on the whole mesh, forms over the active cells, the
  DOFs not touched by an active cell held at 0 (identity rows: a zero-valued term over the
  other cells puts their diagonal into the sparsity pattern, which a direct LU needs),
  ∫_S v dA exact for flat facets (solver/physics/regions.py). Summing the θ equations gives
  the discrete mass balance
  ∫_a θ dx = ∫_a θ_0 dx + (j/c_max) A_S t to the solver tolerance.
- Linear solver: the mixed Jacobian is non-symmetric and indefinite-like (a mass block
  coupling θ and μ̃), for which algebraic multigrid alone does not work; the default is a
  direct LU factorisation (MUMPS, parallel), right for the coarse meshes of a particle or a
  slab. Large 3D meshes can override it through transport.petsc_options (e.g. ``ksp_type:
  gmres`` with ``pc_type: fieldsplit`` / ``pc_fieldsplit_type: schur``; not tested here).
"""

from __future__ import annotations

import math

import numpy as np
import ufl
from dolfinx import fem, la
from dolfinx.fem.petsc import assemble_vector
from dolfinx.nls.petsc import NewtonSolver
from mpi4py import MPI
from petsc4py import PETSc

from meshes.bundle import MeshBundle
from solver.case import RegularSolution, TabulatedDiffusivity, Transport
from solver.errors import CaseError, SolverError
from solver.free_energy import R_GAS
from solver.materials import Material
from solver.physics.regions import region_dofs, surface_load
from solver.physics.transport import (
    FARADAY,
    NEWTON_MAX_IT,
    NEWTON_RTOL,
    ThetaMeasures,
    TransportStep,
    _FluxProblem,
    lithium_host,
    piecewise_linear,
)

DEFAULT_PETSC_OPTIONS: dict[str, str | int | float | bool] = {
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
    "mat_mumps_icntl_14": 200,
}
"""Direct LU (MUMPS) of the mixed (θ, μ̃) Jacobian; see the module docstring. ICNTL(14): 200 %
more workspace than MUMPS's estimate, which delayed pivots of the indefinite Jacobian inside
the spinodal region exceed (INFOG(1) = −9 otherwise)."""

OPTIONS_PREFIX = "ssbmech_two_phase_"
NEWTON_ATOL = 1.0e-10  # ‖(δθ, δμ̃)‖ (-): a step that changes nothing
SATURATED = 0.9999
"""A nodal θ above this (or below 1 − this) before a failed step names the saturation limit."""
LOG_FLOOR = 1.0e-6
"""ln x is continued linearly, ln ε + (x − ε)/ε, below x = ε (-)."""


def _safe_ln(x: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
    """The natural log for x ≥ LOG_FLOOR, its tangent line below (C¹, finite for any x)."""
    return ufl.conditional(
        ufl.ge(x, LOG_FLOOR),
        ufl.ln(ufl.max_value(x, LOG_FLOOR)),
        math.log(LOG_FLOOR) + (x - LOG_FLOOR) / LOG_FLOOR,
    )


class TwoPhaseProblem(ThetaMeasures):
    """θ and μ in the active materials, advanced by ``step(dt)``; ``theta`` is P1 on the mesh.

    Same interface as solver.physics.transport.TransportProblem (the time loop uses either):
    ``theta_rate`` (s-1) is dSOC/dt of the applied current, j = theta_rate c_max V_a / A_S.
    ``settings.free_energy`` must be a RegularSolution; ``theta_start`` in (0, 1).
    ``c_inv``: optional C⁻¹ (-) of the finite-strain form (module docstring), updated by the
    caller between steps.
    """

    def __init__(
        self,
        bundle: MeshBundle,
        materials: dict[str, Material],
        settings: Transport,
        active_surfaces: list[str],
        theta_start: float,
        theta_rate: float,
        c_inv: ufl.core.expr.Expr | None = None,
    ) -> None:
        energy = settings.free_energy
        if not isinstance(energy, RegularSolution):
            raise SolverError("two-phase transport needs transport.free_energy 'regular_solution'")
        if not 0.0 < theta_start < 1.0:
            raise CaseError(
                f"transport.free_energy 'regular_solution' needs an initial θ in (0, 1), got "
                f"{theta_start:g} (lithiation.soc_start)"
            )
        mesh = bundle.mesh
        self.mesh, self.comm = mesh, mesh.comm
        active = {r: m for r, m in materials.items() if m.active}
        self.c_max = lithium_host(active)[1]
        c_max = self.c_max
        self.chi = energy.chi(settings.temperature)
        """χ = Ω_rs/(RT) (-)."""
        self.RT = R_GAS * settings.temperature
        """RT (J mol-1)."""

        p1 = ufl.FiniteElement("Lagrange", mesh.ufl_cell(), 1)
        self.W = fem.FunctionSpace(mesh, ufl.MixedElement([p1, p1]))
        self.V, theta_dofs = self.W.sub(0).collapse()
        V_mu, mu_dofs = self.W.sub(1).collapse()
        self._theta_dofs = np.asarray(theta_dofs, dtype=np.int32)  # V DOF → W DOF
        self._mu_dofs = np.asarray(mu_dofs, dtype=np.int32)
        self.theta = fem.Function(self.V, name="theta")
        self._theta_n = fem.Function(self.V)
        self._u = fem.Function(self.W)

        tags = tuple(bundle.cell_names[r] for r in active)
        cells = np.concatenate(
            [bundle.cell_tags.indices[bundle.cell_tags.values == t] for t in tags]
        )
        self.active_dofs = region_dofs(self.V, cells)
        self._owned = self.active_dofs[self.active_dofs < self.V.dofmap.index_map.size_local]
        W_map = self.W.dofmap.index_map
        inactive = np.setdiff1d(
            np.arange(W_map.size_local + W_map.num_ghosts, dtype=np.int32),
            region_dofs(self.W, cells),
        )
        bcs = [fem.dirichletbc(fem.Function(self.W), inactive)]
        self.dx = ufl.Measure("dx", domain=mesh, subdomain_data=bundle.cell_tags)(tags)
        dx_lumped = ufl.Measure(
            "dx",
            domain=mesh,
            subdomain_data=bundle.cell_tags,
            metadata={"quadrature_rule": "vertex", "quadrature_degree": 1},
        )(tags)

        self._w = surface_load(self.V, bundle, active_surfaces)
        self.surface_area = self._w.sum()
        """A_S (m²): area of the active surfaces."""
        self.volume = self._allsum(fem.assemble_scalar(fem.form(1.0 * self.dx)))
        """V_a (m³): volume of the active materials."""
        self.flux = theta_rate * c_max * self.volume / self.surface_area
        """Inward Li flux j (mol m-2 s-1) on the active surfaces."""
        self.current_density = FARADAY * self.flux
        """i = F j (A m-2)."""
        self._flux_theta = self.flux / c_max  # m s-1
        flux_w = la.create_petsc_vector(W_map, self.W.dofmap.index_map_bs)
        with flux_w.localForm() as out, self._w.localForm() as w:
            out.set(0.0)
            out.array[self._theta_dofs] = w.array

        D = settings.diffusivity
        theta, mu = ufl.split(self._u)
        v, w = ufl.TestFunctions(self.W)
        if isinstance(D, TabulatedDiffusivity):
            diffusivity: ufl.core.expr.Expr = piecewise_linear(theta, D.theta, D.values)
        else:
            diffusivity = fem.Constant(mesh, PETSc.ScalarType(D))
        self._dt = fem.Constant(mesh, PETSc.ScalarType(0.0))
        kappa = fem.Constant(mesh, PETSc.ScalarType(energy.gradient_energy / self.RT))  # m²
        chi = fem.Constant(mesh, PETSc.ScalarType(self.chi))
        mobility = diffusivity * theta * (1 - theta)  # m² s-1 (times ∇μ̃)

        def homogeneous(t: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
            """μ0/(RT) = ln(θ/(1 − θ)) + χ (1 − 2θ) (-)."""
            return _safe_ln(t) - _safe_ln(1 - t) + chi * (1 - 2 * t)

        def pulled_back(grad: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
            """C⁻¹ ∇_X of the finite-strain form (module docstring), ∇ at small strain."""
            return grad if c_inv is None else ufl.dot(c_inv, grad)

        F = (theta - self._theta_n) * v * self.dx
        F += self._dt * mobility * ufl.inner(pulled_back(ufl.grad(mu)), ufl.grad(v)) * self.dx
        F += (mu - homogeneous(theta)) * w * dx_lumped
        F -= kappa * ufl.inner(pulled_back(ufl.grad(theta)), ufl.grad(w)) * dx_lumped
        others = tuple(t for r, t in bundle.cell_names.items() if r not in active)
        if others:  # zero-valued: gives the held DOFs a diagonal (identity rows) for the LU
            zero = fem.Constant(mesh, PETSc.ScalarType(0.0))
            dx_others = ufl.Measure("dx", domain=mesh, subdomain_data=bundle.cell_tags)(others)
            F += zero * (theta * v + mu * w) * dx_others
        self._problem = _FluxProblem(F, self._u, bcs, flux_w)
        self._free_bcs = bcs
        with self._w.localForm() as w_local:  # θ DOFs on the active surfaces (owned and ghost)
            surface_dofs = np.flatnonzero(w_local.array > 0).astype(np.int32)
        self._theta_hold = fem.Constant(mesh, PETSc.ScalarType(0.5))
        self._hold_bc = fem.dirichletbc(
            self._theta_hold, self._theta_dofs[surface_dofs], self.W.sub(0)
        )

        # μ̃(θ_n) on the nodes: the lumped μ equation solved for μ̃ (Newton's starting point)
        w_mu = ufl.TestFunction(V_mu)
        self._mu_rhs = fem.form(
            homogeneous(self._theta_n) * w_mu * dx_lumped
            + kappa * ufl.inner(pulled_back(ufl.grad(self._theta_n)), ufl.grad(w_mu)) * dx_lumped
        )
        mass = assemble_vector(fem.form(w_mu * dx_lumped))
        mass.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        mass.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        with mass.localForm() as m:
            self._lumped_mass = m.array.copy()  # m³, 0 off the active cells
        self._mu_active = self._lumped_mass > 0

        options = PETSc.Options()
        for key, value in {**DEFAULT_PETSC_OPTIONS, **settings.petsc_options}.items():
            options[f"{OPTIONS_PREFIX}{key}"] = value
        self.solver = self._newton()
        self.theta.x.array[self.active_dofs] = theta_start
        self.num_dofs = 2 * self._allsum(float(self._owned.size))
        """Active θ and μ DOFs."""

    def _newton(self) -> NewtonSolver:
        """A Newton solver with its own KSP (options under OPTIONS_PREFIX)."""
        solver = NewtonSolver(self.comm, self._problem)
        solver.convergence_criterion = "incremental"
        solver.rtol, solver.atol = NEWTON_RTOL, NEWTON_ATOL
        solver.max_it = NEWTON_MAX_IT
        solver.error_on_nonconvergence = False
        solver.report = False
        ksp = solver.krylov_solver
        ksp.setOptionsPrefix(OPTIONS_PREFIX)
        ksp.setFromOptions()
        return solver

    def _mu_of_theta_n(self) -> np.ndarray:
        """μ̃ (-) at every local μ DOF for θ = θ_n (lumped μ equation; 0 off the active cells)."""
        rhs = assemble_vector(self._mu_rhs)
        rhs.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        rhs.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        mu = np.zeros_like(self._lumped_mass)
        with rhs.localForm() as b:
            mu[self._mu_active] = b.array[self._mu_active] / self._lumped_mass[self._mu_active]
        rhs.destroy()
        return mu

    def step(self, dt: float) -> TransportStep:
        """Advance (θ, μ) by ``dt`` (s), backward Euler; SolverError if Newton fails.

        Newton starts from (θ_n, μ̃(θ_n)); on failure ``theta`` keeps θ_n.
        """
        self._theta_n.x.array[:] = self.theta.x.array
        self._u.x.array[self._theta_dofs] = self.theta.x.array
        self._u.x.array[self._mu_dofs] = self._mu_of_theta_n()
        self._dt.value = dt
        self._problem.scale = dt * self._flux_theta
        its, converged = self.solver.solve(self._u)
        ksp = self.solver.krylov_solver
        theta = self._u.x.array[self._theta_dofs]
        if not converged or ksp.getConvergedReason() < 0 or not self._inside(theta):
            # a diverged Newton may have left non-finite values in the LU factors, which
            # MUMPS would keep failing on: the retry gets a fresh solver
            reason = ksp.getConvergedReason()
            self.solver = self._newton()
            lo, hi = self.theta_range()
            hint = "use smaller steps or adjust transport.petsc_options"
            if hi > SATURATED or lo < 1 - SATURATED:
                hint = (
                    f"θ reached {hi if hi > SATURATED else lo:.6f}: the mobility D θ(1 − θ) "
                    "vanishes at θ = 0 and 1, so the saturated surface cannot pass the "
                    "galvanostatic flux (the cell would hit its voltage limit); lower "
                    "lithiation.c_rate or raise transport.diffusivity"
                )
            raise SolverError(
                f"two-phase transport Newton solver did not converge in {its} iterations "
                f"(dt {dt:g} s, last linear-solver reason {reason}); {hint}"
            )
        self.theta.x.array[:] = theta
        return TransportStep(int(its), int(ksp.getIterationNumber()))

    def hold_surface(self, theta: float) -> None:
        """Hold θ = ``theta`` (-, in (0, 1)) on the active-surface DOFs until ``set_flux``."""
        if not 0.0 < theta < 1.0:
            raise SolverError(f"two-phase transport: a held θ must lie in (0, 1), got {theta:g}")
        self._theta_hold.value = theta
        self.set_flux(0.0)
        self._problem.bcs = [*self._free_bcs, self._hold_bc]

    def reject_step(self) -> None:
        """Return θ to the state before the last ``step`` (event detection redoes it)."""
        self.theta.x.array[:] = self._theta_n.x.array

    def _inside(self, theta: np.ndarray) -> bool:
        """Every active nodal θ in (0, 1) on every rank (the logarithm's domain)."""
        values = theta[self.active_dofs]
        ok = bool(np.all((values > 0.0) & (values < 1.0)))
        return bool(self.comm.allreduce(ok, op=MPI.LAND))
