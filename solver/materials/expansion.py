"""Lithiation (chemical) expansion laws: isotropic chemical strain β(θ) of the host.

θ = c/c_max is the Li fraction, c per reference (unlithiated) volume. Every law takes θ as a
float or as a NumPy array (node- or cell-wise values of a field) and returns the same kind.
- ``linear``: small-strain form β = Ω c_max (θ − θ_ref) / 3 (Ω partial molar volume).
- ``tabulated``: ΔV/V0(θ) interpolated linearly from a table; β = (1 + ΔV/V0)^(1/3) − 1, so
  the volume change is exact at any strain.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar, cast

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from solver.units import Concentration, MolarVolume

Theta = TypeVar("Theta", float, npt.NDArray[np.float64])
"""Li fraction θ (-): one value or an array of values (the result has the same kind)."""


class LinearExpansion(BaseModel):
    """β = Ω c_max (θ − θ_ref)/3 with Ω (m3 mol-1) and c_max (mol m-3)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    law: Literal["linear"] = "linear"
    partial_molar_volume: Annotated[MolarVolume, Field(gt=0)]
    c_max: Annotated[Concentration, Field(gt=0)]
    theta_ref: Annotated[float, Field(ge=0, le=1)] = 0.0

    def strain(self, theta: Theta) -> Theta:
        """Isotropic chemical strain β (-) at Li fraction ``theta``."""
        return self.partial_molar_volume * self.c_max * (theta - self.theta_ref) / 3.0

    def volume_change(self, theta: Theta) -> Theta:
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

    def volume_change(self, theta: Theta) -> Theta:
        """ΔV/V0 (-) at Li fraction ``theta``."""
        return cast(Theta, np.interp(theta, self.theta, self.volume_change_table))

    def strain(self, theta: Theta) -> Theta:
        """Isotropic chemical strain β (-) at Li fraction ``theta``."""
        return (1.0 + self.volume_change(theta)) ** (1.0 / 3.0) - 1.0


ExpansionLaw = Annotated[LinearExpansion | TabulatedExpansion, Field(discriminator="law")]
