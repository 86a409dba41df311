"""bench/fit_ranker.py's meeting models: what they learn from a sentence's own words and the chunks' order."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from conftest import make_app, write_article

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import fit_ranker  # noqa: E402
from qa_sets import Question, chunk_articles  # noqa: E402

from tanya.ranking import CHUNK_ORDER_FEATURES, SENTENCE_FEATURES, WordWeights, load_ranker  # noqa: E402
from tanya.retrieval import Retriever  # noqa: E402


def test_word_features_leave_out_the_questions_words_and_name_the_kind() -> None:
    question = "Siapa yang hadir dalam rapat itu?"
    assert fit_ranker.word_features(question, "siapa", frozenset({"turut", "hadir", "rapat"})) == [
        "*:turut",
        "siapa:turut",
    ]
    assert fit_ranker.word_features("Apa yang disepakati?", "apa", frozenset({"akan"})) == ["*:akan", "other:akan"]


def test_a_word_that_marks_the_answer_sentence_gets_the_weight() -> None:
    # 60 questions of 6 sentences each: the feature columns are noise, and the answer sentence of a siapa
    # question has "turut", of an apa question "akan"; "jarang" marks it too but is in fewer sentences than
    # MEETING_MIN_COUNT, and every sentence has "dan".
    rng = np.random.default_rng(0)
    rows, labels, groups, words = [], [], [], []
    for group in range(60):
        kind = "siapa" if group % 2 else "other"
        marker = "turut" if kind == "siapa" else "akan"
        for sentence in range(6):
            answer = sentence == group % 6
            own = {"dan", *({marker} if answer else set()), *({"jarang"} if answer and group < 2 else set())}
            rows.append(rng.normal(size=len(SENTENCE_FEATURES)))
            labels.append(1 if answer else 0)
            groups.append(group)
            words.append([*(f"*:{w}" for w in sorted(own)), *(f"{kind}:{w}" for w in sorted(own))])
    model, weights = fit_ranker.fit_pairwise_words(np.array(rows), words, np.array(labels), np.array(groups))
    assert isinstance(weights, WordWeights) and model.features == SENTENCE_FEATURES
    assert weights.siapa["turut"] > 0.5 and weights.other["akan"] > 0.5
    # each marker counts for its own kind of question most
    assert weights.siapa["turut"] > weights.other.get("turut", 0.0)
    assert weights.other["akan"] > weights.siapa.get("akan", 0.0)
    assert "jarang" not in weights.siapa and "jarang" not in weights.other
    assert abs(weights.siapa.get("dan", 0.0)) < 0.1  # in every sentence: tells nothing


def test_the_chunk_order_order_learns_from_meeting_questions_only(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    for n in range(12):
        write_article(articles, f"a{n:02}.txt", f"Rapat {n}", f"Ketua koperasi {n} hadir dalam rapat di balai {n}.")
    app = make_app(tmp_path)
    app.build([articles])
    article_of = chunk_articles(app)
    chunks = sorted(article_of)
    retriever = Retriever(app.index, app.embedder, app.settings.retrieval, load_ranker())
    items = []
    for n in range(0, len(chunks), 2):
        listed, close = chunks[n], chunks[n + 1]  # first in the keyword search; first by cosine
        # The meeting questions' answer is the keyword search's first; the others' (when / where questions,
        # which the meeting order leaves alone) the cosine's: learned from, they would cancel it out.
        for number, (question, qtype, gold) in enumerate(
            [
                ("Siapa saja yang hadir dalam rapat koperasi?", "siapa", listed),
                ("Kapan rapat koperasi itu digelar?", "kapan", close),
                ("Di mana rapat koperasi itu digelar?", "di mana", close),
            ]
        ):
            hits = retriever.search(question)
            hits.keyword = [(listed, 10.0), (close, 9.9)]
            hits.dense = [(close, 0.95), (listed, 0.05)]
            asked = Question(f"q{n}-{number}", question, ("rapat",), article_of[gold], qtype, False)
            items.append(fit_ranker.Item("meeting", asked, hits))
    sets = {"meeting": (app.index.db, article_of, retriever)}
    model = fit_ranker.fit_chunk_order(items, sets, load_ranker())
    assert model.features == CHUNK_ORDER_FEATURES
    weights = dict(zip(model.features, model.coef, strict=True))
    assert weights["keyword_rr"] > 0.2 > weights["chunk_logit"]
    retriever.close()
    app.close()
