"""Train the quote selector (``qa/quote_model.json``) on the tune half of squad-dev.

The passages of squad-dev's tune-half questions (``benchmarks/bench_quote.py`` asks the engine
once and caches them) that hold an answer give the training groups: each sentence of such a
passage is labelled by whether it holds an answer string (``contains_answer``, as ``qa eval``
matches). The model's inputs are the features and their pairwise products (``qa.quote.expand``:
a linear model of them measured 0.856 quote|right on the squad check half, with the products
0.870). The model is a conditional logit over a passage's sentences (the probability of a
sentence is the softmax of its score among the passage's sentences; the loss is minus the log
of the probability mass on the sentences that hold an answer), with an L2 penalty, fitted by
L-BFGS (scipy, already a dependency of the BM25 side); only the weights and the features' means
and scales go to the JSON, read by ``qa.quote`` with numpy. Passage-level signals (its rank, its
score) are the same for every sentence of a passage and cancel out of such a choice: they are
not features. Whether the quote takes the previous sentence when the chosen one refers back
("He", "The company") is chosen on the tune half too, by the quote rate; the margin within which
a neighbouring runner-up is quoted too is ``--adjacent-margin`` (see ``ADJACENT_MARGIN``).

Usage:
  python benchmarks/train_quote.py --squad ../shared/eval/squad-dev/questions.jsonl:/tmp/idx/squad
      [--check news=../shared/eval/news-dev/questions.jsonl:/tmp/idx/news ...] [--out qa/quote_model.json]
      [--compare]   # also LightGBM rankers on the same passages (measured: not better, README)
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_quote import Selector, by_model, collect, parse_sets, score  # noqa: E402
from qa import quote  # noqa: E402
from qa.eval_metrics import contains_answer  # noqa: E402

L2 = 10.0  # with the pairwise products (231 inputs); chosen on the tune half
# Both neighbours are quoted when the runner-up is next to the best and within this many log-odds
# of it: on the squad tune half 0 / 0.5 / 1 / 1.5 / 2 gave quote|right 0.898 / 0.909 / 0.921 /
# 0.931 / 0.936 for quotes of 33.2 / 34.3 / 35.6 / 36.7 / 38.2 words on average; 1 buys most
# of it for 7% more words.
ADJACENT_MARGIN = 1.0
PASSAGES = 10  # every shown passage of a question that holds an answer is a training group


def groups(items, passages: int = PASSAGES) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for item in items:
        for shown in item.passages[:passages]:
            if not shown.holds or shown.override:
                continue
            p = shown.p
            y = np.array([contains_answer(p.doc_text[s:e], item.answers) for s, e in p.spans], dtype=float)
            if 0 < y.sum() < len(y):
                out.append((quote.features(shown.q, p), y))
    return out


def fit(data: list[tuple[np.ndarray, np.ndarray]], l2: float = L2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy.optimize import minimize

    rows = np.vstack([x for x, _ in data])
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale < 1e-9] = 1.0
    X = (rows - mean) / scale
    Y = np.concatenate([y for _, y in data])
    sizes = np.array([len(y) for _, y in data])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    owner = np.repeat(np.arange(len(data)), sizes)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = X @ w
        s = s - np.maximum.reduceat(s, starts)[owner]
        e = np.exp(s)
        p = e / np.add.reduceat(e, starts)[owner]
        mass = np.add.reduceat(p * Y, starts)
        q = p * Y / mass[owner]
        total = -np.log(mass).sum() + 0.5 * l2 * w @ w
        return total, X.T @ (p - q) + l2 * w

    result = minimize(loss, np.zeros(rows.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return result.x, mean, scale


def by_scores(scores) -> Selector:
    """A selector quoting the best sentence by ``scores(features)``, with the one before it when
    it refers back, never the runner-up beside it: to compare rankers on their choice alone."""
    def select(q: quote.Question, p: quote.Passage) -> tuple[int, int]:
        if not p.spans:
            return (p.start, p.start)
        return quote.span_of(p, int(np.argmax(scores(quote.features(q, p)))), neighbour=True)
    return select


def compare(data: list[tuple[np.ndarray, np.ndarray]], m: quote.Model, sets: list) -> None:
    """Is a learning-to-rank model worth a run-time dependency? LightGBM rankers fitted on the
    same training passages (the raw features: trees need no products), each quoting its best
    sentence, against the logistic model doing the same (no adjacent runner-up for either)."""
    import lightgbm

    x = np.vstack([x for x, _ in data])
    y = np.concatenate([y for _, y in data]).astype(int)
    sizes = [len(y) for _, y in data]
    rows = [("logistic (this model)", by_scores(m.scores))]
    for objective, leaves, trees in (("lambdarank", 15, 300), ("lambdarank", 31, 500), ("rank_xendcg", 15, 300)):
        ranker = lightgbm.LGBMRanker(objective=objective, num_leaves=leaves, n_estimators=trees,
                                     learning_rate=0.05, min_child_samples=20, verbose=-1)
        ranker.fit(x, y, group=sizes)
        rows.append((f"LightGBM {objective}, {leaves} leaves, {trees} trees", by_scores(ranker.predict)))
    print("\nquote | quote|right of the best sentence alone (no adjacent runner-up):")
    print("| ranker | " + " | ".join(name for name, _ in sets) + " |")
    print("|---|" + "---|" * len(sets))
    for label, select in rows:
        cells = []
        for _, items in sets:
            r = score(items, select)
            cells.append(f"{r['quote']:.3f} / {r['quote|right']:.3f}")
        print(f"| {label} | " + " | ".join(cells) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--squad", required=True, metavar="QUESTIONS:INDEX")
    parser.add_argument("--check", action="append", default=[], metavar="NAME=QUESTIONS:INDEX")
    parser.add_argument("--out", default=str(quote.MODEL_FILE))
    parser.add_argument("--l2", type=float, default=L2)
    parser.add_argument("--adjacent-margin", type=float, default=ADJACENT_MARGIN,
                        help="quote the best sentence's neighbour too when it is the runner-up by less "
                             "than this (log-odds; 0: never)")
    parser.add_argument("--compare", action="store_true",
                        help="also score LightGBM rankers on the same passages (pip install -e '.[train]')")
    parser.add_argument("--linear", dest="pairwise", action="store_false",
                        help="the features alone, without their pairwise products")
    args = parser.parse_args()
    started = time.perf_counter()
    qf, _, idx = args.squad.rpartition(":")
    squad = collect(qf, idx)
    tune = [i for i in squad if i.half == "tune"]
    check = [i for i in squad if i.half == "check"]
    data = groups(tune)
    print(f"{len(data)} training passages from {len(tune)} tune-half questions")
    w, mean, scale = fit([(quote.expand(x, args.pairwise), y) for x, y in data], args.l2)
    model = {"features": list(quote.FEATURES), "pairwise": args.pairwise, "mean": mean.round(6).tolist(),
             "scale": scale.round(6).tolist(), "weights": w.round(6).tolist(), "bias": 0.0}
    # The previous sentence when the chosen one refers back: kept if it helps on the tune half.
    with_prev = score(tune, by_model(quote.Model(model), neighbour=True, margin=0.0))
    without = score(tune, by_model(quote.Model(model), neighbour=False, margin=0.0))
    model["neighbour"] = with_prev["quote"] > without["quote"]
    model["adjacent_margin"] = args.adjacent_margin
    model["trained_on"] = (f"squad-dev tune half (md5 of id, first byte even): {len(data)} passages, "
                           f"L2 {args.l2}; benchmarks/train_quote.py")
    Path(args.out).write_text(json.dumps(model, indent=1) + "\n")
    m = quote.Model(model)
    print(f"neighbour: {model['neighbour']} (tune quote {with_prev['quote']:.3f} with, {without['quote']:.3f} without)")
    for name, w_ in sorted(zip(quote.FEATURES, w), key=lambda x: -abs(x[1])):
        print(f"  {name:<22} {w_:+.3f}")  # the features' own weights (not their products')
    sets = [("squad tune", tune), ("squad check", check)]
    sets += [(name, collect(q, i)) for name, (q, i) in parse_sets(args.check).items()]
    for name, items in sets:
        r = score(items, by_model(m))
        print(f"{name}: quote {r['quote']:.3f}, quote|right {r['quote|right']:.3f} ({r['right']}), words {r['words']:.1f}")
    if args.compare:
        compare(data, m, sets)
    print(f"written {args.out}; {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
