"""Starting a sandbox child: forked from the per-process fork server, or a fresh interpreter.

Either way the child has its own process group, the empty environment :data:`CHILD_ENV`,
``cwd=/`` and closed stdin, and runs the script :mod:`llmdas.sandbox._child` for one program.
"""

from __future__ import annotations

import atexit
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading

from llmdas.sandbox import _child

#: Environment of the child: nothing inherited from ours (no secrets, no
#: PYTHONPATH); single-threaded BLAS so thread stacks don't eat RLIMIT_AS.
CHILD_ENV = {
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

#: Set to "0" to start every child as a fresh interpreter (slower, no long-lived helper process).
FORK_SERVER_ENV = "LLMDAS_SANDBOX_FORK_SERVER"
#: How long to wait for the fork server's answer (the first one includes importing numpy).
_FORK_SERVER_TIMEOUT_S = 60.0


def spawn_child(cmd_r: int, res_w: int, log_w: int):
    """Start a child that runs one program on these pipe ends (its stdout/stderr go to ``log_w``).

    By default the child is forked from the fork server (see
    :func:`llmdas.sandbox._child.serve_forks`): a clean interpreter with numpy
    already imported, so starting a child costs milliseconds instead of the
    0.1-0.3 s of a new interpreter. If the fork server cannot be used, or
    ``LLMDAS_SANDBOX_FORK_SERVER=0``, the child is a fresh interpreter.
    Either way the child has its own process group, the environment
    ``CHILD_ENV``, ``cwd=/`` and closed stdin, and runs only this program.
    """
    if os.environ.get(FORK_SERVER_ENV, "1") != "0":
        try:
            return ForkServer.shared().spawn(cmd_r, res_w, log_w)
        except ForkServerLost:
            ForkServer.discard()
            raise
        # Could not start it or reach it: a fresh interpreter now, a new server next time.
        except OSError:
            ForkServer.discard()
    return start_interpreter([str(cmd_r), str(res_w)], (cmd_r, res_w), output=log_w)


def start_interpreter(args: list[str], pass_fds: tuple[int, ...], output) -> subprocess.Popen:
    """Run ``sandbox/_child.py ARGS`` in a new interpreter: own session, ``CHILD_ENV``, ``cwd=/``,
    no stdin, stdout and stderr to ``output``, and no inherited descriptor but ``pass_fds``."""
    return subprocess.Popen(
        [sys.executable, "-s", "-B", _child.__file__, *args],
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        pass_fds=pass_fds,
        start_new_session=True,
        env=CHILD_ENV,
        cwd="/",
    )


class ForkServerLost(RuntimeError):
    """The fork server took a request but did not say which child it started."""


class ForkedChild:
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
                raise subprocess.TimeoutExpired(f"sandbox child {self.pid}", timeout or 0.0)
            data = os.read(self._status_fd, 8)  # written at once by the server: never partial
            os.close(self._status_fd)
            # No status means the fork server died; it killed its children on the way out.
            self.returncode = struct.unpack(">q", data)[0] if len(data) == 8 else -signal.SIGKILL
        return self.returncode


class ForkServer:
    """The per-process fork server: started on first use, stopped at exit."""

    _current: ForkServer | None = None
    _lock = threading.Lock()

    @classmethod
    def shared(cls) -> ForkServer:
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
            self.proc = start_interpreter(
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

    def spawn(self, cmd_r: int, res_w: int, log_w: int) -> ForkedChild:
        """Ask for a child on these pipe ends.

        Raises ``OSError`` if the request could not be sent (nothing was forked, so the caller
        may start a fresh interpreter on the same pipes) and :class:`ForkServerLost` if the
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
                    raise ForkServerLost(
                        f"the sandbox fork server did not answer ({exc}); set "
                        f"{FORK_SERVER_ENV}=0 to start each program in a fresh interpreter"
                    ) from exc
        except BaseException:
            os.close(status_r)
            raise
        finally:
            os.close(status_w)
        return ForkedChild(struct.unpack(">q", answer)[0], status_r)

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
