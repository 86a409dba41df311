"""Answer quality of tanya beside two plain baselines, per set and per question type.

    python bench/quality.py [--sets facqa,tydiqa_goldp_id,idk_mrc,whole_articles] [--split heldout]
    tanya eval [same options]

Each QA set's passages are indexed as articles through Tanya.update (cached under bench/.cache/; only new or
changed text is embedded), and every question goes through Tanya.ask, the code path of `tanya ask --batch`.
Baselines over the same index: keyword = FTS5 BM25 over Snowball stems; dense = the same model's vectors,
FAISS flat. A baseline's "quote 1" is its best chunk, whole; its quotes 1-3 are its best three chunks.

Metrics: Recall@k and MRR@10 of the gold passage (article) among distinct ranked articles; ans@q1 = a gold
answer string inside quote 1 (a declined question counts as a miss); words@q1 = mean words in quote 1 over
answered questions; idk_mrc: answered = share of answerable questions answered, declined = share of
unanswerable ones declined. whole_articles adds ans@q1-3 (inside one of the first three quotes) and
words@q1-3 (the three quotes together). QA sets report on the held-out passages by default (the ranker is
fitted on the rest); whole_articles questions are never used for fitting. `--sets whole_articles_dev` asks
the development set (same kinds of question over other articles) that changes are chosen on instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from qa_sets import (
    ALL_SETS,
    DEV_SETS,
    QA_SETS,
    QTYPES,
    WHOLE_ARTICLE_FILES,
    Dataset,
    Question,
    holds,
    load_dataset,
    open_app,
)

from tanya.analysis import fts_query, keyword_terms
from tanya.app import Tanya
from tanya.retrieval import Retrieval

SYSTEMS = ("tanya", "keyword", "dense")


@dataclass
class Outcome:
    """What one system did with one question."""

    ranking: list[str]  # distinct article ids, best first
    quotes: list[str]  # quote texts, best first; empty when it declined
    seconds: float = 0.0


@dataclass
class Tally:
    n: int = 0
    recall: dict[int, float] = field(default_factory=lambda: {1: 0.0, 3: 0.0, 10: 0.0})
    mrr: float = 0.0
    in_q1: float = 0.0
    in_q3: float = 0.0
    words_q1: float = 0.0
    words_q3: float = 0.0
    answered_n: int = 0
    unanswerable: int = 0
    declined: float = 0.0
    seconds: float = 0.0

    def add(self, question: Question, outcome: Outcome) -> None:
        if not question.answerable:
            self.unanswerable += 1
            self.declined += 0.0 if outcome.quotes else 1.0
            return
        self.n += 1
        self.seconds += outcome.seconds
        if question.gold in outcome.ranking[:10]:
            rank = outcome.ranking.index(question.gold) + 1
            self.mrr += 1.0 / rank
            for k in self.recall:
                self.recall[k] += 1.0 if rank <= k else 0.0
        if outcome.quotes:
            self.answered_n += 1
            self.words_q1 += len(outcome.quotes[0].split())
            self.words_q3 += sum(len(q.split()) for q in outcome.quotes[:3])
            self.in_q1 += 1.0 if holds(outcome.quotes[0], question.answers) else 0.0
            self.in_q3 += 1.0 if any(holds(q, question.answers) for q in outcome.quotes[:3]) else 0.0

    def row(self) -> dict[str, float]:
        n = max(self.n, 1)
        answered = max(self.answered_n, 1)
        return {
            "n": self.n,
            "R@1": self.recall[1] / n,
            "R@3": self.recall[3] / n,
            "R@10": self.recall[10] / n,
            "MRR@10": self.mrr / n,
            "ans@q1": self.in_q1 / n,
            "ans@q1-3": self.in_q3 / n,
            "words@q1": self.words_q1 / answered,
            "words@q1-3": self.words_q3 / answered,
            "answered": self.answered_n / n,
            "declined": self.declined / max(self.unanswerable, 1),
            "unanswerable": self.unanswerable,
            "ms/q": 1000 * self.seconds / n,
        }


def run_tanya(app: Tanya, question: str) -> tuple[Outcome, Retrieval]:
    clock = time.perf_counter()
    answer, retrieval = app.ask_traced(question)
    seconds = time.perf_counter() - clock
    articles = {cid: p.article_id for cid, p in retrieval.passages.items()}
    ranked = [articles[c.chunk_id] for c in retrieval.candidates if c.chunk_id in articles]
    ranking = list(dict.fromkeys(ranked))
    return Outcome(ranking, [q.text for q in answer.quotes], seconds), retrieval


def run_keyword(app: Tanya, question: str) -> Outcome:
    db = app.index.db
    hits = db.keyword_search(fts_query(keyword_terms(question)), 10)
    return _chunks_outcome(app, [cid for cid, _ in hits])


def run_dense(app: Tanya, query_vector: np.ndarray) -> Outcome:
    hits = app.index.vectors.search(query_vector, 10)
    return _chunks_outcome(app, [cid for cid, _ in hits])


def _chunks_outcome(app: Tanya, chunk_ids: list[int]) -> Outcome:
    passages = app.index.db.passages(chunk_ids)
    ordered = [passages[c] for c in chunk_ids if c in passages]
    ranking = list(dict.fromkeys(p.article_id for p in ordered))
    return Outcome(ranking, [p.text for p in ordered[:3]])


def evaluate(
    dataset: Dataset, split: str, limit: int | None, misses: bool = False
) -> dict[str, dict[str, Tally]]:
    """Tallies by system, then by question type ("all" for the whole set); with `misses`, tanya's misses
    are printed as they come (callers allow it only where nothing is reported: see main)."""
    app, embedder = open_app(dataset)
    questions = [
        q for q in dataset.questions
        if dataset.name in WHOLE_ARTICLE_FILES or split == "all" or q.heldout == (split == "heldout")
    ]
    if limit:
        questions = questions[:limit]
    tallies: dict[str, dict[str, Tally]] = {s: defaultdict(Tally) for s in SYSTEMS}
    for question in questions:
        tanya, retrieval = run_tanya(app, question.question)
        outcomes = {
            "tanya": tanya,
            "keyword": run_keyword(app, question.question),
            "dense": run_dense(app, retrieval.query_vector),
        }
        for system, outcome in outcomes.items():
            tallies[system]["all"].add(question, outcome)
            tallies[system][question.qtype].add(question, outcome)
        if misses:
            print_miss(question, tanya)
    embedder.save()
    app.close()
    return tallies


def print_miss(question: Question, outcome: Outcome) -> None:
    """One line per question tanya got wrong: declined an answerable one, answered an unanswerable one, or
    quote 1 without the answer (then where the answer is among quotes 2-3, if anywhere)."""
    if not question.answerable:
        if outcome.quotes:
            print(f"MISS {question.id}: answered, not in the articles | {question.question}\n"
                  f"    quote 1: {outcome.quotes[0][:200]}")
        return
    if not outcome.quotes:
        print(f"MISS {question.id}: declined | {question.question}")
    elif not holds(outcome.quotes[0], question.answers):
        later = [i + 2 for i, q in enumerate(outcome.quotes[1:3]) if holds(q, question.answers)]
        found = f"in quote {later[0]}" if later else "not in quotes 1-3"
        gold = "right article first" if outcome.ranking[:1] == [question.gold] else "other article first"
        print(f"MISS {question.id}: {found}, {gold} | {question.question}\n    quote 1: {outcome.quotes[0][:200]}")


def _fmt(value: float, key: str) -> str:
    if key in ("n", "unanswerable"):
        return f"{int(value)}"
    if key.startswith("words") or key == "ms/q":
        return f"{value:.1f}"
    return f"{value:.3f}"


def print_tables(name: str, split: str, scope: str, tallies: dict[str, dict[str, Tally]]) -> None:
    whole = name in WHOLE_ARTICLE_FILES
    keys = ["n", "R@1", "R@3", "R@10", "MRR@10", "ans@q1"]
    keys += ["ans@q1-3", "words@q1", "words@q1-3"] if whole else ["words@q1"]
    keys.append("answered")
    if name == "idk_mrc" or whole:
        keys += ["unanswerable", "declined"]
    keys.append("ms/q")
    indexed = {
        "heldout": "its held-out passages indexed",
        "sample": "a sample of its training passages indexed, as many as are held out",
    }.get(scope, "all its passages indexed")
    label = "all questions, never used for fitting" if whole else f"{split} questions, {indexed}"
    if name in DEV_SETS:
        label = "all questions: a development set for choosing between changes, never fitted on"
    print(f"\n### {name} — {label}\n")
    print("| system | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for system in SYSTEMS:
        row = tallies[system]["all"].row()
        cells = [_fmt(row[k], k) if not (system != "tanya" and k == "ms/q") else "" for k in keys]
        print(f"| {system} | " + " | ".join(cells) + " |")
    types = [t for t in (*QTYPES, "lain") if tallies["tanya"][t].n]
    print(f"\n{name} by question type: Recall@1 / ans@q1\n")
    print("| type | n | " + " | ".join(SYSTEMS) + " |")
    print("|---" * (len(SYSTEMS) + 2) + "|")
    for qtype in types:
        cells = []
        for system in SYSTEMS:
            row = tallies[system][qtype].row()
            cells.append(f"{row['R@1']:.3f} / {row['ans@q1']:.3f}")
        print(f"| {qtype} | {tallies['tanya'][qtype].n} | " + " | ".join(cells) + " |")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(ALL_SETS),
                        help="comma-separated: " + ", ".join((*ALL_SETS, *DEV_SETS)))
    parser.add_argument("--split", choices=("heldout", "train", "all"), default="heldout",
                        help="which QA-set questions to ask (default: the held-out ones)")
    parser.add_argument("--scope", choices=("heldout", "all", "sample"), default="heldout",
                        help="index only the held-out passages (default), every passage of the set, or (with "
                        "--split train) a sample of the training passages as large as the held-out part")
    parser.add_argument("--limit", type=int, help="at most this many questions per set (quick checks)")
    parser.add_argument("--json", dest="json_path", help="also write all figures to this JSON file")
    parser.add_argument("--misses", action="store_true",
                        help="print tanya's misses question by question: the development set and --split train only")
    args = parser.parse_args(argv)
    results = {}
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        if name not in ALL_SETS + DEV_SETS:
            parser.error(f"unknown set {name!r}")
        clock = time.perf_counter()
        if args.scope == "heldout" and args.split != "heldout":
            parser.error("--scope heldout indexes only the held-out passages; use --scope all with --split")
        if args.scope == "sample" and args.split != "train":
            parser.error("--scope sample indexes training passages only: use it with --split train")
        if args.misses and name not in DEV_SETS and (name not in QA_SETS or args.split != "train"):
            # The reported questions are measured, never read: decisions come from the others.
            parser.error(f"--misses reads questions one by one: only for {', '.join(DEV_SETS)} and --split train")
        tallies = evaluate(load_dataset(name, scope=args.scope), args.split, args.limit, args.misses)
        print_tables(name, args.split, args.scope, tallies)
        print(f"\n({name}: {time.perf_counter() - clock:.0f} s)", file=sys.stderr)
        results[name] = {s: {t: v.row() for t, v in by.items()} for s, by in tallies.items()}
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
