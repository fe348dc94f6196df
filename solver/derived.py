"""Derived fields (cell-wise, DG0) and per-material aggregates of a mechanics solution.

σ (Pa) is the full 3×3 Cauchy stress (in 2D plane strain with σ_zz, see
``ElasticityProblem.cauchy_stress``), evaluated at cell midpoints (exact for P1); von Mises
σ_vm = √(3/2 s:s), hydrostatic σ_h = tr σ / 3, maximum principal σ1 (largest eigenvalue);
``theta`` is the mechanics problem's Li fraction field itself (P1).
Crack-risk fields (formulas in solver/crack_risk.py): strength index ``crack_risk`` σ1/σ_f
(0 where a material has no K_IC), Griffith ``critical_flaw_size`` a_c (m; 1 m sentinel where
σ1 ≤ 0 or no K_IC), ``yield_index`` σ_vm/σ_Y and ``crush_index`` −σ_h/H (0 without hardness),
``elastic_energy_density`` w (J m-3; the linear-elastic σ:C⁻¹:σ/2 also at finite strain);
``plastic_strain`` ε̄_p (model ``finite`` with plasticity only, from the problem);
``particle`` is the id of the particle whose surface is nearest to the cell midpoint
(min over p of |x − c_p| − R_p; −1 without particles).

Aggregates are over owned cells (or owned facets) and reduced over all ranks: per material,
per tagged interface (``crack_risk.interfaces``) and per particle (particle-region cells).

2D (plane-strain) meshes: cell "volumes" are areas (m2, per unit depth) and particles are
cylinders (energy measures per unit length, see solver/crack_risk.py). Weibull failure
probabilities are not computed in 2D: they need a stressed volume, which a section per unit
depth does not define (the columns are absent from history.csv).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import ufl
from dolfinx import fem, la
from dolfinx.fem.function import ElementMetaData
from dolfinx.mesh import compute_midpoints
from mpi4py import MPI

from meshes.particle_rve import PARTICLES
from solver import crack_risk as cr
from solver.case import CrackRisk, InterfaceStrength
from solver.extremes import Candidate, global_extremes, is_minimum
from solver.interface_facets import InterfaceFacets, facet_stress_expression
from solver.materials import Material
from solver.physics.finite import FiniteStrainProblem
from solver.physics.mechanics import ElasticityProblem
from solver.physics.periodic import PeriodicElasticityProblem
from solver.potential_shift import SurfaceHydrostatic, voltage_shift

Array = npt.NDArray[np.float64]

SCALAR_FIELDS = (
    "von_mises",
    "hydrostatic",
    "max_principal",
    "crack_risk",
    "critical_flaw_size",
    "yield_index",
    "crush_index",
    "elastic_energy_density",
)

INTERFACE_FIELDS = ("interface_normal_traction", "interface_shear_traction")
"""Cell fields (Pa) written when ``crack_risk.interfaces`` configures interfaces."""


def nearest_particle(points: Array, centers: Array, radii: Array) -> npt.NDArray[np.int64]:
    """Index of the particle with the nearest surface, argmin_p |x − c_p| − R_p (-1 if none)."""
    best = np.full(len(points), -1, dtype=np.int64)
    dist = np.full(len(points), np.inf)
    for p, (c, r) in enumerate(zip(centers, radii, strict=True)):
        d = np.linalg.norm(points - c, axis=1) - r
        closer = d < dist
        best[closer], dist[closer] = p, d[closer]
    return best


def _cauchy_stress(
    problem: ElasticityProblem | PeriodicElasticityProblem | FiniteStrainProblem,
) -> ufl.core.expr.Expr:
    """The full 3×3 Cauchy stress (Pa) of the problem's displacement (2D: plane strain)."""
    if isinstance(problem, ElasticityProblem):
        return problem.cauchy_stress(problem.u)
    return problem.stress(problem.u)


class DerivedFields:
    """Output functions (θ, σ, scalars above, region, particle) and their aggregates.

    Computes the history aggregates, the located extremes and the per-particle measures.
    """

    def __init__(
        self,
        problem: ElasticityProblem | PeriodicElasticityProblem | FiniteStrainProblem,
        crack_risk: CrackRisk | None = None,
        li_surfaces: list[str] | None = None,
    ) -> None:
        self.problem = problem
        mesh = problem.mesh
        self._dim = mesh.geometry.dim
        dg0 = fem.FunctionSpace(mesh, ("DG", 0))
        tensor_dg0 = fem.TensorFunctionSpace(mesh, ElementMetaData("DG", 0), shape=(3, 3))
        self.sigma = fem.Function(tensor_dg0, name="sigma")
        """Full 3×3 Cauchy stress (Pa) per cell."""
        self.stress_outputs: tuple[fem.Function, ...] = (self.sigma,)
        """Stress functions written to fields.xdmf: ``sigma`` (3×3); 2D: in-plane ``sigma``
        (2×2, which XDMF pads with σ_zz = 0) and ``sigma_zz`` (DOLFINx writes a 3×3 DG0
        tensor on a 2D mesh as vertex values, so the full tensor cannot go as cell data)."""
        if mesh.geometry.dim == 2:
            plane = fem.TensorFunctionSpace(mesh, ElementMetaData("DG", 0))
            self.stress_outputs = (
                fem.Function(plane, name="sigma"),
                fem.Function(dg0, name="sigma_zz"),
            )
        self.theta = problem.theta
        self.region = fem.Function(dg0, name="region")
        self.particle = fem.Function(dg0, name="particle")
        self.scalars = {name: fem.Function(dg0, name=name) for name in SCALAR_FIELDS}
        self.extra_fields: list[fem.Function] = []
        """Fields the problem itself provides for output (ε̄_p of finite-strain plasticity)."""
        if isinstance(problem, FiniteStrainProblem) and problem.plasticity:
            self.extra_fields.append(problem.plastic_strain)
        self._sigma_expr = fem.Expression(
            _cauchy_stress(problem), tensor_dg0.element.interpolation_points()
        )
        n = self.region.x.array.size
        self._strength, self._toughness = np.full(n, np.inf), np.full(n, np.inf)
        self._flaw_y = np.ones(n)
        self._sigma_y, self._hardness = np.full(n, np.inf), np.full(n, np.inf)
        for region, material in problem.materials.items():
            cells = problem.region_cells[region]
            self.region.x.array[cells] = problem.bundle.cell_names[region]
            if material.fracture_strength is not None and material.K_IC is not None:
                self._strength[cells] = material.fracture_strength
                self._toughness[cells] = material.K_IC
                self._flaw_y[cells] = material.flaw_geometry_factor
            if material.hardness is not None:
                self._hardness[cells] = material.hardness
            if material.crush_yield is not None:
                self._sigma_y[cells] = material.crush_yield
        # Cell volumes (m3); exact for owned cells, the only ones aggregated.
        self._cell_volume = fem.assemble_vector(fem.form(ufl.TestFunction(dg0) * ufl.dx)).array
        self._midpoints = compute_midpoints(mesh, mesh.topology.dim, np.arange(n, dtype=np.int32))
        particles = [p for p in problem.bundle.stats.particles if p.species == 0]  # the Si
        self._centers = np.array([p.center for p in particles], dtype=float).reshape(-1, 3)
        self._radii = np.array([p.radius for p in particles], dtype=float)
        self._particle_of = nearest_particle(self._midpoints, self._centers, self._radii)
        self.particle.x.array[:] = self._particle_of
        parts: dict[str, list[npt.NDArray[np.int32]]] = {}
        for region, cells in problem.owned_region_cells.items():
            parts.setdefault(problem.materials[region].name, []).append(cells)
        by_name = {m.name: m for m in problem.materials.values()}
        self._by_material: dict[str, tuple[Material, npt.NDArray[np.int32]]] = {
            name: (by_name[name], np.concatenate(cells)) for name, cells in parts.items()
        }
        """Material name → (material, owned cells of all regions made of it)."""
        self.interfaces: dict[str, tuple[InterfaceFacets, InterfaceStrength]] = {}
        self.facet_stress = facet_stress_expression(_cauchy_stress(problem), mesh.topology.dim)
        for name, strength in (crack_risk or CrackRisk()).interfaces.items():
            tag = problem.bundle.facet_names[name]  # names are checked by the caller
            facets = InterfaceFacets(mesh, problem.bundle.facet_tags, tag, problem.bundle.cell_tags)
            self.interfaces[name] = (facets, strength)
        if self.interfaces:  # facet values shown on the cells on both sides of each facet
            for key in INTERFACE_FIELDS:
                self.scalars[key] = fem.Function(dg0, name=key)
        self._theta = 0.0
        active = [r for r, m in problem.materials.items() if m.active]
        self._host = problem.materials[active[0]] if active else None
        surfaces = [n for n in li_surfaces or [] if n in problem.bundle.facet_names]
        self._surface_hydrostatic = (
            SurfaceHydrostatic(
                mesh,
                problem.bundle,
                np.concatenate([problem.region_cells[r] for r in active]),
                self.scalars["hydrostatic"],
                surfaces,
            )
            if active and surfaces
            else None
        )
        """Area-average σ_h on the Li-entry surfaces (host side): ``voltage_shift_V``."""

    def update(self) -> None:
        """Recompute all fields from the current displacement and Li fraction."""
        problem = self.problem
        num_owned = problem.theta.function_space.dofmap.index_map.size_local
        owned = problem.active_dofs[problem.active_dofs < num_owned]
        total = problem.comm.allreduce(float(problem.theta.x.array[owned].sum()), op=MPI.SUM)
        count = problem.comm.allreduce(int(owned.size), op=MPI.SUM)
        self._theta = total / max(count, 1)  # mean nodal θ of the Li host (for Γ(θ))
        self.sigma.interpolate(self._sigma_expr)
        s = self._sigma_cells()
        if len(self.stress_outputs) == 2:
            plane, szz = self.stress_outputs
            plane.x.array[:] = s[:, :2, :2].ravel()
            szz.x.array[:] = s[:, 2, 2]
        hydro = np.trace(s, axis1=1, axis2=2) / 3.0
        dev = s - hydro[:, None, None] * np.eye(3)
        vm = np.sqrt(1.5 * np.einsum("cij,cij->c", dev, dev))
        sigma1 = np.linalg.eigvalsh(s)[:, -1]
        f = {k: v.x.array for k, v in self.scalars.items()}
        f["hydrostatic"][:], f["von_mises"][:], f["max_principal"][:] = hydro, vm, sigma1
        f["crack_risk"][:] = cr.strength_index(sigma1, self._strength)
        f["critical_flaw_size"][:] = cr.critical_flaw_size(sigma1, self._toughness, self._flaw_y)
        f["yield_index"][:] = vm / self._sigma_y
        f["crush_index"][:] = -hydro / self._hardness
        f["elastic_energy_density"][:] = cr.elastic_energy_density(
            s, problem.lmbda.x.array, problem.mu.x.array
        )

    def _sigma_cells(self) -> Array:
        s = self.sigma.x.array.reshape(-1, 3, 3)
        return 0.5 * (s + s.transpose(0, 2, 1))

    def _sum(self, value: Any) -> Any:
        return self.problem.comm.allreduce(value, op=MPI.SUM)

    # ------------------------------------------------------------------------------ aggregates

    def aggregates(self, table: list[dict[str, Any]] | None = None) -> dict[str, float]:
        """History columns: per material, per interface and over particles (all ranks).

        ``table``: this step's ``particle_table()`` if already computed.
        """
        comm = self.problem.comm
        f = {k: v.x.array for k, v in self.scalars.items()}
        out: dict[str, float] = {}
        for name, (material, cells) in self._by_material.items():
            vol = self._cell_volume[cells]
            volume = self._sum(float(vol.sum()))
            out[f"max_principal_Pa_{name}"] = comm.allreduce(
                float(f["max_principal"][cells].max(initial=-np.inf)), op=MPI.MAX
            )
            out[f"mean_hydrostatic_Pa_{name}"] = (
                self._sum(float((f["hydrostatic"][cells] * vol).sum())) / volume
            )
            if material.K_IC is not None:
                out[f"max_crack_risk_{name}"] = comm.allreduce(
                    float(f["crack_risk"][cells].max(initial=-np.inf)), op=MPI.MAX
                )
                out[f"min_critical_flaw_m_{name}"] = comm.allreduce(
                    float(f["critical_flaw_size"][cells].min(initial=cr.NO_FLAW_LIMIT)), op=MPI.MIN
                )
            if material.weibull is not None and self._dim == 3:
                sigma0, m, v0 = material.weibull
                risk = cr.weibull_risk_density(f["max_principal"][cells], sigma0, m, v0)
                out[f"failure_probability_{name}"] = float(
                    cr.failure_probability(self._sum(float((risk * vol).sum())))
                )
            if material.hardness is not None or material.yield_strength is not None:
                for key in ("yield_index", "crush_index"):
                    out[f"max_{key}_{name}"] = comm.allreduce(
                        float(f[key][cells].max(initial=-np.inf)), op=MPI.MAX
                    )
        for name, values in self._interface_values().items():
            areas, t_n, t_t, index = values
            total = self._sum(float(areas.sum()))
            out[f"max_normal_traction_Pa_{name}"] = comm.allreduce(
                float(t_n.max(initial=-np.inf)), op=MPI.MAX
            )
            out[f"max_shear_traction_Pa_{name}"] = comm.allreduce(
                float(t_t.max(initial=-np.inf)), op=MPI.MAX
            )
            out[f"max_debond_index_{name}"] = comm.allreduce(
                float(index.max(initial=-np.inf)), op=MPI.MAX
            )
            out[f"debonded_fraction_{name}"] = self._sum(float(areas[index > 1].sum())) / total
        omega = None if self._host is None else self._host.partial_molar_volume(self._theta)
        if self._surface_hydrostatic is not None and omega is not None:
            self.scalars["hydrostatic"].x.scatter_forward()
            mean = self._surface_hydrostatic.mean()
            out["surface_hydrostatic_Pa"] = mean
            out["voltage_shift_V"] = voltage_shift(omega, mean)
        table = self.particle_table() if table is None else table
        if table:
            out["max_particle_energy_index"] = max(p["energy_index"] for p in table)
            out["min_critical_particle_radius_m"] = min(p["critical_radius_m"] for p in table)
            if table[0]["failure_probability"] is not None:
                out["max_particle_failure_probability"] = max(
                    p["failure_probability"] for p in table
                )
        return out

    def _interface_values(self) -> dict[str, tuple[Array, Array, Array, Array]]:
        """Per interface: facet areas (m2), t_n (Pa), |t_t| (Pa), debond index (-).

        Also fills the cell fields ``interface_normal_traction`` / ``interface_shear_traction``
        (Pa): on each cell adjacent to a configured interface facet, that facet's traction (the
        facet of largest |t| where a cell has several), 0 elsewhere — facet data for ParaView.
        """
        out = {}
        normal = self.scalars.get("interface_normal_traction")
        shear = self.scalars.get("interface_shear_traction")
        if normal is not None and shear is not None:
            normal.x.array[:] = 0.0
            shear.x.array[:] = 0.0
        for name, (facets, strength) in self.interfaces.items():
            t_n, t_t = cr.interface_tractions(facets.stress(self.facet_stress), facets.normals)
            index = cr.debond_index(t_n, t_t, strength.normal_strength, strength.shear_strength)
            out[name] = (facets.areas, t_n, t_t, index)
            if normal is not None and shear is not None:
                for side in (0, 1):
                    cells = facets.cells[:, side]
                    stronger = np.abs(t_n) >= np.abs(normal.x.array[cells])
                    normal.x.array[cells[stronger]] = t_n[stronger]
                    shear.x.array[cells] = np.maximum(shear.x.array[cells], t_t)
        if normal is not None and shear is not None:
            for f in (normal, shear):  # cells owned elsewhere: their owner adds the value
                f.x.scatter_reverse(la.ScatterMode.add)
                f.x.scatter_forward()
        return out

    def particle_table(self) -> list[dict[str, Any]]:
        """Per-particle measures over all ranks (empty without particles or without Γ).

        Volume (m3), energy index η = U/(Γ π R²), critical radius R_c = 3Γ/(4 w̄) (m) and
        Weibull P_f of each particle. 2D: area (m2, in ``volume_m3``), cylinder η and R_c,
        no P_f.
        """
        material = self.problem.materials.get(PARTICLES)
        n = len(self._radii)
        gamma = None if material is None else material.griffith_energy(self._theta)
        if n == 0 or material is None or gamma is None:
            return []
        cells = self.problem.owned_region_cells[PARTICLES]
        ids, vol = self._particle_of[cells], self._cell_volume[cells]
        w = self.scalars["elastic_energy_density"].x.array[cells]
        volume = self._sum(np.bincount(ids, weights=vol, minlength=n))
        energy = self._sum(np.bincount(ids, weights=w * vol, minlength=n))
        mean_w = energy / np.maximum(volume, 1e-300)
        r_c = cr.critical_particle_radius(gamma, mean_w, self._dim)
        hydro = self.scalars["hydrostatic"].x.array[cells]
        mean_h = self._sum(np.bincount(ids, weights=hydro * vol, minlength=n)) / np.maximum(
            volume, 1e-300
        )
        omega = material.partial_molar_volume(self._theta) or 0.0
        pf: list[float | None] = [None] * n
        if material.weibull is not None and self._dim == 3:
            sigma0, m, v0 = material.weibull
            sigma1 = self.scalars["max_principal"].x.array[cells]
            risk = cr.weibull_risk_density(sigma1, sigma0, m, v0)
            rupture = self._sum(np.bincount(ids, weights=risk * vol, minlength=n))
            pf = [float(v) for v in np.asarray(cr.failure_probability(rupture))]
        return [
            {
                "id": p,
                "center_m": [float(c) for c in self._centers[p]],
                "radius_m": float(self._radii[p]),
                "volume_m3": float(volume[p]),
                "energy_index": float(self._radii[p] / r_c[p]),
                "critical_radius_m": float(r_c[p]),
                "failure_probability": pf[p],
                "mean_hydrostatic_Pa": float(mean_h[p]),
                "voltage_shift_V": voltage_shift(omega, float(mean_h[p])),
            }
            for p in range(n)
        ]

    # ------------------------------------------------------------------------------- extremes

    def _where(self, cell: int) -> dict[str, Any]:
        pid = int(self._particle_of[cell])
        return {
            "particle": pid if pid >= 0 else None,
            "coordinates_m": [float(x) for x in self._midpoints[cell]],
        }

    def locate(
        self, aggregates: dict[str, float], table: list[dict[str, Any]]
    ) -> dict[str, Candidate]:
        """Global extremes with their location (material or interface, particle, coordinates).

        Keys as in ``aggregates`` (pass this step's ``aggregates()`` and ``particle_table()``):
        cell maxima/minima per material, the debond index per interface, Weibull P_f per
        material (material only), particle energy measures (particle id and centre).
        """
        f = {k: v.x.array for k, v in self.scalars.items()}
        local: dict[str, Candidate | None] = {}
        for name, (material, cells) in self._by_material.items():
            keys = [("max_principal_Pa_", "max_principal")]
            if material.K_IC is not None:
                keys += [
                    ("max_crack_risk_", "crack_risk"),
                    ("min_critical_flaw_m_", "critical_flaw_size"),
                ]
            if material.hardness is not None or material.yield_strength is not None:
                keys += [("max_yield_index_", "yield_index"), ("max_crush_index_", "crush_index")]
            for prefix, field in keys:
                key = prefix + name
                if cells.size == 0:
                    local[key] = None
                    continue
                values = f[field][cells]
                i = int(values.argmin() if prefix.startswith("min_") else values.argmax())
                local[key] = (float(values[i]), {"material": name, **self._where(int(cells[i]))})
        for name, (_, _, _, index) in self._interface_values().items():
            key = f"max_debond_index_{name}"
            if index.size == 0:
                local[key] = None
                continue
            i = int(index.argmax())
            x = self.interfaces[name][0].midpoints[i]
            pid = int(nearest_particle(x[None, :], self._centers, self._radii)[0])
            where = {"interface": name, "particle": pid if pid >= 0 else None}
            local[key] = (float(index[i]), {**where, "coordinates_m": [float(v) for v in x]})
        out = global_extremes(self.problem.comm, local)
        for name in self._by_material:
            key = f"failure_probability_{name}"
            if key in aggregates:
                out[key] = (aggregates[key], {"material": name})
        particle_material = self.problem.materials[PARTICLES].name if table else None
        for key, field in (
            ("max_particle_energy_index", "energy_index"),
            ("min_critical_particle_radius_m", "critical_radius_m"),
            ("max_particle_failure_probability", "failure_probability"),
        ):
            if table and table[0][field] is not None:
                values = [row[field] for row in table]
                p = table[int(np.argmin(values) if is_minimum(key) else np.argmax(values))]
                where = {
                    "material": particle_material,
                    "particle": p["id"],
                    "coordinates_m": p["center_m"],
                }
                out[key] = (float(p[field]), where)
        return out
