"""Colour limits drop a few far outliers (postprocess/limits.py) and keep ordinary ranges."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from postprocess.limits import colour_limits


def fake_run(steps: list[np.ndarray], diverging: bool) -> tuple[Any, Any]:
    spec = SimpleNamespace(source="f", diverging=diverging, values=lambda a: a)
    run = SimpleNamespace(
        fields={"f": SimpleNamespace(times=list(range(len(steps))))},
        read_field=lambda source, i: steps[i],
    )
    return run, spec


@pytest.mark.parametrize("diverging", [True, False])
def test_ordinary_field_keeps_its_full_range(diverging: bool) -> None:
    rng = np.random.default_rng(1)
    steps = [rng.normal(100.0, 50.0, 5000) for _ in range(3)]
    run, spec = fake_run(steps, diverging)
    lo, hi = colour_limits(run, spec, None)
    top = max(np.abs(s).max() for s in steps)
    expected = (
        (-top, top) if diverging else (min(s.min() for s in steps), max(s.max() for s in steps))
    )
    assert (lo, hi) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("diverging", [True, False])
def test_far_outliers_take_the_end_colours(diverging: bool) -> None:
    rng = np.random.default_rng(2)
    bulk = rng.uniform(-1.0, 1.0, 10000)
    spiked = bulk.copy()
    spiked[:3] = [-30.0, 25.0, 40.0]  # three cells 30x beyond the rest
    run, spec = fake_run([bulk, spiked], diverging)
    lo, hi = colour_limits(run, spec, None)
    assert max(abs(lo), abs(hi)) < 1.0  # the 0.1st–99.9th percentiles of the bulk
    assert hi > 0.99 and lo < -0.99
    if diverging:
        assert hi == -lo
