"""Fit tanya's ranker on the training part of the QA sets; write src/tanya/data/ranker.json.

    python bench/fit_ranker.py [--limit N]
    python bench/fit_ranker.py --meeting-only    # refit the meeting sentence model alone (45 s)

Only questions whose passage is NOT held out (bench/qa_sets.heldout) are used, so bench/quality.py can
report on the held-out part. Steps: BM25 k1/b by grid search; chunk model (is this chunk from the gold
passage?); sentence model (does this sentence hold a gold answer?); meeting sentence model (the same, for
who-attended / what-was-agreed questions: the written training questions of bench/data/whole_articles_train.jsonl
and the silver ones); widening of quote 1 by grid search; answer model (does quote 1 hold a gold answer?),
whose negatives include unanswerable questions and questions asked with their gold passage removed from the
index (the written meeting questions, and the same removed, join its rows; docs/quality.md).
scikit-learn is used here only; tanya evaluates the coefficients with numpy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import random
import sys
import time
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from fit_model import half
from qa_sets import QA_SETS, ROOT, Question, chunk_articles, heldout, holds, load_dataset, open_app

from tanya.analysis import tokenize
from tanya.answer import answer_row, compose_answer, deciding_sentence, score_sentences
from tanya.config import BUNDLED_TUNED_MODEL, AnswerSettings, default_config_path, load_config
from tanya.ranking import (
    ANSWER_FEATURES,
    CHUNK_FEATURES,
    CHUNK_ORDER_FEATURES,
    SENTENCE_FEATURES,
    LinearModel,
    Ranker,
    TreeModel,
    WordWeights,
    analyse_question,
    bm25_score,
    chunk_order_rows,
    names_one_event,
    question_stems,
    ranker_from_dict,
)
from tanya.retrieval import Hits, Retriever
from tanya.store.database import Database

OUT = ROOT / "src" / "tanya" / "data" / "ranker.json"
K1_GRID = (0.6, 0.9, 1.2, 1.5, 2.0)
B_GRID = (0.3, 0.5, 0.75, 0.9)
KEEP_ALL = 10**6
WIDEN_RATIOS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.01)
QUOTE_WORDS_GRID = (40, 50, 55, 60, 65, 70, 80)
QUOTE_WORDS = 43  # quote 1 may average this many words on each set's training questions (the target is 45)
ANSWERED_TARGET = 0.93  # min_score is set so this share of answerable training questions is answered
ANSWER_DEPTH, ANSWER_TREES = 6, 300  # the answer model's trees
SIMULATED_SHARE = 0.5  # share of answerable training questions also asked with their passage removed
SILVER_WEIGHT = 4  # the general sentence model counts each silver question this many times
# The meeting sentence model (fit_pairwise_words), chosen out of fold on the written questions (docs/quality.md):
MEETING_C = 0.3  # regularisation
CHUNK_ORDER_C = 0.1  # the meeting chunk order's (out of fold the same from 0.01 to 1)
MEETING_WORD_SCALE = 0.2  # a word's column value: below 1 regularises the words more than the feature columns
MEETING_MIN_COUNT = 5  # a word (for one kind of question, or for all) in fewer training sentences is left out
MEETING_WORDS_KEPT = 1500  # the strongest weights kept per kind of question (all kept: the same out of fold)


@dataclass
class Item:
    set: str
    question: Question
    hits: Hits
    source: str = ""  # the index (and retriever) the hits came from: the set's, or one half's when cross-fitted

    def __post_init__(self) -> None:
        self.source = self.source or self.set


def prior(k1: float = 1.2, b: float = 0.75) -> Ranker:
    """A hand-set starting point: BM25 and cosine for chunks, coverage for sentences."""

    def model(features: tuple[str, ...], weights: dict[str, float]) -> dict:
        return {
            "features": list(features),
            "mean": [0.0] * len(features),
            "scale": [1.0] * len(features),
            "coef": [weights.get(f, 0.0) for f in features],
            "intercept": -1.0,
        }

    return ranker_from_dict(
        {
            "version": "prior",
            "bm25": {"k1": k1, "b": b},
            "chunk": model(CHUNK_FEATURES, {"bm25_rel": 3.0, "dense": 1.0}),
            "sentence": model(SENTENCE_FEATURES, {"chunk_score": 2.0, "cover": 2.0, "type": 0.5}),
            "answer": model(ANSWER_FEATURES, {"sentence_score": 2.0}),
            "correct": model(ANSWER_FEATURES, {"sentence_score": 2.0}),
            "confidence": {"tinggi": 0.7, "sedang": 0.4},
            "min_score": 0.0,
        }
    )


def fit(rows: np.ndarray, labels: np.ndarray, features: tuple[str, ...], c: float = 1.0) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((rows - mean) / scale, labels)
    return LinearModel(features, mean, scale, model.coef_[0].astype(float), float(model.intercept_[0]))


def fit_pairwise(
    rows: np.ndarray, labels: np.ndarray, groups: np.ndarray, features: tuple[str, ...], hard: int = 15,
    c: float = 0.01,
) -> LinearModel:
    """Rank within each question: logistic regression on (positive - negative) differences against the
    `hard` negatives a pointwise fit scores highest; then one Platt scale makes the score a probability."""
    from sklearn.linear_model import LogisticRegression

    mean, scale, z = standardised(rows)
    better, worse = hard_pairs(fit(rows, labels, features).predict(rows), labels, groups, hard)
    differences = z[better] - z[worse]
    ranker = LogisticRegression(C=c, max_iter=5000, fit_intercept=False).fit(
        np.vstack([differences, -differences]), np.r_[np.ones(len(better)), np.zeros(len(better))]
    )
    weights = ranker.coef_[0]
    platt = LogisticRegression(max_iter=2000).fit((z @ weights).reshape(-1, 1), labels)
    coef = weights * float(platt.coef_[0][0])
    return LinearModel(features, mean, scale, coef.astype(float), float(platt.intercept_[0]))


def fit_pairwise_words(
    rows: np.ndarray, words: list[list[str]], labels: np.ndarray, groups: np.ndarray, hard: int = 15
) -> tuple[LinearModel, WordWeights]:
    """fit_pairwise over SENTENCE_FEATURES and each sentence's own words (word_features) together: the words
    are binary columns scaled by MEETING_WORD_SCALE, so one C regularises both (both chosen out of fold on the
    written questions, docs/quality.md); words seen in fewer than MEETING_MIN_COUNT sentences are left out."""
    import scipy.sparse as sparse
    from sklearn.linear_model import LogisticRegression

    counts: dict[str, int] = {}
    for row_words in words:
        for word in row_words:
            counts[word] = counts.get(word, 0) + 1
    vocabulary = {w: i for i, w in enumerate(sorted(w for w, n in counts.items() if n >= MEETING_MIN_COUNT))}
    columns = [[vocabulary[w] for w in row_words if w in vocabulary] for row_words in words]
    pointers = np.cumsum([0, *map(len, columns)])
    flat = [i for row_columns in columns for i in row_columns]
    indicator = sparse.csr_matrix(
        (np.full(len(flat), MEETING_WORD_SCALE), flat, pointers), shape=(len(words), len(vocabulary))
    )
    mean, scale, z = standardised(rows)
    both = sparse.hstack([sparse.csr_matrix(z), indicator]).tocsr()
    better, worse = hard_pairs(fit(rows, labels, SENTENCE_FEATURES).predict(rows), labels, groups, hard)
    differences = both[better] - both[worse]
    ranker = LogisticRegression(C=MEETING_C, max_iter=5000, fit_intercept=False).fit(
        sparse.vstack([differences, -differences]).tocsr(), np.r_[np.ones(len(better)), np.zeros(len(better))]
    )
    weights = ranker.coef_[0]
    platt = LogisticRegression(max_iter=2000).fit((both @ weights).reshape(-1, 1), labels)
    a = float(platt.coef_[0][0])
    dense = LinearModel(SENTENCE_FEATURES, mean, scale, weights[: rows.shape[1]] * a, float(platt.intercept_[0]))
    learned = {w: float(weights[rows.shape[1] + i]) * MEETING_WORD_SCALE * a for w, i in vocabulary.items()}
    tables = {}
    for kind in ("siapa", "other"):
        table: dict[str, float] = {}
        for column, value in learned.items():
            prefix, word = column.split(":", 1)
            if prefix in ("*", kind):
                table[word] = table.get(word, 0.0) + value
        strongest = sorted(table, key=lambda w: -abs(table[w]))[:MEETING_WORDS_KEPT]
        tables[kind] = {w: table[w] for w in strongest}
    return dense, WordWeights(tables["siapa"], tables["other"])


def word_features(question: str, qtype: str, stems: AbstractSet[str]) -> list[str]:
    """The columns WordWeights learns from for one sentence: each word the question does not use, once for
    every question ("*:") and once for its kind ("siapa:" or "other:")."""
    asked = question_stems(question)
    kind = "siapa" if qtype == "siapa" else "other"
    own = sorted(s for s in stems if s not in asked)
    return [*("*:" + w for w in own), *(kind + ":" + w for w in own)]


def standardised(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return mean, scale, (rows - mean) / scale


def hard_pairs(
    prior_scores: np.ndarray, labels: np.ndarray, groups: np.ndarray, hard: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs (better, worse): each question's best-scored positive against its `hard` best-scored
    negatives."""
    better, worse = [], []
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        positives = members[labels[members] == 1]
        if not len(positives):
            continue
        negatives = members[labels[members] == 0]
        negatives = negatives[np.argsort(-prior_scores[negatives])[:hard]]
        best = positives[np.argmax(prior_scores[positives])]
        better += [best] * len(negatives)
        worse += list(negatives)
    return np.array(better, dtype=np.int64), np.array(worse, dtype=np.int64)


# The answer model may only grow more sure as more of the question is found in quote 1's chunk and sentence.
# Without this, trees give arbitrary scores to questions unlike any in training (an off-topic question over a
# tiny index); constraining more features cost more abstention quality than it bought (out-of-fold, training).
ANSWER_MONOTONIC = {"cover": 1, "sentence_cover": 1, "bm25_abs": 1, "missing_share": -1}


def fit_trees(
    rows: np.ndarray, labels: np.ndarray, features: tuple[str, ...], depth: int = 3, trees: int = 150,
    monotonic: dict[str, int] | None = None,
) -> TreeModel:
    """Gradient-boosted trees (scikit-learn's histogram GBM), exported as plain lists tanya walks itself."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        max_depth=depth, max_iter=trees, learning_rate=0.05, l2_regularization=1.0, min_samples_leaf=40,
        early_stopping=False, random_state=0,
        monotonic_cst=[(monotonic or {}).get(name, 0) for name in features],
    ).fit(rows, labels)
    exported = []
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        leaf = nodes["is_leaf"].astype(bool)
        exported.append((
            [int(v) for v in nodes["feature_idx"]],
            [float(v) for v in nodes["num_threshold"]],
            [-1 if is_leaf else int(v) for v, is_leaf in zip(nodes["left"], leaf, strict=True)],
            [-1 if is_leaf else int(v) for v, is_leaf in zip(nodes["right"], leaf, strict=True)],
            [float(v) for v in nodes["value"]],
        ))
    tree_model = TreeModel(features, float(np.ravel(model._baseline_prediction)[0]), tuple(exported))
    check = rows[: min(len(rows), 500)]
    if not np.allclose(tree_model.predict(check), model.predict_proba(check)[:, 1], atol=1e-6):
        raise SystemExit("exported trees disagree with scikit-learn's predictions")
    return tree_model


def out_of_fold(rows: np.ndarray, labels: np.ndarray, fit_model, folds: int = 4) -> np.ndarray:
    """Each row's probability from a model fitted on the other folds (contiguous, so a question's variants
    mostly stay together)."""
    out = np.empty(len(rows))
    edges = np.linspace(0, len(rows), folds + 1).astype(int)
    for start, end in zip(edges[:-1], edges[1:], strict=True):
        inside = np.zeros(len(rows), dtype=bool)
        inside[start:end] = True
        out[inside] = fit_model(rows[~inside], labels[~inside]).predict(rows[inside])
    return out


def gather(
    names: list[str], limit: int | None, cross: dict[str, Path] | None = None
) -> tuple[list[Item], dict[str, tuple[Database, dict[int, str], Retriever]]]:
    """Search hits for every training question of the sets (question vectors are cached on disk).

    cross: {half: layers} to search each half's questions (bench/fit_model.half) with tuned layers that never
    saw it, so the models learn how far to trust the tuned cosines on questions the layers did not learn."""
    items: list[Item] = []
    sets = {}
    for name in names:
        dataset = load_dataset(name)
        train = [q for q in dataset.questions if not q.heldout]
        if limit:
            train = random.Random(0).sample(train, min(limit, len(train)))
        for part, layers in (cross or {"": None}).items():
            if layers:
                os.environ["TANYA_MODEL__TUNED_LAYERS"] = str(layers)  # read with the config by open_app
            app, embedder = open_app(dataset)
            retriever = Retriever(app.index, embedder, app.settings.retrieval, prior())
            source = f"{name}@{part}" if part else name
            asked = [q for q in train if not part or half(q.gold or "") == part]
            clock = time.perf_counter()
            articles = chunk_articles(app)
            for question in asked:
                hits = retriever.search(question.question)
                # Held-out passages stay out of fitting altogether, as if the index held training passages only.
                hits.keyword = [h for h in hits.keyword if not heldout(articles.get(h[0], ""))]
                hits.dense = [h for h in hits.dense if not heldout(articles.get(h[0], ""))]
                items.append(Item(name, question, hits, source))
            embedder.save()
            print(f"[{source}] {len(asked)} training questions searched in {time.perf_counter() - clock:.0f} s",
                  file=sys.stderr)
            sets[source] = (app.index.db, articles, retriever)
    os.environ.pop("TANYA_MODEL__TUNED_LAYERS", None)
    return items, sets


def gather_silver() -> tuple[list[Item], tuple[Database, dict[int, str], Retriever]]:
    """Search hits for the silver attendance/agreement questions (bench/silver.py), over all of IndoSum."""
    from silver import silver_questions

    return gather_whole("silver", silver_questions())


def gather_whole(name: str, questions: list[Question]) -> tuple[list[Item], tuple[Database, dict[int, str], Retriever]]:
    """Search hits for questions over the whole-article index (IndoSum and the seed article)."""
    app, embedder = open_app(load_dataset("whole_articles"))
    retriever = Retriever(app.index, embedder, app.settings.retrieval, prior())
    items = [Item(name, question, retriever.search(question.question)) for question in questions]
    embedder.save()
    print(f"[{name}] {len(items)} questions", file=sys.stderr)
    return items, (app.index.db, chunk_articles(app), retriever)


def fit_chunk_order(items: list[Item], sets: dict, ranker: Ranker) -> LinearModel:
    """The chunk order for questions about a meeting or long ones (Ranker.chunk_order, ranking.names_one_event):
    the chunk model's logit and the keyword search's BM25 and rank, fitted on the written training questions
    that gate admits (label: the chunk is in the gold article). Out of fold (halves by article) the gold article
    first for 0.956 -> 0.972 of the 569 about a meeting (keyword search alone 0.972); development set 0.963 ->
    0.988."""
    rows, labels = [], []
    for item in items:
        if not item.question.answerable:
            continue
        _, articles, retriever = sets[item.source]
        retriever.ranker = replace(ranker, chunk_order=None)
        retrieval = retriever.rank(item.hits, keep=KEEP_ALL)
        if retrieval.query is None or not names_one_event(retrieval.query):
            continue
        read = [c for c in retrieval.candidates if c.chunk_id in retrieval.features]
        if not read:
            continue
        features = np.vstack([retrieval.features[c.chunk_id] for c in read])
        rows.append(chunk_order_rows(np.array([c.score for c in read]), features))
        labels += [1 if articles.get(c.chunk_id) == item.question.gold else 0 for c in read]
    model = fit(np.vstack(rows), np.array(labels), CHUNK_ORDER_FEATURES, c=CHUNK_ORDER_C)
    print(f"chunk order: {len(labels)} rows of {len(rows)} questions, {sum(labels)} positive", file=sys.stderr)
    return model


def fit_meeting(
    ranker: Ranker, silver: list[Item], silver_set: tuple
) -> tuple[LinearModel, LinearModel, WordWeights, LinearModel]:
    """The chunk order (fit_chunk_order) and sentence model for who-attended / what-was-agreed questions
    (answer.sentence_model) and its word weights, fitted on the written training questions of those kinds
    (bench/data/whole_articles_train.jsonl) and the silver ones; and their confidence model
    (answer.correct_model): does quote 1 hold the answer, from the answer features.

    The confidence model is cross-fitted: each half of the written questions (by article) is answered with a
    sentence model fitted on the other half, so it learns how often quote 1 is right on questions the
    sentence model did not see. Figures: docs/quality.md ("A sentence model for meeting questions")."""
    written, written_set = gather_whole("meeting", load_dataset("whole_articles_train").questions)
    sets = {"meeting": written_set, "silver": silver_set}
    chunk_order = fit_chunk_order(written, sets, ranker)
    ranker = replace(ranker, chunk_order=chunk_order)  # the sentence models learn from the order they will see
    rows, labels, groups, words = sentence_rows(written + silver, sets, ranker)
    model, word_weights = fit_pairwise_words(rows, words, labels, groups)
    print(f"meeting sentence model: {len(rows)} rows, {labels.sum()} positive", file=sys.stderr)
    halves = [int(hashlib.sha256((item.question.gold or "").encode()).hexdigest()[:8], 16) % 2 for item in written]
    answer_part, right_part = [], []
    for part in (0, 1):
        # sentence_rows numbers its groups by position in written + silver: silver's come after written's.
        fitted = np.array([g >= len(written) or halves[g] != part for g in groups])
        other, other_words = fit_pairwise_words(
            rows[fitted], [w for w, f in zip(words, fitted, strict=True) if f], labels[fitted], groups[fitted]
        )
        asked = [item for item, half_of in zip(written, halves, strict=True) if half_of == part]
        crossed = replace(ranker, meeting=other, meeting_words=other_words)
        part_rows, part_labels, _ = answer_rows(asked, sets, crossed, AnswerSettings(min_score=0.0))
        answer_part.append(part_rows)
        right_part.append(part_labels)
    confidence = fit(np.vstack(answer_part), np.concatenate(right_part), ANSWER_FEATURES)
    print(f"meeting confidence model: {sum(len(r) for r in answer_part)} rows", file=sys.stderr)
    return chunk_order, model, word_weights, confidence


def tune_bm25(items: list[Item], sets: dict) -> tuple[float, float]:
    """k1 and b with the best mean Recall@1 (over the sets) of BM25 alone on the keyword candidates."""
    stems: dict[tuple[str, int], tuple[list[str], int, str]] = {}
    for name, (db, _, _) in sets.items():
        wanted = {cid for item in items if item.source == name for cid, _ in item.hits.keyword}
        for cid, passage in db.passages(wanted).items():
            words = [t.stem for t in tokenize(passage.text)]
            stems[(name, cid)] = (words, len(passage.text), passage.article_id)
    averages = {name: db.average_chunk_chars() for name, (db, _, _) in sets.items()}
    best = (0.0, 1.2, 0.75)
    for k1 in K1_GRID:
        for b in B_GRID:
            per_set: dict[str, list[float]] = {}
            for item in items:
                if not item.question.answerable:
                    continue
                query = analyse_question(item.hits.question, item.hits.idf)
                scored = []
                for cid, _ in item.hits.keyword:
                    words, length, article = stems[(item.source, cid)]
                    scored.append((bm25_score(query, words, length, averages[item.source], k1, b), article))
                top = max(scored, default=(0.0, None))[1]
                per_set.setdefault(item.set, []).append(1.0 if top == item.question.gold else 0.0)
            recall = float(np.mean([np.mean(v) for v in per_set.values()]))
            print(f"bm25 k1={k1} b={b}: mean Recall@1 {recall:.4f}", file=sys.stderr)
            if recall > best[0]:
                best = (recall, k1, b)
    return best[1], best[2]


def chunk_rows(items: list[Item], sets: dict, ranker: Ranker) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, labels, groups = [], [], []
    for number, item in enumerate(items):
        if not item.question.answerable:
            continue
        db, articles, retriever = sets[item.source]
        retriever.ranker = ranker
        retrieval = retriever.rank(item.hits, keep=KEEP_ALL)
        for candidate in retrieval.candidates:
            if candidate.chunk_id not in retrieval.features:
                continue  # not read closely (past retrieval.rerank): the chunk model never scores it
            rows.append(retrieval.features[candidate.chunk_id])
            labels.append(1 if articles.get(candidate.chunk_id) == item.question.gold else 0)
            groups.append(number)
    return np.vstack(rows), np.array(labels), np.array(groups)


def sentence_rows(
    items: list[Item], sets: dict, ranker: Ranker
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[str]]]:
    """One row of SENTENCE_FEATURES per sentence tanya reads for each answerable question; label: the gold
    article's sentence holding an answer; group: the question's position in `items`; and the sentence's
    word_features."""
    rows, labels, groups, words = [], [], [], []
    for number, item in enumerate(items):
        if not item.question.answerable:
            continue
        db, _, retriever = sets[item.source]
        retriever.ranker = ranker
        retrieval = retriever.rank(item.hits)
        texts = {}
        for sentence in score_sentences(retrieval, db, ranker):
            if sentence.article_id not in texts:
                article = db.article(sentence.article_id)
                texts[sentence.article_id] = article.text if article else ""
            text = texts[sentence.article_id][sentence.span.start : sentence.span.end]
            rows.append(sentence.features)
            right = sentence.article_id == item.question.gold and holds(text, item.question.answers)
            labels.append(1 if right else 0)
            groups.append(number)
            words.append(word_features(retrieval.query.question, retrieval.query.qtype, sentence.stems))
    return np.vstack(rows), np.array(labels), np.array(groups), words


def unseen_without(db: Database, terms: list[str], article_id: str | None) -> frozenset[str]:
    """The question's stems no chunk would contain if the article were not indexed."""
    df, _ = db.document_frequencies(terms)
    inside: dict[str, int] = {}
    for passage in db.passages(db.chunk_ids_of([article_id] if article_id else [])).values():
        for stem in {t.stem for t in tokenize(passage.text)} | {t.stem for t in tokenize(passage.title)}:
            inside[stem] = inside.get(stem, 0) + 1
    return frozenset(t for t in terms if df.get(t, 0) <= inside.get(t, 0))


def answer_rows(
    items: list[Item], sets: dict, ranker: Ranker, settings: AnswerSettings
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One row per question (plus one per simulated missing passage); label: quote 1 holds an answer."""
    rows, labels, kinds = [], [], []
    rng = random.Random(1)
    for item in items:
        db, articles, retriever = sets[item.source]
        retriever.ranker = ranker
        variants = [("answerable" if item.question.answerable else "unanswerable", item.hits)]
        if item.question.answerable and rng.random() < SIMULATED_SHARE:
            gold = item.question.gold
            removed = replace(
                item.hits,
                keyword=[h for h in item.hits.keyword if articles.get(h[0]) != gold],
                dense=[h for h in item.hits.dense if articles.get(h[0]) != gold],
                unseen=unseen_without(db, item.hits.terms, gold),
            )
            variants.append(("removed", removed))
        for kind, hits in variants:
            retrieval = retriever.rank(hits)
            sentences = score_sentences(retrieval, db, ranker)
            if not sentences:
                continue
            sentences.sort(key=lambda s: s.score, reverse=True)
            row = answer_row(retrieval, deciding_sentence(sentences))
            if row is None:
                continue
            answer = compose_answer(retrieval, db, settings, ranker)
            right = kind == "answerable" and bool(answer.quotes) and holds(answer.quotes[0].text,
                                                                           item.question.answers)
            rows.append(row)
            labels.append(1 if right else 0)
            kinds.append(f"{item.set}:{kind}")
    return np.vstack(rows), np.array(labels), kinds


class _Articles:
    """A database stand-in for answer._pick that remembers the articles it has read."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.cache: dict[str, object] = {}

    def article(self, article_id: str) -> object:
        if article_id not in self.cache:
            self.cache[article_id] = self.db.article(article_id)
        return self.cache[article_id]


def tune_quotes(items: list[Item], sets: dict, ranker: Ranker) -> tuple[float, int, dict]:
    """Widening rule for quote 1 with the most answers inside it while quote 1 averages <= QUOTE_WORDS."""
    from tanya.answer import _pick

    cases = []
    for item in items:
        if not item.question.answerable:
            continue
        db, _, retriever = sets[item.source]
        retriever.ranker = ranker
        sentences = score_sentences(retriever.rank(item.hits), db, ranker)
        if sentences:
            sentences.sort(key=lambda s: s.score, reverse=True)
            cases.append((item, sentences, _Articles(db)))
    settings = AnswerSettings(max_quotes=1, min_score=0.0)
    best = (-1.0, 1.0, 45, {})
    for ratio in WIDEN_RATIOS:
        for words in QUOTE_WORDS_GRID:
            trial = replace(ranker, widen_ratio=ratio, quote_words=words)
            right: dict[str, list[float]] = {}
            counts: dict[str, list[int]] = {}
            for item, sentences, articles in cases:
                article, span, _ = _pick(sentences, settings, articles, trial)[0]  # type: ignore[arg-type]
                text = article.text[span.start : span.end]
                right.setdefault(item.set, []).append(holds(text, item.question.answers))
                counts.setdefault(item.set, []).append(len(text.split()))
            share = float(np.mean([np.mean(v) for v in right.values()]))
            longest = max(float(np.mean(v)) for v in counts.values())
            print(f"quote: widen_ratio={ratio} max_words={words}: ans@q1 {share:.4f} (mean over sets), "
                  f"longest set average {longest:.1f} words", file=sys.stderr)
            if longest <= QUOTE_WORDS and share > best[0]:
                best = (share, ratio, words, {"ans@q1": round(share, 4), "words@q1 (longest set)": round(longest, 1)})
    return best[1], best[2], best[3]


def refit_meeting(path: Path) -> None:
    """Replace the chunk order and the meeting sentence and confidence models of the ranker in `path`, every other
    model as it is."""
    data = json.loads(path.read_text(encoding="utf-8"))
    silver, silver_set = gather_silver()
    chunk_order, meeting, meeting_words, meeting_correct = fit_meeting(ranker_from_dict(data), silver, silver_set)
    data["chunk_order"] = chunk_order.to_dict()
    data["meeting"], data["meeting_correct"] = meeting.to_dict(), meeting_correct.to_dict()
    data["meeting_words"] = meeting_words.to_dict()
    data["version"] = str(data["version"]).split("+")[0] + "+meeting-" + dt.date.today().isoformat()
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="at most this many training questions per set (quick runs)")
    parser.add_argument("--sets", default=",".join(QA_SETS), help="comma-separated QA sets to fit on")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cross-fit", nargs=2, type=Path, metavar=("LAYERS_A", "LAYERS_B"),
                        help="fit for model bundled-tuned: layers tuned on half A and on half B of the training "
                        "paragraphs (fit_model.py --half A|B --out FILE); each half's questions are searched "
                        "with the other half's layers (silver questions: with model.tuned_layers)")
    parser.add_argument("--meeting-only", action="store_true",
                        help="refit only the meeting models (chunk order, sentences, confidence), into the ranker "
                        "already in --out")
    args = parser.parse_args()

    started = time.perf_counter()
    # Its apps answer with the models being fitted, passed in; the warning that the configured ranker was
    # fitted for another model (the case this script is run for) would only confuse here.
    logging.getLogger("tanya.app").setLevel(logging.ERROR)
    if args.meeting_only:
        refit_meeting(args.out)
        print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        return
    cross = None
    if args.cross_fit:
        os.environ["TANYA_MODEL__NAME"] = BUNDLED_TUNED_MODEL
        cross = {"B": args.cross_fit[0].resolve(), "A": args.cross_fit[1].resolve()}
    items, sets = gather([s for s in args.sets.split(",") if s], args.limit, cross)
    k1, b = tune_bm25(items, sets)
    print(f"BM25: k1={k1} b={b}", file=sys.stderr)

    ranker = prior(k1, b)
    rows, labels, groups = chunk_rows(items, sets, ranker)
    chunk = fit_pairwise(rows, labels, groups, CHUNK_FEATURES, c=0.1)
    print(f"chunk model: {len(rows)} rows, {labels.sum()} positive", file=sys.stderr)
    ranker = replace(ranker, chunk=chunk)

    # The sentence model also learns from silver "who attended / what was agreed" questions, counted
    # SILVER_WEIGHT times: the QA sets hold almost none of the kind users ask about meetings.
    silver, silver_set = gather_silver()
    rows, labels, groups, _ = sentence_rows(items + silver * SILVER_WEIGHT, {**sets, "silver": silver_set}, ranker)
    sentence = fit_pairwise(rows, labels, groups, SENTENCE_FEATURES)
    print(f"sentence model: {len(rows)} rows, {labels.sum()} positive", file=sys.stderr)
    ranker = replace(ranker, sentence=sentence)
    chunk_order, meeting, meeting_words, meeting_correct = fit_meeting(ranker, silver, silver_set)
    ranker = replace(
        ranker, chunk_order=chunk_order, meeting=meeting, meeting_words=meeting_words, meeting_correct=meeting_correct
    )
    widen_ratio, quote_words, quote_report = tune_quotes(items, sets, ranker)
    ranker = replace(ranker, widen_ratio=widen_ratio, quote_words=quote_words)
    print(f"quote 1 widening: ratio {widen_ratio}, <= {quote_words} words: {quote_report}", file=sys.stderr)

    rows, labels, kinds = answer_rows(items, sets, ranker, AnswerSettings(min_score=0.0))
    correct = fit(rows, labels, ANSWER_FEATURES)
    # Meeting questions lie outside the QA sets' questions, where trees extrapolate differently from fit to fit:
    # the written ones (half of them also asked with their article removed) join the abstention's rows.
    written, written_set = gather_whole("meeting", load_dataset("whole_articles_train").questions)
    more_rows, more_labels, more_kinds = answer_rows(
        written, {"meeting": written_set}, ranker, AnswerSettings(min_score=0.0)
    )
    rows, labels, kinds = np.vstack([rows, more_rows]), np.concatenate([labels, more_labels]), kinds + more_kinds
    answerable = np.array([k.endswith(":answerable") for k in kinds])
    # Trees: whether a question is answerable depends on combinations (a missing rare name matters for
    # siapa, a missing number for berapa), which one logistic regression cannot express.
    answer = fit_trees(rows, answerable.astype(int), ANSWER_FEATURES, ANSWER_DEPTH, ANSWER_TREES, ANSWER_MONOTONIC)
    # The threshold comes from predictions on questions each model did not see: the trees' scores on their
    # own training rows are too confident and would set it too high.
    probabilities = out_of_fold(
        rows,
        answerable.astype(int),
        lambda r, y: fit_trees(r, y, ANSWER_FEATURES, ANSWER_DEPTH, ANSWER_TREES, ANSWER_MONOTONIC),
    )
    kinds_array = np.array(kinds)
    # ... over the QA sets' answerable questions, as before the meeting rows joined: they shape the trees only.
    qa_answerable = answerable & np.array([not k.startswith("meeting:") for k in kinds])
    min_score = float(np.quantile(probabilities[qa_answerable], 1.0 - ANSWERED_TARGET))
    report = {}
    for kind in sorted(set(kinds)):
        mask = kinds_array == kind
        report[kind] = {
            "n": int(mask.sum()),
            "quote1_right": round(float(labels[mask].mean()), 4),
            "answered": round(float((probabilities[mask] >= min_score).mean()), 4),
        }
    print(json.dumps(report, indent=1), file=sys.stderr)

    data = {
        "version": dt.date.today().isoformat() + f"-n{len({i.question.id for i in items})}",
        "trained_on": {name: sum(1 for i in items if i.set == name) for name in sets},
        "note": "fitted by bench/fit_ranker.py on the non-held-out training questions "
        "(logistic regressions; gradient-boosted trees for answer)",
        # the model whose cosines these models read: tanya warns when it runs them beside another
        "model": BUNDLED_TUNED_MODEL + " (cross-fitted)" if cross else load_config(default_config_path()).model.name,
        "bm25": {"k1": k1, "b": b},
        "chunk": chunk.to_dict(),
        "sentence": sentence.to_dict(),
        "chunk_order": chunk_order.to_dict(),
        "meeting": meeting.to_dict(),
        "meeting_correct": meeting_correct.to_dict(),
        "meeting_words": meeting_words.to_dict(),
        "answer": answer.to_dict(),
        "correct": correct.to_dict(),
        "min_score": round(min_score, 4),
        "quote": {"widen_ratio": widen_ratio, "max_words": quote_words, "training": quote_report},
        "confidence": {"tinggi": 0.7, "sedang": 0.4},
        "training_report": report,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
