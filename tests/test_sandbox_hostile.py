"""Hostile synthesis programs must fail *contained*.

Each test checks the exception class, and that our process is intact: files
we own are unchanged, and no child process is left behind (an autouse
fixture scans /proc for children of this process, and of the sandbox's fork
server, after every test). Every test runs twice: with children forked by the
fork server (the default) and with freshly spawned interpreters.

Most attacks are run twice: once through :func:`run_program` (the static
check must reject them) and once through ``_run_unchecked``, which skips the
static check so that the runtime layers - restricted builtins, audit hook,
resource limits, protocol validation - are tested on their own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from llmdas.sandbox import (
    BadOutputError,
    ForbiddenCodeError,
    ProgramCrashError,
    ProgramMemoryError,
    ProgramTimeoutError,
    SandboxLimits,
    fork_server,
    run_program,
)
from llmdas.sandbox.session import _run_unchecked

X_TRAIN = np.random.default_rng(1).normal(size=(40, 3))
LIMITS = SandboxLimits(timeout_s=20, memory_mb=1024)
# Reaches the real ``os`` module with the classic object-graph walk (every
# Python has ``os._wrap_close``); only possible once the static check is
# skipped.
OS = (
    "[c for c in ().__class__.__bases__[0].__subclasses__() if c.__name__ == '_wrap_close']"
    "[0].__init__.__globals__['sys'].modules['os']"
)


def _children_of(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, ...
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent:
            found.append(int(entry))
    return found


def _sandbox_processes() -> set[int]:
    """Our child processes, with the fork server (which stays) replaced by its children."""
    server = fork_server.ForkServer._current
    server_pid = server.proc.pid if server is not None and server.proc.poll() is None else None
    found = set(_children_of(os.getpid())) - {server_pid}
    return found | set(_children_of(server_pid)) if server_pid else found


@pytest.fixture(autouse=True, params=["fork-server", "fresh-interpreter"])
def child_start(request, monkeypatch):
    monkeypatch.setenv(
        fork_server.FORK_SERVER_ENV, "0" if request.param == "fresh-interpreter" else "1"
    )
    return request.param


@pytest.fixture(autouse=True)
def no_leftover_processes(child_start):
    before = _sandbox_processes()
    yield
    leftover = _sandbox_processes() - before
    for pid in leftover:  # clean up so that one failure does not cascade
        os.kill(pid, signal.SIGKILL)
    assert not leftover, f"sandbox left child processes behind: {leftover}"


@pytest.fixture
def victim(tmp_path):
    """A file of ours that no program may read, change or delete."""
    path = tmp_path / "victim.txt"
    path.write_text("precious\n")
    yield path
    assert path.read_text() == "precious\n"


def hostile(body: str) -> str:
    """A program whose function runs ``body`` and then returns valid output."""
    return (
        "import numpy as np\n\n"
        "def generate_hard_anomalies(n_samples, model, X_train):\n"
        + textwrap.indent(textwrap.dedent(body).strip(), "    ")
        + "\n    return X_train[:n_samples]\n"
    )


def run_checked(source: str, limits: SandboxLimits = LIMITS):
    return run_program(source, lambda X: X.sum(axis=1), X_TRAIN, 5, seed=0, limits=limits)


def run_unchecked(source: str, limits: SandboxLimits = LIMITS):
    return _run_unchecked(source, lambda X: X.sum(axis=1), X_TRAIN, 5, seed=0, limits=limits)


# ---------------------------------------------------------------------------
# The classic attacks, in plain form: both layers must stop them
# ---------------------------------------------------------------------------

PLAIN_ATTACKS = {
    "fork": "import os\nos.fork()",
    "fork_bomb": "import os\nwhile True:\n    os.fork()",
    "os_system": "import os\nos.system('touch {victim}.new')",
    "subprocess": "import subprocess\nsubprocess.run(['true'])",
    "socket": "import socket\nsocket.socket()",
    "write_file": "open('{victim}', 'w').write('pwned')",
    "read_passwd": "print(open('/etc/passwd').read())",
    "read_tmp": "print(open('{victim}').read())",
    "dunder_import": "__import__('os').remove('{victim}')",
    "builtins_import": "__builtins__['__import__']('os').remove('{victim}')",
    "importlib": "import importlib\nimportlib.import_module('os')",
    "getattr_ctypeslib": "getattr(np, 'ctypeslib')",
    "subclasses": (
        "[c for c in ().__class__.__bases__[0].__subclasses__()"
        " if c.__name__ == '_wrap_close'][0].__init__.__globals__['system']('touch {victim}.new')"
    ),
    "np_load": "np.load('{victim}')",
    "np_fromfile": "np.fromfile('{victim}')",
    "tofile": "X_train.tofile('{victim}')",
    "exec": "exec('import os')",
    "eval": "eval('1 + 1')",
}


@pytest.mark.parametrize("name", sorted(PLAIN_ATTACKS))
def test_static_check_rejects_plain_attack(name, victim):
    source = hostile(PLAIN_ATTACKS[name].format(victim=victim))
    with pytest.raises(ForbiddenCodeError):
        run_checked(source)


@pytest.mark.parametrize("name", sorted(PLAIN_ATTACKS))
def test_runtime_layer_stops_plain_attack(name, victim):
    source = hostile(PLAIN_ATTACKS[name].format(victim=victim))
    with pytest.raises(ForbiddenCodeError) as info:
        run_unchecked(source)
    assert str(info.value).startswith("synthesis program attempted a forbidden operation: ")
    assert not os.path.exists(f"{victim}.new")


# ---------------------------------------------------------------------------
# Runtime layer against code that already holds dangerous objects
# ---------------------------------------------------------------------------

REAL_OBJECT_ATTACKS = {
    "fork": f"{OS}.fork()",
    "fork_loop": f"while True:\n    {OS}.fork()",
    "posix_spawn": f"{OS}.posix_spawn('/bin/true', ['/bin/true'], dict())",
    "execv": f"{OS}.execv('/bin/true', ['/bin/true'])",
    "os_system": f"{OS}.system('touch {{victim}}.new')",
    "kill_parent": f"{OS}.kill({OS}.getppid(), 9)",
    "remove": f"{OS}.remove('{{victim}}')",
    "rename": f"{OS}.rename('{{victim}}', '{{victim}}.new')",
    "os_open_write": f"{OS}.open('{{victim}}', {OS}.O_WRONLY | {OS}.O_TRUNC)",
    "os_open_read": f"{OS}.open('/etc/passwd', {OS}.O_RDONLY)",
    "listdir": f"{OS}.listdir('/')",
    "savetxt": "np.savetxt('{victim}', X_train)",
    "loadtxt_passwd": "np.loadtxt('/etc/passwd', dtype=str, delimiter=':')",
    "import_subprocess": f"{OS}.sys.modules['importlib'].import_module('subprocess')",
    "import_socket": f"{OS}.sys.modules['importlib'].import_module('socket')",
    "ctypes_dlopen": f"{OS}.sys.modules['ctypes'].CDLL(None)",
    "ctypes_memory": f"{OS}.sys.modules['ctypes'].string_at(0)",
    "real_exec": f"{OS}.sys.modules['builtins'].exec('x = 1')",
    "getframe": f"{OS}.sys._getframe().f_back",
    "set_trace": f"{OS}.sys.settrace(None)",
    "swallowed": f"try:\n    {OS}.system('true')\nexcept BaseException:\n    pass",
}


@pytest.mark.parametrize("name", sorted(REAL_OBJECT_ATTACKS))
def test_audit_hook_denies(name, victim):
    source = hostile(REAL_OBJECT_ATTACKS[name].format(victim=victim))
    with pytest.raises(ForbiddenCodeError):
        run_checked(source)
    with pytest.raises(ForbiddenCodeError):
        run_unchecked(source)
    assert not os.path.exists(f"{victim}.new")


def test_preloaded_spawning_modules_are_disarmed():
    # On Python 3.10 numpy's preload imports subprocess (through platform), and
    # _posixsubprocess.fork_exec starts a process without an audit event. In a fresh interpreter,
    # as in a sandbox child: after the preload's disarming, the modules are gone from
    # sys.modules and a process start that still holds them raises a (denied) audit event.
    code = textwrap.dedent(
        """
        import subprocess, sys
        from llmdas.sandbox import _child

        _child._disarm_process_spawning()
        print(sorted({"subprocess", "_posixsubprocess", "selectors"} & set(sys.modules)))
        sys.addaudithook(lambda event, args: event == "subprocess.fork_exec" and print(event))
        try:
            subprocess.run(["true"])
        except PermissionError as exc:
            print(exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "[]",
        "subprocess.fork_exec",
        "forbidden operation: subprocess.fork_exec",
    ]


def test_environment_is_not_inherited(monkeypatch):
    monkeypatch.setenv("LLMDAS_TEST_SECRET", "hunter2")
    source = hostile(
        f"X_train[:] = len({OS}.environ.get('LLMDAS_TEST_SECRET', ''))\n"
        f"assert {OS}.environ.get('OPENBLAS_NUM_THREADS') == '1'"
    )
    res = run_unchecked(source)
    assert (res.X == 0).all()


# ---------------------------------------------------------------------------
# Resource exhaustion
# ---------------------------------------------------------------------------


def test_infinite_loop_times_out():
    source = hostile("while True:\n    pass")
    start = time.monotonic()
    with pytest.raises(ProgramTimeoutError) as info:
        run_checked(source, SandboxLimits(timeout_s=1.0))
    assert time.monotonic() - start < 5
    assert str(info.value) == (
        "synthesis program timed out after 1 s (the time limit is EnhancedDetector's "
        "program_timeout, --program-timeout of llmdas enhance or benchmark)"
    )


def test_a_timeout_spent_in_the_detector_says_so():
    # On large, wide data a slow detector, not the program, can use up the limit.
    def slow_detector(X):
        time.sleep(0.8)
        return X.sum(axis=1)

    source = hostile("for _ in range(10):\n    model.predict_score(X_train)")
    expected = (
        r"synthesis program timed out after 2 s, \d s of it in the detector scoring \d "
        r"model\.predict_score call\(s\) \(the time limit is"
    )
    with pytest.raises(ProgramTimeoutError, match=expected):
        run_program(source, slow_detector, X_TRAIN, 5, seed=0, limits=SandboxLimits(timeout_s=2.0))


def test_timeout_while_spamming_output_keeps_the_log():
    source = hostile("print('started')\nwhile True:\n    print('spam' * 1000)")
    with pytest.raises(ProgramTimeoutError) as info:
        run_checked(source, SandboxLimits(timeout_s=1.0, max_log_bytes=5000))
    assert info.value.log.startswith("started\nspamspam")
    assert "bytes of output dropped" in info.value.log


def test_cpu_limit():
    source = hostile("while True:\n    pass")
    with pytest.raises(ProgramTimeoutError, match="CPU-time limit of 1 s"):
        run_checked(source, SandboxLimits(timeout_s=20, cpu_s=1))


@pytest.mark.parametrize(
    "body",
    [
        "np.ones(10**11)",
        "x = []\nwhile True:\n    x.append(np.ones(10**6))",
        "x = []\nwhile True:\n    x.append([0.5] * 10**5)",
    ],
    ids=["huge_array", "growing_arrays", "growing_list"],
)
def test_memory_bomb(body):
    with pytest.raises(ProgramMemoryError, match="exceeded its 512 MB memory limit"):
        run_checked(hostile(body), SandboxLimits(timeout_s=30, memory_mb=512))


def test_printing_100_mb_is_truncated_not_buffered():
    source = hostile("line = 'x' * 10**6\nfor _ in range(100):\n    print(line)")
    res = run_checked(source, SandboxLimits(timeout_s=30, max_log_bytes=1000))
    assert res.X.shape == (5, 3)
    assert res.log.startswith("x" * 1000)
    assert len(res.log) < 1100
    assert "bytes of output dropped" in res.log


# ---------------------------------------------------------------------------
# Dying children and a tampered channel
# ---------------------------------------------------------------------------


def test_child_exit_without_answer():
    with pytest.raises(ProgramCrashError, match="exited with status 3 without returning"):
        run_unchecked(hostile(f"{OS}._exit(3)"))


def test_child_killed_by_signal():
    source = hostile(
        "np.lib.stride_tricks.as_strided(np.zeros(1), shape=(2,), strides=(2**44,))[1]"
    )
    with pytest.raises(ForbiddenCodeError):
        run_checked(source)
    with pytest.raises(ProgramCrashError, match="killed by signal SIGSEGV"):
        run_unchecked(source)


def test_system_exit_is_a_crash():
    with pytest.raises(ProgramCrashError, match="SystemExit: 4"):
        run_checked(hostile("raise SystemExit(4)"))


RES_FD = f"int({OS}.sys.argv[2])"


@pytest.mark.parametrize(
    "payload",
    [
        "b'\\xff' * 16",  # absurd header length
        "b'\\x00\\x00\\x00\\x02{{'",  # undecodable JSON
        "b'\\x00\\x00\\x00\\x02[]'",  # not an object
        # a score request claiming 10**9 rows
        "(lambda h: len(h).to_bytes(4, 'big') + h)"
        '(b\'{"type":"score","shape":[1000000000,3],"nbytes":24000000000}\')',
        '(lambda h: len(h).to_bytes(4, \'big\') + h)(b\'{"type":"pwn","nbytes":0}\')',
    ],
)
def test_garbage_on_the_result_channel(payload):
    source = hostile(f"{OS}.write({RES_FD}, {payload})\nwhile True:\n    pass")
    with pytest.raises(ProgramCrashError, match="broke the sandbox protocol"):
        run_unchecked(source, SandboxLimits(timeout_s=10))


def test_forged_result_with_wrong_shape_is_rejected_before_reading_payload():
    header = '{"type":"result","dtype":"<f8","shape":[1000000000,3],"nbytes":24000000000}'
    source = hostile(
        f"h = b'{header}'\n{OS}.write({RES_FD}, len(h).to_bytes(4, 'big') + h)\nwhile True:\n    pass"
    )
    with pytest.raises(
        BadOutputError, match=r"returned shape \(1000000000, 3\), expected \(5, 3\)"
    ):
        run_unchecked(source, SandboxLimits(timeout_s=10))


def test_closed_command_channel_does_not_hang_parent():
    source = hostile(f"{OS}.close(int({OS}.sys.argv[1]))\nmodel.predict_score(X_train)")
    with pytest.raises(ProgramCrashError):
        run_unchecked(source, SandboxLimits(timeout_s=10))
