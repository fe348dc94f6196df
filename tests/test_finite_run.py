"""Model ``finite``: case validation, the run directory of a plastic run, divergence → exit 3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from solver.case import load_case
from solver.errors import CaseError
from solver.materials import LIBRARY
from tests.conftest import ROOT, ssbmech
from tests.test_run import history

TINY_FINITE = ROOT / "tests" / "cases" / "tiny_finite.yaml"
TINY_RVE = ROOT / "tests" / "cases" / "tiny_rve.yaml"


@pytest.mark.parametrize(
    ("case", "override", "expected"),
    [
        (TINY_RVE, "mechanics={plasticity: true}", "mechanics section is used only by model"),
        (TINY_FINITE, "solver.degree=2", "mechanics.plasticity needs solver.degree 1"),
        (TINY_FINITE, "mechanics.plastic=true", "unknown key; did you mean 'plasticity'?"),
        (
            TINY_FINITE,
            "lithiation={mode: galvanostatic, soc_end: 0.1, steps: 2}",
            "model 'finite' needs a transport section with lithiation.mode 'galvanostatic'",
        ),
        (
            TINY_FINITE,
            "materials.matrix={base: Cu}",
            "no material has a flow stress",
        ),
    ],
)
def test_invalid_finite_combinations_name_the_problem(
    case: Path, override: str, expected: str
) -> None:
    overrides = [override]
    if override.startswith("materials"):
        overrides.append(
            "materials.particles={base: Si, flow_stress: null, flow_stress_lithiated: null}"
        )
    with pytest.raises(CaseError, match=expected.replace("(", r"\(")):
        load_case(case, overrides)


def test_flow_stress_law() -> None:
    si = LIBRARY["Si"]
    assert si.flow_stress_at(0.0) == pytest.approx(1.75e9)
    assert si.flow_stress_at(1.0) == pytest.approx(1.0e9)
    assert LIBRARY["Li6PS5Cl"].flow_stress_at(0.5) == pytest.approx(1.8e9 / 3)  # H/3
    assert not LIBRARY["Cu"].plastic


def test_finite_plastic_run_directory(tmp_path: Path) -> None:
    out = tmp_path / "finite"
    ssbmech("run", str(TINY_FINITE), "--out", str(out))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["model"] == "finite"
    rows = history(out)
    assert (rows["newton_iterations"][1:] >= 2).all() and (rows["newton_iterations"] <= 8).all()
    assert rows["stack_pressure_Pa"] == pytest.approx(50e6, rel=1e-6)
    # the electrolyte yields around the swelling particles: σ_vm reaches σ_Y, no further
    assert rows["max_yield_index_Li6PS5Cl"][-1] == pytest.approx(1.0, abs=0.01)
    assert 'Name="plastic_strain"' in (out / "fields.xdmf").read_text()


def test_divergence_exits_3(tmp_path: Path) -> None:
    out = tmp_path / "diverged"
    result = ssbmech(
        "run",
        str(TINY_FINITE),
        "--out",
        str(out),
        "--set",
        "mechanics={plasticity: true, newton_max_it: 1, max_cutbacks: 0}",
        check=False,
    )
    assert result.returncode == 3
    assert "Newton solver diverged" in result.stderr
    assert json.loads((out / "summary.json").read_text())["status"] == "failed"
