"""Finite-strain chemo-mechanics with optional J2 plasticity (model ``finite``).

Kinematics (reference configuration X, current x = X + u):
    F = I + ∇u = Fe Fp Fc,  Fc = J_c(θ)^{1/3} I,  J_c = 1 + ΔV/V0(θ) (the expansion law),
    Fm = F Fc⁻¹ = J_c^{-1/3} F (mechanical part),  J_e = det Fm (Fp is isochoric),
    be = Fe Feᵀ = Fm Cp⁻¹ Fmᵀ with the plastic state Cp⁻¹ = (Fpᵀ Fp)⁻¹ (reference, det = 1).
Elastic law (compressible neo-Hookean in Fe, energy per intermediate volume, E(θ), ν(θ)):
    ψ = μ/2 (tr be − 3 − 2 ln J_e) + λ/2 (ln J_e)²,  τ = μ (be − I) + λ ln J_e I (Kirchhoff),
    Cauchy σ = τ / J_e,  first Piola P = J_c τ F⁻ᵀ (so that J⁻¹ P Fᵀ = σ, J = J_e J_c).
Equilibrium (reference configuration): ∫ P : ∇v dX = −Σ p_f ∫_f N·v dA — the stack pressure
is a dead load on the reference face (no follower term), rollers hold one component. A rigid
platen (``fixed_gap``, ``spring``) is u_z = w on the top face; w follows from the loading law
by a secant iteration on the nominal reaction pressure P(w) = −R_z / A0 (Pa, reference area),
one Newton solve per secant iterate: P = p0 at the first solve (w0), then w = w0 (fixed gap)
or P = p0 + k (w − w0) (spring of areal stiffness k).

J2 plasticity (``plasticity``: materials with a flow stress σ_Y(θ); perfect plasticity):
the radial return of Simo (1992; Simo & Hughes 1998, Box 9.1) on the Kirchhoff deviator.
Trial: be* = Fm Cp⁻¹ₙ Fmᵀ, s* = μ dev be*, f = |s*| − √(2/3) J_e σ_Y; μ̄ = μ tr(be*)/3;
with a pressure-sensitive material (``flow_pressure_sensitivity`` α) σ_Y becomes
max(σ_Y + α p, 0) with the Cauchy pressure p = −(μ (tr be*/3 − 1) + λ ln J_e)/J_e, which the
radial return does not change (non-associated Drucker–Prager, isochoric flow: the return
stays closed-form and its UFL derivative the consistent tangent);
Δγ = ⟨f⟩ / (2 μ̄); s = s* (1 − 2 μ̄ Δγ / |s*|); τ = s + (μ (tr be*/3 − 1) + λ ln J_e) I.
Update after a converged step: be = s/μ + tr(be*)/3 I, Cp⁻¹ = Fm⁻¹ be Fm⁻ᵀ, ε̄_p += √(2/3) Δγ.
(The update keeps tr be, not det be = J_e^{2/3}: Simo's first-order approximation.) The
return is closed-form in UFL, so ufl.derivative gives the consistent (algorithmic) tangent:
Newton converges quadratically. Without plastic flow the law is exactly the neo-Hookean one.
The state (Cp⁻¹, ε̄_p), moduli, J_c and σ_Y are cell-wise (DG0): with P1 displacements every
integrand is cell-wise constant and one-point quadrature is exact (plasticity needs P1). The
yield test is on the Cauchy stress (von Mises of σ = τ/J_e equals σ_Y on the yield surface),
the stress that film-curvature experiments measure.

Load stepping: each ``solve(theta)`` goes from the previous θ (0 at first: u = 0 is the
unlithiated reference state) to ``theta`` in one step, cut into 2, 4, … substeps (up to
2^max_cutbacks) when Newton diverges; SolverError (exit 3) after that. A spatially varying θ
(Li transport, solver/physics/chemomech.py) goes through ``set_theta`` + ``solve_trial``: one
Newton solve from the current u at the nodal θ (cell-mean θ for the coefficients, as in
``update_lithiation``), no substeps and no commit — the caller ``commit``s the plastic state
once its time step is accepted, or puts back a ``snapshot`` to cut the step back.
Newton: dolfinx.nls.petsc.NewtonSolver, converged when the residual norm (N) is below
newton_rtol × 1e-3 E_max V^(2/3) (the force of a 0.1 % strain over the body's cross-section;
dolfinx 0.5's relative residual divides by the first correction's norm in metres, so it is
switched off). KSP options prefix ``ssbmech_finite_``: GMRES + GAMG with the rigid-body
near-nullspace by default (``PETSC_OPTIONS``); for small problems e.g. ``ksp_type: preonly``,
``pc_type: lu``, ``pc_factor_mat_solver_type: mumps`` via ``solver.petsc_options``. A free
body has no Dirichlet condition: the six rigid-body modes of the deformed configuration are
removed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.function import ElementMetaData
from dolfinx.fem.petsc import NonlinearProblem, assemble_vector
from dolfinx.nls.petsc import NewtonSolver
from mpi4py import MPI
from petsc4py import PETSc

from meshes.bundle import MeshBundle
from solver.case import Mechanics, SolverSettings
from solver.errors import SolverError
from solver.materials import Material
from solver.physics.mechanics import DEFAULT_PETSC_OPTIONS, MechanicsState, rigid_body_modes
from solver.physics.regions import region_dofs
from solver.physics.supports import Supports

log = logging.getLogger("ssbmech")

PETSC_OPTIONS: dict[str, str | int | float | bool] = {
    **DEFAULT_PETSC_OPTIONS,
    "ksp_type": "gmres",
    "ksp_gmres_restart": 100,
}
"""GMRES + GAMG: the algorithmic tangent of the plastic return is not symmetric, and a
compressed neo-Hookean body's tangent need not be positive definite (CG stalls Newton)."""

NO_FLOW = 1e30
"""σ_Y (Pa) in cells whose material does not flow (the yield test never triggers)."""


class _Residual(NonlinearProblem):
    """NonlinearProblem that removes the rigid-body modes of a free body from F and J."""

    def __init__(self, owner: FiniteStrainProblem, F: ufl.Form, J: ufl.Form) -> None:
        super().__init__(F, owner.u, owner.bcs, J)
        self._owner = owner

    def F(self, x: PETSc.Vec, b: PETSc.Vec) -> None:
        super().F(x, b)
        if self._owner.supports.free:
            self._owner.nullspace().remove(b)

    def J(self, x: PETSc.Vec, A: PETSc.Mat) -> None:
        super().J(x, A)
        nullspace = self._owner.nullspace()
        if self._owner.supports.free:
            A.setNullSpace(nullspace)
        A.setNearNullSpace(nullspace)


class FiniteStrainProblem:
    """Finite-strain mechanics on a tagged mesh; ``solve(theta)`` updates ``u`` and the state.

    Interface as ``ElasticityProblem`` for the uniform time loop and ``DerivedFields``:
    ``u``, ``theta``, ``stress(u)`` (Cauchy σ, Pa), ``lmbda``/``mu`` (DG0), region cells.
    """

    def __init__(
        self,
        bundle: MeshBundle,
        materials: dict[str, Material],
        supports: Supports,
        settings: SolverSettings,
        mechanics: Mechanics,
    ) -> None:
        mesh = bundle.mesh
        self.mesh, self.bundle, self.materials, self.supports = mesh, bundle, materials, supports
        self.options = mechanics
        self.comm = mesh.comm
        self.plasticity = mechanics.plasticity
        if self.plasticity and settings.degree != 1:
            raise SolverError("finite-strain plasticity needs P1 displacements (solver.degree 1)")
        self.V = fem.VectorFunctionSpace(mesh, ("CG", settings.degree))
        self.u = fem.Function(self.V, name="u")
        dg0 = fem.FunctionSpace(mesh, ("DG", 0))
        tdg0 = fem.TensorFunctionSpace(mesh, ElementMetaData("DG", 0))
        self.lmbda, self.mu = fem.Function(dg0), fem.Function(dg0)
        self.jc, self.flow = fem.Function(dg0), fem.Function(dg0)
        self.pressure_slope = fem.Function(dg0)
        """α (-) of the pressure-dependent flow stress σ_Y + α p, cell-wise (0: J2)."""
        self.theta = fem.Function(fem.FunctionSpace(mesh, ("CG", 1)), name="theta")
        """Li fraction θ (-), P1; read on the vertices of active-material cells only."""
        self._theta_dg0 = fem.Function(dg0)
        self.cp_inv = fem.Function(tdg0)  # Cp⁻¹ of the last converged state
        self.cp_inv.x.array[:] = np.tile(np.eye(3).ravel(), self.cp_inv.x.array.size // 9)
        self.plastic_strain = fem.Function(dg0, name="plastic_strain")
        """Equivalent plastic strain ε̄_p (-), cell-wise."""
        num_local = mesh.topology.index_map(mesh.topology.dim).size_local
        self.region_cells = {
            region: bundle.cell_tags.indices[bundle.cell_tags.values == bundle.cell_names[region]]
            for region in materials
        }
        self.owned_region_cells = {r: c[c < num_local] for r, c in self.region_cells.items()}
        active_cells = [c for r, c in self.region_cells.items() if materials[r].active]
        self.active_dofs = region_dofs(
            self.theta.function_space, np.concatenate([np.empty(0, np.int32), *active_cells])
        )
        """Local P1 DOFs of θ on active-material cells (on any rank)."""

        fdim = mesh.topology.dim - 1
        facets = {
            name: bundle.facet_tags.indices[bundle.facet_tags.values == tag]
            for name, tag in bundle.facet_names.items()
        }
        self.ds = ufl.Measure("ds", domain=mesh, subdomain_data=bundle.facet_tags)
        self.bcs = []
        for name, comp in supports.rollers.items():
            dofs = fem.locate_dofs_topological(self.V.sub(comp), fdim, facets[name])
            self.bcs.append(fem.dirichletbc(PETSc.ScalarType(0.0), dofs, self.V.sub(comp)))
        self._platen = fem.Constant(mesh, PETSc.ScalarType(0.0))
        if supports.platen is not None:
            dofs = fem.locate_dofs_topological(self.V.sub(2), fdim, facets[supports.platen])
            self.bcs.append(fem.dirichletbc(self._platen, dofs, self.V.sub(2)))
        self._w0: float | None = None  # platen position that carried the preload
        x = mesh.geometry.x[:, 2]
        height = self.comm.allreduce(x.max(initial=-np.inf), op=MPI.MAX) - self.comm.allreduce(
            x.min(initial=np.inf), op=MPI.MIN
        )
        self._e_max = max(max(m.E, m.E_lithiated or 0.0) for m in materials.values())
        self._platen_slope = (
            -self._e_max / height
        )  # dP/dw estimate (Pa/m) for the first secant step

        degree = 1 if settings.degree == 1 else 4
        self.dx = ufl.Measure(
            "dx",
            domain=mesh,
            metadata={"quadrature_degree": degree, "quadrature_scheme": "default"},
        )
        v = ufl.TestFunction(self.V)
        tau, be_new, dgamma, fm = self._constitutive(self.u)
        F = ufl.Identity(3) + ufl.grad(self.u)
        P = self.jc * ufl.dot(tau, ufl.inv(F).T)
        internal = ufl.inner(P, ufl.grad(v)) * self.dx
        residual = internal
        n = ufl.FacetNormal(mesh)
        for name, pressure in supports.pressure.items():
            p = fem.Constant(mesh, PETSc.ScalarType(pressure))
            residual += p * ufl.inner(n, v) * self.ds(bundle.facet_names[name])
        jacobian = ufl.derivative(residual, self.u, ufl.TrialFunction(self.V))
        self._internal = fem.form(internal)
        if supports.reaction_face is not None:
            face = supports.reaction_face
            dofs = fem.locate_dofs_topological(self.V.sub(2), fdim, facets[face])
            self._probe = fem.Function(self.V)
            self._probe.x.array[dofs] = 1.0
            tag = bundle.facet_names[face]
            self.reaction_area = self._allsum(fem.assemble_scalar(fem.form(1.0 * self.ds(tag))))
            self._face_uz = fem.form(self.u[2] * self.ds(tag))

        self._problem = _Residual(self, residual, jacobian)
        self.newton = NewtonSolver(self.comm, self._problem)
        self.newton.convergence_criterion = "residual"
        self.newton.rtol = 0.0  # dolfinx 0.5 divides |r| by the first |du| (m): not used
        self.newton.max_it = mechanics.newton_max_it
        self.newton.error_on_nonconvergence = False
        self.newton.report = False
        self._set_atol()
        ksp = self.newton.krylov_solver
        ksp.setOptionsPrefix("ssbmech_finite_")
        options = PETSc.Options()
        for key, value in {**PETSC_OPTIONS, **settings.petsc_options}.items():
            options[f"ssbmech_finite_{key}"] = value
        ksp.setFromOptions()

        if self.plasticity:
            fm_inv = ufl.inv(fm)
            self._cp_expr = fem.Expression(
                ufl.dot(fm_inv, ufl.dot(be_new, fm_inv.T)),
                tdg0.element.interpolation_points(),
            )
            self._dgamma_expr = fem.Expression(dgamma, dg0.element.interpolation_points())
            self._cp_next, self._dgamma_fn = fem.Function(tdg0), fem.Function(dg0)
        self._theta_now = 0.0  # u = 0 is the stress-free unlithiated state (ΔV/V0(0) = 0)
        self.timings = {"newton": 0.0}
        """Accumulated wall time (s) of the Newton solves."""
        self.num_dofs = self.V.dofmap.index_map.size_global * self.V.dofmap.index_map_bs

    # ------------------------------------------------------------------------ constitutive

    def _constitutive(
        self, u: ufl.core.expr.Expr
    ) -> tuple[ufl.core.expr.Expr, ufl.core.expr.Expr, ufl.core.expr.Expr, ufl.core.expr.Expr]:
        """Kirchhoff τ, updated be, Δγ and Fm of displacement ``u`` (module docstring)."""
        identity = ufl.Identity(3)
        F = identity + ufl.grad(u)
        fm = self.jc ** (-1.0 / 3.0) * F
        je = ufl.det(fm)
        be = ufl.dot(fm, ufl.dot(self.cp_inv, fm.T))
        volumetric = self.lmbda * ufl.ln(je) * identity
        if not self.plasticity:
            return self.mu * (be - identity) + volumetric, be, 0.0 * je, fm
        trace = ufl.tr(be) / 3.0
        s_trial = self.mu * ufl.dev(be)
        norm = ufl.sqrt(ufl.inner(s_trial, s_trial) + (1e-12 * self.mu) ** 2)
        pressure = -(self.mu * (trace - 1.0) + self.lmbda * ufl.ln(je)) / je  # Cauchy p (Pa)
        flow = ufl.max_value(self.flow + self.pressure_slope * pressure, 0.0)
        f = norm - math.sqrt(2.0 / 3.0) * flow * je  # yield on Cauchy: |dev τ| = J_e |s_σ|
        mu_bar = self.mu * trace
        dgamma = ufl.conditional(ufl.gt(f, 0.0), f / (2.0 * mu_bar), 0.0)
        s = s_trial * (1.0 - 2.0 * mu_bar * dgamma / norm)
        tau = s + (self.mu * (trace - 1.0)) * identity + volumetric
        return tau, s / self.mu + trace * identity, dgamma, fm

    def stress(self, u: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
        """Cauchy stress σ = τ / J_e (Pa) of displacement ``u`` from the converged state."""
        tau, _, _, fm = self._constitutive(u)
        return tau / ufl.det(fm)

    def kirchhoff_pressure(self, u: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
        """τ_h = tr τ / 3 = J_e σ_h (Pa) of displacement ``u`` from the converged state."""
        return ufl.tr(self._constitutive(u)[0]) / 3.0

    # ------------------------------------------------------------------------ lithiation

    def set_lithiation(self, theta: float) -> None:
        """Set θ (-) uniformly in every active material (0 elsewhere) and update coefficients."""
        self.theta.x.array[:] = 0.0
        self.theta.x.array[self.active_dofs] = theta
        self.update_lithiation()

    def update_lithiation(self) -> None:
        """Cell-wise (cell-mean θ) λ, μ, J_c and flow stress of every region from θ."""
        self._theta_dg0.interpolate(self.theta)
        for region, material in self.materials.items():
            cells = self.region_cells[region]
            th = self._theta_dg0.x.array[cells]
            if not material.active:
                th = 0.0 * th
            self.lmbda.x.array[cells], self.mu.x.array[cells] = material.lame(th)
            expansion = material.expansion
            self.jc.x.array[cells] = 1.0 + (
                0.0 * th if expansion is None else expansion.volume_change(th)
            )
            flows = self.plasticity and material.plastic
            self.flow.x.array[cells] = material.flow_stress_at(th) if flows else NO_FLOW
            self.pressure_slope.x.array[cells] = (
                material.flow_pressure_sensitivity if flows else 0.0
            )
        for f in (self.lmbda, self.mu, self.jc, self.flow, self.pressure_slope):
            f.x.scatter_forward()

    # ------------------------------------------------------------------------ solve

    def nullspace(self) -> PETSc.NullSpace:
        """Rigid-body modes about the current deformed positions (rebuilt at each call)."""
        return rigid_body_modes(self.V, self.u if self.supports.free else None)

    def _set_atol(self) -> None:
        """Residual tolerance (N): newton_rtol × the force 1e-3 E_max V^(2/3) of 0.1 % strain."""
        volume = self._allsum(fem.assemble_scalar(fem.form(1.0 * ufl.dx(domain=self.mesh))))
        self.newton.atol = self.options.newton_rtol * 1e-3 * self._e_max * volume ** (2.0 / 3.0)

    def reference_state(self) -> dict[str, float | None]:
        """What a restart needs besides the fields u, Cp⁻¹ and ε̄_p (checkpointed as fields).

        The θ (-) the next solve steps from, the platen position (m; the secant's start) and
        the one that carried the preload (m, None before the first solve).
        """
        return {
            "theta": self._theta_now,
            "platen_w": self._platen.value.item(),
            "platen_w0": self._w0,
        }

    def restore_reference_state(self, state: dict[str, float | None]) -> None:
        """Continue from ``reference_state()`` (with u, Cp⁻¹ and ε̄_p restored by the caller)."""
        self._theta_now = state.get("theta") or 0.0
        self._platen.value = state.get("platen_w") or 0.0
        self._w0 = state.get("platen_w0")

    def solve(self, theta: float) -> MechanicsState:
        """Equilibrium at uniform Li fraction ``theta`` (-), stepping from the previous θ."""
        start = self._theta_now
        state = self._stepped(
            lambda k, n: self.set_lithiation(start + (theta - start) * k / n),
            f"from θ = {start:.6g} to {theta:.6g}",
        )
        self._theta_now = theta
        return state

    def _stepped(self, lithiate: Callable[[int, int], None], what: str) -> MechanicsState:
        """Solve the substeps k = 1 … n of ``lithiate(k, n)``, n = 1, 2, 4, … on divergence."""
        saved = self.snapshot()
        tic = time.perf_counter()
        for cut in range(self.options.max_cutbacks + 1):
            substeps = 2**cut
            iterations = self._steps(lithiate, substeps)
            if iterations is not None:
                break
            self.restore(saved)
        else:
            self.timings["newton"] += time.perf_counter() - tic
            raise SolverError(
                f"finite-strain Newton solver diverged {what} "
                f"in {2**self.options.max_cutbacks} substeps (max {self.options.newton_max_it} "
                "iterations each); use more lithiation.steps, mechanics.max_cutbacks or "
                "mechanics.newton_max_it"
            )
        self.timings["newton"] += time.perf_counter() - tic
        if substeps > 1:
            log.info("%s: Newton needed %d substeps", what, substeps)
        return self._state(iterations)

    def _steps(self, lithiate: Callable[[int, int], None], substeps: int) -> int | None:
        """Newton iterations of ``substeps`` lithiation increments, or None if one diverged."""
        total = 0
        for k in range(1, substeps + 1):
            lithiate(k, substeps)
            its = self._newton() if self.supports.platen is None else self._platen_newton()
            if its is None:
                return None
            total += its
            self.commit()
        self._w0 = self._platen.value.item() if self._w0 is None else self._w0
        return total

    def set_theta(self, values: np.ndarray) -> None:
        """Set the nodal θ (-) to ``values`` (local P1 array) and update the coefficients."""
        self.theta.x.array[:] = values
        self.update_lithiation()

    def solve_trial(self) -> MechanicsState:
        """Equilibrium at the current θ field from the current u, without committing.

        One Newton solve (for a platen: the secant iteration of its loading law), no
        substeps; the plastic state stays the last committed one until ``commit()``.
        SolverError if Newton diverges (u is left as it is: ``restore`` a ``snapshot``).
        """
        self.update_lithiation()
        tic = time.perf_counter()
        its = self._newton() if self.supports.platen is None else self._platen_newton()
        self.timings["newton"] += time.perf_counter() - tic
        if its is None:
            raise SolverError(
                f"finite-strain Newton solver diverged (max {self.options.newton_max_it} "
                "iterations)"
            )
        return self._state(its)

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Copies of u, Cp⁻¹, ε̄_p and the platen position: what ``restore`` puts back."""
        return (
            self.u.x.array.copy(),
            self.cp_inv.x.array.copy(),
            self.plastic_strain.x.array.copy(),
            self._platen.value.item(),
        )

    def restore(self, saved: tuple[np.ndarray, np.ndarray, np.ndarray, float]) -> None:
        """Put back the state of a ``snapshot()``."""
        u, cp_inv, plastic_strain, platen = saved
        self.u.x.array[:], self.cp_inv.x.array[:] = u, cp_inv
        self.plastic_strain.x.array[:] = plastic_strain
        self._platen.value = platen

    def _newton(self) -> int | None:
        """Newton iterations of one solve at the current θ and platen, or None if diverged."""
        try:
            its, converged = self.newton.solve(self.u)
        except RuntimeError:
            return None
        if not converged or not np.isfinite(self.u.x.array).all():
            return None
        return int(its)

    def _platen_newton(self) -> int | None:
        """Newton solves moving the platen (secant on w) until its loading law holds.

        Law: P(w) = p0 until the preload position w0 is known (first ``solve``); then w = w0
        (fixed gap) or P(w) = p0 + k (w − w0) (spring). Converged when |P − law| < 1e-8 p_ref,
        p_ref = max(p0, 1 MPa). Returns the Newton iterations of all solves, or None.
        """
        p0, k = self.supports.preload, self.supports.spring_stiffness
        if self._w0 is not None and k is None:  # fixed gap: the platen stays at w0
            return self._newton()
        w0, stiffness = (0.0, 0.0) if self._w0 is None else (self._w0, k or 0.0)

        def mismatch(w: float) -> float:
            self._platen.value = w
            return self.reaction_pressure() - p0 - stiffness * (w - w0)

        total, w_a = 0, self._platen.value.item()
        its = self._newton()
        if its is None:
            return None
        total, g_a = total + its, mismatch(w_a)
        w_b = w_a - g_a / (self._platen_slope - stiffness)
        for _ in range(30):
            self._platen.value = w_b
            its = self._newton()
            if its is None:
                return None
            total, g_b = total + its, mismatch(w_b)
            if abs(g_b) < 1e-8 * max(p0, 1e6):
                return total
            w_a, g_a, w_b = w_b, g_b, w_b - g_b * (w_b - w_a) / (g_b - g_a)
        return None

    def commit(self) -> None:
        """Store the converged plastic state: Cp⁻¹ and ε̄_p += √(2/3) Δγ."""
        if not self.plasticity:
            return
        self._cp_next.interpolate(self._cp_expr)
        self._dgamma_fn.interpolate(self._dgamma_expr)
        self.cp_inv.x.array[:] = self._cp_next.x.array
        self.plastic_strain.x.array[:] += math.sqrt(2.0 / 3.0) * self._dgamma_fn.x.array
        self.cp_inv.x.scatter_forward()
        self.plastic_strain.x.scatter_forward()

    def reaction_pressure(self) -> float:
        """Stack pressure (Pa, compression positive): −(z internal force on the face) / A0."""
        r = assemble_vector(self._internal)
        r.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        force = r.dot(self._probe.vector)
        r.destroy()
        return -force / self.reaction_area

    def _state(self, newton_iterations: int) -> MechanicsState:
        krylov = int(self.newton.krylov_solver.getIterationNumber())
        if self.supports.reaction_face is None:
            return MechanicsState(0.0, 0.0, krylov, newton_iterations)
        uz = self._allsum(fem.assemble_scalar(self._face_uz)) / self.reaction_area
        return MechanicsState(self.reaction_pressure(), uz, krylov, newton_iterations)

    def _allsum(self, value: float) -> float:
        return float(self.comm.allreduce(value, op=MPI.SUM))
