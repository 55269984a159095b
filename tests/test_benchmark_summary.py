"""Result store and Table-1 statistics, checked against hand computations on a tiny store."""

from __future__ import annotations

import csv
import math
import shutil
import sqlite3

import pytest

from llmdas.benchmark.store import ResultStore
from llmdas.benchmark.summary import (
    PAPER_TABLE1,
    per_dataset_markdown,
    summarize,
    to_markdown,
)


def _cell(dataset, seed, base_pr, enh_pr, *, detector="PCA", method="builtin", error=None):
    return {
        "dataset": dataset,
        "detector": detector,
        "method": method,
        "seed": seed,
        "config_hash": "h",
        "base_pr": base_pr,
        "enh_pr": enh_pr,
        "base_roc": base_pr + 0.2,
        "enh_roc": enh_pr + 0.2 if enh_pr is not None else None,
        "error": error,
    }


# Three datasets, two seeds. Per-dataset seed means (base, enhanced):
#   a: (0.50, 0.60)  -> delta +0.10
#   b: (0.40, 0.35)  -> delta -0.05
#   c: (0.20, 0.30)  -> delta +0.10
TINY = [
    _cell("a", 1, 0.40, 0.55),
    _cell("a", 2, 0.60, 0.65),
    _cell("b", 1, 0.40, 0.30),
    _cell("b", 2, 0.40, 0.40),
    _cell("c", 1, 0.20, 0.30),
    _cell("c", 2, 0.20, 0.30),
    # an errored cell and a base-only cell must not enter the statistics
    _cell("c", 3, 0.99, 0.0, error="boom"),
    _cell("a", 1, 0.45, None, method="none"),
]


def test_summary_matches_hand_computation():
    (row,) = [r for r in summarize(TINY, "pr") if r.method == "builtin"]
    assert row.n == 3 and row.n_cells == 6
    assert row.base == pytest.approx((0.50 + 0.40 + 0.20) / 3)
    assert row.enhanced == pytest.approx((0.60 + 0.35 + 0.30) / 3)
    assert row.delta == pytest.approx((0.10 - 0.05 + 0.10) / 3)
    assert row.rel_improvement == pytest.approx((0.10 / 0.50 - 0.05 / 0.40 + 0.10 / 0.20) / 3 * 100)
    assert row.wins == 2
    assert row.worst_delta == pytest.approx(-0.05) and row.worst_dataset == "b"
    # Paired one-tailed t-test by hand: d = (0.1, -0.05, 0.1), mean 0.05, sd = sqrt(0.0075).
    t = 0.05 / (math.sqrt(0.0075) / math.sqrt(3))
    from scipy.stats import t as student

    assert row.p_value == pytest.approx(student.sf(t, df=2), rel=1e-9)
    assert 0.0 < row.p_value < 0.5
    assert row.paper_base == PAPER_TABLE1["PCA"]["base"] and row.paper_wins == "30/36"


def test_wilcoxon_p_by_hand_with_ties_left_out():
    # Differences +0.1, -0.05, +0.2 and a tie (0): ranks of |d| 2, 1, 3 without the tie, so the
    # positive rank sum is 5. Of the 2**3 equally likely sign patterns, only {2, 3} (5) and
    # {1, 2, 3} (6) reach 5: the exact one-tailed p is 2/8.
    cells = [
        _cell("a", 0, 0.5, 0.6),
        _cell("b", 0, 0.4, 0.35),
        _cell("c", 0, 0.2, 0.4),
        _cell("d", 0, 0.3, 0.3),
    ]
    (row,) = summarize(cells, "pr")
    assert row.n == 4 and row.wins == 2
    assert row.p_wilcoxon == pytest.approx(2 / 8, rel=1e-12)
    assert "| 2/4 | 0.1708 | 0.2500 |" in to_markdown([row])  # beside the t-test's p
    (tied,) = summarize([_cell("a", 0, 0.5, 0.5), _cell("b", 0, 0.4, 0.4)], "pr")
    assert math.isnan(tied.p_wilcoxon) and math.isnan(tied.p_value)


def test_equal_means_are_a_tie_whatever_the_cell_order():
    # The enhanced seed scores of "x" are a permutation of its base scores, so the seed means are
    # equal, yet summed in seed order they differ in the last bit (enhanced > base by 1e-16).
    base = (0.4954, 0.2551, 0.7638, 0.8474, 0.1344)
    enh = (0.4954, 0.2551, 0.7638, 0.1344, 0.8474)
    cells = [_cell("x", seed, b, e) for seed, (b, e) in enumerate(zip(base, enh, strict=True))]
    cells.append(_cell("y", 0, 0.3, 0.4))
    orders = (cells, cells[::-1], cells[2:] + cells[:2])
    rows = [summarize(order, "pr")[0] for order in orders]
    assert all(r.wins == 1 for r in rows)  # "y" only
    assert len({(r.base, r.enhanced, r.delta, r.p_value) for r in rows}) == 1


def test_summary_roc_and_method_none_is_left_out():
    rows = summarize(TINY, "both")
    assert {(r.method, r.metric) for r in rows} == {("builtin", "AUC-PR"), ("builtin", "AUC-ROC")}
    (roc,) = [r for r in rows if r.metric == "AUC-ROC"]
    assert roc.base == pytest.approx((0.70 + 0.60 + 0.40) / 3)
    assert roc.delta == pytest.approx((0.10 - 0.05 + 0.10) / 3)
    assert roc.paper_base is None  # the paper reports AUC-PR only


def test_markdown_tables():
    text = to_markdown(summarize(TINY, "pr"))
    assert "| PCA | builtin | AUC-PR | 3 |" in text
    assert "2/3" in text and "-0.0500 (b)" in text
    per = per_dataset_markdown(TINY, "pr")
    assert "| b | -0.0500 |" in per and "| a | +0.1000 |" in per


def test_a_summary_file_whose_write_fails_leaves_the_old_one(tmp_path, monkeypatch):
    from llmdas.benchmark.summary import to_csv

    path = tmp_path / "table1.csv"
    to_csv(summarize(TINY, "pr"), path)
    old = path.read_bytes()

    def disk_full(self, row):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(csv.DictWriter, "writerow", disk_full)  # after the header line
    with pytest.raises(OSError, match="No space left"):
        to_csv(summarize(TINY, "both"), path)
    assert path.read_bytes() == old and [p.name for p in tmp_path.iterdir()] == ["table1.csv"]


def test_store_unique_cells_and_resume_keys(tmp_path):
    path = tmp_path / "r.db"
    rows = [dict(c) for c in TINY]
    with ResultStore(path) as store:
        assert store.insert_cells(rows) == len(rows)
        assert store.insert_cells(rows) == 0  # same keys: nothing duplicated
        assert store.count() == len(rows)
        assert len(store.existing_keys()) == len(rows)
        assert len(store.cells(errors=True)) == 1
        assert store.delete_errors() == 1
        assert store.count() == len(rows) - 1
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO cells (dataset, detector, method, seed, config_hash) VALUES (?,?,?,?,?)",
            ("a", "PCA", "builtin", 1, "h"),
        )
    conn.close()


def test_latest_keeps_newest_configuration(tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        old = dict(_cell("a", 1, 0.1, 0.2), config_hash="old", created_at=1.0)
        new = dict(_cell("a", 1, 0.3, 0.4), config_hash="new", created_at=2.0)
        store.insert_cells([new, old])
        (latest,) = store.cells(latest=True)
        assert latest["config_hash"] == "new" and latest["base_pr"] == 0.3


def test_summary_cli_writes_csv_and_markdown(tmp_path):
    from typer.testing import CliRunner

    from llmdas.cli import app

    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        store.insert_cells([dict(c) for c in TINY])
    out_csv, out_md, per = tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "per.md"
    result = CliRunner().invoke(
        app,
        [
            "summary",
            str(db),
            "--csv",
            str(out_csv),
            "--markdown",
            str(out_md),
            "--per-dataset",
            str(per),
        ],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert "builtin" in result.output
    # The base-only table: dataset a's method-none cell, AUC-PR and AUC-ROC.
    base_only = result.output[result.output.index("Base only (method none)") :].splitlines()
    assert [line.split() for line in base_only if line.split()[:2] == ["PCA", "none"]] == [
        ["PCA", "none", "AUC-PR", "1", "0.4500"],
        ["PCA", "none", "AUC-ROC", "1", "0.6500"],
    ]
    assert "(7 cells, 1 failed cell(s) left out)" in " ".join(result.output.split())
    with out_csv.open() as fh:
        table = list(csv.DictReader(fh))
    pr = next(r for r in table if r["metric"] == "AUC-PR")
    assert float(pr["delta"]) == pytest.approx(0.05)
    assert int(pr["wins"]) == 2 and pr["worst_dataset"] == "b"
    assert "AUC-ROC" in out_md.read_text() and "Δ AUC-ROC" in per.read_text()


def test_stores_of_different_seeds_pool_into_one_summary(tmp_path):
    from llmdas.benchmark.store import pooled_cells

    seed_1, seed_2 = tmp_path / "s1.db", tmp_path / "s2.db"
    with ResultStore(seed_1) as store:
        store.insert_cells([dict(c) for c in TINY if c["seed"] == 1])
    with ResultStore(seed_2) as store:
        store.insert_cells([dict(c) for c in TINY if c["seed"] != 1])
    cells, superseded = pooled_cells([seed_1, seed_2])
    assert superseded == 0 and len(cells) == len(TINY)
    ok = [c for c in cells if not c["error"]]
    (pooled,) = [r for r in summarize(ok, "pr") if r.method == "builtin"]
    assert pooled.n == 3 and pooled.n_cells == 6
    assert pooled.delta == pytest.approx(0.05) and pooled.wins == 2
    from typer.testing import CliRunner

    from llmdas.cli import app

    result = CliRunner().invoke(app, ["summary", str(seed_1), str(seed_2)])
    assert result.exit_code == 0, result.output
    assert "(7 cells, 1 failed cell(s) left out)" in " ".join(result.output.split())
    page = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(seed_1), str(seed_2), "--out", str(page)])
    assert result.exit_code == 0, result.output
    assert f"<code>{seed_1}</code>, <code>{seed_2}</code>: 8 cells (1 with errors)" in (
        page.read_text()
    )
    # A cell that both stores hold, a store named twice, or one configuration of a cell in one
    # store and another in the other cannot be pooled.
    copy = tmp_path / "copy.db"
    with ResultStore(copy) as store:
        store.insert_cells([dict(c) for c in TINY if c["seed"] == 1])
    with pytest.raises(ValueError, match=r"both hold a/PCA/builtin/seed 1; pool stores of"):
        pooled_cells([seed_1, copy])
    with pytest.raises(ValueError, match="s1.db is named twice"):
        pooled_cells([seed_1, tmp_path / "." / "s1.db"])
    other = tmp_path / "other.db"
    with ResultStore(other) as store:
        store.insert_cells([dict(_cell("a", 9, 0.1, 0.2), config_hash="changed")])
    with pytest.raises(ValueError, match="ran a/PCA/builtin under different configurations"):
        pooled_cells([seed_1, other])


@pytest.mark.parametrize(
    "command",
    [
        ["summary", "STORE", "--csv", "STORE"],
        ["summary", "STORE", "--per-dataset", "STORE"],
        ["report", "STORE", "--out", "STORE"],
        ["perf", "overhead", "STORE", "--markdown", "STORE"],
    ],
    ids=["summary-csv", "summary-per-dataset", "report", "perf-overhead"],
)
def test_a_command_never_writes_over_the_store_it_reads(command, tmp_path):
    # `llmdas summary r.db --csv r.db` replaced a benchmark's results with their summary.
    from typer.testing import CliRunner

    from llmdas.cli import app

    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        store.insert_cells([dict(c) for c in TINY])
    before = db.read_bytes()
    result = CliRunner().invoke(app, [str(db) if part == "STORE" else part for part in command])
    assert result.exit_code == 1 and "is also the STORE file" in " ".join(result.output.split())
    assert db.read_bytes() == before


def test_summary_table_is_whole_in_an_80_column_terminal(tmp_path):
    from typer.testing import CliRunner

    from llmdas.cli import app

    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        store.insert_cells([dict(c) for c in TINY])
    result = CliRunner().invoke(app, ["summary", str(db)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(map(len, lines)) <= 80
    header = next(line for line in lines if "detector" in line).split()
    assert header[:8] == ["detector", "method", "n", "base", "enh.", "Δ", "wins", "p"]
    # Every figure of the AUC-PR row whole, not folded or cut (hand-computed as above).
    row = next(line for line in lines if line.split()[:2] == ["PCA", "builtin"]).split()
    assert row[2:7] == ["3", "0.3667", "0.4167", "+0.0500", "2/3"]
    assert row[8:] == ["-0.0500", "b"]
    assert "paper's Table 1, base → Δ, wins: PCA 0.5975 → +0.0402, 30/36" in " ".join(
        result.output.split()
    )
    assert "paper: LLM-DAS Table 1" in result.output
    # The paper gives no AUC-ROC: an AUC-ROC table alone says nothing about it.
    roc = CliRunner().invoke(app, ["summary", str(db), "--metric", "roc"], env={"COLUMNS": "80"})
    assert roc.exit_code == 0 and "AUC-ROC: base vs enhanced" in roc.output
    assert "paper" not in roc.output
    assert "3 datasets. p = paired" in " ".join(roc.output.split())


def test_a_store_of_failed_cells_says_why_in_the_summary(tmp_path):
    from typer.testing import CliRunner

    from llmdas.cli import app

    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        store.insert_cells(
            [
                _cell("a", 1, 0.4, None, error="base fit failed: ValueError: [x] too few rows"),
                _cell("a", 2, 0.4, None, error="base fit failed: ValueError: [x] too few rows"),
                _cell("b", 1, 0.4, None, error="worker failed"),
            ]
        )
    result = CliRunner().invoke(app, ["summary", str(db)])
    message = " ".join(result.output.split())
    assert result.exit_code == 0, message
    assert (
        "no successful cells with enhanced scores in the store (3 cell(s) ended in an error;"
        in message
    )
    assert "the most common, in 2: base fit failed: ValueError: [x] too few rows" in message
    assert "paired one-tailed t-test" not in message  # no table whose columns need explaining


def test_compare_finds_the_cell_that_moved_and_the_figures_it_moved(tmp_path):
    from typer.testing import CliRunner

    from llmdas.benchmark.compare import compare_stores
    from llmdas.cli import app

    before, after = tmp_path / "before.db", tmp_path / "after.db"
    with ResultStore(before) as store:
        store.insert_cells([dict(c) for c in TINY])
    # After: dataset b's second seed gains 0.10 (its Δ -0.05 -> 0), under a new configuration;
    # a new seed of a, and a cell that fails now but not before.
    moved = [
        dict(c, enh_pr=0.50, enh_roc=0.70, config_hash="new") if (c["dataset"], c["seed"]) == ("b", 2)
        else dict(c, error="boom") if (c["dataset"], c["seed"]) == ("c", 2)
        else dict(c)
        for c in TINY
    ]  # fmt: skip
    with ResultStore(after) as store:
        store.insert_cells(moved + [_cell("a", 5, 0.5, 0.5)])
    result = compare_stores(before, after)
    # 8 cells in both; c/3 failed in both and c/2 in after; the method-none cell has no Δ.
    assert (result.n_matched, result.n_failed, result.n_only_before, result.n_only_after) == (
        6,
        2,
        0,
        1,
    )
    assert (result.n_identical, result.n_reconfigured) == (5, 1)
    assert [(m.metric, m.dataset, round(m.before, 4), round(m.after, 4)) for m in result.moves] == [
        ("AUC-PR", "b", -0.05, 0.0),
        ("AUC-ROC", "b", -0.05, 0.0),
    ]
    # On the matched cells (c: seed 1 only): Δ a +0.10, b -0.05 -> 0, c +0.10.
    (pr_before, pr_after), _ = [(b, a) for b, a in result.rows if b.method == "builtin"]
    assert pr_before.delta == pytest.approx(0.05) and pr_after.delta == pytest.approx(0.2 / 3)
    assert (pr_before.wins, pr_after.wins) == (2, 2)
    assert (pr_before.worst_dataset, pr_after.worst_dataset) == ("b", "b")
    assert compare_stores(before, after, tolerance=0.06).moves == []

    markdown = tmp_path / "compare.md"
    cli = CliRunner().invoke(app, ["compare", str(before), str(after), "--markdown", str(markdown)])
    text = " ".join(cli.output.split())
    assert cli.exit_code == 0, text
    assert "6 cells in both stores: 5 with the same scores to the last bit, 1 run under" in text
    assert f"1 only in {after}; 2 failed in one or both, left out" in text
    assert "| PCA | builtin | AUC-PR | b | -0.0500 | +0.0000 | +0.0500 |" in markdown.read_text()
    copy = tmp_path / "copy.db"
    shutil.copy(before, copy)
    cli = CliRunner().invoke(app, ["compare", str(before), str(copy)])
    text = " ".join(cli.output.split())
    assert cli.exit_code == 0, text
    assert "7 cells in both stores: 7 with the same scores to the last bit, 0 run" in text
    assert "no dataset's Δ moved by more than 0.0005" in text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["SAME", "SAME"], "is named twice; compare two different result stores"),
        (["SAME", "EMPTY"], "have no cell in common that both computed without an error"),
        (["SAME", "EMPTY", "--tolerance", "-1"], "tolerance must be a number >= 0, got -1.0"),
        (["SAME", "EMPTY", "--metric", "f1"], "--metric must be pr, roc or both"),
    ],
)
def test_compare_refuses_what_it_cannot_compare(arguments, message, tmp_path):
    from typer.testing import CliRunner

    from llmdas.cli import app

    same, empty = tmp_path / "same.db", tmp_path / "empty.db"
    with ResultStore(same) as store:
        store.insert_cells([dict(c) for c in TINY])
    ResultStore(empty).close()
    paths = {"SAME": str(same), "EMPTY": str(empty)}
    result = CliRunner().invoke(app, ["compare", *(paths.get(a, a) for a in arguments)])
    assert result.exit_code != 0
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
