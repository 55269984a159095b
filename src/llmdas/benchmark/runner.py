"""Computing benchmark groups, locally (serial or joblib/loky) or on a dask.distributed or Ray cluster.

:func:`run_group` is the worker function: it loads the dataset (once per worker process), fits the
base detector once for the group, and evaluates every method on it with
``EnhancedDetector(fitted, program=..., prefit=True, random_state=seed)``. It never raises: a failing
base fit or cell becomes an ``error`` in the returned rows.

:func:`execute` runs groups and yields each group's rows as soon as it is done, longest groups
first, so that the parent can commit them to the store one group at a time.
"""

from __future__ import annotations

import hashlib
import signal
import socket
import threading
import time
import traceback
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
from pyod.models.base import BaseDetector

from llmdas.benchmark.cells import DETERMINISTIC_DETECTORS, CellSpec, Group
from llmdas.benchmark.store import CELL_COLUMNS, this_process

__all__ = ["ScoreMemo", "execute", "library_versions", "run_group"]

_DATA_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def library_versions() -> dict[str, str]:
    import platform

    import pyod
    import scipy
    import sklearn

    import llmdas

    return {
        "llmdas": getattr(llmdas, "__version__", "?"),
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "pyod": pyod.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
    }


def _load(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Each dataset is read once per worker process."""
    if path not in _DATA_CACHE:
        from llmdas.data import load_dataset

        _DATA_CACHE[path] = load_dataset(path)
    return _DATA_CACHE[path]


def _split(path: str, split: str, seed: int):
    from llmdas.data import paper_split, random_split

    X, y = _load(path)
    if split == "paper":
        return paper_split(X, y)
    return random_split(X, y, seed=seed)


class ScoreMemo(BaseDetector):
    """A fitted detector whose ``decision_function`` remembers results for repeated inputs.

    Every method of a group scores the same training and test rows with the same fitted base
    detector (inside ``EnhancedDetector.fit``, in programs that call ``model.predict_score(X_train)``
    and for the test metrics). Scoring is deterministic, so repeating it only costs time - minutes
    for a one-class SVM on 20 000 rows. Arrays registered with :meth:`pin` (the training and test
    rows) are kept for the memo's lifetime; other inputs (a program's candidates) share a small
    least-recently-used cache, so that they cannot evict the pinned ones. Other attributes are
    those of the wrapped detector.
    """

    def __init__(self, detector: Any, size: int = 4):
        # BaseDetector.__init__ is not called on purpose: every fitted attribute (threshold_,
        # decision_scores_, ...) must come from the wrapped detector through __getattr__.
        self.detector = detector
        self.size = size
        self._pinned: dict[tuple, np.ndarray | None] = {}
        self._memo: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.hits = 0

    def __getattr__(self, name: str) -> Any:
        wrapped = self.__dict__.get("detector")
        if name.startswith("_") or wrapped is None:
            raise AttributeError(name)
        return getattr(wrapped, name)

    def fit(self, X, y=None):  # pragma: no cover - the memo wraps fitted detectors only
        raise TypeError("ScoreMemo wraps an already fitted detector")

    @staticmethod
    def _key(X: np.ndarray) -> tuple:
        digest = hashlib.blake2b(X.view(np.uint8).data, digest_size=16).digest()
        return (X.shape, X.dtype.str, digest)

    def pin(self, X, scores: np.ndarray | None = None) -> None:
        """Keep the scores of ``X`` for as long as the memo lives, once they are computed (or
        ``scores``, known to be the wrapped detector's scores of ``X``)."""
        key = self._key(np.ascontiguousarray(X))
        if scores is not None:
            self._pinned[key] = np.array(scores, dtype=np.float64)
        self._pinned.setdefault(key, None)

    def decision_function(self, X):
        X = np.ascontiguousarray(X)
        key = self._key(X)
        pinned = self._pinned.get(key)
        if pinned is not None:
            self.hits += 1
            return pinned.copy()
        if key in self._memo:
            self._memo.move_to_end(key)
            self.hits += 1
            return self._memo[key].copy()
        scores = np.asarray(self.detector.decision_function(X))
        if key in self._pinned:
            self._pinned[key] = scores.copy()
            return scores
        self._memo[key] = scores.copy()
        while len(self._memo) > self.size:
            self._memo.popitem(last=False)
        return scores


def _auc(y: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    return float(average_precision_score(y, scores)), float(roc_auc_score(y, scores))


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__


def _cell_identity(cell: CellSpec) -> dict[str, Any]:
    """The columns that say which cell a result row is for, besides the group's own."""
    program = cell.program
    return {
        "method": cell.method,
        "config_hash": cell.config_hash,
        "program_name": program.name if program else None,
        "program_sha256": program.sha256 if program else None,
    }


def run_group(group: Group) -> list[dict[str, Any]]:
    """Compute every cell of ``group``; return one row (dict of store columns) per cell."""
    if group.blas_threads:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(group.blas_threads):
            return _run_group(group)
    return _run_group(group)


class _BaseFit(NamedTuple):
    """A fitted base detector (its scores memoised), its test metrics and what they cost."""

    memo: ScoreMemo
    pr: float
    roc: float
    t_fit: float
    t_score: float


def _fit_base(detector_name: str, seed: int, X_train, X_test, y_test) -> _BaseFit:
    from llmdas.detectors import (
        fit_scores_are_plain,
        make_detector,
        score_detector,
        training_scores,
    )

    started = time.perf_counter()
    detector = make_detector(detector_name, random_state=seed)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        detector.fit(X_train)
    t_fit = time.perf_counter() - started
    memo = ScoreMemo(detector)
    started = time.perf_counter()
    memo.pin(X_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The training scores are a reference for non-finite test scores; programs and the
        # enhanced fit ask for them again, answered by the memo where they are plain scores.
        memo.pin(X_train)
        train_scores = training_scores(memo, X_train)
        if fit_scores_are_plain(detector):
            memo.pin(X_train, train_scores)
        test_scores = score_detector(memo, X_test, reference=train_scores)
    t_score = time.perf_counter() - started
    return _BaseFit(memo, *_auc(y_test, test_scores), t_fit, t_score)


def _enhanced_columns(
    cell: CellSpec, base: _BaseFit, seed: int, timeout: float | None, X_train, X_test, y_test
) -> dict[str, Any]:
    """The enhanced detector's columns of ``cell``'s row: metrics, timings, a failed program."""
    from llmdas.enhanced import EnhancedDetector

    model = EnhancedDetector(base.memo, program=cell.program, prefit=True, random_state=seed)
    if timeout is not None:
        model.set_params(program_timeout=timeout)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        model.fit(X_train)
        started = time.perf_counter()
        enhanced = model.decision_function(X_test)
        t_scoring = time.perf_counter() - started
    enh_pr, enh_roc = _auc(y_test, enhanced)
    columns: dict[str, Any] = {
        "enh_pr": enh_pr,
        "enh_roc": enh_roc,
        "t_scoring": t_scoring,
        "t_synthesis": model.timings_["synthesis"],
        "t_classifier_fit": model.timings_["classifier_fit"],
        "n_synthetic": None if model.synthetic_ is None else len(model.synthetic_),
    }
    if model.program_error_ is not None:
        columns["error"] = f"program failed: {_error_text(model.program_error_)}"
    return columns


def _run_group(group: Group) -> list[dict[str, Any]]:
    worker = this_process()
    versions = library_versions()
    rows: list[dict[str, Any]] = []
    base: _BaseFit | None = None
    # A deterministic detector under the paper split fits alike for every seed: fitted once.
    share_across_seeds = group.detector in DETERMINISTIC_DETECTORS and group.split == "paper"

    for seed in group.seeds:
        cells = [c for c in group.cells if c.seed == seed]
        base_row: dict[str, Any] = {
            "dataset": group.dataset,
            "detector": group.detector,
            "split": group.split,
            "seed": seed,
            "versions": versions,
            "worker": worker,
        }
        stage = "reading and splitting the data"  # what the error row says failed
        try:
            X_train, X_test, y_test = _split(group.path, group.split, seed)
            base_row.update(n_train=len(X_train), n_test=len(X_test), n_features=X_train.shape[1])
            stage = "base fit"
            paid = base is None or not share_across_seeds
            if paid:
                base = _fit_base(group.detector, seed, X_train, X_test, y_test)
        except Exception as exc:  # the whole seed fails: record it on every cell
            for cell in cells:
                rows.append(
                    {
                        **base_row,
                        **_cell_identity(cell),
                        "error": f"{stage} failed: {_error_text(exc)}",
                        "traceback": traceback.format_exc()[-4000:],
                        "created_at": time.time(),
                    }
                )
            continue
        assert base is not None  # fitted above, or for an earlier seed

        for cell in cells:
            row = {
                **base_row,
                **_cell_identity(cell),
                "base_pr": base.pr,
                "base_roc": base.roc,
                "t_base_fit": base.t_fit,
                "t_base_score": base.t_score,
                "base_shared": 0 if paid else 1,
            }
            paid = False  # later cells of this fit share it
            started = time.perf_counter()
            try:
                if cell.error is not None:  # found by the plan, e.g. a store without the program
                    row["error"] = cell.error
                elif cell.program is not None:
                    row.update(
                        _enhanced_columns(
                            cell, base, seed, group.program_timeout, X_train, X_test, y_test
                        )
                    )
            except Exception as exc:
                row["error"] = _error_text(exc)
                row["traceback"] = traceback.format_exc()[-4000:]
            row["t_cell"] = time.perf_counter() - started
            row["created_at"] = time.time()
            rows.append(row)
    return [{column: row.get(column) for column in CELL_COLUMNS} for row in rows]


def failed_rows(group: Group, error: str) -> list[dict[str, Any]]:
    """Rows that record ``error`` for every cell of ``group`` (whose worker never returned)."""
    now = time.time()
    return [
        {column: None for column in CELL_COLUMNS}
        | {
            "dataset": group.dataset,
            "detector": group.detector,
            "split": group.split,
            "seed": cell.seed,
            **_cell_identity(cell),
            "error": error,
            "created_at": now,
        }
        for cell in group.cells
    ]


# ------------------------------------------------------------------------------ execution
def execute(
    groups: list[Group],
    *,
    jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
) -> Iterator[tuple[Group, list[dict[str, Any]]]]:
    """Run ``groups`` and yield ``(group, rows)`` as each finishes (in the given order of start).

    ``backend="loky"`` runs in this process when ``jobs == 1`` and in ``jobs`` joblib/loky worker
    processes otherwise. ``backend="dask"`` submits the groups to the dask.distributed scheduler at
    ``scheduler`` (``host:port``), or, when it is ``None``, to a ``LocalCluster`` of ``jobs``
    single-threaded worker processes started for the run. ``backend="ray"`` runs each group as a
    Ray task of one CPU, on the cluster at ``scheduler`` (a Ray address: ``host:port`` or
    ``auto``), on the Ray runtime this process has already started, or, failing both, on a local
    Ray runtime of ``jobs`` CPUs started for the run.
    """
    if not groups:
        return
    if backend == "dask":
        yield from _execute_dask(groups, jobs=jobs, scheduler=scheduler)
    elif backend == "ray":
        yield from _execute_ray(groups, jobs=jobs, scheduler=scheduler)
    elif backend == "loky":
        if jobs == 1:
            for group in groups:
                yield group, run_group(group)
        else:
            yield from _execute_loky(groups, jobs=jobs)
    else:
        raise ValueError(f"backend must be 'loky', 'dask' or 'ray', got {backend!r}")


def _execute_loky(groups: list[Group], *, jobs: int) -> Iterator[tuple[Group, list[dict]]]:
    from joblib import Parallel, delayed

    def tagged(index: int, group: Group):
        return index, run_group(group)

    parallel = Parallel(
        n_jobs=jobs,
        backend="loky",
        batch_size=1,
        pre_dispatch="n_jobs",  # keep the order: longest groups start first
        return_as="generator_unordered",
    )
    for index, rows in parallel(delayed(tagged)(i, g) for i, g in enumerate(groups)):
        yield groups[index], rows


def _execute_dask(
    groups: list[Group], *, jobs: int, scheduler: str | None
) -> Iterator[tuple[Group, list[dict]]]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "--backend dask needs dask.distributed: pip install 'llmdas[distributed]'"
        ) from exc
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=max(1, jobs),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler)
        except OSError as exc:  # a timeout, or an address that does not resolve
            raise OSError(
                f"cannot reach the dask scheduler {scheduler} (--scheduler): {exc}"
            ) from None
        except ValueError as exc:  # a port that is not a number, ...
            raise ValueError(
                f"--scheduler {scheduler!r} is not a dask scheduler address (host:port): {exc}"
            ) from None
    try:
        run_tag = uuid.uuid4().hex[:8]
        futures = []
        owner = {}
        for rank, group in enumerate(groups):
            future = client.submit(
                run_group,
                group,
                pure=False,
                priority=len(groups) - rank,  # longest groups first
                key=f"llmdas-group-{run_tag}-{rank}",
            )
            futures.append(future)
            owner[future.key] = group
        for future in as_completed(futures):
            group = owner[future.key]
            try:
                rows = future.result()
            except Exception as exc:  # a worker died (KilledWorker, ...): record, go on
                rows = failed_rows(group, f"worker failed: {_error_text(exc)}")
            yield group, rows
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _execute_ray(
    groups: list[Group], *, jobs: int, scheduler: str | None
) -> Iterator[tuple[Group, list[dict]]]:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("--backend ray needs Ray: pip install 'llmdas[ray]'") from exc
    started_here = not ray.is_initialized()
    if started_here:
        _init_ray(ray, jobs=jobs, scheduler=scheduler)
    try:
        # No retries: a group that kills its worker (out of memory, say) would only do it again.
        task = ray.remote(num_cpus=1, max_retries=0)(run_group)
        pending = {task.remote(group): group for group in groups}  # longest groups first
        while pending:
            (finished,), _ = ray.wait(list(pending), num_returns=1)
            group = pending.pop(finished)
            try:
                rows = ray.get(finished)
            except ray.exceptions.RayError as exc:  # a worker died, or run_group raised
                rows = failed_rows(group, f"worker failed: {_error_text(exc)}")
            yield group, rows
    finally:
        if started_here:
            ray.shutdown()


def _init_ray(ray, *, jobs: int, scheduler: str | None) -> None:
    """Start a local Ray runtime of ``jobs`` CPUs, or join the cluster at ``scheduler``."""
    if scheduler is not None:
        _check_ray_address(scheduler)
    # ray.init replaces the SIGTERM handler with sys.exit: put back the caller's (the CLI's turns
    # SIGTERM into Ctrl-C, which marks the run interrupted and stops the workers).
    on_sigterm = signal.getsignal(signal.SIGTERM)
    try:
        if scheduler is None:
            ray.init(num_cpus=max(1, jobs), include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=scheduler, log_to_driver=False)
    except (ConnectionError, ValueError) as exc:  # no cluster at "auto", a port that is no number
        where = "a local Ray runtime" if scheduler is None else f"the Ray cluster {scheduler}"
        option = "" if scheduler is None else " (--scheduler)"
        raise type(exc)(f"cannot start on {where}{option}: {exc}") from None
    finally:
        if on_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, on_sigterm)


def _check_ray_address(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a ``host:port`` that does not answer: ``ray.init`` would wait on it for ever."""
    host, colon, port = address.rpartition(":")
    if not colon or "://" in address or not port.isdigit():
        return  # "auto", "ray://...", or a malformed address that ray.init reports itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise OSError(f"cannot reach the Ray cluster at {address} (--scheduler): {exc}") from None


def run_plan(
    plan,
    store,
    *,
    jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    command: str = "",
    on_group=None,
) -> dict[str, Any]:
    """Run a :class:`~llmdas.benchmark.cells.Plan` and commit each finished group to ``store``.

    ``on_group(group, rows)`` is called after each commit (for progress display). Returns a dict
    with ``run_id``, ``wall_s``, ``n_done``, ``n_errors`` and the rows computed in this run.
    """
    started = time.perf_counter()
    run_id = store.start_run(
        command=command, config=plan.config, n_planned=plan.n_planned, n_missing=plan.n_missing
    )
    done, errors, computed = 0, 0, []
    status = "interrupted"  # Ctrl-C, or the process killed
    try:
        for group, rows in execute(plan.groups, jobs=jobs, backend=backend, scheduler=scheduler):
            for row in rows:
                row["run_id"] = run_id
            store.insert_cells(rows)
            done += len(rows)
            errors += sum(1 for row in rows if row.get("error"))
            computed.extend(rows)
            store.progress_run(run_id, n_done=done, n_errors=errors)
            if on_group is not None:
                on_group(group, rows)
        status = "finished"
    except Exception as exc:  # the backend failed (a scheduler out of reach, a worker lost)
        status = f"failed ({type(exc).__name__}: {exc})"
        raise
    finally:
        store.finish_run(run_id, status=status)
    return {
        "run_id": run_id,
        "wall_s": time.perf_counter() - started,
        "n_done": done,
        "n_errors": errors,
        "rows": computed,
    }
