"""Case files: units, defaults, overrides and every class of bad input named in the issue."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from solver.case import load_case
from solver.errors import CaseError
from solver.materials import LIBRARY
from solver.units import to_si

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "cases" / "si_lpscl_rve.yaml"


def test_units_are_parsed_to_si() -> None:
    assert to_si("2 um", "[length]", "") == pytest.approx(2e-6)
    assert to_si("50 MPa", "[pressure]", "") == pytest.approx(50e6)
    assert to_si("0.23 MPa*m**0.5", "[pressure] * [length] ** 0.5", "") == pytest.approx(2.3e5)
    assert to_si(3.0, "[length]", "") == 3.0
    assert to_si("1e-6", "[length]", "") == 1e-6  # YAML 1.1 reads 1e-6 as a string


def test_default_case_resolves_with_sources() -> None:
    case = load_case(DEFAULT)
    assert case.loading.stack_pressure == pytest.approx(50e6)
    assert case.geometry.box[0] == pytest.approx(1.2e-6)
    si = case.materials["particles"]
    assert si.name == "Si" and si.expansion is not None
    # Li15Si4-like full lithiation: +280 % volume (Obrovac & Krause 2007)
    assert si.expansion.volume_change(1.0) == pytest.approx(2.8)
    # the default lithiates fully, which needs finite strain and plastic flow (P1)
    assert case.lithiation.soc_start == 0.0 and case.lithiation.soc_end == 1.0
    assert case.model == "finite" and case.mechanics is not None and case.mechanics.plasticity
    assert case.solver.degree == 1
    assert si.flow_stress_at(1.0) == pytest.approx(1.0e9)
    assert case.materials["matrix"].flow_stress_at(0.0) == pytest.approx(0.6e9)  # H/3
    assert all(m.sources for m in LIBRARY.values())
    assert all(set(m.sources) >= {"E", "nu"} for m in LIBRARY.values())


def test_override_and_material_override() -> None:
    case = load_case(
        DEFAULT,
        ["loading.stack_pressure=75 MPa", "materials.matrix={base: Li6PS5Cl, E: 22 GPa}"],
    )
    assert case.loading.stack_pressure == pytest.approx(75e6)
    assert case.materials["matrix"].E == pytest.approx(22e9)
    assert case.materials["matrix"].sources["E"] == "case override"


def test_linear_expansion_law() -> None:
    case = load_case(
        DEFAULT,
        [
            "materials.particles={base: Si, expansion: {law: linear, "
            "partial_molar_volume: 9e-6 m**3/mol, c_max: 3.11e5 mol/m**3}}"
        ],
    )
    law = case.materials["particles"].expansion
    assert law is not None
    assert law.strain(0.1) == pytest.approx(9e-6 * 3.11e5 * 0.1 / 3)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "loading.stack_presure=3 MPa",
            "loading.stack_presure: unknown key; did you mean 'stack_pressure'",
        ),
        (
            "loading.stack_pressure=50 m",
            "loading.stack_pressure: '50 m' has dimension [length], expected [pressure]",
        ),
        ("geometry.box=[0, 1 um, 1 um]", "geometry.box.0: Input should be greater than 0"),
        (
            "geometry.particles.radius_mean=-1 um",
            "geometry.particles.radius_mean: Input should be greater than 0",
        ),
        (
            "materials.matrix=Li6PSCl",
            "materials.matrix: unknown material 'Li6PSCl'; did you mean 'Li6PS5Cl'",
        ),
        ("lithiation.soc_end=1.5", "lithiation.soc_end: Input should be less than or equal to 1"),
        (
            "lithiation.soc_start=-0.1",
            "lithiation.soc_start: Input should be greater than or equal to 0",
        ),
        ("loading.mode=spring", "needs spring_stiffness"),
        ("materials.binder=Cu", "unknown ['binder']"),
    ],
)
def test_bad_input_names_file_key_and_allowed(override: str, expected: str) -> None:
    with pytest.raises(CaseError) as info:
        load_case(DEFAULT, [override])
    message = str(info.value)
    assert message.startswith(str(DEFAULT))
    assert expected in message


def test_cli_check_exit_codes(tmp_path: Path) -> None:
    exe = [sys.executable, "-m", "solver.cli"]
    ok = subprocess.run([*exe, "check", str(DEFAULT)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "stack_pressure: 50000000.0" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT.read_text().replace("stack_pressure:", "stack_presure:"))
    res = subprocess.run([*exe, "check", str(bad)], capture_output=True, text=True)
    assert res.returncode == 2
    assert f"{bad}: loading.stack_presure: unknown key; did you mean 'stack_pressure'" in res.stderr
    assert "Traceback" not in res.stderr
    missing = subprocess.run(
        [*exe, "check", str(tmp_path / "nope.yaml")], capture_output=True, text=True
    )
    assert missing.returncode == 2 and "no such case file" in missing.stderr


def test_check_rejects_an_impossible_geometry(tmp_path: Path) -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "solver.cli",
            "check",
            str(ROOT / "tests/cases/tiny_rve.yaml"),
            "--set",
            "geometry.particles.items.1.center=[0.35 um, 0.35 um, 0.4 um]",
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert "geometry.particles.items.1: particles 0 and 1 overlap" in res.stderr


def _csv_case(tmp_path: Path, csv_text: str, unit: str = "um") -> Path:
    (tmp_path / "particles.csv").write_text(csv_text)
    text = (ROOT / "tests" / "cases" / "tiny_rve.yaml").read_text()
    head, rest = text.split("  particles:\n", 1)
    rest = rest[rest.index("  mesh:") :]
    case = tmp_path / "from_csv.yaml"
    entry = f"  particles: {{mode: csv, path: particles.csv, unit: {unit}}}\n"
    case.write_text(head + entry + rest)
    return case


def test_particle_list_from_csv_relative_to_the_case(tmp_path: Path) -> None:
    case = load_case(
        _csv_case(tmp_path, "radius,x,y,z,id\n0.2,0.3,0.3,0.35,1\n0.1,0.7,0.7,0.7,2\n")
    )
    particles = case.geometry.particles
    assert particles.mode == "explicit" and particles.source.endswith("particles.csv")
    assert particles.items[0].center == pytest.approx((0.3e-6, 0.3e-6, 0.35e-6))
    assert [p.radius for p in particles.items] == pytest.approx([0.2e-6, 0.1e-6])


@pytest.mark.parametrize(
    ("csv_text", "unit", "message"),
    [
        ("x,y,radius\n0.3,0.3,0.2\n", "um", "lacks column(s) ['z']"),
        ("x,y,z,radius\n0.3,0.3,a,0.2\n", "um", "line 2: x, y, z, radius must be numbers"),
        ("x,y,z,radius\n0.3,0.3,0.3,0.2\n", "kPa", "has dimension"),
    ],
)
def test_bad_particle_list_names_file_and_key(
    tmp_path: Path, csv_text: str, unit: str, message: str
) -> None:
    case = _csv_case(tmp_path, csv_text, unit)
    with pytest.raises(CaseError) as info:
        load_case(case)
    assert f"{case}: geometry.particles: " in str(info.value)
    assert message in str(info.value)


def test_missing_particle_list(tmp_path: Path) -> None:
    case = _csv_case(tmp_path, "x,y,z,radius\n")
    (tmp_path / "particles.csv").unlink()
    with pytest.raises(CaseError, match=r"cannot read particle list .*particles\.csv"):
        load_case(case)


FILM = ROOT / "cases" / "si_film_llzto.yaml"


def test_geometry_without_kind_is_a_particle_rve(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.yaml"
    legacy.write_text(DEFAULT.read_text().replace("  kind: particle_rve\n", ""))
    assert "kind" not in legacy.read_text()
    case = load_case(legacy)
    assert case.geometry.kind == "particle_rve"
    assert case.geometry.regions == ("particles", "matrix")


def test_thin_film_case_regions_and_free_mode() -> None:
    case = load_case(FILM)
    assert case.geometry.kind == "thin_film"
    assert set(case.materials) == set(case.geometry.regions) == {"electrolyte", "film"}
    assert case.geometry.stack_height == pytest.approx(1e-3 + 180e-9)
    free = load_case(FILM, ["loading.mode=free"])  # a free bilayer bends (Stoney)
    assert free.loading.mode == "free"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "geometry.kind=thin_flm",
            "geometry.kind: unknown kind 'thin_flm'; did you mean 'thin_film'",
        ),
        ("geometry.mesh.sise=1 um", "geometry.mesh.sise: unknown key; did you mean 'size'?"),
        (
            "geometry.layers.1.thicknes=45 nm",
            "geometry.layers.1.thicknes: unknown key; did you mean 'thickness'? "
            "(allowed: region, thickness)",
        ),
        (
            "geometry.layers.1.thickness=0 nm",
            "geometry.layers.1.thickness: Input should be greater",
        ),
        ("materials.substrate=LLZTO", "materials must name exactly the regions of the geometry"),
    ],
)
def test_bad_film_input_names_file_and_key(override: str, expected: str) -> None:
    with pytest.raises(CaseError) as info:
        load_case(FILM, [override])
    assert str(info.value).startswith(f"{FILM}: ")
    assert expected in str(info.value)


def test_check_rejects_an_impossible_film() -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "solver.cli",
            "check",
            str(FILM),
            "--set",
            "geometry.pattern={layer: film, width: 2 um, gap: 0.2 um}",
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert f"{FILM}: geometry.pattern.width: an island" in res.stderr


def test_finite_model_needs_a_3d_geometry() -> None:
    case = ROOT / "cases" / "si_lpscl_rve_2d.yaml"
    with pytest.raises(CaseError, match="model 'finite' needs a 3D geometry"):
        load_case(case, ["model=finite"])
