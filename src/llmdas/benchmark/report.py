"""``llmdas report``: one self-contained HTML page from result stores.

The page holds the Table-1 summary (AUC-PR and AUC-ROC), per-dataset Δ bar charts per detector,
the slowest cells and the errors, and, for one chosen dataset, the paper's two pictures: a kernel
density estimate of the detector's scores for training normals, synthetic anomalies and real test
anomalies, and a t-SNE map of the same three groups. Those two need the synthetic anomalies, which
the store does not keep, so the report refits that one (dataset, detector, method, seed).

Images are PNGs rendered with matplotlib's Agg backend and embedded as base64 ``data:`` URIs: the
file can be mailed or archived on its own.
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llmdas._atomic import write_text
from llmdas.benchmark.summary import (
    HEADERS,
    METRICS,
    cell_cost,
    per_dataset_deltas,
    summarize,
    table_cells,
)

__all__ = ["build_report", "distribution_figures"]

_COLOURS = {"normal": "#1f77b4", "synthetic": "#ff7f0e", "anomaly": "#d62728"}

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; line-height: 1.4; padding: 0 1em; }
h1, h2, h3 { color: #123; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #eef2f6; }
td.l, th.l { text-align: left; }
.pos { color: #17803d; } .neg { color: #b42318; }
.note { color: #555; font-size: 0.9em; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
code { background: #f4f4f4; padding: 1px 4px; }
"""


def _png(fig) -> str:
    """Render a matplotlib figure as a base64 PNG ``data:`` URI and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _esc(value: Any) -> str:
    return html.escape(str(value))


# ------------------------------------------------------------------------------------ tables
def _summary_table(rows) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{_esc(h)}</th>" for h in HEADERS) + "</tr>"]
    left = {HEADERS.index(h) for h in ("detector", "method", "metric", "worst Δ (dataset)")}
    left.add(len(HEADERS) - 1)  # the paper's figures
    delta = HEADERS.index("Δ")
    for row in rows:
        cells = table_cells(row)
        tds = []
        for i, text in enumerate(cells):
            cls = "l" if i in left else ""
            if i == delta:
                cls = "pos" if row.delta > 0 else "neg" if row.delta < 0 else ""
            tds.append(f'<td class="{cls}">{_esc(text)}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _plain_table(headers: list[str], rows: list[list[Any]], left: int = 1) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{_esc(h)}</th>" for h in headers) + "</tr>"]
    for row in rows:
        out.append(
            "<tr>"
            + "".join(
                f'<td class="{"l" if i < left else ""}">{_esc(v)}</td>' for i, v in enumerate(row)
            )
            + "</tr>"
        )
    out.append("</table>")
    return "\n".join(out)


# ------------------------------------------------------------------------------------ figures
def delta_figures(cells: list[dict[str, Any]], metric: str = "pr") -> list[tuple[str, str]]:
    """One horizontal grouped bar chart of per-dataset Δ per detector: ``[(detector, uri)]``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets, columns, deltas = per_dataset_deltas(cells, metric)
    label = METRICS[metric][2]
    figures = []
    for det in dict.fromkeys(d for d, _ in columns):
        methods = [m for d, m in columns if d == det]
        names = [n for n in datasets if any(n in deltas[(det, m)] for m in methods)]
        if not names:
            continue
        height = 0.8 / max(len(methods), 1)
        fig, ax = plt.subplots(figsize=(8, 1.2 + 0.32 * len(names) * max(1, len(methods) / 2)))
        y = np.arange(len(names))
        cmap = plt.get_cmap("tab10")
        for k, method in enumerate(methods):
            values = [deltas[(det, method)].get(n, np.nan) for n in names]
            ax.barh(
                y + (k - (len(methods) - 1) / 2) * height,
                values,
                height,
                label=method,
                color=cmap(k % 10),
            )
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(y, names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"Δ {label} (enhanced − base, mean over seeds)")
        ax.set_title(f"{det}: per-dataset Δ {label}")
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
        figures.append((det, _png(fig)))
    return figures


def _kde_panel(ax, groups: dict[str, np.ndarray], title: str) -> None:
    from scipy.stats import gaussian_kde

    values = np.concatenate([v for v in groups.values() if len(v)])
    lo, hi = np.percentile(values, [0.5, 99.5])
    if not hi > lo:
        lo, hi = float(values.min()) - 1, float(values.max()) + 1
    pad = 0.05 * (hi - lo)
    grid = np.linspace(lo - pad, hi + pad, 400)
    for name, v in groups.items():
        v = v[np.isfinite(v)]
        label = f"{name} (n={len(v)})"
        if len(v) >= 2 and np.ptp(v) > 0:
            try:
                density = gaussian_kde(v)(grid)
                ax.plot(grid, density, color=_COLOURS[name], label=label)
                ax.fill_between(grid, density, color=_COLOURS[name], alpha=0.15)
                continue
            except (np.linalg.LinAlgError, ValueError):
                pass
        for x in v[:50]:  # degenerate: draw the points as ticks
            ax.axvline(x, color=_COLOURS[name], alpha=0.5)
        ax.plot([], [], color=_COLOURS[name], label=label)
    ax.set_xlim(grid[0], grid[-1])
    ax.set_title(title)
    ax.set_xlabel("score (higher = more anomalous)")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)


def distribution_figures(
    dataset: str,
    detector: str,
    method: str,
    seed: int,
    *,
    data_dir: str | Path | None = None,
    split: str = "paper",
    max_tsne: int = 1500,
) -> dict[str, Any]:
    """Refit one cell and draw the paper's KDE and t-SNE pictures.

    Returns ``{"kde": uri, "tsne": uri, "info": {...}}``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from llmdas.benchmark.cells import MethodSpec, dataset_path, parse_methods
    from llmdas.data import load_dataset, paper_split, random_split, required_data_dir
    from llmdas.enhanced import EnhancedDetector

    X, y = load_dataset(dataset_path(required_data_dir(data_dir), dataset))
    X_train, X_test, y_test = (
        paper_split(X, y) if split == "paper" else random_split(X, y, seed=seed)
    )
    if method.startswith("store:") or method.startswith("program:"):
        raise ValueError(
            f"the report refits built-in and baseline methods only, not {method!r}; "
            "choose one with --method"
        )
    spec: MethodSpec = parse_methods(method, detectors=[detector])[detector][0]
    program = spec.program_for(detector)
    if program is None:
        raise ValueError("method 'none' has no synthetic anomalies to draw; choose another")
    started = time.perf_counter()
    model = EnhancedDetector(detector, program=program, random_state=seed).fit(X_train)
    fit_s = time.perf_counter() - started
    synthetic = model.synthetic_
    assert synthetic is not None  # on_program_error="raise": a failed program raised above
    anomalies = X_test[y_test == 1]
    groups_x = {"normal": X_train, "synthetic": synthetic, "anomaly": anomalies}

    base = {k: model.base_decision_function(v) for k, v in groups_x.items() if len(v)}
    fused = {k: model.decision_function(v) for k, v in groups_x.items() if len(v)}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    _kde_panel(axes[0], base, f"{detector} scores on {dataset}")
    _kde_panel(axes[1], fused, f"enhanced ({program.name}) scores")
    fig.suptitle(
        f"{dataset}: training normals, synthetic anomalies ({method}), real test anomalies",
        fontsize=11,
    )
    kde_uri = _png(fig)

    tsne_uri = _tsne_figure(
        groups_x,
        X_train,
        max_tsne,
        seed,
        f"t-SNE of {dataset}: {detector} + {method} (seed {seed})",
    )
    return {
        "kde": kde_uri,
        "tsne": tsne_uri,
        "info": {
            "dataset": dataset,
            "detector": detector,
            "method": method,
            "program": program.name,
            "seed": seed,
            "n_train": len(X_train),
            "n_synthetic": len(synthetic),
            "n_anomalies": len(anomalies),
            "fit_s": fit_s,
        },
    }


def _tsne_sample(
    groups: dict[str, np.ndarray], max_rows: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Row indices of each group, at most ``max_rows`` in all: the smallest group first, each
    taking at most an equal share of the rows left, so that a small group is shown whole."""
    sizes = {k: len(v) for k, v in groups.items()}
    budget = max_rows
    take: dict[str, np.ndarray] = {}
    for name in sorted(sizes, key=lambda k: sizes[k]):
        share = budget // (len(sizes) - len(take))
        n = min(sizes[name], share)
        take[name] = rng.choice(sizes[name], n, replace=False) if n else np.array([], int)
        budget -= n
    return take


def _tsne_figure(
    groups: dict[str, np.ndarray], X_train: np.ndarray, max_rows: int, seed: int, title: str
) -> str:
    """A t-SNE map of a sample of each group, standardised with the training statistics."""
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    take = _tsne_sample(groups, max_rows, np.random.default_rng(seed))
    mean, spread = X_train.mean(axis=0), X_train.std(axis=0)
    spread[spread == 0] = 1.0
    parts = [((groups[k][take[k]] - mean) / spread, k) for k in groups if len(take[k])]
    Z = np.vstack([p for p, _ in parts])
    labels = np.concatenate([[k] * len(p) for p, k in parts])
    perplexity = float(min(30.0, max(2.0, (len(Z) - 1) / 3.0)))
    # One OpenMP thread: on a busy machine, t-SNE's spinning OpenMP threads can be 10x slower
    # than a single one for a few hundred rows, and 1500 rows take seconds on one core anyway.
    with threadpool_limits(limits=1, user_api="openmp"):
        embedding = TSNE(
            n_components=2, init="pca", random_state=seed, perplexity=perplexity
        ).fit_transform(Z)
    fig, ax = plt.subplots(figsize=(7, 6))
    for name in ("normal", "synthetic", "anomaly"):
        mask = labels == name
        if mask.any():
            ax.scatter(
                embedding[mask, 0],
                embedding[mask, 1],
                s=8,
                alpha=0.6,
                color=_COLOURS[name],
                label=f"{name} ({int(mask.sum())})",
            )
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8)
    return _png(fig)


# ------------------------------------------------------------------------------------ page
def build_report(
    stores: Sequence[str | Path],
    out: str | Path,
    *,
    dataset: str | None = None,
    detector: str | None = None,
    method: str = "builtin",
    seed: int | None = None,
    data_dir: str | Path | None = None,
    title: str = "llmdas benchmark report",
) -> Path:
    """Write the HTML report of the result ``stores`` (several are pooled, as by
    :func:`~llmdas.benchmark.store.pooled_cells`) to ``out``."""
    from llmdas.benchmark.store import ResultStore, pooled_cells

    cells, _ = pooled_cells(stores)
    ok = [c for c in cells if not c.get("error")]
    errors = [c for c in cells if c.get("error")]
    names = ", ".join(f"<code>{_esc(path)}</code>" for path in stores)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
        f'<p class="note">Store{"s" if len(stores) > 1 else ""} {names}: {len(cells)} cells '
        f"({len(errors)} with errors), generated {time.strftime('%Y-%m-%d %H:%M:%S')}.</p>",
    ]
    for path in stores:
        with ResultStore(path, read_only=True) as store:
            runs = store.runs()
        if not runs:
            continue
        last = runs[-1]
        config = json.loads(last["config"] or "{}")
        whose = f" of <code>{_esc(path)}</code>" if len(stores) > 1 else ""
        parts.append(
            f'<p class="note">Last run{whose}: '
            f"<code>{_esc(last['command'] or '')}</code>, status {_esc(last['status'])}, "
            f"wall {(last['wall_s'] or 0):.0f} s, split {_esc(config.get('split', '?'))}.</p>"
        )
        if data_dir is None and config.get("data_dir"):  # the first store's that names one
            data_dir = config["data_dir"]
    versions = next((c["versions"] for c in cells if c.get("versions")), None)
    if versions:
        parts.append(f'<p class="note">Versions: <code>{_esc(versions)}</code></p>')

    rows = summarize(ok, "both")
    parts.append("<h2>Summary (Table 1)</h2>")
    parts.append(
        '<p class="note">Per detector and method: means over datasets of the seed-averaged '
        "scores; Δ = enhanced − base; rel. % = mean of Δ/base; wins = datasets with Δ &gt; 0; "
        "p (t-test) = paired one-tailed t-test (enhanced &gt; base) over datasets, the paper's "
        "test; p (Wilcoxon) = one-tailed Wilcoxon signed-rank test over the same datasets, "
        "ADBench's. The paper's numbers "
        "(AUC-PR, 36 datasets) are given for its built-in (LLM-written) programs.</p>"
    )
    parts.append(_summary_table(rows) if rows else "<p>No successful cells yet.</p>")

    parts.append("<h2>Per-dataset Δ AUC-PR</h2>")
    for det, uri in delta_figures(ok, "pr"):
        parts.append(f"<h3>{_esc(det)}</h3>" + _img(uri, f"per-dataset delta AUC-PR {det}"))

    if dataset is not None:
        parts += _dataset_section(ok, dataset, detector, method, seed, data_dir)
    parts += _slowest_cells_section(ok) + _errors_section(errors)
    parts.append("</body></html>")
    out = Path(out)
    write_text(out, "\n".join(parts))
    return out


def _dataset_section(
    ok: list[dict],
    dataset: str,
    detector: str | None,
    method: str,
    seed: int | None,
    data_dir: str | Path | None,
) -> list[str]:
    """Where one dataset's synthetic anomalies lie: its detector refitted, two figures."""
    candidates = [c for c in ok if c["dataset"] == dataset]
    det = detector or (candidates[0]["detector"] if candidates else "PCA")
    use_seed = seed if seed is not None else (candidates[0]["seed"] if candidates else 42)
    split = candidates[0]["split"] if candidates and candidates[0].get("split") else "paper"
    figs = distribution_figures(dataset, det, method, int(use_seed), data_dir=data_dir, split=split)
    info = figs["info"]
    return [
        f"<h2>{_esc(dataset)}: where the synthetic anomalies lie</h2>",
        f'<p class="note">Refitted {_esc(info["detector"])} with program '
        f"<code>{_esc(info['program'])}</code> (method {_esc(method)}, seed {info['seed']}): "
        f"{info['n_train']} training normals, {info['n_synthetic']} synthetic anomalies, "
        f"{info['n_anomalies']} real test anomalies; fit {info['fit_s']:.1f} s. Left: where the "
        "base detector scores the synthetic anomalies relative to training normals and real "
        "anomalies (hard anomalies overlap the normals' upper tail); right: the enhanced "
        "detector's scores of the same rows.</p>",
        _img(figs["kde"], "score densities"),
        _img(figs["tsne"], "t-SNE map"),
    ]


_TIMING_COLUMNS = {  # header: cell field
    "base fit s": "t_base_fit",
    "synthesis s": "t_synthesis",
    "classifier s": "t_classifier_fit",
    "scoring s": "t_scoring",
}


def _slowest_cells_section(ok: list[dict], n: int = 15) -> list[str]:
    """The ``n`` costliest successful cells and where their time went."""
    timed = sorted(ok, key=cell_cost, reverse=True)[:n]
    if not timed:
        return []
    header = ["dataset", "detector", "method", "seed", "total s", *_TIMING_COLUMNS]
    rows = [
        [c["dataset"], c["detector"], c["method"], c["seed"], f"{cell_cost(c):.1f}"]
        + [_sec(c.get(field)) for field in _TIMING_COLUMNS.values()]
        for c in timed
    ]
    return ["<h2>Slowest cells</h2>", _plain_table(header, rows, left=3)]


def _errors_section(errors: list[dict], n: int = 200) -> list[str]:
    """The first ``n`` cells that ended in an error, with the error."""
    if not errors:
        return []
    rows = [[c["dataset"], c["detector"], c["method"], c["seed"], c["error"]] for c in errors[:n]]
    return [
        f"<h2>Errors ({len(errors)})</h2>",
        _plain_table(["dataset", "detector", "method", "seed", "error"], rows, left=5),
    ]


def _sec(value: Any) -> str:
    return "" if value is None else f"{value:.2f}"
