"""Named errors and the exit codes the command line maps them to."""

import signal


class CaseError(ValueError):
    """Bad input: a case file, an override or a run directory that cannot be used (exit 2)."""

    exit_code = 2


class SolverError(RuntimeError):
    """The solver failed after all cut-backs (exit 3); what was written up to then is kept."""

    exit_code = 3


class RunInterrupted(Exception):
    """A run stopped by SIGTERM/SIGINT (e.g. SLURM's time limit); exit 128 + signal number.

    Raised by the run's signal handler on every rank that receives the signal; the run is
    recorded as ``interrupted`` and what was written up to then is kept.
    """

    def __init__(self, signum: int) -> None:
        self.signal = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(f"stopped by {self.signal}")
