"""Two result stores side by side: what a change of code, defaults or machine did to the figures.

A rerun of the benchmark after a change, or on another machine, answers two questions: did any
cell move at all, and if so, which figures and which datasets. :func:`compare_stores` matches the
cells of a *before* and an *after* store on (dataset, detector, method, seed), newest row of each,
and takes only the cells that both stores computed without an error, so that the two Table-1s
differ by what changed and not by which cells ran. It gives

* how many matched cells have the same four scores to the last bit (base and enhanced AUC-PR and
  AUC-ROC), and how many ran under another configuration (code, defaults, data or split);
* the Table-1 rows (:func:`~llmdas.benchmark.summary.summarize`) of each store on those cells;
* every dataset whose seed-mean Δ (enhanced − base) moved by more than a tolerance, the largest
  move first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmdas.benchmark.store import ResultStore, cell_key
from llmdas.benchmark.summary import (
    METRICS,
    SummaryRow,
    format_p,
    markdown_table,
    metric_names,
    per_dataset_means,
    summarize,
)

__all__ = [
    "DatasetMove",
    "StoreComparison",
    "compare_stores",
    "figure_rows",
    "move_cells",
    "to_markdown",
]

SCORES = ("base_pr", "base_roc", "enh_pr", "enh_roc")


@dataclass(frozen=True)
class DatasetMove:
    """A dataset whose seed-mean Δ of one metric differs between the stores."""

    detector: str
    method: str
    metric: str  #: "AUC-PR" or "AUC-ROC"
    dataset: str
    before: float  #: Δ (enhanced − base) in the before store
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before


@dataclass
class StoreComparison:
    n_matched: int  #: cells both stores computed without an error
    n_identical: int  #: of those, with the same four scores to the last bit
    n_reconfigured: int  #: of those, run under another configuration hash
    n_failed: int  #: cells both stores hold, failed in one or both, left out
    n_only_before: int
    n_only_after: int
    rows: list[tuple[SummaryRow, SummaryRow]]  #: (before, after) per detector, method, metric
    moves: list[DatasetMove]  #: largest |change| first


def _newest_cells(path: str | Path) -> dict[tuple, dict[str, Any]]:
    with ResultStore(path, read_only=True) as store:
        cells = store.cells(latest=True)
    return {cell_key(cell): cell for cell in cells}


def compare_stores(
    before: str | Path, after: str | Path, *, metric: str = "both", tolerance: float = 5e-4
) -> StoreComparison:
    """Compare the cells two result stores share (see the module docstring).

    Raises ``ValueError`` when ``before`` and ``after`` are one store, or when no cell was
    computed without an error by both.
    """
    metrics = metric_names(metric)
    if not tolerance >= 0:  # also refuses NaN
        raise ValueError(f"tolerance must be a number >= 0, got {tolerance!r}")
    if Path(before).resolve() == Path(after).resolve():
        raise ValueError(f"{before} is named twice; compare two different result stores")
    old, new = _newest_cells(before), _newest_cells(after)
    shared = old.keys() & new.keys()
    matched = [key for key in shared if not (old[key].get("error") or new[key].get("error"))]
    if not matched:
        raise ValueError(
            f"{before} and {after} have no cell in common that both computed without an error "
            "(cells are matched on dataset, detector, method and seed)"
        )
    old_cells, new_cells = [old[key] for key in matched], [new[key] for key in matched]
    rows_after = {(r.detector, r.method, r.metric): r for r in summarize(new_cells, metric)}
    # A figure that one store could not compute (a score that is not finite) has no pair.
    rows = [
        (row, rows_after[key])
        for row in summarize(old_cells, metric)
        if (key := (row.detector, row.method, row.metric)) in rows_after
    ]
    moves = []
    for m in metrics:
        means_after = per_dataset_means(new_cells, m)
        for group, per_dataset in per_dataset_means(old_cells, m).items():
            for dataset, (base, enhanced, _) in per_dataset.items():
                if dataset not in means_after.get(group, {}):
                    continue
                base_after, enhanced_after, _ = means_after[group][dataset]
                move = DatasetMove(
                    *group, METRICS[m][2], dataset, enhanced - base, enhanced_after - base_after
                )
                if abs(move.change) > tolerance:
                    moves.append(move)
    moves.sort(key=lambda move: (-abs(move.change), move.detector, move.method, move.dataset))
    return StoreComparison(
        n_matched=len(matched),
        n_identical=sum(all(old[key][s] == new[key][s] for s in SCORES) for key in matched),
        n_reconfigured=sum(old[key]["config_hash"] != new[key]["config_hash"] for key in matched),
        n_failed=len(shared) - len(matched),
        n_only_before=len(old.keys() - new.keys()),
        n_only_after=len(new.keys() - old.keys()),
        rows=rows,
        moves=moves,
    )


FIGURE_HEADERS = ["detector", "method", "metric", "run", "Δ", "wins", "worst Δ (dataset)", "p"]
MOVE_HEADERS = ["detector", "method", "metric", "dataset", "Δ before", "Δ after", "change"]


def figure_rows(before: SummaryRow, after: SummaryRow) -> list[list[str]]:
    """One (detector, method, metric) of the two Table-1s as strings: a line per store."""
    names = [before.detector, before.method, before.metric]
    return [
        [
            *(names if run == "before" else [""] * len(names)),
            run,
            f"{row.delta:+.4f}",
            f"{row.wins}/{row.n}",
            f"{row.worst_delta:+.4f} ({row.worst_dataset})",
            format_p(row.p_value),
        ]
        for run, row in (("before", before), ("after", after))
    ]


def move_cells(move: DatasetMove) -> list[str]:
    return [
        move.detector,
        move.method,
        move.metric,
        move.dataset,
        f"{move.before:+.4f}",
        f"{move.after:+.4f}",
        f"{move.change:+.4f}",
    ]


def to_markdown(comparison: StoreComparison) -> str:
    """Both tables of a comparison in Markdown: the figures, then every dataset that moved."""
    lines = [line for pair in comparison.rows for line in figure_rows(*pair)]
    figures = markdown_table(FIGURE_HEADERS, lines)
    moves = markdown_table(MOVE_HEADERS, [move_cells(move) for move in comparison.moves])
    return f"{figures}\n{moves}"
