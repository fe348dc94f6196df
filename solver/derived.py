"""Derived fields (cell-wise, DG0) and per-material aggregates of a mechanics solution.

σ (Pa) is evaluated at cell midpoints (exact for P1 displacement); von Mises
σ_vm = √(3/2 s:s), hydrostatic σ_h = tr σ / 3, maximum principal σ1 (largest eigenvalue),
crack risk R_σ = σ1/σ_f per material (0 where a material has no K_IC).
"""

from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.function import ElementMetaData
from mpi4py import MPI

from solver.crack_risk import strength_index
from solver.physics.mechanics import ElasticityProblem
from solver.physics.periodic import PeriodicElasticityProblem

SCALAR_FIELDS = ("von_mises", "hydrostatic", "max_principal", "crack_risk")


class DerivedFields:
    """Owns the output functions ``theta``, ``sigma`` and the scalar fields above."""

    def __init__(self, problem: ElasticityProblem | PeriodicElasticityProblem) -> None:
        self.problem = problem
        mesh = problem.mesh
        dg0 = fem.FunctionSpace(mesh, ("DG", 0))
        tensor_dg0 = fem.TensorFunctionSpace(mesh, ElementMetaData("DG", 0))
        self.sigma = fem.Function(tensor_dg0, name="sigma")
        self.theta = fem.Function(dg0, name="theta")
        self.region = fem.Function(dg0, name="region")
        self.scalars = {name: fem.Function(dg0, name=name) for name in SCALAR_FIELDS}
        self._sigma_expr = fem.Expression(
            problem.stress(problem.u), tensor_dg0.element.interpolation_points()
        )
        self._strength = np.full(self.theta.x.array.size, np.inf)
        for region, material in problem.materials.items():
            cells = problem.region_cells[region]
            self.region.x.array[cells] = problem.bundle.cell_names[region]
            if material.fracture_strength is not None:
                self._strength[cells] = material.fracture_strength
        # Cell volumes (m3); exact for owned cells, the only ones aggregated.
        self._cell_volume = fem.assemble_vector(fem.form(ufl.TestFunction(dg0) * ufl.dx)).array
        self._brittle = {m.name for m in problem.materials.values() if m.K_IC is not None}

    def update(self, theta: float) -> None:
        """Recompute all fields from the current displacement at Li fraction ``theta``."""
        problem = self.problem
        for region, material in problem.materials.items():
            self.theta.x.array[problem.region_cells[region]] = theta if material.active else 0.0
        self.sigma.interpolate(self._sigma_expr)
        s = self.sigma.x.array.reshape(-1, 3, 3)
        s = 0.5 * (s + s.transpose(0, 2, 1))
        hydro = np.trace(s, axis1=1, axis2=2) / 3.0
        dev = s - hydro[:, None, None] * np.eye(3)
        self.scalars["hydrostatic"].x.array[:] = hydro
        self.scalars["von_mises"].x.array[:] = np.sqrt(1.5 * np.einsum("cij,cij->c", dev, dev))
        sigma1 = np.linalg.eigvalsh(s)[:, -1]
        self.scalars["max_principal"].x.array[:] = sigma1
        self.scalars["crack_risk"].x.array[:] = strength_index(sigma1, self._strength)

    def aggregates(self) -> dict[str, float]:
        """Per-material maxima and volume means over owned cells, reduced over all ranks."""
        comm = self.problem.comm
        sigma1 = self.scalars["max_principal"].x.array
        hydro = self.scalars["hydrostatic"].x.array
        risk = self.scalars["crack_risk"].x.array
        out: dict[str, float] = {}
        by_material: dict[str, list[np.ndarray]] = {}
        for region, cells in self.problem.owned_region_cells.items():
            by_material.setdefault(self.problem.materials[region].name, []).append(cells)
        for name, parts in by_material.items():
            cells = np.concatenate(parts)
            vol = self._cell_volume[cells]
            volume = comm.allreduce(float(vol.sum()), op=MPI.SUM)
            out[f"max_principal_Pa_{name}"] = comm.allreduce(
                float(sigma1[cells].max(initial=-np.inf)), op=MPI.MAX
            )
            out[f"mean_hydrostatic_Pa_{name}"] = (
                comm.allreduce(float((hydro[cells] * vol).sum()), op=MPI.SUM) / volume
            )
            if name in self._brittle:
                out[f"max_crack_risk_{name}"] = comm.allreduce(
                    float(risk[cells].max(initial=-np.inf)), op=MPI.MAX
                )
        return out
