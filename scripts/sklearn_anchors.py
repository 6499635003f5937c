#!/usr/bin/env python3
"""How far classic models get on the 57 features: the evidence behind issue 8's status.

Runs scikit-learn models (logistic regression, RBF SVM, MLP, gradient boosting, LDA) and every
average of their probabilities on features/features_30_sec.csv, with the variance columns as they
are and log-transformed, on (1) a stratified 70/30 holdout with 15% of the training part as
validation, seeds 0-9 (scikit-learn's shuffles, so not the very songs of `tuneprint train`), and
(2) the artist-filtered split in features/splits/. Prints validation and test accuracy; the best
rows by validation come first. Needs numpy and scikit-learn (the reference venv has both):

    /path/to/.venv-librosa/bin/python scripts/sklearn_anchors.py [--seeds 10] [--top 8]
"""
import argparse
import csv
import itertools
import os
import warnings

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

warnings.filterwarnings("ignore")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODELS = {
    "logistic": lambda: LogisticRegression(C=0.5, max_iter=3000),
    "svm": lambda: SVC(C=10, gamma="scale", probability=True, random_state=0),
    "mlp": lambda: MLPClassifier((256, 128), alpha=1e-2, max_iter=500, random_state=0),
    "boosting": lambda: HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=0),
    "lda": lambda: LinearDiscriminantAnalysis(),
}


def load():
    with open(os.path.join(ROOT, "features", "features_30_sec.csv")) as f:
        rows = list(csv.DictReader(f))
    cols = [c for c in rows[0] if c not in ("filename", "length", "label")]
    x = np.array([[float(r[c]) for c in cols] for r in rows])
    genres = sorted({r["label"] for r in rows})
    y = np.array([genres.index(r["label"]) for r in rows])
    stems = np.array([r["filename"].rsplit(".", 1)[0] for r in rows])
    logged = x.copy()
    var = [i for i, c in enumerate(cols) if c.endswith("_var")]
    logged[:, var] = np.log(np.maximum(logged[:, var], 0) + 1e-12)
    return x, logged, y, stems


def probabilities(x, y, tr, va, te):
    z = StandardScaler().fit(x[tr]).transform(x)
    out = {}
    for name, make in MODELS.items():
        m = make().fit(z[tr], y[tr])
        out[name] = (m.predict_proba(z[va]), m.predict_proba(z[te]))
    return out


def table(runs, title, top):
    scores = {}
    names = list(MODELS)
    for k in range(1, len(names) + 1):
        for combo in itertools.combinations(names, k):
            v = np.mean([(sum(p[n][0] for n in combo).argmax(1) == yv).mean() for p, yv, _ in runs])
            t = np.mean([(sum(p[n][1] for n in combo).argmax(1) == yt).mean() for p, _, yt in runs])
            scores[" + ".join(combo)] = (v, t)
    print(f"\n{title}\n{'models (probabilities averaged)':50s} validation  test")
    best = sorted(scores.items(), key=lambda kv: -kv[1][0])
    for name, (v, t) in best[:top] + [kv for kv in best[top:] if " + " not in kv[0]]:
        print(f"{name:50s} {v:.3f}       {t:.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--top", type=int, default=8)
    a = ap.parse_args()
    x, logged, y, stems = load()
    parts = {}
    for p in ("train", "valid", "test"):
        with open(os.path.join(ROOT, "features", "splits", f"fault_filtered_{p}.txt")) as f:
            parts[p] = np.where(np.isin(stems, f.read().split()))[0]
    for feats, label in ((x, "variances as they are"), (logged, "log variances")):
        runs = []
        for s in range(a.seeds):
            idx = np.arange(len(y))
            train_all, te = train_test_split(idx, test_size=0.3, stratify=y, random_state=s)
            tr, va = train_test_split(train_all, test_size=0.15, stratify=y[train_all], random_state=s)
            runs.append((probabilities(feats, y, tr, va, te), y[va], y[te]))
        table(runs, f"holdout, {a.seeds} seeds, {label}", a.top)
        p = parts
        run = probabilities(feats, y, p["train"], p["valid"], p["test"])
        table([(run, y[p["valid"]], y[p["test"]])], f"artist-filtered, {label}", a.top)


if __name__ == "__main__":
    main()
