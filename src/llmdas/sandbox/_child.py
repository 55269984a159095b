"""Child side of the synthesis-program sandbox (see :mod:`llmdas.sandbox`).

This file is executed as a *script* by a fresh interpreter, either to run one
program or as the fork server that forks one child per program
(:func:`serve_forks`)::

    python -s .../llmdas/sandbox/_child.py CMD_FD RES_FD
    python -s .../llmdas/sandbox/_child.py --fork-server SOCKET_FD

It is deliberately self-contained: it imports only the standard library and
numpy, never ``llmdas`` (whose ``__init__`` may pull in sklearn/pyod), so the
child starts fast and has a small attack surface.

The parent (:mod:`llmdas.sandbox`) also imports this module, but only for the
wire-protocol helpers at the top (``encode_frame``, ``HEADER_LEN``, ...).
Importing it has no side effects.

Wire protocol
-------------
Each message ("frame") is::

    4 bytes   big-endian length L of the JSON header
    L bytes   UTF-8 JSON object, always with keys "type" (str) and "nbytes" (int)
    nbytes    raw payload (C-order array bytes; dtype/shape are in the header)

Nothing is ever pickled, in either direction. Frames travel on two dedicated
pipes (CMD_FD: parent -> child, RES_FD: child -> parent); the program's
stdout/stderr are separate pipes that the parent drains with a byte cap.

Child lifecycle
---------------
:func:`run_one`; a child forked by the fork server has step 2 done already.

1. Set resource limits that do not disturb imports (core, file size, nproc).
2. Import numpy (+ the few stdlib modules programs may import) eagerly, so no
   imports are needed later while the audit hook is active.
3. Receive the ``init`` frame (program source, X_train, seed, limits).
4. Compile the program, set RLIMIT_AS / RLIMIT_CPU, seed numpy, install the
   audit hook, then run the program's module body and
   ``generate_hard_anomalies(n_samples, model, X_train)``.
5. Send exactly one terminal frame (``result``, ``bad_output``, ``crash``,
   ``forbidden`` or ``memory``) and ``os._exit``.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import sys
import types  # loaded at start-up anyway (contextlib imports it)

# ---------------------------------------------------------------------------
# Wire protocol (shared with the parent)
# ---------------------------------------------------------------------------

HEADER_LEN = struct.Struct(">I")
#: Largest JSON header either side accepts. Headers hold only small metadata
#: (and, for the init frame, the program source, capped by the parent).
MAX_HEADER_BYTES = 8 * 1024 * 1024
#: Largest array (in cells) of one scoring request; the child splits a larger array that the
#: program passes to ``model.predict_score`` into batches of rows.
MAX_SCORE_CELLS = 10_000_000
#: Program-supplied text (exception messages, tracebacks) is cut to this size.
MAX_MESSAGE_CHARS = 500
MAX_TRACEBACK_CHARS = 8_000


def encode_frame(header: dict, payload: bytes | memoryview = b"") -> list:
    """Return the pieces (header bytes, payload) of one frame, ready to write."""
    payload = memoryview(payload).cast("B")
    header = dict(header, nbytes=payload.nbytes)
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(raw) > MAX_HEADER_BYTES:
        raise ValueError("frame header too large")
    return [HEADER_LEN.pack(len(raw)) + raw, payload]


def _read_exact(fd: int, n: int) -> bytearray:
    """Blocking read of exactly ``n`` bytes (child side only)."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if k == 0:
            raise EOFError("sandbox parent closed the channel")
        got += k
    return buf


def _recv_frame(fd: int) -> tuple[dict, bytearray]:
    (length,) = HEADER_LEN.unpack(_read_exact(fd, HEADER_LEN.size))
    if length > MAX_HEADER_BYTES:
        raise EOFError("oversized frame header from parent")
    header = json.loads(_read_exact(fd, length).decode("utf-8"))
    return header, _read_exact(fd, int(header["nbytes"]))


def _send_frame(fd: int, header: dict, payload: bytes | memoryview = b"") -> None:
    for piece in encode_frame(header, payload):
        view = memoryview(piece).cast("B")
        while view.nbytes:
            view = view[os.write(fd, view) :]


def _one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------
# Policy tables
# ---------------------------------------------------------------------------

#: Top-level modules a program may import (kept in sync with
#: ``llmdas.sandbox.ALLOWED_IMPORTS``, which documents the choice).
ALLOWED_IMPORTS = frozenset(
    {
        "numpy",
        "math",
        "typing",
        "functools",
        "itertools",
        "collections",
        "dataclasses",
        "heapq",
        "bisect",
        "statistics",
        "__future__",
    }
)

#: numpy submodules that are file/foreign-code escape hatches.
DENIED_NUMPY_MODULES = (
    "numpy.ctypeslib",
    "numpy.f2py",
    "numpy.distutils",
    "numpy.testing",
    "numpy.lib.format",
)

#: Modules that may never be *loaded* while the program runs, whoever asks.
DENIED_MODULE_ROOTS = frozenset(
    {
        "subprocess",
        "socket",
        "_socket",
        "ssl",
        "ctypes",
        "_ctypes",
        "multiprocessing",
        "_posixsubprocess",
        "pty",
        "shutil",
        "tempfile",
        "mmap",
        "pickle",
        "_pickle",
        "marshal",
        "asyncio",
        "select",
        "selectors",
        "urllib",
        "http",
        "ftplib",
        "smtplib",
        "webbrowser",
        "sqlite3",
        "gc",
        "inspect",
        "signal",
        "code",
        "codeop",
        "runpy",
        "pdb",
        "faulthandler",
        "resource",
    }
)

#: Audit events that are denied at all times once the hook is installed
#: (matched as exact names or, when ending in ".", as prefixes).
ALWAYS_DENIED_EVENTS = (
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "os.kill",
    "os.killpg",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.chflags",
    "os.lchflags",
    "os.link",
    "os.symlink",
    "os.truncate",
    "os.utime",
    "os.chdir",
    "os.putenv",
    "os.unsetenv",
    "os.setxattr",
    "os.removexattr",
    "os.listxattr",
    "os.getxattr",
    "os.startfile",
    "os.add_dll_directory",
    "subprocess.",
    "socket.",
    "ctypes.",
    "shutil.",
    "pty.",
    "mmap.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "webbrowser.",
    "sqlite3.",
    "glob.",
    "tempfile.",
    "pickle.",
    "resource.",
    "signal.",
    "_thread.",
    "sys.addaudithook",
    "sys.setprofile",
    "sys.settrace",
    "sys._current_frames",
    "sys._current_exceptions",
    "builtins.input",
    "builtins.breakpoint",
    "cpython.",
    "fcntl.",
    "syslog.",
    "gc.",
)

#: Introspection / dynamic-code events: denied when the innermost Python frame
#: is program code (numpy and the stdlib legitimately use them internally).
PROGRAM_DENIED_EVENTS = (
    "compile",
    "exec",
    "sys._getframe",
    "object.__getattr__",
    "object.__setattr__",
    "object.__delattr__",
    "function.__new__",
    "code.__new__",
    # importlib uses these when numpy lazily imports one of its submodules
    "marshal.",
    "os.listdir",
    "os.scandir",
)

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class SandboxViolation(PermissionError):
    """Raised inside the child by the audit hook when an operation is denied."""


def _matches(event: str, patterns: tuple[str, ...]) -> bool:
    return any(event == p or (p.endswith(".") and event.startswith(p)) for p in patterns)


# ---------------------------------------------------------------------------
# The audit hook
# ---------------------------------------------------------------------------


def _make_audit_hook(read_roots: tuple[str, ...], program_file: str, violations: list):
    """Build the audit hook (a closure: the program cannot reach its state).

    ``violations`` collects a description of every denied event, so that a
    program that catches the exception and carries on is still reported.
    """
    in_hook = [False]  # re-entrancy guard: our own frame walking emits events

    def innermost_is_program() -> bool:
        frame: types.FrameType | None = sys._getframe(2)  # skip the hook and its caller helper
        while frame is not None:
            name = frame.f_code.co_filename
            if not name.startswith("<frozen "):
                return name == program_file
            frame = frame.f_back
        return False

    def readable(path) -> bool:
        if not isinstance(path, str | bytes):
            return False  # open(fd) etc.
        real = os.path.realpath(os.fsdecode(path))
        return any(real == root or real.startswith(root + os.sep) for root in read_roots)

    def deny(what: str) -> None:
        violations.append(what)
        raise SandboxViolation(f"forbidden operation: {what}")

    def hook(event: str, args: tuple) -> None:
        if in_hook[0]:
            return
        in_hook[0] = True
        try:
            if event == "open":
                path, mode, flags = (tuple(args) + (None, None, None))[:3]
                writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                    isinstance(flags, int) and flags & _WRITE_FLAGS
                )
                if writing:
                    deny(f"open({path!r}) for writing")
                if not readable(path):
                    deny(f"open({path!r})")
            elif event == "import":
                name = str(args[0]) if args else ""
                root = name.split(".")[0]
                if root in DENIED_MODULE_ROOTS or any(
                    name == m or name.startswith(m + ".") for m in DENIED_NUMPY_MODULES
                ):
                    deny(f"import {name}")
                if root not in ALLOWED_IMPORTS and innermost_is_program():
                    deny(f"import {name}")
            elif _matches(event, ALWAYS_DENIED_EVENTS) or (
                _matches(event, PROGRAM_DENIED_EVENTS) and innermost_is_program()
            ):
                deny(event)
        finally:
            in_hook[0] = False

    return hook


# ---------------------------------------------------------------------------
# Program environment
# ---------------------------------------------------------------------------

#: Builtins replaced, in the program's namespace, by stubs that report a
#: violation (the static check already rejects them by name; this is the
#: second layer, for code that got past it).
_DENIED_BUILTINS = frozenset(
    {
        "exec",
        "eval",
        "compile",
        "open",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "input",
        "breakpoint",
        "memoryview",
        "help",
        "exit",
        "quit",
    }
)
_REMOVED_BUILTINS = frozenset({"copyright", "credits", "license", "__loader__", "__spec__"})


def _restricted_builtins(violations: list) -> dict:
    """The ``__builtins__`` of the program: no dangerous functions, guarded imports."""
    import builtins

    real_import = builtins.__import__

    def denied(name: str):
        def stub(*args, **kwargs):
            violations.append(f"{name}()")
            raise SandboxViolation(f"forbidden operation: {name}()")

        stub.__name__ = stub.__qualname__ = name
        return stub

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        root = name.split(".")[0]
        if (
            level != 0
            or root not in ALLOWED_IMPORTS
            or any(name == m or name.startswith(m + ".") for m in DENIED_NUMPY_MODULES)
        ):
            violations.append(f"import {name}")
            raise SandboxViolation(f"forbidden operation: import {name}")
        return real_import(name, globals, locals, fromlist, level)

    table = {k: v for k, v in vars(builtins).items() if k not in _REMOVED_BUILTINS}
    table.update({name: denied(name) for name in _DENIED_BUILTINS})
    table["__import__"] = guarded_import
    return table


def _make_model(rpc):
    """The ``model`` object handed to the program: only ``predict_score``."""

    class Model:
        """Proxy to the fitted detector, which lives in the parent process."""

        __slots__ = ()

        def predict_score(self, X):
            """Anomaly scores (higher = more anomalous) for the rows of ``X``."""
            return rpc(X)

        def __repr__(self):
            return "<sandboxed detector: use model.predict_score(X)>"

    return Model()


def _seed_numpy(np, seed: int) -> None:
    """Make numpy's global and default_rng() randomness depend on ``seed`` only.

    ``np.random.seed(seed)`` covers the legacy ``np.random.*`` functions.
    ``np.random.default_rng()`` *without* a seed would normally draw OS
    entropy; it is replaced by a wrapper that derives the k-th unseeded
    generator from ``SeedSequence(seed)``, so repeated unseeded calls give
    different but reproducible streams. Calls with an explicit seed are
    unchanged.
    """
    np.random.seed(seed % 2**32)
    original = np.random.default_rng
    sequence = np.random.SeedSequence(seed)

    def default_rng(seed=None):
        if seed is None:
            seed = sequence.spawn(1)[0]
        return original(seed)

    default_rng.__doc__ = original.__doc__
    np.random.default_rng = default_rng


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def _set_early_limits() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    # No new processes/threads (ignored for root; the audit hook covers that).
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def _set_run_limits(memory_mb: int, cpu_s: float) -> None:
    import math
    import resource

    mem = int(memory_mb) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = max(1, math.ceil(cpu_s))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _describe_output(np, result, n_samples: int, n_features: int):
    """Return (header, payload) describing the program's return value."""
    if type(result) is not np.ndarray:
        return {"type": "bad_output", "reason": "type", "got": type(result).__name__}, b""
    dt = result.dtype
    if dt.kind not in "iuf" or dt.fields is not None or dt.subdtype is not None:
        return {"type": "bad_output", "reason": "dtype", "got": str(dt)}, b""
    shape = [int(s) for s in result.shape]
    if shape != [n_samples, n_features]:
        return {"type": "bad_output", "reason": "shape", "got": shape}, b""
    if dt.itemsize > 8:  # longdouble: convert, numerically meaningful
        result = result.astype(np.float64)
    arr = np.ascontiguousarray(result)
    arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    return {"type": "result", "dtype": arr.dtype.str, "shape": shape}, arr.data


def _format_crash(exc: BaseException, program_file: str) -> dict:
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == program_file]
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    text = "Traceback (program frames only):\n" + "".join(traceback.format_list(frames)) + last
    if len(text) > MAX_TRACEBACK_CHARS:
        text = "...\n" + text[-MAX_TRACEBACK_CHARS:]
    return {
        "type": "crash",
        "exc_type": type(exc).__name__,
        "message": _one_line(str(exc)),
        "line": frames[-1].lineno if frames else None,
        "traceback": text,
    }


def _preload() -> None:
    """Import everything a program may need now, before any audit hook exists."""
    import bisect  # noqa: F401
    import collections  # noqa: F401
    import dataclasses  # noqa: F401
    import functools  # noqa: F401
    import heapq  # noqa: F401
    import itertools  # noqa: F401
    import linecache  # noqa: F401
    import math  # noqa: F401
    import statistics  # noqa: F401
    import traceback  # noqa: F401
    import typing  # noqa: F401

    import numpy  # noqa: F401
    import numpy.fft  # noqa: F401
    import numpy.linalg  # noqa: F401
    import numpy.ma  # noqa: F401 - imported on first use by np.percentile, np.median, np.quantile
    import numpy.random  # noqa: F401

    _disarm_process_spawning()


#: Modules that start processes or open connections. On Python 3.10 the preload above imports
#: some of them (numpy imports ``platform``, which there imports ``subprocess``).
_SPAWNING_MODULE_ROOTS = frozenset(
    {
        "subprocess",
        "_posixsubprocess",
        "multiprocessing",
        "pty",
        "socket",
        "_socket",
        "ssl",
        "select",
        "selectors",
        "asyncio",
    }
)


def _disarm_process_spawning() -> None:
    """Make the preloaded modules useless for starting processes or opening connections.

    They leave ``sys.modules``, so that a program asking for one by name has to import it, which
    the audit hook denies (the modules that imported them keep their own references). And
    ``_posixsubprocess.fork_exec``, which starts a process *without* an audit event, is replaced
    by a function that raises one (``subprocess.fork_exec``, denied like every ``subprocess.*``
    event), for a program that reaches the module through another module's attributes.
    """
    for name in [m for m in sys.modules if m.split(".")[0] in _SPAWNING_MODULE_ROOTS]:
        module = sys.modules.pop(name)
        if name in ("_posixsubprocess", "subprocess"):
            for attribute in ("fork_exec", "_fork_exec"):  # 3.11+ subprocess binds _fork_exec
                if hasattr(module, attribute):
                    setattr(module, attribute, _denied_fork_exec)


def _denied_fork_exec(*args, **kwargs):
    sys.audit("subprocess.fork_exec")
    raise PermissionError("forbidden operation: subprocess.fork_exec")


def main(argv: list[str]) -> None:
    if argv[1] == "--fork-server":
        serve_forks(int(argv[2]))
    else:
        run_one(int(argv[1]), int(argv[2]))


def serve_forks(sock_fd: int) -> None:
    """Fork server: preload once, then fork one fresh child per program.

    Starting an interpreter and importing numpy costs 0.1-0.3 s, which dwarfs a
    PCA fit; forking this clean, already-initialised process costs milliseconds.
    The server itself never runs program code and never sees data: each request
    on the Unix socket ``sock_fd`` carries the child's three pipe ends
    (command, result, log) plus a status pipe, and is answered with the child's
    pid. The child gets its own process group (so the parent can kill it and
    anything it started) and then runs exactly like a freshly spawned child
    (:func:`run_one`). When the child ends, the server reaps it and writes its
    exit code (negative: killed by that signal, as in ``subprocess``) to the
    status pipe. The server exits when the parent closes the socket, killing
    children that are still running.
    """
    _preload()
    # Modules a freshly spawned child would not have; the forked child forgets them, so that
    # the audit hook sees (and denies) a program importing them, exactly as in a fresh child.
    preloaded = frozenset(sys.modules)
    import selectors
    import signal
    import socket

    sock = socket.socket(fileno=sock_fd)
    wake_r, wake_w = os.pipe()
    for fd in (wake_r, wake_w):
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so SIGCHLD wakes the loop
    status_fds: dict[int, int] = {}
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is not sock:  # SIGCHLD arrived: just empty the wake-up pipe
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
                continue
            message, fds, _, _ = socket.recv_fds(sock, 16, 4)
            if not message or len(fds) != 4:  # the parent has gone: so must its children
                for pid in status_fds:
                    with contextlib.suppress(OSError):
                        os.killpg(pid, signal.SIGKILL)
                os._exit(0)
            cmd_r, res_w, log_w, status_w = fds
            pid = os.fork()
            if pid == 0:
                _run_forked_child(cmd_r, res_w, log_w, preloaded)
            # Also here, so the group exists before the parent learns the pid (the child may
            # have done it first, or already exited).
            with contextlib.suppress(OSError):
                os.setpgid(pid, pid)
            for fd in (cmd_r, res_w, log_w):
                os.close(fd)
            status_fds[pid] = status_w
            sock.sendall(struct.pack(">q", pid))
        _reap(status_fds)


def _run_forked_child(cmd_r: int, res_w: int, log_w: int, preloaded: frozenset[str]) -> None:
    """Run one program in a process just forked by :func:`serve_forks`, then exit (never returns).

    The forked process first sheds what the server holds (its signal set-up, the socket, other
    children's pipes, the modules a spawned child would not have), so that it runs exactly as a
    freshly spawned child would.
    """
    import signal

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setpgid(0, 0)
    os.dup2(log_w, 1)
    os.dup2(log_w, 2)
    # Keep only stdio and the two protocol pipes: no socket, no other child's pipes.
    low, high = sorted((cmd_r, res_w))
    os.closerange(3, low)
    os.closerange(low + 1, high)
    os.closerange(high + 1, 1 << 20)
    for name in set(sys.modules) - preloaded:
        del sys.modules[name]
    sys.argv = [sys.argv[0], str(cmd_r), str(res_w)]  # as a spawned child's
    try:
        run_one(cmd_r, res_w)
    finally:
        os._exit(70)


def _reap(status_fds: dict[int, int]) -> None:
    """Collect every finished child and write its exit code to its status pipe."""
    while status_fds:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        fd = status_fds.pop(pid, None)
        if fd is not None:
            with contextlib.suppress(OSError):  # the parent may have stopped waiting
                os.write(fd, struct.pack(">q", os.waitstatus_to_exitcode(status)))
            os.close(fd)


def run_one(cmd_fd: int, res_fd: int) -> None:
    """Receive one program and its data on ``cmd_fd``, run it, answer on ``res_fd``, exit."""
    _set_early_limits()
    _preload()  # in a forked child only a pass over sys.modules: the fork server did the rest
    import linecache

    import numpy as np

    header, payload = _recv_frame(cmd_fd)
    source: str = header["source"]
    n_samples, n_features = int(header["n_samples"]), int(header["n_features"])
    X_train = np.frombuffer(payload, dtype="<f8").reshape(header["shape"])  # writable

    program_file = "<program>"
    linecache.cache[program_file] = (len(source), None, source.splitlines(True), program_file)
    try:
        code = compile(source, program_file, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # only reachable if the static check was skipped
        _send_frame(res_fd, _format_crash(exc, program_file))
        os._exit(0)

    score_rpc = _score_rpc(np, cmd_fd, res_fd, n_features)
    violations: list[str] = []
    # A real (registered) module, so that dataclasses & co. can find it.
    module = type(sys)("__program__")
    module.__dict__["__builtins__"] = _restricted_builtins(violations)
    sys.modules[module.__name__] = module
    namespace = module.__dict__
    _set_run_limits(header["memory_mb"], header["cpu_s"])
    _seed_numpy(np, int(header["seed"]))
    sys.addaudithook(_make_audit_hook(_read_roots(np), program_file, violations))

    # ---- untrusted code runs from here on ----
    try:
        exec(code, namespace)
        result = namespace["generate_hard_anomalies"](n_samples, _make_model(score_rpc), X_train)
        if violations:
            reply = {"type": "forbidden", "message": violations[0]}, b""
        else:
            reply = _describe_output(np, result, n_samples, n_features)
    except BaseException as exc:  # noqa: BLE001 - everything is reported to the parent
        if violations or isinstance(exc, SandboxViolation):
            what = violations[0] if violations else str(exc)
            reply = {"type": "forbidden", "message": _one_line(what)}, b""
        elif isinstance(exc, MemoryError):
            reply = {"type": "memory"}, b""
        else:
            try:
                reply = _format_crash(exc, program_file), b""
            except BaseException:  # noqa: BLE001 - e.g. an exception whose str() fails
                reply = {"type": "crash", "exc_type": "Exception", "traceback": ""}, b""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 - a broken log pipe must not hide the result
        pass
    _send_frame(res_fd, *reply)
    os._exit(0)


def _score_rpc(np, cmd_fd: int, res_fd: int, n_features: int):
    """``model.predict_score`` of the program: checks its rows, then asks the parent to score
    them, in batches of at most MAX_SCORE_CELLS cells."""

    def score_rpc(X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(
                f"model.predict_score expects a 2-D array (n, {n_features}), got {X.ndim}-D"
            )
        if X.shape[1] != n_features:
            raise ValueError(
                f"model.predict_score expects {n_features} columns, got shape {X.shape}"
            )
        if not np.isfinite(X).all():
            raise ValueError("model.predict_score got NaN or infinite values")
        # Each request stays within MAX_SCORE_CELLS, so the parent's memory per request is
        # bounded; a larger array is scored in batches of rows, transparently to the program.
        batch_rows = MAX_SCORE_CELLS // max(1, n_features)
        if batch_rows == 0:
            raise ValueError(
                f"model.predict_score accepts at most {MAX_SCORE_CELLS} cells per request, "
                f"and one row has {n_features}"
            )
        scores = [score_batch(X[i : i + batch_rows]) for i in range(0, len(X), batch_rows)]
        return np.concatenate(scores) if scores else np.empty(0)

    def score_batch(X):
        X = np.ascontiguousarray(X)
        _send_frame(res_fd, {"type": "score", "shape": list(X.shape)}, X.data)
        reply, data = _recv_frame(cmd_fd)
        if reply["type"] == "scores":
            return np.frombuffer(data, dtype="<f8").copy()
        raise ValueError(_one_line(reply.get("message", "scoring failed")))

    return score_rpc


def _read_roots(np) -> tuple[str, ...]:
    """The folders the program may read files from: Python's and NumPy's installations."""
    folders = (
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        os.path.dirname(os.__file__),
        os.path.dirname(os.path.dirname(np.__file__)),
    )
    return tuple(sorted({os.path.realpath(p) for p in folders}))


if __name__ == "__main__":
    # Never let modules next to this file shadow the stdlib (script dir is
    # sys.path[0] when run as a script).
    if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
        del sys.path[0]
    main(sys.argv)
