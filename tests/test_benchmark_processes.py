"""Benchmark checks that start processes: SIGKILL mid-run and resume, dask and Ray vs local.

The SIGKILL test runs ``llmdas benchmark`` as a subprocess on three small datasets of the shared
directory (skipped with a reason when it is absent) and kills its whole process group once some
groups are stored; it needs tens of seconds, hence ``@pytest.mark.slow`` (``make benchmark-tests``).
The dask test starts a real two-process ``LocalCluster`` on a tiny grid (about 10 s), the Ray
test a local Ray runtime of two CPUs (about 5 s).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from llmdas.benchmark import ResultStore, make_plan, parse_methods, run_plan
from llmdas.data import data_dir

SMALL = ["wine", "glass", "vertebral"]


def _shared_dir() -> Path:
    directory = data_dir()
    if directory is None or not all((directory / f"{n}.npz").is_file() for n in SMALL):
        pytest.skip(f"shared datasets {SMALL} not found (set $LLMDAS_DATA to their directory)")
    return directory


def _values(path):
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT dataset, detector, method, seed, config_hash, base_pr, base_roc, enh_pr, enh_roc, "
        "error FROM cells"
    ).fetchall()
    conn.close()
    return {r[:5]: r[5:] for r in rows}


def _count(path) -> int:
    try:
        conn = sqlite3.connect(path, timeout=1)
        try:
            return conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.mark.slow
def test_sigkill_mid_run_then_resume(tmp_path):
    directory = _shared_dir()
    args = [
        sys.executable, "-c", "from llmdas.cli import app; app()", "benchmark",
        "--data", str(directory),
        "--datasets", ",".join(SMALL), "--detectors", "PCA,IForest",
        "--methods", "gaussian,uniform,none", "--seeds", "42", "--quiet",
    ]  # fmt: skip
    total = len(SMALL) * 2 * 3
    ref = tmp_path / "ref.db"
    subprocess.run([*args, "--store", str(ref)], check=True, capture_output=True, timeout=600)
    reference = _values(ref)
    assert len(reference) == total and all(v[-1] is None for v in reference.values())

    db = tmp_path / "r.db"
    killed_at = None
    for _attempt in range(3):  # the kill must land mid-run; retry if the run was too quick
        if db.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        proc = subprocess.Popen(
            [*args, "--store", str(db)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None and _count(db) == 0:
            time.sleep(0.05)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        killed_at = _count(db)
        if 0 < killed_at < total:
            break
    assert killed_at is not None and 0 < killed_at < total, "could not kill the run mid-way"

    # Whatever survived the kill is intact and equal to the reference.
    partial = _values(db)
    assert len(partial) == killed_at
    assert all(reference[key] == value for key, value in partial.items())

    done = subprocess.run([*args, "--store", str(db)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"computed {total - killed_at} cells" in done.stdout
    assert _values(db) == reference  # nothing lost, nothing duplicated, same values
    conn = sqlite3.connect(db)
    dup = conn.execute(
        "SELECT COUNT(*) FROM (SELECT 1 FROM cells GROUP BY dataset, detector, method, seed, "
        "config_hash HAVING COUNT(*) > 1)"
    ).fetchone()[0]
    conn.close()
    assert dup == 0


def _tiny(path, seed, n_normal=90, n_anom=10, d=5):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(size=(n_normal, d)), rng.uniform(-4, 4, size=(n_anom, d))])
    y = np.r_[np.zeros(n_normal), np.ones(n_anom)].astype(int)
    np.savez(path, X=X, y=y)


def _tiny_grid(
    tmp_path, datasets=("one", "two"), detectors=("PCA", "IForest"), methods="builtin,none"
):
    """Tiny datasets in ``tmp_path`` and the plan of their grid for a store (seed 3)."""
    for i, name in enumerate(datasets):
        _tiny(tmp_path / f"{name}.npz", seed=i)

    def plan(store):
        return make_plan(
            data_dir=tmp_path, datasets=list(datasets), detectors=list(detectors),
            methods=parse_methods(methods, detectors=list(detectors)), seeds=[3],
            split="paper", existing=store.existing_keys(),
        )  # fmt: skip

    return plan


@contextlib.contextmanager
def _two_workers(backend):
    """The ``scheduler`` of a cluster of two worker processes on this machine."""
    if backend == "dask":
        distributed = pytest.importorskip("distributed")
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            yield cluster.scheduler_address
    else:
        pytest.importorskip("ray")
        yield None  # run_plan starts a local Ray runtime of jobs=2 CPUs


@pytest.mark.parametrize("backend", ["dask", "ray"])
def test_a_cluster_run_equals_the_local_run(backend, tmp_path):
    plan = _tiny_grid(tmp_path)
    with ResultStore(tmp_path / "local.db") as store:
        run_plan(plan(store), store, jobs=1)
    with _two_workers(backend) as scheduler, ResultStore(tmp_path / "cluster.db") as store:
        result = run_plan(plan(store), store, jobs=2, backend=backend, scheduler=scheduler)
        workers = {row["worker"] for row in result["rows"]}
    local, remote = _values(tmp_path / "local.db"), _values(tmp_path / "cluster.db")
    assert len(local) == 2 * 2 * 2
    assert all(v[-1] is None for v in local.values())
    assert remote == local
    assert len(workers) >= 1 and all(str(os.getpid()) not in w for w in workers)


@pytest.mark.parametrize(
    ("backend", "address", "error", "message"),
    [
        ("dask", "127.0.0.1:1", OSError, "cannot reach the dask scheduler 127.0.0.1:1 (--scheduler): "),
        ("dask", "tcp://127.0.0.1:abc", ValueError, "--scheduler 'tcp://127.0.0.1:abc' is not a dask"),
        ("ray", "127.0.0.1:1", OSError, "cannot reach the Ray cluster at 127.0.0.1:1 (--scheduler): "),
        ("ray", "auto", ConnectionError, "cannot start on the Ray cluster auto (--scheduler): "),
    ],
)  # fmt: skip
def test_a_scheduler_out_of_reach_names_the_option(
    backend, address, error, message, tmp_path, monkeypatch
):
    pytest.importorskip("distributed" if backend == "dask" else "ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # else "auto" means that cluster
    plan = _tiny_grid(tmp_path, datasets=("one",), detectors=("PCA",), methods="none")
    with ResultStore(tmp_path / "r.db") as store, contextlib.ExitStack() as limits:
        if backend == "dask":
            import dask

            limits.enter_context(dask.config.set({"distributed.comm.timeouts.connect": "1s"}))
        with pytest.raises(error) as info:
            run_plan(plan(store), store, backend=backend, scheduler=address)
        assert str(info.value).startswith(message)
        assert store.runs()[-1]["status"].startswith("failed") and store.count() == 0
