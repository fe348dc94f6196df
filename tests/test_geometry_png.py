"""``ssbmech mesh CASE --out DIR --png`` for every bundled case on its coarse mesh: the picture
has the expected size, is not blank, shows every region in its fixed colour and no colour of
a region the geometry does not have.

Pixels are counted outside the legend (upper right), whose swatches and labels carry the
region colours too. The picture is drawn in a subprocess of the mesh command (VTK and DOLFINx
must not share a process).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from postprocess.palette import REGION_COLOURS, SPARE, near_colour, region_colours
from tests.conftest import ROOT, clean_env, ssbmech
from tests.test_run import coarse_overrides

SIZE = (1200, 900)  # width, height (px)
#: pixels of a region's colour that make it visible (a 40 × 40 px patch)
MIN_PIXELS = 1600
#: stray pixels tolerated of a colour no region of the geometry has
MAX_STRAY = 40
CASES = sorted((ROOT / "cases").glob("*.yaml"))


def _picture_area(png: Path) -> np.ndarray:
    """RGB pixels (N×3) of the picture outside the legend box (upper right quarter)."""
    img = np.asarray(Image.open(png).convert("RGB"), dtype=float)
    h, w, _ = img.shape
    keep = np.ones((h, w), dtype=bool)
    keep[: int(0.25 * h), int(0.72 * w) :] = False
    return img[keep]


@pytest.fixture(scope="module")
def meshed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every bundled case meshed coarse with ``--png``, in one process (one DOLFINx start-up)."""
    root = tmp_path_factory.mktemp("geometry")
    argvs = [
        ["mesh", str(c), "--out", str(root / c.stem), "--png", *coarse_overrides(c)] for c in CASES
    ]
    script = f"import sys; from solver.cli import main; sys.exit(max(main(a) for a in {argvs!r}))"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=ROOT,
        timeout=600,
    )
    print(f"\nmesh --png of {len(CASES)} cases: {time.perf_counter() - start:.1f} s")
    assert done.returncode == 0, done.stderr
    return root


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_geometry_png(case: Path, meshed: Path) -> None:
    out = meshed / case.stem
    png = out / "geometry.png"
    image = Image.open(png)
    assert image.size == SIZE
    pixels = _picture_area(png)
    assert pixels.std(axis=0).max() > 20.0, "blank picture"
    regions = json.loads((out / "tags.json").read_text())["cells"]
    colours = region_colours(regions)
    for region, colour in colours.items():
        n = int(near_colour(pixels, colour).sum())
        assert n > MIN_PIXELS, f"{region} ({colour}): {n} px"
    for colour in {*REGION_COLOURS.values(), *SPARE} - set(colours.values()):
        n = int(near_colour(pixels, colour).sum())
        assert n < MAX_STRAY, f"colour {colour} of no region of {case.stem}: {n} px"


def test_png_needs_out() -> None:
    result = ssbmech("mesh", str(CASES[0]), "--png", check=False)
    assert result.returncode == 2
    assert "--png needs --out" in result.stderr
