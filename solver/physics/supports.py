"""Boundary conditions as data, resolved against facet names once the function space exists.

``Supports`` says which named facets are rollers (one displacement component held at 0), which
carry a normal pressure (Pa, positive pushes inward), which face is a rigid platen moving
uniformly along the stacking axis (z; y in 2D), and which face's reaction along that axis
defines the stack pressure. With no rollers and no platen the body is free and its rigid-body
modes are removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from solver.case import Loading

TOP, BOTTOM = "zmax", "zmin"
TOP_2D, BOTTOM_2D = "ymax", "ymin"  # 2D (plane strain): y is the stacking direction


@dataclass(frozen=True)
class Supports:
    """Named boundary conditions (see module docstring); components 0, 1, 2 = x, y, z."""

    rollers: dict[str, int] = field(default_factory=dict)
    pressure: dict[str, float] = field(default_factory=dict)
    platen: str | None = None
    reaction_face: str | None = None
    spring_stiffness: float | None = None
    preload: float = 0.0

    @property
    def free(self) -> bool:
        """No Dirichlet condition at all: rigid-body modes must be removed."""
        return not self.rollers and self.platen is None


def supports_for(loading: Loading, dim: int = 3) -> Supports:
    """The cell-stack supports of a box RVE (``dim`` 3) or rectangle (``dim`` 2) for a loading.

    Lateral faces are rollers, the bottom is fixed along the stacking axis (z in 3D, y in 2D:
    rollers xmin/xmax in x, ymin in y); the top (zmax, ymax in 2D) carries the stack pressure
    (``pressure``) or a rigid platen (``fixed_gap``: infinitely stiff fixture, ``spring``:
    fixture of areal stiffness k). ``free``: no supports.
    """
    if loading.mode == "free":
        return Supports()
    if dim == 2:
        rollers, top = {"xmin": 0, "xmax": 0, BOTTOM_2D: 1}, TOP_2D
    else:
        rollers, top = {"xmin": 0, "xmax": 0, "ymin": 1, "ymax": 1, BOTTOM: 2}, TOP
    if loading.mode == "pressure":
        return Supports(rollers=rollers, pressure={top: loading.stack_pressure}, reaction_face=top)
    return Supports(
        rollers=rollers,
        platen=top,
        reaction_face=top,
        spring_stiffness=loading.spring_stiffness,
        preload=loading.stack_pressure,
    )
