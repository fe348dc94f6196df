"""``ssbmech sweep``: expansion, sweep.csv, rerun skips complete cases, failures reported."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import yaml

from solver.sweep import SweepSpec, case_name
from tests.conftest import TINY_CASE, ssbmech

TINY = {"lithiation.steps": 1, "geometry.mesh.size": "0.25 um"}


def write_sweep(tmp_path: Path, body: dict) -> Path:
    path = tmp_path / "sweep.yaml"
    base = os.path.relpath(TINY_CASE, tmp_path)
    path.write_text(yaml.safe_dump({"base": base, "set": TINY, **body}, sort_keys=False))
    return path


def rows(out: Path) -> list[dict[str, str]]:
    with (out / "sweep.csv").open() as f:
        return list(csv.DictReader(f))


def test_grid_expands_to_the_cartesian_product() -> None:
    spec = SweepSpec.model_validate(
        {"base": "x.yaml", "grid": {"a.b": [1, 2], "c.d": ["x y", 3]}, "outputs": ["dofs"]}
    )
    overrides = spec.expand()
    assert len(overrides) == 4 and overrides[1] == {"a.b": 1, "c.d": 3}
    assert case_name(overrides[0]) == "b-1_d-xy"
    assert case_name({"a.size": 1, "b.size": 2}) == "a.size-1_b.size-2"


def test_sweep_writes_csv_and_rerun_skips(tmp_path: Path) -> None:
    sweep = write_sweep(
        tmp_path,
        {
            "grid": {"loading.stack_pressure": ["3 MPa", "50 MPa"], "lithiation.soc_end": [0.01]},
            "outputs": ["max_principal_Pa_Li6PS5Cl", "failure_probability_Li6PS5Cl", "dofs"],
        },
    )
    out = tmp_path / "out"
    ssbmech("sweep", str(sweep), "--out", str(out))
    table = rows(out)
    assert [r["case"] for r in table] == [
        "stack_pressure-3MPa_soc_end-0.01",
        "stack_pressure-50MPa_soc_end-0.01",
    ]
    assert all(
        r["status"] == "complete" and float(r["max_principal_Pa_Li6PS5Cl"]) > 0 for r in table
    )
    assert table[0]["loading.stack_pressure"] == "3 MPa" and int(table[0]["dofs"]) > 0
    summary = out / table[0]["case"] / "summary.json"
    stamp = summary.stat().st_mtime_ns
    again = ssbmech("sweep", str(sweep), "--out", str(out))
    assert again.stdout.count("skipped") == 2
    assert summary.stat().st_mtime_ns == stamp and rows(out) == table


def test_failed_case_is_reported_and_the_sweep_continues(tmp_path: Path) -> None:
    sweep = write_sweep(
        tmp_path,
        {
            "cases": [
                {"geometry.particles.items.0.radius": "2 um"},  # larger than the box
                {"geometry.particles.items.0.radius": "0.15 um"},
            ],
            "outputs": ["max_principal_Pa_Si"],
        },
    )
    out = tmp_path / "out"
    result = ssbmech("sweep", str(sweep), "--out", str(out), check=False)
    assert result.returncode == 3
    failed, done = rows(out)
    assert failed["status"] == "failed" and "exit 2" in failed["error"]
    assert "geometry.particles" in failed["error"] and failed["max_principal_Pa_Si"] == ""
    assert done["status"] == "complete" and float(done["max_principal_Pa_Si"]) < 0


def test_bad_sweep_file_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path, {"grids": {"a": [1]}, "outputs": ["dofs"]})
    result = ssbmech("sweep", str(sweep), check=False)
    assert result.returncode == 2
    assert f"{sweep}: grids: unknown key" in result.stderr
    sweep = write_sweep(tmp_path, {"outputs": ["dofs"]})
    result = ssbmech("sweep", str(sweep), check=False)
    assert result.returncode == 2 and "give either 'grid'" in result.stderr
