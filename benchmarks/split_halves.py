"""Issue-8 figures per tuning/validation half from a benchmark store.

Usage: python benchmarks/split_halves.py RESULTS.db [MORE.db ...] [--method builtin]

Datasets are sorted by name (case-sensitive); even positions are the tuning half, odd positions the
validation half. Each half is summarised exactly like ``llmdas summary`` does (per-dataset means
over seeds, paired one-tailed t-test over them), so the "all" rows equal its table; several
stores are pooled as ``llmdas summary`` pools them.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np

from llmdas.benchmark.store import pooled_cells
from llmdas.benchmark.summary import TIE, summarize

#: How each half is labelled in this script's table.
LABELS = {"tune": "tune (even)", "validate": "validate (odd)", "all": "all"}


def halves(names) -> dict[str, list[str]]:
    """The issue-8 split: dataset names sorted, even positions tune, odd validate, and all.

    The other research scripts in this folder import it, so every figure uses the same halves.
    """
    names = sorted(names)
    return {"tune": names[0::2], "validate": names[1::2], "all": names}


def half_rows(cells: list[dict], split: dict[str, list[str]]) -> dict[str, dict]:
    """Per half of ``split``: ``summarize``'s AUC-PR and AUC-ROC rows of ``cells`` (one
    detector, one method), by metric; empty where the half holds none of them."""
    out = {}
    for half, members in split.items():
        rows = summarize([c for c in cells if c["dataset"] in members], "both")
        out[half] = {row.metric: row for row in rows}
    return out


#: The rule the built-in programs' weight scales and shares of rows were picked by (method.md):
#: among the candidates whose worst tune-half data set stays at or above ``WORST_BAR`` and which
#: win on at least ``WIN_SHARE`` of the tune half (the goal's 28 of 34: 14 of 17), the one with
#: the largest tune-half mean; where none wins that often, the largest mean above the bar.
WORST_BAR = -0.02
WIN_SHARE = 28 / 34


def pick_on_tune_half(candidates: dict) -> object:
    """The key of ``candidates`` (``{key: per-dataset Δ AUC-PR on the tune half}``) picked by the
    shipped defaults' rule (``WORST_BAR``, ``WIN_SHARE``); the largest mean where none keeps the
    bar."""
    scored = {key: np.asarray(delta, dtype=float) for key, delta in candidates.items()}
    safe = [key for key, d in scored.items() if d.min() >= WORST_BAR]
    winning = [
        key for key in safe if (scored[key] > TIE).sum() >= np.ceil(WIN_SHARE * len(scored[key]))
    ]
    return max(winning or safe or list(scored), key=lambda key: scored[key].mean())


def grid_parser(description: str, seeds: str = "42,0") -> argparse.ArgumentParser:
    """Options of the research scripts that fit a grid of cells: ``--data``, ``--seeds``, ``--jobs``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", default="../shared/datasets")
    parser.add_argument("--seeds", default=seeds)
    parser.add_argument("--jobs", type=int, default=2)
    return parser


def fit_grid(fit_cell, args: argparse.Namespace, detectors) -> tuple[list[Path], list]:
    """The ``.npz`` datasets in ``args.data`` and ``fit_cell(path, detector, seed)`` of each of
    them for every detector and seed in ``args.seeds``, in ``args.jobs`` processes."""
    from joblib import Parallel, delayed

    paths = sorted(Path(args.data).glob("*.npz"), key=lambda p: p.stem)
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(p, d, s) for p in paths for d in detectors for s in seeds]
    jobs.sort(key=lambda job: -job[0].stat().st_size)  # large data first: better packing
    return paths, Parallel(n_jobs=args.jobs)(delayed(fit_cell)(*job) for job in jobs)


def cached_grid(fit_cell, args: argparse.Namespace, detectors, cache: Path) -> list:
    """``fit_grid``'s cells, read from ``cache`` when it exists, else fitted and written there."""
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    cells = fit_grid(fit_cell, args, detectors)[1]
    cache.write_bytes(pickle.dumps(cells))
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="+")
    parser.add_argument("--method", default="builtin")
    args = parser.parse_args()
    pooled, _ = pooled_cells(args.stores)
    cells = [c for c in pooled if c["method"] == args.method and not c.get("error")]
    print("| detector | half | datasets | base PR | enh PR | ΔPR | wins | worst ΔPR | p | ΔROC |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    split = halves({c["dataset"] for c in cells})
    for detector in sorted({c["detector"] for c in cells}):
        own = [c for c in cells if c["detector"] == detector]
        for half, rows in half_rows(own, split).items():
            if not rows:
                continue
            pr, roc = rows["AUC-PR"], rows["AUC-ROC"]
            print(
                f"| {detector} | {LABELS[half]} | {pr.n} | {pr.base:.4f} | {pr.enhanced:.4f} | "
                f"{pr.delta:+.4f} | {pr.wins}/{pr.n} | {pr.worst_delta:+.4f} | "
                f"{pr.p_value:.2g} | {roc.delta:+.4f} |"
            )


if __name__ == "__main__":
    main()
