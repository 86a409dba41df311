"""How much a better sentence choice could still give: answer in quote 1 against a perfect pick in its article.

    python bench/headroom.py [--sets facqa,tydiqa_goldp_id,idk_mrc,whole_articles_dev] [--limit N]

For each answerable question (training questions of the QA sets, every passage indexed; the development set
of whole-article questions), tanya answers as usual, then the sentences of quote 1's article are taken in the
order tanya ranks them. Printed per set: the answer in quote 1 (as tanya quotes it, widened), in its first
sentence alone, and in any of the article's best 2, 3, 5 or any of its sentences. "any" is what a perfect
reader choosing one sentence of the article tanya quotes first could reach; beyond it only a better choice
of article helps. The reported (held-out) questions are never asked here.
"""

from __future__ import annotations

import argparse
import sys

from qa_sets import holds, load_dataset, open_app

from tanya.answer import best_article_first, details_before_lead, focus_before_lead, score_sentences

QA_SETS = ("facqa", "tydiqa_goldp_id", "idk_mrc")
DEPTHS = (2, 3, 5)


def headroom(name: str, limit: int | None) -> dict[str, float]:
    dataset = load_dataset(name, scope="all")
    app, _ = open_app(dataset)
    db, ranker = app.index.db, app.ranker
    asked = [q for q in dataset.questions if q.answerable and (name not in QA_SETS or not q.heldout)][:limit]
    counts = {"quote 1": 0, "its first sentence": 0, **{f"best {k} of its article": 0 for k in DEPTHS}}
    counts["any of its article"] = 0
    for question in asked:
        answer, retrieval = app.ask_traced(question.question)
        if not answer.quotes:
            continue
        counts["quote 1"] += holds(answer.quotes[0].text, question.answers)
        # The order compose_answer gives the sentences before quoting them.
        sentences = sorted(score_sentences(retrieval, db, ranker), key=lambda s: s.score, reverse=True)
        ordered = focus_before_lead(retrieval, details_before_lead(retrieval, best_article_first(retrieval, sentences)))
        article = db.article(ordered[0].article_id)
        if article is None:
            continue
        found = [
            holds(article.text[s.span.start : s.span.end], question.answers)
            for s in ordered
            if s.article_id == article.id
        ]
        counts["its first sentence"] += found[0]
        for k in DEPTHS:
            counts[f"best {k} of its article"] += any(found[:k])
        counts["any of its article"] += any(found)
    app.close()
    return {"questions": len(asked), **{k: v / max(1, len(asked)) for k, v in counts.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join((*QA_SETS, "whole_articles_dev")))
    parser.add_argument("--limit", type=int, help="at most this many questions per set")
    args = parser.parse_args()
    rows = {name: headroom(name, args.limit) for name in args.sets.split(",") if name}
    if not rows:
        sys.exit("no sets named")
    columns = list(next(iter(rows.values())))
    print("| set | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in rows.items():
        cells = [f"{row[c]:,}" if c == "questions" else f"{row[c]:.3f}" for c in columns]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
