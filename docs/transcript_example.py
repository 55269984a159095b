"""Produce docs/transcript-example.md: one generation run against a *scripted* loopback server.

No LLM is involved. Every "LLM reply" below was written by hand, in this file, to show what the
Stage-1 loop does with typical answers: a program with a bug (repaired from its error), a
reviewer's verdict, a hostile program (rejected by the static check) and a program that returns
copies of training rows (rejected by the review). The server speaks the OpenAI protocol on
127.0.0.1 and the run goes through the real ``openai`` SDK, the real sandbox and real PyOD.

    .venv/bin/python docs/transcript_example.py            # rewrites docs/transcript-example.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from llmdas.generate import GenerationConfig, generate_program, transcript_markdown
from llmdas.llm import OpenAIProvider, RetryPolicy
from llmdas.llm.loopback import ScriptedLLMServer

DESCRIPTION = """\
**How IForest models normal data.** Isolation Forest builds an ensemble of random binary trees on
sub-samples of the training rows. Each internal node picks a feature uniformly at random and a
split value uniformly between that feature's minimum and maximum in the node. A row's score is
derived from its average path length: rows that are isolated after few splits are anomalous.

**Pseudo-code.**

    fit(X): for t in 1..T: S = subsample(X, 256); tree_t = grow(S, depth_limit = ceil(log2 256))
    grow(S): if |S| <= 1 or depth limit: leaf(size=|S|)
             q = random feature; p = uniform(min S[:,q], max S[:,q])
             return node(q, p, grow(S[S[:,q] < p]), grow(S[S[:,q] >= p]))
    score(x) = 2 ** (-mean_t h_t(x) / c(256))      # h_t: path length, c: normaliser

**Blind spots.** Splits are axis-parallel and each looks at one feature, so a row whose every
feature value is common but whose *combination* is impossible (broken correlations, swapped
features between distant normal rows) needs about as many splits as a normal row. Values just
inside the per-feature range of the data are also isolated slowly. Density differences between
clusters are only partly visible.
"""

PROGRAM_WITH_BUG = """\
POLICY: Start from borderline rows (top decile of IForest scores). For each seed, overwrite a
random third of its features with the values of another borderline seed, so that every value is
common on its own axis while the joint structure (correlations) is broken; keep the candidates
that IForest scores below its 90th training percentile.

PROGRAM:
```python
def generate_hard_anomalies(n_samples: int, model, X_train: np.ndarray) -> np.ndarray:
    import numpy as np

    rng = np.random.default_rng()
    X = np.asarray(X_train, dtype=float)
    n, d = X.shape
    scores = model.predict_score(X)
    seeds = X[scores >= np.percentile(scores, 90)]
    cand = seeds[rng.integers(len(seeds), size=n_samples)].copy()
    donors = seeds[rng.integers(len(seeds), size=n_samples)]
    k = max(1, d // 3)
    for i in range(n_samples):
        cols = rng.choice(d, size=k, replace=False)
        cand[i, cols] = donors[i, cols]
    cand_scores = model.predict_score(cand)
    return cand[cand_scores < np.percentile(scores, 90)]
```

EXPLANATION: Each value of a generated row is taken from a real borderline row, so no single
axis-parallel split isolates it quickly; only the combination of features is anomalous, which
IForest's random one-feature splits barely see.
"""

PROGRAM_FIXED = """\
POLICY: Same policy: borderline seeds (top decile of IForest scores), a random third of the
features replaced by another seed's values to break the joint structure, then the candidates with
the lowest IForest scores are kept. The fix draws four times more candidates than needed and
returns exactly n_samples of them instead of filtering by a threshold.

PROGRAM:
```python
def generate_hard_anomalies(n_samples: int, model, X_train: np.ndarray) -> np.ndarray:
    import numpy as np

    rng = np.random.default_rng()
    X = np.asarray(X_train, dtype=float)
    n, d = X.shape
    scores = model.predict_score(X)
    seeds = X[scores >= np.percentile(scores, 90)]
    if len(seeds) < 2:
        seeds = X[np.argsort(scores)[-2:]]
    m = 4 * n_samples
    cand = seeds[rng.integers(len(seeds), size=m)].copy()
    donors = seeds[rng.integers(len(seeds), size=m)]
    k = max(1, d // 3)
    for i in range(m):
        cols = rng.choice(d, size=k, replace=False)
        cand[i, cols] = donors[i, cols]
    keep = np.argsort(model.predict_score(cand))[:n_samples]
    return cand[keep]
```

EXPLANATION: Every coordinate is a value that borderline normal rows really take, so IForest's
axis-parallel splits need about as many steps to isolate the row as for a normal one; the anomaly
lies only in the combination of features.
"""

REVIEW = """\
The policy targets IForest's main blind spot: axis-parallel splits evaluate one feature at a
time, and every coordinate of a generated row is a real borderline value, so path lengths stay
long. The rows are genuinely anomalous where features are correlated; for independent features a
swap can produce a normal row, which the hardness/novelty numbers cannot rule out. The code is
vectorised enough and handles a small seed set.
VERDICT: accept
"""

PROGRAM_HOSTILE = """\
POLICY: Cache the borderline rows on disk to speed up repeated runs.

PROGRAM:
```python
import os

def generate_hard_anomalies(n_samples: int, model, X_train):
    import numpy as np
    os.makedirs("/tmp/cache", exist_ok=True)
    return X_train[:n_samples] + 0.01
```

EXPLANATION: Tiny shifts of normal rows are scored as normal.
"""

PROGRAM_COPIES = """\
POLICY: Return the borderline rows themselves; they are already hard for IForest.

PROGRAM:
```python
def generate_hard_anomalies(n_samples: int, model, X_train):
    import numpy as np
    X = np.asarray(X_train, dtype=float)
    order = np.argsort(model.predict_score(X))[::-1]
    return X[np.resize(order[: max(1, len(X) // 10)], n_samples)]
```

EXPLANATION: Borderline rows are near the decision boundary.
"""


def main(out: Path) -> None:
    script = [
        DESCRIPTION,
        PROGRAM_WITH_BUG,
        PROGRAM_FIXED,
        REVIEW,
        PROGRAM_HOSTILE,
        PROGRAM_COPIES,
    ]
    config = GenerationConfig(
        candidates=2,
        repairs=1,
        llm_review=True,
        temperature=0.7,
        probe_rows=256,
        probe_samples=64,
        timeout_s=30.0,
    )
    with ScriptedLLMServer(script, model_name="scripted-loopback") as server:
        provider = OpenAIProvider(
            "scripted-loopback",
            base_url=server.url + "/v1",
            api_key="sk-loopback-example",
            retry=RetryPolicy(max_retries=1, initial_delay=0.1),
        )
        result = generate_program("IForest", provider, config)
    transcript = result.transcript
    header = (
        "> **This transcript did not come from an LLM.** It was produced by "
        "`docs/transcript_example.py`, which runs the real llmdas loop (the `openai` SDK over HTTP, "
        "the sandbox, PyOD's IForest) against a *scripted* server on 127.0.0.1: every reply below "
        "was written by hand to show what the loop does with a buggy program, a reviewer verdict, "
        "a hostile program and a program that copies training rows.\n"
    )
    text = transcript_markdown(
        transcript, title="Example generation transcript (scripted loopback server, no LLM)"
    )
    lines = text.split("\n", 2)
    body = "\n".join([lines[0], "", header, lines[2]])
    if result.program is not None:
        body += "\n## Accepted program file\n\n````python\n" + result.program.to_text() + "````\n"
    out.write_text(body, encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(transcript, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out} and {out.with_suffix('.json')}; accepted: {result.ok}")


if __name__ == "__main__":
    main(
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).with_name("transcript-example.md")
    )
