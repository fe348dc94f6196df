"""thin_film meshes: tags by name, layer volumes, interface and face areas, grading, errors."""

from __future__ import annotations

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from meshes.errors import GeometryError
from meshes.particle_rve import BOX_FACES
from meshes.thin_film import ThinFilmSpec, build, check, element_heights

COMM = MPI.COMM_WORLD


def spec(**kw: object) -> ThinFilmSpec:
    data: dict[str, object] = {
        "kind": "thin_film",
        "lateral": ["4 um", "4 um"],
        "layers": [
            {"region": "collector", "thickness": "1 um"},
            {"region": "substrate", "thickness": "3 um"},
            {"region": "film", "thickness": "200 nm"},
        ],
        "mesh": {"size": "0.5 um"},
    }
    return ThinFilmSpec.model_validate({**data, **kw})


def integrate(integrand: ufl.Form) -> float:
    return COMM.allreduce(fem.assemble_scalar(fem.form(integrand)), op=MPI.SUM)


@pytest.mark.mpi
def test_layers_tags_volumes_and_interfaces() -> None:
    bundle = build(COMM, spec())
    assert bundle.cell_names == {"collector": 1, "substrate": 2, "film": 3}
    assert bundle.facet_names == {f: 4 + i for i, f in enumerate(BOX_FACES)} | {
        "collector_substrate": 10,
        "substrate_film": 11,
    }
    m, ct, ft = bundle.mesh, bundle.cell_tags, bundle.facet_tags
    dx = ufl.Measure("dx", domain=m, subdomain_data=ct)
    ds = ufl.Measure("ds", domain=m, subdomain_data=ft)
    dS = ufl.Measure("dS", domain=m, subdomain_data=ft)
    area = 16e-12
    for tag, t in ((1, 1e-6), (2, 3e-6), (3, 0.2e-6)):
        assert integrate(1.0 * dx(tag)) == pytest.approx(area * t, rel=1e-9)
    for name in ("collector_substrate", "substrate_film"):
        assert integrate(1.0 * dS(bundle.facet_names[name])) == pytest.approx(area, rel=1e-9)
    for face in ("zmin", "zmax"):
        assert integrate(1.0 * ds(bundle.facet_names[face])) == pytest.approx(area, rel=1e-9)
    for face in BOX_FACES[:4]:
        assert integrate(1.0 * ds(bundle.facet_names[face])) == pytest.approx(16.8e-12, rel=1e-9)
    assert integrate(1.0 * ds) == pytest.approx(2 * area + 4 * 16.8e-12, rel=1e-9)  # conforming
    stats = bundle.stats
    assert stats.num_cells == COMM.allreduce(m.topology.index_map(3).size_local, op=MPI.SUM)
    assert stats.thicknesses_requested == pytest.approx(
        {"collector": 1e-6, "substrate": 3e-6, "film": 0.2e-6}
    )
    assert stats.thicknesses_achieved == pytest.approx(stats.thicknesses_requested, rel=1e-9)


@pytest.mark.mpi
def test_islands_are_void_between() -> None:
    # 2 x 2 islands of 1.5 um with 0.5 um gaps on a 4 um square: coverage 9/16
    bundle = build(COMM, spec(pattern={"layer": "film", "width": "1.5 um", "gap": "0.5 um"}))
    m, ft = bundle.mesh, bundle.facet_tags
    ds = ufl.Measure("ds", domain=m, subdomain_data=ft)
    dS = ufl.Measure("dS", domain=m, subdomain_data=ft)
    dx = ufl.Measure("dx", domain=m, subdomain_data=bundle.cell_tags)
    islands = 4 * 1.5e-6**2
    assert integrate(1.0 * dx(bundle.cell_names["film"])) == pytest.approx(islands * 0.2e-6)
    assert integrate(1.0 * dS(bundle.facet_names["substrate_film"])) == pytest.approx(islands)
    assert integrate(1.0 * ds(bundle.facet_names["zmax"])) == pytest.approx(islands)
    # islands do not touch the lateral faces: those are collector + substrate only
    assert integrate(1.0 * ds(bundle.facet_names["xmin"])) == pytest.approx(4e-6 * 4e-6)
    assert bundle.stats.thicknesses_achieved["film"] == pytest.approx(0.2e-6, rel=1e-9)


def test_stripes_and_rough_interface() -> None:
    rough = {"lower": "substrate", "amplitude": "90 nm", "wavelength": "2 um", "axes": "x"}
    stripes = {"layer": "film", "width": "1.5 um", "gap": "0.5 um", "axes": "x"}
    bundle = build(COMM, spec(pattern=stripes, roughness=rough, mesh={"size": "0.25 um"}))
    m, ft = bundle.mesh, bundle.facet_tags
    dS = ufl.Measure("dS", domain=m, subdomain_data=ft)
    # the rough interface is longer than its footprint; whole wavelengths keep the volume
    footprint = 2 * 1.5e-6 * 4e-6
    assert integrate(1.0 * dS(bundle.facet_names["substrate_film"])) > 1.01 * footprint
    for region in ("substrate", "film"):
        achieved = bundle.stats.thicknesses_achieved[region]
        assert achieved == pytest.approx(bundle.stats.thicknesses_requested[region], rel=1e-6)
    z = m.geometry.x[:, 2]
    assert z.min() == pytest.approx(0.0, abs=1e-15) and z.max() == pytest.approx(4.2e-6)


def test_graded_50nm_film_on_500um_pellet_has_few_cells() -> None:
    thick = spec(
        lateral=["2 um", "2 um"],
        layers=[
            {"region": "substrate", "thickness": "500 um"},
            {"region": "film", "thickness": "50 nm"},
        ],
        mesh={"size": "1 um", "max_height": "50 um"},
    )
    bundle = build(COMM, thick)
    assert bundle.stats.num_cells < 1000  # 696 (uniform 25 nm elements would need 2·10⁵)
    assert bundle.stats.thicknesses_achieved["film"] == pytest.approx(50e-9, rel=1e-9)
    z = np.unique(np.round(bundle.mesh.geometry.x[:, 2] / 1e-9))  # element layers (nm)
    assert np.diff(z)[-2:] == pytest.approx([25, 25])  # two elements through the film
    assert np.diff(z).max() <= 50e3 + 1e-6


def test_element_heights_grade_from_both_faces() -> None:
    h = element_heights(10.0, 0.1, 1.0, 1.5, 2.0)
    assert sum(h) == pytest.approx(10.0)
    assert h[0] == pytest.approx(0.1, rel=0.1) and h[-1] == pytest.approx(1.0, rel=0.1)
    ratios = np.array(h[1:]) / np.array(h[:-1])
    assert ratios.max() < 1.8 and max(h) <= 2.0 * 1.05


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"pattern": {"layer": "film", "width": "1 um", "gap": "-0.5 um"}}, "pattern.gap"),
        ({"pattern": {"layer": "film", "width": "1 um", "gap": "0 um"}}, "pattern.gap"),
        ({"pattern": {"layer": "film", "width": "5 um", "gap": "0.5 um"}}, "pattern.width"),
        ({"pattern": {"layer": "flim", "width": "1 um", "gap": "0.5 um"}}, "pattern.layer"),
        (
            {"roughness": {"lower": "substrate", "amplitude": "0.2 um", "wavelength": "2 um"}},
            "roughness.amplitude",
        ),
        (
            {"roughness": {"lower": "film", "amplitude": "10 nm", "wavelength": "2 um"}},
            "roughness.lower",
        ),
        (
            {
                "layers": [
                    {"region": "film", "thickness": "1 um"},
                    {"region": "film", "thickness": "1 um"},
                ]
            },
            "layers.1.region",
        ),
    ],
)
def test_impossible_stacks_name_the_key(changes: dict[str, object], key: str) -> None:
    with pytest.raises(GeometryError) as info:
        check(spec(**changes))
    assert info.value.key == key


def test_zero_thickness_is_rejected_by_the_schema() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        spec(layers=[{"region": "film", "thickness": "0 nm"}])


def test_random_roughness_is_seeded_bounded_and_symmetric_at_the_faces() -> None:
    from meshes.thin_film import random_profile

    x, y = np.linspace(0, 4.0, 401), np.linspace(0, 4.0, 401)
    xx, yy = np.meshgrid(x, y)
    shape = random_profile(xx.ravel(), yy.ravel(), 4.0, 4.0, 1.0, seed=3).reshape(xx.shape)
    assert np.abs(shape).max() <= 1.0 + 1e-12 and shape.std() > 0.1
    assert np.array_equal(
        shape, random_profile(xx.ravel(), yy.ravel(), 4.0, 4.0, 1.0, 3).reshape(xx.shape)
    )
    assert not np.allclose(
        shape, random_profile(xx.ravel(), yy.ravel(), 4.0, 4.0, 1.0, 4).reshape(xx.shape)
    )
    # mirror-symmetric at the roller faces: zero slope across x = 0, Lx and y = 0, Ly
    for axis in (0, 1):
        for edge in (0, -1):
            inner = 1 if edge == 0 else -2
            step = np.take(shape, inner, axis=axis) - np.take(shape, edge, axis=axis)
            assert np.abs(step).max() < 1e-3
    rough = {
        "lower": "substrate",
        "amplitude": "90 nm",
        "wavelength": "2 um",
        "profile": "random",
        "seed": 3,
    }
    bundle = build(COMM, spec(roughness=rough, mesh={"size": "0.25 um"}))
    dS = ufl.Measure("dS", domain=bundle.mesh, subdomain_data=bundle.facet_tags)
    area = integrate(1.0 * dS(bundle.facet_names["substrate_film"]))
    assert 16e-12 < area < 1.05 * 16e-12  # rough, gently sloped (A/λ < 0.05)
    assert bundle.stats.thicknesses_achieved["film"] > 0
