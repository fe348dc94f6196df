"""``ssbmech sweep``: expansion, sweep.csv, rerun skips complete cases, failures reported."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import yaml

from solver.sweep import SweepSpec, case_name
from tests.conftest import ROOT, TINY_CASE, ssbmech

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


def test_stack_pressure_study_trend_on_a_tiny_setting(tmp_path: Path) -> None:
    study = yaml.safe_load((ROOT / "cases" / "studies" / "stack_pressure.yaml").read_text())
    pressures = study["grid"]["loading.stack_pressure"]
    assert pressures == ["3 MPa", "50 MPa", "75 MPa", "150 MPa", "230 MPa"]
    study["base"] = str(ROOT / "cases" / "si_lpscl_rve.yaml")
    study["set"].update({"geometry.mesh.size": "0.3 um", "geometry.mesh.interface_size": "0.1 um"})
    study["set"]["lithiation.steps"] = 1
    study["grid"]["loading.stack_pressure"] = [pressures[0], pressures[2], pressures[4]]
    sweep = tmp_path / "study.yaml"
    sweep.write_text(yaml.safe_dump(study, sort_keys=False))
    ssbmech("sweep", str(sweep), "--out", str(tmp_path / "out"))
    table = rows(tmp_path / "out")
    assert [r["status"] for r in table] == ["complete"] * 3

    def column(key: str) -> list[float]:
        return [float(r[key]) for r in table]

    # more stack pressure, less electrolyte tension: σ1, risk and P_f fall, a_c grows
    for key in ("max_principal_Pa_Li6PS5Cl", "max_crack_risk_Li6PS5Cl"):
        assert column(key) == sorted(column(key), reverse=True) and column(key)[-1] < column(key)[0]
    assert column("failure_probability_Li6PS5Cl") == sorted(
        column("failure_probability_Li6PS5Cl"), reverse=True
    )
    assert column("min_critical_flaw_m_Li6PS5Cl") == sorted(column("min_critical_flaw_m_Li6PS5Cl"))
    assert column("mean_hydrostatic_Pa_Si") == sorted(
        column("mean_hydrostatic_Pa_Si"), reverse=True
    )


def test_slurm_array_for_the_cases_not_yet_complete(tmp_path: Path) -> None:
    from tests.test_slurm import run_body

    sweep = write_sweep(
        tmp_path,
        {"grid": {"loading.stack_pressure": ["3 MPa", "50 MPa"]}, "outputs": ["dofs"]},
    )
    out = tmp_path / "out"
    args = ["sweep", str(sweep), "--out", str(out), "--slurm"]
    res = ssbmech(*args, check=False)
    assert res.returncode == 2 and "--ntasks-per-node and --time" in res.stderr
    resources = ["--ntasks-per-node", "1", "--time", "00:05:00"]
    ssbmech(*args, *resources)
    script = (out / "sweep.sbatch").read_text()
    assert "#SBATCH --array=0-1\n" in script and script.count("--force") == 2
    res = run_body(script, "", tmp_path, SLURM_ARRAY_TASK_ID="0", SLURM_JOB_ID="1")
    assert res.returncode == 0, res.stderr
    ssbmech(*args, *resources)  # regenerated: only the case that is not complete
    script = (out / "sweep.sbatch").read_text()
    assert "#SBATCH --array=0-0\n" in script and "stack_pressure-50MPa" in script
    res = run_body(script, "", tmp_path, SLURM_ARRAY_TASK_ID="0", SLURM_JOB_ID="2")
    assert res.returncode == 0, res.stderr
    collected = ssbmech("sweep", str(sweep), "--out", str(out))  # collects, runs nothing
    assert collected.stdout.count("skipped") == 2
    assert [r["status"] for r in rows(out)] == ["complete", "complete"]
    res = ssbmech(*args, *resources, check=False)
    assert res.returncode == 2 and "nothing to submit" in res.stderr
