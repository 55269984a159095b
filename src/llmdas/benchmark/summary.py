"""Table 1 of the paper from a result store: per detector and method, base vs enhanced.

For every (detector, method) and metric (AUC-PR, AUC-ROC) the cells are first averaged over seeds
per dataset; the statistics are then taken over datasets:

* ``base``, ``enhanced``: means over datasets;
* ``delta``: mean of the per-dataset differences (enhanced - base);
* ``rel_improvement``: mean over datasets of (enhanced - base) / base, in percent (datasets with a
  base of 0 are left out of this mean);
* ``wins``: datasets with a positive difference, out of ``n`` (a difference within ``TIE`` of 0,
  i.e. rounding noise of equal means, is a tie, not a win);
* ``p_value``: paired one-tailed t-test ``scipy.stats.ttest_rel(enhanced, base,
  alternative="greater")`` over the per-dataset means (NaN with fewer than two datasets or when
  every difference is equal): the paper's test;
* ``p_wilcoxon``: one-tailed Wilcoxon signed-rank test ``scipy.stats.wilcoxon(differences,
  alternative="greater")`` over the same per-dataset differences less the ties (NaN when every
  difference is a tie): ADBench's test, which asks how consistently the enhanced detector wins
  rather than how large its mean gain is, so a few large gains or losses weigh less than in the
  t-test;
* ``worst_delta`` and ``worst_dataset``: the most negative per-dataset difference.

Only cells without an error enter the statistics, and a dataset counts for a (detector, method)
only with the seeds where both base and enhanced scores exist. Seed means are taken in a fixed
(seed) order, so the figures do not depend on the order in which a store holds its cells. The
paper's own Table 1 numbers (AUC-PR, 36 datasets) are given beside ours for reference.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llmdas._atomic import replacing

__all__ = [
    "PAPER_TABLE1",
    "TIE",
    "cell_cost",
    "format_p",
    "markdown_table",
    "metric_names",
    "SummaryRow",
    "per_dataset_deltas",
    "per_dataset_markdown",
    "summarize",
    "to_csv",
    "to_markdown",
]

#: Per-dataset differences closer to 0 than this count as ties (floating-point noise of means).
TIE = 1e-12

#: The paper's Table 1 (AUC-PR, 36 datasets): base mean, mean improvement, wins out of 36.
PAPER_TABLE1: dict[str, dict[str, float]] = {
    "PCA": {"base": 0.5975, "delta": 0.0402, "wins": 30, "n": 36},
    "IForest": {"base": 0.5724, "delta": 0.0617, "wins": 26, "n": 36},
    "OCSVM": {"base": 0.5295, "delta": 0.0723, "wins": 25, "n": 36},
    "ECOD": {"base": 0.5376, "delta": 0.0512, "wins": 28, "n": 36},
    "DRL": {"base": 0.7437, "delta": 0.0412, "wins": 25, "n": 36},
}

METRICS = {"pr": ("base_pr", "enh_pr", "AUC-PR"), "roc": ("base_roc", "enh_roc", "AUC-ROC")}


@dataclass
class SummaryRow:
    detector: str
    method: str
    metric: str  #: "AUC-PR" or "AUC-ROC"
    n: int  #: datasets
    n_cells: int
    base: float
    enhanced: float
    delta: float
    rel_improvement: float  #: percent
    wins: int
    p_value: float
    p_wilcoxon: float
    worst_delta: float
    worst_dataset: str
    paper_base: float | None = None
    paper_delta: float | None = None
    paper_wins: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def metric_names(metric: str) -> list[str]:
    """The metric keys that ``metric`` (pr, roc or both) names; ``ValueError`` for anything else."""
    if metric == "both":
        return ["pr", "roc"]
    if metric not in METRICS:
        raise ValueError(f"metric must be pr, roc or both, got {metric!r}")
    return [metric]


def per_dataset_means(
    cells: list[dict[str, Any]], metric: str
) -> dict[tuple[str, str], dict[str, tuple[float, float, int]]]:
    """``{(detector, method): {dataset: (mean base, mean enhanced, n seeds)}}`` for one metric."""
    base_col, enh_col, _ = METRICS[metric]
    grouped: dict[tuple[str, str, str], list[tuple[Any, float, float]]] = defaultdict(list)
    for cell in cells:
        if cell.get("error"):
            continue
        base, enh = cell.get(base_col), cell.get(enh_col)
        if base is None or enh is None or not (math.isfinite(base) and math.isfinite(enh)):
            continue
        key = (cell["detector"], cell["method"], cell["dataset"])
        grouped[key].append((str(cell.get("seed")), base, enh))
    out: dict[tuple[str, str], dict[str, tuple[float, float, int]]] = defaultdict(dict)
    for (det, method, dataset), rows in grouped.items():
        arr = np.asarray([pair for _, *pair in sorted(rows)], dtype=float)
        out[(det, method)][dataset] = (float(arr[:, 0].mean()), float(arr[:, 1].mean()), len(arr))
    return dict(out)


def _order_key(detector: str, method: str) -> tuple:
    from llmdas.detectors import DETECTOR_NAMES

    det_rank = DETECTOR_NAMES.index(detector) if detector in DETECTOR_NAMES else len(DETECTOR_NAMES)
    fixed = ["builtin", "gaussian", "uniform", "smote"]
    method_rank = fixed.index(method) if method in fixed else len(fixed)
    return (det_rank, detector, method_rank, method)


def summarize(cells: list[dict[str, Any]], metric: str = "both") -> list[SummaryRow]:
    """Table-1 rows, one per (detector, method, metric) (see the module docstring)."""
    from scipy.stats import ttest_rel, wilcoxon

    rows: list[SummaryRow] = []
    for m in metric_names(metric):
        label = METRICS[m][2]
        means = per_dataset_means(cells, m)
        for det, method in sorted(means, key=lambda k: _order_key(*k)):
            per_ds = means[(det, method)]
            names = sorted(per_ds)
            base = np.array([per_ds[d][0] for d in names])
            enh = np.array([per_ds[d][1] for d in names])
            delta = enh - base
            positive = base > 0
            rel = (
                float(np.mean(delta[positive] / base[positive]) * 100)
                if positive.any()
                else math.nan
            )
            if len(names) >= 2 and np.ptp(delta) > 0:
                p_value = float(ttest_rel(enh, base, alternative="greater").pvalue)
            else:
                p_value = math.nan
            untied = delta[np.abs(delta) > TIE]
            p_wilcoxon = (
                float(wilcoxon(untied, alternative="greater").pvalue) if untied.size else math.nan
            )
            worst = int(np.argmin(delta))
            paper = PAPER_TABLE1.get(det) if (m == "pr" and method == "builtin") else None
            rows.append(
                SummaryRow(
                    detector=det,
                    method=method,
                    metric=label,
                    n=len(names),
                    n_cells=int(sum(per_ds[d][2] for d in names)),
                    base=float(base.mean()),
                    enhanced=float(enh.mean()),
                    delta=float(delta.mean()),
                    rel_improvement=rel,
                    wins=int((delta > TIE).sum()),
                    p_value=p_value,
                    p_wilcoxon=p_wilcoxon,
                    worst_delta=float(delta[worst]),
                    worst_dataset=names[worst],
                    paper_base=paper["base"] if paper else None,
                    paper_delta=paper["delta"] if paper else None,
                    paper_wins=f"{paper['wins']}/{paper['n']}" if paper else None,
                )
            )
    return rows


def base_only(cells: list[dict[str, Any]], metric: str = "both") -> list[dict[str, Any]]:
    """Mean base scores per detector for methods without enhanced scores (``none``)."""
    out = []
    for m in metric_names(metric):
        base_col, enh_col, label = METRICS[m]
        per: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for cell in cells:
            if cell.get("error") or cell.get(enh_col) is not None or cell.get(base_col) is None:
                continue
            per[(cell["detector"], cell["method"])][cell["dataset"]].append(cell[base_col])
        for (det, method), by_ds in sorted(per.items(), key=lambda kv: _order_key(*kv[0])):
            means = [float(np.mean(v)) for v in by_ds.values()]
            out.append(
                {
                    "detector": det,
                    "method": method,
                    "metric": label,
                    "n": len(means),
                    "base": float(np.mean(means)),
                }
            )
    return out


# --------------------------------------------------------------------------------- formatting
def _fmt(value: Any, spec: str = ".4f") -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return format(value, spec)
    return str(value)


def format_p(p: float) -> str:
    """A p-value as the tables print it: scientific below 0.001, "n/a" when undefined."""
    if p is None or math.isnan(p):
        return "n/a"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.4f}"


HEADERS = [
    "detector",
    "method",
    "metric",
    "datasets",
    "base",
    "enhanced",
    "Δ",
    "rel. %",
    "wins",
    "p (t-test)",
    "p (Wilcoxon)",
    "worst Δ (dataset)",
    "paper base → Δ, wins",
]


def table_cells(row: SummaryRow) -> list[str]:
    """One row of the Table-1 display as strings (shared by the rich, Markdown and HTML tables)."""
    paper = ""
    if row.paper_base is not None:
        paper = f"{row.paper_base:.4f} → {row.paper_delta:+.4f}, {row.paper_wins}"
    return [
        row.detector,
        row.method,
        row.metric,
        str(row.n),
        _fmt(row.base),
        _fmt(row.enhanced),
        _fmt(row.delta, "+.4f"),
        _fmt(row.rel_improvement, "+.1f"),
        f"{row.wins}/{row.n}",
        format_p(row.p_value),
        format_p(row.p_wilcoxon),
        f"{row.worst_delta:+.4f} ({row.worst_dataset})",
        paper,
    ]


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown (GitHub) table of string cells, one line per row, ending in a newline."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_markdown(rows: list[SummaryRow]) -> str:
    return markdown_table(HEADERS, [table_cells(row) for row in rows])


def to_csv(rows: list[SummaryRow], path: str | Path) -> Path:
    path = Path(path)
    fields = list(SummaryRow.__dataclass_fields__)
    # The file closes before replacing() moves it into place.
    with replacing(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.as_dict().items()})
    return path


def per_dataset_deltas(
    cells: list[dict[str, Any]], metric: str = "pr"
) -> tuple[list[str], list[tuple[str, str]], dict[tuple[str, str], dict[str, float]]]:
    """Per-dataset Δ (seed means): ``(datasets, columns, {(detector, method): {dataset: Δ}})``."""
    means = per_dataset_means(cells, metric)
    columns = sorted(means, key=lambda k: _order_key(*k))
    datasets = sorted({d for per in means.values() for d in per}, key=str.lower)
    deltas = {key: {d: enh - base for d, (base, enh, _) in means[key].items()} for key in columns}
    return datasets, columns, deltas


def per_dataset_markdown(cells: list[dict[str, Any]], metric: str = "pr") -> str:
    """Markdown table: one row per dataset, one Δ column per (detector, method)."""
    datasets, columns, deltas = per_dataset_deltas(cells, metric)
    label = METRICS[metric][2]
    header = ["dataset"] + [f"{det} {method}" for det, method in columns]
    rows = [
        [d] + [f"{deltas[c][d]:+.4f}" if d in deltas[c] else "" for c in columns] for d in datasets
    ]
    return f"Δ {label} (enhanced − base, mean over seeds)\n\n" + markdown_table(header, rows)


def cell_cost(cell: dict[str, Any]) -> float:
    """Seconds a cell cost: its own work, plus the base fit and scoring when it paid for them."""
    own = cell.get("t_cell") or 0.0
    if not cell.get("base_shared"):
        own += (cell.get("t_base_fit") or 0.0) + (cell.get("t_base_score") or 0.0)
    return float(own) if math.isfinite(own) else 0.0
