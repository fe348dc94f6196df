"""Case files: YAML → one frozen, validated, SI-valued ``Case``.

Every default lives in the models below (the one place they are documented; ``ssbmech check``
prints the resolved case). Unknown keys are errors that name the file, the key path and the
nearest valid key. Numbers are SI; strings may carry units ("2 um", "50 MPa").
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PositiveInt,
    Tag,
    ValidationError,
    model_validator,
)

from meshes import geometry
from meshes.errors import GeometryError
from meshes.geometry import GeometrySpec
from solver.errors import CaseError
from solver.free_energy import CRITICAL_CHI, R_GAS, binodal
from solver.materials import Material, material_data
from solver.protocol import SOC, CRate, ProtocolLithiation, one_step_protocol
from solver.units import (
    Diffusivity,
    GradientEnergy,
    MolarEnergy,
    Pressure,
    Stiffness,
    Temperature,
    Time,
)


def _material_entry(value: Any) -> Any:
    """A library name, ``{base: NAME, <field>: override, …}`` or a complete material."""
    if isinstance(value, str):
        return material_data(value, {})
    if isinstance(value, dict) and "base" in value:
        return material_data(str(value["base"]), {k: v for k, v in value.items() if k != "base"})
    return value


MaterialRef = Annotated[Material, BeforeValidator(_material_entry)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


PetscValue = str | int | float | bool


class Lithiation(_Frozen):
    """Uniform lithiation: θ = SOC in every active material, ramped linearly in time."""

    mode: Literal["uniform"] = "uniform"
    soc_start: SOC = 0.0
    soc_end: SOC
    c_rate: CRate = 1.0
    steps: PositiveInt = 10

    def soc_at(self, step: int) -> float:
        """SOC (-) after ``step`` of ``steps`` increments (step 0 is the initial state)."""
        return self.soc_start + (self.soc_end - self.soc_start) * step / self.steps

    def time_at(self, step: int) -> float:
        """Time (s) at ``step``: |ΔSOC| / C-rate hours."""
        return abs(self.soc_at(step) - self.soc_start) / self.c_rate * 3600.0


class GalvanostaticLithiation(_Frozen):
    """Constant-current lithiation through the active surfaces (``transport-small``, ``finite``).

    The inward Li flux is uniform on the active surfaces and sized so that the whole active
    volume changes by Δθ = 1 in 1/C-rate hours: j = (C/3600 s) c_max V_active / A_active
    (mol m-2 s-1), current density i = F j. Lithiation if soc_end > soc_start, else
    delithiation. The run stops when the charge passed reaches soc_end, after ``steps`` equal
    steps or steps of ``dt`` (the last one shortened to end exactly at soc_end). It runs as a
    protocol of one charge (discharge) step (``as_protocol``; solver/protocol.py).
    """

    mode: Literal["galvanostatic"]
    soc_start: SOC = 0.0
    soc_end: SOC
    c_rate: CRate = 1.0
    steps: PositiveInt | None = None
    dt: Annotated[Time, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _stop_and_steps(self) -> GalvanostaticLithiation:
        if self.soc_end == self.soc_start:
            raise ValueError("soc_end equals soc_start: no charge would pass")
        if (self.steps is None) == (self.dt is None):
            raise ValueError("give exactly one of steps or dt")
        return self

    @property
    def duration(self) -> float:
        """Time (s) to pass the charge from soc_start to soc_end: |ΔSOC| / C-rate hours."""
        return abs(self.soc_end - self.soc_start) / self.c_rate * 3600.0

    @property
    def theta_rate(self) -> float:
        """dSOC/dt (s-1) of the applied current: ±C-rate / 3600 s."""
        return math.copysign(self.c_rate / 3600.0, self.soc_end - self.soc_start)

    def times(self) -> list[float]:
        """Times (s) of the steps, starting at 0 and ending at ``duration``."""
        if self.steps is not None:
            return [self.duration * k / self.steps for k in range(self.steps + 1)]
        assert self.dt is not None
        n = max(1, math.ceil(self.duration / self.dt - 1e-9))
        return [min(k * self.dt, self.duration) for k in range(n + 1)]

    def as_protocol(self) -> ProtocolLithiation:
        """The same lithiation as a protocol of one charge (discharge) step to soc_end."""
        return one_step_protocol(self.soc_start, self.soc_end, self.c_rate, self.steps, self.dt)


def _lithiation_mode(value: Any) -> str:
    """Union tag of a lithiation entry: its ``mode`` ('uniform' when absent)."""
    if isinstance(value, dict):
        return str(value.get("mode", "uniform"))
    return str(getattr(value, "mode", "uniform"))


AnyLithiation = Annotated[
    Annotated[Lithiation, Tag("uniform")]
    | Annotated[GalvanostaticLithiation, Tag("galvanostatic")]
    | Annotated[ProtocolLithiation, Tag("protocol")],
    Discriminator(
        _lithiation_mode,
        custom_error_type="lithiation_mode",
        custom_error_message="unknown mode; allowed: 'uniform', 'galvanostatic', 'protocol'",
    ),
]


class TabulatedDiffusivity(_Frozen):
    """D(θ) (m2 s-1) at the listed θ, linear in between, constant beyond the ends."""

    theta: list[Annotated[float, Field(ge=0, le=1)]] = Field(min_length=2)
    values: list[Annotated[Diffusivity, Field(gt=0)]] = Field(min_length=2)

    @model_validator(mode="after")
    def _check_table(self) -> TabulatedDiffusivity:
        if len(self.theta) != len(self.values):
            raise ValueError("theta and values must have the same length")
        if any(b <= a for a, b in zip(self.theta, self.theta[1:], strict=False)):
            raise ValueError("theta must increase strictly")
        return self


class IdealSolution(_Frozen):
    """Ideal solution, μ0 = RT ln(θ/(1 − θ)): Fick's law with D(θ) (the default)."""

    kind: Literal["ideal"] = "ideal"


class RegularSolution(_Frozen):
    """Regular solution + gradient energy: two-phase lithiation (solver/physics/two_phase.py).

    μ = RT ln(θ/(1 − θ)) + Ω_rs (1 − 2θ) − κ ∇²θ (J mol-1), flux J/c_max = −D(θ) θ(1 − θ)
    ∇μ/(RT) (Cahn–Hilliard); ``diffusivity`` keeps its meaning (the ideal, dilute-limit D).

    - ``interaction`` Ω_rs (J mol-1, e.g. ``"12 kJ/mol"``): above 2RT (4.96 kJ/mol at
      298.15 K) θ separates into θ_α and θ_β = 1 − θ_α. Default 7.55 kJ/mol: θ_β = 0.933 at
      298.15 K, i.e. a-Li_xSi with x = 3.5 behind the front for the c_max of Li15Si4
      (x = 3.75), as measured for the first lithiation of c-Si by Chon et al., Phys. Rev. Lett.
      107 (2011) 045503 (sharp a-Li_xSi/c-Si front; core–shell in nanoparticles: McDowell et
      al., Adv. Mater. 24 (2012) 6034). The symmetric law then puts θ_α = 0.067 (x = 0.25)
      in the c-Si ahead of the front, where real c-Si holds almost none; a larger Ω_rs (12
      kJ/mol: θ_α = 0.0085, θ_β = 0.9915) empties the core but leaves the shell only
      1 − θ_β of headroom below θ = 1 to carry the flux (mobility D θ(1 − θ) → 0), so the
      surface saturates at all but very low C-rates.
    - ``gradient_energy`` κ (J m2 mol-1, e.g. ``"1e-12 J*m**2/mol"``), required: interface
      width ≈ sqrt(κ/Ω_rs). The real a-Li_xSi/c-Si interface is ≈ 1 nm (Liu et al., Nature
      Nanotech. 7 (2012) 749), κ ≈ 1e-14 J m2 mol-1, far below a practical mesh: choose κ so
      that the width spans at least two cells, κ ≳ Ω_rs (2h)². Plateaus and front position do
      not depend on it (sharp-interface limit).
    The temperature is ``transport.temperature``.
    """

    kind: Literal["regular_solution"]
    interaction: Annotated[MolarEnergy, Field(ge=0)] = 7.55e3
    gradient_energy: Annotated[GradientEnergy, Field(ge=0)]

    def chi(self, temperature: float) -> float:
        """χ = Ω_rs/(RT) (-) at ``temperature`` (K)."""
        return self.interaction / (R_GAS * temperature)


FreeEnergy = Annotated[IdealSolution | RegularSolution, Field(discriminator="kind")]


class Transport(_Frozen):
    """Li diffusion in the active materials (models ``transport-small`` and ``finite``).

    At finite strain the flux is pulled back to the reference configuration
    (solver/physics/chemomech.py); the stress acts on the flux only with ``stress_coupling``.

    - ``diffusivity``: constant D (e.g. ``"1e-16 m^2/s"``) or a table ``{theta, values}``.
    - ``active_surfaces``: facet names where Li enters (the flux of a charge or discharge,
      the held θ of a hold); default the
      geometry's particle surface (``interface`` with matrix, ``particle_surface`` without).
    - ``stress_coupling``: false (default): one-way coupling, Fick's law; θ drives the
      mechanics, the stress does not act on the flux. true: stress-enhanced diffusion
      (Larché–Cahn), J/c_max = −D(θ)[∇θ − θ(1−θ) Ω_eff/(RT) ∇σ_h] with Ω_eff = 3β'(θ)/c_max.
      ``transport-small``: solved monolithically with the mechanics
      (solver/physics/coupled_transport.py), loading modes ``free``, ``pressure`` and
      ``fixed_gap`` (not ``spring``). ``finite``: μ = μ0 − Ω J_e σ_h in the reference
      configuration, staggered with a fixed-stress split (solver/physics/stress_drift.py), any
      loading. Ideal solution only.
    - ``free_energy``: ``{kind: ideal}`` (default, Fick) or ``{kind: regular_solution, …}``
      (two-phase Cahn–Hilliard, both models; see RegularSolution).
    - ``temperature``: T (K) in RT of the stress coupling and of the regular solution
      (default 298.15 K; "25 degC" accepted).
    - ``petsc_options``: options for the transport Newton steps (no prefix); they override the
      defaults of the chosen solver (Fick, also with the ``finite`` stress drift: GMRES +
      GAMG; two-phase: MUMPS LU; ``transport-small`` with ``stress_coupling``: MUMPS LU, after
      ``solver.petsc_options``).
    """

    diffusivity: Annotated[Diffusivity, Field(gt=0)] | TabulatedDiffusivity
    active_surfaces: list[str] | None = Field(default=None, min_length=1)
    stress_coupling: bool = False
    temperature: Annotated[Temperature, Field(gt=0)] = 298.15
    free_energy: FreeEnergy = IdealSolution()
    petsc_options: dict[str, PetscValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _gap_needs_gradient_energy(self) -> Transport:
        energy = self.free_energy
        if not isinstance(energy, RegularSolution):
            return self
        if energy.chi(self.temperature) > CRITICAL_CHI and energy.gradient_energy == 0:
            raise ValueError(
                f"free_energy.interaction {energy.interaction:g} J/mol exceeds 2RT = "
                f"{2 * R_GAS * self.temperature:g} J/mol (miscibility gap): give "
                "gradient_energy > 0 (e.g. '1e-12 J*m**2/mol'), else the front is ill-posed"
            )
        if self.stress_coupling:
            raise ValueError(
                "stress_coupling works with free_energy kind 'ideal' only (the stress-coupled "
                "solver has no regular-solution term); drop one of the two"
            )
        return self


class Loading(_Frozen):
    """Mechanical loading of the top face (zmax; ymax in 2D); lateral faces rollers, bottom fixed.

    - ``pressure``: constant stack pressure traction on the top face.
    - ``fixed_gap``: rigid platen held where the preload ``stack_pressure`` put it at the
      start; the stack pressure follows from the reaction force.
    - ``spring``: rigid platen on a fixture of areal stiffness ``spring_stiffness``
      (N/m per m² of cell, i.e. Pa/m), preloaded to ``stack_pressure``.
    - ``free``: no supports (rigid-body modes removed), e.g. a free film/substrate bilayer
      that bends; required for a geometry without box faces (particle without matrix).

    With ``placement: periodic`` the modes act on the macroscopic strain of the periodic cell
    instead of faces (see ``solver.physics.periodic``).
    """

    mode: Literal["pressure", "fixed_gap", "spring", "free"] = "pressure"
    stack_pressure: Annotated[Pressure, Field(ge=0)] = 0.0
    spring_stiffness: Annotated[Stiffness, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _spring_needs_stiffness(self) -> Loading:
        if self.mode == "spring" and self.spring_stiffness is None:
            raise ValueError("mode 'spring' needs spring_stiffness (e.g. '1e13 Pa/m')")
        if self.mode != "spring" and self.spring_stiffness is not None:
            raise ValueError("spring_stiffness is only used with mode 'spring'")
        if self.mode == "free" and self.stack_pressure != 0:
            raise ValueError("mode 'free' takes no stack_pressure")
        return self


class Adaptive(_Frozen):
    """Adaptive time steps of galvanostatic and protocol lithiation (solver/stepping.py).

    The first step is ``lithiation.dt`` (or the duration / ``lithiation.steps``; in a protocol,
    the first Δt of each protocol step, see solver.protocol.ProtocolLithiation). A step whose
    Newton solves (transport for ``transport-small``, mechanics of all staggered passes for
    ``finite``: ≈ 4 per mechanics solve, so give ``finite`` ≈ 4 × (passes − 1), e.g. 6–12)
    took at most ``easy_newton`` iterations, without cut-back,
    multiplies the next Δt by ``grow`` (capped at ``dt_max`` (s), if given); a failed solve is
    retried from the last accepted state with Δt·``cut``; after ``max_cutbacks`` cut-backs in
    one step the run fails (SolverError, exit 3). The last step is shortened to end exactly
    at soc_end (at the stop of each protocol step).
    """

    grow: Annotated[float, Field(gt=1)] = 1.5
    cut: Annotated[float, Field(gt=0, lt=1)] = 0.5
    max_cutbacks: PositiveInt = 5
    easy_newton: PositiveInt = 3
    dt_max: Annotated[Time, Field(gt=0)] | None = None


class SolverSettings(_Frozen):
    """Discretisation and linear solver: Lagrange degree of u; PETSc options override defaults.

    Options are given without prefix (e.g. ``ksp_rtol: 1e-8``, ``pc_type: hypre``).
    ``adaptive`` switches on adaptive time steps (``lithiation.mode`` galvanostatic, protocol).
    """

    degree: Literal[1, 2] = 1
    petsc_options: dict[str, PetscValue] = Field(default_factory=dict)
    adaptive: Adaptive | None = None


class Mechanics(_Frozen):
    """Finite-strain mechanics options (model ``finite`` only; solver/physics/finite.py).

    - ``plasticity``: J2 flow in every material that has a flow stress (``flow_stress``, or
      ``yield_strength``/``hardness``/3); off: compressible neo-Hookean everywhere.
    - ``newton_rtol`` / ``newton_max_it``: Newton converges when the residual norm is below
      newton_rtol × 1e-3 E_max V^(2/3) (N; the nodal force of a 0.1 % strain); iteration
      limit per (sub)step.
    - ``max_cutbacks``: a diverged step is retried in 2, 4, … substeps up to 2^max_cutbacks
      (uniform lithiation; with transport the time step is cut back instead).
    - ``coupling_tol`` / ``coupling_max_passes`` (Li transport: galvanostatic, protocol): staggered
      transport–mechanics passes per time step until the nodal θ changes by less than
      coupling_tol (-) between passes; no convergence in coupling_max_passes fails the step.
      Default 1e-3 (0.1 % of the θ range; every pass conserves the charge exactly): on the
      bench/chemomech.py RVE to SOC 0.9 it changes stresses, stack strain and voltage shift by
      < 1e-5 relative against 1e-5 and saves one mechanics solve per step.
    """

    plasticity: bool = False
    newton_rtol: Annotated[float, Field(gt=0, lt=1)] = 1e-9
    newton_max_it: PositiveInt = 25
    max_cutbacks: Annotated[int, Field(ge=0, le=10)] = 4
    coupling_tol: Annotated[float, Field(gt=0, lt=1)] = 1e-3
    coupling_max_passes: Annotated[int, Field(ge=2)] = 8


class Output(_Frozen):
    """What is written: fields every ``fields_every`` steps (the last step always).

    ``checkpoint_every``: restart data (``checkpoint/``) every so many steps, and at a stop
    signal (see solver/checkpoint.py).
    """

    fields_every: PositiveInt = 1
    checkpoint_every: PositiveInt = 1


class InterfaceStrength(_Frozen):
    """Interfacial strengths (Pa) of one tagged interface for the debonding index."""

    normal_strength: Annotated[Pressure, Field(gt=0)]
    shear_strength: Annotated[Pressure, Field(gt=0)]


class CrackRisk(_Frozen):
    """Crack-risk settings that are not a property of one material.

    Material properties (K_IC, flaw size a0 and geometry factor Y, Weibull σ0/m/V0, fracture
    energy Γ, hardness H, yield σ_Y) live on the materials and are overridden there, e.g.
    ``matrix: {base: Li6PS5Cl, flaw_size: 1 um}``. Here: ``interfaces`` maps a facet-tag name
    (e.g. ``interface``) to its strengths; no entry, no debonding index.
    """

    interfaces: dict[str, InterfaceStrength] = Field(default_factory=dict)


class Case(_Frozen):
    """A complete, validated case (SI units)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    description: str = ""
    references: list[str] = Field(default_factory=list)
    model: Literal["uniform-small", "transport-small", "finite"] = "uniform-small"
    geometry: GeometrySpec
    materials: dict[str, MaterialRef]
    lithiation: AnyLithiation
    transport: Transport | None = None
    mechanics: Mechanics | None = None
    loading: Loading = Loading()
    solver: SolverSettings = SolverSettings()
    output: Output = Output()
    crack_risk: CrackRisk = CrackRisk()

    @model_validator(mode="after")
    def _consistent(self) -> Case:
        regions = set(self.geometry.regions)
        missing, extra = regions - set(self.materials), set(self.materials) - regions
        if missing or extra:
            raise ValueError(
                f"materials must name exactly the regions of the geometry {sorted(regions)}; "
                + (f"missing {sorted(missing)} " if missing else "")
                + (f"unknown {sorted(extra)}" if extra else "")
            )
        if not any(m.active for m in self.materials.values()):
            raise ValueError("no material hosts lithium (none has an expansion law)")
        if not self.geometry.has_box_faces and self.loading.mode != "free":
            raise ValueError(
                f"loading.mode {self.loading.mode!r} needs the box faces; a geometry without "
                "them (particle without matrix) takes loading.mode 'free'"
            )
        self._check_model()
        return self

    def _check_model(self) -> None:
        """The model, lithiation mode and transport section must belong together."""
        mode = self.lithiation.mode
        if self.transport is not None and self.transport.stress_coupling:
            if self.model not in ("transport-small", "finite"):
                raise ValueError(
                    f"transport.stress_coupling needs model 'transport-small' or 'finite', "
                    f"not {self.model!r}"
                )
            if self.model == "transport-small" and self.loading.mode == "spring":
                raise ValueError(
                    "transport.stress_coupling with model 'transport-small' supports "
                    "loading.mode 'free', 'pressure' or 'fixed_gap', not 'spring' (model "
                    "'finite' supports all four)"
                )
        if self.mechanics is not None and self.model != "finite":
            raise ValueError("the mechanics section is used only by model 'finite'")
        if self.model == "finite":
            self._check_finite()
        elif self.model == "uniform-small":
            if mode != "uniform":
                raise ValueError(
                    f"lithiation.mode {mode!r} needs model 'transport-small' or 'finite' (model "
                    "'uniform-small' takes lithiation.mode 'uniform')"
                )
        elif mode not in ("galvanostatic", "protocol"):
            raise ValueError(
                f"model 'transport-small' takes lithiation.mode 'galvanostatic' or 'protocol', "
                f"not {mode!r}"
            )
        if mode == "uniform":
            if self.transport is not None:
                raise ValueError(
                    "the transport section is used only by model 'transport-small' or by model "
                    "'finite' with lithiation.mode 'galvanostatic' or 'protocol'"
                )
            if self.solver.adaptive is not None:
                raise ValueError(
                    "solver.adaptive is used only by model 'transport-small' or lithiation.mode "
                    "'galvanostatic' or 'protocol'"
                )
            return
        self._check_transport()

    def _check_transport(self) -> None:
        """Li transport: a transport section, 3D, not periodic, c_max, known surfaces."""
        if self.transport is None:
            raise ValueError(
                f"model {self.model!r} needs a transport section with lithiation.mode "
                f"{self.lithiation.mode!r} (diffusivity, …)"
            )
        if self.geometry.periodic:
            raise ValueError(
                f"model {self.model!r} with transport does not support placement 'periodic' "
                "yet; use 'inside' or 'clipped'"
            )
        if geometry.dimension(self.geometry) == 2:
            raise ValueError(
                f"model 'transport-small' does not support the 2D geometry "
                f"{self.geometry.kind!r} yet; use model 'uniform-small'"
            )
        self._check_free_energy()
        for region, m in self.materials.items():
            if m.active and m.max_concentration is None:
                raise ValueError(f"materials.{region}: transport needs c_max of {m.name!r}")
        surfaces = set(self.surface_names)
        unknown = set(self.active_surfaces) - surfaces
        if unknown:
            raise ValueError(
                f"transport.active_surfaces: unknown {sorted(unknown)}; this geometry's "
                f"particle surfaces are {sorted(surfaces)}"
            )

    def _check_free_energy(self) -> None:
        """A regular solution needs θ in (0, 1) at the start and the end (ln θ, ln(1 − θ))."""
        assert self.transport is not None
        energy = self.transport.free_energy
        if not isinstance(energy, RegularSolution):
            return
        lith = self.lithiation
        hint = ""
        chi = energy.chi(self.transport.temperature)
        if chi > CRITICAL_CHI:
            hint = f"; the c-Si (α) binodal here is θ_α = {binodal(chi)[0]:.4g}"
        values = {"soc_start": lith.soc_start}
        if isinstance(lith, ProtocolLithiation):  # every SOC stop and held θ of the steps
            for k, step in enumerate(lith.steps):
                for key in ("to_soc", "theta"):
                    if getattr(step, key, None) is not None:
                        values[f"steps.{k}.{key}"] = getattr(step, key)
        else:
            values["soc_end"] = lith.soc_end
        for key, value in values.items():
            if not 0 < value < 1:
                raise ValueError(
                    f"transport.free_energy 'regular_solution' needs 0 < lithiation.{key} < 1 "
                    f"(got {value:g}; RT ln(θ/(1 − θ)) diverges at 0 and 1){hint}"
                )

    def _check_finite(self) -> None:
        """Model ``finite``: not periodic, 3D, P1 with plasticity."""
        if self.geometry.periodic:
            raise ValueError("model 'finite' does not support placement 'periodic'")
        if geometry.dimension(self.geometry) != 3:
            raise ValueError(f"model 'finite' needs a 3D geometry, not {self.geometry.kind!r}")
        mechanics = self.mechanics or Mechanics()
        if mechanics.plasticity:
            if self.solver.degree != 1:
                raise ValueError(
                    "mechanics.plasticity needs solver.degree 1 (the plastic state is cell-wise)"
                )
            if not any(m.plastic for m in self.materials.values()):
                raise ValueError(
                    "mechanics.plasticity: no material has a flow stress (flow_stress, "
                    "yield_strength or hardness)"
                )

    @property
    def _surfaces(self) -> dict[str, str | None]:
        active = {region for region, m in self.materials.items() if m.active}
        return self.geometry.surfaces_of(active)

    @property
    def surface_names(self) -> list[str]:
        """Facet names that bound the Li-hosting regions of this geometry."""
        return list(self._surfaces)

    @property
    def active_surfaces(self) -> list[str]:
        """Facet names where Li enters (galvanostatic flux, ``voltage_shift_V``).

        Default: the interfaces of the Li hosts with an electrolyte (``Material.electrolyte``),
        where Li comes from; the free surfaces if there is no such interface.
        """
        if self.transport is not None and self.transport.active_surfaces is not None:
            return self.transport.active_surfaces
        surfaces = self._surfaces
        sources = [
            name
            for name, other in surfaces.items()
            if other is not None and self.materials[other].electrolyte
        ]
        return sources or [name for name, other in surfaces.items() if other is None]


# --------------------------------------------------------------------------- loading + errors


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (value parsed as YAML) to raw case data."""
    for item in overrides:
        if "=" not in item:
            raise CaseError(f"--set {item!r}: expected key.path=value")
        path, raw = item.split("=", 1)
        keys = path.strip().split(".")
        node: Any = data
        for key in keys[:-1]:
            if isinstance(node, list):
                node = node[int(key)]
            else:
                node = node.setdefault(key, {})
        value = yaml.safe_load(raw)
        if isinstance(node, list):
            node[int(keys[-1])] = value
        elif isinstance(node, dict):
            node[keys[-1]] = value
        else:
            raise CaseError(f"--set {item!r}: {'.'.join(keys[:-1])} is not a mapping")
    return data


def load_case(path: Path, overrides: list[str] | None = None) -> Case:
    """Read, override and validate a case file; raise CaseError naming file and key."""
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CaseError(f"{path}: no such case file") from None
    except yaml.YAMLError as exc:
        raise CaseError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise CaseError(f"{path}: a case file is a mapping of keys (name, geometry, …)")
    data = apply_overrides(data, overrides or [])
    try:
        return Case.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as exc:
        raise CaseError(format_validation_error(path, data, exc)) from None


def check_geometry(case: Case, path: Path) -> None:
    """Check the geometry short of meshing: an impossible geometry raises CaseError."""
    try:
        geometry.check(case.geometry)
    except GeometryError as exc:
        raise geometry_error(path, exc) from None


def geometry_error(path: Path, exc: GeometryError) -> CaseError:
    """A geometry error as a CaseError naming the file and the key."""
    return CaseError(f"{path}: geometry.{exc.key}: {exc}")


def format_validation_error(path: Path, data: dict[str, Any], exc: ValidationError) -> str:
    """One line per problem: ``file: key.path: message`` (+ nearest valid key)."""
    lines = []
    for err in exc.errors():
        loc = _data_path(data, err["loc"])
        where = ".".join(str(k) for k in loc) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(err["loc"][:-1])
            close = difflib.get_close_matches(str(err["loc"][-1]), allowed, n=1, cutoff=0.5)
            message = "unknown key" + (f"; did you mean {close[0]!r}?" if close else "")
            if allowed:
                message += f" (allowed: {', '.join(sorted(allowed))})"
        elif err["type"] == "union_tag_invalid":
            key, tag = err["ctx"]["discriminator"].strip("'"), err["ctx"]["tag"]
            tags = [t.strip(" '") for t in err["ctx"]["expected_tags"].split(",")]
            close = difflib.get_close_matches(tag, tags, n=1, cutoff=0.5)
            where = f"{where}.{key}"
            message = f"unknown {key} {tag!r}" + (f"; did you mean {close[0]!r}?" if close else "")
            message += f" (allowed: {', '.join(tags)})"
        elif err["type"] == "missing":
            if loc[-1:] != [err["loc"][-1]]:  # the absent key itself is not in the user's data
                where = ".".join(str(k) for k in [*loc, err["loc"][-1]])
            message = "required key is missing"
        elif "input" in err and not isinstance(err["input"], dict | list):
            message += f" (got {err['input']!r})"
        lines.append(f"{path}: {where}: {message}")
    return "\n".join(lines)


def _data_path(data: Any, loc: tuple[Any, ...]) -> list[Any]:
    """Keep the loc elements that are keys/indices of the user's data (drop union tags)."""
    out, node = [], data
    for key in loc:
        if isinstance(node, dict) and key in node:
            out.append(key)
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            out.append(key)
            node = node[key]
        elif not isinstance(node, dict | list):
            out.append(key)
    return out


def _models_in(annotation: Any) -> list[Any]:
    """Model classes and containers (dict/list/tuple) inside a type annotation."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    if origin in (dict, list, tuple):
        return [annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _union_tags(node: Any) -> set[str]:
    """Values of the single-valued Literal fields (union discriminators) of a model class."""
    if not (isinstance(node, type) and issubclass(node, BaseModel)):
        return set()
    tags = set()
    for f in node.model_fields.values():
        args = typing.get_args(f.annotation)
        if typing.get_origin(f.annotation) is Literal and len(args) == 1:
            tags.add(str(args[0]))
    return tags


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model(s) found at ``loc`` in the Case schema."""
    nodes: list[Any] = [Case]
    for key in loc:
        tagged = [n for n in nodes if key in _union_tags(n)]
        if tagged:  # a union tag such as 'thin_film' or 'random': keep only its model
            nodes = tagged
            continue
        nxt: list[Any] = []
        for node in nodes:
            if isinstance(node, type) and issubclass(node, BaseModel):
                if key in node.model_fields:
                    nxt += _models_in(node.model_fields[key].annotation)
                else:  # a union tag such as 'random': stay on this model
                    nxt.append(node)
            elif typing.get_origin(node) in (dict, list, tuple):
                nxt += [m for arg in typing.get_args(node)[-1:] for m in _models_in(arg)]
        nodes = nxt
    return sorted(
        {
            f
            for n in nodes
            if isinstance(n, type) and issubclass(n, BaseModel)
            for f in n.model_fields
        }
    )


def dump_resolved(case: Case) -> str:
    """The case after defaults, overrides and unit conversion, as YAML (SI units)."""
    header = "# resolved by ssbmech: all values SI (m, Pa, s, mol); defaults filled in\n"
    return header + yaml.safe_dump(
        case.model_dump(mode="json"), sort_keys=False, allow_unicode=True
    )
