# /// llmdas-program
# name = "copod-copula-break"
# detector = "COPOD"
# policy = """
# Take borderline normal rows (top decile of COPOD scores) and reverse the rank of a third of their
# features inside the training distribution (a value at quantile q moves to quantile about 1 - q,
# kept between the 5th and 95th percentile), which keeps every marginal plausible while breaking
# the dependence structure; keep the distinct candidates with the lowest COPOD scores."""
# explanation = """
# COPOD sums per-feature empirical tail probabilities; it models the copula only through marginals,
# so rows that flip the rank of some features (violating correlations) but stay marginally central are
# scored as normal."""
#
# [provenance]
# author = "llmdas authors"
# generator = "human"
# created = "2026-11-24"
# note = "Hand-written for llmdas following the LLM-DAS paper's program requirements; not produced by an LLM."
# ///
def generate_hard_anomalies(n_samples: int, model, X_train):
    import numpy as np

    rng = np.random.default_rng()
    X = np.asarray(X_train, dtype=float)
    n, d = X.shape
    scores = model.predict_score(X)
    seeds = X[np.argsort(scores)[-max(5, n // 10) :]]
    sorted_cols = np.sort(X, axis=0)

    m = 3 * n_samples
    cand = seeds[rng.integers(len(seeds), size=m)].copy()
    n_feat = max(1, d // 3)
    for i in range(m):
        cols = rng.choice(d, size=n_feat, replace=False)
        ranks = (sorted_cols[:, cols] < cand[i, cols]).mean(axis=0)
        # A little jitter in the target quantile: without it a seed row and a column always
        # give the same value, and a few seeds on narrow data give many identical candidates.
        target = np.clip(1.0 - ranks + rng.uniform(-0.05, 0.05, size=n_feat), 0.05, 0.95)
        cand[i, cols] = sorted_cols[(target * (n - 1)).astype(int), cols]
    # Copies of one candidate share its score, so they would crowd the lowest scores together.
    cand = np.unique(cand, axis=0)
    order = np.argsort(model.predict_score(cand))
    return cand[order[np.arange(n_samples) % len(order)]]
