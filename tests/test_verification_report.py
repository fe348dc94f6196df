"""``make verify`` report: recorded results become a Markdown table and convergence plots."""

from __future__ import annotations

from pathlib import Path

import pytest

from postprocess.verification import load_results, write_report
from tests.verification import ENV, record


def test_records_become_a_table_and_a_plot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, str(tmp_path / "results"))
    common = {"reference": "ref", "quantity": "q", "setup": "s"}
    record("a_ok", title="A", measured=1.01, expected=1.0, tolerance=0.02, **common)
    record(
        "b_conv",
        title="B",
        measured=1.5,
        expected=2.0,
        tolerance=0.05,
        h=[0.4, 0.2, 0.1],
        errors=[1.6e-2, 8e-3, 4e-3],
        order=1.0,
        expected_order=2.0,
        **common,
    )
    results = load_results(tmp_path / "results")
    assert [r["key"] for r in results] == ["a_ok", "b_conv"]
    md = write_report(results, tmp_path / "docs").read_text()
    assert "| A | ref | q | 1.01 | 1 | 1.00 % | 2 % |  | ✓ |" in md
    assert "| B | ref | q | 1.5 | 2 | 25.00 % | 5 % | 1.00 (≥ 1.9) | ✗ |" in md
    assert "**1 result(s) outside tolerance.**" in md
    assert (tmp_path / "docs" / "verification" / "b_conv.png").stat().st_size > 5000


def test_nothing_is_recorded_without_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    record("x", title="X", reference="", quantity="", measured=1, expected=1, tolerance=0, setup="")
    assert not list(tmp_path.iterdir())
