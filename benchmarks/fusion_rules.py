"""Compare fusion-weight rules offline, on the issue-8 tuning/validation halves.

Fits the default ``EnhancedDetector`` once per (dataset, detector, seed) under the paper split,
keeps the normalised test scores ``T(f_t)``, the classifier's tail evidence ``C`` (the library's
fusion) and its plain rank ``U``, and two
training-only signals — the classifier's out-of-bag separability of synthetic vs normal rows
(``separability_``) and the base detector's own separability of the same rows (ROC-AUC of its
scores of the synthetic rows against its training scores) — and then scores ``F = T + w * V`` for each rule below without
refitting, ``V`` being ``C`` or a transform of ``U``. For reference it also prints what a per-dataset choice of rule made *with test labels*
would reach (the paper's protocol), which bounds every fixed rule on these two scores.
Halves as in ``split_halves.py``: datasets sorted by name, even positions tune, odd validate.

    python benchmarks/fusion_rules.py --data ../shared/datasets --cache fusion_cells.pkl [--family]
    python benchmarks/fusion_rules.py --variant near-shell --cache near.pkl   # other programs
    python benchmarks/fusion_rules.py --variant shares:0.5,0.25 --cache s.pkl  # other row shares

The first run fits 34 × 4 × 5 detectors (≈ 8 minutes on 2 cores); later runs read ``--cache``
(one cache per ``--variant``; ``--family`` adds ≈ 3 minutes).
Research tool: the library's fusion is ``llmdas.fusion``; nothing here changes it.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from split_halves import (  # this folder is on sys.path when the script runs
    cached_grid,
    grid_parser,
    halves,
)

from llmdas.benchmark.summary import TIE

DETECTORS = ("PCA", "IForest", "OCSVM", "ECOD")

#: ``--variant``: source edits applied to the built-in programs before fitting (research only).
#: Each edit applies to the programs that contain its first string. The shipped PCA, IForest and
#: ECOD programs put half of their local-shell rows at 3-6 nearest-neighbour distances, OCSVM's
#: all at 1-2; "near-shell" and "far-shell" make all four alike.
_NEAR = "    radius = kth[parents] * rng.uniform(1.0, 2.0, n_rows)\n"
_FAR = (
    "    near = rng.random(n_rows) < 0.5\n"
    "    radius = kth[parents] * np.where(\n"
    "        near, rng.uniform(1.0, 2.0, n_rows), rng.uniform(3.0, 6.0, n_rows)\n"
    "    )\n"
)
#: "sparse-noise": half of the noisy copies get noise of twice each column's spread on a random
#: 30 % of their columns at most (at least one), the others full noise as shipped.
_FULL_NOISE = "    return X[rng.integers(len(X), size=n_rows)] + rng.normal(size=(n_rows, X.shape[1])) * spread\n"
_SPARSE_NOISE = (
    "    rows = X[rng.integers(len(X), size=n_rows)]\n"
    "    k = np.maximum(1, np.ceil(rng.uniform(0, 0.3, n_rows) * X.shape[1]))\n"
    "    cols = rng.random(rows.shape).argsort(1) < k[:, None]\n"
    "    factor = np.where(rng.random(n_rows)[:, None] < 0.5, 2.0 * cols, 1.0)\n"
    "    return rows + factor * rng.normal(size=rows.shape) * spread\n"
)
VARIANTS = {
    "default": [],
    "near-shell": [(_FAR, _NEAR)],
    "far-shell": [(_NEAR, _FAR)],
    "sparse-noise": [(_FULL_NOISE, _SPARSE_NOISE)],
}

#: ``--variant shares:H,S``: every program's ``generate_hard_anomalies`` replaced by this one, which
#: returns a share H of hard rows, S of local-shell rows and the rest noisy copies (training rows
#: plus Gaussian noise of each column's standard deviation), as the shipped programs do with their
#: own shares (PCA and ECOD 1/3, 1/3; IForest 1/4, 1/4; OCSVM 1/2, 1/2, without noisy copies). For
#: PCA, IForest and ECOD it draws the same rows: ``shares:0.25,0.25`` gives IForest's shipped rows
#: and ``shares:0.3333333333,0.3333333333`` PCA's and ECOD's (checked on cardio, seed 0).
_SHARES = """def generate_hard_anomalies(n_samples: int, model, X_train):
    import numpy as np

    X = np.asarray(X_train, dtype=float)
    n = int(n_samples)
    n_hard = max(1, int(round({hard} * n)))
    n_shell = min(int(round({shell} * n)), n - n_hard)
    n_noise = n - n_hard - n_shell
    hard = detector_aware_rows(n_hard, model, X)
    rng = np.random.default_rng()
    spread = X.std(axis=0)
    spread[~(spread > 1e-12 * np.abs(X).max(axis=0))] = 0.0
    noise = X[rng.integers(len(X), size=n_noise)] + rng.normal(size=(n_noise, X.shape[1])) * spread
    return np.vstack([hard, local_shell_rows(n_shell, X), noise])
"""


def variant_name(text: str) -> str:
    """``--variant``: a name of ``VARIANTS`` or ``shares:H,S`` (two fractions summing to <= 1)."""
    if text in VARIANTS:
        return text
    try:
        hard, shell = (float(x) for x in text.removeprefix("shares:").split(","))
    except ValueError:
        hard = shell = -1.0
    if not text.startswith("shares:") or min(hard, shell) < 0 or hard + shell > 1:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected one of {', '.join(sorted(VARIANTS))} or shares:H,S"
        )
    return text


def program_variant(detector: str, variant: str):
    """The built-in program of ``detector`` with the edits of ``variant`` applied."""
    from dataclasses import replace

    from llmdas.programs import load_program

    program = load_program(detector)
    source = program.source
    if variant.startswith("shares:"):
        hard, shell = variant.removeprefix("shares:").split(",")
        start = source.index("def generate_hard_anomalies")
        source = source[:start] + _SHARES.format(hard=hard, shell=shell)
    for old, new in VARIANTS.get(variant, []):
        source = source.replace(old, new)
    return replace(program, source=source)


def collect(path: Path, detector: str, seed: int, variant: str = "default") -> dict:
    """One fitted cell: the normalised test scores and the training-only signals."""
    from llmdas import EnhancedDetector
    from llmdas.data import load_dataset, paper_split
    from llmdas.detectors import score_detector
    from llmdas.fusion import EcdfNormalizer

    warnings.filterwarnings("ignore")
    X_train, X_test, y_test = paper_split(*load_dataset(path))
    program = program_variant(detector, variant)
    det = EnhancedDetector(detector, program=program, random_state=seed).fit(X_train)
    base_test = score_detector(det.detector_, X_test, reference=det.base_scores_)
    base_synthetic = score_detector(det.detector_, det.synthetic_, reference=det.base_scores_)
    labels = np.r_[np.zeros(len(X_train)), np.ones(len(det.synthetic_))]
    classifier_test = det._classifier_scores(X_test)
    return {
        "dataset": path.stem,
        "detector": detector,
        "variant": variant,
        "y": y_test,
        "T": det._base_evidence(base_test),  # on the scale the library fuses (OCSVM: LogGap)
        "C": det._clf_norm.transform(classifier_test),  # as the library fuses it
        # The plain rank among the classifier's out-of-sample scores of the training rows.
        "U": EcdfNormalizer.fit(det.classifier_scores_).transform(classifier_test),
        "clf_sep": det.separability_,
        "scale": det.weight_scale_,  # the library's weight scale for this program
        "base_sep": roc_auc_score(labels, np.r_[det.base_scores_, base_synthetic]),
    }


def _gain(auc: float) -> float:
    return max(0.0, 2.0 * auc - 1.0)


def _tail(u: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(1.0 - u, 1e-3, 1.0))


def _shipped_scale(detector: str) -> float:
    """The weight scale the library gives the built-in program of ``detector``."""
    from llmdas.enhanced import _BUILTIN_WEIGHT_SCALE
    from llmdas.programs import load_program

    return _BUILTIN_WEIGHT_SCALE[load_program(detector).name]


def _u(power: float):
    return lambda c: c["U"] ** power


#: name -> (the classifier's evidence V of a cell, weight from the cell's training signals)
RULES = {
    # Caches made before METHOD_VERSION 8 hold no scale: 0.7 was the library's then.
    "default: C, w = scale·gain(clf)": (
        lambda c: c["C"],
        lambda c: c.get("scale", 0.7) * _gain(c["clf_sep"]),
    ),
    # A --variant's edited program falls back to the library's scale for other programs (0.7);
    # this rule weighs its cells as the shipped program of the same detector is weighed.
    "C, w = the shipped program's scale·gain(clf)": (
        lambda c: c["C"],
        lambda c: _shipped_scale(c["detector"]) * _gain(c["clf_sep"]),
    ),
    # Two-sided: rows the classifier rates as more normal than most training rows lose evidence.
    "C + log U, w = the shipped program's scale·gain(clf)": (
        lambda c: c["C"] + np.log(np.clip(c["U"], 1e-3, 1.0)),
        lambda c: _shipped_scale(c["detector"]) * _gain(c["clf_sep"]),
    ),
    **{
        f"C, w = {K}·gain(clf)": (lambda c: c["C"], lambda c, K=K: K * _gain(c["clf_sep"]))
        for K in (0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0)
    },
    "U², w = 3·gain(clf) (the default before C)": (_u(2), lambda c: 3.0 * _gain(c["clf_sep"])),
    "U², w = 4·gain(clf)": (_u(2), lambda c: 4.0 * _gain(c["clf_sep"])),
    "U², w = 5·gain(clf)": (_u(2), lambda c: 5.0 * _gain(c["clf_sep"])),
    "U³, w = 3·gain(clf)": (_u(3), lambda c: 3.0 * _gain(c["clf_sep"])),
    "U⁴, w = 3·gain(clf)": (_u(4), lambda c: 3.0 * _gain(c["clf_sep"])),
    "U, w = 3·gain(clf) (the default before U²)": (_u(1), lambda c: 3.0 * _gain(c["clf_sep"])),
    "U, w = 3·gain(clf)·(1 − gain(base))": (
        _u(1),
        lambda c: 3.0 * _gain(c["clf_sep"]) * (1.0 - _gain(c["base_sep"])),
    ),
    "−log(1−U), w = 1·gain(clf)": (lambda c: _tail(c["U"]), lambda c: _gain(c["clf_sep"])),
    "−log(1−U), w = 1·gain(clf)·(1 − gain(base))": (
        lambda c: _tail(c["U"]),
        lambda c: _gain(c["clf_sep"]) * (1.0 - _gain(c["base_sep"])),
    ),
}


def deltas(cells: list[dict], detector: str, evidence, weight) -> dict[str, float]:
    """Δ AUC-PR of ``F = T + w · V`` over the base alone, per dataset (mean over seeds)."""
    per_dataset = defaultdict(list)
    for c in (c for c in cells if c["detector"] == detector):
        fused = c["T"] + weight(c) * evidence(c)
        per_dataset[c["dataset"]].append(average_precision_score(c["y"], fused) - c["base_ap"])
    return {name: float(np.mean(v)) for name, v in per_dataset.items()}


def evaluate(cells: list[dict], transform, weight) -> list[str]:
    lines = []
    split = halves({c["dataset"] for c in cells})
    for detector in DETECTORS:
        per_dataset = deltas(cells, detector, transform, weight)
        parts = [detector]
        for half, members in split.items():
            delta = np.array([per_dataset[d] for d in members])
            parts.append(
                f"{half} {delta.mean():+.4f} {(delta > TIE).sum()}/{len(delta)} {delta.min():+.4f}"
            )
        lines.append(" | ".join(parts))
    return lines


#: The classifier's evidence ``V``, for the oracle and the ``--family`` search.
TRANSFORMS = {"U": _u(1), "U²": _u(2), "−log(1−U)": lambda c: _tail(c["U"]), "C": lambda c: c["C"]}
#: Weights the per-dataset oracle may pick from (with each transform of ``U``).
ORACLE_WEIGHTS = (0, 0.1, 0.25, 0.5, 1, 2, 3, 4, 6, 10, 30, 1000)


def oracle(cells: list[dict]) -> list[str]:
    """Reference only, uses test labels: the best (transform, weight) per dataset, as the paper's
    per-dataset choice did. Bounds what any fixed rule on these two scores can reach."""
    lines = []
    for detector in DETECTORS:
        per_dataset = defaultdict(lambda: defaultdict(list))
        for c in (c for c in cells if c["detector"] == detector):
            for name, transform in TRANSFORMS.items():
                for w in ORACLE_WEIGHTS:
                    fused = c["T"] + w * transform(c)
                    per_dataset[c["dataset"]][(name, w)].append(
                        average_precision_score(c["y"], fused) - c["base_ap"]
                    )
        best = [max(np.mean(v) for v in choices.values()) for choices in per_dataset.values()]
        lines.append(f"{detector} | all {np.mean(best):+.4f} (per-dataset oracle, test labels)")
    return lines


#: The rule family searched by ``--family``: w = K · gain(clf)^a · (1 − gain(base))^b on each
#: evidence ``V`` of ``TRANSFORMS``.
FAMILY_K, FAMILY_A, FAMILY_B = (1, 2, 3, 5, 8), (0.5, 1, 2), (0, 0.5, 1, 2)


def half_means(cells: list[dict], transform, weight, members: list[str]) -> dict[str, tuple]:
    """Per detector: (mean, worst) Δ AUC-PR over the datasets in ``members``."""
    out = {}
    subset = [c for c in cells if c["dataset"] in members]
    for detector in DETECTORS:
        delta = np.array(list(deltas(subset, detector, transform, weight).values()))
        out[detector] = (delta.mean(), delta.min())
    return out


def family(cells: list[dict]) -> list[str]:
    """Tune a rule of the family on the tune half, report it on the validate half.

    The rule picked is the one whose *smallest* tune-half mean over the four detectors is
    largest (the goal asks every detector for +0.08). Shows how far a richer fixed rule, chosen
    without test labels of the validate half, can go, and how much of it holds."""
    split = halves({c["dataset"] for c in cells})
    tune, validate = split["tune"], split["validate"]
    scored = []
    for (tname, transform), K, a, b in itertools.product(
        TRANSFORMS.items(), FAMILY_K, FAMILY_A, FAMILY_B
    ):

        def weight(c, K=K, a=a, b=b):
            return K * _gain(c["clf_sep"]) ** a * (1 - _gain(c["base_sep"])) ** b

        on_tune = half_means(cells, transform, weight, tune)
        scored.append((min(m for m, _ in on_tune.values()), tname, K, a, b, transform, weight))
    best = max(scored, key=lambda r: r[0])
    _, tname, K, a, b, transform, weight = best
    lines = [f"{len(scored)} rules; picked V = {tname}, w = {K}·gain(clf)^{a}·(1 − gain(base))^{b}"]
    for label, members in (("tune", tune), ("validate", validate)):
        result = half_means(cells, transform, weight, members)
        lines.append(
            f"{label}: "
            + " | ".join(f"{d} {m:+.4f} worst {w:+.4f}" for d, (m, w) in result.items())
        )
    return lines


def classifier_alone(cells: list[dict], detector: str) -> list[str]:
    """Per dataset: Δ AUC-PR of the classifier alone (the base score breaking its ties) and of the
    default rule over the base, beside the two training-only signals. Shows why no fixed rule
    can follow the oracle: datasets where the classifier alone gains most and those where it
    loses most look alike in both signals."""
    per_dataset = defaultdict(lambda: defaultdict(list))
    for c in (c for c in cells if c["detector"] == detector):
        evidence, weight = RULES["default: C, w = scale·gain(clf)"]
        alone = c["U"] + 1e-9 * c["T"]
        v = per_dataset[c["dataset"]]
        v["alone"].append(average_precision_score(c["y"], alone) - c["base_ap"])
        fused = c["T"] + weight(c) * evidence(c)
        v["default"].append(average_precision_score(c["y"], fused) - c["base_ap"])
        v["clf_sep"].append(c["clf_sep"])
        v["base_sep"].append(c["base_sep"])
    rows = sorted(per_dataset.items(), key=lambda item: -np.mean(item[1]["alone"]))
    return [
        f"{detector} {name:18s} classifier alone {np.mean(v['alone']):+.3f} default "
        f"{np.mean(v['default']):+.3f} | clf_sep {np.mean(v['clf_sep']):.3f} base_sep "
        f"{np.mean(v['base_sep']):.3f}"
        for name, v in rows
    ]


def main() -> None:
    parser = grid_parser(__doc__.splitlines()[0], seeds="42,0,100,17,21")
    parser.add_argument("--cache", default="fusion_cells.pkl")
    parser.add_argument(
        "--variant",
        type=variant_name,
        default="default",
        help=f"one of {', '.join(sorted(VARIANTS))}, or shares:H,S (see _SHARES)",
    )
    parser.add_argument(
        "--family", action="store_true", help="also tune a rule family on the tune half (≈ 3 min)"
    )
    parser.add_argument(
        "--alone",
        metavar="DETECTOR",
        help="also list, per dataset, the classifier alone against the default rule",
    )
    args = parser.parse_args()
    cache = Path(args.cache)
    cells = cached_grid(functools.partial(collect, variant=args.variant), args, DETECTORS, cache)
    for c in cells:  # every rule is compared with the base detector alone
        c["base_ap"] = average_precision_score(c["y"], c["T"])
    if {c.get("variant") for c in cells} != {args.variant}:
        raise SystemExit(f"{cache} holds cells of another --variant; use another --cache")
    print("Mean AUC-PR over datasets: base detector alone, classifier alone")
    for detector in DETECTORS:
        alone = defaultdict(list)
        for c in (c for c in cells if c["detector"] == detector):
            alone[c["dataset"]].append((c["base_ap"], average_precision_score(c["y"], c["U"])))
        base, clf = np.mean([np.mean(v, axis=0) for v in alone.values()], axis=0)
        print(f"{detector} | base {base:.4f} | classifier {clf:.4f}")
    print("Δ AUC-PR per half: mean, wins, worst (means over seeds per dataset)")
    for name, (transform, weight) in RULES.items():
        print(f"== {name}")
        print("\n".join(evaluate(cells, transform, weight)))
    print("== oracle: best rule per dataset, chosen with test labels (reference only)")
    print("\n".join(oracle(cells)))
    if args.family:
        print("== rule family tuned on the tune half, scored on the validate half")
        print("\n".join(family(cells)))
    if args.alone:
        print("== classifier alone vs the default rule, per dataset, and the training signals")
        print("\n".join(classifier_alone(cells, args.alone)))


if __name__ == "__main__":
    main()
