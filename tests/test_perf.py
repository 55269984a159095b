"""The measurement code behind `llmdas perf` (no timing assertions: figures live in docs)."""

import numpy as np
import pytest

from llmdas.benchmark import ResultStore
from llmdas.perf import make_mixture, overhead_rows, overhead_summary, run_scale_case


def test_mixture_is_deterministic_with_planted_anomalies():
    X, y = make_mixture(5000, n_features=8, seed=3)
    X2, y2 = make_mixture(5000, n_features=8, seed=3)
    assert X.shape == (5000, 8) and X.dtype == np.float32
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert y.sum() == 50 and np.isfinite(X).all()


def test_scale_case_runs_in_a_fresh_process_and_reports_memory():
    result = run_scale_case("ECOD", "enhanced", 3000, n_test=1000, fit_rows=2000, n_features=12)
    assert result.fit_rows == 2000 and result.n_features == 12 and result.peak_rss_mb > 50
    assert 0.0 < result.auc_pr <= 1.0 and 0.5 < result.auc_roc <= 1.0
    # The enhancement's own cost, measured inside the same fit: part of it, never all of it.
    assert 0.0 < result.extra_fit_s < result.fit_s
    with pytest.raises(RuntimeError, match="unknown detector"):
        run_scale_case("Nope", "base", 1000, n_test=100)


def test_test_rows_without_a_planted_anomaly_are_refused_not_scored():
    from llmdas.perf import _measure_in_process, make_mixture

    assert make_mixture(1100, 12, seed=0)[1][1000:].sum() == 0  # the case below
    with pytest.raises(ValueError, match="the 100 test rows hold 0 of the planted anomalies"):
        _measure_in_process("PCA", "base", 1000, 100, 0, n_features=12)


def test_overhead_from_a_store(tmp_path):
    path = tmp_path / "r.db"
    parts = ("t_base_fit", "t_synthesis", "t_classifier_fit", "t_scoring")
    cells = [
        ("a", "builtin", 1, None, (1.0, 0.5, 0.25, 0.25)),  # ratio 1.0
        ("a", "builtin", 2, None, (1.0, 1.0, 1.0, 1.0)),  # ratio 3.0 -> median 2.0
        ("b", "builtin", 1, None, (2.0, 0.5, 0.5, 0.0)),  # ratio 0.5
        ("b", "gaussian", 1, None, (1.0, 9.0, 9.0, 9.0)),  # other method: ignored
        ("c", "builtin", 1, "boom", (1.0, 9.0, 9.0, 9.0)),  # error: ignored
    ]
    with ResultStore(path) as store:
        # b's seed 1 under an older configuration: its newer row, below, replaces it
        stale = {"dataset": "b", "detector": "PCA", "method": "builtin", "seed": 1}
        stale |= {"config_hash": "old", "error": None, "created_at": 0.0}
        store.insert_cells([stale | dict(zip(parts, (1.0, 50.0, 50.0, 50.0), strict=True))])
        store.insert_cells(
            {"dataset": dataset, "detector": "PCA", "method": method, "seed": seed}
            | {"config_hash": "h", "error": error}
            | dict(zip(parts, times, strict=True))
            for dataset, method, seed, error, times in cells
        )
    rows = overhead_rows(path)
    assert [(r["dataset"], r["overhead"]) for r in rows] == [("a", 2.0), ("b", 0.5)]
    (summary,) = overhead_summary(rows)
    assert summary["median"] == pytest.approx(1.25) and summary["max"] == 2.0
    # Median seconds per part: per dataset over cells, then over datasets.
    assert summary["base_fit"] == pytest.approx(1.5) and summary["synthesis"] == pytest.approx(
        0.625
    )

    from typer.testing import CliRunner

    from llmdas.cli import app

    out = tmp_path / "new" / "overhead.md"  # its folder is made
    result = CliRunner().invoke(app, ["perf", "overhead", str(path), "--markdown", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[2] == (
        "| PCA | 2 | 1.25 | 1.85 | 2.00 | 1.500 | 0.625 | 0.562 | 0.312 |"
    )
    result = CliRunner().invoke(app, ["perf", "overhead", str(tmp_path / "none.db")])
    assert result.exit_code == 1 and "does not exist" in " ".join(result.output.split())


def test_perf_data_writes_the_mixture_in_every_format(tmp_path):
    from typer.testing import CliRunner

    from llmdas.cli import app
    from llmdas.data import load_dataset

    X, y = make_mixture(300, 4, seed=3)
    for name in ("m.npz", "m.csv", "m.npy", "m.parquet"):
        result = CliRunner().invoke(
            app,
            ["perf", "data", str(tmp_path / name), "--rows", "300", "--features", "4"]
            + ["--seed", "3"],
        )
        assert result.exit_code == 0, result.output
        X2, y2 = load_dataset(tmp_path / name)
        assert np.array_equal(y2, y), name
        if name == "m.csv":  # rounded to 7 significant digits
            assert np.allclose(X2, X, rtol=1e-6, atol=1e-6) and not np.array_equal(X2, X)
        else:  # the generator's float32 values, exactly
            assert np.array_equal(X2, X), name
    result = CliRunner().invoke(app, ["perf", "data", str(tmp_path / "m.txt")])
    assert result.exit_code == 1 and "use .npz, .csv, .npy or .parquet" in " ".join(
        result.output.split()
    )


@pytest.mark.parametrize(
    ("options", "code", "message"),
    [
        (["--sizes", "10x"], 2, "--sizes must be row counts >= 2"),
        (["--sizes", "1"], 2, "--sizes must be row counts >= 2"),
        (["--sizes", ","], 2, "no sizes given"),
        (["--sizes", "1000,2000,1000"], 2, "--sizes gives 1000 more than once"),
        (["--sizes", "1000", "--detectors", "FOO"], 1, "unknown detector 'FOO'"),
        (["--sizes", "1000", "--detectors", " "], 2, "no detectors given"),
        (["--sizes", "1000", "--detectors", "PCA,pca"], 2, "--detectors gives PCA more than once"),
        (
            ["--sizes", "1000", "--test-rows", "500"],
            2,
            "--test-rows': Input should be greater than or equal to 1000",
        ),
        (
            ["--sizes", "1000", "--subsample", "-1"],
            2,
            "--subsample': Input should be greater than or equal to 0",
        ),
        (["--sizes", "1000", "--markdown", "."], 1, "--markdown . is a directory"),
        (["--sizes", "1000", "--markdown", f"{__file__}/t.md"], 1, "test_perf.py is a file"),
    ],
)
def test_perf_scale_refuses_bad_input_before_running_any_case(options, code, message, monkeypatch):
    from typer.testing import CliRunner

    import llmdas.perf
    from llmdas.cli import app

    ran = []
    monkeypatch.setattr(llmdas.perf, "run_scale_case", lambda *a, **k: ran.append(a))
    result = CliRunner().invoke(app, ["perf", "scale", *options])
    words = " ".join(result.output.replace("│", " ").split())  # rich boxes usage errors
    assert result.exit_code == code and message in words, words
    assert not ran


def test_perf_scale_tabulates_every_case_and_keeps_the_others_when_one_fails(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import llmdas.perf
    from llmdas.cli import app
    from llmdas.perf import ScaleResult

    calls = []

    def fake_case(detector, mode, n, n_test, *, fit_rows=None, n_features=50):
        calls.append((detector, mode, n, fit_rows))
        if (detector, mode, n) == ("ECOD", "base", 30_000):
            raise RuntimeError(f"{detector} {mode} ran out of memory")
        seconds = n / 10_000 + (fit_rows or 0) / 1e6  # distinct per case, to find each row
        extra = seconds / 2 if mode == "enhanced" else None
        return ScaleResult(detector, mode, n, n_test, n_features, fit_rows, seconds, 0.1, 321.0,
                           0.5, 0.9, extra)  # fmt: skip

    monkeypatch.setattr(llmdas.perf, "run_scale_case", fake_case)
    out = tmp_path / "scale.md"
    options = ["--sizes", "2000,30000", "--detectors", "PCA,ECOD", "--subsample", "10000"]
    result = CliRunner().invoke(
        app, ["perf", "scale", *options, "--features", "7", "--markdown", out]
    )
    assert result.exit_code == 0, result.output
    # Every size in both modes per detector, then each detector's subsample of the largest size.
    detectors, sizes, modes = ("PCA", "ECOD"), (2000, 30_000), ("base", "enhanced")
    expected = [(d, m, n, None) for d in detectors for n in sizes for m in modes]
    expected += [(d, "enhanced", 30_000, 10_000) for d in detectors]
    assert calls == expected
    assert "failed: ECOD base ran out of memory" in " ".join(result.output.split())
    rows = [line.strip("|").split("|") for line in out.read_text().splitlines()[2:]]
    rows = [[cell.strip() for cell in row] for row in rows]
    assert [row[:4] for row in rows] == [[d, m, f"{n:,}", f"{f or n:,}"] for d, m, n, f in calls]
    by_case = {tuple(row[:4]): row[4:] for row in rows}
    assert by_case[("PCA", "enhanced", "30,000", "10,000")] == [
        "3.0", "1.5", "0.1", "321", "0.5000", "0.9000"
    ]  # fmt: skip
    assert by_case[("PCA", "base", "2,000", "2,000")][:2] == ["0.2", ""]  # no extra fit
    assert by_case[("ECOD", "base", "30,000", "30,000")] == ["failed", "", "", "", "", ""]
    assert by_case[("ECOD", "enhanced", "30,000", "30,000")][0] == "3.0"  # the next case ran
    assert "30k" in result.output and "2k" in result.output  # the terminal's short counts
