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
   bytes with bounded sizes (see :mod:`llmdas._sandbox_child`).
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

from __future__ import annotations

import ast
import atexit
import contextlib
import json
import math
import os
import secrets
import select
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from llmdas import _sandbox_child as _child

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
    "check_source",
    "run_program",
]

ENTRY_POINT = "generate_hard_anomalies"

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Limits and result
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one program run.

    ``timeout_s`` is wall-clock time for the whole run, including the time the
    parent spends scoring ``model.predict_score`` requests. ``cpu_s`` is the
    child's RLIMIT_CPU; ``None`` means ``timeout_s + 1`` so that the wall
    clock normally fires first. ``memory_mb`` is the child's total address
    space, *including* the interpreter and numpy (roughly 150-300 MB).
    ``max_log_bytes`` is how much of the program's stdout/stderr is kept.
    """

    timeout_s: float = 120.0
    cpu_s: float | None = None
    memory_mb: int = 4096
    max_log_bytes: int = 64_000

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.cpu_s is not None and not self.cpu_s > 0:
            raise ValueError(f"cpu_s must be > 0 or None, got {self.cpu_s}")
        if self.memory_mb < 64:
            raise ValueError(f"memory_mb must be >= 64, got {self.memory_mb}")
        if self.max_log_bytes < 0:
            raise ValueError(f"max_log_bytes must be >= 0, got {self.max_log_bytes}")

    @property
    def effective_cpu_s(self) -> float:
        return self.cpu_s if self.cpu_s is not None else self.timeout_s + 1.0


@dataclass
class SandboxResult:
    """Output of a successful :func:`run_program`."""

    X: np.ndarray  #: float64, C-contiguous, shape (n_samples, d), all finite
    log: str  #: captured stdout/stderr of the program (truncated to max_log_bytes)
    n_score_calls: int  #: number of model.predict_score calls the program made
    elapsed_s: float  #: wall-clock seconds, spawn to result


# ---------------------------------------------------------------------------
# Static check
# ---------------------------------------------------------------------------

#: Modules a program may import. numpy is the point of the exercise; the rest
#: are pure-computation stdlib modules with no file, process, network or
#: introspection capabilities. ``random`` is left out on purpose: programs
#: should use numpy's seeded generators so runs are reproducible.
ALLOWED_IMPORTS = tuple(sorted(_child.ALLOWED_IMPORTS - {"__future__"}))

MAX_SOURCE_BYTES = 1_000_000

#: Builtins that give access to code execution, files, namespaces or
#: arbitrary attributes.
FORBIDDEN_NAMES = _child._DENIED_BUILTINS  # one list for both layers

#: Attribute (and ``from numpy import ...``) names that are escape hatches:
#: numpy file IO and pickling, foreign code, raw memory views, frame and
#: code-object internals, and modules reachable as attributes.
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        # numpy file IO / pickling
        "load",
        "loads",
        "save",
        "savez",
        "savez_compressed",
        "savetxt",
        "loadtxt",
        "genfromtxt",
        "fromfile",
        "tofile",
        "fromregex",
        "memmap",
        "open_memmap",
        "DataSource",
        "dump",
        "dumps",
        # foreign code / raw memory
        "ctypes",
        "ctypeslib",
        "f2py",
        "distutils",
        "testing",
        "as_strided",
        # frames, code objects, generators, tracebacks
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "f_trace",
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "cr_frame",
        "cr_code",
        "cr_await",
        "ag_frame",
        "ag_code",
        "tb_frame",
        "tb_next",
        "co_code",
        "func_globals",
        "mro",
        # modules that some libraries expose as attributes
        "os",
        "sys",
        "subprocess",
        "builtins",
        "importlib",
        "socket",
        "shutil",
        "pickle",
        "io",
        "pathlib",
        "system",
        "popen",
    }
)

#: Special methods a program's own classes may define. Others (``__del__``,
#: ``__getattr__``, ``__reduce__``, ``__array_interface__``, ``__str__`` ...)
#: could make our code run program code implicitly, so they are rejected.
ALLOWED_DUNDER_DEFS = frozenset(
    {
        "__init__",
        "__post_init__",
        "__call__",
        "__len__",
        "__iter__",
        "__next__",
        "__getitem__",
        "__setitem__",
        "__contains__",
        "__eq__",
        "__ne__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__hash__",
    }
)

_ALLOWED_DUNDER_NAMES = frozenset({"__name__"})


def _forbid(what: str, node: ast.AST, hint: str = "") -> ForbiddenCodeError:
    line = getattr(node, "lineno", None)
    where = f" at line {line}" if line else ""
    return ForbiddenCodeError(f"forbidden {what}{where}{hint}")


def _check_module_name(name: str, node: ast.AST) -> None:
    parts = name.split(".")
    if (
        parts[0] not in _child.ALLOWED_IMPORTS
        or any(p.startswith("_") for p in parts[1:])
        or any(name == m or name.startswith(m + ".") for m in _child.DENIED_NUMPY_MODULES)
    ):
        raise _forbid(f"import {name!r}", node, f" (allowed: {', '.join(ALLOWED_IMPORTS)})")


def _check_entry_point(tree: ast.Module) -> None:
    defs = [
        n
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == ENTRY_POINT
    ]
    if not defs:
        raise ProgramSyntaxError(
            f"synthesis program does not define '{ENTRY_POINT}(n_samples, model, X_train)' "
            "at module top level"
        )
    fn = defs[-1]
    if isinstance(fn, ast.AsyncFunctionDef):
        raise ProgramSyntaxError(f"'{ENTRY_POINT}' at line {fn.lineno} must not be async")
    a = fn.args
    positional = len(a.posonlyargs) + len(a.args)
    required = positional - len(a.defaults)
    kw_required = sum(d is None for d in a.kw_defaults)
    if required > 3 or (positional < 3 and a.vararg is None) or kw_required:
        raise ProgramSyntaxError(
            f"'{ENTRY_POINT}' at line {fn.lineno} must take exactly three positional "
            "parameters (n_samples, model, X_train)"
        )


def check_source(source: str) -> None:
    """Statically check a synthesis program; raise if it must not be run.

    Raises :class:`ProgramSyntaxError` if the source does not parse or has no
    top-level ``generate_hard_anomalies(n_samples, model, X_train)``, and
    :class:`ForbiddenCodeError` naming the first offending construct and its
    line (imports outside :data:`ALLOWED_IMPORTS`, forbidden builtins,
    dunder/private attributes, numpy IO and foreign-code functions, ...).

    Passing this check does not make a program safe by itself; it is the
    first of several layers (see the module docstring).
    """
    if not isinstance(source, str):
        raise ProgramSyntaxError(f"synthesis program must be a str, got {type(source).__name__}")
    if len(source.encode("utf-8", "replace")) > MAX_SOURCE_BYTES:
        raise ForbiddenCodeError(
            f"synthesis program is too large ({len(source)} characters, limit {MAX_SOURCE_BYTES})"
        )
    try:
        tree = ast.parse(source, filename="<program>")
    except SyntaxError as exc:
        raise ProgramSyntaxError(
            f"synthesis program has a syntax error at line {exc.lineno}: {exc.msg}"
        ) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ProgramSyntaxError(f"synthesis program could not be parsed: {exc}") from None

    # Bare string statements (docstrings) are never used as values.
    docstrings = {
        id(n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
    }
    for node in ast.walk(tree):
        if id(node) not in docstrings:
            _check_node(node)
    _check_entry_point(tree)


def _check_node(node: ast.AST) -> None:  # noqa: C901 - a flat list of rules reads best
    if isinstance(node, ast.Import):
        for alias in node.names:
            _check_module_name(alias.name, node)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            raise _forbid("relative import", node)
        module = node.module or ""
        if module == "__future__":
            return
        _check_module_name(module, node)
        for alias in node.names:
            if alias.name == "*":
                raise _forbid(f"'from {module} import *'", node)
            if alias.name.startswith("_") or alias.name in FORBIDDEN_ATTRIBUTES:
                raise _forbid(f"import of {module}.{alias.name}", node)
            _check_module_name(f"{module}.{alias.name}", node)
    elif isinstance(node, ast.Name):
        if node.id in FORBIDDEN_NAMES:
            raise _forbid(f"name '{node.id}'", node)
        if node.id.startswith("__") and node.id not in _ALLOWED_DUNDER_NAMES:
            raise _forbid(f"dunder name '{node.id}'", node)
    elif isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            raise _forbid(f"private/dunder attribute '.{node.attr}'", node)
        if node.attr in FORBIDDEN_ATTRIBUTES:
            raise _forbid(f"attribute '.{node.attr}'", node)
        lib_format = isinstance(node.value, ast.Attribute) and node.value.attr == "lib"
        if node.attr == "format" and lib_format:  # np.lib.format: .npy file IO
            raise _forbid("attribute '.lib.format'", node)
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        if node.name.startswith("__") and node.name not in ALLOWED_DUNDER_DEFS:
            raise _forbid(f"definition of '{node.name}'", node)
    elif isinstance(node, ast.arg):
        if node.arg.startswith("__"):
            raise _forbid(f"parameter name '{node.arg}'", node)
    elif isinstance(node, ast.alias):
        if node.asname and node.asname.startswith("__"):
            raise _forbid(f"import alias '{node.asname}'", node)
    elif isinstance(node, ast.Global | ast.Nonlocal):
        for name in node.names:
            if name.startswith("__"):
                raise _forbid(f"name '{name}'", node)
    elif isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        # Dunder names in strings feed str.format / type() tricks; "__main__" is harmless.
        if isinstance(value, str) and "__" in value and value != "__main__":
            raise _forbid("string containing '__'", node)
    elif isinstance(node, ast.MatchClass):
        for attr in node.kwd_attrs:
            if attr.startswith("_") or attr in FORBIDDEN_ATTRIBUTES:
                raise _forbid(f"match on attribute '{attr}'", node)
    elif isinstance(node, ast.MatchAs | ast.MatchStar) and (node.name or "").startswith("__"):
        raise _forbid(f"name '{node.name}'", node)


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------

#: dtypes the child may send as the result (all converted to float64 here).
_RESULT_DTYPES = frozenset(
    np.dtype(t).newbyteorder("<").str
    for t in ("f8", "f4", "f2", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1")
)
_READ_CHUNK = 1 << 20
_LOG_GRACE_S = 2.0
#: Environment of the child: nothing inherited from ours (no secrets, no
#: PYTHONPATH); single-threaded BLAS so thread stacks don't eat RLIMIT_AS.
_CHILD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONIOENCODING": "utf-8",
    # Unbuffered, so the output printed before a timeout kill is not lost.
    "PYTHONUNBUFFERED": "1",
    "LANG": "C.UTF-8",
    "PATH": os.defpath,
}


def run_program(
    source: str,
    score_fn: Callable[[np.ndarray], np.ndarray],
    X_train: np.ndarray,
    n_samples: int,
    *,
    seed: int | None = None,
    limits: SandboxLimits | None = None,
) -> SandboxResult:
    """Check and run a synthesis program in a sandboxed child process.

    ``score_fn(X)`` is called *in this process* for every
    ``model.predict_score(X)`` the program makes; it must return one score
    per row. ``X_train`` is given to the program as a writable float64 copy.
    The same ``seed`` gives the same output (see "Determinism" in the module
    docstring); ``None`` draws a random one.

    Returns a :class:`SandboxResult` whose ``X`` is a finite float64
    C-contiguous array of shape ``(n_samples, X_train.shape[1])``. The
    program must return a ``numpy.ndarray`` (lists are rejected) with a real
    numeric dtype (int or float; bool, complex and object are rejected).

    Raises a :class:`ProgramError` subclass for anything the program does
    wrong, and ``ValueError`` for bad arguments from the caller.
    """
    check_source(source)
    return _run_unchecked(source, score_fn, X_train, n_samples, seed=seed, limits=limits)


def _run_unchecked(
    source: str,
    score_fn: Callable[[np.ndarray], np.ndarray],
    X_train: np.ndarray,
    n_samples: int,
    *,
    seed: int | None = None,
    limits: SandboxLimits | None = None,
) -> SandboxResult:
    """:func:`run_program` without the static check.

    Only for tests of the runtime layers: it lets hostile code reach the
    child so that the audit hook and resource limits can be verified alone.
    """
    limits = limits or SandboxLimits()
    X = np.asarray(X_train)
    if X.ndim != 2 or X.shape[1] < 1:
        raise ValueError(f"X_train must be a 2-D array with >= 1 column, got shape {X.shape}")
    X = np.ascontiguousarray(X, dtype="<f8")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
    if seed is None:
        seed = secrets.randbits(63)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
    return _Session(source, score_fn, X, int(n_samples), int(seed), limits).run()


class _ProtocolError(Exception):
    """The child sent something that does not follow the wire protocol."""


class _FrameReader:
    """Incremental parser of frames arriving from the (untrusted) child.

    ``check_header(header)`` is called as soon as a header is complete and
    must return the exact payload size allowed for it (or raise), so an
    oversized payload is rejected before it is buffered.
    """

    #: Child headers carry at most ~8.5k characters of text (<= 6 bytes each as JSON).
    MAX_HEADER = 256 * 1024

    def __init__(self, check_header: Callable[[dict], int]) -> None:
        self._buf = bytearray()
        self._header: dict | None = None
        self._check_header = check_header

    def feed(self, data: bytes) -> list[tuple[dict, bytes]]:
        self._buf += data
        frames = []
        while True:
            if self._header is None:
                if len(self._buf) < _child.HEADER_LEN.size:
                    break
                (length,) = _child.HEADER_LEN.unpack_from(self._buf)
                if length > self.MAX_HEADER:
                    raise _ProtocolError(f"header of {length} bytes")
                end = _child.HEADER_LEN.size + length
                if len(self._buf) < end:
                    break
                try:
                    header = json.loads(bytes(self._buf[_child.HEADER_LEN.size : end]))
                except ValueError as exc:
                    raise _ProtocolError("undecodable header") from exc
                if not (
                    isinstance(header, dict)
                    and isinstance(header.get("type"), str)
                    and type(header.get("nbytes")) is int
                ):
                    raise _ProtocolError("malformed header")
                if header["nbytes"] != self._check_header(header):
                    raise _ProtocolError(f"unexpected payload size in {header['type']!r} frame")
                del self._buf[:end]
                self._header = header
            need = self._header["nbytes"]
            if len(self._buf) < need:
                break
            frames.append((self._header, bytes(self._buf[:need])))
            del self._buf[:need]
            self._header = None
        return frames


class _CappedLog:
    """Keeps the first ``cap`` bytes of the program's output, counts the rest."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.kept = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.cap - len(self.kept)
        if room > 0:
            self.kept += data[:room]
        self.dropped += max(0, len(data) - max(room, 0))

    def text(self) -> str:
        out = self.kept.decode("utf-8", "replace")
        if self.dropped:
            out += f"\n[... {self.dropped} more bytes of output dropped]"
        return out


def _shape_str(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _one_line(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Session:
    """One child process: spawn, serve its requests until it answers, clean up."""

    def __init__(self, source, score_fn, X_train, n_samples, seed, limits) -> None:
        self.source = source
        self.score_fn = score_fn
        self.X_train = X_train
        self.n_samples = n_samples
        self.n_features = X_train.shape[1]
        self.seed = seed
        self.limits = limits
        self.log = _CappedLog(limits.max_log_bytes)
        self.n_score_calls = 0
        self.outgoing: list[memoryview] = []
        self.reader = _FrameReader(self._allowed_payload)

    # -- lifecycle ---------------------------------------------------------

    def run(self) -> SandboxResult:
        start = time.monotonic()
        self.deadline = start + self.limits.timeout_s
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        log_r, log_w = os.pipe()
        proc = None
        try:
            proc = _spawn_child(cmd_r, res_w, log_w)
            for fd in (cmd_r, res_w, log_w):
                os.close(fd)
            cmd_r = res_w = log_w = -1
            self.proc = proc
            try:
                X = self._serve(cmd_w, res_r, log_r)
            except ProgramError as exc:
                exc.log = self.log.text()
                raise
            return SandboxResult(
                X=X,
                log=self.log.text(),
                n_score_calls=self.n_score_calls,
                elapsed_s=time.monotonic() - start,
            )
        finally:
            if proc is not None:
                _kill_group(proc)
            for fd in (cmd_r, cmd_w, res_r, res_w, log_r, log_w):
                if fd >= 0:
                    os.close(fd)

    def _serve(self, cmd_w: int, res_r: int, log_r: int) -> np.ndarray:
        """Event loop: write init/scores, read requests and logs, watch the clock."""
        for fd in (cmd_w, res_r, log_r):
            os.set_blocking(fd, False)
        self._queue(
            {
                "type": "init",
                "source": self.source,
                "n_samples": self.n_samples,
                "n_features": self.n_features,
                "shape": list(self.X_train.shape),
                "seed": self.seed,
                "memory_mb": self.limits.memory_mb,
                "cpu_s": self.limits.effective_cpu_s,
            },
            self.X_train.data,
        )
        sel = selectors.DefaultSelector()
        try:
            sel.register(res_r, selectors.EVENT_READ, "res")
            sel.register(log_r, selectors.EVENT_READ, "log")
            sel.register(cmd_w, selectors.EVENT_WRITE, "cmd")
            cmd_open, outcome = True, None
            while outcome is None:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    raise self._timeout()
                for key, _ in sel.select(remaining):
                    if key.data == "log":
                        if not self._drain(log_r):
                            sel.unregister(log_r)
                    elif key.data == "cmd":
                        cmd_open = self._flush(cmd_w)
                        if not self.outgoing or not cmd_open:
                            sel.unregister(cmd_w)
                    elif key.data == "res":
                        chunk = _read(res_r)
                        if chunk == b"":  # child closed its end: it died or exited
                            raise self._died_without_answer(sel, log_r)
                        for header, payload in self._feed(chunk):
                            outcome = self._handle(header, payload)
                            if outcome is not None:
                                break
                if cmd_open and self.outgoing and cmd_w not in sel.get_map():
                    sel.register(cmd_w, selectors.EVENT_WRITE, "cmd")
            # The child flushed its output before answering; collect the rest.
            self._finish_log(sel, log_r, time.monotonic() + _LOG_GRACE_S)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        finally:
            sel.close()

    def _feed(self, chunk: bytes) -> list[tuple[dict, bytes]]:
        try:
            return self.reader.feed(chunk)
        except _ProtocolError as exc:
            raise ProgramCrashError(
                f"synthesis program broke the sandbox protocol ({exc})", ""
            ) from None

    # -- I/O helpers -------------------------------------------------------

    def _queue(self, header: dict, payload=b"") -> None:
        self.outgoing.extend(memoryview(p).cast("B") for p in _child.encode_frame(header, payload))

    def _flush(self, fd: int) -> bool:
        """Write queued bytes without blocking; False once the child closed its end."""
        while self.outgoing:
            view = self.outgoing[0]
            try:
                n = os.write(fd, view[:_READ_CHUNK])
            except BlockingIOError:
                return True
            except OSError:  # BrokenPipeError: the child is gone
                self.outgoing.clear()
                return False
            self.outgoing[0] = view[n:]
            if not self.outgoing[0].nbytes:
                self.outgoing.pop(0)
        return True

    def _drain(self, fd: int) -> bool:
        """Read available log bytes into the capped log; False at EOF."""
        chunk = _read(fd)
        if chunk == b"":
            return False
        if chunk is not None:
            self.log.add(chunk)
        return True

    def _finish_log(self, sel, log_r: int, until: float) -> None:
        if log_r not in sel.get_map():
            return
        for key in list(sel.get_map().values()):
            if key.fd != log_r:
                sel.unregister(key.fd)
        while (remaining := min(until, self.deadline) - time.monotonic()) > 0:
            if sel.select(remaining) and not self._drain(log_r):
                return

    # -- protocol ----------------------------------------------------------

    def _allowed_payload(self, header: dict) -> int:
        """Exact payload size allowed for a header, or raise (see _FrameReader)."""
        kind = header["type"]
        if kind == "score":
            shape = header.get("shape")
            if not (
                isinstance(shape, list)
                and len(shape) == 2
                and all(type(s) is int and s >= 0 for s in shape)
                and shape[1] == self.n_features
                and shape[0] * shape[1] <= _child.MAX_SCORE_CELLS
            ):
                raise _ProtocolError("invalid score request")
            return shape[0] * shape[1] * 8
        if kind == "result":
            shape, dtype = header.get("shape"), header.get("dtype")
            if shape != [self.n_samples, self.n_features]:
                raise BadOutputError(self._shape_message(shape))
            if dtype not in _RESULT_DTYPES:
                raise BadOutputError(f"synthesis program returned an array of dtype {dtype!r}")
            return self.n_samples * self.n_features * np.dtype(dtype).itemsize
        if kind in ("bad_output", "crash", "forbidden", "memory"):
            return 0
        raise _ProtocolError(f"unknown frame type {kind[:40]!r}")

    def _handle(self, header: dict, payload: bytes):
        """Serve a score request (returns None) or turn a terminal frame into an outcome."""
        kind = header["type"]
        if kind == "score":
            self._score(header, payload)
            return None
        if kind == "result":
            X = np.frombuffer(payload, dtype=header["dtype"]).reshape(header["shape"])
            X = np.ascontiguousarray(X, dtype=np.float64)
            bad = int(np.size(X) - np.count_nonzero(np.isfinite(X)))
            if bad:
                return BadOutputError(
                    f"synthesis program returned {bad} non-finite value(s) (NaN or inf) "
                    f"in its {_shape_str(X.shape)} output"
                )
            return X
        if kind == "bad_output":
            return BadOutputError(self._bad_output_message(header))
        if kind == "forbidden":
            what = _one_line(header.get("message", "?"))
            return ForbiddenCodeError(f"synthesis program attempted a forbidden operation: {what}")
        if kind == "memory":
            return self._memory()
        # crash
        exc_type = _one_line(header.get("exc_type", "Exception"), 80)
        message = _one_line(header.get("message", ""))
        line = header.get("line")
        where = f" (line {line})" if type(line) is int else ""
        text = f"{exc_type}: {message}" if message else exc_type
        tb = str(header.get("traceback", ""))[: _child.MAX_TRACEBACK_CHARS + 100]
        return ProgramCrashError(f"synthesis program crashed: {text}{where}", tb)

    def _score(self, header: dict, payload: bytes) -> None:
        n, d = header["shape"]
        X = np.frombuffer(payload, dtype="<f8").reshape(n, d)
        if not np.isfinite(X).all():
            self._queue({"type": "score_error", "message": "NaN or infinite values in X"})
            return
        self.n_score_calls += 1
        if n == 0:
            scores = np.empty(0)
        else:
            try:
                scores = np.asarray(self.score_fn(X.copy()), dtype=np.float64).reshape(-1)
                if scores.shape != (n,):
                    raise ValueError(f"detector returned {scores.size} scores for {n} rows")
            except Exception as exc:  # reported to the program as a ValueError
                self._queue(
                    {
                        "type": "score_error",
                        "message": f"model.predict_score failed: {type(exc).__name__}: "
                        + _one_line(exc),
                    }
                )
                return
        self._queue({"type": "scores"}, np.ascontiguousarray(scores, dtype="<f8").data)

    # -- messages ----------------------------------------------------------

    def _shape_message(self, got) -> str:
        expected = _shape_str((self.n_samples, self.n_features))
        if isinstance(got, list) and all(type(s) is int for s in got):
            return f"synthesis program returned shape {_shape_str(got)}, expected {expected}"
        return f"synthesis program returned an array of unknown shape, expected {expected}"

    def _bad_output_message(self, header: dict) -> str:
        reason, got = header.get("reason"), header.get("got")
        expected = _shape_str((self.n_samples, self.n_features))
        if reason == "type":
            name = _one_line(got, 60)
            hint = " (missing return statement?)" if name == "NoneType" else ""
            return (
                f"synthesis program returned {name}{hint}, expected a numpy.ndarray of shape "
                f"{expected}"
            )
        if reason == "dtype":
            return (
                f"synthesis program returned an array of dtype {_one_line(got, 60)}, "
                "expected a real numeric dtype (float or int)"
            )
        return self._shape_message(got)

    def _timeout(self) -> ProgramTimeoutError:
        return ProgramTimeoutError(
            f"synthesis program timed out after {self.limits.timeout_s:g} s "
            "(limit: --program-timeout)"
        )

    def _memory(self) -> ProgramMemoryError:
        return ProgramMemoryError(
            f"synthesis program exceeded its {self.limits.memory_mb} MB memory limit"
        )

    def _died_without_answer(self, sel, log_r: int) -> ProgramError:
        """The result channel closed without a terminal frame: explain why."""
        self._finish_log(sel, log_r, time.monotonic() + _LOG_GRACE_S)
        try:
            code = self.proc.wait(timeout=max(0.0, self.deadline - time.monotonic()) + 0.1)
        except subprocess.TimeoutExpired:
            return self._timeout()
        tail = self.log.text()[-2000:]
        if code < 0:
            sig = -code
            if sig == signal.SIGXCPU:
                return ProgramTimeoutError(
                    f"synthesis program exceeded its CPU-time limit of "
                    f"{math.ceil(self.limits.effective_cpu_s)} s"
                )
            if sig == signal.SIGKILL:
                return ProgramMemoryError(
                    "synthesis program was killed (SIGKILL), most likely for exceeding its "
                    f"{self.limits.memory_mb} MB memory limit"
                )
            return ProgramCrashError(
                f"synthesis program was killed by signal {signal.Signals(sig).name}", tail
            )
        if "MemoryError" in tail:
            return self._memory()
        return ProgramCrashError(
            f"synthesis program process exited with status {code} without returning a result",
            tail,
        )


def _read(fd: int) -> bytes | None:
    """Non-blocking read: bytes, b'' at EOF, or None if nothing is available."""
    try:
        return os.read(fd, _READ_CHUNK)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _kill_group(proc) -> None:
    """SIGKILL the child's whole process group and reap the child."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


# ---------------------------------------------------------------------------
# Starting the child: fork server, or a fresh interpreter
# ---------------------------------------------------------------------------

#: Set to "0" to start every child as a fresh interpreter (slower, no long-lived helper process).
FORK_SERVER_ENV = "LLMDAS_SANDBOX_FORK_SERVER"
#: How long to wait for the fork server's answer (the first one includes importing numpy).
_FORK_SERVER_TIMEOUT_S = 60.0


def _spawn_child(cmd_r: int, res_w: int, log_w: int):
    """Start a child that runs one program on these pipe ends (its stdout/stderr go to ``log_w``).

    By default the child is forked from the fork server (see
    :func:`llmdas._sandbox_child.serve_forks`): a clean interpreter with numpy
    already imported, so starting a child costs milliseconds instead of the
    0.1-0.3 s of a new interpreter. If the fork server cannot be used, or
    ``LLMDAS_SANDBOX_FORK_SERVER=0``, the child is a fresh interpreter.
    Either way the child has its own process group, the environment
    ``_CHILD_ENV``, ``cwd=/`` and closed stdin, and runs only this program.
    """
    if os.environ.get(FORK_SERVER_ENV, "1") != "0":
        try:
            return _ForkServer.shared().spawn(cmd_r, res_w, log_w)
        except _ForkServerLost:
            _ForkServer.discard()
            raise
        # Could not start it or reach it: a fresh interpreter now, a new server next time.
        except OSError:
            _ForkServer.discard()
    return _start_interpreter([str(cmd_r), str(res_w)], (cmd_r, res_w), output=log_w)


def _start_interpreter(args: list[str], pass_fds: tuple[int, ...], output) -> subprocess.Popen:
    """Run ``_sandbox_child.py ARGS`` in a new interpreter: own session, ``_CHILD_ENV``, ``cwd=/``,
    no stdin, stdout and stderr to ``output``, and no inherited descriptor but ``pass_fds``."""
    return subprocess.Popen(
        [sys.executable, "-s", "-B", _child.__file__, *args],
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        pass_fds=pass_fds,
        start_new_session=True,
        env=_CHILD_ENV,
        cwd="/",
    )


class _ForkServerLost(RuntimeError):
    """The fork server took a request but did not say which child it started."""


class _ForkedChild:
    """A child forked by the fork server, with the parts of ``subprocess.Popen`` we use.

    It is not our child, so its exit code comes from the fork server on a status pipe.
    """

    def __init__(self, pid: int, status_fd: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._status_fd = status_fd

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            poller = select.poll()  # not select.select: the fd may be above FD_SETSIZE
            poller.register(self._status_fd, select.POLLIN)
            if not poller.poll(None if timeout is None else max(0, int(timeout * 1000))):
                raise subprocess.TimeoutExpired(f"sandbox child {self.pid}", timeout)
            data = os.read(self._status_fd, 8)  # written at once by the server: never partial
            os.close(self._status_fd)
            # No status means the fork server died; it killed its children on the way out.
            self.returncode = struct.unpack(">q", data)[0] if len(data) == 8 else -signal.SIGKILL
        return self.returncode


class _ForkServer:
    """The per-process fork server: started on first use, stopped at exit."""

    _current: _ForkServer | None = None
    _lock = threading.Lock()

    @classmethod
    def shared(cls) -> _ForkServer:
        with cls._lock:
            server = cls._current
            # A forked copy of our process must not share the parent's socket.
            if server is None or server.owner != os.getpid() or server.proc.poll() is not None:
                server = cls._current = cls()
            return server

    @classmethod
    def discard(cls) -> None:
        with cls._lock:
            if cls._current is not None and cls._current.owner == os.getpid():
                cls._current.close()
            cls._current = None

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.proc = _start_interpreter(
                ["--fork-server", str(theirs.fileno())],
                (theirs.fileno(),),
                output=subprocess.DEVNULL,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.settimeout(_FORK_SERVER_TIMEOUT_S)
        self.sock = ours
        self.owner = os.getpid()
        self._request_lock = threading.Lock()
        atexit.register(self.close)

    def spawn(self, cmd_r: int, res_w: int, log_w: int) -> _ForkedChild:
        """Ask for a child on these pipe ends.

        Raises ``OSError`` if the request could not be sent (nothing was forked, so the caller
        may start a fresh interpreter on the same pipes) and :class:`_ForkServerLost` if the
        server took the request but gave no pid (a child may exist and hold the pipes: the
        caller must give up on them; closing our ends makes such a child exit).
        """
        status_r, status_w = os.pipe()
        try:
            with self._request_lock:
                socket.send_fds(self.sock, [b"fork"], [cmd_r, res_w, log_w, status_w])
                answer = b""
                try:
                    while len(answer) < 8:
                        chunk = self.sock.recv(8 - len(answer))
                        if not chunk:
                            raise ConnectionResetError("connection closed")
                        answer += chunk
                except OSError as exc:
                    raise _ForkServerLost(
                        f"the sandbox fork server did not answer ({exc}); set "
                        f"{FORK_SERVER_ENV}=0 to start each program in a fresh interpreter"
                    ) from exc
        except BaseException:
            os.close(status_r)
            raise
        finally:
            os.close(status_w)
        return _ForkedChild(struct.unpack(">q", answer)[0], status_r)

    def close(self) -> None:
        """Stop the server (closing its socket makes it exit, killing children still running)."""
        if self.owner != os.getpid():
            return
        self.sock.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
