"""The benchmark's result store: one SQLite row per cell, written as groups finish.

A *cell* is one (dataset, detector, method, seed) evaluation under one configuration; its key is
``(dataset, detector, method, seed, config_hash)`` and a UNIQUE constraint makes a second copy of a
cell impossible. Only the parent process writes (one transaction per finished group), in WAL mode,
so a run that is killed loses at most the groups still in flight, and a rerun computes exactly the
cells whose key is missing.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llmdas._validation import require_file

__all__ = [
    "CELL_COLUMNS",
    "KEY_COLUMNS",
    "ResultStore",
    "cell_key",
    "pooled_cells",
    "this_process",
]

#: Columns that identify a cell.
KEY_COLUMNS = ("dataset", "detector", "method", "seed", "config_hash")


def cell_key(cell: dict[str, Any]) -> tuple:
    """``(dataset, detector, method, seed)``: a cell whatever configuration computed it."""
    return (cell["dataset"], cell["detector"], cell["method"], cell["seed"])


#: Every column of the ``cells`` table, in order, with its SQL type.
CELL_COLUMNS: dict[str, str] = {
    "dataset": "TEXT NOT NULL",
    "detector": "TEXT NOT NULL",
    "method": "TEXT NOT NULL",
    "seed": "INTEGER NOT NULL",
    "config_hash": "TEXT NOT NULL",
    "split": "TEXT",
    "program_name": "TEXT",
    "program_sha256": "TEXT",
    "n_train": "INTEGER",
    "n_test": "INTEGER",
    "n_features": "INTEGER",
    "n_synthetic": "INTEGER",
    "base_pr": "REAL",
    "base_roc": "REAL",
    "enh_pr": "REAL",
    "enh_roc": "REAL",
    "t_base_fit": "REAL",  # seconds to fit the base detector (shared by the cells of a group)
    "t_base_score": "REAL",  # seconds to score training and test rows with the base detector
    "t_synthesis": "REAL",
    "t_classifier_fit": "REAL",
    "t_scoring": "REAL",  # seconds for the enhanced decision_function on the test rows
    "t_cell": "REAL",  # wall seconds of this cell's own work (fit + scoring, base excluded)
    "base_shared": "INTEGER",  # 1 if the base fit was paid by another cell of the group
    "versions": "TEXT",  # JSON: llmdas, numpy, sklearn, pyod, scipy, python
    "error": "TEXT",
    "traceback": "TEXT",
    "worker": "TEXT",  # host:pid that computed the cell
    "run_id": "INTEGER",
    "created_at": "REAL",
}

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS cells (
    {", ".join(f"{name} {sqltype}" for name, sqltype in CELL_COLUMNS.items())},
    UNIQUE ({", ".join(KEY_COLUMNS)})
);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    finished_at REAL,
    wall_s REAL,
    command TEXT,
    config TEXT,
    n_planned INTEGER,
    n_missing INTEGER,
    n_done INTEGER DEFAULT 0,
    n_errors INTEGER DEFAULT 0,
    status TEXT,
    runner TEXT
);
"""


def this_process() -> str:
    """``host:pid`` of this process, as a cell's ``worker`` and a run's ``runner`` record it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _running_since(pid: int, moment: float) -> bool:
    """Whether process ``pid`` is running and started by ``moment`` (seconds since the epoch).

    A run records its start after its process has started, so a process of the run's number that
    started later is another one that reuses the number (psutil reads when it started).
    """
    import psutil

    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:  # gone
        return False
    except psutil.AccessDenied:  # it exists; when it started cannot be read here
        return True
    # Start times count from a boot time in whole seconds: a margin keeps the run's own process
    # from looking younger than the run.
    return started <= moment + 2.0


class ResultStore:
    """A SQLite file of benchmark cells (see the module docstring).

    >>> with ResultStore("results.db") as store:  # doctest: +SKIP
    ...     store.insert_cells(rows)

    ``read_only=True`` opens an existing store without writing to it (not even the schema).
    Either way a file that is not a result store is refused with ``ValueError`` and left as it is.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = Path(path)
        if read_only:
            # For the commands that only read (summary, report, perf overhead): a store that is not
            # there is an error, and nothing, not even an empty schema, is written.
            require_file(self.path, "result store")
            if os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK):
                # query_only refuses every write; unlike mode=ro, the connection still removes
                # the -wal and -shm files on close, which a read-only one leaves behind.
                self._conn = sqlite3.connect(str(self.path), timeout=60.0)
                self._conn.execute("PRAGMA query_only = ON")
            else:  # e.g. a store on a read-only file system
                self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        else:
            if self.path.exists():  # a new store is created; an existing path must be a file
                require_file(self.path, "result store")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._conn = sqlite3.connect(str(self.path), timeout=60.0)
            except sqlite3.OperationalError as exc:  # e.g. a folder where nothing can be made
                raise ValueError(f"cannot create the result store {self.path}: {exc}") from None
        self._conn.row_factory = sqlite3.Row
        try:
            tables = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:  # "file is not a database"
            self._conn.close()
            raise ValueError(f"{self.path} is not a result store (an SQLite file): {exc}") from None
        foreign = bool(tables) and "cells" not in tables  # another program's database
        if foreign or (read_only and not tables):
            self._conn.close()
            what = "an SQLite database of something else" if foreign else "empty"
            raise ValueError(f"{self.path} is {what}, not a result store (no 'cells' table)")
        if not read_only:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            run_columns = {row[1] for row in self._conn.execute("PRAGMA table_info(runs)")}
            if "runner" not in run_columns:  # a store written before runs recorded their process
                self._conn.execute("ALTER TABLE runs ADD COLUMN runner TEXT")
            self._conn.commit()

    # ------------------------------------------------------------------------ context manager
    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._conn
        except BaseException:
            self._conn.rollback()
            raise
        else:
            self._conn.commit()

    # ----------------------------------------------------------------------------------- cells
    def existing_keys(self, *, with_errors: bool = True) -> set[tuple[str, str, str, int, str]]:
        """Keys of every stored cell; ``with_errors=False`` leaves out those that failed."""
        where = "" if with_errors else " WHERE error IS NULL"
        cur = self._conn.execute(f"SELECT {', '.join(KEY_COLUMNS)} FROM cells{where}")
        return {tuple(row) for row in cur.fetchall()}

    def insert_cells(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert finished cells in one transaction; return how many were new.

        A cell whose key is already stored is left as it is (a concurrent or repeated run computed
        it first); nothing is ever duplicated.
        """
        names = list(CELL_COLUMNS)
        sql = (
            f"INSERT OR IGNORE INTO cells ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)})"
        )
        values = []
        for row in rows:
            row = dict(row)
            row.setdefault("created_at", time.time())
            if isinstance(row.get("versions"), dict):
                row["versions"] = json.dumps(row["versions"], sort_keys=True)
            values.append(tuple(row.get(name) for name in names))
        with self._transaction() as conn:
            before = conn.total_changes
            conn.executemany(sql, values)
            return conn.total_changes - before

    def cells(self, *, errors: bool | None = None, latest: bool = False) -> list[dict[str, Any]]:
        """Stored cells as dicts.

        Parameters
        ----------
        errors : bool, optional
            ``True``: only cells with an error; ``False``: only cells without; ``None``: all.
        latest : bool
            Keep one row per (dataset, detector, method, seed): the most recently written one
            (a store can hold several configurations of the same cell).
        """
        where = ""
        if errors is True:
            where = "WHERE error IS NOT NULL"
        elif errors is False:
            where = "WHERE error IS NULL"
        cur = self._conn.execute(f"SELECT * FROM cells {where} ORDER BY created_at, rowid")
        rows = [dict(row) for row in cur.fetchall()]
        if latest:
            newest: dict[tuple, dict[str, Any]] = {}
            for row in rows:  # ascending time: later rows replace earlier ones
                newest[cell_key(row)] = row
            rows = list(newest.values())
        return rows

    def count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0])

    def delete_errors(self) -> int:
        """Remove the cells that ended in an error, so that the next run retries them."""
        with self._transaction() as conn:
            return conn.execute("DELETE FROM cells WHERE error IS NOT NULL").rowcount

    # ------------------------------------------------------------------------------------ runs
    def start_run(self, *, command: str, config: dict[str, Any], n_planned: int, n_missing: int):
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO runs (started_at, command, config, n_planned, n_missing, status, "
                "runner) VALUES (?, ?, ?, ?, ?, 'running', ?)",
                (
                    time.time(),
                    command,
                    json.dumps(config, sort_keys=True),
                    n_planned,
                    n_missing,
                    this_process(),
                ),
            )
            assert cur.lastrowid is not None  # set by every INSERT
            return cur.lastrowid

    def progress_run(self, run_id: int, *, n_done: int, n_errors: int) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET n_done = ?, n_errors = ? WHERE run_id = ?",
                (n_done, n_errors, run_id),
            )

    def finish_run(self, run_id: int, *, status: str = "finished") -> None:
        now = time.time()
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished_at = ?, wall_s = ? - started_at, status = ? "
                "WHERE run_id = ?",
                (now, now, status, run_id),
            )

    def runs(self) -> list[dict[str, Any]]:
        cur = self._conn.execute("SELECT * FROM runs ORDER BY run_id")
        return [dict(row) for row in cur.fetchall()]

    def live_runs(self) -> list[dict[str, Any]]:
        """The runs marked running whose process may still be at work: on this machine, those
        whose process is alive; on another, every one (its process cannot be checked from here).
        A run killed without a chance to mark itself (``kill -9``, a lost machine) stays marked
        running; on this machine it is told apart by its process being gone, or by a process of
        that number that started after the run did."""
        host, me = socket.gethostname(), this_process()
        live = []
        for run in self.runs():
            runner = run.get("runner")  # None in runs from before it was recorded
            if run["status"] != "running" or not runner or runner == me:
                continue
            where, _, pid = runner.rpartition(":")
            if where != host or (pid.isdigit() and _running_since(int(pid), run["started_at"])):
                live.append(run)
        return live


def pooled_cells(paths: Sequence[str | Path]) -> tuple[list[dict[str, Any]], int]:
    """The newest row of each cell in several stores, pooled, and how many older rows they hold.

    Pooling is for stores that split one grid between them, e.g. one per set of seeds. A cell
    that two stores both hold is refused, as are cells of one dataset, detector and method that
    two stores ran under different configurations (code, defaults, data or split): their mean
    would mix two methods under one name.
    """
    pooled: list[dict[str, Any]] = []
    superseded = 0
    holder: dict[tuple, Path] = {}  # (dataset, detector, method, seed) -> its store
    configuration: dict[tuple, tuple[str, Path]] = {}  # (dataset, detector, method) -> first seen
    named: set[Path] = set()
    for path in map(Path, paths):
        if path.resolve() in named:
            raise ValueError(f"result store {path} is named twice")
        named.add(path.resolve())
        with ResultStore(path, read_only=True) as store:
            cells = store.cells(latest=True)
            superseded += store.count() - len(cells)
        for cell in cells:
            key = cell_key(cell)
            group = f"{key[0]}/{key[1]}/{key[2]}"
            if key in holder:
                raise ValueError(
                    f"{holder[key]} and {path} both hold {group}/seed {key[3]}; pool stores of "
                    "different seeds or datasets"
                )
            holder[key] = path
            first_hash, first_path = configuration.setdefault(key[:3], (cell["config_hash"], path))
            if first_path != path and first_hash != cell["config_hash"]:
                raise ValueError(
                    f"{first_path} and {path} ran {group} under different configurations (code, "
                    "defaults, data or split); pool only stores run alike"
                )
        pooled.extend(cells)
    return pooled, superseded
