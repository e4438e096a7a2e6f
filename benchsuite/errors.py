"""Errors the user can fix, and the process exit codes the CLI maps them to."""

# Exit codes (documented in the README and `benchsuite --help`).
EXIT_OK = 0             # everything ran; every case ok / skipped / unsupported
EXIT_FAILURES = 1       # the command ran but some cases ended as `error` records
EXIT_USAGE = 2          # bad input: unknown name, malformed spec, bad option
EXIT_REGRESSION = 3     # compare / regress found a significant slowdown
EXIT_INTERRUPTED = 130  # Ctrl-C; finished records are kept
EXIT_BUG = 70           # an unexpected exception: a bug in benchsuite (EX_SOFTWARE); its traceback goes to a log


class BenchsuiteError(Exception):
    """An error caused by input the user can correct; the CLI prints it and exits EXIT_USAGE."""


class SpecError(BenchsuiteError):
    """A device or workload file (or a value in it) is invalid."""

    def __init__(self, source: str, key: str, problem: str, valid: str | None = None):
        self.source, self.key, self.problem, self.valid = source, key, problem, valid
        msg = f"{source}: key '{key}': {problem}"
        if valid:
            msg += f" (valid: {valid})"
        super().__init__(msg)


class UnknownNameError(BenchsuiteError):
    def __init__(self, kind: str, name: str, choices):
        choices = sorted(choices)
        super().__init__(f"unknown {kind} '{name}' (valid: {', '.join(choices) or 'none'})")
