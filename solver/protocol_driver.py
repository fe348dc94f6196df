"""Runs a lithiation protocol (solver/protocol.py) on a transport problem, one time step a call.

``ProtocolDriver.advance()`` takes one accepted time step: it sets the surface condition of
the current protocol step on the problem, solves with the step's time stepping
(solver/stepping.py: fixed, or adaptive with cut-backs), ends each protocol step exactly at
its stop, and moves on to the next. It returns what the history records: the protocol step
index and kind, Δt, the applied current density and the SOC from the charge passed.

Stops. A charge/discharge at a C-rate or current density that stops at a SOC has a known
duration, |soc_stop − soc_0| / |dSOC/dt|, with soc_0 the SOC at its start; a stop by time is
its duration. A hold that stops at a SOC is open-ended: when a step crosses the SOC, the step
is redone from the previous state with a shorter Δt found by the Illinois (modified regula
falsi) iteration on soc(Δt) − soc_stop, bracketed by 0 and the crossing Δt, until
|soc − soc_stop| ≤ EVENT_SOC_TOL; that shortened step is the last of the hold.

SOC bookkeeping (history ``soc_charge``): during a current step soc_charge = soc_0 +
(dSOC/dt)(t − t_0), the charge passed, independent of the solution (so ``soc`` = ∫θ/V_a
checks the discrete mass balance); a rest passes no charge; a hold has no prescribed current,
its current follows from the mass change, i = F c_max V_a Δsoc / (A_S Δt) (A m-2, positive
for lithiation), and soc_charge follows the SOC. Decisions that depend on the solution (event
detection) use the SOC of rank 0, broadcast, so every rank takes the same steps.

The problem interface (``LithiationTarget``) is what another transport problem class must
offer to run protocols: the active volume, surface area and c_max, ``set_flux`` (a uniform
flux on the active surfaces, which also ends a hold), ``hold_surface`` (Dirichlet θ on them),
``step`` (one backward-Euler step that restores the state on failure), ``reject_step`` (undo
the last accepted step) and ``soc``. It is implemented by the ``transport-small`` problems
(Fick, solver/physics/transport.py; two-phase, two_phase.py; stress-coupled,
coupled_transport.py) and by model ``finite``'s staggered FiniteTransport
(solver/physics/chemomech.py), whose step result also carries the mechanics iterations.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from mpi4py import MPI

from solver.case import Adaptive
from solver.errors import CaseError, SolverError
from solver.physics.transport import FARADAY
from solver.protocol import (
    HoldStep,
    ProtocolLithiation,
    Step,
    c_rate_theta_rate,
    check_start,
    current_sign,
    duration_of,
)
from solver.stepping import StepControl, Window

log = logging.getLogger("ssbmech")

EVENT_SOC_TOL = 1e-10
"""|soc − to_soc| (-) at which a hold that stops at a SOC ends."""
EVENT_MAX_IT = 40

KIND_CODES = {"charge": 1, "discharge": -1, "rest": 0, "hold": 2}
"""history.csv ``protocol_kind`` (the CSV is numeric): charge 1, discharge −1, rest 0, hold 2."""


class TransportStepResult(Protocol):
    """What ``LithiationTarget.step`` returns."""

    @property
    def newton_iterations(self) -> int:
        """Newton iterations of the step (the adaptive step control counts them)."""


class LithiationTarget(Protocol):
    """The interface of a transport problem that ``ProtocolDriver`` runs (module docstring)."""

    comm: MPI.Intracomm

    @property
    def volume(self) -> float:
        """V_a (m³): volume of the active materials."""

    @property
    def surface_area(self) -> float:
        """A_S (m²): area of the active surfaces."""

    @property
    def c_max(self) -> float:
        """c_max (mol m-3) of the active material."""

    def set_flux(self, flux: float) -> None:
        """Uniform inward flux j (mol m-2 s-1) on the active surfaces from now on; no hold."""

    def hold_surface(self, theta: float) -> None:
        """Hold θ = ``theta`` on the active-surface DOFs (Dirichlet) from now on; no flux."""

    def step(self, dt: float) -> TransportStepResult:
        """Advance by ``dt`` (s); on SolverError the state is back where it was."""

    def reject_step(self) -> None:
        """Return to the state before the last ``step``."""

    def soc(self) -> float:
        """∫θ dV / V_a (-) over the active materials (collective)."""


def resume_state(meta: dict[str, Any], protocol: ProtocolLithiation) -> dict[str, Any]:
    """The driver state of a checkpoint ``meta``.

    Checkpoints written before protocols existed (galvanostatic runs: ``time_s`` and
    ``next_dt_s``, no ``protocol`` entry) are the one-step protocol at the checkpoint step.
    """
    if "protocol" in meta:
        return dict(meta["protocol"])
    (only,) = protocol.steps
    rate = c_rate_theta_rate(only)
    assert rate is not None
    t = float(meta["time_s"])
    return {
        "step": int(meta["step"]),
        "time_s": t,
        "soc_charge": protocol.soc_start + rate * t,
        "index": 0,
        "window_start_s": 0.0,
        "window_soc_charge": protocol.soc_start,
        "local_step": int(meta["step"]),
        "next_dt_s": float(meta["next_dt_s"]),
    }


@dataclass(frozen=True)
class StepRecord:
    """One accepted time step: what the history records about the protocol."""

    dt: float
    result: TransportStepResult
    """What the problem's ``step`` returned (the last solve of the step); the time loop
    writes the model's iteration counts from it."""
    index: int
    kind: str
    current_density: float
    """Applied current density (A m-2, positive for lithiation) over the step."""
    soc_charge: float
    """SOC (-) from the charge passed since t = 0."""


class ProtocolDriver:
    """Time steps of ``protocol`` on ``problem``; ``state`` (checkpoint meta) to resume.

    A step that cannot run from the SOC reached (e.g. a charge to a SOC already passed after
    a hold) raises CaseError naming ``where`` (``file: lithiation``), the step index and text.

    ``step``/``time``: the last accepted global step and its time (s); ``done`` at the end.
    """

    def __init__(
        self,
        protocol: ProtocolLithiation,
        adaptive: Adaptive | None,
        problem: LithiationTarget,
        state: dict[str, Any] | None = None,
        where: str = "lithiation",
    ) -> None:
        self.protocol, self.adaptive, self.problem = protocol, adaptive, problem
        self.where = where
        """Prefix of error messages (the case file and key)."""
        self.theta_rate_per_flux = problem.surface_area / (problem.c_max * problem.volume)
        """dSOC/dt (s-1) per unit inward flux (mol m-2 s-1): A_S / (c_max V_a)."""
        if state is None:
            self.step, self.time = 0, 0.0
            self.soc_charge = protocol.soc_start
            self._begin(0, 0.0, protocol.soc_start)
        else:
            self.step, self.time = int(state["step"]), float(state["time_s"])
            self.soc_charge = float(state["soc_charge"])
            self._begin(
                int(state["index"]),
                float(state["window_start_s"]),
                float(state["window_soc_charge"]),
                local_step=int(state["local_step"]),
                dt=float(state["next_dt_s"]),
            )

    @property
    def done(self) -> bool:
        """Every protocol step has ended."""
        return self.index >= len(self.protocol.steps)

    @property
    def total_steps(self) -> int | None:
        """Number of time steps of a one-step fixed protocol (None otherwise)."""
        if len(self.protocol.steps) == 1 and not self.done:
            return self.control.total_steps
        return None

    def state(self) -> dict[str, Any]:
        """What a restart needs (JSON): the protocol step, its start, the controller."""
        return {
            "step": self.step,
            "time_s": self.time,
            "soc_charge": self.soc_charge,
            "index": self.index,
            "window_start_s": self.window.start,
            "window_soc_charge": self.window_soc_charge,
            "local_step": self.control.step,
            "next_dt_s": self.control.dt,
        }

    def flux(self, theta_rate: float) -> float:
        """Inward flux j (mol m-2 s-1) that changes the SOC at ``theta_rate`` (s-1)."""
        p = self.problem
        return theta_rate * p.c_max * p.volume / p.surface_area

    def rates_of(self, step: Step) -> tuple[float, float, float]:
        """(dSOC/dt (s-1), inward flux j (mol m-2 s-1), current density i (A m-2)) of ``step``.

        A C-rate gives dSOC/dt = ±C/3600 s, j = (dSOC/dt) c_max V_a / A_S, i = F j; a current
        density gives i, j = i/F, dSOC/dt = j A_S / (c_max V_a); rest and hold: zeros.
        """
        rate = c_rate_theta_rate(step)
        if rate is not None:
            flux = self.flux(rate)
            return rate, flux, FARADAY * flux
        density = getattr(step, "current_density", None)
        if density is None:
            return 0.0, 0.0, 0.0
        current = current_sign(step) * density
        flux = current / FARADAY
        return flux * self.theta_rate_per_flux, flux, current

    def _begin(
        self,
        index: int,
        start: float,
        soc_charge: float,
        local_step: int = 0,
        dt: float | None = None,
    ) -> None:
        """Start protocol step ``index`` at ``start`` (s) with the SOC ``soc_charge``."""
        self.index, self.window_soc_charge = index, soc_charge
        if self.done:
            return
        step = self.protocol.steps[index]
        self.current = step
        self.theta_rate, flux, self.current_density = self.rates_of(step)
        try:
            check_start(step, soc_charge, self.theta_rate)
        except ValueError as exc:
            raise CaseError(
                f"{self.where}.steps.{index}: {exc} (got {step.describe()!r})"
            ) from None
        step_dt, step_count = self.protocol.stepping(step)
        duration = duration_of(step, soc_charge, self.theta_rate)
        self.window = Window(start, duration, dt=step_dt, steps=None if step_dt else step_count)
        self.control = StepControl(self.window, self.adaptive, local_step, self.time, dt)
        if isinstance(step, HoldStep):
            self.problem.hold_surface(step.theta)
        else:
            self.problem.set_flux(flux)

    def _soc(self) -> float:
        """The SOC of rank 0 on every rank (identical decisions everywhere)."""
        return float(self.problem.comm.bcast(self.problem.soc(), root=0))

    def advance(self) -> StepRecord:
        """Take one accepted time step (cut-backs, event detection, next protocol step)."""
        control, step = self.control, self.current
        soc_before = self._soc()
        if control.step == 0:
            log.info(
                "protocol step %d/%d: %s (t = %.6g s, SOC %.6g)",
                self.index + 1,
                len(self.protocol.steps),
                step.describe(),
                self.time,
                soc_before,
            )
        while True:
            dt = control.next_time() - control.time
            try:
                result = self.problem.step(dt)
            except SolverError as exc:  # the state is back at the last accepted step
                control.cut_back(exc)
                continue
            break
        event = isinstance(step, HoldStep) and step.to_soc is not None
        soc_after = self._soc() if isinstance(step, HoldStep) else None
        if event:
            assert isinstance(step, HoldStep) and step.to_soc is not None and soc_after is not None
            direction = 1.0 if step.theta > soc_before else -1.0
            if direction * (soc_after - step.to_soc) > -EVENT_SOC_TOL:
                dt, result, soc_after = self._locate(dt, result, soc_before, soc_after)
            else:
                event = False
        control.accept(result.newton_iterations, time=control.time + dt if event else None)
        self.step, self.time = self.step + 1, control.time
        if isinstance(step, HoldStep):
            assert soc_after is not None
            current = (
                FARADAY * self.problem.c_max * self.problem.volume * (soc_after - soc_before)
            ) / (self.problem.surface_area * dt)
            self.soc_charge += soc_after - soc_before
        else:
            current = self.current_density
            self.soc_charge = self.window_soc_charge + self.theta_rate * (
                self.time - self.window.start
            )
        record = StepRecord(dt, result, self.index, step.kind, current, self.soc_charge)
        if event or control.done:
            self._begin(self.index + 1, self.time, self.soc_charge)
        return record

    def _locate(
        self, dt: float, result: TransportStepResult, soc_before: float, soc_after: float
    ) -> tuple[float, TransportStepResult, float]:
        """Redo the step that crossed the hold's ``to_soc`` so that it ends on it.

        Illinois iteration on g(τ) = soc(τ) − to_soc over the bracket [0, dt]; returns
        (Δt, step result, SOC) of the last solve, which is the accepted state.
        """
        step = self.current
        assert isinstance(step, HoldStep) and step.to_soc is not None
        target = step.to_soc
        lo, g_lo, hi, g_hi = 0.0, soc_before - target, dt, soc_after - target
        side = 0
        tau, g = hi, g_hi
        for _ in range(EVENT_MAX_IT):
            if abs(g) <= EVENT_SOC_TOL:
                return tau, result, g + target
            tau = (lo * g_hi - hi * g_lo) / (g_hi - g_lo)
            self.problem.reject_step()
            result = self.problem.step(tau)
            g = self._soc() - target
            if g * g_hi > 0:  # same side as hi: the crossing is in [lo, tau]
                hi, g_hi = tau, g
                if side == 1:
                    g_lo /= 2
                side = 1
            else:
                lo, g_lo = tau, g
                if side == -1:
                    g_hi /= 2
                side = -1
        if abs(g) <= EVENT_SOC_TOL:
            return tau, result, g + target
        raise SolverError(
            f"hold {step.describe()!r}: SOC {target:g} not located to {EVENT_SOC_TOL:g} in "
            f"{EVENT_MAX_IT} iterations (last SOC {g + target:.12g})"
        )
