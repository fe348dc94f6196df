"""Lithiation (chemical) expansion laws: isotropic chemical strain β(θ) of the host.

θ = c/c_max is the Li fraction, c per reference (unlithiated) volume.
- ``linear``: small-strain form β = Ω c_max (θ − θ_ref) / 3 (Ω partial molar volume).
- ``tabulated``: ΔV/V0(θ) interpolated linearly from a table; β = (1 + ΔV/V0)^(1/3) − 1, so
  the volume change is exact at any strain.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from solver.units import Concentration, MolarVolume


class LinearExpansion(BaseModel):
    """β = Ω c_max (θ − θ_ref)/3 with Ω (m3 mol-1) and c_max (mol m-3)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    law: Literal["linear"] = "linear"
    partial_molar_volume: Annotated[MolarVolume, Field(gt=0)]
    c_max: Annotated[Concentration, Field(gt=0)]
    theta_ref: Annotated[float, Field(ge=0, le=1)] = 0.0

    def strain(self, theta: float) -> float:
        """Isotropic chemical strain β (-) at Li fraction ``theta``."""
        return self.partial_molar_volume * self.c_max * (theta - self.theta_ref) / 3.0

    def volume_change(self, theta: float) -> float:
        """Small-strain volume change ΔV/V0 = 3β (-)."""
        return 3.0 * self.strain(theta)


class TabulatedExpansion(BaseModel):
    """ΔV/V0 (-) at the listed θ, linear in between; β = (1 + ΔV/V0)^(1/3) − 1."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    law: Literal["tabulated"] = "tabulated"
    theta: list[Annotated[float, Field(ge=0, le=1)]] = Field(min_length=2)
    volume_change_table: list[Annotated[float, Field(gt=-1)]] = Field(min_length=2)

    @model_validator(mode="after")
    def _check_table(self) -> TabulatedExpansion:
        if len(self.theta) != len(self.volume_change_table):
            raise ValueError("theta and volume_change_table must have the same length")
        if any(b <= a for a, b in zip(self.theta, self.theta[1:], strict=False)):
            raise ValueError("theta must increase strictly")
        return self

    def volume_change(self, theta: float) -> float:
        """ΔV/V0 (-) at Li fraction ``theta``."""
        return float(np.interp(theta, self.theta, self.volume_change_table))

    def strain(self, theta: float) -> float:
        """Isotropic chemical strain β (-) at Li fraction ``theta``."""
        return float((1.0 + self.volume_change(theta)) ** (1.0 / 3.0) - 1.0)


ExpansionLaw = Annotated[LinearExpansion | TabulatedExpansion, Field(discriminator="law")]
