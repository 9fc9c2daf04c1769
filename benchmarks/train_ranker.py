"""A learned ranker over the candidates' signals, trained on the tune halves, scored on the checks.

It reads the candidates ``tune_ranking.py --cache DIR`` kept (each question searched once by the
engine: every candidate chunk's five blend signals, its article, day and span), makes a feature
row per candidate (``features``), trains LightGBM lambdarank (and, as a plain linear baseline,
scikit-learn's logistic regression) on the tune halves of every set together, each set's
questions weighted to count the same in all, and scores each model on every half beside the
hand blend (``qa/settings.py``), re-ranking as the engine does (``tune_ranking.metrics``).

A candidate's label: 2 if its article is a gold one and the chunk holds an answer, 1 if only
one of the two, else 0. Training only: LightGBM and scikit-learn are not the project's
dependencies: they are installed into a separate venv (``--train-venv``, default /tmp/train-venv:
``python3 -m venv /tmp/train-venv && /tmp/train-venv/bin/pip install lightgbm scikit-learn``), whose
site-packages this script, run by the project's Python, appends to its path.

Usage:
  python benchmarks/tune_ranking.py --levers --cache /tmp/R-cache --set news=...:/tmp/news-index --set squad=...
  python benchmarks/train_ranker.py --cache /tmp/R-cache news squad
"""
from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune_ranking import Config, Searched, default_config, half, scored, scores_of, support_of  # noqa: E402

from qa.timewords import TimePrior  # noqa: E402

FEATURES = ("dense", "sentence", "bm25", "sentence_bm25", "pairs", "blend", "recency", "named",
            "lede", "headline", "support", "article_chunks", "behind_best")


def features(s: Searched, c: Config) -> np.ndarray:
    """One row per candidate of ``s``: its five signals, the hand blend, the two time bonuses of
    ``c`` (recency, named period), whether it opens its article, the share of the query's IDF in
    its headline, its article's second-best blend, how many candidates its article has, and how
    far its blend is behind the best."""
    w = np.array([getattr(c.blend, n) for n in ("dense", "sentence", "bm25", "sentence_bm25", "pairs")])
    blend = s.signals @ w
    recency = TimePrior(s.as_of, s.windows, c.recency, 0.0, c.recent_days, c.decay_days).bonus(s.days)
    named = TimePrior(s.as_of, s.windows, 0.0, c.named, c.recent_days, c.decay_days).bonus(s.days)
    _, inverse, counts = np.unique(s.docs, return_inverse=True, return_counts=True)
    return np.column_stack([s.signals, blend, recency, named, s.first.astype(float), s.headline,
                            support_of(blend, s.docs), counts[inverse], blend.max() - blend])


def labels(s: Searched) -> np.ndarray:
    gold = np.array([d in s.gold for d in s.docs.tolist()])
    return gold.astype(int) + s.answers.astype(int)


def training_data(sets: dict[str, list[Searched]], c: Config):
    """Stacked features, labels, group sizes and per-group weights (each set counts the same)."""
    xs, ys, groups, weights = [], [], [], []
    largest = max(len(v) for v in sets.values())
    for searched in sets.values():
        for s in searched:
            xs.append(features(s, c))
            ys.append(labels(s))
            groups.append(len(s.docs))
            weights.append(largest / len(searched))
    return np.vstack(xs), np.concatenate(ys), np.array(groups), np.array(weights)


def tree_arrays(booster) -> dict[str, np.ndarray]:
    """The LightGBM model as flat numpy arrays (what a package file would hold): per node its
    feature, threshold, children (a negative child ``~i`` is leaf ``i``), per leaf its value."""
    feature, threshold, left, right, leaf_value, roots = [], [], [], [], [], []

    def walk(node) -> int:
        if "split_feature" not in node:  # a leaf
            leaf_value.append(node["leaf_value"])
            return ~(len(leaf_value) - 1)
        assert node.get("decision_type", "<=") == "<=", node.get("decision_type")
        at = len(feature)
        feature.append(node["split_feature"]), threshold.append(node["threshold"])
        left.append(0), right.append(0)
        left[at], right[at] = walk(node["left_child"]), walk(node["right_child"])
        return at

    for tree in booster.dump_model()["tree_info"]:
        roots.append(walk(tree["tree_structure"]))
    return {"feature": np.array(feature, dtype="int32"), "threshold": np.array(threshold),
            "left": np.array(left, dtype="int32"), "right": np.array(right, dtype="int32"),
            "leaf_value": np.array(leaf_value), "roots": np.array(roots, dtype="int32")}


def predict(model: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The model's score of each row of ``x`` with numpy only (``<=`` goes left, as LightGBM)."""
    out = np.zeros(len(x))
    rows = np.arange(len(x))
    for root in model["roots"].tolist():
        node = np.full(len(x), root)
        while True:
            inner = node >= 0
            if not inner.any():
                break
            n = node[inner]
            go_left = x[rows[inner], model["feature"][n]] <= model["threshold"][n]
            node[inner] = np.where(go_left, model["left"][n], model["right"][n])
        out += model["leaf_value"][~node]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", help="the sets' names in the cache (news squad)")
    parser.add_argument("--cache", required=True, metavar="DIR")
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--leaves", type=int, default=7)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--min-leaf", type=int, default=50)
    parser.add_argument("--save", metavar="FILE", help="write the model's numpy arrays here (.npz)")
    parser.add_argument("--train-venv", default="/tmp/train-venv", help="where lightgbm and scikit-learn are")
    args = parser.parse_args()
    sys.path += sorted(str(p) for p in Path(args.train_venv).glob("lib/python*/site-packages"))
    import lightgbm as lgb
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    started = time.perf_counter()
    halves = {}
    for name in args.names:
        _, searched = pickle.loads((Path(args.cache) / f"{name}.pkl").read_bytes())
        halves[name] = {h: [s for s in searched if half(s.qid) == h] for h in ("tune", "check")}
    c = default_config()
    x, y, groups, weights = training_data({n: h["tune"] for n, h in halves.items()}, c)
    print(f"training rows {len(y):,}, questions {len(groups):,}, features {x.shape[1]}", file=sys.stderr)

    ranker = lgb.LGBMRanker(objective="lambdarank", n_estimators=args.trees, num_leaves=args.leaves,
                            learning_rate=args.rate, min_child_samples=args.min_leaf,
                            lambdarank_truncation_level=10, label_gain=[0, 1, 3], verbose=-1,
                            n_jobs=1, random_state=0)
    row_w = np.repeat(weights, groups)  # LightGBM weighs a question by its rows' mean weight
    ranker.fit(x, y, group=groups, sample_weight=row_w)
    scaler = StandardScaler().fit(x)
    linear = LogisticRegression(max_iter=2000, C=1.0).fit(scaler.transform(x), (y > 0).astype(int),
                                                          sample_weight=row_w)
    models = {
        "hand blend (settings.py default)": lambda s: scores_of(s, c),
        f"LightGBM lambdarank ({args.trees} trees, {args.leaves} leaves)": lambda s: ranker.predict(features(s, c)),
        "logistic regression (linear)": lambda s: linear.decision_function(scaler.transform(features(s, c))),
    }
    names = list(halves)
    head = "| ranker | " + " | ".join(f"{n} {h} Hit@1 | MRR@10 | AR@5" for n in names for h in ("tune", "check")) + " |"
    print(head)
    print("|---|" + "---|" * (6 * len(names)))
    for label, score in models.items():
        cells = []
        for n in names:
            for h in ("tune", "check"):
                m = scored(halves[n][h], score)
                cells += [f'{m["Hit@1"]:.3f}', f'{m["MRR@10"]:.3f}', f'{m["AR@5"]:.3f}']
        print(f"| {label} | " + " | ".join(cells) + " |")
    gains = ranker.booster_.feature_importance("gain")
    print("\nLightGBM gain by feature: " + ", ".join(
        f"{f} {g / max(gains.sum(), 1e-9):.2f}" for f, g in sorted(zip(FEATURES, gains), key=lambda t: -t[1])))
    print("Linear weights (standardised): " + ", ".join(
        f"{f} {w:+.2f}" for f, w in zip(FEATURES, linear.coef_[0])))
    arrays = tree_arrays(ranker.booster_)  # numpy-only inference gives LightGBM's scores
    probe = features(halves[names[0]]["check"][0], c)
    assert np.allclose(predict(arrays, probe), ranker.predict(probe), atol=1e-9)
    print(f"numpy inference: {len(arrays['feature']):,} split nodes, {len(arrays['leaf_value']):,} leaves, "
          f"same scores as LightGBM")
    if args.save:
        np.savez_compressed(args.save, **arrays)
    print(f"\nWall time {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
