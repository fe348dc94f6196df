"""Recording of verification results for ``make verify`` (docs/verification.md).

A verification test asserts against its reference and also calls ``record(...)``: with the
environment variable ``SSBMECH_VERIFY_DIR`` set (``make verify`` sets it), rank 0 writes one
JSON file per result there; otherwise nothing is written. The assertion is what the test
checks; the record is what the report shows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from mpi4py import MPI

ENV = "SSBMECH_VERIFY_DIR"


def record(
    key: str,
    *,
    title: str,
    reference: str,
    quantity: str,
    measured: float,
    expected: float,
    tolerance: float,
    setup: str,
    scale: float | None = None,
    h: list[float] | np.ndarray | None = None,
    errors: list[float] | np.ndarray | None = None,
    order: float | None = None,
    expected_order: float | None = None,
) -> None:
    """Write one verification result; optional h-convergence data.

    The error is |measured − expected| / scale (scale: |expected| unless given, e.g. the peak
    stress of a profile), compared with ``tolerance``.
    """
    folder = os.environ.get(ENV)
    if not folder or MPI.COMM_WORLD.rank != 0:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    result = {
        "key": key,
        "title": title,
        "reference": reference,
        "quantity": quantity,
        "measured": float(measured),
        "expected": float(expected),
        "relative_error": abs(measured - expected) / abs(scale or expected),
        "scale": None if scale is None else float(scale),
        "tolerance": tolerance,
        "setup": setup,
        "test": test,
        "mpi_size": MPI.COMM_WORLD.size,
    }
    if h is not None and errors is not None:
        result["convergence"] = {
            "h": [float(v) for v in h],
            "errors": [float(v) for v in errors],
            "order": None if order is None else float(order),
            "expected_order": expected_order,
        }
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    (path / f"{key}.json").write_text(json.dumps(result, indent=2) + "\n")
