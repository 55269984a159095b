"""Tests of llmdas.sandbox: static check, normal runs, output validation, errors.

Hostile programs (escapes, resource exhaustion) are in test_sandbox_hostile.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from llmdas.sandbox import (
    ALLOWED_IMPORTS,
    BadOutputError,
    ForbiddenCodeError,
    ProgramCrashError,
    ProgramError,
    ProgramSyntaxError,
    SandboxLimits,
    SandboxResult,
    SandboxUnavailableError,
    _child,
    check_source,
    fork_server,
    run_program,
)

X_TRAIN = np.random.default_rng(0).normal(size=(60, 4))
FAST = SandboxLimits(timeout_s=20, memory_mb=1024)


def program(body: str) -> str:
    """Dedent a program source written inline in a test."""
    return textwrap.dedent(body).strip() + "\n"


def run(source: str, n: int = 8, score_fn=None, **kwargs) -> SandboxResult:
    kwargs.setdefault("limits", FAST)
    return run_program(source, score_fn or (lambda X: X.sum(axis=1)), X_TRAIN, n, **kwargs)


def returning(expr: str) -> str:
    """A program whose function body is ``return <expr>``."""
    return program(
        f"""
        import numpy as np
        def generate_hard_anomalies(n_samples, model, X_train):
            return {expr}
        """
    )


# A program in the style of the built-in ones: statistics, SVD, RNG, scoring.
BUILTIN_STYLE = program(
    '''
    """Push samples along the low-variance directions until they look anomalous."""
    from __future__ import annotations

    import math
    from collections import namedtuple
    from dataclasses import dataclass

    import numpy as np
    from numpy.linalg import svd

    Step = namedtuple("Step", "scale score")


    @dataclass
    class Config:
        quantile: float = 90.0
        n_steps: int = 3


    class Pusher:
        def __init__(self, directions):
            self.directions = directions

        def __call__(self, X, scale):
            return X + scale * self.directions[-1]


    def _center(X: np.ndarray) -> np.ndarray:
        return X - X.mean(axis=0)


    def generate_hard_anomalies(n_samples: int, model, X_train: np.ndarray) -> np.ndarray:
        cfg = Config()
        rng = np.random.default_rng()
        _, s, vt = np.linalg.svd(_center(X_train), full_matrices=False)
        _ = svd(X_train[:10])
        threshold = np.percentile(model.predict_score(X_train), cfg.quantile)
        base = X_train[rng.integers(0, len(X_train), size=n_samples)]
        push = Pusher(vt)
        steps = []
        for k in range(cfg.n_steps):
            scale = math.sqrt(k + 1) * float(s[-1])
            X = push(base, scale)
            steps.append(Step(scale, float(model.predict_score(X).mean())))
        print(f"threshold={threshold:.3f} steps={len(steps)}")
        return X


    if __name__ == "__main__":
        print("not executed in the sandbox")
    '''
)


# ---------------------------------------------------------------------------
# Static check
# ---------------------------------------------------------------------------


def test_builtin_style_program_passes_static_check_and_runs():
    check_source(BUILTIN_STYLE)
    res = run(BUILTIN_STYLE, n=12, seed=3)
    assert res.X.shape == (12, 4)
    assert res.n_score_calls == 4  # one on X_train + three pushes
    assert "threshold=" in res.log
    assert "not executed" not in res.log


def test_a_system_without_posix_processes_is_refused_before_any_run(monkeypatch):
    from llmdas import EnhancedDetector
    from llmdas.sandbox import session

    monkeypatch.setattr(session, "_POSIX", False)
    spawned = []
    monkeypatch.setattr(session, "spawn_child", lambda *a, **k: spawned.append(a))
    with pytest.raises(SandboxUnavailableError, match=r"POSIX .*WSL 2"):
        run_program(BUILTIN_STYLE, lambda Z: Z.sum(axis=1), X_TRAIN, 5)
    # Not a ProgramError: falling back to the base detector would hide that nothing can run here.
    with pytest.raises(SandboxUnavailableError):
        EnhancedDetector("PCA", on_program_error="base").fit(X_TRAIN)
    assert not spawned


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("import os\n", "import 'os'"),
        ("import numpy.ctypeslib\n", "numpy.ctypeslib"),
        ("from numpy import load\n", "numpy.load"),
        ("from numpy import *\n", "import *"),
        ("from . import x\n", "relative import"),
        ("import numpy as np\nnp.load('x')\n", ".load"),
        ("import numpy as np\nnp.fromfile('x')\n", ".fromfile"),
        ("import numpy as np\nnp.zeros(2).tofile('x')\n", ".tofile"),
        ("import numpy as np\nnp.lib.format.write_array(1, 2)\n", ".lib.format"),
        ("import numpy as np\nnp.lib.stride_tricks.as_strided(1)\n", ".as_strided"),
        ("x = ().__class__\n", ".__class__"),
        ("x = __builtins__\n", "__builtins__"),
        ("__import__('os')\n", "__import__"),
        ("exec('1')\n", "'exec'"),
        ("eval('1')\n", "'eval'"),
        ("open('/etc/passwd')\n", "'open'"),
        ("getattr(1, 'real')\n", "'getattr'"),
        ("globals()\n", "'globals'"),
        ("x = 'a__b'\n", "'__'"),
        ("class A:\n    def __del__(self): pass\n", "__del__"),
        ("def f(g):\n    return g.gi_frame\n", "gi_frame"),
        ("def f(x):\n    match x:\n        case int(__class__=c): pass\n", "__class__"),
        ("def f(x):\n    match x:\n        case __x: pass\n", "name '__x'"),
        ("f = lambda __x: 1\n", "parameter name '__x'"),
        ("import numpy as __np\n", "import alias '__np'"),
        ("def f():\n    global __x\n", "name '__x'"),
        ("x = b'__class__'\n", "'__'"),
    ],
)
def test_static_check_rejects_forbidden_constructs(source, fragment):
    full = source + "\ndef generate_hard_anomalies(n_samples, model, X_train):\n    pass\n"
    with pytest.raises(ForbiddenCodeError) as info:
        check_source(full)
    msg = str(info.value)
    assert fragment in msg
    assert "line " in msg and "\n" not in msg


def test_forbidden_import_message_names_module_line_and_allowlist():
    src = "import numpy as np\n\nimport os\n"
    with pytest.raises(ForbiddenCodeError) as info:
        check_source(src)
    msg = str(info.value)
    assert msg.startswith("forbidden import 'os' at line 3 (allowed: ")
    assert all(m in msg for m in ALLOWED_IMPORTS)


@pytest.mark.parametrize(
    "source",
    [
        "def generate_hard_anomalies(n_samples, model, X_train)\n    pass\n",  # syntax
        "def generate(n_samples, model, X_train):\n    pass\n",  # missing
        "def generate_hard_anomalies(n_samples, model):\n    pass\n",  # arity
        "def generate_hard_anomalies(a, b, c, d):\n    pass\n",  # arity
        "def f():\n    def generate_hard_anomalies(a, b, c):\n        pass\n",  # not top level
        "async def generate_hard_anomalies(a, b, c):\n    pass\n",
    ],
)
def test_static_check_rejects_bad_entry_point(source):
    with pytest.raises(ProgramSyntaxError) as info:
        check_source(source)
    assert "\n" not in str(info.value)


def test_static_check_remembers_only_sources_that_passed():
    good = "def generate_hard_anomalies(n_samples, model, X_train):\n    return X_train\n"
    bad = "import os\n" + good
    for _ in range(2):  # the second call meets the cache
        check_source(good)
        with pytest.raises(ForbiddenCodeError, match="import 'os'"):
            check_source(bad)


def test_syntax_error_message_has_line():
    with pytest.raises(ProgramSyntaxError, match="syntax error at line 2"):
        check_source("x = 1\ny = (\n")
    # Errors that only the compiler finds are syntax errors too, found before any run.
    with pytest.raises(ProgramSyntaxError, match="syntax error at line 2: 'return' outside"):
        check_source("x = 1\nreturn x\n")
    with pytest.raises(ProgramSyntaxError, match="syntax error at line 3: no binding for nonlocal"):
        check_source("x = 1\ndef f():\n    nonlocal x\n")


def test_the_static_check_leaves_a_programs_syntax_warnings_to_its_run():
    source = (
        "def generate_hard_anomalies(n_samples, model, X_train):\n"
        "    pattern = '\\d'  # an invalid escape: a warning, not an error\n"
        "    if n_samples is 1:  # 'is' with a literal: the compiler warns\n"
        "        pass\n"
        "    return X_train\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither printed nor, under -W error, refused
        check_source(source)


@pytest.mark.parametrize(
    "source, pattern",
    [
        (b"x = 1\n", r"synthesis program must be a str, got bytes$"),
        ("#" * 1_000_001, r"synthesis program is too large \(1000001 characters, limit 1000000\)$"),
        # A SyntaxError without a line number (a ValueError on older Pythons).
        ("x = 1\0\n", r"synthesis program (has a syntax error|could not be parsed): source code"),
        ("x = " + "-" * 100_000 + "1\n", r"synthesis program could not be parsed: it nests too"),
    ],
)
def test_sources_the_parser_cannot_take_are_refused_with_a_reason(source, pattern):
    with pytest.raises(ProgramError) as info:
        check_source(source)
    assert re.match(pattern, str(info.value)), info.value


def test_entry_point_may_have_type_hints_and_extra_defaults():
    check_source(
        "import numpy as np\n"
        "def generate_hard_anomalies(n_samples: int, model, X_train: np.ndarray,"
        " scale: float = 1.0, **kw) -> np.ndarray:\n    return X_train\n"
    )


# ---------------------------------------------------------------------------
# Normal runs
# ---------------------------------------------------------------------------

RANDOM_PROGRAM = program(
    """
    import numpy as np
    def generate_hard_anomalies(n_samples, model, X_train):
        rng = np.random.default_rng()
        rng2 = np.random.default_rng()
        a = rng.normal(size=(n_samples, X_train.shape[1]))
        b = rng2.normal(size=(n_samples, X_train.shape[1]))
        c = np.random.normal(size=(n_samples, X_train.shape[1]))
        return a + 2 * b + 3 * c + X_train[:n_samples]
    """
)


def test_good_program_shape_dtype_and_contiguity():
    res = run(RANDOM_PROGRAM, n=7, seed=0)
    assert res.X.shape == (7, 4)
    assert res.X.dtype == np.float64 and res.X.flags.c_contiguous
    assert np.isfinite(res.X).all()
    assert res.elapsed_s > 0


def test_same_seed_reproduces_and_other_seed_differs():
    a = run(RANDOM_PROGRAM, seed=42).X
    b = run(RANDOM_PROGRAM, seed=42).X
    c = run(RANDOM_PROGRAM, seed=43).X
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_unseeded_default_rng_calls_give_different_streams():
    src = returning(
        "np.stack([np.random.default_rng().normal(size=X_train.shape[1]) "
        "for _ in range(n_samples)])"
    )
    X = run(src, n=3, seed=5).X
    assert not np.allclose(X[0], X[1])


def test_score_rpc_returns_scores_and_counts_calls():
    src = program(
        """
        import numpy as np
        def generate_hard_anomalies(n_samples, model, X_train):
            X = X_train[:n_samples].copy()
            s = model.predict_score(X)
            t = model.predict_score(X[:2])
            assert s.shape == (n_samples,) and t.shape == (2,)
            X[:, 0] = s
            return X
        """
    )
    res = run(src, n=5, score_fn=lambda X: 10.0 * X[:, 1] - X[:, 2])
    assert res.n_score_calls == 2
    expected = 10.0 * X_TRAIN[:5, 1] - X_TRAIN[:5, 2]
    np.testing.assert_allclose(res.X[:, 0], expected)
    np.testing.assert_allclose(res.X[:, 1:], X_TRAIN[:5, 1:])


def test_preload_covers_numpy_functions_that_import_on_first_use():
    # A module imported for the first time inside the child is read from disk under the audit
    # hook, in every program run (np.percentile's lazy import of numpy.ma cost 20-30 ms).
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import _child; _child._preload()\n"
        "import numpy as np; before = set(sys.modules); X = np.arange(40.0).reshape(8, 5)\n"
        "np.percentile(X, [25, 75], axis=0); np.median(X, 0); np.quantile(X, 0.5)\n"
        "np.nanmedian(X); np.unique(X); np.linalg.svd(X); np.random.default_rng(0).normal(size=3)\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(Path(_child.__file__).parent)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"


def test_large_score_request_is_split_into_bounded_batches():
    # Wide data, so that one call of the program exceeds the per-request cell limit.
    X_wide = np.random.default_rng(1).normal(size=(20, 2000))
    rows = _child.MAX_SCORE_CELLS // 2000 + 7
    src = program(
        f"""
        import numpy as np
        def generate_hard_anomalies(n_samples, model, X_train):
            big = np.tile(X_train, ({rows} // len(X_train) + 1, 1))[:{rows}]
            big = big + np.arange({rows})[:, None]
            s = model.predict_score(big)
            assert s.shape == ({rows},)
            return big[np.argsort(s)[-n_samples:]]
        """
    )
    batches = []

    def score_fn(X):
        batches.append(X.shape)
        return X.mean(axis=1)

    res = run_program(src, score_fn, X_wide, 3, limits=FAST)
    assert len(batches) == 2 and all(r * c <= _child.MAX_SCORE_CELLS for r, c in batches)
    assert sum(r for r, _ in batches) == rows
    # The last rows have the largest offsets: scores came back in row order.
    np.testing.assert_allclose(
        res.X[:, 0] - X_wide[(np.arange(rows - 3, rows)) % 20, 0],
        np.arange(rows - 3, rows),
        rtol=0,
        atol=1e-9,
    )


def test_x_train_is_a_writable_copy():
    src = program(
        """
        def generate_hard_anomalies(n_samples, model, X_train):
            X_train -= X_train.mean(axis=0)
            return X_train[:n_samples]
        """
    )
    before = X_TRAIN.copy()
    res = run(src, n=3)
    np.testing.assert_array_equal(X_TRAIN, before)
    np.testing.assert_allclose(res.X, (before - before.mean(axis=0))[:3])


@pytest.mark.parametrize(
    "call, message",
    [
        ("np.zeros(4)", "2-D"),
        ("np.zeros((3, 5))", "4 columns"),
        ("np.full((2, 4), np.nan)", "NaN"),
    ],
)
def test_invalid_score_requests_raise_valueerror_in_program(call, message):
    src = returning(f"model.predict_score({call})")
    with pytest.raises(ProgramCrashError) as info:
        run(src)
    assert "ValueError" in str(info.value) and message in str(info.value)


def test_score_fn_failure_is_reported_to_program():
    def broken(X):
        raise RuntimeError("detector not fitted")

    with pytest.raises(ProgramCrashError, match="detector not fitted"):
        run(returning("model.predict_score(X_train)"), score_fn=broken)


def test_integer_output_is_accepted_and_converted():
    res = run(returning("np.ones((n_samples, X_train.shape[1]), dtype=np.int32)"), n=4)
    assert res.X.dtype == np.float64 and (res.X == 1).all()


def test_program_output_is_captured():
    src = program(
        """
        import sys
        def generate_hard_anomalies(n_samples, model, X_train):
            print("hello from the program")
            return X_train[:n_samples]
        """
    )
    # 'sys' is not allowed: this also checks the static check runs first.
    with pytest.raises(ForbiddenCodeError):
        run(src)
    res = run(src.replace("import sys\n", ""))
    assert "hello from the program" in res.log


# ---------------------------------------------------------------------------
# Output validation and crashes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, fragment",
    [
        ("np.full((n_samples, X_train.shape[1]), np.nan)", "non-finite"),
        ("np.full((n_samples, X_train.shape[1]), np.inf)", "non-finite"),
        ("X_train[:3, :3]", "returned shape (3, 3), expected (8, 4)"),
        ("X_train[:n_samples].ravel()", "returned shape (32,), expected (8, 4)"),
        ("X_train[:n_samples].tolist()", "returned list"),
        ("'not an array'", "returned str"),
        ("None", "returned NoneType (missing return statement?)"),
        ("np.empty((n_samples, X_train.shape[1]), dtype=object)", "dtype object"),
        ("np.ones((n_samples, X_train.shape[1]), dtype=bool)", "dtype bool"),
        ("np.ones((n_samples, X_train.shape[1]), dtype=complex)", "dtype complex128"),
        ("np.ma.masked_array(X_train[:n_samples])", "returned MaskedArray"),
    ],
)
def test_bad_output_is_rejected(expr, fragment):
    with pytest.raises(BadOutputError) as info:
        run(returning(expr))
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_crash_reports_exception_line_and_program_traceback():
    src = program(
        """
        import numpy as np

        def helper(x):
            raise ValueError(f"bad value {x}")

        def generate_hard_anomalies(n_samples, model, X_train):
            return helper(3)
        """
    )
    with pytest.raises(ProgramCrashError) as info:
        run(src)
    err = info.value
    assert str(err) == "synthesis program crashed: ValueError: bad value 3 (line 4)"
    assert '<program>", line 4, in helper' in err.traceback
    assert 'raise ValueError(f"bad value {x}")' in err.traceback
    assert '<program>", line 7, in generate_hard_anomalies' in err.traceback
    assert "_child.py" not in err.traceback  # our frames are trimmed


def test_crash_with_huge_unicode_message_stays_one_bounded_line():
    src = returning("(_ for _ in ()).throw(KeyError('\\u2603\\x00\\n' * 100000))")
    with pytest.raises(ProgramCrashError) as info:
        run(src)
    msg = str(info.value)
    assert msg.startswith("synthesis program crashed: KeyError: ")
    assert "\n" not in msg and len(msg) < 400


def test_crash_log_is_attached_to_the_error():
    src = program(
        """
        def generate_hard_anomalies(n_samples, model, X_train):
            print("about to fail")
            return 1 / 0
        """
    )
    with pytest.raises(ProgramCrashError, match="ZeroDivisionError: division by zero") as info:
        run(src)
    assert "about to fail" in info.value.log


def test_crash_inside_numpy_points_to_program_line():
    src = returning("np.linalg.inv(np.zeros((3, 3)))")
    with pytest.raises(ProgramCrashError, match=r"LinAlgError: Singular matrix \(line 3\)"):
        run(src)


def test_all_errors_are_program_errors_with_one_line_messages():
    for cls in (BadOutputError, ForbiddenCodeError, ProgramCrashError, ProgramSyntaxError):
        assert issubclass(cls, ProgramError)


def test_invalid_arguments_are_rejected_by_caller_checks():
    with pytest.raises(ValueError):
        run_program(RANDOM_PROGRAM, lambda X: X[:, 0], X_TRAIN[0], 5)
    with pytest.raises(ValueError):
        run_program(RANDOM_PROGRAM, lambda X: X[:, 0], X_TRAIN, 0)
    # inf and nan would never time out; nan also passes no > 0 test that could say so.
    for seconds in (0, -1, float("inf"), float("nan"), "10", True):
        with pytest.raises(ValueError, match="timeout_s must be a finite number of seconds > 0"):
            SandboxLimits(timeout_s=seconds)
        with pytest.raises(ValueError, match="cpu_s must be a finite number of seconds > 0"):
            SandboxLimits(cpu_s=seconds)
    with pytest.raises(ValueError, match="memory_mb must be >= 64, got 10"):
        SandboxLimits(memory_mb=10)
    with pytest.raises(ValueError, match="max_log_bytes must be >= 0, got -1"):
        SandboxLimits(max_log_bytes=-1)
    for seed in (-1, True, 1.5):
        with pytest.raises(ValueError, match="seed must be a non-negative int or None"):
            run_program(RANDOM_PROGRAM, lambda X: X[:, 0], X_TRAIN, 5, seed=seed)


# ---------------------------------------------------------------------------
# The programs shipped with llmdas must pass the sandbox
# ---------------------------------------------------------------------------

_PROGRAMS_DIR = Path(__file__).parents[1] / "src" / "llmdas" / "programs"
SHIPPED = sorted(p for p in _PROGRAMS_DIR.glob("*/*.py") if p.name != "__init__.py")


@pytest.mark.skipif(not SHIPPED, reason="no shipped programs in this checkout")
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_program_passes_static_check(path):
    check_source(path.read_text())


@pytest.mark.slow
@pytest.mark.skipif(not SHIPPED, reason="no shipped programs in this checkout")
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_program_runs_reproducibly(path):
    source = path.read_text()
    a = run(source, n=20, seed=11, score_fn=lambda X: np.linalg.norm(X, axis=1))
    b = run(source, n=20, seed=11, score_fn=lambda X: np.linalg.norm(X, axis=1))
    assert a.X.shape == (20, 4)
    np.testing.assert_array_equal(a.X, b.X)


# ---------------------------------------------------------------------------
# Fork server (the hostile suite runs every attack with and without it)
# ---------------------------------------------------------------------------


FORK_CHECKED = [p for p in SHIPPED if p.stem in ("pca", "iforest", "ecod")] + [None]


@pytest.mark.parametrize("path", FORK_CHECKED, ids=lambda p: p.stem if p else "builtin-style")
def test_fork_server_and_fresh_interpreter_give_identical_output(path, monkeypatch):
    source = path.read_text() if path else BUILTIN_STYLE
    outputs = {}
    for mode in ("1", "0"):
        monkeypatch.setenv(fork_server.FORK_SERVER_ENV, mode)
        res = run(source, n=20, seed=5, score_fn=lambda X: np.linalg.norm(X, axis=1))
        outputs[mode] = (res.X, res.log, res.n_score_calls)
    np.testing.assert_array_equal(outputs["1"][0], outputs["0"][0])
    assert outputs["1"][1:] == outputs["0"][1:]


def test_dead_fork_server_is_replaced():
    run(returning("X_train[:n_samples]"))
    first = fork_server.ForkServer.shared()
    first.proc.kill()
    first.proc.wait()
    res = run(returning("X_train[:n_samples] + 1"))
    np.testing.assert_array_equal(res.X, X_TRAIN[:8] + 1)
    assert fork_server.ForkServer.shared() is not first


def test_unusable_fork_server_falls_back_to_a_fresh_interpreter(monkeypatch):
    def cannot_start(self):
        raise OSError("no fork server today")

    fork_server.ForkServer.discard()
    monkeypatch.setattr(fork_server.ForkServer, "__init__", cannot_start)
    res = run(returning("X_train[:n_samples] * 2"))
    np.testing.assert_array_equal(res.X, X_TRAIN[:8] * 2)
    assert fork_server.ForkServer._current is None


def test_fork_server_that_stops_answering_gives_a_clear_error(monkeypatch):
    fork_server.ForkServer.discard()
    monkeypatch.setattr(fork_server, "_FORK_SERVER_TIMEOUT_S", 0.5)
    server = fork_server.ForkServer.shared()
    run(returning("X_train[:n_samples]"))  # it works ...
    os.kill(server.proc.pid, signal.SIGSTOP)  # ... until it hangs
    with pytest.raises(
        RuntimeError, match="fork server did not answer.*LLMDAS_SANDBOX_FORK_SERVER=0"
    ):
        run(returning("X_train[:n_samples]"))
    assert server.proc.poll() is not None  # the hung server was killed
    monkeypatch.undo()
    np.testing.assert_array_equal(run(returning("X_train[:n_samples]")).X, X_TRAIN[:8])


def test_closing_the_fork_server_kills_running_children():
    server = fork_server.ForkServer()
    cmd_r, cmd_w = os.pipe()
    res_r, res_w = os.pipe()
    child = server.spawn(cmd_r, res_w, res_w)  # waits for its init frame forever
    for fd in (cmd_r, res_w):
        os.close(fd)
    server.close()
    assert server.proc.returncode == 0
    assert child.wait(timeout=10) == -signal.SIGKILL
    for fd in (cmd_w, res_r):
        os.close(fd)


def test_fixed_overhead_is_small():
    """Spawn + 8 MB X_train + trivial program: ~0.3 s here; 1 s is the target."""
    X_big = np.random.default_rng(0).normal(size=(10_000, 100))
    src = returning("X_train[:n_samples]")
    run_program(src, lambda X: X[:, 0], X_big, 10, seed=0)  # warm the OS caches
    res = run_program(src, lambda X: X[:, 0], X_big, 10, seed=0)
    np.testing.assert_array_equal(res.X, X_big[:10])
    assert res.elapsed_s < 3.0  # generous: the CI machine may be busy


def test_default_cpu_limit_follows_timeout():
    assert SandboxLimits(timeout_s=10).effective_cpu_s == 11
    assert SandboxLimits(timeout_s=10, cpu_s=3).effective_cpu_s == 3
