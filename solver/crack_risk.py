"""Crack-risk measures (physics.md, section 4).

Strength index R_σ = σ1 / σ_f with σ_f = K_IC / (Y √(π a0)): R_σ ≥ 1 means a flaw of size a0
in that material would propagate under the local maximum principal stress σ1 (Pa).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def strength_index(
    max_principal: npt.NDArray[np.float64], strength: float | npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """R_σ = σ1 / σ_f (-) for σ1 (Pa) and fracture strength σ_f (Pa); compression gives < 0."""
    return max_principal / strength
