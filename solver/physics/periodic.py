"""Periodic RVE: small-strain elasticity with periodic displacement fluctuations (uniform-small).

The displacement of a periodic cell Y = [x0, x0 + L] (m) is a macroscopic strain plus a
periodic fluctuation,

    u = E·(x − x0) + ũ,   ũ(x + L_i e_i) = ũ(x),   E symmetric (-),

with div σ = 0, σ = λ(θ) tr(ε_e) I + 2 μ(θ) ε_e, ε_e = E + sym ∇ũ − β(θ) I (Pa). Weak form for ũ:

    ∫ σ_0(ũ) : ε(v) dx = −∫ [λ tr(E − β I) I + 2μ (E − β I)] : ε(v) dx   for periodic v,

with σ_0 the stress of a strain without eigenstrain. Periodicity is a multi-point constraint
(dolfinx_mpc): every DOF on a max face (x_i = x0_i + L_i for some i) is a slave of the DOF at
its image with all such coordinates moved to the min faces — one master per slave, so the
edges and corners (on two or three max faces) are tied once, to the edge/corner on the min
faces. Rotations are not periodic; the three translations are the null space of the
constrained matrix (translation vectors with zero slave entries), removed from the right-hand
side and the Krylov iterates, and the solution is shifted so that u = 0 at the corner x0.
(A Dirichlet condition on the corner, a master DOF, makes dolfinx_mpc 0.5's constrained
matrix indefinite, hence the null space.)

The mean stress Σ = (1/|Y|) ∫ σ dx is linear in E and in the swelling, so E follows by
superposition (as the platen in ``mechanics``): ũ_θ solves the swelling problem at E = 0,
ũ_k the unit macro-strain problems (E = e_k, no swelling) for the free components k, all with
one matrix and one preconditioner set-up; then Σ(E) = Σ_θ + Σ_k E_k Σ_k and the loading
chooses E (Voigt order xx, yy, zz, yz, xz, xy; E_k is the tensor component, E_ij = E_ji):

- ``free``: Σ = 0 (all six components free);
- ``pressure``: E_xx = E_yy = 0 (laterally confined electrode, the periodic analogue of the
  rollers), Σ_zz = −p, Σ_yz = Σ_xz = Σ_xy = 0;
- ``fixed_gap``: the first solve as ``pressure`` with the preload p0; afterwards E_zz stays at
  that value (rigid fixture), shear mean stresses 0;
- ``spring``: first solve as ``fixed_gap``; afterwards P = p0 + k L_z (E_zz − E_zz,0) with
  P = −Σ_zz (k in Pa/m; the fixture travel is the cell height times the strain, as the
  platen of ``mechanics`` moves with the top of the RVE).

The stack pressure is −Σ_zz (Pa), the "top displacement" E_zz L_z (m), so the stack strain
of the time loop is E_zz.
"""

from __future__ import annotations

import time

import dolfinx_mpc
import numpy as np
import ufl
from dolfinx import fem, la
from mpi4py import MPI
from petsc4py import PETSc

from meshes.bundle import MeshBundle
from solver.case import Loading, SolverSettings
from solver.errors import SolverError
from solver.materials import Material
from solver.physics.mechanics import (
    DEFAULT_PETSC_OPTIONS,
    MechanicsState,
    rigid_body_modes,
    strain,
)
from solver.physics.regions import region_dofs

VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
"""Tensor indices of the macro-strain components in Voigt order xx, yy, zz, yz, xz, xy."""
ZZ = 2
SHEAR = (3, 4, 5)
FACE_TOLERANCE = 1e-9  # a DOF lies on a face within this fraction of the cell size


def unit_strain(k: int) -> np.ndarray:
    """Symmetric 3×3 tensor with component ``k`` (Voigt) equal to 1 (-)."""
    e = np.zeros((3, 3))
    i, j = VOIGT[k]
    e[i, j] = e[j, i] = 1.0
    return e


class PeriodicElasticityProblem:
    """Periodic cell under macro-strain control (see module docstring); ``solve(theta)``."""

    def __init__(
        self,
        bundle: MeshBundle,
        materials: dict[str, Material],
        loading: Loading,
        settings: SolverSettings,
    ) -> None:
        mesh = bundle.mesh
        self.mesh, self.bundle, self.materials, self.loading = mesh, bundle, materials, loading
        self.comm = mesh.comm
        self.V = fem.VectorFunctionSpace(mesh, ("CG", settings.degree))
        self.u = fem.Function(self.V, name="u")
        dg0 = fem.FunctionSpace(mesh, ("DG", 0))
        self.lmbda, self.mu, self.beta = (fem.Function(dg0) for _ in range(3))
        num_local = mesh.topology.index_map(mesh.topology.dim).size_local
        self.region_cells = {
            region: bundle.cell_tags.indices[bundle.cell_tags.values == bundle.cell_names[region]]
            for region in materials
        }
        self.owned_region_cells = {r: c[c < num_local] for r, c in self.region_cells.items()}
        self.theta = fem.Function(fem.FunctionSpace(mesh, ("CG", 1)), name="theta")
        """Li fraction θ (-), P1; uniform in the active materials (``set_lithiation``)."""
        active_cells = [c for r, c in self.region_cells.items() if materials[r].active]
        self.active_dofs = region_dofs(
            self.theta.function_space, np.concatenate([np.empty(0, np.int32), *active_cells])
        )
        """Local P1 DOFs of θ on active-material cells (on any rank)."""

        x = mesh.geometry.x
        self.x0, hi = np.empty(3), np.empty(3)
        self.comm.Allreduce(np.ascontiguousarray(x.min(axis=0)), self.x0, op=MPI.MIN)
        self.comm.Allreduce(np.ascontiguousarray(x.max(axis=0)), hi, op=MPI.MAX)
        self.lengths = hi - self.x0
        """Cell size L (m) along x, y, z."""
        self.volume = float(np.prod(self.lengths))
        tol = FACE_TOLERANCE * float(self.lengths.max())

        def corner(p: np.ndarray) -> np.ndarray:
            return np.all(np.abs(p.T - self.x0) < tol, axis=1)

        num_owned = self.V.dofmap.index_map.size_local
        corner_dofs = fem.locate_dofs_geometrical(self.V, corner)
        self._corner = corner_dofs[corner_dofs < num_owned]  # owned blocks at x0 (0 or 1)

        self.mpc = dolfinx_mpc.MultiPointConstraint(self.V)
        self._add_periodicity(hi)
        self.mpc.finalize()
        W = self.mpc.function_space

        self._macro = fem.Constant(mesh, np.zeros((3, 3), dtype=PETSc.ScalarType))
        self._swelling_on = fem.Constant(mesh, PETSc.ScalarType(1.0))
        identity = ufl.Identity(3)
        eigen = self._macro - self._swelling_on * self.beta * identity
        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        self._a = fem.form(ufl.inner(self._elastic(strain(u)), strain(v)) * ufl.dx)
        self._L = fem.form(-ufl.inner(self._elastic(eigen), strain(v)) * ufl.dx)
        self._work = fem.Function(W)  # fluctuation whose mean stress is integrated
        mean = self._elastic(strain(self._work) + eigen) / self.volume
        self._mean_forms = [fem.form(mean[i, j] * ufl.dx) for i, j in VOIGT]

        free = range(6) if loading.mode == "free" else (ZZ, *SHEAR)
        self._units = {k: fem.Function(W) for k in free}  # ũ_k of unit macro strains
        self._swelling = fem.Function(W)  # ũ_θ
        self.A = dolfinx_mpc.assemble_matrix(self._a, self.mpc)
        self.b = dolfinx_mpc.assemble_vector(self._L, self.mpc)
        self._near_nullspace = rigid_body_modes(self.V)
        self._nullspace = self._translations()
        self.ksp = PETSc.KSP().create(self.comm)
        self.ksp.setOptionsPrefix("ssbmech_periodic_")
        options = PETSc.Options()
        for key, value in {**DEFAULT_PETSC_OPTIONS, **settings.petsc_options}.items():
            options[f"ssbmech_periodic_{key}"] = value
        self.ksp.setFromOptions()
        self.macro_strain = np.zeros((3, 3))
        """Macroscopic strain E (-) of the last solve."""
        self.mean_stress = np.zeros((3, 3))
        """Mean stress Σ = (1/|Y|) ∫ σ dx (Pa) of the last solve."""
        self._initial_ezz: float | None = None
        self.timings = {"assemble": 0.0, "setup": 0.0, "solve": 0.0}
        """Accumulated wall time (s) of matrix assembly, preconditioner set-up, Krylov solves."""
        self.num_dofs = self.V.dofmap.index_map.size_global * self.V.dofmap.index_map_bs

    def _add_periodicity(self, hi: np.ndarray) -> None:
        """Slave every DOF on a max face to its image on the min faces (see module docstring).

        dolfinx_mpc finds the master cells by a collision search whose absolute tolerances miss
        points of micrometre cells in metres; the mesh is scaled to O(1) for the search only.
        """
        scale = 1.0 / float(self.lengths.max())
        lo, hi = self.x0 * scale, hi * scale
        tol = FACE_TOLERANCE

        def on_max_face(p: np.ndarray) -> np.ndarray:
            return np.any(np.abs(p.T - hi) < tol, axis=1)

        def image(p: np.ndarray) -> np.ndarray:
            out = p.copy()
            on_max = np.abs(p.T - hi).T < tol
            out[on_max] = np.broadcast_to(lo[:, None], p.shape)[on_max]
            return out

        x = self.mesh.geometry.x
        x *= scale
        try:
            self.mpc.create_periodic_constraint_geometrical(self.V, on_max_face, image, [])
        finally:
            x /= scale

    def _translations(self) -> PETSc.NullSpace:
        """Orthonormal rigid translations of the constrained space (slave entries zero)."""
        index_map, bs = self.V.dofmap.index_map, self.V.dofmap.index_map_bs
        n = index_map.size_local + index_map.num_ghosts
        slaves = self.mpc.slaves
        slaves = slaves[slaves < n * bs]
        basis = [la.create_petsc_vector(index_map, bs) for _ in range(3)]
        for i, vec in enumerate(basis):
            with vec.localForm() as loc:
                arr = np.asarray(loc).reshape(n, bs)
                arr[:] = 0.0
                arr[:, i] = 1.0
                arr.reshape(-1)[slaves] = 0.0
        la.orthonormalize(basis)
        return PETSc.NullSpace().create(vectors=basis)

    def _elastic(self, eps: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
        """σ = λ tr(ε) I + 2 μ ε (Pa) of a strain ε (-)."""
        return 2 * self.mu * eps + self.lmbda * ufl.tr(eps) * ufl.Identity(3)

    def reference_state(self) -> dict[str, float | None]:
        """What later solves keep from the first: the initial macro strain ε_zz (-) or None."""
        return {"initial_ezz": self._initial_ezz}

    def restore_reference_state(self, state: dict[str, float | None]) -> None:
        """Continue after a restart as if the first solve had set ``state`` (see above)."""
        self._initial_ezz = state.get("initial_ezz")

    def stress(self, u: ufl.core.expr.Expr, swelling: bool = True) -> ufl.core.expr.Expr:
        """Cauchy stress σ (Pa) of the total displacement ``u``, with the eigenstrain if asked."""
        eps = strain(u)
        if swelling:
            eps = eps - self.beta * ufl.Identity(3)
        return self._elastic(eps)

    def set_lithiation(self, theta: float) -> None:
        """Set θ (-) in every active material and the moduli of all materials at that θ."""
        for region, material in self.materials.items():
            th = theta if material.active else 0.0
            lmbda, mu = material.lame(th)
            cells = self.region_cells[region]
            self.lmbda.x.array[cells] = lmbda
            self.mu.x.array[cells] = mu
            self.beta.x.array[cells] = material.chemical_strain(th)
        self.theta.x.array[:] = 0.0
        self.theta.x.array[self.active_dofs] = theta
        for f in (self.lmbda, self.mu, self.beta):
            f.x.scatter_forward()

    def solve(self, theta: float) -> MechanicsState:
        """Equilibrium at uniform Li fraction ``theta`` (-) under the loading mode."""
        tic = time.perf_counter()
        self.set_lithiation(theta)
        self.A.zeroEntries()
        dolfinx_mpc.assemble_matrix(self._a, self.mpc, A=self.A)
        self.A.setNullSpace(self._nullspace)
        self.A.setNearNullSpace(self._near_nullspace)
        toc = time.perf_counter()
        self.ksp.setOperators(self.A)
        self.ksp.setUp()
        self.timings["assemble"] += toc - tic
        self.timings["setup"] += time.perf_counter() - toc
        tic = time.perf_counter()
        its = self._linear_solve(self._swelling, np.zeros((3, 3)), swelling=1.0)
        mean_swelling = self._mean(self._swelling, np.zeros((3, 3)), swelling=1.0)
        unit_means = {}
        for k, target in self._units.items():
            its += self._linear_solve(target, unit_strain(k), swelling=0.0)
            unit_means[k] = self._mean(target, unit_strain(k), swelling=0.0)
        self.timings["solve"] += time.perf_counter() - tic
        free = list(self._units)
        strains = np.linalg.solve(*self._conditions(free, mean_swelling, unit_means))
        if self._initial_ezz is None and self.loading.mode != "free":
            self._initial_ezz = float(strains[free.index(ZZ)])
        self.macro_strain = sum(
            (e * unit_strain(k) for k, e in zip(free, strains, strict=True)), np.zeros((3, 3))
        )
        self.mean_stress = self._voigt_to_tensor(
            mean_swelling + sum(e * unit_means[k] for k, e in zip(free, strains, strict=True))
        )
        self._assemble_displacement(free, strains)
        return MechanicsState(
            stack_pressure=-float(self.mean_stress[2, 2]),
            top_displacement=float(self.macro_strain[2, 2] * self.lengths[2]),
            krylov_iterations=its,
        )

    def _conditions(
        self, free: list[int], swelling: np.ndarray, units: dict[int, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Linear system M e = r for the free macro-strain components e (Voigt, see module)."""
        columns = np.array([units[k] for k in free]).T  # Σ_c = swelling_c + Σ_k columns_ck e_k
        if self.loading.mode == "free":
            return columns, -swelling
        rows = [free.index(ZZ)] + [free.index(s) for s in SHEAR]
        matrix = np.zeros((4, 4))
        rhs = np.zeros(4)
        matrix[1:] = columns[list(SHEAR)]
        rhs[1:] = -swelling[list(SHEAR)]
        p0, k = self.loading.stack_pressure, self.loading.spring_stiffness
        if self._initial_ezz is None or self.loading.mode == "pressure":  # Σ_zz = −p0
            matrix[0] = columns[ZZ]
            rhs[0] = -p0 - swelling[ZZ]
        elif self.loading.mode == "fixed_gap":  # E_zz = E_zz,0
            matrix[0, rows[0]] = 1.0
            rhs[0] = self._initial_ezz
        else:  # spring: −Σ_zz = p0 + k L_z (E_zz − E_zz,0)
            assert k is not None
            stiffness = k * float(self.lengths[2])
            matrix[0] = -columns[ZZ]
            matrix[0, rows[0]] -= stiffness
            rhs[0] = p0 - stiffness * self._initial_ezz + swelling[ZZ]
        return matrix, rhs

    def _linear_solve(self, target: fem.Function, macro: np.ndarray, swelling: float) -> int:
        """Solve for the fluctuation of macro strain ``macro`` (-) and the swelling switch."""
        self._macro.value = macro
        self._swelling_on.value = swelling
        with self.b.localForm() as loc:
            loc.set(0.0)
        dolfinx_mpc.assemble_vector(self._L, self.mpc, self.b)
        self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        self._nullspace.remove(self.b)
        self.ksp.solve(self.b, target.vector)
        reason = self.ksp.getConvergedReason()
        if reason < 0:
            raise SolverError(
                f"periodic elasticity Krylov solver diverged (PETSc reason {reason}) after "
                f"{self.ksp.getIterationNumber()} iterations; adjust solver.petsc_options"
            )
        target.x.scatter_forward()
        self.mpc.backsubstitution(target.vector)
        return int(self.ksp.getIterationNumber())

    def _mean(self, fluctuation: fem.Function, macro: np.ndarray, swelling: float) -> np.ndarray:
        """Mean stress (Pa, Voigt) of fluctuation + macro strain (+ swelling)."""
        self._work.x.array[:] = fluctuation.x.array
        self._macro.value = macro
        self._swelling_on.value = swelling
        return np.array(
            [self.comm.allreduce(fem.assemble_scalar(f), op=MPI.SUM) for f in self._mean_forms]
        )

    @staticmethod
    def _voigt_to_tensor(values: np.ndarray) -> np.ndarray:
        out = np.empty((3, 3))
        for (i, j), value in zip(VOIGT, values, strict=True):
            out[i, j] = out[j, i] = value
        return out

    def _assemble_displacement(self, free: list[int], strains: np.ndarray) -> None:
        """Total displacement u = E·(x − x0) + ũ_θ + Σ_k E_k ũ_k (m) on the unconstrained space."""
        n = self.u.x.array.size  # the MPC space has the same DOFs, plus extra ghosts after them
        total = self._swelling.x.array[:n].copy()
        for k, e in zip(free, strains, strict=True):
            total += e * self._units[k].x.array[:n]
        macro, x0 = self.macro_strain, self.x0
        self.u.interpolate(lambda p: macro @ (p - x0[:, None]))
        self.u.x.array[:] += total
        at_corner = self.u.x.array.reshape(-1, 3)[self._corner].sum(axis=0)
        shift = self.comm.allreduce(at_corner, op=MPI.SUM)  # ũ(x0): owned on one rank
        self.u.x.array.reshape(-1, 3)[:] -= shift
        self.u.x.scatter_forward()
