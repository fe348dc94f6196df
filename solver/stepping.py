"""Time steps of the transport loop within one protocol step: fixed or adaptive.

Models ``transport-small`` and ``finite`` with Li transport (solver/run_transport.py).

A ``Window`` is the time span of one protocol step: it starts at ``start`` (s) and lasts
``duration`` (s), or is open (``None``: a hold that stops at a SOC, ended by the caller's event
detection, solver/protocol_driver.py). ``StepControl`` proposes the time steps in it.

Fixed (no ``solver.adaptive``): ``steps`` equal steps, or steps of ``dt`` with the last one
shortened to end exactly at the window's end; a failed solve fails the run. Adaptive
(``solver.adaptive``, see solver.case.Adaptive): the first Δt is ``dt`` (or duration/steps),
then t_{k+1} = t_k + Δt with

    Δt ← min(grow Δt, dt_max)  after an easy step (Newton iterations ≤ easy_newton, no cut-back)
    Δt ← cut Δt                after a failed solve (retried from the last accepted state)

and the last step shortened to end exactly at the window's end; more than ``max_cutbacks``
cut-backs in one step raise SolverError (exit 3). Each protocol step starts again from its
first Δt: a change of the surface condition is a discontinuity that the Newton count (the
only error signal of the controller) does not see.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from solver.case import Adaptive
from solver.errors import SolverError

log = logging.getLogger("ssbmech")

END_RTOL = 1e-9
"""A step that would end within END_RTOL·duration of the end is stretched to the end."""


@dataclass(frozen=True)
class Window:
    """One protocol step in time: ``start`` (s), ``duration`` (s; None: open-ended).

    Exactly one of ``dt`` (s) and ``steps`` is given (``steps`` needs a duration).
    """

    start: float
    duration: float | None
    dt: float | None = None
    steps: int | None = None

    def __post_init__(self) -> None:
        if (self.dt is None) == (self.steps is None):
            raise ValueError("a window takes exactly one of dt or steps")
        if self.duration is None and self.dt is None:
            raise ValueError("an open-ended window needs dt")

    @property
    def first_dt(self) -> float:
        """Δt (s) of the first step."""
        if self.dt is not None:
            return self.dt if self.duration is None else min(self.dt, self.duration)
        assert self.duration is not None and self.steps is not None
        return self.duration / self.steps

    @property
    def count(self) -> int | None:
        """Number of fixed steps (None: open-ended)."""
        if self.duration is None:
            return None
        if self.steps is not None:
            return self.steps
        assert self.dt is not None
        return max(1, math.ceil(self.duration / self.dt - 1e-9))

    def fixed_time(self, k: int) -> float:
        """End time (s) of fixed step ``k`` ≥ 1; the last ends exactly at start + duration."""
        if self.duration is None:
            assert self.dt is not None
            return self.start + k * self.dt
        if self.steps is not None:
            return self.start + self.duration * k / self.steps
        assert self.dt is not None
        return self.start + min(k * self.dt, self.duration)

    @property
    def end(self) -> float | None:
        """End time (s), None when open-ended."""
        return None if self.duration is None else self.start + self.duration


class StepControl:
    """Accepted step ``step`` (counted from the window start) at ``time`` (s) in ``window``.

    ``next_time()`` proposes the end of the next attempt; ``accept`` / ``cut_back`` report it.
    """

    def __init__(
        self,
        window: Window,
        adaptive: Adaptive | None,
        step: int = 0,
        time: float | None = None,
        dt: float | None = None,
    ) -> None:
        self.window = window
        self.adaptive = adaptive
        self.step = step
        self.time = window.start if time is None else time
        self.dt = window.first_dt if dt is None else dt
        """Δt (s) of the next attempt (adaptive mode)."""
        self.cutbacks = 0
        """Cut-backs in the current step."""

    @property
    def done(self) -> bool:
        """The window's end is reached (never for an open window)."""
        end = self.window.end
        if end is None:
            return False
        if self.adaptive is None:
            count = self.window.count
            assert count is not None
            return self.step >= count
        return self.time >= end

    @property
    def total_steps(self) -> int | None:
        """Number of steps of a fixed, closed window (None when adaptive or open)."""
        return None if self.adaptive is not None else self.window.count

    def next_time(self) -> float:
        """End time (s) of the next attempt."""
        if self.adaptive is None:
            return self.window.fixed_time(self.step + 1)
        t = self.time + self.dt
        end, duration = self.window.end, self.window.duration
        if end is not None and duration is not None and t >= end - END_RTOL * duration:
            return end
        return t

    def accept(self, newton_iterations: int, time: float | None = None) -> None:
        """The attempt converged: advance, and grow Δt after an easy step.

        ``time``: the step actually taken ended earlier than proposed (event detection).
        """
        self.time, self.step = (self.next_time() if time is None else time), self.step + 1
        a = self.adaptive
        if a is not None and self.cutbacks == 0 and newton_iterations <= a.easy_newton:
            self.dt = self.dt * a.grow if a.dt_max is None else min(self.dt * a.grow, a.dt_max)
        self.cutbacks = 0

    def cut_back(self, error: SolverError) -> None:
        """The attempt failed: cut Δt, or re-raise ``error`` when no cut-back is left."""
        a = self.adaptive
        if a is None:
            raise error
        if self.cutbacks >= a.max_cutbacks:
            raise SolverError(
                f"gave up after {a.max_cutbacks} cut-backs at t = {self.time:g} s (step "
                f"{self.step + 1}, last Δt {self.dt:g} s): {error}"
            ) from error
        self.cutbacks += 1
        self.dt *= a.cut
        log.info(
            "step %d: cut-back %d/%d, Δt → %.4g s (%s)",
            self.step + 1,
            self.cutbacks,
            a.max_cutbacks,
            self.dt,
            error,
        )
