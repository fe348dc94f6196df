"""columnar meshes: tags by name, column volume fraction and areas, overlap rejected."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from meshes.columnar import ColumnarSpec, build, check
from meshes.errors import GeometryError
from meshes.particle_rve import BOX_FACES
from tests.conftest import ROOT

COMM = MPI.COMM_WORLD
D, GAP, H, TC, TS = 1e-6, 0.2e-6, 2e-6, 0.5e-6, 1e-6


def spec(**kw: object) -> ColumnarSpec:
    data = {
        "kind": "columnar",
        "diameter": D,
        "height": H,
        "gap": GAP,
        "collector": TC,
        "separator": TS,
        "mesh": {"size": 0.3e-6, "interface_size": 0.1e-6},
    }
    return ColumnarSpec.model_validate({**data, **kw})


def integrate(integrand: ufl.Form) -> float:
    return COMM.allreduce(fem.assemble_scalar(fem.form(integrand)), op=MPI.SUM)


@pytest.mark.mpi
def test_columns_tags_fraction_and_areas() -> None:
    bundle = build(COMM, spec())
    assert bundle.cell_names == {"collector": 1, "columns": 2, "separator": 3}
    assert bundle.facet_names == {f: 4 + i for i, f in enumerate(BOX_FACES)} | {
        "collector_columns": 10,
        "columns_separator": 11,
    }
    m = bundle.mesh
    dx = ufl.Measure("dx", domain=m, subdomain_data=bundle.cell_tags)
    ds = ufl.Measure("ds", domain=m, subdomain_data=bundle.facet_tags)
    dS = ufl.Measure("dS", domain=m, subdomain_data=bundle.facet_tags)
    p = D + GAP
    cell = p / 2 * p * math.sqrt(3) / 2  # footprint of the symmetry cell
    feet = math.pi * D**2 / 8  # two quarter columns
    assert integrate(1.0 * dx(1)) == pytest.approx(cell * TC, rel=1e-9)
    assert integrate(1.0 * dx(3)) == pytest.approx(cell * TS, rel=1e-9)
    assert integrate(1.0 * dx(2)) == pytest.approx(feet * H, rel=0.01)
    for name in ("collector_columns", "columns_separator"):
        assert integrate(1.0 * dS(bundle.facet_names[name])) == pytest.approx(feet, rel=0.01)
    for face in ("zmin", "zmax"):
        assert integrate(1.0 * ds(bundle.facet_names[face])) == pytest.approx(cell, rel=1e-9)
    # xmin: full collector and separator, plus the flat face of one quarter column
    xmin = p * math.sqrt(3) / 2 * (TC + TS) + D / 2 * H
    assert integrate(1.0 * ds(bundle.facet_names["xmin"])) == pytest.approx(xmin, rel=1e-9)
    stats = bundle.stats
    requested = math.pi * D**2 / (2 * math.sqrt(3) * p**2)
    assert stats.volume_fractions_requested["columns"] == pytest.approx(requested)
    assert stats.volume_fractions_achieved["columns"] == pytest.approx(requested, rel=1e-6)


@pytest.mark.parametrize("gap", [0.0, -0.1e-6])
def test_overlapping_columns_are_rejected(gap: float) -> None:
    with pytest.raises(GeometryError) as info:
        check(spec(gap=gap))
    assert info.value.key == "gap"


def test_cli_check_names_the_gap() -> None:
    case = ROOT / "cases" / "columnar_si_lpscl.yaml"
    res = subprocess.run(
        [sys.executable, "-m", "solver.cli", "check", str(case), "--set", "geometry.gap=-50 nm"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert f"{case}: geometry.gap: columns overlap" in res.stderr
