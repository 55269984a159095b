# /// llmdas-program
# name = "adbench_clustered"
# detector = "any"
# policy = """
# ADBench's 'clustered' synthetic anomalies, as we understand its generator: fit a Gaussian mixture
# to the normal rows, multiply every component's mean by alpha = 5 and sample from the shifted mixture
# with the covariances unchanged. We do this on features min-max scaled to [0, 1] (so that the
# scaling moves each cluster away from the data for any origin of the raw features) and map back.
# The mixture is fitted with numpy only: k-means (k-means++ start) for K = 1..5, per-cluster moments
# with a small ridge, K chosen by BIC (stopping before a mixture has more parameters than the data has values), on at most 5000 random rows. The detector is never consulted."""
# explanation = """
# Baseline for the benchmark: ADBench's synthetic 'clustered' anomaly type, tight groups of
# anomalies that look like displaced copies of normal clusters. Easy for most detectors; included for
# completeness. A re-implementation from ADBench's description, not its code."""
#
# [provenance]
# author = "llmdas authors"
# generator = "human"
# created = "2026-11-24"
# note = "baseline, not detector-aware"
# ///
def generate_hard_anomalies(n_samples: int, model, X_train):
    import numpy as np

    def fit_mixture(Z, rng):
        """Gaussian mixture: k-means (k-means++ start) per K in 1..5, moments per cluster, BIC."""
        if len(Z) > 5000:  # moments of a subsample are plenty for a generator
            Z = Z[rng.choice(len(Z), 5000, replace=False)]
        n, d = Z.shape
        ridge = 1e-3 * max(float(Z.var(axis=0).mean()), 1e-12)
        sq = (Z**2).sum(axis=1)
        best = None
        for k in range(1, min(5, max(1, n // 10)) + 1):
            if k > 1 and (k * (d + d * (d + 1) / 2) > n * d):
                break  # more parameters than data values: BIC cannot favour it
            centres = Z[rng.integers(n)][None, :]
            while len(centres) < k:
                d2 = np.maximum(sq[:, None] - 2 * Z @ centres.T + (centres**2).sum(axis=1), 0).min(
                    axis=1
                )
                p = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1.0 / n)
                centres = np.vstack([centres, Z[rng.choice(n, p=p)]])
            for _ in range(25):
                label = np.argmin(
                    sq[:, None] - 2 * Z @ centres.T + (centres**2).sum(axis=1), axis=1
                )
                centres = np.array(
                    [
                        Z[label == j].mean(axis=0) if np.any(label == j) else centres[j]
                        for j in range(k)
                    ]
                )
            parts = [j for j in range(k) if np.count_nonzero(label == j) >= 2]
            weights = np.array([np.mean(label == j) for j in parts])
            weights = weights / weights.sum()
            means = np.array([Z[label == j].mean(axis=0) for j in parts])
            covs = np.array(
                [
                    np.cov(Z[label == j], rowvar=False, bias=True).reshape(d, d) + ridge * np.eye(d)
                    for j in parts
                ]
            )
            logp = np.empty((n, len(parts)))
            for j in range(len(parts)):
                vals, vecs = np.linalg.eigh(covs[j])
                vals = np.maximum(vals, ridge)
                proj = ((Z - means[j]) @ vecs) ** 2 / vals
                logp[:, j] = np.log(weights[j]) - 0.5 * (
                    proj.sum(axis=1) + np.log(vals).sum() + d * np.log(2 * np.pi)
                )
            top = logp.max(axis=1)
            loglik = float((top + np.log(np.exp(logp - top[:, None]).sum(axis=1))).sum())
            n_params = len(parts) - 1 + len(parts) * (d + d * (d + 1) / 2)
            bic = -2 * loglik + n_params * np.log(n)
            if best is None or bic < best[0]:
                best = (bic, weights, means, covs)
        return best[1], best[2], best[3]

    def sample(weights, means, covs, size, rng):
        comp = rng.choice(len(weights), size=size, p=weights)
        out = np.empty((size, means.shape[1]))
        for j in range(len(weights)):
            rows = np.flatnonzero(comp == j)
            vals, vecs = np.linalg.eigh(covs[j])
            root = vecs * np.sqrt(np.maximum(vals, 0))
            out[rows] = means[j] + rng.normal(size=(len(rows), means.shape[1])) @ root.T
        return out

    rng = np.random.default_rng()
    X = np.asarray(X_train, dtype=float)
    lo = X.min(axis=0)
    width = X.max(axis=0) - lo
    width[width == 0] = 1.0
    weights, means, covs = fit_mixture((X - lo) / width, rng)
    alpha = 5.0
    out = sample(weights, means * alpha, covs, n_samples, rng) * width + lo
    constant = X.max(axis=0) == X.min(axis=0)
    out[:, constant] = X[0, constant]  # the ridge must not add noise to constant features
    return out
