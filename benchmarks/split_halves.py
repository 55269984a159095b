"""Issue-8 figures per tuning/validation half from a benchmark store.

Usage: python benchmarks/split_halves.py RESULTS.db [--method builtin]

Datasets are sorted by name (case-sensitive); even positions are the tuning half, odd positions the
validation half. Per dataset, cells are averaged over seeds; the p-value is a paired one-tailed
t-test of enhanced vs base over the per-dataset means.
"""

from __future__ import annotations

import argparse
import sqlite3

import numpy as np
from scipy.stats import ttest_rel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--method", default="builtin")
    args = parser.parse_args()
    with sqlite3.connect(args.store) as db:
        rows = db.execute(
            "SELECT dataset, detector, AVG(base_pr), AVG(enh_pr), AVG(base_roc), AVG(enh_roc) "
            "FROM cells WHERE method = ? AND error IS NULL GROUP BY dataset, detector",
            (args.method,),
        ).fetchall()
    by_key = {(r[0], r[1]): r[2:] for r in rows}
    names = sorted({r[0] for r in rows})
    halves = {"tune (even)": names[0::2], "validate (odd)": names[1::2], "all": names}
    print("| detector | half | datasets | base PR | enh PR | ΔPR | wins | worst ΔPR | p | ΔROC |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for detector in sorted({r[1] for r in rows}):
        for half, members in halves.items():
            values = np.array([by_key[(n, detector)] for n in members if (n, detector) in by_key])
            if len(values) < 2:
                continue
            base, enh, base_roc, enh_roc = values.T
            delta = enh - base
            p = ttest_rel(enh, base, alternative="greater").pvalue
            print(
                f"| {detector} | {half} | {len(values)} | {base.mean():.4f} | {enh.mean():.4f} | "
                f"{delta.mean():+.4f} | {(delta > 0).sum()}/{len(values)} | {delta.min():+.4f} | "
                f"{p:.2g} | {(enh_roc - base_roc).mean():+.4f} |"
            )


if __name__ == "__main__":
    main()
