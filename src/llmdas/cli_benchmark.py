"""``llmdas benchmark``, ``summary``, ``compare`` and ``report`` (registered on the main app).

Heavy imports (numpy, scikit-learn, dask, matplotlib) happen inside the commands, so that
``llmdas --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import functools
import shlex
import signal
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmdas._atomic import write_text
from llmdas._cli_options import comma_list, detector_list, int_list, seconds_option
from llmdas._terminal import compact_table, console, err_console, labelled, literal
from llmdas.file_formats import DATASET_FORMATS

if TYPE_CHECKING:
    from llmdas.benchmark.summary import SummaryRow

__all__ = ["register"]


DEFAULT_DETECTORS = "PCA,IForest,OCSVM,ECOD"
DEFAULT_METHODS = "builtin,gaussian,uniform,smote"
DEFAULT_SEEDS = "42,0,100,17,21"


def _user_errors(func):
    from llmdas.cli import user_errors

    return user_errors(func)


def benchmark(
    data: Annotated[
        Path | None,
        typer.Option(
            help=f"Directory of datasets ({DATASET_FORMATS}); default: $LLMDAS_DATA or "
            "../shared/datasets."
        ),
    ] = None,
    detectors: Annotated[str, typer.Option(help="Comma-separated detectors.")] = DEFAULT_DETECTORS,
    methods: Annotated[
        str,
        typer.Option(
            help="Comma-separated methods: builtin, builtin:DETECTOR, program:FILE, none, or a "
            "baseline (gaussian, uniform, smote, adbench_local, adbench_global, "
            "adbench_dependency, adbench_clustered)."
        ),
    ] = DEFAULT_METHODS,
    seeds: Annotated[str, typer.Option(help="Comma-separated random seeds.")] = DEFAULT_SEEDS,
    split: Annotated[
        str, typer.Option(help="paper: first half of the inliers trains; random: seeded half.")
    ] = "paper",
    store: Annotated[Path, typer.Option(help="SQLite result store (created or resumed).")] = Path(
        "results.db"
    ),
    datasets: Annotated[
        str | None, typer.Option(help="Comma-separated dataset names (default: all in --data).")
    ] = None,
    jobs: Annotated[int, typer.Option(help="Parallel worker processes.")] = 1,
    backend: Annotated[str, typer.Option(help="loky (local processes), dask or ray.")] = "loky",
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="dask scheduler address (host:port) or Ray cluster address (host:port, auto); "
            "none: start a local cluster of --jobs workers."
        ),
    ] = None,
    programs: Annotated[
        Path | None,
        typer.Option(help="A program store directory: adds method store:<dirname>."),
    ] = None,
    cross: Annotated[
        bool, typer.Option(help="Also run every detector's built-in program on every other one.")
    ] = False,
    program_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds a synthesis program may run in each cell (default: EnhancedDetector's, "
            "120). A limit only: cells are the same cells whatever it is, so --retry-errors "
            "reruns those that timed out."
        ),
    ] = None,
    retry_errors: Annotated[
        bool, typer.Option(help="Recompute the cells that ended in an error before.")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Show the plan and exit.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar (for CI logs).")] = False,
) -> None:
    """Benchmark base vs enhanced detectors; results go to a resumable SQLite store."""
    from llmdas.benchmark import ResultStore, make_plan, parse_methods
    from llmdas.benchmark.cells import Plan
    from llmdas.cli import check_outputs

    if jobs < 1:
        raise typer.BadParameter("--jobs must be >= 1")
    seconds_option(program_timeout, "--program-timeout")
    if backend not in ("loky", "dask", "ray"):
        raise typer.BadParameter("--backend must be loky, dask or ray")
    if scheduler is not None and backend == "loky":
        raise typer.BadParameter("--scheduler needs --backend dask or ray")
    if split not in ("paper", "random"):
        raise typer.BadParameter("--split must be paper or random")
    directory, names = _datasets(data, datasets)
    dets = detector_list(detectors)
    method_specs = parse_methods(methods, detectors=dets, programs_dir=programs, cross=cross)
    # Before the store is created, so that bad input leaves no file behind.
    seed_list = int_list(seeds, "--seeds", 0, 2**32 - 1, "integers in [0, 2**32 - 1]")
    check_outputs({"--store": store}, {})

    def planned(existing: set) -> Plan:
        plan = make_plan(
            data_dir=directory,
            datasets=names,
            detectors=dets,
            methods=method_specs,
            seeds=seed_list,
            split=split,
            existing=existing,
            blas_threads=1 if (jobs > 1 or backend != "loky") else None,
            program_timeout=program_timeout,
        )
        where = f"loky x{jobs}" if backend == "loky" else f"{backend} {scheduler or 'local'}"
        console.print(
            f"[bold]benchmark[/]: {len(names)} datasets × {len(dets)} detectors, "
            f"{plan.n_planned} cells planned, {plan.n_planned - plan.n_missing} already in "
            f"{store}, {plan.n_missing} to compute in {len(plan.groups)} groups ({where})",
            highlight=False,
        )
        return plan

    if dry_run:  # the plan only: the store is read, if it is there, and never written
        existing = set()
        if store.exists():
            with ResultStore(store, read_only=True) as results:
                existing = results.existing_keys(with_errors=not retry_errors)
        for group in planned(existing).groups:
            console.print(f"  {group.label}: {len(group.cells)} cells, cost {group.cost:.1f}")
        return

    with ResultStore(store) as results:
        if retry_errors:
            removed = results.delete_errors()
            if removed and not quiet:
                console.print(f"removed {removed} failed cell(s) to retry them")
        plan = planned(results.existing_keys())
        if not plan.groups:
            console.print("nothing to do: every cell is stored")
            return
        _warn_of_live_runs(results, store)
        if scheduler is None:  # local workers: loky's, or a LocalCluster's
            _warn_of_more_jobs_than_cores(jobs)
        command = "llmdas " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        stored_before = results.count()
        try:
            with _sigterm_as_interrupt():
                result = _run_with_progress(plan, results, jobs, backend, scheduler, command, quiet)
        except KeyboardInterrupt:  # each finished group is committed: say so, and how to go on
            stored = results.count() - stored_before
            err_console.print(
                f"interrupted: {stored} of the {plan.n_missing} cells to compute are stored in "
                f"{store}; run the same command again to compute the other "
                f"{plan.n_missing - stored}",
                highlight=False,
            )
            raise typer.Exit(code=130) from None
    _print_run_report(result, quiet=quiet)


def _datasets(data: Path | None, datasets: str | None) -> tuple[Path, list[str]]:
    """The data directory (--data, else $LLMDAS_DATA or ../shared/datasets) and the names of
    the datasets to run (--datasets, else every one there); each must be there."""
    from llmdas.benchmark.cells import dataset_path, list_dataset_names
    from llmdas.data import required_data_dir

    directory = required_data_dir(data)
    if datasets is None:
        names = list_dataset_names(directory)
        if not names:
            raise FileNotFoundError(f"no datasets ({DATASET_FORMATS}) in {directory}")
        return directory, names
    # An empty list is not "all of them".
    names = comma_list(datasets, "--datasets", hint=" (leave --datasets out to run them all)")
    for name in names:
        dataset_path(directory, name)  # a name that is not there raises FileNotFoundError
    return directory, names


def _warn_of_more_jobs_than_cores(jobs: int) -> None:
    """Workers beyond the cores share them, each with its own copy of the data in memory."""
    from joblib import cpu_count  # the cores this process may use (affinity, cgroup quota)

    cores = cpu_count()
    if jobs > cores:
        err_console.print(
            f"warning: --jobs {jobs} starts more workers than the {cores} core(s) this process "
            "may use: they take turns on them, each holding its own copy of a dataset; expect no "
            f"speed-up over --jobs {cores}, and more memory",
            highlight=False,
        )


def _warn_of_live_runs(results, store: Path) -> None:
    """Say so when another process is running a benchmark into the same store: each computes
    every cell it planned, so the cells both planned are computed twice (and stored once)."""
    for run in results.live_runs():
        host, _, pid = run["runner"].rpartition(":")
        here = host == socket.gethostname()
        where = "this machine" if here else host
        state = (
            "is still running"
            if here
            else "is marked running (its machine cannot be checked from here)"
        )
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(run["started_at"]))
        err_console.print(
            f"warning: run {run['run_id']} of {store} (process {pid} on {where}, started "
            f"{started}) {state}; cells that both runs still need are computed by both. To "
            "spread one benchmark over more cores or machines, use --jobs or --backend dask or ray",
            highlight=False,
        )


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Treat SIGTERM (``kill``, a job scheduler's time limit) like Ctrl-C while the run lasts.

    Python's default SIGTERM ends the process at once: the run stayed marked "running" in the
    store and the worker processes went on with their cells, unattended. As a KeyboardInterrupt
    it takes Ctrl-C's path, which stops the workers and marks the run interrupted.
    """

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (benchmark called from a thread): leave it
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_with_progress(plan, results, jobs, backend, scheduler, command, quiet):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from llmdas.benchmark import run_plan

    run = functools.partial(
        run_plan, plan, results, jobs=jobs, backend=backend, scheduler=scheduler, command=command
    )

    def show_errors(group, rows, printer):
        for row in rows:
            if row.get("error"):
                cell = f"{row['dataset']}/{row['detector']}/{row['method']}/seed {row['seed']}"
                printer(labelled("[red]error[/]", f"{cell}: {row['error']}"))

    if quiet or not console.is_terminal:
        # --quiet: errors and the final report only. Not a terminal (a log file): one plain line
        # per finished group instead of a live bar.
        done = [0]
        started = time.perf_counter()

        def on_group(group, rows):
            done[0] += len(rows)
            show_errors(group, rows, lambda text: err_console.print(text, highlight=False))
            if not quiet:
                elapsed = time.perf_counter() - started
                eta = elapsed / done[0] * (plan.n_missing - done[0])
                console.print(
                    f"{done[0]}/{plan.n_missing} cells, elapsed {elapsed:.0f} s, "
                    f"ETA {eta:.0f} s: {group.label}",
                    highlight=False,
                    soft_wrap=True,
                )

        return run(on_group=on_group)

    with Progress(
        TextColumn("[bold]cells"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.description}"),
        console=console,
    ) as progress:
        task = progress.add_task("", total=plan.n_missing)

        def on_group(group, rows):
            show_errors(group, rows, progress.console.print)
            progress.update(task, advance=len(rows), description=f"last: {group.label}")

        return run(on_group=on_group)


def _print_run_report(result, *, quiet: bool, top: int = 10) -> None:
    from llmdas.benchmark.summary import cell_cost

    rows = result["rows"]
    rate = result["n_done"] / result["wall_s"] if result["wall_s"] > 0 else 0.0
    console.print(
        f"computed {result['n_done']} cells ({result['n_errors']} errors) in "
        f"{result['wall_s']:.1f} s ({rate:.2f} cells/s)",
        highlight=False,
    )
    slow = sorted((r for r in rows if r.get("t_cell") is not None), key=cell_cost, reverse=True)
    if slow:
        table = compact_table(
            f"Slowest cells (top {min(top, len(slow))}; seconds; the base fit and its scoring "
            "are counted on the cell that paid for them, '-' where shared; synth. = synthesis, "
            "clf = classifier fit, score = enhanced scoring)"
        )
        for column in ("dataset", "detector", "method", "seed", "total", "base\nfit",
                       "base\nscore", "synth.", "clf", "score"):  # fmt: skip
            text = column in ("dataset", "detector", "method")
            table.add_column(column, justify="left" if text else "right", overflow="fold")
        for r in slow[:top]:
            shared = bool(r.get("base_shared"))
            table.add_row(
                r["dataset"],
                r["detector"],
                r["method"],
                str(r["seed"]),
                f"{cell_cost(r):.1f}",
                "-" if shared else _sec(r.get("t_base_fit")),
                "-" if shared else _sec(r.get("t_base_score")),
                _sec(r.get("t_synthesis")),
                _sec(r.get("t_classifier_fit")),
                _sec(r.get("t_scoring")),
            )
        console.print(table)
    if result["n_errors"]:
        console.print(
            f"[yellow]{result['n_errors']} cell(s) ended in an error[/] (recorded in the store; "
            "rerun with --retry-errors to try them again)"
        )


def _error_hint(cells: list[dict]) -> str:
    """The most common error among ``cells``, as a hint of what went wrong."""
    from collections import Counter

    errors = Counter(c["error"] for c in cells if c.get("error"))
    (error, count), *_ = errors.most_common(1)
    return f"; the most common, in {count}: {error}"


def _sec(value) -> str:
    return "" if value is None else f"{value:.2f}"


_StoresArgument = Annotated[
    list[Path],
    typer.Argument(
        help="Result store(s) written by llmdas benchmark; several are pooled (e.g. one per set "
        "of seeds)."
    ),
]


_MetricOption = Annotated[str, typer.Option(help="pr, roc or both.")]


def _check_metric(metric: str) -> None:
    """Refuse a ``--metric`` before any store is read (the tables take pr, roc or both)."""
    from llmdas.benchmark.summary import metric_names

    try:
        metric_names(metric)
    except ValueError as err:
        raise typer.BadParameter(f"--{err}") from None


def _store_inputs(stores: list[Path]) -> dict[str, Path | None]:
    """The stores as :func:`~llmdas.cli.check_outputs` inputs: STORE, or STORE 1, STORE 2, ..."""
    if len(stores) == 1:
        return {"STORE": stores[0]}
    return {f"STORE {i}": path for i, path in enumerate(stores, 1)}


def summary(
    stores: _StoresArgument,
    csv: Annotated[Path | None, typer.Option("--csv", help="Write the table as CSV.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the table as Markdown.")] = None,
    metric: _MetricOption = "both",
    per_dataset: Annotated[
        Path | None,
        typer.Option(help="Write a per-dataset Δ table (Markdown) for each metric chosen."),
    ] = None,
) -> None:
    """Table 1 from result stores: base vs enhanced per detector and method."""
    from llmdas.benchmark.store import pooled_cells
    from llmdas.benchmark.summary import (
        base_only,
        per_dataset_markdown,
        summarize,
        to_csv,
        to_markdown,
    )
    from llmdas.cli import check_outputs

    _check_metric(metric)
    check_outputs(
        {"--csv": csv, "--markdown": markdown, "--per-dataset": per_dataset},
        _store_inputs(stores),
    )
    cells, superseded = pooled_cells(stores)
    if superseded:
        err_console.print(
            f"[yellow]note:[/] {'the stores hold' if len(stores) > 1 else 'the store holds'} "
            f"{superseded} older cell(s) of another "
            "configuration (code or defaults changed); the newest row of each cell is used, so "
            "a partly rerun store mixes configurations"
        )
    ok = [c for c in cells if not c.get("error")]
    n_errors = len(cells) - len(ok)
    rows = summarize(ok, metric)
    left_out = f", {n_errors} failed cell(s) left out" if n_errors else ""
    paper_shown = _print_summary_tables(rows, f"{len(ok)} cells{left_out}")
    if not rows:
        failed = f" ({n_errors} cell(s) ended in an error{_error_hint(cells)})" if n_errors else ""
        console.print(literal(f"no successful cells with enhanced scores in the store{failed}"))
    _print_base_only(base_only(ok, metric))
    if rows:  # what the tables' columns mean
        n_datasets = len({c["dataset"] for c in ok})
        # The paper's Table 1 has AUC-PR only: no paper line after an AUC-ROC table.
        paper_note = (
            "paper: LLM-DAS Table 1 (AUC-PR means over its 36 datasets, LLM-written programs); "
            f"ours: {n_datasets} datasets."
            if paper_shown
            else f"{n_datasets} datasets."
        )
        console.print(
            f"{paper_note} p = paired one-tailed t-test over per-dataset seed means; the mean "
            "relative gain (Δ/base) and the Wilcoxon signed-rank test's p are in --csv and "
            "--markdown.",
            style="dim",
        )
    if csv is not None:
        to_csv(rows, csv)
        console.print(f"wrote {csv}")
    if markdown is not None:
        write_text(markdown, to_markdown(rows))
        console.print(f"wrote {markdown}")
    if per_dataset is not None:
        metrics = ["pr", "roc"] if metric == "both" else [metric]
        text = "\n".join(per_dataset_markdown(ok, m) for m in metrics)
        write_text(per_dataset, text)
        console.print(f"wrote {per_dataset}")


def _print_summary_tables(rows: list[SummaryRow], cells_text: str) -> bool:
    """One table per metric of ``rows``, each followed by the paper's figures where it has
    them; returns whether any were shown. ``cells_text`` says which cells the tables hold."""
    from llmdas.benchmark.summary import table_cells

    paper_shown = False
    for label in dict.fromkeys(r.metric for r in rows):
        # The metric is in the title and the paper's figures, one set per detector, follow the
        # table instead of filling a column, so that the table fits an 80-column terminal.
        table = compact_table(f"{label}: base vs enhanced ({cells_text})")
        headers = ["detector", "method", "n", "base", "enh.", "Δ", "wins", "p"]
        for i, header in enumerate(headers):
            table.add_column(header, justify="left" if i < 2 else "right", no_wrap=True)
        table.add_column("worst Δ (dataset)", overflow="ellipsis", min_width=8)
        paper = {}
        for row in (r for r in rows if r.metric == label):
            text = table_cells(row)
            colour = "green" if row.delta > 0 else "red" if row.delta < 0 else "white"
            text[6] = f"[{colour}]{text[6]}[/]"
            worst = f"{row.worst_delta:+.4f} {row.worst_dataset}"  # wraps before the name
            table.add_row(*text[:2], *text[3:7], *text[8:10], worst)
            if row.paper_base is not None:
                paper[row.detector] = text[-1]
        console.print(table)
        if paper:
            listed = "; ".join(f"{det} {figures}" for det, figures in paper.items())
            console.print(f"paper's Table 1, base → Δ, wins: {listed}", style="dim")
            paper_shown = True
    return paper_shown


def _print_base_only(plain: list[dict]) -> None:
    """The base detectors' means of the cells run with method ``none``, if there are any."""
    if not plain:
        return
    table = compact_table("Base only (method none)")
    for column in ("detector", "method", "metric", "datasets", "base"):
        table.add_column(column)
    for item in plain:
        table.add_row(
            item["detector"], item["method"], item["metric"], str(item["n"]), f"{item['base']:.4f}"
        )
    console.print(table)


def compare(
    before: Annotated[Path, typer.Argument(help="Result store of the earlier run.")],
    after: Annotated[Path, typer.Argument(help="Result store of the later run.")],
    metric: _MetricOption = "both",
    tolerance: Annotated[
        float,
        typer.Option(help="List a dataset when its seed-mean Δ moved by more than this."),
    ] = 5e-4,
    top: Annotated[int, typer.Option(min=0, help="Datasets listed at most (0: all).")] = 20,
    markdown: Annotated[
        Path | None, typer.Option(help="Write both tables, every moved dataset, as Markdown.")
    ] = None,
) -> None:
    """Compare two result stores: which cells kept their scores, and how the figures moved."""
    from llmdas.benchmark.compare import (
        FIGURE_HEADERS,
        MOVE_HEADERS,
        compare_stores,
        figure_rows,
        move_cells,
        to_markdown,
    )
    from llmdas.cli import check_outputs

    _check_metric(metric)
    check_outputs({"--markdown": markdown}, {"BEFORE": before, "AFTER": after})
    result = compare_stores(before, after, metric=metric, tolerance=tolerance)
    one_side = [
        f"{n} only in {path}"
        for n, path in ((result.n_only_before, before), (result.n_only_after, after))
        if n
    ]
    if result.n_failed:
        one_side.append(f"{result.n_failed} failed in one or both, left out")
    console.print(
        literal(
            f"{result.n_matched} cells in both stores: {result.n_identical} with the same scores "
            f"to the last bit, {result.n_reconfigured} run under another configuration"
            + "".join(f"; {text}" for text in one_side)
        )
    )
    for label in dict.fromkeys(before_row.metric for before_row, _ in result.rows):
        table = compact_table(f"{label}: before → after, on the cells of both")
        for header in FIGURE_HEADERS:
            if header != "metric":
                table.add_column(
                    header, justify="right" if header in ("Δ", "wins", "p") else "left"
                )
        for pair in result.rows:
            if pair[0].metric == label:
                for line in figure_rows(*pair):
                    table.add_row(*map(literal, line[:2] + line[3:]))
        console.print(table)
    if not result.moves:
        console.print(f"no dataset's Δ moved by more than {tolerance:g}")
    else:
        shown = result.moves[:top] if top else result.moves
        count = f"{len(shown)} of {len(result.moves)}" if len(shown) < len(result.moves) else ""
        table = compact_table(
            f"Datasets whose Δ moved by more than {tolerance:g}"
            + (f" (the largest {count}; --top 0 for all)" if count else "")
        )
        for i, header in enumerate(MOVE_HEADERS):
            table.add_column(header, justify="left" if i < 4 else "right", no_wrap=True)
        for move in shown:
            table.add_row(*map(literal, move_cells(move)))
        console.print(table)
    if markdown is not None:
        write_text(markdown, to_markdown(result))
        console.print(f"wrote {markdown}")


def report(
    stores: _StoresArgument,
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    dataset: Annotated[
        str | None,
        typer.Option(help="Dataset for the KDE and t-SNE pictures (refits one cell)."),
    ] = None,
    detector: Annotated[
        str | None, typer.Option(help="Detector for those pictures (default: first stored).")
    ] = None,
    method: Annotated[
        str | None, typer.Option(help="Method for those pictures (default: builtin).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for those pictures.")] = None,
    data: Annotated[
        Path | None, typer.Option(help="Dataset directory (default: the one of the last run).")
    ] = None,
) -> None:
    """Render a self-contained HTML report (tables, Δ charts, KDE and t-SNE of one dataset)."""
    from llmdas.benchmark.report import build_report
    from llmdas.cli import check_outputs
    from llmdas.detectors import canonical_name

    # These options only choose the refitted pictures; without --dataset there are none.
    for_pictures = {"--detector": detector, "--method": method, "--seed": seed, "--data": data}
    ignored = [option for option, value in for_pictures.items() if value is not None]
    if dataset is None and ignored:
        raise typer.BadParameter(
            f"{', '.join(ignored)}: set only for the pictures of --dataset; give --dataset too"
        )
    check_outputs({"--out": out}, _store_inputs(stores))
    path = build_report(
        stores,
        out,
        dataset=dataset,
        detector=canonical_name(detector) if detector else None,
        method=method or "builtin",
        seed=seed,
        data_dir=data,
    )
    console.print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


def register(app: typer.Typer) -> None:
    """Add the four commands to the main ``llmdas`` app."""
    app.command("benchmark")(_user_errors(benchmark))
    app.command("summary")(_user_errors(summary))
    app.command("compare")(_user_errors(compare))
    app.command("report")(_user_errors(report))
