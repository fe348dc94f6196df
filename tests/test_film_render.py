"""``ssbmech render`` on a thin-film run (180 nm Si on a 1 mm LLZTO pellet): the film section
view is drawn by default and shows the film as a band, not the needle of the full-height
cross-section.

Pixels: the film's hydrostatic stress (−0.9 GPa, the dark-blue end of the diverging map; the
pellet is near zero, white) must cover a sizeable share of the map and many pixel rows.
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

from tests.conftest import ROOT, clean_env, ssbmech

FILM_CASE = ROOT / "cases" / "si_film_llzto.yaml"


@pytest.fixture(scope="module")
def film_figures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The film case run and rendered (field hydrostatic, default views); its figures dir."""
    run_dir = tmp_path_factory.mktemp("film") / "llzto"
    ssbmech("run", str(FILM_CASE), "--out", str(run_dir))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "postprocess.render", str(run_dir), "--field", "hydrostatic"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=ROOT,
        timeout=300,
    )
    print(f"\nrender of the film run: {time.perf_counter() - start:.1f} s")
    assert done.returncode == 0, done.stderr
    return run_dir / "figures"


def _blue(png: Path) -> np.ndarray:
    """Mask of strongly compressive (blue) pixels in the map area (no bar, title, footer)."""
    img = np.asarray(Image.open(png).convert("RGB"), dtype=int)
    h, w, _ = img.shape
    area = img[int(0.08 * h) : int(0.93 * h), : int(0.84 * w)]
    r, g, b = area[..., 0], area[..., 1], area[..., 2]
    return (b > r + 60) & (b > g + 20)


def test_film_section_is_default_and_titled(film_figures: Path) -> None:
    manifest = json.loads((film_figures / "figures.json").read_text())
    views = {f["view"] for f in manifest["figures"] if f["kind"] == "map"}
    assert {"film_section", "cross_section"} <= views


def test_film_occupies_a_band(film_figures: Path) -> None:
    film = _blue(film_figures / "hydrostatic_film_section.png")
    share, rows = film.mean(), int(film.any(axis=1).sum())
    print(f"\nfilm section: film {share:.1%} of the map, {rows} px rows")
    assert share > 0.05
    assert rows > 80
    needle = _blue(film_figures / "hydrostatic_cross_section.png")
    assert needle.mean() < 0.01, "the full-height section should show the film as a line"
