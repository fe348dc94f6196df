"""Particle RVE with a current collector below and a separator above the composite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from meshes.particle_rve import ParticleRVESpec, build
from solver.case import load_case
from solver.errors import CaseError
from tests.conftest import TINY_CASE, ssbmech

L, H, T_CC, T_SEP = 1e-6, 1e-6, 0.3e-6, 0.5e-6
SPEC = {
    "box": [L, L, H],
    "particles": {
        "mode": "random",
        "volume_fraction": 0.2,
        "radius_mean": 0.2e-6,
        "min_gap": 0.03e-6,
        "seed": 1,
        "placement": "clipped",
    },
    "below": [{"region": "collector", "thickness": T_CC}],
    "above": [{"region": "separator", "thickness": T_SEP}],
    "mesh": {"size": 0.15e-6, "interface_size": 0.07e-6},
}


def integral(bundle, measure) -> float:  # type: ignore[no-untyped-def]
    value = fem.assemble_scalar(fem.form(1.0 * measure))
    return float(bundle.mesh.comm.allreduce(value, op=MPI.SUM))


def test_layers_are_tagged_with_exact_volumes_and_planes() -> None:
    spec = ParticleRVESpec.model_validate(SPEC)
    bundle = build(MPI.COMM_WORLD, spec)
    assert set(bundle.cell_names) == {"particles", "matrix", "collector", "separator"}
    assert {"collector_composite", "composite_separator", "interface"} <= set(bundle.facet_names)
    dx = ufl.Measure("dx", domain=bundle.mesh, subdomain_data=bundle.cell_tags)
    dS = ufl.Measure("dS", domain=bundle.mesh, subdomain_data=bundle.facet_tags)
    ds = ufl.Measure("ds", domain=bundle.mesh, subdomain_data=bundle.facet_tags)
    cells, facets = bundle.cell_names, bundle.facet_names
    assert integral(bundle, dx(cells["collector"])) == pytest.approx(L * L * T_CC, rel=1e-9)
    assert integral(bundle, dx(cells["separator"])) == pytest.approx(L * L * T_SEP, rel=1e-9)
    composite = integral(bundle, dx(cells["particles"])) + integral(bundle, dx(cells["matrix"]))
    assert composite == pytest.approx(L * L * H, rel=1e-9)
    for name in ("collector_composite", "composite_separator"):
        assert integral(bundle, dS(facets[name])) == pytest.approx(L * L, rel=1e-9)
    assert integral(bundle, ds(facets["zmax"])) == pytest.approx(L * L, rel=1e-9)
    assert spec.stack_height == pytest.approx(H + T_CC + T_SEP)
    assert bundle.stats.thicknesses_achieved == pytest.approx(
        {"collector": T_CC, "separator": T_SEP}, rel=1e-9
    )
    # particle centres are reported in mesh coordinates (shifted by the collector)
    assert min(p.center[2] for p in bundle.stats.particles) > T_CC - 0.2e-6


def test_layer_names_may_not_clash(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="clash with the composite's regions"):
        load_case(TINY_CASE, ["geometry.above=[{region: matrix, thickness: 1 um}]"])


def test_run_with_collector_and_separator(tmp_path: Path) -> None:
    out = tmp_path / "layers"
    ssbmech(
        "run",
        str(TINY_CASE),
        "--out",
        str(out),
        "--set",
        "geometry.below=[{region: collector, thickness: 0.2 um}]",
        "--set",
        "geometry.above=[{region: separator, thickness: 0.3 um}]",
        "--set",
        "materials.collector=Cu",
        "--set",
        "materials.separator=Li6PS5Cl",
        "--set",
        "lithiation.steps=1",
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert summary["mesh"]["thicknesses_achieved"]["separator"] == pytest.approx(0.3e-6)
    # the stack strain is over the whole stack height (1 µm composite + 0.5 µm layers)
    assert "max_principal_Pa_Li6PS5Cl" in summary["final"]
