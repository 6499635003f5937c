#!/usr/bin/env python3
"""Issue 13: choose the default classifier on validation songs only (never a test list).

Every candidate is fitted (1) on the artist-filtered split's train list and scored on its validation
list (197 songs, no artist shared with train or test), and (2) on the stratified holdout of `tuneprint
train` (70/30, 15% of the training part for validation; scikit-learn's shuffles, seeds 0-9) and scored
on that validation part. Rule, fixed before any test figure was read: among the candidates whose mean
holdout validation accuracy is at least 0.74 (the issue's holdout target, applied to validation songs),
the highest filtered validation accuracy wins, ties broken by the lower filtered validation log-loss; when
no candidate reaches 0.74, the highest filtered validation accuracy wins. Candidates: multinomial
logistic regression (raw and log-variance inputs, several C), LDA (plain and shrunk), the RBF SVM with
probabilities, MLPs (stand-ins for the strong ensemble), and probability averages of the best two to
four families' members (best by filtered validation accuracy). Test columns are printed for the README
table only, after the choice. The chosen candidate is then scored: fitted on train, temperature fitted
on valid, once on the filtered test (accuracy, ECE with 15 bins); refit on train+valid; and on the
holdout test (10 seeds).

    /path/to/.venv-librosa/bin/python scripts/default_model_search.py [--seeds 10]
"""
import argparse
import csv
import os
import sys
import warnings

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis as LDA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

warnings.filterwarnings("ignore")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


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
    return {"raw": x, "logvar": logged}, y, stems


def candidates():
    out = {}
    for inp in ("raw", "logvar"):
        for c in (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0):
            out[f"logistic {inp} C={c}"] = (inp, lambda c=c: LogisticRegression(C=c, max_iter=5000))
        out[f"lda {inp}"] = (inp, lambda: LDA())
        for sh in ("auto", 0.1, 0.3):
            out[f"lda {inp} shrinkage={sh}"] = (inp, lambda sh=sh: LDA(solver="lsqr", shrinkage=sh))
        for c in (1.0, 3.0, 10.0):
            out[f"svm {inp} C={c}"] = (
                inp, lambda c=c: SVC(C=c, gamma="scale", probability=True, random_state=0))
        for h, a in (((256, 128), 1e-2), ((256, 128), 1.0), ((64,), 1.0), ((512, 256), 3.0)):
            out[f"mlp {inp} {'-'.join(map(str, h))} alpha={a}"] = (
                inp, lambda h=h, a=a: MLPClassifier(h, alpha=a, max_iter=800, random_state=0))
    return out


def fit_proba(feats, y, make_inp, tr, ev):
    inp, make = make_inp
    z = StandardScaler().fit(feats[inp][tr]).transform(feats[inp])
    m = make().fit(z[tr], y[tr])
    return [m.predict_proba(z[e]) for e in ev]


def accuracy(p, y):
    return float((p.argmax(1) == y).mean())


def logloss(p, y):
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1)).mean())


def temper(p, t):
    lg = np.log(np.clip(p, 1e-12, 1)) / t
    lg -= lg.max(1, keepdims=True)
    e = np.exp(lg)
    return e / e.sum(1, keepdims=True)


def fit_temperature(p, y):
    return float(minimize_scalar(lambda t: logloss(temper(p, t), y), bounds=(0.05, 20), method="bounded").x)


def ece(p, y, bins=15):
    conf = p.max(1)
    hit = p.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(hit[m].mean() - conf[m].mean())
    return float(total)


HOLDOUT_TARGET = 0.74


def family(name):
    return " ".join(name.split()[:2])


def main():
    import itertools
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    a = ap.parse_args()
    feats, y, stems = load()
    parts = {}
    for p in ("train", "valid", "test"):
        with open(os.path.join(ROOT, "features", "splits", f"fault_filtered_{p}.txt")) as f:
            parts[p] = np.where(np.isin(stems, f.read().split()))[0]
    tr, va, te = parts["train"], parts["valid"], parts["test"]
    holdout = []
    for s in range(a.seeds):
        idx = np.arange(len(y))
        trall, hte = train_test_split(idx, test_size=0.3, stratify=y, random_state=s)
        htr, hva = train_test_split(trall, test_size=0.15, stratify=y[trall], random_state=s)
        holdout.append((htr, hva, hte))
    cands = candidates()
    # name -> (filtered valid, filtered test, [(holdout valid, holdout test) per seed])
    probs = {}
    for name, c in cands.items():
        pv, pt = fit_proba(feats, y, c, tr, [va, te])
        probs[name] = (pv, pt, [fit_proba(feats, y, c, h[0], [h[1], h[2]]) for h in holdout])
        print(f"  fitted {name}", file=sys.stderr, flush=True)
    best = {}
    for name, (pv, _, _) in probs.items():
        key = (accuracy(pv, y[va]), -logloss(pv, y[va]))
        if family(name) not in best or key > best[family(name)][0]:
            best[family(name)] = (key, name)
    tops = [n for _, n in sorted(best.values(), reverse=True)]
    for k in (2, 3, 4):
        for combo in itertools.combinations(tops, k):
            probs["average(" + " + ".join(combo) + ")"] = (
                sum(probs[n][0] for n in combo) / k,
                sum(probs[n][1] for n in combo) / k,
                [[sum(probs[n][2][s][i] for n in combo) / k for i in range(2)] for s in range(a.seeds)],
            )
    rows = []
    for name, (pv, pt, hs) in probs.items():
        hv = np.mean([accuracy(h[0], y[holdout[s][1]]) for s, h in enumerate(hs)])
        ht = np.mean([accuracy(h[1], y[holdout[s][2]]) for s, h in enumerate(hs)])
        rows.append(dict(name=name, fv=accuracy(pv, y[va]), fl=logloss(pv, y[va]), hv=hv,
                         ft=accuracy(pt, y[te]), ht=ht))
    eligible = [r for r in rows if r["hv"] >= HOLDOUT_TARGET] or rows
    chosen = max(eligible, key=lambda r: (r["fv"], -r["fl"]))["name"]
    rows.sort(key=lambda r: (-r["fv"], r["fl"]))
    print(f"| candidate | filtered valid | filtered valid log-loss | holdout valid | filtered test | holdout test |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        mark = "**" if r["name"] == chosen else ""
        print(f"| {mark}{r['name']}{mark} | {r['fv']:.3f} | {r['fl']:.3f} | {r['hv']:.3f} | {r['ft']:.3f} | {r['ht']:.3f} |")
    print(f"\nchosen (holdout valid >= {HOLDOUT_TARGET}, then filtered valid accuracy): {chosen}")
    members = chosen[len("average("):-1].split(" + ") if chosen.startswith("average(") else [chosen]

    def ensemble(tr_idx, ev):
        outs = [fit_proba(feats, y, cands[m], tr_idx, ev) for m in members]
        return [sum(o[i] for o in outs) / len(outs) for i in range(len(ev))]

    pv, pt = ensemble(tr, [va, te])
    t = fit_temperature(pv, y[va])
    print(f"fitted on train: valid {accuracy(pv, y[va]):.3f}, filtered test {accuracy(pt, y[te]):.3f}, "
          f"ECE {ece(pt, y[te]):.3f}; temperature {t:.3f} (fitted on valid): ECE {ece(temper(pt, t), y[te]):.3f}")
    (pt2,) = ensemble(np.concatenate([tr, va]), [te])
    print(f"refit on train+valid: filtered test {accuracy(pt2, y[te]):.3f}, ECE {ece(pt2, y[te]):.3f}, "
          f"with temperature {t:.3f}: {ece(temper(pt2, t), y[te]):.3f}")
    accs = [accuracy(ensemble(np.concatenate(h[:2]), [h[2]])[0], y[h[2]]) for h in holdout]
    print(f"holdout test, fitted on train+valid part ({a.seeds} seeds): {np.mean(accs):.3f} ± {np.std(accs):.3f}")


if __name__ == "__main__":
    main()
