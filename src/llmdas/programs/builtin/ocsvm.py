# /// llmdas-program
# name = "ocsvm-boundary-walk"
# detector = "OCSVM"
# policy = """
# Take borderline normal rows (top decile of OCSVM scores) and walk them outward, away from the
# centroid of the training data, in small steps measured in per-feature standard deviations, with a
# random tangential component; at every step keep the rows the detector still scores below its 90th
# training percentile. The result is a shell just outside the support region that the one-class SVM
# still places inside."""
# explanation = """
# An RBF one-class SVM draws a smooth boundary around the data; with a wide kernel the boundary is
# loose, so rows slightly outside the support of normal data are still scored as normal. Walking
# outward from borderline rows while checking the score finds exactly that slack region."""
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
    limit = np.percentile(scores, 90)
    seeds = X[np.argsort(scores)[-max(5, n // 10) :]]

    spread = X.std(axis=0)
    spread[spread == 0] = 1.0
    centre = X.mean(axis=0)
    cur = seeds[rng.integers(len(seeds), size=n_samples)].copy()
    moved = np.zeros(n_samples, dtype=bool)
    for _ in range(5):
        radial = (cur - centre) / spread
        radial /= np.linalg.norm(radial, axis=1, keepdims=True) + 1e-12
        tangent = rng.normal(size=cur.shape)
        proposal = cur + (radial + 0.5 * tangent) * spread * 0.25
        ok = model.predict_score(proposal) <= limit
        cur[ok] = proposal[ok]
        moved |= ok
    # Rows that could never move get a small random displacement, so none copies a normal row.
    cur[~moved] += rng.normal(scale=0.1, size=(int((~moved).sum()), d)) * spread
    return cur
