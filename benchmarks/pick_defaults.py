"""Pick each built-in program's shares of synthetic rows and weight scale on the tune half.

The built-in programs return three kinds of rows (hard rows, a local shell, noisy copies) in
shares of their own, and the library weighs each program's classifier with a scale of its own
(``llmdas.enhanced._BUILTIN_WEIGHT_SCALE``). Both were picked together, per detector, by the rule
of ``split_halves.pick_on_tune_half`` on the tune half of the 34 data sets (method.md). This
script makes that pick from the cells of ``fusion_rules.py``, one cache per candidate share of
rows: it scores every cell at each scale of ``SCALES`` without refitting (``F = T + w·C``, ``w =
scale·max(0, 2·separability − 1)``, as the library fuses), applies the rule to every pair of a
cache and a scale, and prints per detector the pick and the best candidates, with the validate
half, which plays no part in the pick, and all data sets beside it (``llmdas summary``'s figures:
per-dataset means over seeds, paired one-tailed t-test).

    python benchmarks/fusion_rules.py --cache shipped.pkl
    python benchmarks/fusion_rules.py --variant shares:0.3333333333,0.3333333333 --cache thirds.pkl
    python benchmarks/fusion_rules.py --variant shares:0.5,0.5 --cache half.pkl
    python benchmarks/fusion_rules.py --variant shares:0.25,0.25 --cache quarter.pkl
    python benchmarks/pick_defaults.py shipped.pkl thirds.pkl half.pkl quarter.pkl [--top 4]

Each cache takes about 6.5 minutes to fit on 2 cores; the pick itself about 1.5 minutes for four
caches. Research tool: it prints a pick and changes nothing in the library.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

from sklearn.metrics import average_precision_score, roc_auc_score
from split_halves import (  # this folder is on sys.path when the script runs
    WORST_BAR,
    half_rows,
    halves,
    pick_on_tune_half,
)

from llmdas.benchmark.summary import per_dataset_deltas
from llmdas.fusion import separability_weight

DETECTORS = ("PCA", "IForest", "OCSVM", "ECOD")
#: The scales the shipped ones were picked from.
SCALES = (0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)


def base_figures(cells: list[dict]) -> list[dict]:
    """Per cell, the base detector's AUC-PR and AUC-ROC (the same at every scale)."""
    return [
        {
            "base_pr": average_precision_score(c["y"], c["T"]),
            "base_roc": roc_auc_score(c["y"], c["T"]),
        }
        for c in cells
    ]


def scored_cells(cells: list[dict], bases: list[dict], scale: float) -> list[dict]:
    """``cells`` as ``llmdas summary`` reads them, the classifier weighed with ``scale``."""
    out = []
    for c, base in zip(cells, bases, strict=True):
        fused = c["T"] + separability_weight(c["clf_sep"], scale) * c["C"]
        out.append(
            {
                "detector": c["detector"],
                "method": "builtin",
                "dataset": c["dataset"],
                **base,
                "enh_pr": average_precision_score(c["y"], fused),
                "enh_roc": roc_auc_score(c["y"], fused),
            }
        )
    return out


def merge_identical(candidates: dict[tuple[str, float], list[dict]]) -> dict:
    """``candidates`` with those whose cells score alike merged under one key, their caches'
    names joined by " = " (a variant that draws the shipped program's rows is the same candidate
    as the shipped program's own cache)."""
    merged: dict[tuple, tuple[str, float]] = {}
    out: dict[tuple[str, float], list[dict]] = {}
    for (name, scale), cells in candidates.items():
        fingerprint = (scale, *(c["enh_pr"] for c in cells))
        if fingerprint in merged:
            first = merged[fingerprint]
            merged[fingerprint] = (f"{first[0]} = {name}", scale)
            out[merged[fingerprint]] = out.pop(first)
        else:
            merged[fingerprint] = (name, scale)
            out[(name, scale)] = cells
    return out


def describe(label: str, rows: dict[str, dict]) -> str:
    """One table line: each half's mean, wins and worst Δ AUC-PR, then p and Δ AUC-ROC of all."""
    parts = [label]
    for half in ("tune", "validate", "all"):
        pr = rows[half]["AUC-PR"]
        parts.append(f"{pr.delta:+.4f} | {pr.wins}/{pr.n} | {pr.worst_delta:+.4f}")
    parts.append(f"{rows['all']['AUC-PR'].p_value:.2g} | {rows['all']['AUC-ROC'].delta:+.4f}")
    return "| " + " | ".join(parts) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "caches", nargs="+", type=Path, help="fusion_rules.py caches, one per share"
    )
    parser.add_argument(
        "--top", type=int, default=4, help="runners-up listed after the pick (within the bar)"
    )
    args = parser.parse_args()

    # {(cache name, scale): cells scored at that scale}, each cache named by its file.
    candidates: dict[tuple[str, float], list[dict]] = {}
    for path in args.caches:
        cells = pickle.loads(path.read_bytes())
        bases = base_figures(cells)
        for scale in SCALES:
            candidates[(path.stem, scale)] = scored_cells(cells, bases, scale)
    split = halves({c["dataset"] for cells in candidates.values() for c in cells})

    print("Δ AUC-PR per half: mean | wins | worst; then p (all) | Δ AUC-ROC (all)")
    print("| detector: cells @ scale | tune | | | validate | | | all | | | p | ΔROC |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for detector in DETECTORS:
        own = {
            key: [c for c in cells if c["detector"] == detector]
            for key, cells in candidates.items()
        }
        own = merge_identical({key: cells for key, cells in own.items() if cells})
        if not own:
            continue
        # Per tune data set, the mean Δ AUC-PR over seeds: what the rule reads.
        tune = {}
        for key, cells in own.items():
            deltas = per_dataset_deltas(cells, "pr")[2][(detector, "builtin")]
            tune[key] = [deltas[name] for name in split["tune"]]
        pick = pick_on_tune_half(tune)
        # The runners-up the rule weighed: those that keep the tune half's worst-case bar.
        safe = [key for key in own if min(tune[key]) >= WORST_BAR]
        ranked = sorted(safe, key=lambda key: -sum(tune[key]) / len(tune[key]))
        print(
            describe(f"**{detector}: {pick[0]} @ {pick[1]} (pick)**", half_rows(own[pick], split))
        )
        for key in [k for k in ranked if k != pick][: args.top]:
            print(describe(f"{detector}: {key[0]} @ {key[1]}", half_rows(own[key], split)))


if __name__ == "__main__":
    main()
