"""tanya's figures on half B of the training questions (bench/fit_model.half), with the bundled model or with
layers tuned on half A (the output of `bench/fit_model.py --out FILE`, without --all).

    python bench/tuned_pipeline.py                                   # the bundled model
    TANYA_MODEL__NAME=bundled-tuned python bench/tuned_pipeline.py --layers FILE

Every passage of each QA set is indexed (with that model's vectors, cached per model in bench/.cache). Printed
per set: Recall@1 of keyword search, dense search and tanya, answer in quote 1, answered, and for IDK-MRC the
unanswerable questions declined. Held-out questions are never asked.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from fit_model import half
from qa_sets import QA_SETS, holds, load_dataset, open_app
from quality import run_dense, run_keyword


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=Path, help="tuned layers instead of model.tuned_layers")
    args = parser.parse_args()
    if args.layers:
        os.environ["TANYA_MODEL__TUNED_LAYERS"] = str(args.layers.resolve())  # read with the config
    print("| set | questions | keyword R@1 | dense R@1 | tanya R@1 | answer in quote 1 | answered | declined |")
    print("|---|---|---|---|---|---|---|---|")
    for name in QA_SETS:
        dataset = load_dataset(name, scope="all")
        app, _ = open_app(dataset)
        counts = dict.fromkeys(("keyword", "dense", "tanya", "quote 1", "answered", "declined"), 0)
        answerable = unanswerable = 0
        for question in dataset.questions:
            if question.heldout or half(question.gold or "") != "B":
                continue
            answer, retrieval = app.ask_traced(question.question)
            if not question.answerable:
                unanswerable += 1
                counts["declined"] += not answer.quotes
                continue
            answerable += 1
            best = retrieval.candidates[0].chunk_id if retrieval.candidates else None
            counts["tanya"] += best in retrieval.passages and retrieval.passages[best].article_id == question.gold
            for kind, outcome in (("keyword", run_keyword(app, question.question)),
                                  ("dense", run_dense(app, retrieval.query_vector))):
                counts[kind] += outcome.ranking[:1] == [question.gold]
            counts["answered"] += bool(answer.quotes)
            counts["quote 1"] += bool(answer.quotes) and holds(answer.quotes[0].text, question.answers)
        shares = [counts[k] / max(1, answerable) for k in ("keyword", "dense", "tanya", "quote 1", "answered")]
        declined = f"{counts['declined'] / unanswerable:.3f}" if unanswerable else ""
        print(f"| {name} | {answerable:,} | " + " | ".join(f"{v:.3f}" for v in shares) + f" | {declined} |", flush=True)
        app.close()


if __name__ == "__main__":
    main()
