"""The top-level package: its public names, for Python and for type checkers, and a cheap import."""

import ast
import subprocess
import sys
from pathlib import Path

import llmdas


def test_every_public_name_resolves():
    for name in llmdas.__all__:
        assert getattr(llmdas, name) is not None, name
    assert set(llmdas.__all__) <= set(dir(llmdas))


def test_type_checkers_see_the_same_public_names():
    tree = ast.parse(Path(llmdas.__file__).read_text())
    guarded = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    )
    imported = {
        alias.name
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == set(llmdas.__all__)


def test_importing_llmdas_loads_no_heavy_dependency():
    code = "import sys, llmdas; print(sorted({'numpy', 'sklearn', 'pyod', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_python_m_llmdas_runs_the_command_line():
    out = subprocess.run(
        [sys.executable, "-m", "llmdas", "programs", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "Usage: llmdas programs" in out.stdout  # the command's own name, not __main__.py
