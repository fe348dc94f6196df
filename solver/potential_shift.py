"""Stress–potential coupling output: ΔU = Ω σ_h / F (physics.md §1, Sethuraman et al. 2010).

The mechanical contribution to the equilibrium potential of a Li host is ΔU = Ω σ_h / F (V),
Ω the partial molar volume of Li in the host (m3 mol-1), σ_h the hydrostatic stress (Pa,
tension positive: tension raises, compression lowers the lithiation potential), F Faraday's
constant. With Ω = 9.0e-6 m3 mol-1 that is ≈ 93 mV per GPa of hydrostatic stress.

Reported as the area average of σ_h over the surfaces where Li enters (the host side of each
facet: a DG0 field masked to the host cells, summed over both sides of interior facets), so
pressure-dependent overpotentials can be read off the history (``voltage_shift_V``), and per
particle from the particle's volume-average σ_h.
"""

from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.mesh import Mesh
from mpi4py import MPI

from meshes.bundle import MeshBundle

FARADAY = 96485.33212  # C mol-1


def voltage_shift(omega: float, hydrostatic: float) -> float:
    """ΔU = Ω σ_h / F (V) for Ω (m3 mol-1) and σ_h (Pa)."""
    return omega * hydrostatic / FARADAY


class SurfaceHydrostatic:
    """Area average (Pa) of a DG0 hydrostatic field on the host side of named facet groups."""

    def __init__(
        self,
        mesh: Mesh,
        bundle: MeshBundle,
        host_cells: np.ndarray,
        hydrostatic: fem.Function,
        surfaces: list[str],
    ) -> None:
        dg0 = hydrostatic.function_space
        self._host = fem.Function(dg0)
        self._host.x.array[host_cells] = 1.0
        self._host.x.scatter_forward()
        tags = [bundle.facet_names[name] for name in surfaces]
        ds = ufl.Measure("ds", domain=mesh, subdomain_data=bundle.facet_tags)
        dS = ufl.Measure("dS", domain=mesh, subdomain_data=bundle.facet_tags)

        def on_surfaces(f: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
            return sum(
                ((f("+") + f("-")) * dS(t) + f * ds(t) for t in tags[1:]),
                (f("+") + f("-")) * dS(tags[0]) + f * ds(tags[0]),
            )

        self._area = fem.form(on_surfaces(self._host))
        self._integral = fem.form(on_surfaces(self._host * hydrostatic))
        self._comm = mesh.comm

    def mean(self) -> float:
        """∫_S σ_h dA / ∫_S dA over the host side of the surfaces (Pa; 0 without area)."""
        area = self._comm.allreduce(fem.assemble_scalar(self._area), op=MPI.SUM)
        total = self._comm.allreduce(fem.assemble_scalar(self._integral), op=MPI.SUM)
        return float(total / area) if area > 0 else 0.0
