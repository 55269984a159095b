# /// llmdas-program
# name = "ecod-joint-tail-swap"
# detector = "ECOD"
# policy = """
# Take borderline normal rows (top decile of ECOD scores) and replace a few of their features with
# values drawn from other training rows' moderate tails (the 70th-95th or 5th-30th percentile of that
# feature), so that each feature stays marginally plausible while the combination becomes unusual;
# keep the candidates with the lowest ECOD scores."""
# explanation = """
# ECOD sums per-feature tail probabilities estimated from the empirical marginals and is blind to
# dependencies between features. Rows whose every coordinate is marginally moderate but whose joint
# configuration never occurs in normal data get low ECOD scores, so they are the hard anomalies for
# this detector."""
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

    upper = np.percentile(X, [70, 95], axis=0)
    lower = np.percentile(X, [5, 30], axis=0)
    m = 3 * n_samples
    cand = seeds[rng.integers(len(seeds), size=m)].copy()
    n_feat = max(1, int(np.ceil(0.3 * d)))
    for i in range(m):
        cols = rng.choice(d, size=min(n_feat, d), replace=False)
        hi_side = rng.random(len(cols)) < 0.5
        lo_b = np.where(hi_side, upper[0, cols], lower[0, cols])
        hi_b = np.where(hi_side, upper[1, cols], lower[1, cols])
        cand[i, cols] = rng.uniform(lo_b, np.maximum(hi_b, lo_b))
    keep = np.argsort(model.predict_score(cand))[:n_samples]
    return cand[keep]
