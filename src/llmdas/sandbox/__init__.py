"""Run untrusted synthesis programs in a separate, resource-limited process.

A *synthesis program* is a small Python source (possibly written by an LLM)
that defines::

    def generate_hard_anomalies(n_samples: int, model, X_train: np.ndarray) -> np.ndarray

and returns ``n_samples`` synthetic hard anomalies with ``X_train.shape[1]``
columns. :func:`run_program` runs it and returns a validated float64 array;
every way a program can fail is reported as a :class:`ProgramError` subclass
whose ``str()`` is one line suitable for a user.

Threat model
------------
We assume the program may be buggy (infinite loops, huge allocations, wrong
output) or actively hostile (trying to read or write files, start processes,
open sockets, or tamper with the detector that scores it). We want such a
program to fail *contained*: our process keeps running, its memory and files
are untouched, no process is left behind, and the user gets a clear error.

Layers of defence, outermost first:

1. **Process boundary.** The program runs in a process of its own, in its
   own process group, with an empty environment (no API keys leak in),
   ``cwd=/`` and ``stdin`` closed, which runs this one program and exits. It
   is forked from the *fork server*, a clean interpreter started once per
   process of ours with that environment and numpy imported, which never
   runs program code or sees data (forking it costs milliseconds; a new
   interpreter 0.1-0.3 s). ``LLMDAS_SANDBOX_FORK_SERVER=0`` starts a fresh
   interpreter per program instead, as does any failure of the fork server.
   Our process is never forked, and the fitted detector never leaves it:
   ``model.predict_score`` is an RPC, and the parent validates every array the
   child sends before scoring it. Nothing from the child is ever unpickled;
   the protocol is length-prefixed JSON headers plus raw little-endian array
   bytes with bounded sizes (see :mod:`llmdas.sandbox._child`).
2. **Resource limits** in the child: ``RLIMIT_AS`` (memory), ``RLIMIT_CPU``,
   ``RLIMIT_FSIZE=0`` (no file can grow), ``RLIMIT_CORE=0``, and
   ``RLIMIT_NPROC=0`` (ignored when running as root, hence layer 4). The
   parent enforces the wall-clock timeout by SIGKILLing the whole process
   group, and always kills and reaps the child in a ``finally``. The
   program's stdout/stderr are drained concurrently and capped at
   ``max_log_bytes``, so printing gigabytes neither deadlocks nor exhausts
   memory.
3. **Static check** (:func:`check_source`): imports must be allowlisted;
   ``exec``/``eval``/``open``/``getattr``/... and every dunder or private
   attribute (``__class__``, ``_core``, ...) are rejected, as are numpy's file
   and foreign-code escape hatches (``np.load``, ``tofile``, ``ctypeslib``,
   ``as_strided``, ...).
4. **Runtime checks** in the child: the program gets a builtins table without
   the dangerous functions and with an import allowlist, and a
   ``sys.addaudithook`` hook (installed after numpy is imported and the
   program compiled, before it runs) denies process creation, sockets,
   ctypes, file writes, file reads outside the Python installation, file
   system changes, loading modules such as ``subprocess``, and - when called
   from program code - ``compile``/``exec``, frame access and restricted
   attribute introspection. A denied operation is reported as
   :class:`ForbiddenCodeError` even if the program catches the exception.

What is **not** guaranteed: this is defence in depth on one Linux host, not
a security boundary like a VM or container. The program runs with our user
id and shares the kernel; audit hooks are not designed as a sandbox and are
bypassable by anyone who achieves memory corruption inside the child (for
instance through a numpy bug). If you run programs from sources you
genuinely distrust, add an OS-level sandbox (container, seccomp, separate
user) around the whole tool. The sandbox is Linux/POSIX-only.

Determinism
-----------
The child seeds ``np.random.seed(seed)`` and replaces
``np.random.default_rng`` so that calling it *without* a seed returns a
generator derived from ``seed`` (the k-th unseeded call gets the k-th child
of ``SeedSequence(seed)``). ``PYTHONHASHSEED`` is fixed, so set iteration
order is stable too. Hence the same program, data and ``seed`` give the same
output; ``seed=None`` draws a fresh random seed. Generators built directly
from bit generators (``np.random.Generator(np.random.PCG64())``) or
``np.random.RandomState()`` without a seed are *not* covered.
"""

from llmdas.sandbox.errors import (
    BadOutputError,
    ForbiddenCodeError,
    ProgramCrashError,
    ProgramError,
    ProgramMemoryError,
    ProgramSyntaxError,
    ProgramTimeoutError,
    SandboxUnavailableError,
)
from llmdas.sandbox.session import SandboxLimits, SandboxResult, run_program
from llmdas.sandbox.static_check import ALLOWED_IMPORTS, check_source

__all__ = [
    "ALLOWED_IMPORTS",
    "BadOutputError",
    "ForbiddenCodeError",
    "ProgramCrashError",
    "ProgramError",
    "ProgramMemoryError",
    "ProgramSyntaxError",
    "ProgramTimeoutError",
    "SandboxLimits",
    "SandboxResult",
    "SandboxUnavailableError",
    "check_source",
    "run_program",
]
