"""The errors a synthesis program run can end in: one :class:`ProgramError` subclass per way, and
:class:`SandboxUnavailableError` where no program can run at all."""

from __future__ import annotations

__all__ = [
    "BadOutputError",
    "ForbiddenCodeError",
    "ProgramCrashError",
    "ProgramError",
    "ProgramMemoryError",
    "ProgramSyntaxError",
    "ProgramTimeoutError",
    "SandboxUnavailableError",
]


class ProgramError(Exception):
    """Base class: the synthesis program could not produce a usable result.

    ``str(error)`` is always a single line that a user can act on. ``log``
    holds the program's captured stdout/stderr when it got to run (same
    truncation as :attr:`SandboxResult.log`), else ``""``.
    """

    log: str = ""


class ProgramSyntaxError(ProgramError):
    """The source does not parse, or lacks a proper ``generate_hard_anomalies``."""


class ForbiddenCodeError(ProgramError):
    """The static check failed, or a forbidden operation was attempted at run time."""


class ProgramTimeoutError(ProgramError):
    """The wall-clock or CPU-time limit was hit."""


class ProgramMemoryError(ProgramError):
    """The address-space limit was hit (MemoryError in the child, or it was killed)."""


class ProgramCrashError(ProgramError):
    """The program raised an exception (or its process died unexpectedly).

    ``traceback`` holds the program's traceback, restricted to frames of the
    program source (shown as ``<program>``), or the tail of its output when
    there is no traceback.
    """

    def __init__(self, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.traceback = traceback


class BadOutputError(ProgramError):
    """The program returned something that is not a finite (n_samples, d) numeric array."""


class SandboxUnavailableError(RuntimeError):
    """This system lacks what the sandbox is built on (POSIX processes, fork, resource limits).

    Not a :class:`ProgramError`: no program can run here, so there is nothing to fall back from.
    """
