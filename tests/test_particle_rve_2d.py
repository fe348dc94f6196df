"""particle_rve_2d: disk packing (exact clipped areas), tags and areas by name, 2D runs.

The 2D bundled case runs end to end (coarse) serially and under ``mpirun -n 2`` with equal
histories, and renders (σ1 map of the whole section, non-blank, in a fresh process).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import ufl
import yaml
from dolfinx import fem
from matplotlib.image import imread
from mpi4py import MPI

from meshes.errors import GeometryError
from meshes.packing import area_in_rectangle, pack_random
from meshes.particle_rve import RandomParticles
from meshes.particle_rve_2d import FACES, ParticleRVE2DSpec, build, place_particles
from meshes.rearrange import pack_dense
from solver import crack_risk as cr
from solver.case import load_case
from solver.errors import CaseError
from tests.conftest import ROOT, clean_env, ssbmech
from tests.test_run import assert_histories_match, coarse_overrides, history

COMM = MPI.COMM_WORLD
L = 1e-6
A = 0.3e-6
RECT = np.array([2e-6, 1e-6])
CASE = ROOT / "cases" / "si_lpscl_rve_2d.yaml"


def rve(**kw: object) -> ParticleRVE2DSpec:
    data = {
        "box": [L, L],
        "particles": {"mode": "explicit", "items": [{"center": [L / 2] * 2, "radius": A}]},
        "mesh": {"size": 0.1e-6, "interface_size": 0.02e-6},
    }
    return ParticleRVE2DSpec.model_validate({**data, **kw})


def integrate(integrand: ufl.Form) -> float:
    return COMM.allreduce(fem.assemble_scalar(fem.form(integrand)), op=MPI.SUM)


@pytest.mark.parametrize(
    ("center", "share"),
    [([0.5e-6, 0.5e-6], 1.0), ([0.0, 0.5e-6], 1 / 2), ([2e-6, 1e-6], 1 / 4)],
)
def test_clipped_disk_area_halves_quarters(center: list[float], share: float) -> None:
    a = 0.4e-6
    assert area_in_rectangle(np.array(center), a, RECT) == pytest.approx(
        share * np.pi * a**2, rel=1e-12
    )


def test_clipped_disk_area_segment_and_corner() -> None:
    a, h = 0.4e-6, 0.1e-6  # centre h inside x = 0: a circular segment of height a − h is cut
    segment = a**2 * np.arccos(h / a) - h * np.sqrt(a**2 - h**2)
    assert area_in_rectangle(np.array([h, 0.5e-6]), a, RECT) == pytest.approx(
        np.pi * a**2 - segment, rel=1e-12
    )
    center, n = np.array([0.15e-6, 0.2e-6]), 4000  # two faces cut: midpoint rule in x
    x = -center[0] + (np.arange(n) + 0.5) * (a + center[0]) / n
    half_chord = np.sqrt(np.maximum(a**2 - x**2, 0))
    length = np.clip(half_chord - np.maximum(-center[1], -half_chord), 0, None)
    assert area_in_rectangle(center, a, RECT) == pytest.approx(
        length.sum() * (a + center[0]) / n, rel=1e-6
    )


def disks(**kw: object) -> RandomParticles:
    base = {"volume_fraction": 0.3, "radius_mean": 0.1e-6, "min_gap": 0.01e-6, "seed": 3}
    return RandomParticles.model_validate({**base, **kw})


@pytest.mark.parametrize("placement", ["inside", "clipped"])
def test_rsa_disks_fraction_gap_and_placement(placement: str) -> None:
    spec = disks(placement=placement, radius_std=0.02e-6)
    particles = pack_random(spec, RECT)
    assert particles == pack_random(spec, RECT)  # seeded
    c = np.array([p.center for p in particles])
    r = np.array([p.radius for p in particles])
    assert np.all(c[:, 2] == 0.0)
    area = sum(area_in_rectangle(ci, ri, RECT) for ci, ri in zip(c, r, strict=True))
    assert abs(area / RECT.prod() - 0.3) <= 0.5 * np.pi * 0.1e-6**2 * 1.04 / RECT.prod()
    d = np.linalg.norm(c[:, None] - c[None], axis=2) + np.eye(len(r))
    assert np.all(d >= (r[:, None] + r[None] + spec.min_gap) * (1 - 1e-12))
    if placement == "inside":
        assert np.all(c[:, :2] - r[:, None] >= spec.min_gap * (1 - 1e-9))
        assert np.all(RECT - c[:, :2] - r[:, None] >= spec.min_gap * (1 - 1e-9))


def test_rearrangement_reaches_dense_disks() -> None:
    spec = disks(volume_fraction=0.6, packer="rearrange", radius_std=0.0, min_gap=0.0)
    particles = pack_dense(spec, RECT)
    c = np.array([p.center for p in particles])[:, :2]
    r = np.array([p.radius for p in particles])
    one_disk = np.pi * 0.1e-6**2 / RECT.prod()  # the last drawn disk may overshoot
    assert np.sum(np.pi * r**2) / RECT.prod() == pytest.approx(0.6, abs=one_disk)
    d = np.linalg.norm(c[:, None] - c[None], axis=2) + np.eye(len(r))
    assert np.all(d >= (r[:, None] + r[None]) * (1 - 1e-9))


@pytest.mark.mpi
def test_tags_areas_and_lengths_by_name() -> None:
    bundle = build(COMM, rve())
    m, ct, ft = bundle.mesh, bundle.cell_tags, bundle.facet_tags
    assert m.geometry.dim == 2 and m.topology.dim == 2
    assert list(bundle.cell_names) == ["particles", "matrix"]
    assert list(bundle.facet_names) == ["interface", *FACES]
    dx = ufl.Measure("dx", domain=m, subdomain_data=ct)
    ds = ufl.Measure("ds", domain=m, subdomain_data=ft)
    ds_int = ufl.Measure("dS", domain=m, subdomain_data=ft)
    one = fem.Constant(m, 1.0)
    disk = integrate(one * dx(bundle.cell_names["particles"]))
    assert disk == pytest.approx(np.pi * A**2, rel=2e-3)  # polygonal: 1 − sin(2π/n)/(2π/n)
    assert integrate(one * dx) == pytest.approx(L * L, rel=1e-12)
    assert integrate(one("+") * ds_int(bundle.facet_names["interface"])) == pytest.approx(
        2 * np.pi * A, rel=1e-3
    )
    for face in FACES:
        assert integrate(one * ds(bundle.facet_names[face])) == pytest.approx(L, rel=1e-12)
    achieved = bundle.stats.volume_fractions_achieved["particles"]
    assert achieved == pytest.approx(np.pi * A**2 / L**2, rel=1e-9)  # OCC: exact disk area


def test_clipped_disks_belong_to_faces_and_fraction_is_exact() -> None:
    items = [{"center": [0.0, 0.4e-6], "radius": 0.2e-6}, {"center": [0.7e-6, 1e-6], "radius": A}]
    spec = rve(particles={"mode": "explicit", "items": items, "placement": "clipped"})
    bundle = build(COMM, spec)
    exact = (np.pi * 0.2e-6**2 / 2 + np.pi * A**2 / 2) / L**2
    assert bundle.stats.volume_fractions_achieved["particles"] == pytest.approx(exact, rel=1e-9)
    ds = ufl.Measure("ds", domain=bundle.mesh, subdomain_data=bundle.facet_tags)
    one = fem.Constant(bundle.mesh, 1.0)
    for face in FACES:  # the straight cuts of the disks are part of the faces
        assert integrate(one * ds(bundle.facet_names[face])) == pytest.approx(L, rel=1e-12)


def test_case_validation() -> None:
    with pytest.raises(ValueError, match="periodic"):
        rve(particles={"mode": "random", **disks().model_dump(), "placement": "periodic"})
    with pytest.raises(GeometryError, match="overlap"):
        items = [{"center": [0.4e-6, 0.5e-6], "radius": 0.2e-6}] * 2
        place_particles(rve(particles={"mode": "explicit", "items": items}))
    case = load_case(CASE)
    assert case.geometry.kind == "particle_rve_2d"
    assert case.geometry.stack_height == pytest.approx(3e-6)


def test_transport_is_refused_in_2d(tmp_path: Path) -> None:
    data = yaml.safe_load(CASE.read_text())
    data.update(
        model="transport-small",
        lithiation={"mode": "galvanostatic", "soc_end": 0.1, "c_rate": "1C", "steps": 2},
        transport={"diffusivity": "1e-16 m^2/s"},
    )
    path = tmp_path / "transport_2d.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CaseError, match="does not support the 2D geometry"):
        load_case(path)


def test_2d_case_mpi_matches_serial_and_renders(tmp_path: Path) -> None:
    runs = {}
    for ranks in (1, 2):
        out = tmp_path / f"np{ranks}"
        ssbmech("run", str(CASE), "--out", str(out), *coarse_overrides(CASE), ranks=ranks)
        runs[ranks] = history(out)
        summary = json.loads((out / "summary.json").read_text())
        assert summary["mpi_size"] == ranks and summary["status"] == "complete"
    assert_histories_match(runs[1], runs[2])
    h = runs[1]
    np.testing.assert_allclose(h["stack_pressure_Pa"], 50e6, rtol=1e-6)
    assert h["mean_hydrostatic_Pa_Si"][-1] < h["mean_hydrostatic_Pa_Si"][0] < 0
    assert h["max_principal_Pa_Li6PS5Cl"][-1] > 0 and h["stack_strain"][-1] > h["stack_strain"][0]
    xdmf = (tmp_path / "np1" / "fields.xdmf").read_text()
    assert 'TopologyType="Triangle"' in xdmf and 'Name="sigma_zz"' in xdmf
    script = (
        "import sys; import numpy as np; from postprocess.reader import read_run; "
        "from postprocess.render import RenderOptions, render_run; "
        "run = read_run(sys.argv[1]); g = run.grid_at(); s = g['sigma'].reshape(-1, 3, 3); "
        "assert np.allclose(s[:, 2, 2], g['sigma_zz']) and np.abs(s[:, 2, 2]).max() > 0; "
        "paths = render_run(run.run_dir, RenderOptions(fields=('max_principal',), "
        "views=('clip',))); print(paths[0])"
    )
    res = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "np1")],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    image = np.asarray(imread(Path(res.stdout.strip().splitlines()[-1])))[..., :3]
    assert image.std() > 0.05  # not blank (values in 0…1)


def test_cylinder_critical_radius() -> None:
    # cylinder per unit length: U = w π R², crack area 2R → R_c = 2Γ/(π w) (3D: 3Γ/(4w))
    assert float(cr.critical_particle_radius(1.0, np.array(1.0), 2)) == pytest.approx(2 / np.pi)
    assert float(cr.critical_particle_radius(1.0, np.array(1.0))) == pytest.approx(0.75)
