"""Small-strain linear elasticity with an isotropic chemical eigenstrain (model ``uniform-small``).

    div σ = 0,  σ = λ(θ) tr(ε_e) I + 2 μ(θ) ε_e,  ε_e = sym ∇u − β(θ) I      (Pa, m)

Weak form: ∫ σ(u) : ε(v) dx = −Σ p_f ∫_f n·v ds over facets f carrying a pressure; rollers
and a rigid platen (uniform displacement w along the stacking axis: z in 3D, y in 2D) come
from ``Supports`` (solver/physics/supports.py). Without Dirichlet conditions the rigid-body
modes (six in 3D, three in 2D) are removed from the solution.

2D meshes (gdim 2) are plane strain: ε_zz = 0 while the eigenstrain β acts in all three
directions, so with the in-plane strain ε (2×2)

    σ = λ (tr ε − 3β) I + 2μ (ε − β I)   (in-plane),   σ_zz = λ (tr ε − 3β) − 2μ β,

the same expression as in 3D (tr ε_e = tr ε − 3β in both). ``cauchy_stress`` gives the full
3×3 Cauchy stress (σ_zz included) for the derived fields; forces and areas are per unit depth
(N/m, m), so pressures stay in Pa.

Verification hook: an optional body force b (N m-3, a UFL vector expression), div σ + b = 0,
adds ∫ b·v dx to the right-hand side of the load case u_θ (not to the unit-platen response and
not to the reaction forces). Used only by the manufactured-solution test.

The Li fraction θ is a P1 field ``theta`` on the whole mesh (only its values on the vertices of
active-material cells are used). β is a DG1 field: in each cell of an active material the nodal
interpolant of β(θ) (exact for the ``linear`` law), 0 elsewhere. The moduli are cell-wise (DG0)
from each region's material at the cell-mean θ (θ = 0 for materials that host no lithium).
``solve(soc)`` sets θ = SOC uniformly in the active materials (model ``uniform-small``);
``solve_current()`` uses θ as set by the caller (model ``transport-small``).

Platen loading is solved by superposition (the problem is linear): u = u_θ + w u_1, with u_θ
the swelling response at w = 0 and u_1 the response to w = 1 (m) without swelling; the platen
position w then follows from the loading law.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np
import ufl
from dolfinx import fem, la
from dolfinx.fem.petsc import apply_lifting, assemble_matrix, assemble_vector, set_bc
from mpi4py import MPI
from petsc4py import PETSc

from meshes.bundle import MeshBundle
from solver.case import SolverSettings
from solver.errors import SolverError
from solver.materials import Material
from solver.physics.regions import region_dofs
from solver.physics.supports import Supports

DEFAULT_PETSC_OPTIONS: dict[str, str | int | float | bool] = {
    "ksp_type": "cg",
    "ksp_rtol": 1.0e-10,
    "ksp_atol": 1.0e-30,
    "ksp_max_it": 1000,
    "pc_type": "gamg",
    "pc_gamg_type": "agg",
    "pc_gamg_agg_nsmooths": 1,
    "pc_gamg_threshold": 0.02,
    "pc_gamg_coarse_eq_limit": 1000,
    "pc_gamg_square_graph": 2,
    "mg_levels_ksp_type": "chebyshev",
    "mg_levels_pc_type": "jacobi",
    "mg_levels_esteig_ksp_type": "cg",
    "matptap_via": "scalable",
}
"""CG + smoothed-aggregation AMG with the rigid-body near-nullspace (overridable per case)."""


def strain(u: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
    """Small strain ε = sym ∇u (-)."""
    return ufl.sym(ufl.grad(u))


@dataclass(frozen=True)
class MechanicsState:
    """Global results of one solve.

    Stack pressure (Pa, compression positive), mean top-face displacement u_z (m), Krylov
    iterations of the step, Newton iterations of the step (1 for a linear problem).
    """

    stack_pressure: float
    top_displacement: float
    krylov_iterations: int
    newton_iterations: int = 1


class ElasticityProblem:
    """The mechanics problem on a tagged mesh; ``solve(soc)`` / ``solve_current()`` update ``u``.

    ``body_force``: optional body force b (N m-3) of the load case (verification only).
    """

    def __init__(
        self,
        bundle: MeshBundle,
        materials: dict[str, Material],
        supports: Supports,
        settings: SolverSettings,
        body_force: ufl.core.expr.Expr | None = None,
    ) -> None:
        mesh = bundle.mesh
        self.mesh, self.bundle, self.materials, self.supports = mesh, bundle, materials, supports
        self.comm = mesh.comm
        self.gdim = mesh.geometry.dim
        stack = self.gdim - 1  # stacking axis: z in 3D, y in 2D
        self.V = fem.VectorFunctionSpace(mesh, ("CG", settings.degree))
        self.u = fem.Function(self.V, name="u")
        self._u_unit = fem.Function(self.V)  # response to a unit platen displacement
        dg0 = fem.FunctionSpace(mesh, ("DG", 0))
        dg1 = fem.FunctionSpace(mesh, ("DG", 1))
        self.lmbda, self.mu = fem.Function(dg0), fem.Function(dg0)
        self.beta = fem.Function(dg1)
        self.theta = fem.Function(fem.FunctionSpace(mesh, ("CG", 1)), name="theta")
        """Li fraction θ (-), P1; read on the vertices of active-material cells only."""
        self._theta_dg0, self._theta_dg1 = fem.Function(dg0), fem.Function(dg1)
        num_local = mesh.topology.index_map(mesh.topology.dim).size_local
        self.region_cells = {
            region: bundle.cell_tags.indices[bundle.cell_tags.values == bundle.cell_names[region]]
            for region in materials
        }
        self.owned_region_cells = {r: c[c < num_local] for r, c in self.region_cells.items()}
        dg1_per_cell = dg1.dofmap.list.array.reshape(-1, dg1.dofmap.dof_layout.num_dofs)
        self._region_dg1_dofs = {r: dg1_per_cell[c].ravel() for r, c in self.region_cells.items()}
        active_cells = [c for r, c in self.region_cells.items() if materials[r].active]
        self.active_dofs = region_dofs(
            self.theta.function_space, np.concatenate([np.empty(0, np.int32), *active_cells])
        )
        """Local P1 DOFs of θ on active-material cells (on any rank)."""

        fdim = mesh.topology.dim - 1
        self._facets = {
            name: bundle.facet_tags.indices[bundle.facet_tags.values == tag]
            for name, tag in bundle.facet_names.items()
        }
        self.ds = ufl.Measure("ds", domain=mesh, subdomain_data=bundle.facet_tags)
        self._platen = fem.Constant(mesh, PETSc.ScalarType(0.0))
        self._swelling_on = fem.Constant(mesh, PETSc.ScalarType(1.0))

        self.bcs = []
        for name, comp in supports.rollers.items():
            dofs = fem.locate_dofs_topological(self.V.sub(comp), fdim, self._facets[name])
            self.bcs.append(fem.dirichletbc(PETSc.ScalarType(0.0), dofs, self.V.sub(comp)))
        if supports.platen is not None:
            platen = self._facets[supports.platen]
            dofs = fem.locate_dofs_topological(self.V.sub(stack), fdim, platen)
            self.bcs.append(fem.dirichletbc(self._platen, dofs, self.V.sub(stack)))
        if supports.reaction_face is not None:
            # Unit motion of the face along the stacking axis: its residual is the total
            # reaction force (N; N/m per unit depth in 2D).
            face = supports.reaction_face
            dofs = fem.locate_dofs_topological(self.V.sub(stack), fdim, self._facets[face])
            self._probe = fem.Function(self.V)
            self._probe.x.array[dofs] = 1.0
            tag = bundle.facet_names[face]
            self.reaction_area = self._allsum(fem.assemble_scalar(fem.form(1.0 * self.ds(tag))))
            self._face_uz = fem.form(self.u[stack] * self.ds(tag))

        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        self._a = fem.form(ufl.inner(self.stress(u, swelling=False), strain(v)) * ufl.dx)
        identity = ufl.Identity(mesh.geometry.dim)
        swelling = self._swelling_on * (3 * self.lmbda + 2 * self.mu) * self.beta * identity
        rhs = ufl.inner(swelling, strain(v)) * ufl.dx
        if body_force is not None:
            rhs += self._swelling_on * ufl.inner(body_force, v) * ufl.dx
        n = ufl.FacetNormal(mesh)
        for name, pressure in supports.pressure.items():
            p = fem.Constant(mesh, PETSc.ScalarType(pressure))
            rhs += -p * ufl.inner(n, v) * self.ds(bundle.facet_names[name])
        self._L = fem.form(rhs)
        self._reaction_forms = {  # the unit-platen response carries no swelling
            id(w): fem.form(ufl.inner(self.stress(w, swelling=sw), strain(v)) * ufl.dx)
            for w, sw in ((self.u, True), (self._u_unit, False))
        }

        self.A = fem.petsc.create_matrix(self._a)
        self.b = fem.petsc.create_vector(self._L)
        self._nullspace = rigid_body_modes(self.V)
        self.ksp = PETSc.KSP().create(self.comm)
        self.ksp.setOptionsPrefix("ssbmech_elasticity_")
        options = PETSc.Options()
        for key, value in {**DEFAULT_PETSC_OPTIONS, **settings.petsc_options}.items():
            options[f"ssbmech_elasticity_{key}"] = value
        self.ksp.setFromOptions()
        self._platen_position: float | None = None
        self.timings = {"assemble": 0.0, "setup": 0.0, "solve": 0.0}
        """Accumulated wall time (s) of matrix assembly, preconditioner set-up, Krylov solves."""
        self.num_dofs = self.V.dofmap.index_map.size_global * self.V.dofmap.index_map_bs

    def reference_state(self) -> dict[str, float | None]:
        """What later solves keep from the first: the preload platen position w0 (m) or None."""
        return {"platen_w0": self._w0 if self._platen_position is not None else None}

    def restore_reference_state(self, state: dict[str, float | None]) -> None:
        """Continue after a restart as if the first solve had set ``state`` (see above)."""
        w0 = state.get("platen_w0")
        if w0 is not None:
            self._w0 = self._platen_position = w0

    def stress(self, u: ufl.core.expr.Expr, swelling: bool = True) -> ufl.core.expr.Expr:
        """Cauchy stress σ (Pa) of displacement ``u``, with the chemical eigenstrain if asked.

        In 2D the in-plane components (plane strain: tr ε_e = tr ε − 3β, see module docstring).
        """
        identity = ufl.Identity(self.gdim)
        eps = strain(u)
        if not swelling:
            return 2 * self.mu * eps + self.lmbda * ufl.tr(eps) * identity
        eps = eps - self.beta * identity
        trace = ufl.tr(eps) if self.gdim == 3 else ufl.tr(eps) - self.beta
        return 2 * self.mu * eps + self.lmbda * trace * identity

    def cauchy_stress(self, u: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
        """Full 3×3 Cauchy stress (Pa) with the eigenstrain; in 2D σ_zz of plane strain added."""
        sigma = self.stress(u)
        if self.gdim == 3:
            return sigma
        szz = self.lmbda * (ufl.tr(strain(u)) - 3 * self.beta) - 2 * self.mu * self.beta
        return ufl.as_matrix(
            [[sigma[0, 0], sigma[0, 1], 0.0], [sigma[1, 0], sigma[1, 1], 0.0], [0.0, 0.0, szz]]
        )

    def set_lithiation(self, theta: float) -> None:
        """Set θ (-) uniformly in every active material (0 elsewhere) and update coefficients."""
        self.theta.x.array[:] = 0.0
        self.theta.x.array[self.active_dofs] = theta
        self.update_lithiation()

    def update_lithiation(self) -> None:
        """Moduli (DG0, at the cell-mean θ) and β (DG1, nodal β(θ)) of every region from θ."""
        self._theta_dg0.interpolate(self.theta)
        self._theta_dg1.interpolate(self.theta)
        for region, material in self.materials.items():
            cells, dofs = self.region_cells[region], self._region_dg1_dofs[region]
            th_cell = self._theta_dg0.x.array[cells]
            th_node = self._theta_dg1.x.array[dofs]
            if not material.active:
                th_cell, th_node = 0.0 * th_cell, 0.0 * th_node
            self.lmbda.x.array[cells], self.mu.x.array[cells] = material.lame(th_cell)
            self.beta.x.array[dofs] = material.chemical_strain(th_node)
        for f in (self.lmbda, self.mu, self.beta):
            f.x.scatter_forward()

    def solve(self, theta: float) -> MechanicsState:
        """Equilibrium at uniform Li fraction ``theta`` (-) under the loading mode."""
        self.set_lithiation(theta)
        return self._equilibrium()

    def solve_current(self) -> MechanicsState:
        """Equilibrium at the Li fraction field ``self.theta`` as set by the caller."""
        self.update_lithiation()
        return self._equilibrium()

    def _equilibrium(self) -> MechanicsState:
        tic = time.perf_counter()
        self.A.zeroEntries()
        assemble_matrix(self.A, self._a, self.bcs)  # type: ignore[arg-type]  # singledispatch
        self.A.assemble()
        if self.supports.free:
            self.A.setNullSpace(self._nullspace)
        self.A.setNearNullSpace(self._nullspace)
        toc = time.perf_counter()
        self.ksp.setOperators(self.A)
        self.ksp.setUp()  # preconditioner set-up (AMG hierarchy)
        self.timings["assemble"] += toc - tic
        self.timings["setup"] += time.perf_counter() - toc
        tic = time.perf_counter()
        its = self._linear_solve(self.u, swelling=1.0, platen=0.0)
        if self.supports.platen is None:
            self.timings["solve"] += time.perf_counter() - tic
            return self._state(its)
        its += self._linear_solve(self._u_unit, swelling=0.0, platen=1.0)
        self.timings["solve"] += time.perf_counter() - tic
        p_swell, p_unit = self.reaction_pressure(self.u), self.reaction_pressure(self._u_unit)
        p0, k = self.supports.preload, self.supports.spring_stiffness
        if self._platen_position is None:  # first solve: platen placed to carry the preload
            self._w0 = (p0 - p_swell) / p_unit
            w = self._w0
        elif k is None:  # fixed gap: the platen stays where the preload put it
            w = self._w0
        else:  # spring: P = p0 + k (w − w0) and P = p_swell + w p_unit
            w = (p0 - k * self._w0 - p_swell) / (p_unit - k)
        self._platen_position = w
        self.u.x.array[:] += w * self._u_unit.x.array
        return self._state(its)

    def current_state(self, krylov_iterations: int = 0) -> MechanicsState:
        """Global results of ``u`` as set by the caller (a coupled solve, see update_lithiation)."""
        return self._state(krylov_iterations)

    def _linear_solve(self, target: fem.Function, swelling: float, platen: float) -> int:
        self._swelling_on.value = swelling
        self._platen.value = platen
        with self.b.localForm() as loc:
            loc.set(0.0)
        assemble_vector(self.b, self._L)
        apply_lifting(self.b, [self._a], bcs=[self.bcs])
        self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        set_bc(self.b, self.bcs)
        if self.supports.free:
            self._nullspace.remove(self.b)
        self.ksp.solve(self.b, target.vector)
        reason = self.ksp.getConvergedReason()
        if reason < 0:
            raise SolverError(
                f"elasticity Krylov solver diverged (PETSc reason {reason}) after "
                f"{self.ksp.getIterationNumber()} iterations; adjust solver.petsc_options"
            )
        target.x.scatter_forward()
        return int(self.ksp.getIterationNumber())

    def reaction_pressure(self, u: fem.Function) -> float:
        """Stack pressure (Pa, compression positive): −(z reaction force on the face) / area."""
        r = assemble_vector(self._reaction_forms[id(u)])
        r.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        force = r.dot(self._probe.vector)
        r.destroy()
        return -force / self.reaction_area

    def _state(self, krylov_iterations: int) -> MechanicsState:
        if self.supports.reaction_face is None:
            return MechanicsState(0.0, 0.0, krylov_iterations)
        uz = self._allsum(fem.assemble_scalar(self._face_uz)) / self.reaction_area
        return MechanicsState(self.reaction_pressure(self.u), uz, krylov_iterations)

    def _allsum(self, value: float) -> float:
        return float(self.comm.allreduce(value, op=MPI.SUM))


def rigid_body_modes(V: fem.FunctionSpace, u: fem.Function | None = None) -> PETSc.NullSpace:
    """Orthonormal rigid-body modes of a vector space: 3D 3 translations + 3 rotations, 2D 2 + 1.

    With a displacement ``u`` (in V, 3D) the rotations are about the deformed positions X + u.
    """
    index_map, bs = V.dofmap.index_map, V.dofmap.index_map_bs
    basis = [la.create_petsc_vector(index_map, bs) for _ in range(3 * bs - 3)]
    n = index_map.size_local + index_map.num_ghosts
    x = V.tabulate_dof_coordinates()[:n]
    if u is not None:
        x = x + u.x.array[: n * bs].reshape(n, bs)
    comm = V.mesh.comm  # the same centre and scale on every rank, or the modes are not rigid
    lo, hi = np.empty(3), np.empty(3)
    comm.Allreduce(np.ascontiguousarray(x.min(axis=0)), lo, op=MPI.MIN)
    comm.Allreduce(np.ascontiguousarray(x.max(axis=0)), hi, op=MPI.MAX)
    x = (x - 0.5 * (lo + hi)) / max(float((hi - lo).max()), 1e-300)  # centred, O(1)
    with ExitStack() as stack:
        arrays = [np.asarray(stack.enter_context(v.localForm())).reshape(n, bs) for v in basis]
        for i, arr in enumerate(arrays):
            arr[:] = 0.0
            if i < bs:
                arr[:, i] = 1.0
        arrays[bs][:, 0], arrays[bs][:, 1] = -x[:, 1], x[:, 0]
        if bs == 3:
            arrays[4][:, 0], arrays[4][:, 2] = x[:, 2], -x[:, 0]
            arrays[5][:, 2], arrays[5][:, 1] = x[:, 1], -x[:, 2]
    la.orthonormalize(basis)
    return PETSc.NullSpace().create(vectors=basis)
