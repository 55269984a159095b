"""Running one synthesis program: the parent's side of a sandboxed child process.

:func:`run_program` checks the source, starts a child (:mod:`llmdas.sandbox.fork_server`), sends
it the program and ``X_train``, answers its ``model.predict_score`` requests with the detector,
which never leaves this process, and turns the child's answer, death or silence into a validated
array or a :class:`~llmdas.sandbox.errors.ProgramError`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from llmdas._validation import check_seconds
from llmdas.sandbox import _child
from llmdas.sandbox.errors import (
    BadOutputError,
    ForbiddenCodeError,
    ProgramCrashError,
    ProgramError,
    ProgramMemoryError,
    ProgramTimeoutError,
    SandboxUnavailableError,
)
from llmdas.sandbox.fork_server import spawn_child
from llmdas.sandbox.static_check import check_source

__all__ = ["SandboxLimits", "SandboxResult", "run_program"]


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one program run.

    ``timeout_s`` is wall-clock time for the whole run, including the time the
    parent spends scoring ``model.predict_score`` requests. ``cpu_s`` is the
    child's RLIMIT_CPU; ``None`` means ``timeout_s + 1`` so that the wall
    clock normally fires first. ``memory_mb`` is the child's total address
    space, *including* the interpreter and numpy (roughly 150-300 MB).
    ``max_log_bytes`` is how much of the program's stdout/stderr is kept. ``timeout_setting``
    names where the caller's user sets ``timeout_s``, for the timeout error.
    """

    timeout_s: float = 120.0
    cpu_s: float | None = None
    memory_mb: int = 4096
    max_log_bytes: int = 64_000
    timeout_setting: str = (
        "EnhancedDetector's program_timeout, --program-timeout of llmdas enhance or benchmark"
    )

    def __post_init__(self) -> None:
        check_seconds(self.timeout_s, "timeout_s")
        if self.cpu_s is not None:
            check_seconds(self.cpu_s, "cpu_s")
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


#: dtypes the child may send as the result (all converted to float64 here).
_RESULT_DTYPES = frozenset(
    np.dtype(t).newbyteorder("<").str
    for t in ("f8", "f4", "f2", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1")
)
# What the sandbox is built on (fork, process groups, resource limits); checked before any run.
_POSIX = os.name == "posix"
_READ_CHUNK = 1 << 20
_LOG_GRACE_S = 2.0


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
    The same ``seed`` gives the same output (see "Determinism" in the
    docstring of :mod:`llmdas.sandbox`); ``None`` draws a random one.

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
    if not _POSIX:
        raise SandboxUnavailableError(
            f"synthesis programs run in a sandbox built on POSIX processes (fork, process groups, "
            f"resource limits), which this system ({sys.platform}) does not have; run llmdas on "
            "Linux (on Windows: in WSL 2)"
        )
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
        self.score_s = 0.0  # seconds this process spent in score_fn, for the timeout message
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
            proc = spawn_child(cmd_r, res_w, log_w)
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
                        if chunk is None:  # a spurious wake-up: nothing to read yet
                            continue
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
            started = time.monotonic()
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
            finally:
                self.score_s += time.monotonic() - started
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
        # Most of the time may have gone to the detector scoring the program's rows, not to the
        # program: on large, wide data a slow detector needs a longer limit, not another program.
        scoring = ""
        if self.score_s >= 0.1 * self.limits.timeout_s:
            scoring = (
                f", {self.score_s:.0f} s of it in the detector scoring "
                f"{self.n_score_calls} model.predict_score call(s)"
            )
        return ProgramTimeoutError(
            f"synthesis program timed out after {self.limits.timeout_s:g} s{scoring} (the time "
            f"limit is {self.limits.timeout_setting})"
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
