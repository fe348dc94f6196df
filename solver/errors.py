"""Named errors and the exit codes the command line maps them to."""


class CaseError(ValueError):
    """Bad input: a case file, an override or a run directory that cannot be used (exit 2)."""

    exit_code = 2


class SolverError(RuntimeError):
    """The solver failed after all cut-backs (exit 3); what was written up to then is kept."""

    exit_code = 3
