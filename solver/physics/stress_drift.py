"""Stress-enhanced Li diffusion at finite strain: the hydrostatic-stress drift of the flux.

Model ``finite`` with ``transport.stress_coupling: true`` (solver/physics/chemomech.py).
Free energy per reference volume ψ_R(F, c) = ψ0(c) + J_c(c) W_e(Fe) with F = Fe Fp Fc,
Fc = J_c^{1/3} I (solver/physics/finite.py), c per reference volume. Its derivative at fixed F
and plastic state, with ∂Fe/∂c = −(J_c'/(3 J_c)) Fe, is the chemical potential

    μ = μ0(θ) + (dJ_c/dc) [W_e − τ_h],   τ_h = tr(Fe ∂W_e/∂Fe)ᵀ/3 = J_e σ_h,

the Kirchhoff pressure of the elastic part (τ of finite.py, relative to the intermediate
configuration; J_e = J/J_c). The elastic energy W_e is second order in the elastic strain and
is dropped, as in the small-strain model and Bower, Guduru & Sethuraman (2011):

    μ = μ0(θ) − Ω(θ) τ_h,   Ω(θ) = dJ_c/dc = (ΔV/V0)'(θ)/c_max   (m3 mol-1),

which is Ω σ_h at small strain (Material.partial_molar_volume; for the ``linear`` law Ω is the
law's constant). With the mobility of the small-strain model (solver/physics/
coupled_transport.py), M c = D(θ) c_max θ(1−θ)/(RT), pulled back to the reference
configuration (J0 = −M c C⁻¹ ∇_X μ), the flux is Fick's plus a drift towards tension:

    J0/c_max = −D(θ) C⁻¹ [∇θ − g],   g = θ(1−θ) (Ω/RT) ∇τ_h   (m-1),

with θ(1−θ) set to 0 outside 0 ≤ θ ≤ 1 (an overfilled node has no free sites; the drift must
not turn into anti-diffusion there). As in the small-strain model the gradient of Ω(θ) is not
differentiated (exact for the ``linear`` law, where Ω is constant).

Fixed-stress split. τ_h follows from the mechanics, solved after each transport pass
(chemomech.py). The drift is strong: for lithiated Si, θ(1−θ) Ω K/RT ≈ 10 with
K = |dτ_h/dθ|, so τ_h lagged by one pass would make the passes diverge. The transport pass
instead uses the lagged stress corrected by a local estimate of its response,

    τ_h ≈ τ_h* − K (θ − θ*),   K = 2E/(9(1−ν)) · c_max Ω / J_c   (Pa),

τ_h*, θ* of the last mechanics solve (of the previous time step for the first pass); the
correction vanishes at convergence, where θ = θ*. K is the hydrostatic stress per unit θ
inside a spherical inclusion that swells by ΔJ_c/J_c in an elastic medium of its own moduli
(Eshelby; exactly the local law of a free elastic sphere). Plastic flow and a stiff
surrounding change the true response; the split converges as long as K is not below about
half of it (fixed-stress theory), and more slowly the more K overestimates it.
E and ν are the cell-wise moduli of the mechanics (λ, μ: 2E/(9(1−ν)) = 4μ(3λ + 2μ)/(9(λ + 2μ)))
and J_c its cell-wise volume ratio, both from the θ of the last mechanics solve.

τ_h* is discontinuous between cells (P1 u: cell-wise constant), so it is carried by its L2
projection on P1 over the active cells (conjugate gradients on the mass matrix, assembled once:
the reference configuration does not move), and 0 on the other nodes.
"""

from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.petsc import assemble_matrix, assemble_vector, set_bc
from petsc4py import PETSc

from solver.errors import SolverError
from solver.free_energy import R_GAS
from solver.materials import Material
from solver.physics.finite import FiniteStrainProblem

PROJECTION_RTOL = 1e-12
"""Relative residual of the CG solve of the τ_h projection."""


class HydrostaticDrift:
    """The drift g of the finite-strain Li flux and its fixed-stress data (module docstring).

    ``gradient(theta)`` is the UFL g for the transport form; ``update()`` takes τ_h* and θ*
    from the current state of ``mechanics`` (call it after every mechanics solve and after the
    state is put back). ``temperature`` (K).
    """

    def __init__(
        self,
        mechanics: FiniteStrainProblem,
        host: Material,
        c_max: float,
        temperature: float,
    ) -> None:
        self.mechanics = mechanics
        bundle = mechanics.bundle
        tags = tuple(bundle.cell_names[r] for r, m in mechanics.materials.items() if m.active)
        degree = 2 if mechanics.V.ufl_element().degree() == 1 else 4  # P1 u: τ_h cell-wise
        dx_active = ufl.Measure(
            "dx",
            domain=bundle.mesh,
            subdomain_data=bundle.cell_tags,
            metadata={"quadrature_degree": degree},
        )(tags)
        V = mechanics.theta.function_space
        self.tau_h = fem.Function(V, name="kirchhoff_pressure")
        """τ_h* (Pa): P1 projection of J_e σ_h of the last mechanics solve."""
        self.theta_star = fem.Function(V)
        """θ* (-) of the last mechanics solve."""
        self._rt = R_GAS * temperature
        self._host, self._c_max = host, c_max
        dg0 = mechanics.lmbda.function_space
        self._theta_cells = fem.Function(dg0)
        self.omega = fem.Function(dg0)
        """Ω(θ*) (m3 mol-1), cell-wise (0 in cells that host no Li)."""
        self.stiffness = fem.Function(dg0)
        """K (Pa) of the fixed-stress correction, cell-wise (module docstring)."""
        self._active_cells = np.concatenate(
            [np.empty(0, np.int32)]
            + [c for r, c in mechanics.region_cells.items() if mechanics.materials[r].active]
        )
        """Local cells (owned and ghost) of the active materials."""

        trial, test = ufl.TrialFunction(V), ufl.TestFunction(V)
        num_dofs = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
        inactive = np.setdiff1d(np.arange(num_dofs, dtype=np.int32), mechanics.active_dofs)
        self._bcs = [fem.dirichletbc(PETSc.ScalarType(0.0), inactive, V)]
        mass = assemble_matrix(fem.form(trial * test * dx_active), bcs=self._bcs)
        mass.assemble()
        self._rhs = fem.form(mechanics.kirchhoff_pressure(mechanics.u) * test * dx_active)
        self._ksp = PETSc.KSP().create(V.mesh.comm)
        self._ksp.setOptionsPrefix("ssbmech_drift_")
        self._ksp.setOperators(mass)
        self._ksp.setType("cg")
        self._ksp.getPC().setType("jacobi")
        self._ksp.setTolerances(rtol=PROJECTION_RTOL, atol=0.0, max_it=1000)
        self._ksp.setFromOptions()

    def gradient(self, theta: fem.Function) -> ufl.core.expr.Expr:
        """The drift g (m-1) of the unknown ``theta``, fixed-stress corrected (module docstring)."""
        sites = ufl.max_value(theta * (1.0 - theta), 0.0)
        stress = self.tau_h - self.stiffness * (theta - self.theta_star)
        return sites * (self.omega / self._rt) * ufl.grad(stress)

    def update(self) -> None:
        """τ_h* ← projection of J_e σ_h of the mechanics' u; θ* ← the mechanics' θ; Ω, K of θ*."""
        mech, cells = self.mechanics, self._active_cells
        self.theta_star.x.array[:] = mech.theta.x.array
        self._theta_cells.interpolate(self.theta_star)
        omega = self._host.partial_molar_volume(self._theta_cells.x.array[cells])
        assert omega is not None  # an active host has c_max and an expansion law
        lam, mu, jc = (f.x.array[cells] for f in (mech.lmbda, mech.mu, mech.jc))
        self.omega.x.array[cells] = omega
        self.stiffness.x.array[cells] = (
            4.0 * mu * (3.0 * lam + 2.0 * mu) / (9.0 * (lam + 2.0 * mu)) * self._c_max * omega / jc
        )
        b = assemble_vector(self._rhs)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        set_bc(b, self._bcs)
        self._ksp.solve(b, self.tau_h.vector)
        if self._ksp.getConvergedReason() < 0:
            raise SolverError(
                "projection of the Kirchhoff pressure failed (KSP reason "
                f"{self._ksp.getConvergedReason()})"
            )
        self.tau_h.x.scatter_forward()
