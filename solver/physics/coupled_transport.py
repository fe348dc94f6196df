"""Stress-enhanced Li diffusion (Larché–Cahn) solved monolithically with small-strain equilibrium.

Model ``transport-small`` with ``transport.stress_coupling: true``. Chemical potential per mol
of Li (J mol-1) and flux (mol m-2 s-1), c = c_max θ per reference volume:

    μ = μ0(θ) − Ω_eff(θ) σ_h,   μ0 = RT ln(θ/(1−θ))   (ideal solution),
    J = −M c ∇μ,  M c = D(θ) c_max θ(1−θ)/(RT),

so that with a uniform σ_h the flux is Fick's with the case's D(θ), and in general

    J/c_max = −D(θ) [∇θ − θ(1−θ) (Ω_eff(θ)/(R T)) ∇σ_h]          (Li flows towards tension).

Ω_eff is the one consistent with the host's small-strain chemical strain ε_ch = β(θ) I: the
mechanical part of μ is −σ:∂ε_ch/∂c = −3 σ_h β'(θ)/c_max, hence Ω_eff(θ) = 3 β'(θ)/c_max
(m3 mol-1) — exactly Ω for the ``linear`` expansion law (β = Ω c_max (θ − θ_ref)/3), the local
slope (1 + ΔV/V0)^(-2/3) d(ΔV/V0)/dθ / c_max for a ``tabulated`` law (cf.
``Material.partial_molar_volume``, which is d(ΔV/V0)/dθ / c_max).

Discretisation. σ_h of a P1/P2 displacement is discontinuous between cells, so its gradient
is not taken directly: a third field s ∈ P1, the L2 projection of σ_h(u, θ) on the active
cells Ω_a, carries it. Unknowns (u, θ, s) on one mixed space P_degree³ × P1 × P1 on the whole
mesh; θ and s DOFs not touched by an active cell are held at 0 by identity rows (as in
solver/physics/transport.py). Backward Euler, test functions (v, q, w):

    Σ_regions ∫ σ(u, θ) : ε(v) dx = −Σ_f p_f ∫_f n·v dA                       (equilibrium)
    ∫_a (θ − θ_n) q dx + Δt ∫_a D(θ) [∇θ − θ(1−θ) Ω_eff(θ)/(RT) ∇s]·∇q dx
        − Δt (j/c_max) ∫_S q dA = 0                                           (Li balance)
    ∫_a (s − σ_h(u, θ)) w dx = 0                                              (projection)

with σ(u, θ) = λ(θ) tr(ε − β(θ)I) I + 2μ(θ)(ε − β(θ)I), ε = sym ∇u, the moduli and β
evaluated pointwise from the nodal θ (θ = 0 in materials that host no Li). The surface flux j
is the galvanostatic one of TransportProblem (the same ∫_S q dA vector), so the discrete mass
balance ∫_a θ dx = ∫_a θ_0 dx + (j/c_max) A_S t holds to the Newton tolerance whatever the
stress. Each step is one Newton solve on all three fields with the consistent Jacobian
(ufl.derivative). Internally u is in units of L = V_a^(1/3) and s in units of the host's
Young's modulus at θ = 0, so the incremental Newton criterion weighs the three fields alike
(rtol and atol as TransportProblem's). Quadrature degree 2·degree + 1 (the θ-dependent
moduli and β(θ) are not polynomials for a tabulated law).

Linear solver: MUMPS LU by default. The Jacobian is non-symmetric and couples a vector
elasticity block, a transport block and a projection (mass-matrix) block of very different
scales; no off-the-shelf AMG handles that saddle-like block structure, and the
``transport-small`` meshes are small enough for a direct solve (also in parallel). A free body
(``loading.mode free``) has the rigid-body modes of u in the Jacobian's kernel: MUMPS is asked
to detect the null pivots (ICNTL(24)) and every Newton update is projected orthogonal to the
modes. ``solver.petsc_options`` and then ``transport.petsc_options`` override the defaults
(options prefix ``ssbmech_coupled_``).

Loading: ``free``, ``pressure`` (rollers, stack pressure on the top face) and ``fixed_gap``: the
platen stays where the preload put it at the initial state (uniform θ_0; the position w0 is
that of ElasticityProblem's first solve, so it is the same after a restart). ``spring`` is not
offered with the coupling (the platen position would be one more global unknown; the case
check refuses it).
"""

from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem, la
from dolfinx.cpp.nls.petsc import NewtonSolver as CppNewtonSolver
from dolfinx.nls.petsc import NewtonSolver
from petsc4py import PETSc

from meshes.bundle import MeshBundle
from solver.case import SolverSettings, TabulatedDiffusivity, Transport
from solver.errors import SolverError
from solver.free_energy import R_GAS
from solver.materials import Material
from solver.materials.expansion import LinearExpansion
from solver.physics.mechanics import ElasticityProblem, MechanicsState, rigid_body_modes, strain
from solver.physics.regions import region_dofs, surface_load
from solver.physics.transport import (
    FARADAY,
    NEWTON_ATOL,
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
}
"""Direct LU (MUMPS) of the monolithic Jacobian (see module docstring)."""

FREE_BODY_OPTIONS: dict[str, str | int | float | bool] = {"mat_mumps_icntl_24": 1}
"""MUMPS null-pivot detection: the rigid-body modes of a free body."""


def chemical_strain_ufl(material: Material, theta: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
    """β(θ) (-) of an active material as UFL (the law of solver/materials/expansion.py)."""
    law = material.expansion
    if isinstance(law, LinearExpansion):
        return law.partial_molar_volume * law.c_max * (theta - law.theta_ref) / 3.0
    assert law is not None  # only active materials are asked
    volume_change = piecewise_linear(theta, law.theta, law.volume_change_table)
    return (1.0 + volume_change) ** (1.0 / 3.0) - 1.0


def effective_molar_volume(material: Material, theta: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
    """Ω_eff(θ) = 3 β'(θ)/c_max (m3 mol-1) of an active material as UFL (module docstring)."""
    c_max = material.max_concentration
    assert c_max is not None  # checked by the caller
    theta_v = ufl.variable(theta)
    return 3.0 * ufl.diff(chemical_strain_ufl(material, theta_v), theta_v) / c_max


class CoupledTransportProblem(ThetaMeasures):
    """(u, θ, s) of the stress-coupled ``transport-small`` model, advanced by ``step(dt)``.

    The interface of TransportProblem (``theta`` P1 on the whole mesh, ``step``, ``soc``,
    ``surface_mean``, ``theta_range``, ``flux`` …) plus the mechanics: after every solve the
    displacement and θ are handed to ``mechanics`` (an ElasticityProblem on the same mesh,
    used for supports, derived fields and reaction forces), see ``mechanics_state``.
    ``temperature`` (K) enters RT; ``theta_rate`` (s-1) as in TransportProblem.
    """

    def __init__(
        self,
        bundle: MeshBundle,
        materials: dict[str, Material],
        settings: Transport,
        solver_settings: SolverSettings,
        mechanics: ElasticityProblem,
        active_surfaces: list[str],
        theta_start: float,
        theta_rate: float,
    ) -> None:
        mesh = bundle.mesh
        self.mesh, self.comm, self.mechanics = mesh, mesh.comm, mechanics
        supports = mechanics.supports
        if supports.spring_stiffness is not None:
            raise SolverError("stress-coupled transport: loading mode 'spring' is not supported")
        active = {r: m for r, m in materials.items() if m.active}
        host, c_max = lithium_host(active)
        self.c_max = c_max
        cell = mesh.ufl_cell()
        element = ufl.MixedElement(
            [
                ufl.VectorElement("CG", cell, solver_settings.degree),
                ufl.FiniteElement("CG", cell, 1),
                ufl.FiniteElement("CG", cell, 1),
            ]
        )
        self.W = fem.FunctionSpace(mesh, element)
        V_u, map_u = self.W.sub(0).collapse()
        self.V, map_theta = self.W.sub(1).collapse()
        self._map_u = np.asarray(map_u, dtype=np.int32)
        self._map_theta = np.asarray(map_theta, dtype=np.int32)
        self.theta = fem.Function(self.V, name="theta")
        """Li fraction θ (-), P1 on the whole mesh (0 outside the active materials)."""
        self._theta_n = fem.Function(self.V)
        self._u = fem.Function(V_u)
        self.state = fem.Function(self.W)
        """The mixed unknown (u/L, θ, s/S) (see module docstring)."""

        tags = tuple(bundle.cell_names[r] for r in active)
        cells = np.concatenate(
            [bundle.cell_tags.indices[bundle.cell_tags.values == t] for t in tags]
        )
        self.active_dofs = region_dofs(self.V, cells)
        index_map = self.V.dofmap.index_map
        self._owned = self.active_dofs[self.active_dofs < index_map.size_local]
        inactive = np.setdiff1d(
            np.arange(index_map.size_local + index_map.num_ghosts, dtype=np.int32),
            self.active_dofs,
        )
        self.V_s, map_s = self.W.sub(2).collapse()
        self._map_s = np.asarray(map_s, dtype=np.int32)
        zero = PETSc.ScalarType(0.0)
        bcs = [
            fem.dirichletbc(zero, self._map_theta[inactive], self.W.sub(1)),
            fem.dirichletbc(zero, self._map_s[inactive], self.W.sub(2)),
        ]
        fdim = mesh.topology.dim - 1
        for name, comp in supports.rollers.items():
            facets = bundle.facet_tags.indices[bundle.facet_tags.values == bundle.facet_names[name]]
            dofs = fem.locate_dofs_topological(self.W.sub(0).sub(comp), fdim, facets)
            bcs.append(fem.dirichletbc(zero, dofs, self.W.sub(0).sub(comp)))
        if supports.platen is not None:  # fixed gap: u_z = w0 on the platen face
            facets = bundle.facet_tags.indices[
                bundle.facet_tags.values == bundle.facet_names[supports.platen]
            ]
            dofs = fem.locate_dofs_topological(self.W.sub(0).sub(2), fdim, facets)
            self._platen = fem.Constant(mesh, PETSc.ScalarType(0.0))
            bcs.append(fem.dirichletbc(self._platen, dofs, self.W.sub(0).sub(2)))
        dx_all = ufl.Measure("dx", domain=mesh, subdomain_data=bundle.cell_tags)
        self.dx = dx_all(tags)
        degree = {"quadrature_degree": 2 * solver_settings.degree + 1}
        dx_q = dx_all(metadata=degree)
        ds = ufl.Measure("ds", domain=mesh, subdomain_data=bundle.facet_tags)

        self._w = surface_load(self.V, bundle, active_surfaces)
        self.surface_area = self._w.sum()
        """A_S (m²): area of the active surfaces."""
        self.volume = self._allsum(fem.assemble_scalar(fem.form(1.0 * self.dx)))
        """V_a (m³): volume of the active materials."""
        self.flux = theta_rate * c_max * self.volume / self.surface_area
        """Inward Li flux j (mol m-2 s-1) on the active surfaces."""
        self.current_density = FARADAY * self.flux
        """i = F j (A m-2)."""

        # scales: u = L û, s = S ŝ; rows of u scaled by 1/L², of θ and s by 1/L³
        self.length_scale = self.volume ** (1.0 / 3.0)
        self.stress_scale = float(host.youngs_modulus(0.0))
        L, S = self.length_scale, self.stress_scale
        u_hat, theta, s_hat = ufl.split(self.state)
        v, q, w = ufl.TestFunctions(self.W)
        u = L * u_hat
        self._dt = fem.Constant(mesh, PETSc.ScalarType(0.0))
        F = (theta - self._theta_n) * q / L**3 * dx_q(tags)
        for region, material in materials.items():
            th = theta if material.active else ufl.as_ufl(0.0)
            sigma = self._stress(material, u, th)
            F += ufl.inner(sigma / S, strain(v)) / L**2 * dx_q(bundle.cell_names[region])
        n = ufl.FacetNormal(mesh)
        for name, pressure in supports.pressure.items():
            F += pressure / S * ufl.inner(n, v) / L**2 * ds(bundle.facet_names[name])
        omega_eff = effective_molar_volume(host, theta)
        self.temperature = settings.temperature
        D = settings.diffusivity
        if isinstance(D, TabulatedDiffusivity):
            diffusivity: ufl.core.expr.Expr = piecewise_linear(theta, D.theta, D.values)
        else:
            diffusivity = fem.Constant(mesh, PETSc.ScalarType(D))
        drift = theta * (1 - theta) * omega_eff * S / (R_GAS * self.temperature)
        grad_mu = ufl.grad(theta) - drift * ufl.grad(s_hat)  # μ gradient (units of RT/θ(1−θ))
        F += self._dt * diffusivity * ufl.inner(grad_mu, ufl.grad(q)) / L**3 * dx_q(tags)
        sigma_h = ufl.tr(self._stress(host, u, theta)) / 3.0
        F += (s_hat - sigma_h / S) * w / L**3 * dx_q(tags)

        load = la.create_petsc_vector(self.W.dofmap.index_map, self.W.dofmap.index_map_bs)
        with load.localForm() as local, self._w.localForm() as w_local:
            local.set(0.0)
            local.array[self._map_theta] = w_local.array / L**3
        self._problem = _FluxProblem(F, self.state, bcs, load)
        self._free_bcs = bcs
        with self._w.localForm() as w_local:  # θ DOFs on the active surfaces (owned and ghost)
            surface_dofs = np.flatnonzero(w_local.array > 0).astype(np.int32)
        self._theta_hold = fem.Constant(mesh, PETSc.ScalarType(0.0))
        self._hold_bc = fem.dirichletbc(
            self._theta_hold, self._map_theta[surface_dofs], self.W.sub(1)
        )
        self._flux_theta = self.flux / c_max  # m s-1

        self.increments: list[float] = []
        """‖δx‖ of every Newton iteration of the last solve (scaled unknowns; convergence)."""
        self._nullspace: PETSc.NullSpace | None = None
        options = {**DEFAULT_PETSC_OPTIONS}
        if supports.free:
            self._nullspace = self._rigid_modes(V_u)
            options.update(FREE_BODY_OPTIONS)
        options.update({**solver_settings.petsc_options, **settings.petsc_options})
        self.solver = NewtonSolver(self.comm, self._problem)
        self.solver.convergence_criterion = "incremental"
        self.solver.rtol, self.solver.atol = NEWTON_RTOL, NEWTON_ATOL
        self.solver.max_it = NEWTON_MAX_IT
        self.solver.error_on_nonconvergence = False
        self.solver.report = False
        self.solver.set_update(self._update)
        ksp = self.solver.krylov_solver
        ksp.setOptionsPrefix("ssbmech_coupled_")
        petsc_options = PETSc.Options()
        for key, value in options.items():
            petsc_options[f"ssbmech_coupled_{key}"] = value
        ksp.setFromOptions()
        self.num_dofs = self._allsum(float(self._owned.size))
        """Number of θ DOFs in the active materials (as TransportProblem.num_dofs)."""
        self.num_coupled_dofs = self.W.dofmap.index_map.size_global
        """Number of DOFs of the monolithic (u, θ, s) system."""
        self.theta.x.array[self.active_dofs] = theta_start
        if supports.platen is not None:
            mechanics.theta.interpolate(self.theta)
            mechanics.solve_current()  # the platen position w0 under the preload at θ_0
            w0 = mechanics.reference_state()["platen_w0"]
            assert w0 is not None
            self._platen.value = w0 / self.length_scale
        self.last_step = self.equilibrate()
        """Iterations of the last solve."""

    @staticmethod
    def _stress(
        material: Material, u: ufl.core.expr.Expr, theta: ufl.core.expr.Expr
    ) -> ufl.core.expr.Expr:
        """σ(u, θ) (Pa): isotropic, moduli E(θ), ν(θ) and chemical strain β(θ) pointwise."""
        t = ufl.max_value(0.0, ufl.min_value(theta, 1.0))  # as Material: constant beyond [0, 1]
        E = material.E + ((material.E_lithiated or material.E) - material.E) * t
        nu = material.nu + ((material.nu_lithiated or material.nu) - material.nu) * t
        lmbda, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
        beta = chemical_strain_ufl(material, theta) if material.active else 0.0
        eps = strain(u) - beta * ufl.Identity(3)
        return 2 * mu * eps + lmbda * ufl.tr(eps) * ufl.Identity(3)

    def _rigid_modes(self, V_u: fem.FunctionSpace) -> PETSc.NullSpace:
        """Orthonormal rigid-body modes of u embedded in the mixed space (0 in θ and s)."""
        modes = rigid_body_modes(V_u).getVecs()
        basis = []
        for mode in modes:
            vec = la.create_petsc_vector(self.W.dofmap.index_map, self.W.dofmap.index_map_bs)
            with vec.localForm() as local, mode.localForm() as m_local:
                local.set(0.0)
                local.array[self._map_u] = m_local.array
            basis.append(vec)
        la.orthonormalize(basis)
        return PETSc.NullSpace().create(vectors=basis)

    def _update(self, solver: CppNewtonSolver, dx: PETSc.Vec, x: PETSc.Vec) -> None:
        """Update x ← x − δx, with δx orthogonal to the rigid-body modes of a free body."""
        if self._nullspace is not None:
            self._nullspace.remove(dx)
        self.increments.append(dx.norm())
        x.axpy(-1.0, dx)

    def hold_surface(self, theta: float) -> None:
        """Hold θ = ``theta`` (-) on the active-surface DOFs (potentiostatic) until ``set_flux``."""
        self._theta_hold.value = theta
        self.set_flux(0.0)
        self._problem.bcs = [*self._free_bcs, self._hold_bc]

    def reject_step(self) -> None:
        """Return (u, θ, s) to the state before the last ``step`` (event detection redoes it)."""
        self.state.x.array[:] = self._before
        self._publish()

    def _solve(self, dt: float) -> TransportStep:
        """One Newton solve from θ_n = ``theta`` over ``dt`` (s); restore and raise on failure."""
        previous = self.state.x.array.copy()
        self.state.x.array[self._map_theta] = self.theta.x.array
        self._theta_n.x.array[:] = self.theta.x.array
        self._dt.value = dt
        self._problem.scale = dt * self._flux_theta
        self.increments = []
        its, converged = self.solver.solve(self.state)
        ksp = self.solver.krylov_solver
        if not converged or ksp.getConvergedReason() < 0:
            self.state.x.array[:] = previous
            raise SolverError(
                f"stress-coupled transport Newton solver did not converge in {its} iterations "
                f"(dt {dt:g} s, last linear-solver reason {ksp.getConvergedReason()}); use more "
                "steps or adjust transport.petsc_options"
            )
        self.state.x.scatter_forward()
        self._before = previous
        self._publish()
        self.last_step = TransportStep(int(its), int(ksp.getIterationNumber()))
        return self.last_step

    def _publish(self) -> None:
        """Copy θ and u of ``state`` to ``theta`` and to the mechanics problem."""
        self.theta.x.array[:] = self.state.x.array[self._map_theta]
        self._u.x.array[:] = self.length_scale * self.state.x.array[self._map_u]
        self.mechanics.u.interpolate(self._u)
        self.mechanics.theta.interpolate(self.theta)
        self.mechanics.update_lithiation()

    def equilibrate(self) -> TransportStep:
        """Solve for u and s at the current ``theta`` (no time passes; e.g. after a restart)."""
        return self._solve(0.0)

    def step(self, dt: float) -> TransportStep:
        """Advance (u, θ, s) by ``dt`` (s) with backward Euler; raise SolverError if Newton fails.

        On failure θ (and u, s) stay at the last accepted state.
        """
        return self._solve(dt)

    def mechanics_state(self) -> MechanicsState:
        """Stack pressure and top displacement of the coupled solution (see ElasticityProblem)."""
        return self.mechanics.current_state(self.last_step.krylov_iterations)

    def hydrostatic(self) -> fem.Function:
        """The P1 projection s (Pa) of σ_h on the active materials (0 elsewhere)."""
        s = fem.Function(self.V_s, name="hydrostatic_projection")
        s.x.array[:] = self.stress_scale * self.state.x.array[self._map_s]
        return s
