"""``llmdas perf scale``, ``perf data`` and ``perf overhead``: the speed and scale figures of
docs/performance.md (registered on the main app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from llmdas._atomic import write_text
from llmdas._cli_options import detector_list, int_list
from llmdas._terminal import compact_table, console, err_console, labelled
from llmdas.file_formats import OUTPUT_SUFFIXES, check_output_path, write_table

__all__ = ["register"]


def perf_scale(
    sizes: Annotated[
        str, typer.Option(help="Comma-separated training-row counts.")
    ] = "10000,100000,1000000",
    detectors: Annotated[str, typer.Option(help="Comma-separated detectors.")] = "IForest,ECOD,PCA",
    test_rows: Annotated[
        # 1 % of all rows are anomalies, placed at random: 1000 test rows hold none with odds
        # of 4e-5 (100 rows: 37 %), and the AUCs need at least one.
        int, typer.Option(min=1000, help="Rows scored after fitting (1 % anomalies).")
    ] = 100_000,
    subsample: Annotated[
        int, typer.Option(min=0, help="Also fit on this many rows of the largest size (0: skip).")
    ] = 100_000,
    features: Annotated[int, typer.Option(min=2, help="Columns of the generated data.")] = 50,
    markdown: Annotated[Path | None, typer.Option(help="Also write the table as Markdown.")] = None,
) -> None:
    """Time and peak memory of base vs enhanced fit + scoring on a synthetic Gaussian mixture."""
    from llmdas.benchmark.summary import markdown_table
    from llmdas.cli import check_outputs
    from llmdas.perf import run_scale_case

    check_outputs({"--markdown": markdown}, {})  # not after minutes of cases

    row_counts = int_list(sizes, "--sizes", 2, None, "row counts >= 2")
    # Checked here, not in each case's own process after the cases before it have run.
    names = detector_list(detectors)
    cases: list[tuple[str, str, int, int | None]]
    cases = [(d, mode, n, None) for d in names for n in row_counts for mode in ("base", "enhanced")]
    if subsample and max(row_counts) > subsample:
        cases += [(d, "enhanced", max(row_counts), subsample) for d in names]
    header = [
        "detector",
        "mode",
        "train rows",
        "fit rows",
        "fit s",
        "extra fit s",
        "score s",
        "peak RSS MB",
        "AUC-PR",
        "AUC-ROC",
    ]
    table = compact_table(f"Scaling: fit on N rows x {features} features, score {test_rows} rows")
    for column in header:  # two-line headers, so that the table fits 80 columns
        label = column if column.startswith("AUC") else column.replace(" ", "\n", 1)
        table.add_column(label, justify="left" if column in ("detector", "mode") else "right")
    rows: list[list[str]] = []
    for detector, mode, n, fit_rows in cases:
        console.print(
            f"running {detector} {mode} on {n} rows" + (f" (fit on {fit_rows})" if fit_rows else "")
        )
        try:
            r = run_scale_case(detector, mode, n, test_rows, fit_rows=fit_rows, n_features=features)
        except RuntimeError as exc:  # one failed case must not lose the others
            err_console.print(labelled("[bold red]failed:[/]", exc), highlight=False)
            figures = ["failed", "", "", "", "", ""]
        else:
            figures = [
                f"{r.fit_s:.1f}",
                "" if r.extra_fit_s is None else f"{r.extra_fit_s:.1f}",
                f"{r.score_s:.1f}",
                f"{r.peak_rss_mb:.0f}",
                f"{r.auc_pr:.4f}",
                f"{r.auc_roc:.4f}",
            ]
        # Markdown gets the row counts in full, the terminal as 10k / 1M.
        rows.append([detector, mode, f"{n:,}", f"{fit_rows or n:,}", *figures])
        table.add_row(detector, mode, _short_count(n), _short_count(fit_rows or n), *figures)
    console.print(table)
    if markdown is not None:
        write_text(markdown, markdown_table(header, rows))


def _short_count(n: int) -> str:
    """``n`` as 10k, 1.5M, ... where that is exact, else with thousands separators."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size and n % (size // 10) == 0:
            return f"{n / size:g}{suffix}"
    return f"{n:,}"


def perf_data(
    out: Annotated[
        Path,
        typer.Argument(
            help="File to write: .npz (X and y), or .csv / .npy / .parquet (labels last)."
        ),
    ],
    rows: Annotated[int, typer.Option(min=2, help="Rows to generate.")] = 1_000_000,
    features: Annotated[int, typer.Option(min=2, help="Columns of the generated data.")] = 50,
    seed: Annotated[
        int, typer.Option(help="Random seed of the generator.", min=0, max=2**32 - 1)
    ] = 0,
) -> None:
    """Write the scaling table's data (a Gaussian mixture, 1 % planted anomalies) to a file.

    For timing `llmdas enhance` end to end, file reading included (docs/performance.md).
    """
    from llmdas.cli import check_outputs
    from llmdas.perf import make_mixture

    check_outputs({"OUT": out}, {})
    if out.suffix not in (".npz", *OUTPUT_SUFFIXES):
        raise ValueError(f"cannot write {out.name}; use .npz, .csv, .npy or .parquet")
    if out.suffix == ".parquet":
        check_output_path(out)  # pyarrow must be installed before minutes of generating
    X, y = make_mixture(rows, features, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        np.savez(out, X=X, y=y)
    elif out.suffix == ".parquet":  # named columns, the generator's own dtypes
        write_table(out, {**{f"x{i}": X[:, i] for i in range(features)}, "label": y})
    elif out.suffix == ".npy":
        np.save(out, np.column_stack([X, y]))
    else:  # 7 significant digits keep the file small; values move by up to ~7 float32 ulps
        np.savetxt(out, np.column_stack([X, y]), delimiter=",", fmt="%.7g")
    console.print(f"wrote {rows} rows x {features} features ({int(y.sum())} anomalies) to {out}")


def perf_overhead(
    store: Annotated[Path, typer.Argument(help="Benchmark result store (SQLite).")],
    markdown: Annotated[Path | None, typer.Option(help="Also write the table as Markdown.")] = None,
) -> None:
    """Enhancement cost relative to the base fit, per detector, from a benchmark store."""
    from llmdas.benchmark.summary import markdown_table
    from llmdas.cli import check_outputs
    from llmdas.perf import OVERHEAD_PARTS, overhead_rows, overhead_summary

    check_outputs({"--markdown": markdown}, {"STORE": store})

    summary = overhead_summary(overhead_rows(store))
    if not summary:
        raise ValueError(f"{store} has no successful 'builtin' cells with timings")
    header = ["detector", "datasets", "median", "p90", "max"] + [
        f"{part} s" for part in OVERHEAD_PARTS
    ]
    table = compact_table(
        "(synthesis + classifier fit + extra scoring) / base fit, per dataset; "
        "then the median seconds of each part"
    )
    # Two-line headers in the terminal, so that the table fits 80 columns; Markdown keeps `header`.
    short = {"datasets": "n", "synthesis s": "synth.\ns", "scoring s": "score\ns"}
    for column in header:
        label = short.get(column, column.replace("_fit s", "\nfit s").replace("classifier", "clf"))
        table.add_column(label, justify="left" if column == "detector" else "right")
    rows: list[list[str]] = []
    for row in summary:
        cells = (
            [row["detector"], str(row["datasets"])]
            + [f"{row[k]:.2f}" for k in ("median", "p90", "max")]
            + [f"{row[part]:.3f}" for part in OVERHEAD_PARTS]
        )
        table.add_row(*cells)
        rows.append(cells)
    console.print(table)
    if markdown is not None:
        write_text(markdown, markdown_table(header, rows))


def register(app: typer.Typer) -> None:
    """Add ``llmdas perf`` and its three commands to the main ``llmdas`` app."""
    from llmdas.cli import user_errors

    perf_app = typer.Typer(
        help="Measure speed and scale (docs/performance.md).", no_args_is_help=True
    )
    perf_app.command("scale")(user_errors(perf_scale))
    perf_app.command("data")(user_errors(perf_data))
    perf_app.command("overhead")(user_errors(perf_overhead))
    app.add_typer(perf_app, name="perf")
