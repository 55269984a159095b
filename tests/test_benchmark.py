"""``llmdas benchmark``: planning, baselines, group runs, resuming, dask, CLI and report (fast).

Everything here runs on tiny synthetic datasets written to a temporary directory, with one seed,
so the default suite stays fast. The SIGKILL test and real-data checks are in
``test_benchmark_slow.py``.
"""

from __future__ import annotations

import base64
import contextlib
import html.parser
import io
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from llmdas.benchmark import ResultStore, make_plan, parse_methods, run_plan
from llmdas.benchmark.cells import DETERMINISTIC_DETECTORS
from llmdas.benchmark.runner import ScoreMemo, run_group
from llmdas.program import SynthesisProgram


def _tiny(path, seed, n_normal=90, n_anom=10, d=5):
    rng = np.random.default_rng(seed)
    cov = 0.5 * np.ones((d, d)) + 0.5 * np.eye(d)
    normal = rng.multivariate_normal(np.zeros(d), cov, size=n_normal)
    anomalies = rng.uniform(-4, 4, size=(n_anom, d))
    X = np.vstack([normal, anomalies])
    y = np.r_[np.zeros(n_normal), np.ones(n_anom)].astype(int)
    order = rng.permutation(len(y))
    np.savez(path, X=X[order], y=y[order])


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tinydata")
    for i, name in enumerate(["alpha", "beta", "gamma"]):
        _tiny(directory / f"{name}.npz", seed=i)
    return directory


def _plan(
    tiny_dir,
    store,
    *,
    datasets=("alpha", "beta"),
    detectors=("PCA", "IForest"),
    methods="gaussian,none",
    seeds=(42,),
):
    specs = parse_methods(methods, detectors=list(detectors))
    return make_plan(
        data_dir=tiny_dir,
        datasets=list(datasets),
        detectors=list(detectors),
        methods=specs,
        seeds=list(seeds),
        split="paper",
        existing=store.existing_keys(),
    )


def _values(store):
    return {
        (c["dataset"], c["detector"], c["method"], c["seed"]): (
            c["base_pr"],
            c["base_roc"],
            c["enh_pr"],
            c["enh_roc"],
            c["error"],
        )
        for c in store.cells()
    }


# ------------------------------------------------------------------------------- planning
def test_parse_methods_kinds_and_cross(tmp_path):
    program = tmp_path / "mine.py"
    from llmdas.programs import baseline_program

    baseline_program("uniform").save(program)
    specs = parse_methods(
        f"builtin,none,smote,adbench_local,builtin:ECOD,program:{program}",
        detectors=["PCA", "ECOD"],
        cross=True,
    )
    pca = [s.name for s in specs["PCA"]]
    assert pca == ["builtin", "none", "smote", "adbench_local", "builtin:ECOD", "program:mine"]
    assert [s.name for s in specs["ECOD"]][-1] == "builtin:PCA"  # cross adds the other one
    assert specs["PCA"][4].program_for("PCA").detector == "ECOD"  # ECOD's program on PCA
    assert specs["PCA"][5].program_for("IForest").name == "uniform"
    with pytest.raises(ValueError, match="unknown method"):
        parse_methods("nope", detectors=["PCA"])
    with pytest.raises(ValueError, match="given twice"):
        parse_methods("smote,smote", detectors=["PCA"])
    # A program:FILE that would fail every cell of the run is refused before the run starts.
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"table.csv: no '# /// llmdas-program' metadata block"):
        parse_methods(f"program:{tmp_path / 'table.csv'}", detectors=["PCA"])
    source = "def generate_hard_anomalies(n_samples, model, X_train):\n    import os\n"
    SynthesisProgram(source=source, detector="PCA", name="osy").save(tmp_path / "osy.py")
    with pytest.raises(ValueError, match=r"method program:.*osy.py: forbidden import 'os' at line"):
        parse_methods(f"program:{tmp_path / 'osy.py'}", detectors=["PCA"])


def test_store_method_and_missing_program_is_a_recorded_error(tmp_path, tiny_dir):
    from llmdas.programs import builtin_program

    programs = tmp_path / "mystore"
    builtin_program("PCA").save(programs / "pca.py")
    specs = parse_methods("none", detectors=["PCA", "ECOD"], programs_dir=programs)
    assert [s.name for s in specs["PCA"]] == ["none", "store:mystore"]
    with ResultStore(tmp_path / "r.db") as store:
        with pytest.warns(UserWarning, match=r"no program for ECOD \(it has PCA\): the store:"):
            plan = make_plan(
                data_dir=tiny_dir,
                datasets=["alpha"],
                detectors=["PCA", "ECOD"],
                methods=specs,
                seeds=[0],
                split="paper",
                existing=set(),
            )
        run_plan(plan, store)
        cells = {(c["detector"], c["method"]): c for c in store.cells()}
    assert cells[("PCA", "store:mystore")]["error"] is None
    assert cells[("PCA", "store:mystore")]["enh_pr"] is not None
    error = cells[("ECOD", "store:mystore")]["error"]
    assert error.startswith("LookupError: program store ") and "holds no program for ECOD" in error


def test_plan_groups_share_base_fits_and_longest_first(tiny_dir, tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        plan = _plan(tiny_dir, store, datasets=("alpha",), seeds=(42, 0, 7))
    # PCA is deterministic: one group holds every seed; IForest: one group per seed.
    pca = [g for g in plan.groups if g.detector == "PCA"]
    iforest = [g for g in plan.groups if g.detector == "IForest"]
    assert len(pca) == 1 and pca[0].seeds == (42, 0, 7) and len(pca[0].cells) == 6
    assert len(iforest) == 3 and all(len(g.cells) == 2 for g in iforest)
    assert plan.n_planned == plan.n_missing == 12
    costs = [g.cost for g in plan.groups]
    assert costs == sorted(costs, reverse=True)


def test_config_hash_changes_with_program_and_split(tiny_dir, tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        a = _plan(tiny_dir, store, datasets=("alpha",), detectors=("PCA",), methods="gaussian")
        b = _plan(tiny_dir, store, datasets=("alpha",), detectors=("PCA",), methods="uniform")
    ha, hb = a.groups[0].cells[0].config_hash, b.groups[0].cells[0].config_hash
    assert ha != hb and len(ha) == 16


def test_config_hash_changes_with_the_method_version(tiny_dir, tmp_path, monkeypatch):
    # A change of the fusion arithmetic changes no constructor default; the version must show it.
    import llmdas.enhanced

    with ResultStore(tmp_path / "r.db") as store:
        a = _plan(tiny_dir, store, datasets=("alpha",), detectors=("PCA",), methods="gaussian")
        monkeypatch.setattr(llmdas.enhanced, "METHOD_VERSION", llmdas.enhanced.METHOD_VERSION + 1)
        b = _plan(tiny_dir, store, datasets=("alpha",), detectors=("PCA",), methods="gaussian")
    assert a.groups[0].cells[0].config_hash != b.groups[0].cells[0].config_hash


@pytest.mark.parametrize("name", sorted(DETERMINISTIC_DETECTORS))
def test_deterministic_detectors_do_not_depend_on_the_seed(name, tiny_dir):
    from llmdas.data import load_dataset, paper_split
    from llmdas.detectors import make_detector

    X_train, X_test, _ = paper_split(*load_dataset(tiny_dir / "alpha.npz"))
    a = make_detector(name, random_state=0).fit(X_train).decision_function(X_test)
    b = make_detector(name, random_state=12345).fit(X_train).decision_function(X_test)
    np.testing.assert_array_equal(a, b)


def test_score_memo_returns_identical_scores_and_hits(tiny_dir):
    from llmdas.data import load_dataset, paper_split
    from llmdas.detectors import make_detector

    X_train, X_test, _ = paper_split(*load_dataset(tiny_dir / "alpha.npz"))
    det = make_detector("OCSVM").fit(X_train)
    memo = ScoreMemo(det, size=2)
    memo.pin(X_train)  # kept once computed
    memo.decision_function(X_train)
    first = memo.decision_function(X_test)
    first[:] = 0  # callers may modify what they get back
    again = memo.decision_function(X_test.copy())
    np.testing.assert_array_equal(again, det.decision_function(X_test))
    assert memo.hits == 1 and memo.threshold_ == det.threshold_
    for shift in range(1, 6):  # other inputs do not evict the pinned training rows
        memo.decision_function(X_test + shift)
    np.testing.assert_array_equal(memo.decision_function(X_train), det.decision_function(X_train))
    assert memo.hits == 2


# ------------------------------------------------------------------------------ baselines
def test_every_baseline_runs_in_the_sandbox(tiny_dir):
    from llmdas.data import load_dataset, paper_split
    from llmdas.programs import list_baselines, load_program
    from llmdas.sandbox import run_program

    X_train, _, _ = paper_split(*load_dataset(tiny_dir / "beta.npz"))
    X_train = np.hstack([X_train, np.ones((len(X_train), 1))])  # a constant column stays constant
    names = [p.name for p in list_baselines()]
    assert names == [
        "adbench_clustered",
        "adbench_dependency",
        "adbench_global",
        "adbench_local",
        "gaussian",
        "smote",
        "uniform",
    ]
    for program in list_baselines():
        assert program.detector == "any"
        assert program.provenance["note"] == "baseline, not detector-aware"
        assert load_program(program.name) == program
        out = run_program(program.source, lambda Z: np.zeros(len(Z)), X_train, 17, seed=3).X
        again = run_program(program.source, lambda Z: np.zeros(len(Z)), X_train, 17, seed=3).X
        assert out.shape == (17, X_train.shape[1]), program.name
        np.testing.assert_array_equal(out, again)
        np.testing.assert_allclose(out[:, -1], 1.0, err_msg=program.name)


# -------------------------------------------------------------------------------- running
def test_run_group_records_errors_instead_of_raising(tiny_dir):
    from llmdas.benchmark.cells import CellSpec, Group
    from llmdas.program import SynthesisProgram

    broken = SynthesisProgram.from_source(
        "def generate_hard_anomalies(n_samples, model, X_train):\n    raise RuntimeError('x')\n"
    )
    group = Group(
        dataset="alpha",
        path=str(tiny_dir / "alpha.npz"),
        detector="PCA",
        split="paper",
        seeds=(1,),
        cells=(CellSpec("broken", 1, "h", broken), CellSpec("none", 1, "h")),
    )
    rows = run_group(group)
    assert [r["method"] for r in rows] == ["broken", "none"]
    assert "RuntimeError" in rows[0]["error"] and rows[0]["base_pr"] is not None
    assert rows[1]["error"] is None and rows[1]["enh_pr"] is None

    bad = Group(
        dataset="nope",
        path=str(tiny_dir / "missing.npz"),
        detector="PCA",
        split="paper",
        seeds=(1,),
        cells=(CellSpec("none", 1, "h"),),
    )
    (row,) = run_group(bad)
    assert row["error"].startswith("reading and splitting the data failed: FileNotFoundError")
    small = tiny_dir / "small.npz"  # 4 training rows: too few for KNN's 5 neighbours
    X = np.random.default_rng(0).normal(size=(12, 3))
    np.savez(small, X=X, y=np.r_[np.zeros(8), np.ones(4)])
    (row,) = run_group(replace(bad, path=str(small), detector="KNN"))
    assert row["error"].startswith("base fit failed: ValueError")


def test_a_dataset_in_any_format_gives_the_same_cells(tiny_dir, tmp_path):
    """The data directory may hold CSV, .npy, .mat and Parquet files beside .npz ones."""
    import pandas as pd
    from scipy.io import savemat

    with np.load(tiny_dir / "alpha.npz") as data:
        X, y = data["X"], data["y"]
    table = np.c_[X, y]
    np.savez(tmp_path / "as_npz.npz", X=X, y=y)
    np.savetxt(tmp_path / "as_csv.csv", table, delimiter=",", fmt="%.17g")
    np.save(tmp_path / "as_npy.npy", table)
    savemat(tmp_path / "as_mat.mat", {"X": X, "y": y.reshape(-1, 1)})
    pd.DataFrame(table, columns=[*"abcde", "label"]).to_parquet(tmp_path / "as_parquet.parquet")
    names = ["as_npz", "as_csv", "as_npy", "as_mat", "as_parquet"]
    with ResultStore(tmp_path / "r.db") as store:
        run_plan(_plan(tmp_path, store, datasets=names, detectors=("PCA",)), store)
        columns = ("n_train", "n_test", "n_features", "base_pr", "enh_pr", "error")
        cells = {(c["dataset"], c["method"]): tuple(c[k] for k in columns) for c in store.cells()}
    assert len(cells) == 2 * len(names)
    for method in ("gaussian", "none"):
        reference = cells[("as_npz", method)]
        assert reference[:3] == (45, 55, 5) and reference[-1] is None
        assert all(cells[(name, method)] == reference for name in names)


def test_an_unreadable_dataset_file_fails_its_cells_only(tiny_dir, tmp_path):
    # Planning reads each file's shape; a file that cannot be read used to stop the whole run there.
    data = tmp_path / "data"
    data.mkdir()
    (data / "alpha.npz").write_bytes((tiny_dir / "alpha.npz").read_bytes())
    (data / "broken.npz").write_bytes(b"not a zip archive")
    (data / "text.csv").write_bytes(b"1,2,0\n\xff,3,1\n")
    np.savez(data / "normal.npz", X=np.random.default_rng(0).normal(size=(40, 3)), y=np.zeros(40))
    with ResultStore(tmp_path / "r.db") as store:
        names = ("alpha", "broken", "text", "normal")
        plan = _plan(data, store, datasets=names, detectors=("PCA",))
        run_plan(plan, store)
        errors = {c["dataset"]: c["error"] for c in store.cells()}
    assert errors["alpha"] is None
    # Without anomalies its AUC-PR used to be stored as 0.0 and averaged into the tables.
    assert "ValueError: y holds no anomaly (1)" in errors["normal"]
    assert errors["broken"] == (
        "reading and splitting the data failed: "
        "ValueError: broken.npz is not an .npz archive (np.savez writes them)"
    )
    assert "text.csv is not a CSV text file" in errors["text"]


def test_a_file_that_is_not_a_result_store_is_refused_and_left_as_it_is(tmp_path):
    import sqlite3

    missing = tmp_path / "missing.db"
    with pytest.raises(FileNotFoundError, match="result store .*missing.db does not exist"):
        ResultStore(missing, read_only=True)
    assert not missing.exists()  # reading creates nothing
    for read_only in (True, False):
        with pytest.raises(IsADirectoryError, match="result store .* is a directory, not a file"):
            ResultStore(tmp_path, read_only=read_only)
    table = tmp_path / "scores.csv"
    table.write_text("score\n0.5\n")
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as db:  # its own `with` does not close it
        db.execute("CREATE TABLE t (x)")
        db.commit()
    before = {path: path.read_bytes() for path in (table, other)}
    for read_only in (True, False):
        with pytest.raises(ValueError, match="scores.csv is not a result store .*not a database"):
            ResultStore(table, read_only=read_only)
        with pytest.raises(ValueError, match="other.db is an SQLite database of something else"):
            ResultStore(other, read_only=read_only)
    assert {path: path.read_bytes() for path in before} == before
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(ValueError, match="empty.db is empty, not a result store"):
        ResultStore(empty, read_only=True)
    if Path("/proc/self").is_dir():  # Linux: a folder where no one, root included, makes files
        with pytest.raises(ValueError, match="cannot create the result store /proc/r.db"):
            ResultStore("/proc/r.db")
    with ResultStore(empty) as store:  # a new store may start from an empty file
        assert store.count() == 0
    with ResultStore(empty, read_only=True) as store:
        assert store.count() == 0 and store.cells() == []


def test_reading_a_store_writes_nothing_and_leaves_no_files_behind(tmp_path, monkeypatch):
    import sqlite3

    path = tmp_path / "r.db"
    with ResultStore(path) as store:
        assert store.count() == 0
    before = path.read_bytes()
    with ResultStore(path, read_only=True) as store:
        assert store.count() == 0
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store._conn.execute("CREATE TABLE t (x)")
    assert [p.name for p in tmp_path.iterdir()] == ["r.db"] and path.read_bytes() == before
    monkeypatch.setattr("os.access", lambda *args: False)  # a store on a read-only file system
    with ResultStore(path, read_only=True) as store:
        assert store.count() == 0
    assert path.read_bytes() == before


def test_interrupted_run_resumes_without_loss_or_duplicates(tiny_dir, tmp_path):
    """A run that dies after one committed group is completed by a rerun, values unchanged."""
    with ResultStore(tmp_path / "ref.db") as ref:
        run_plan(_plan(tiny_dir, ref), ref)
        reference = _values(ref)
    assert len(reference) == 8 and all(v[4] is None for v in reference.values())

    path = tmp_path / "r.db"
    with ResultStore(path) as store:
        plan = _plan(tiny_dir, store)

        def crash(group, rows):
            raise KeyboardInterrupt  # dies right after the first group was committed

        with pytest.raises(KeyboardInterrupt):
            run_plan(plan, store, on_group=crash)
        first = store.count()
        assert 0 < first < 8
        assert store.runs()[-1]["status"] == "interrupted"

        def lost(group, rows):
            raise OSError("connection to the scheduler lost")

        with pytest.raises(OSError):
            run_plan(_plan(tiny_dir, store), store, on_group=lost)
        assert store.runs()[-1]["status"] == "failed (OSError: connection to the scheduler lost)"
        first = store.count()
    with ResultStore(path) as store:
        plan = _plan(tiny_dir, store)
        assert plan.n_missing == 8 - first
        run_plan(plan, store)
        assert store.count() == 8
        assert _values(store) == reference
        assert _plan(tiny_dir, store).n_missing == 0  # nothing left to do


@pytest.mark.parametrize(
    ("stop", "backend"), [("ctrl-c", "loky"), ("sigterm", "loky"), ("sigterm", "ray")]
)
def test_cli_benchmark_stopped_mid_run_says_what_is_stored(
    stop, backend, tiny_dir, tmp_path, monkeypatch
):
    """Ctrl-C, or a SIGTERM from ``kill`` or a job scheduler, after the first committed group:
    exit code 130, a message with the stored count and how to go on, the run marked interrupted.
    (``ray.init`` sets a SIGTERM handler of its own, which must not replace the CLI's.)"""
    import os
    import signal

    if backend == "ray":
        pytest.importorskip("ray")

    from typer.testing import CliRunner

    import llmdas.benchmark.runner as runner_module
    from llmdas.cli import app

    real_execute = runner_module.execute

    def stopped_after_one_group(groups, **kwargs):
        for n, item in enumerate(real_execute(groups, **kwargs)):
            if n == 1:
                if stop == "ctrl-c":
                    raise KeyboardInterrupt
                # The default SIGTERM would end pytest itself: fail instead.
                assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the handler raises in this thread before the sleep ends
            yield item

    monkeypatch.setattr(runner_module, "execute", stopped_after_one_group)
    db = tmp_path / "r.db"
    args = ["benchmark", "--data", str(tiny_dir), "--datasets", "alpha,beta", "--detectors"]
    args += ["PCA", "--methods", "gaussian", "--seeds", "1", "--store", str(db), "--quiet"]
    result = CliRunner().invoke(app, [*args, "--backend", backend])
    assert result.exit_code == 130, result.output
    assert "interrupted: 1 of the 2 cells to compute are stored in" in " ".join(
        result.output.split()
    ) and "compute the other 1" in " ".join(result.output.split())
    with ResultStore(db) as store:
        assert store.count() == 1 and store.runs()[-1]["status"] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_cli_benchmark_dry_run_shows_the_plan_and_writes_no_store(tiny_dir, tmp_path):
    from typer.testing import CliRunner

    from llmdas.cli import app

    db = tmp_path / "r.db"
    args = ["benchmark", "--data", str(tiny_dir), "--datasets", "alpha,beta", "--detectors"]
    args += ["PCA", "--methods", "gaussian", "--seeds", "1", "--store", str(db), "--quiet"]
    result = CliRunner().invoke(app, [*args, "--dry-run"])
    words = " ".join(result.output.split())
    assert result.exit_code == 0 and "2 cells planned, 0 already in" in words, result.output
    assert "alpha/PCA/seed 1: 1 cells" in words and not db.exists()  # no empty store left
    assert CliRunner().invoke(app, [*args, "--datasets", "alpha"]).exit_code == 0
    with ResultStore(db) as store:  # as if alpha's cell had failed
        store._conn.execute("UPDATE cells SET error = 'ValueError: x'")
        store._conn.commit()
    before = db.read_bytes()
    result = CliRunner().invoke(app, [*args, "--dry-run"])
    assert "2 cells planned, 1 already in" in " ".join(result.output.split()), result.output
    result = CliRunner().invoke(app, [*args, "--dry-run", "--retry-errors"])
    assert "2 cells planned, 0 already in" in " ".join(result.output.split()), result.output
    with ResultStore(db, read_only=True) as store:  # the failed cell was not removed
        assert store.count() == 1 and len(store.runs()) == 1
    assert db.read_bytes() == before


def test_cli_benchmark_warns_of_more_local_workers_than_cores(tiny_dir, tmp_path, monkeypatch):
    import joblib
    from typer.testing import CliRunner

    from llmdas.cli import app

    monkeypatch.setattr(joblib, "cpu_count", lambda *a, **k: 1)  # a one-core machine
    args = ["benchmark", "--data", str(tiny_dir), "--datasets", "alpha", "--detectors", "PCA"]
    args += ["--methods", "none", "--store", str(tmp_path / "r.db"), "--quiet", "--seeds"]
    result = CliRunner().invoke(app, [*args, "1", "--jobs", "2"])
    words = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "warning: --jobs 2 starts more workers than the 1 core(s) this process may use" in words
    result = CliRunner().invoke(app, [*args, "2", "--jobs", "1"])
    assert result.exit_code == 0 and "warning" not in result.output, result.output


def test_cli_benchmark_warns_of_another_run_still_running_into_its_store(tiny_dir, tmp_path):
    """Two benchmarks into one store each compute every cell they planned: a second one is told
    when the first still runs (its process is alive), and not when that process is gone."""
    import socket
    import subprocess
    import sys

    from typer.testing import CliRunner

    from llmdas.cli import app

    db = tmp_path / "r.db"
    args = ["benchmark", "--data", str(tiny_dir), "--datasets", "alpha", "--detectors", "PCA"]
    args += ["--methods", "gaussian", "--store", str(db), "--quiet", "--seeds"]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with ResultStore(db) as store:  # a run that the other process started and runs
            run_id = store.start_run(
                command="llmdas benchmark", config={}, n_planned=1, n_missing=1
            )
            store._conn.execute(
                "UPDATE runs SET runner = ? WHERE run_id = ?",
                (f"{socket.gethostname()}:{other.pid}", run_id),
            )
            store._conn.commit()
        result = CliRunner().invoke(app, [*args, "1"])
        words = " ".join(result.output.split())
        assert result.exit_code == 0, result.output
        assert f"warning: run {run_id} of " in words  # then the store's path, which may wrap
        assert f"(process {other.pid} on this machine" in words
        assert "is still running; cells that both runs still need are computed by both" in words
    finally:
        other.kill()
        other.wait()
    result = CliRunner().invoke(app, [*args, "2"])  # its process is gone: killed, never finished
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    with ResultStore(db) as store:
        runs = store.runs()
        assert [run["status"] for run in runs] == ["running", "finished", "finished"]
        assert runs[-1]["runner"] == f"{socket.gethostname()}:{os.getpid()}"
        store._conn.execute("UPDATE runs SET runner = 'elsewhere:7' WHERE run_id = ?", (run_id,))
        store._conn.commit()
    result = CliRunner().invoke(app, [*args, "3"])  # another machine's run cannot be checked
    words = " ".join(result.output.split())
    assert "(process 7 on elsewhere, started" in words and "is marked running" in words


def test_a_process_that_reuses_a_dead_runs_number_is_not_taken_for_it(tmp_path):
    import socket
    import subprocess
    import sys

    from llmdas.benchmark.store import _running_since

    assert not _running_since(os.getpid(), 0.0) and _running_since(os.getpid(), time.time())
    with ResultStore(tmp_path / "r.db") as store:
        run_id = store.start_run(command="llmdas benchmark", config={}, n_planned=1, n_missing=1)
        # The run was killed an hour ago; a process started since then has its number.
        newer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            store._conn.execute(
                "UPDATE runs SET runner = ?, started_at = ? WHERE run_id = ?",
                (f"{socket.gethostname()}:{newer.pid}", time.time() - 3600, run_id),
            )
            store._conn.commit()
            assert store.live_runs() == []
            store._conn.execute(
                "UPDATE runs SET started_at = ? WHERE run_id = ?", (time.time() + 60, run_id)
            )
            store._conn.commit()
            assert [run["run_id"] for run in store.live_runs()] == [run_id]
        finally:
            newer.kill()
            newer.wait()


def test_a_store_from_before_runs_recorded_their_process_gains_the_column(tmp_path):
    import sqlite3

    db = tmp_path / "old.db"
    with ResultStore(db) as store:
        store.start_run(command="c", config={}, n_planned=1, n_missing=1)
    conn = sqlite3.connect(db)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(runs)") if row[1] != "runner"]
    conn.executescript(  # the table as such stores have it (DROP COLUMN needs SQLite 3.35)
        f"CREATE TABLE old_runs AS SELECT {', '.join(columns)} FROM runs; DROP TABLE runs; "
        "ALTER TABLE old_runs RENAME TO runs;"
    )
    conn.close()
    with ResultStore(db, read_only=True) as store:  # read as it is
        assert "runner" not in store.runs()[0] and store.live_runs() == []
    with ResultStore(db) as store:
        assert store.runs()[0]["runner"] is None and store.live_runs() == []


def test_cli_benchmark_program_timeout_limits_each_cell_and_keeps_its_hash(tiny_dir, tmp_path):
    from typer.testing import CliRunner

    from llmdas.cli import app
    from llmdas.program import SynthesisProgram

    hang = tmp_path / "hang.py"
    source = (
        "def generate_hard_anomalies(n_samples, model, X_train):\n    while True:\n        pass\n"
    )
    SynthesisProgram(source=source, detector="PCA", name="hang").save(hang)
    db = tmp_path / "r.db"
    args = ["benchmark", "--data", str(tiny_dir), "--datasets", "alpha", "--detectors", "PCA"]
    args += ["--methods", f"program:{hang}", "--seeds", "1", "--store", str(db), "--quiet"]
    result = CliRunner().invoke(app, [*args, "--program-timeout", "1"])
    assert result.exit_code == 0, result.output
    with ResultStore(db) as store:
        (cell,) = store.cells()
        assert "timed out after 1 s" in cell["error"]
        assert "--program-timeout of llmdas enhance or benchmark" in cell["error"]
        assert json.loads(store.runs()[-1]["config"])["program_timeout"] == 1.0
        # A limit, not part of the method: the cell is the one a run without the option plans.
        plain = make_plan(
            data_dir=tiny_dir, datasets=["alpha"], detectors=["PCA"],
            methods=parse_methods(f"program:{hang}", detectors=["PCA"]), seeds=[1],
            split="paper", existing=set(),
        )  # fmt: skip
        assert plain.groups[0].cells[0].config_hash == cell["config_hash"]
    result = CliRunner().invoke(app, [*args, "--program-timeout", "0"])
    assert result.exit_code == 2 and "--program-timeout must be a finite number" in result.output


def test_parallel_loky_equals_serial(tiny_dir, tmp_path):
    with ResultStore(tmp_path / "a.db") as a, ResultStore(tmp_path / "b.db") as b:
        run_plan(_plan(tiny_dir, a), a, jobs=1)
        run_plan(_plan(tiny_dir, b), b, jobs=2)
        assert _values(a) == _values(b)


# ------------------------------------------------------------------------------ CLI/report
class _Images(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.sources.append(dict(attrs).get("src", ""))


def test_cli_benchmark_summary_and_report(tiny_dir, tmp_path):
    from typer.testing import CliRunner

    from llmdas.cli import app

    db = tmp_path / "r.db"
    args = [
        "benchmark",
        "--data",
        str(tiny_dir),
        "--datasets",
        "alpha,gamma",
        "--detectors",
        "ECOD",
        "--methods",
        "builtin,uniform",
        "--seeds",
        "5",
        "--store",
        str(db),
        "--quiet",
    ]
    runner = CliRunner()
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "computed 4 cells (0 errors)" in " ".join(
        result.output.split()
    ) and "Slowest cells" in " ".join(result.output.split())
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "nothing to do" in again.output

    result = runner.invoke(app, ["summary", str(db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "ECOD" in result.output and "uniform" in result.output

    out = tmp_path / "report.html"
    result = runner.invoke(
        app, ["report", str(db), "--out", str(out), "--dataset", "gamma", "--data", str(tiny_dir)]
    )
    assert result.exit_code == 0, result.output
    parser = _Images()
    parser.feed(out.read_text(encoding="utf-8"))
    assert "table" in parser.tags
    assert len(parser.sources) == 3  # one Δ chart (ECOD), the KDE and the t-SNE
    import matplotlib.image

    for src in parser.sources:
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
        image = matplotlib.image.imread(io.BytesIO(data), format="png")
        assert image.shape[0] > 100 and image.shape[1] > 100


def test_cli_reports_bad_input(tiny_dir, tmp_path):
    from typer.testing import CliRunner

    from llmdas.cli import app

    result = CliRunner().invoke(
        app,
        [
            "benchmark",
            "--data",
            str(tiny_dir),
            "--methods",
            "bogus",
            "--store",
            str(tmp_path / "r.db"),
        ],
    )
    assert result.exit_code == 1 and "unknown method" in " ".join(result.output.split())
    db = tmp_path / "seeds.db"
    result = CliRunner().invoke(
        app, ["benchmark", "--data", str(tiny_dir), "--seeds", "1,-2", "--store", str(db)]
    )
    assert result.exit_code == 2 and "seeds must be integers in [0, 2**32 - 1]" in " ".join(
        result.output.split()
    )
    assert not db.exists()
    result = CliRunner().invoke(
        app, ["benchmark", "--data", str(tiny_dir), "--datasets", "nope", "--store", str(db)]
    )
    assert result.exit_code == 1 and "dataset 'nope' not found" in " ".join(result.output.split())
    result = CliRunner().invoke(
        app, ["benchmark", "--data", str(tiny_dir), "--datasets", "Alpha", "--store", str(db)]
    )
    words = " ".join(result.output.split())
    assert "'Alpha' not found in" in words and "did you mean 'alpha'?" in words, words
    assert not db.exists()
    for option, value, message in [
        ("--seeds", "1,2,1", "--seeds gives 1 more than once"),
        ("--detectors", "PCA,pca", "--detectors gives PCA more than once"),
        ("--datasets", " , ", "no datasets given (leave --datasets out to run them all)"),
        ("--jobs", "0", "--jobs must be >= 1"),
        ("--backend", "spark", "--backend must be loky, dask or ray"),
        ("--scheduler", "tcp://127.0.0.1:1", "--scheduler needs --backend dask or ray"),
        ("--split", "half", "--split must be paper or random"),
    ]:
        result = CliRunner().invoke(
            app, ["benchmark", "--data", str(tiny_dir), option, value, "--store", str(db)]
        )
        assert result.exit_code == 2 and message in " ".join(result.output.split())
        assert not db.exists()
    # The picture options do nothing without --dataset: refused, and no report is written.
    report = tmp_path / "report.html"
    for extra in (["--detector", "KNN"], ["--seed", "3", "--method", "gaussian"]):
        result = CliRunner().invoke(app, ["report", str(db), "--out", str(report), *extra])
        words = " ".join(result.output.replace("│", " ").split())  # rich boxes the message
        assert result.exit_code == 2 and "give --dataset too" in words, words
        assert extra[0] in words and not report.exists()


def test_failed_rows_record_every_cell_of_a_lost_group(tiny_dir, tmp_path):
    from llmdas.benchmark.runner import failed_rows

    with ResultStore(tmp_path / "r.db") as store:
        group = _plan(tiny_dir, store, datasets=("alpha",), detectors=("PCA",)).groups[0]
        rows = failed_rows(group, "worker failed: KilledWorker")
        assert store.insert_cells(rows) == len(group.cells) == 2
        assert {c["error"] for c in store.cells()} == {"worker failed: KilledWorker"}
        assert _plan(tiny_dir, store, datasets=("alpha",), detectors=("PCA",)).n_missing == 0
        store.delete_errors()  # what --retry-errors does
        assert _plan(tiny_dir, store, datasets=("alpha",), detectors=("PCA",)).n_missing == 2
