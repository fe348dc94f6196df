"""Fixed region colours for geometry pictures (no PyVista import: tests read it too).

A region keeps its colour in every picture: silicon regions (``particles``, ``film``,
``columns``, ``anode``) orange, electrolyte regions (``matrix``, ``electrolyte``,
``separator``) blue, the carbon ``shell`` green, the copper ``collector`` maroon; any other
region takes the first unused colour of :data:`SPARE`. The colours differ in hue, so a
shaded pixel can be told apart from every other region's (see :func:`near_colour`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

REGION_COLOURS: dict[str, str] = {
    "particles": "#f28e2b",
    "film": "#f28e2b",
    "columns": "#f28e2b",
    "anode": "#f28e2b",
    "matrix": "#4e9fd6",
    "electrolyte": "#4e9fd6",
    "separator": "#4e9fd6",
    "shell": "#3a9a3a",
    "collector": "#800000",
}
#: for regions without a fixed colour, in order
SPARE = ("#f032e6", "#000075", "#17becf")


def region_colours(names: Iterable[str]) -> dict[str, str]:
    """Colour (hex) of each region in ``names``: fixed, or the next unused spare colour."""
    names = list(names)
    out = {n: REGION_COLOURS[n] for n in names if n in REGION_COLOURS}
    spare = [c for c in SPARE if c not in out.values()]
    for n in names:
        if n not in out:
            if not spare:
                raise ValueError(f"more regions than colours: {names}")
            out[n] = spare.pop(0)
    return out


def rgb(colour: str) -> np.ndarray:
    """``"#rrggbb"`` as three floats 0…255."""
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def near_colour(pixels: np.ndarray, colour: str, tol: float = 28.0) -> np.ndarray:
    """Mask of ``pixels`` (…×3, 0…255) that are ``colour`` under shading.

    A shaded pixel is k·c for a brightness k in [0.55, 1.1]; a pixel matches when its distance
    to the best such k·c is below ``tol`` (RGB units).
    """
    c = rgb(colour)
    p = np.asarray(pixels, dtype=float)
    k = np.clip((p @ c) / (c @ c), 0.55, 1.1)
    return np.linalg.norm(p - k[..., None] * c, axis=-1) < tol
