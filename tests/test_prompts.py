"""Prompt templates: loading, rendering, variants, hashes, and data-agnosticism."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from llmdas.prompting import (
    TEMPLATE_NAMES,
    VARIANTS,
    PromptPlan,
    build_prompts,
    detector_context,
    load_template,
    repair_message,
    review_messages,
)

DETECTORS = ["PCA", "IForest", "OCSVM", "ECOD", "KNN", "LOF", "HBOS", "COPOD", "DRL"]


def test_every_template_has_a_version_and_renders():
    for name in TEMPLATE_NAMES:
        tpl = load_template(name)
        assert re.fullmatch(r"\d+\.\d+(\.\d+)?", tpl.version), name
        assert tpl.text.strip()
        assert "version:" not in tpl.text  # header stripped
    with pytest.raises(ValueError, match="unknown prompt template"):
        load_template("nope")


def test_templates_are_package_data():
    from importlib import resources

    folder = resources.files("llmdas").joinpath("prompts")
    assert {p.name for p in folder.iterdir() if p.name.endswith(".txt")} >= {
        f"{n}.txt" for n in TEMPLATE_NAMES
    }


def test_default_plan_two_steps():
    plan = build_prompts("iforest")  # case-insensitive, canonicalised
    assert isinstance(plan, PromptPlan) and plan.detector == "IForest"
    step1 = plan.step1_messages()
    assert [m["role"] for m in step1] == ["system", "user"]
    assert "IForest" in step1[1]["content"] and "pseudo-code" in step1[1]["content"]
    assert "pyod.models.iforest.IForest" in step1[1]["content"]  # PyOD docstring as context
    step2 = plan.step2_messages("IForest isolates points by random splits ...")
    assert [m["role"] for m in step2] == ["system", "user", "assistant", "user"]
    assert step2[2]["content"].startswith("IForest isolates")
    task = step2[-1]["content"]
    for needle in (
        "hard anomalies",
        "borderline",
        "Controlled extrapolation",
        "numpy only",
        "inside the function",
        "def generate_hard_anomalies(n_samples: int, model, X_train: np.ndarray) -> np.ndarray",
        "(n_samples, X_train.shape[1])",
        "POLICY",
        "```python",
        "EXPLANATION",
        "model.predict_score",
    ):
        assert needle in task, needle
    assert "${" not in plan.all_text() and "$detector" not in plan.all_text()
    with pytest.raises(ValueError, match="needs step 1"):
        plan.step2_messages(None)
    assert set(plan.versions) == {"initial", "description", "objective", "requirements"}
    assert plan.version.startswith("initial=")


def test_variants_differ_as_specified():
    plans = {v: build_prompts("KNN", v) for v in VARIANTS}
    assert len({p.sha256 for p in plans.values()}) == len(VARIANTS)
    assert plans["generic"].step1_messages() is None
    assert "KNN" not in plans["generic"].all_text()  # no detector-specific reasoning
    assert "Requirements" not in plans["simple"].task
    assert plans["simple"].has_step1
    assert "random" in plans["random"].task.lower()
    assert "KNN" not in plans["random"].all_text()
    for plan in plans.values():
        assert "generate_hard_anomalies" in plan.task
        assert plan.step2_messages("desc")[-1]["role"] == "user"
    with pytest.raises(ValueError, match="unknown prompt variant"):
        build_prompts("KNN", "fancy")


def test_hash_is_stable_and_detector_specific():
    assert build_prompts("PCA").sha256 == build_prompts("pca").sha256
    assert build_prompts("PCA").sha256 != build_prompts("LOF").sha256
    assert re.fullmatch(r"[0-9a-f]{64}", build_prompts("PCA").sha256)


@pytest.mark.parametrize("detector", DETECTORS)
def test_detector_context_from_docstrings(detector):
    if detector == "DRL":
        pytest.importorskip("torch")  # llmdas's DRL module, which holds the docstring, needs it
    ctx = detector_context(detector)
    assert "source: docstring of" in ctx
    assert 50 < len(ctx) < 1700
    assert ":cite:" not in ctx and ":class:" not in ctx


def test_unknown_detector_gets_a_neutral_context():
    assert "No reference documentation" in detector_context("MyCustomDetector")
    assert "MyCustomDetector" in build_prompts("MyCustomDetector").description


def test_repair_and_review_messages():
    text = repair_message(
        "def generate_hard_anomalies(n, m, X):\n    return X[:n] / 0",
        "BadOutputError",
        "output holds   NaN\nor inf",
        "Traceback (most recent call last):\n  ...\nZeroDivisionError",
    )
    assert "BadOutputError: output holds NaN or inf" in text
    assert "ZeroDivisionError" in text and "return X[:n] / 0" in text
    assert "no code was found" in repair_message("", "ProgramSyntaxError", "no code", None)
    long_tb = "x" * 10_000
    assert len(repair_message("c", "E", "m", long_tb)) < 6000
    msgs = review_messages("hbos", "Shift values within bins", "def f(): ...", "hardness: 0.9")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert "HBOS" in msgs[1]["content"] and "VERDICT" in msgs[1]["content"]
    assert "hardness: 0.9" in msgs[1]["content"]


def test_build_prompts_takes_no_data():
    with pytest.raises(TypeError):
        build_prompts(np.zeros((3, 3)))  # type: ignore[arg-type]


_CLEAN_HASHES = (
    "import json; from llmdas.prompting import build_prompts, VARIANTS; "
    "print(json.dumps({f'{d}/{v}': build_prompts(d, v).sha256 "
    "for d in %r for v in VARIANTS}))"
)


def test_prompts_are_data_agnostic(tmp_path):
    """Load a distinctive user data set, build every prompt, and look for any trace of it."""
    import json

    from llmdas.data import load_dataset

    rng = np.random.default_rng(7)
    n_rows, n_cols = 4813, 29  # values checked not to occur in any template or docstring
    X = rng.normal(size=(n_rows, n_cols)) * 1000 + 31337.123
    y = (rng.random(n_rows) < 0.05).astype(int)
    name = "zqx_customer_churn_ledger"
    header = ",".join([f"col_feature_{i}_kappa" for i in range(n_cols)] + ["label"])
    path = tmp_path / f"{name}.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header=header, comments="", fmt="%.6f")
    X_loaded, y_loaded = load_dataset(path)
    assert X_loaded.shape == (n_rows, n_cols)

    texts = []
    for detector in DETECTORS:
        for variant in VARIANTS:
            plan = build_prompts(detector, variant)
            texts.append(plan.all_text())
            texts += [m["content"] for m in plan.step2_messages("a description")]
        texts += [m["content"] for m in review_messages(detector, "p", "c", "m")]
    texts.append(repair_message("code", "E", "msg", "tb"))
    blob = "\n".join(texts)

    for word in (name, "col_feature_", "kappa", "churn", "ledger"):
        assert word not in blob, word
    numbers_in_prompts = set(re.findall(r"\d+(?:\.\d+)?", blob))
    numbers = {str(n_rows), str(n_cols), str(n_rows * n_cols)}
    numbers |= {f"{v:.6f}" for v in X_loaded[:50].ravel()}
    numbers |= {f"{v:.3f}" for v in X_loaded[:50].ravel()}
    numbers |= {f"{v:.0f}" for v in X_loaded[:50].ravel()}
    numbers |= {f"{X_loaded.mean():.2f}", f"{X_loaded.std():.2f}"}
    assert not numbers & numbers_in_prompts

    # the prompts are identical to those built in a fresh process that never saw any data
    clean = subprocess.run(
        [sys.executable, "-c", _CLEAN_HASHES % (DETECTORS,)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    clean_hashes = json.loads(clean.stdout)
    here = {f"{d}/{v}": build_prompts(d, v).sha256 for d in DETECTORS for v in VARIANTS}
    assert here == clean_hashes
