"""Static check of a synthesis program's source: the first layer of the sandbox.

:func:`check_source` parses the source and rejects imports outside :data:`ALLOWED_IMPORTS`,
forbidden builtins, dunder and private attributes, numpy's file and foreign-code functions, and
a missing or malformed ``generate_hard_anomalies``. The child enforces the same lists again at run
time (:mod:`llmdas.sandbox._child`).
"""

from __future__ import annotations

import ast
import functools
import warnings

from llmdas.program import ENTRY_POINT
from llmdas.sandbox import _child
from llmdas.sandbox.errors import ForbiddenCodeError, ProgramSyntaxError

__all__ = ["ALLOWED_IMPORTS", "check_source"]


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
    first of several layers (see :mod:`llmdas.sandbox`).
    """
    if not isinstance(source, str):
        raise ProgramSyntaxError(f"synthesis program must be a str, got {type(source).__name__}")
    _check_str(source)


# A built-in program is checked on every fit (6 ms for one of 150 lines); the check depends on the
# source alone, so sources that passed are remembered. A failing source raises and is not cached.
@functools.lru_cache(maxsize=64)
def _check_str(source: str) -> None:
    if len(source.encode("utf-8", "replace")) > MAX_SOURCE_BYTES:
        raise ForbiddenCodeError(
            f"synthesis program is too large ({len(source)} characters, limit {MAX_SOURCE_BYTES})"
        )
    try:
        # The program's SyntaxWarnings ("is" with a literal, ...) belong to its run, not here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename="<program>")
            # Some errors only the compiler finds ('return' outside a function, a misplaced
            # 'nonlocal'); compiling runs nothing, and finds them before any run does.
            compile(tree, "<program>", "exec", dont_inherit=True)
    except SyntaxError as exc:  # a NUL byte's SyntaxError has no line number
        where = f" at line {exc.lineno}" if exc.lineno else ""
        raise ProgramSyntaxError(
            f"synthesis program has a syntax error{where}: {exc.msg}"
        ) from None
    except ValueError as exc:  # a NUL byte, on Python 3.10
        raise ProgramSyntaxError(f"synthesis program could not be parsed: {exc}") from None
    except (RecursionError, MemoryError):  # how the parser gives up on very deep nesting
        raise ProgramSyntaxError(
            "synthesis program could not be parsed: it nests too deeply for Python's parser"
        ) from None

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
