"""thin_film_2d: plane-strain film sections — tags, graded thicknesses, stripes, roughness.

Verification (physics.md §3.4 in plane strain): a uniform film bonded to a non-swelling
substrate, lateral rollers, free top: ε_xx = ε_zz = 0, σ_yy = 0, so
σ_xx = σ_zz = −E_f β/(1 − ν_f) in the film (the clamped-film stress of the 3D stack) and the
substrate is stress-free; to 1e-8 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from meshes.errors import GeometryError
from meshes.thin_film_2d import ThinFilm2DSpec, build, check
from solver.case import Loading, SolverSettings
from solver.derived import DerivedFields
from solver.materials import LIBRARY
from solver.physics.mechanics import ElasticityProblem
from solver.physics.supports import supports_for
from tests.verification import record

COMM = MPI.COMM_WORLD
THETA = 0.02


def film(**kw: object) -> ThinFilm2DSpec:
    data = {
        "kind": "thin_film_2d",
        "width": 1e-6,
        "layers": [
            {"region": "electrolyte", "thickness": 1e-3},
            {"region": "film", "thickness": 180e-9},
        ],
        "mesh": {"size": 0.25e-6, "max_height": 100e-6},
    }
    return ThinFilm2DSpec.model_validate({**data, **kw})


def integrate(form: ufl.Form) -> float:
    return COMM.allreduce(fem.assemble_scalar(fem.form(form)), op=MPI.SUM)


@pytest.mark.mpi
def test_tags_and_graded_thicknesses() -> None:
    bundle = build(COMM, film())
    assert bundle.mesh.geometry.dim == 2
    assert list(bundle.cell_names) == ["electrolyte", "film"]
    assert set(bundle.facet_names) == {"xmin", "xmax", "ymin", "ymax", "electrolyte_film"}
    achieved = bundle.stats.thicknesses_achieved
    assert achieved == pytest.approx({"electrolyte": 1e-3, "film": 180e-9}, rel=1e-9)
    ds = ufl.Measure("ds", domain=bundle.mesh, subdomain_data=bundle.facet_tags)
    dS = ufl.Measure("dS", domain=bundle.mesh, subdomain_data=bundle.facet_tags)
    one = fem.Constant(bundle.mesh, 1.0)
    assert integrate(one * ds(bundle.facet_names["ymax"])) == pytest.approx(1e-6, rel=1e-12)
    assert integrate(one("+") * dS(bundle.facet_names["electrolyte_film"])) == pytest.approx(
        1e-6, rel=1e-12
    )
    assert bundle.stats.num_cells < 2000  # graded: a 1 mm pellet under a 180 nm film


def test_stripes_and_roughness() -> None:
    spec = film(pattern={"layer": "film", "width": 0.3e-6, "gap": 0.2e-6})
    bundle = build(COMM, spec)
    assert bundle.stats.thicknesses_achieved["film"] == pytest.approx(180e-9, rel=1e-9)
    dx = ufl.Measure("dx", domain=bundle.mesh, subdomain_data=bundle.cell_tags)
    one = fem.Constant(bundle.mesh, 1.0)
    # stripes [0.1, 0.4] and [0.6, 0.9] µm: 0.6 µm of film
    assert integrate(one * dx(bundle.cell_names["film"])) == pytest.approx(0.6e-6 * 180e-9)
    rough = film(
        roughness={"lower": "electrolyte", "amplitude": 30e-9, "wavelength": 1e-6},
        mesh={"size": 0.1e-6, "max_height": 100e-6},
    )
    bundle = build(COMM, rough)
    dx = ufl.Measure("dx", domain=bundle.mesh, subdomain_data=bundle.cell_tags)
    one = fem.Constant(bundle.mesh, 1.0)
    # a full sine period moves no area between the layers
    assert integrate(one * dx(bundle.cell_names["film"])) == pytest.approx(1e-6 * 180e-9, rel=1e-6)
    with pytest.raises(GeometryError, match="amplitude"):
        check(film(roughness={"lower": "electrolyte", "amplitude": 0.1e-6, "wavelength": 1e-6}))
    with pytest.raises(GeometryError, match="not a layer"):
        check(film(pattern={"layer": "nope", "width": 0.3e-6, "gap": 0.2e-6}))


@pytest.mark.mpi
@pytest.mark.verification
def test_clamped_film_stress_plane_strain() -> None:
    bundle = build(COMM, film())
    si, llzto = LIBRARY["Si"], LIBRARY["LLZTO"]
    supports = supports_for(Loading(mode="pressure", stack_pressure=0.0), 2)
    problem = ElasticityProblem(
        bundle, {"electrolyte": llzto, "film": si}, supports, SolverSettings()
    )
    problem.solve(THETA)
    derived = DerivedFields(problem)
    derived.update()
    s = derived.sigma.x.array.reshape(-1, 3, 3)
    lam, mu = si.lame(THETA)
    e_f, nu_f = mu * (3 * lam + 2 * mu) / (lam + mu), lam / (2 * (lam + mu))
    expected = -e_f * si.chemical_strain(THETA) / (1 - nu_f)
    film_cells = problem.region_cells["film"]
    substrate = problem.region_cells["electrolyte"]
    scale = abs(expected)
    np.testing.assert_allclose(s[film_cells, 0, 0], expected, rtol=1e-8)
    np.testing.assert_allclose(s[film_cells, 2, 2], expected, rtol=1e-8)
    np.testing.assert_allclose(s[film_cells, 1, 1], 0.0, atol=1e-8 * scale)
    np.testing.assert_allclose(s[substrate], 0.0, atol=1e-8 * scale)
    measured = COMM.allreduce(float(s[film_cells, 0, 0].mean()) if film_cells.size else 0.0)
    measured /= COMM.allreduce(1 if film_cells.size else 0)
    record(
        "plane_strain_clamped_film",
        title="Plane strain: film on a substrate, in-plane stress",
        reference="physics.md §3.4 (σ = −E_f β/(1 − ν_f)), plane-strain section",
        quantity="film σ_xx = σ_zz (Pa)",
        measured=measured,
        expected=expected,
        tolerance=1e-8,
        setup="180 nm Si on 1 mm LLZTO, 1 µm wide section, rollers, free top, SOC 0.02, P1",
    )
