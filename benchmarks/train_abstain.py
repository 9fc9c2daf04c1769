"""Train the abstention model (qa/abstain.py) on made-unanswerable question sets, check it, write it.

Each set is asked as ``qa eval`` asks it (``ask_many``, each question as of its day); the engine's
``Answer.evidence`` is the feature vector and the label is whether one of the first
``qa.abstain.DEPTH`` passages holds an answer (unanswerable questions: never). A logistic
regression (scikit-learn, training only: the package reads its weights with numpy) is fitted on
the *tune* halves of the sets (``common.half``), each set weighing the same; the threshold is the
highest that refuses at most ``--max-refused`` of the answerable questions of every tune half.
Printed: per set and half, the unanswerable questions abstained and the answerable refused, for the
model and for the blend threshold it replaces (``Settings.abstain_below``).

    .venv/bin/python benchmarks/train_abstain.py \\
        --set squad=/tmp/U-squad/questions.jsonl:/tmp/U-squad/index \\
        --set news=/tmp/U-news/questions.jsonl:/tmp/U-news/index \\
        --check shipped=tests/data/news_questions.jsonl:/tmp/sample-index [--write]

Sets made by ``benchmarks/make_unanswerable.py``; ``--check`` sets are scored, never trained on
(the shipped sample set among them: it is a smoke test, not training data).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from common import ROOT, footer, half, table

from qa import Engine, abstain  # noqa: E402
from qa.eval_metrics import contains_answer  # noqa: E402
from qa.evaluate import ask_batched  # noqa: E402
from qa.questions import load_questions  # noqa: E402
from qa.settings import Settings  # noqa: E402


def collect(name: str, spec: str, cache: Path | None = None) -> dict:
    """Ask every question of ``QUESTIONS:INDEX``; its features, labels and the blend's decision
    (kept in ``cache``/NAME.npz when given, and read back while the features are the same)."""
    path, index = spec.rsplit(":", 1)
    saved = cache / f"{name}.npz" if cache else None
    if saved and saved.exists():
        data = dict(np.load(saved, allow_pickle=False))
        if tuple(data.pop("features")) == abstain.FEATURES and str(data.pop("spec")) == spec:
            data["blend_below"] = float(data["blend_below"])
            return data
    questions = load_questions(path)
    engine = Engine.open(index, abstain_by="blend")  # the features do not depend on the decision
    answers = ask_batched(engine, questions, depth=abstain.DEPTH, mode="hybrid")
    rows = []
    for q, a in zip(questions, answers):
        held = q.answerable and any(contains_answer(p.text, q.answers) for p in a.passages)
        rows.append((a.evidence.vector(), float(held), q.answerable, half(q.id), a.abstained))
    print(f"{name}: {len(rows)} questions ({sum(not r[2] for r in rows)} unanswerable)", file=sys.stderr)
    data = {"x": np.array([r[0] for r in rows]), "y": np.array([r[1] for r in rows]),
            "answerable": np.array([r[2] for r in rows]), "half": np.array([r[3] for r in rows]),
            "blend": np.array([r[4] for r in rows]), "blend_below": engine.settings.abstain_below}
    if saved:
        saved.parent.mkdir(parents=True, exist_ok=True)
        np.savez(saved, features=np.array(abstain.FEATURES), spec=np.array(spec), **data)
    return data


def rates(refuse: np.ndarray, answerable: np.ndarray) -> tuple[str, float]:
    """'abstained of unanswerable' as a count, and the share of answerable ones refused."""
    un = ~answerable
    text = f"{int(refuse[un].sum())}/{int(un.sum())} ({refuse[un].mean():.3f})" if un.any() else "-"
    return text, float(refuse[answerable].mean()) if answerable.any() else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=QUESTIONS:INDEX",
                        help="a set to train on (tune half) and check (check half)")
    parser.add_argument("--check", action="append", default=[], metavar="NAME=QUESTIONS:INDEX",
                        help="a set only to check on, all of it")
    parser.add_argument("--max-refused", type=float, default=0.03,
                        help="at most this share of answerable tune questions refused (default 0.03)")
    parser.add_argument("--cache", type=Path, help="keep each set's features here (scratch, e.g. /tmp)")
    parser.add_argument("--weigh", choices=["sets", "questions"], default="sets",
                        help="each set weighs the same (default), or each question")
    parser.add_argument("--drop", nargs="*", default=[], choices=abstain.FEATURES, metavar="FEATURE",
                        help="features the model leaves out")
    parser.add_argument("--union", action="store_true",
                        help="abstain when the blend or the model says so (the model adds to the blend)")
    parser.add_argument("--compare", action="store_true", help="also score gradient-boosted trees")
    parser.add_argument("--write", action="store_true", help=f"write {abstain.MODEL_FILE.relative_to(ROOT)}")
    args = parser.parse_args()
    started = time.perf_counter()
    from sklearn.linear_model import LogisticRegression  # training only (not a dependency of qa)

    sets = {n: collect(n, s, args.cache) for n, s in (spec.split("=", 1) for spec in args.set)}
    checks = {n: collect(n, s, args.cache) for n, s in (spec.split("=", 1) for spec in args.check)}
    tune = {n: d["half"] == "tune" for n, d in sets.items()}
    keep = [i for i, f in enumerate(abstain.FEATURES) if f not in args.drop]
    used = tuple(abstain.FEATURES[i] for i in keep)
    for d in [*sets.values(), *checks.values()]:
        d["x"] = d["x"][:, keep]
    x = np.concatenate([d["x"][tune[n]] for n, d in sets.items()])
    y = np.concatenate([d["y"][tune[n]] for n, d in sets.items()])
    w = np.concatenate([np.full(int(tune[n].sum()), 1.0 / tune[n].sum() if args.weigh == "sets" else 1.0)
                        for n in sets])
    w = w / w.mean()
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    fit = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y, sample_weight=w)
    model = abstain.Model(used, mean.tolist(), scale.tolist(), fit.coef_[0].tolist(),
                          float(fit.intercept_[0]), threshold=0.0)

    def chances(d: dict) -> np.ndarray:
        z = ((d["x"] - model.mean) / model.scale) @ model.coef + model.intercept
        return 1.0 / (1.0 + np.exp(-z))

    # The highest threshold at which every tune half refuses at most max_refused of its answerable
    # (with --union, counting those the blend refuses too: the model only adds abstentions).
    def highest(d: dict, m: np.ndarray) -> float:
        p, base = chances(d)[m & d["answerable"]], d["blend"][m & d["answerable"]] if args.union else None
        if base is None:
            return float(np.quantile(p, args.max_refused))
        allowed = max(int(np.floor(args.max_refused * len(p))) - int(base.sum()), 0)
        extra = np.sort(p[~base])
        return float(extra[allowed]) if allowed < len(extra) else 1.0

    threshold = min(highest(d, tune[n]) for n, d in sets.items())
    model.threshold = threshold
    rows = []
    for n, d in [*sets.items(), *checks.items()]:
        p = chances(d)
        parts = [("tune", d["half"] == "tune"), ("check", d["half"] == "check")] if n in sets \
            else [("all", np.ones(len(p), dtype=bool))]
        for part, m in parts:
            refuse = (p < threshold) | d["blend"] if args.union else p < threshold
            ours, refused = rates(refuse[m], d["answerable"][m])
            blend, b_refused = rates(d["blend"][m], d["answerable"][m])
            rows.append([n, part, int(m.sum()), ours, refused, blend, b_refused])
    print(table(["set", "half", "questions", "abstained (evidence)", "answerable refused",
                 "abstained (blend)", "answerable refused (blend)"], rows))
    print()
    print(table(["feature", "coefficient (standardised)", "mean", "scale"],
                [[f, float(c), float(m), float(s)] for f, c, m, s in
                 zip(used, model.coef, model.mean, model.scale)]))
    print(f"\nthreshold {threshold:.4f} (max refused {args.max_refused}), intercept {model.intercept:.4f}")
    if args.compare:  # is a non-linear model worth its run-time dependency? (trees: scikit-learn)
        from sklearn.ensemble import HistGradientBoostingClassifier

        trees = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05).fit(x, y, sample_weight=w)
        cut = min(float(np.quantile(trees.predict_proba(d["x"][tune[n] & d["answerable"]])[:, 1], args.max_refused))
                  for n, d in sets.items())
        rows = []
        for n, d in [*sets.items(), *checks.items()]:
            p = trees.predict_proba(d["x"])[:, 1]
            m = d["half"] == "check" if n in sets else np.ones(len(p), dtype=bool)
            ours, refused = rates((p < cut)[m], d["answerable"][m])
            rows.append([n, "check" if n in sets else "all", ours, refused])
        print("\nGradient-boosted trees, same features and rule:")
        print(table(["set", "half", "abstained", "answerable refused"], rows))
    if args.write:
        abstain.MODEL_FILE.write_text(json.dumps({
            "features": list(used), "mean": model.mean.round(6).tolist(),
            "scale": model.scale.round(6).tolist(), "coef": model.coef.round(6).tolist(),
            "intercept": round(model.intercept, 6), "threshold": round(threshold, 6),
            "trained_on": sorted(sets), "max_refused": args.max_refused,
            "made_by": "benchmarks/train_abstain.py",
        }, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {abstain.MODEL_FILE.relative_to(ROOT)}")
    print(footer(started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
