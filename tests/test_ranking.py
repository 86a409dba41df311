"""The learned ranker's parts: question analysis, features, BM25, the shipped models, names and confidence."""

from __future__ import annotations

import json
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, make_app, write_article

from tanya.analysis import stem, tokenize, word_columns
from tanya.answer import (
    FOCUS_RATIO,
    LATER_QUOTE_SENTENCES,
    LATER_QUOTE_WORDS,
    ScoredSentence,
    _pick,
    asks_about_unknown_party,
    best_article_first,
    chunks_to_quote,
    compose_answer,
    confidence_word,
    correct_model,
    deciding_sentence,
    details_before_lead,
    focus_before_lead,
    score_sentences,
    sentence_model,
    with_highlights,
)
from tanya.chunking import split_sentences
from tanya.config import AnswerSettings
from tanya.embedding import HashingEmbedder
from tanya.errors import TanyaError
from tanya.ranking import (
    ANSWER_FEATURES,
    CHUNK_FEATURES,
    CHUNK_ORDER_FEATURES,
    LONG_QUESTION_TERMS,
    SENTENCE_FEATURES,
    ChunkSignals,
    LinearModel,
    Ranker,
    TreeModel,
    WordWeights,
    analyse_passage,
    analyse_question,
    bm25_score,
    chunk_features,
    load_ranker,
    model_from_dict,
    names_one_event,
    question_stems,
    ranker_from_dict,
    sentence_features,
)
from tanya.retrieval import Candidate, Retrieval, Retriever, shortlist
from tanya.signals import DATE, new_names, person_names
from tanya.store.database import Passage
from tanya.types import Answer, Article, Quote, Span

LEAD = ("Kupang - Wali Kota Kupang Dr. Yosef Lena menerima Rektor Universitas Nusa Cendana, Selasa (5/3). "
        "Turut hadir Sekretaris Daerah Ir. Hasan Pallawa, M.M., dan Kepala Dinas Kesehatan Maria Taneo. "
        "Mereka sepakat membangun sepuluh sumur bor di Kupang.")


def _sentences(text: str) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in split_sentences(text)]


def test_question_analysis_keeps_content_words_names_numbers_and_pairs() -> None:
    query = analyse_question("Siapa yang hadir dalam audiensi Wali Kota Kupang pada 2019?", {"hadir": 2.0})
    assert query.qtype == "siapa"
    assert "yang" not in query.terms and "siapa" not in query.terms
    assert {"kupang", "wali", "kota"} <= query.names
    assert query.numbers == {"2019"}
    assert ("wali", "kota") in query.bigrams
    assert not query.agreement
    assert analyse_question("Apa yang disepakati kedua pihak?", {}).agreement


def test_bm25_grows_with_term_frequency_and_shrinks_with_length() -> None:
    query = analyse_question("sumur bor", {"sumur": 2.0, "bor": 1.0})
    once = bm25_score(query, ["sumur", "bor", "x"], 100, 100, 1.2, 0.75)
    twice = bm25_score(query, ["sumur", "sumur", "bor"], 100, 100, 1.2, 0.75)
    longer = bm25_score(query, ["sumur", "bor", "x"], 300, 100, 1.2, 0.75)
    assert twice > once > longer > 0
    assert bm25_score(query, ["lain"], 100, 100, 1.2, 0.75) == 0.0


def test_chunk_features_measure_coverage_missing_words_and_type_match() -> None:
    idf = {"hadir": 1.0, "wali": 1.0, "kota": 1.0, "kupang": 2.0, "stadion": 3.0}
    query = analyse_question("Siapa yang hadir bersama Wali Kota Kupang di stadion?", idf)
    passage = analyse_passage(LEAD, _sentences(LEAD), "Pemkot Kupang", True)
    other = analyse_passage("Hujan turun di Kupang.", [(0, 22)], "", False)
    signals = [ChunkSignals(4.0, 0.3, 0, 1), ChunkSignals(1.0, 0.1, None, 0)]
    rows = chunk_features(query, [passage, other], signals, 1.2)
    assert rows.shape == (2, len(CHUNK_FEATURES))
    first = dict(zip(CHUNK_FEATURES, rows[0], strict=True))
    second = dict(zip(CHUNK_FEATURES, rows[1], strict=True))
    assert first["bm25_rel"] == 1.0 and second["bm25_rel"] == 0.25
    assert first["cover"] > second["cover"]
    assert first["missing_idf"] == 1.0  # "stadion", the rarest word, is missing from both
    assert first["type_sentence"] > 0 and second["type_sentence"] == 0
    assert first["lead_chunk"] == 1.0 and second["keyword_rr"] == 0.0


def test_sentence_features_flag_names_and_attendance_for_siapa() -> None:
    query = analyse_question("Siapa yang hadir dalam pertemuan dengan Wali Kota Kupang?", {"hadir": 1.0})
    passage = analyse_passage(LEAD, _sentences(LEAD), "", True)
    rows = sentence_features(query, passage, 0.8, True, 0)
    named = [dict(zip(SENTENCE_FEATURES, r, strict=True)) for r in rows]
    assert len(named) == 3
    assert named[1]["attendance"] == 1.0 and named[1]["new_names"] > 0
    assert named[0]["lead"] == 1.0 and named[1]["lead"] == 0.0
    assert named[2]["new_names"] == 0.0


@pytest.mark.parametrize("verb", ["didampingi", "ditemani", "turut hadir"])
def test_attendance_words_include_accompanied_by(verb: str) -> None:
    text = f"Wali Kota Kupang meresmikan pasar pada Selasa. Ia {verb} Sekretaris Daerah Hasan Pallawa."
    query = analyse_question("Siapa yang mendampingi Wali Kota Kupang meresmikan pasar?", {"pasar": 1.0})
    rows = sentence_features(query, analyse_passage(text, _sentences(text), "", True), 0.8, True, 0)
    assert [dict(zip(SENTENCE_FEATURES, r, strict=True))["attendance"] for r in rows] == [0.0, 1.0]


def test_linear_model_is_a_standardised_logistic_regression() -> None:
    model = LinearModel(("a", "b"), np.array([1.0, 0.0]), np.array([2.0, 1.0]), np.array([1.0, -1.0]), 0.5)
    rows = np.array([[3.0, 1.0], [1.0, 0.0]])
    expected = 1 / (1 + np.exp(-np.array([(3 - 1) / 2 - 1 + 0.5, 0.5])))
    assert np.allclose(model.predict(rows), expected)
    with pytest.raises(TanyaError):
        LinearModel.from_dict(model.to_dict(), ("a", "c"))


def test_tree_model_walks_each_tree_and_sums_the_leaves() -> None:
    # tree 1: a <= 0.5 ? -1.0 : (b <= 2 ? 0.5 : 2.0); tree 2: a single leaf 0.25
    first = ([0, -1, 1, -1, -1], [0.5, 0.0, 2.0, 0.0, 0.0], [1, -1, 3, -1, -1], [2, -1, 4, -1, -1],
             [0.0, -1.0, 0.0, 0.5, 2.0])
    second = ([0], [0.0], [-1], [-1], [0.25])
    model = TreeModel(("a", "b"), 0.1, (first, second))
    rows = np.array([[0.0, 9.0], [1.0, 2.0], [1.0, 3.0]])
    raw = np.array([0.1 - 1.0 + 0.25, 0.1 + 0.5 + 0.25, 0.1 + 2.0 + 0.25])
    assert np.allclose(model.predict(rows), 1 / (1 + np.exp(-raw)))
    again = model_from_dict(json.loads(json.dumps(model.to_dict())), ("a", "b"))
    assert isinstance(again, TreeModel) and np.allclose(again.predict(rows), model.predict(rows))
    assert isinstance(model_from_dict(LinearModel(("a",), *[np.zeros(1)] * 3, 0.0).to_dict(), ("a",)), LinearModel)
    with pytest.raises(TanyaError):
        model_from_dict(model.to_dict(), ("a", "c"))


def test_tree_model_scores_many_rows_as_a_walk_of_each_tree_would() -> None:
    rng = np.random.default_rng(7)

    def random_tree(depth: int) -> tuple[list[int], list[float], list[int], list[int], list[float]]:
        tree: tuple[list[int], list[float], list[int], list[int], list[float]] = ([], [], [], [], [])

        def grow(level: int) -> int:
            node = len(tree[0])
            for column in tree:
                column.append(0)  # type: ignore[arg-type]
            if level == depth or rng.random() < 0.2:
                tree[2][node], tree[3][node], tree[4][node] = -1, -1, float(rng.normal())
                return node
            tree[0][node], tree[1][node] = int(rng.integers(3)), float(rng.normal())
            tree[2][node] = grow(level + 1)
            tree[3][node] = grow(level + 1)
            return node

        grow(0)
        return tree

    def walk(tree: tuple, row: np.ndarray) -> float:
        node = 0
        while tree[2][node] >= 0:
            node = tree[2][node] if row[tree[0][node]] <= tree[1][node] else tree[3][node]
        return tree[4][node]

    trees = tuple(random_tree(int(d)) for d in rng.integers(0, 6, 40))
    model = TreeModel(("a", "b", "c"), -0.3, trees)
    rows = rng.normal(size=(25, 3))
    expected = [-0.3 + sum(walk(t, row) for t in trees) for row in rows]
    assert np.allclose(model.predict(rows), 1 / (1 + np.exp(-np.array(expected))))
    assert model.predict(rows[:0]).shape == (0,)


def test_shortlist_keeps_the_front_of_both_searches() -> None:
    keyword_rank = {1: 0, 2: 1, 3: 2, 4: 3}
    dense = {1: 0.1, 2: 0.2, 3: 0.3, 4: 0.4, 5: 0.9, 6: 0.8, 7: 0.0}
    ids = [1, 2, 3, 4, 5, 6, 7]
    assert shortlist(ids, keyword_rank, dense, 0) == ids  # 0: read them all
    assert sorted(shortlist(ids, keyword_rank, dense, 10)) == ids  # all of them, front first
    # The keyword search's top 3 and the dense search's best (5) come first, by fused rank among them; then
    # 4, a keyword hit, before 6, the dense search's second, which the keyword search missed.
    assert shortlist(ids, keyword_rank, dense, 4) == [1, 2, 3, 5]
    assert shortlist(ids, keyword_rank, dense, 5) == [1, 2, 3, 5, 4]
    assert shortlist(ids, keyword_rank, dense, 6) == [1, 2, 3, 5, 4, 6]


def test_past_the_front_keyword_hits_are_read_before_chunks_only_the_dense_search_found() -> None:
    keyword_rank = {1: 0, 2: 1, 3: 2, 4: 3, 8: 4}
    dense = {5: 0.9, 6: 0.8, 4: 0.7, 7: 0.6}  # 7: the dense search's 4th, which the keyword search missed
    ids = [1, 2, 3, 4, 5, 6, 7, 8]
    # By reciprocal ranks alone 6 (the dense search's 2nd) and 7 would come before 8 (the keyword search's
    # 5th, without a cosine yet): past the front (keyword's top 3, dense's best), keyword hits come first.
    short = shortlist(ids, keyword_rank, dense, 7)
    assert set(short[:4]) == {1, 2, 3, 5} and short[4:7] == [4, 8, 6]
    assert shortlist(ids, keyword_rank, dense, 0) == ids


def test_quotes_are_also_sought_in_read_chunks_of_the_best_chunks_articles() -> None:
    # Article "long" has chunks 1, 5 and 7; the best two chunks are 1 (long) and 2 (other). Chunk 5 was read by
    # the ranker but ranks below the quoted few: its sentences are scored too. Chunk 7 was not read (no
    # passage), chunk 6 is from an article outside the best few: both stay out.
    articles = {1: "long", 2: "other", 3: "third", 4: "fourth", 5: "long", 6: "elsewhere", 7: "long"}
    passages = {
        cid: Passage(cid, aid, 0, 0, 10, (), "teks", "judul") for cid, aid in articles.items() if cid != 7
    }
    candidates = [Candidate(cid, 0.0, 0.0, 1.0 - cid / 10) for cid in articles]
    retrieval = Retrieval("Siapa yang hadir?", ["hadir"], {}, np.zeros(4), candidates, passages=passages)
    assert [c.chunk_id for c in chunks_to_quote(retrieval, 2)] == [1, 2, 5]
    assert [c.chunk_id for c in chunks_to_quote(retrieval, 5)] == [1, 2, 3, 4, 5]


def test_quote_one_comes_from_the_best_ranked_article() -> None:
    passages = {1: Passage(1, "best", 0, 0, 10, (), "teks", "judul"), 2: Passage(2, "other", 0, 0, 10, (), "teks", "j")}
    retrieval = Retrieval("Siapa?", ["x"], {}, np.zeros(4), [Candidate(1, 1, 0, 0.8), Candidate(2, 0.5, 0, 0.4)],
                          passages=passages)

    def sentence(article: str, start: int, score: float) -> ScoredSentence:
        return ScoredSentence(1 if article == "best" else 2, article, Span(start, start + 5), 5, np.zeros(1), score)

    ranked = [sentence("other", 0, 0.9), sentence("other", 6, 0.7), sentence("best", 0, 0.5), sentence("best", 6, 0.2)]
    assert [(s.article_id, s.score) for s in best_article_first(retrieval, ranked)] == [
        ("best", 0.5), ("other", 0.9), ("other", 0.7), ("best", 0.2)
    ]
    in_order = ranked[2:] + ranked[:2]
    assert best_article_first(retrieval, in_order) == in_order


def pick_quotes(texts: list[str], scores: list[float], max_quotes: int = 2) -> list[str]:
    """The quotes _pick takes from one article made of `texts`, each sentence scored as given."""
    article = Article("a", " ".join(texts))
    sentences, start = [], 0
    for text, score in zip(texts, scores, strict=True):
        sentences.append(ScoredSentence(1, "a", Span(start, start + len(text)), len(text.split()), np.zeros(1), score))
        start += len(text) + 1
    sentences.sort(key=lambda x: -x.score)

    class Articles:
        def article(self, article_id: str) -> Article:
            return article

    settings = AnswerSettings(max_quotes=max_quotes)
    picked = _pick(sentences, settings, Articles(), load_ranker())  # type: ignore[arg-type]
    return [article.text[span.start : span.end] for _, span, _ in picked]


@pytest.mark.parametrize("short", [False, True])
def test_later_quotes_are_widened_less_than_quote_one(short: bool) -> None:
    texts = [
        "Wali kota membuka rapat koordinasi di balai kota pada pagi hari.",
        "Rapat itu membahas banjir yang melanda tiga kecamatan pekan lalu.",
        "Turut hadir Sekretaris Daerah Hasan Pallawa dan Kepala Dinas Maria Taneo.",
        "Cuaca pada hari itu cerah sejak pagi.",
        "Para camat melaporkan jumlah warga yang mengungsi ke balai desa.",
        "Kata dia:" if short else "Mereka sepakat membangun sepuluh sumur bor di kecamatan itu.",
        "Anggaran pembangunan sumur bor berasal dari dana darurat daerah.",
        "Pembangunan dimulai bulan depan.",
    ]
    scores = [0.5, 0.9, 0.6, 0.1, 0.7, 0.8, 0.65, 0.6]  # quote 1 around sentence 2, quote 2 around sentence 6
    assert LATER_QUOTE_SENTENCES == 2
    quotes = pick_quotes(texts, scores)
    assert quotes[0] == " ".join(texts[:3])  # three sentences: widened over both neighbours that score well
    # The second quote takes its better neighbour only; a sentence too short to stand alone takes the next.
    assert quotes[1] == (" ".join(texts[5:7]) if short else " ".join(texts[4:6]))


def test_a_later_quote_takes_no_neighbour_that_would_pass_its_word_limit() -> None:
    long_list = "Turut hadir " + ", ".join(f"Kepala Dinas Nama{i} Marga{i}" for i in range(8)) + "."
    texts = [
        "Wali kota membuka rapat koordinasi banjir di balai kota pada pagi hari itu.",
        "Rapat itu membahas banjir yang melanda tiga kecamatan pekan lalu.",
        "Mereka sepakat membangun sepuluh sumur bor di kecamatan itu bulan depan.",
        long_list,
    ]
    scores = [0.9, 0.1, 0.8, 0.7]  # quote 1 is sentence 0 alone; quote 2 is sentence 2, its neighbour the long list
    # Quote 1's own limit would take the list; a later quote's does not.
    assert LATER_QUOTE_WORDS < len(texts[2].split()) + len(long_list.split()) <= load_ranker().quote_words
    assert pick_quotes(texts, scores)[1] == texts[2]


@pytest.mark.parametrize(
    ("question", "moved"),
    [
        ("Siapa saja yang hadir dalam rapat banjir di Kupang?", True),
        ("Apa yang disepakati dalam rapat banjir di Kupang?", True),
        ("Siapa yang memimpin rapat banjir di Kupang?", False),  # not about who attended
    ],
)
def test_the_lead_follows_the_details_for_meeting_questions(question: str, moved: bool) -> None:
    column = {name: i for i, name in enumerate(SENTENCE_FEATURES)}

    def sentence(start: int, score: float, lead: bool, typed: bool, article: str = "a") -> ScoredSentence:
        features = np.zeros(len(SENTENCE_FEATURES))
        features[column["lead"]], features[column["type"]] = float(lead), float(typed)
        return ScoredSentence(1, article, Span(start, start + 5), 5, features, score)

    lead, other = sentence(0, 0.8, True, True, "b"), sentence(0, 0.5, False, True, "c")  # other articles
    details = sentence(9, 0.3, False, True)  # later in the lead's article "a", holding a new name / an agreement
    retrieval = Retrieval(question, ["rapat"], {}, np.zeros(4), [], query=analyse_question(question, {"rapat": 1.0}))
    ranked = [sentence(0, 0.9, True, True), other, details]
    assert details_before_lead(retrieval, ranked)[0] is (ranked[2] if moved else ranked[0])
    assert details_before_lead(retrieval, [lead, other]) == [lead, other]  # nothing later in the lead's article
    not_typed = [ranked[0], sentence(9, 0.3, False, False)]
    assert details_before_lead(retrieval, not_typed) == not_typed


def test_a_sentence_with_the_asked_words_the_lead_lacks_goes_before_the_lead() -> None:
    text = (
        "Argentina adalah negara di Amerika Selatan yang berbatasan dengan Chile. "
        "Ibu kota Argentina adalah Buenos Aires. "
        "Argentina dikenal karena sepak bolanya."
    )
    spans = split_sentences(text)
    lead_column = SENTENCE_FEATURES.index("lead")

    def sentence(number: int, score: float) -> ScoredSentence:
        features = np.zeros(len(SENTENCE_FEATURES))
        features[lead_column] = float(number == 0)
        stems = frozenset(t.stem for t in tokenize(text[spans[number].start : spans[number].end]))
        return ScoredSentence(1, "a", spans[number], 8, features, score, stems)

    question = "Apa nama ibu kota Argentina?"
    idf = {stem(w): 1.0 for w in ("nama", "ibu", "kota", "argentina")}
    retrieval = Retrieval(question, list(idf), idf, np.zeros(4), [], query=analyse_question(question, idf))
    lead, capital, football = sentence(0, 0.9), sentence(1, 0.7), sentence(2, 0.8)
    assert focus_before_lead(retrieval, [lead, football, capital]) == [capital, lead, football]
    # Far below the lead, or not the lead first: the order stands.
    low = sentence(1, 0.9 * FOCUS_RATIO - 0.01)
    assert focus_before_lead(retrieval, [lead, football, low]) == [lead, football, low]
    assert focus_before_lead(retrieval, [football, capital]) == [football, capital]
    # The later sentence has only words the lead has too: nothing moves.
    question = "Di mana Argentina?"
    retrieval = Retrieval(question, ["argentina"], {"argentina": 1.0}, np.zeros(4), [],
                          query=analyse_question(question, {"argentina": 1.0}))
    assert focus_before_lead(retrieval, [lead, capital]) == [lead, capital]


def kupang_retrieval(question: str) -> Retrieval:
    """Three candidate chunks: the lead of an article about a meeting (best), another article's, and the same
    article's next chunk, which names the attendees."""
    lead = "Wali Kota Kupang menerima rektor di balai kota pada Selasa."
    later = "Turut hadir Sekretaris Daerah Hasan Pallawa dan Kepala Dinas Kesehatan Maria Taneo."
    elsewhere = "Rapat lain digelar di Ende pada hari yang sama."

    def passage(cid: int, article: str, text: str, start: int) -> Passage:
        spans = tuple(Span(start + a, start + b) for a, b in _sentences(text))
        return Passage(cid, article, cid - 1, start, start + len(text), spans, text, "Wali Kota Kupang terima rektor")

    passages = {
        1: passage(1, "kupang", lead, 0), 2: passage(2, "ende", elsewhere, 0), 3: passage(3, "kupang", later, 60)
    }
    candidates = [Candidate(1, 1.0, 0.5, 0.9), Candidate(2, 0.5, 0.4, 0.6), Candidate(3, 0.4, 0.3, 0.3)]
    return Retrieval(question, ["hadir"], {}, np.zeros(4), candidates, passages=passages)


def test_every_sentence_of_an_article_carries_its_best_chunks_score() -> None:
    # The lead chunk repeats the question's words and ranks first; the next chunk of the same article names
    # the attendees. Both chunks' sentences are scored as the article's (0.9, in the best article); the other
    # article's sentences keep their own chunk's score.
    retrieval = kupang_retrieval("Siapa yang hadir saat Wali Kota Kupang menerima rektor?")
    scored = {s.chunk_id: s for s in score_sentences(retrieval, None, load_ranker())}  # type: ignore[arg-type]
    column = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    assert {cid: s.features[column["chunk_score"]] for cid, s in scored.items()} == {1: 0.9, 2: 0.6, 3: 0.9}
    assert {cid: s.features[column["chunk_top"]] for cid, s in scored.items()} == {1: 1.0, 2: 0.0, 3: 1.0}


def test_shipped_ranker_matches_the_features_and_is_sane() -> None:
    ranker = load_ranker()
    assert ranker.chunk.features == CHUNK_FEATURES
    assert ranker.sentence.features == SENTENCE_FEATURES
    assert ranker.answer.features == ANSWER_FEATURES
    assert 0.0 <= ranker.min_score < 1.0
    assert 0.0 < ranker.confidence["sedang"] < ranker.confidence["tinggi"] < 1.0
    assert ranker.k1 > 0 and 0 <= ranker.b <= 1
    assert ranker.identity()["version"] == ranker.version


def test_shipped_ranker_has_a_sentence_model_for_meeting_questions() -> None:
    ranker = load_ranker()
    assert ranker.meeting is not None and ranker.meeting.features == SENTENCE_FEATURES
    assert ranker.meeting_correct is not None and ranker.meeting_correct.features == ANSWER_FEATURES
    assert not np.allclose(ranker.meeting.coef, ranker.sentence.coef)
    assert ranker.chunk_order is not None and ranker.chunk_order.features == CHUNK_ORDER_FEATURES


@pytest.mark.parametrize(
    ("question", "meeting"),
    [
        ("Siapa saja yang hadir dalam rapat koordinasi itu?", True),
        ("Siapa yang mendampingi Wali Kota saat meninjau pasar?", True),
        ("Apa yang disepakati kedua pihak?", True),
        ("Siapa menteri yang ditemui Bawaslu untuk membahas anggaran?", True),
        ("Untuk apa Grab menggandeng Ovo?", True),
        ("Apa keputusan rapat paripurna DPR itu?", True),
        ("Siapa nama presiden pertama Indonesia?", False),
        ("Kapan rapat koordinasi itu digelar?", False),
        ("Kapan Perjanjian Umum Tarif dan Perdagangan ditandatangani?", False),
        ("Berapa negara yang menandatangani perjanjian itu?", False),
    ],
)
def test_meeting_questions_are_scored_by_the_meeting_model(question: str, meeting: bool) -> None:
    ranker = load_ranker()
    query = analyse_question(question, {})
    assert sentence_model(query, ranker) is (ranker.meeting if meeting else ranker.sentence)
    # ... and their confidence word comes from the model fitted on the meeting model's quotes
    assert correct_model(query, ranker) is (ranker.meeting_correct if meeting else ranker.correct)


@pytest.mark.parametrize(
    ("question", "ordered"),
    [
        ("Siapa saja yang hadir dalam rapat koordinasi itu?", True),  # about a meeting, however short
        ("Kapan Perjanjian Umum Tarif dan Perdagangan ditandatangani?", False),
        ("Siapa nama presiden pertama Indonesia?", False),
        # eight content words and more: a question naming one event, matched best by its words
        ("Kapan pemerintah kota Kupang meresmikan jembatan gantung baru di desa Oesao?", True),
    ],
)
def test_questions_about_a_meeting_or_long_ones_are_ordered_by_the_chunk_order(question: str, ordered: bool) -> None:
    query = analyse_question(question, {})
    assert names_one_event(query) is ordered
    assert (len(query.terms) >= LONG_QUESTION_TERMS) is (ordered and "hadir" not in question)


def test_abstention_is_decided_on_the_general_models_best_sentence_whatever_orders_the_quotes() -> None:
    def sentence(start: int, score: float, general: float) -> ScoredSentence:
        return ScoredSentence(1, "a", Span(start, start + 5), 1, np.zeros(1), score, frozenset(), general)

    ordered = [sentence(0, 0.9, 0.2), sentence(10, 0.5, 0.7), sentence(20, 0.1, 0.4)]
    assert deciding_sentence(ordered) is ordered[1]
    plain = [ScoredSentence(1, "a", Span(at, at + 5), 1, np.zeros(1), p) for at, p in ((0, 0.3), (9, 0.6))]
    assert deciding_sentence(plain) is plain[1]  # without a general score, the score itself


def test_a_ranker_without_a_meeting_model_scores_every_question_with_the_general_one() -> None:
    data = json.loads((Path(__file__).resolve().parents[1] / "src" / "tanya" / "data" / "ranker.json").read_text())
    data.pop("meeting", None)
    data.pop("meeting_correct", None)
    ranker = ranker_from_dict(data)
    assert ranker.meeting is None and ranker.meeting_correct is None
    query = analyse_question("Siapa saja yang hadir dalam rapat itu?", {})
    assert sentence_model(query, ranker) is ranker.sentence
    assert correct_model(query, ranker) is ranker.correct


def test_the_meeting_models_word_weights_count_a_sentences_own_words_by_kind_of_question() -> None:
    weights = WordWeights({"pallawa": 2.0, "rektor": 5.0}, {"pallawa": -1.0, "rektor": 0.5})
    question = "Siapa yang hadir saat Wali Kota Kupang menerima rektor?"
    assert "rektor" in question_stems(question)
    sentences = [frozenset({"turut", "pallawa"}), frozenset({"rektor"}), frozenset()]
    # A word the question uses counts for nothing: repeating the question is the feature columns' business.
    assert weights.logits(question, "siapa", sentences).tolist() == [2.0, 0.0, 0.0]
    assert weights.logits("Apa yang disepakati?", "apa", sentences).tolist() == [-1.0, 0.5, 0.0]
    assert WordWeights.from_dict(json.loads(json.dumps(weights.to_dict()))) == weights


def test_the_meeting_models_word_weights_reorder_the_sentences_of_meeting_questions_only() -> None:
    ranker = load_ranker()
    assert ranker.meeting_words is not None and ranker.meeting_words.siapa and ranker.meeting_words.other

    def scores(question: str, weights: WordWeights) -> dict[int, float]:
        with_weights = replace(ranker, meeting_words=weights)
        scored = score_sentences(kupang_retrieval(question), None, with_weights)  # type: ignore[arg-type]
        return {s.chunk_id: s.score for s in scored}

    none = WordWeights({}, {})
    pallawa = WordWeights({"pallawa": 3.0}, {})
    meeting = "Siapa yang hadir saat Wali Kota Kupang menerima rektor?"
    assert scores(meeting, pallawa)[3] > scores(meeting, none)[3]
    assert scores(meeting, pallawa)[1] == scores(meeting, none)[1]
    other = "Kapan Wali Kota Kupang menerima rektor?"  # not a meeting question: the general model alone
    assert scores(other, pallawa) == scores(other, none)


def test_confidence_word_follows_the_cuts() -> None:
    cuts = load_ranker().confidence
    assert confidence_word(cuts["tinggi"]) == "tinggi"
    assert confidence_word((cuts["tinggi"] + cuts["sedang"]) / 2) == "sedang"
    assert confidence_word(cuts["sedang"] / 2) == "rendah"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Penandatanganan dilakukan Wali Kota Kupang Dr. H. Rusdi Mappaseng, S.E., M.Si. dan Rektor "
         "Prof. Dr. Ir. Lestari Wulandari, M.T.",
         ["Dr. H. Rusdi Mappaseng, S.E., M.Si.", "Prof. Dr. Ir. Lestari Wulandari, M.T."]),
        ("Jokowi didampingi Menteri Keuangan Sri Mulyani Indrawati dan Kepala BKPM Thomas Lembong.",
         ["Sri Mulyani Indrawati", "Thomas Lembong"]),
        ("Kepala BNNP Sumsel, Brigjen Pol Tri Julianto Djatiutomo, Rabu (20/11).",
         ["Brigjen Pol Tri Julianto Djatiutomo"]),
        ("Pertemuan di Kantor Wilayah Kementerian Hukum pada Senin Januari lalu.", []),
        ("Dalam acara ini turut hadir, Camat Tanah Abang Dedi Arif Darsono.", ["Dedi Arif Darsono"]),
        # Initials open a name, but never make one alone.
        ("Buku karya penulis Inggris J. K. Rowling diresensi B. J. Habibie di kelas B.",
         ["J. K. Rowling", "B. J. Habibie"]),
    ],
)
def test_person_names(text: str, names: list[str]) -> None:
    assert [text[s.start : s.end] for s in person_names(text)] == names


def test_a_nickname_in_the_question_covers_the_full_name() -> None:
    sentence = "Presiden Joko Widodo didampingi Menteri Sekretaris Negara Pratikno dan Staf Khusus Johan Budi."
    found = new_names("Siapa yang mendampingi Presiden Jokowi?", sentence)
    assert [sentence[s.start : s.end] for s in found] == ["Johan Budi"]
    found = new_names("Siapa yang mendampingi Presiden?", sentence)
    assert [sentence[s.start : s.end] for s in found] == ["Joko Widodo", "Johan Budi"]


def test_new_names_leave_out_names_the_question_already_has() -> None:
    text = "Wali Kota Yosef Lena didampingi Maria Taneo."
    found = [text[s.start : s.end] for s in new_names("Siapa yang mendampingi Yosef Lena?", text)]
    assert found == ["Maria Taneo"]


def test_highlights_are_names_inside_the_quote_for_siapa_only() -> None:
    quote = Quote("a", "", "", "", "", "didampingi Maria Taneo.", 100, 123, 0.9)
    marked = with_highlights(Answer("Siapa yang hadir?", (quote,), "tinggi")).quotes[0]
    assert [(h.start, h.end) for h in marked.highlights] == [(111, 122)]
    assert with_highlights(Answer("Apa yang disepakati?", (quote,), "tinggi")).quotes[0].highlights == ()


def test_highlighted_names_leave_out_the_word_that_opens_the_sentence() -> None:
    text = "Kehadiran Agus Harimurti Yudhoyono di Istana. Sedangkan Gibran ikut menemui."
    quote = Quote("a", "", "", "", "", text, 0, len(text), 0.9)
    marked = with_highlights(Answer("Siapa yang ditemui?", (quote,), "tinggi")).quotes[0]
    # "Sedangkan Gibran" leaves one word: no name.
    assert [text[h.start : h.end] for h in marked.highlights] == ["Agus Harimurti Yudhoyono"]


def test_answer_quotes_sentences_exactly_and_records_the_ranker(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    app.build([EXAMPLES])
    answer = app.ask("Siapa yang hadir dalam penandatanganan MoU antara Pemerintah Kota Batu Merah dan "
                     "Universitas Teluk Nusantara?")
    assert answer.answered and answer.confidence in ("tinggi", "sedang", "rendah")
    for quote in answer.quotes:
        article = app.article(quote.article_id)
        assert article is not None and article.text[quote.start : quote.end] == quote.text
        assert all(quote.start <= h.start < h.end <= quote.end for h in quote.highlights)
    assert len({(q.article_id, q.start) for q in answer.quotes}) == len(answer.quotes)
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["ranker"]["version"] == load_ranker().version


def test_a_meeting_with_someone_no_article_mentions_is_declined(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    app.build([EXAMPLES])
    known = "Siapa yang hadir dalam penandatanganan MoU Pemerintah Kota Batu Merah dan Universitas Teluk Nusantara?"
    assert app.ask(known).answered
    # The same meeting words, but with a party no sample article names: not this meeting.
    unknown = "Siapa yang hadir dalam penandatanganan MoU Pemerintah Kota Batu Merah dan Universitas Kinabalu?"
    assert not app.ask(unknown).answered
    assert asks_about_unknown_party(app.retrieve(unknown).query)
    # Only meeting questions: asking about the unknown name itself is for the answer model to judge.
    assert not asks_about_unknown_party(app.retrieve("Siapa rektor Universitas Kinabalu?").query)
    hyphenated = analyse_question("Siapa yang hadir di Batu-Merah?", {"batu-merah": 1.0}, frozenset({"batu-merah"}))
    assert not asks_about_unknown_party(hyphenated)


def test_min_score_one_declines_everything(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    write_article(tmp_path / "a", "a.txt", "Dinkes dan RSUD sepakat",
                  "Kepala Dinas Kesehatan bertemu Direktur RSUD.")
    app.build([tmp_path / "a"])
    retrieval = app.retrieve("Siapa Direktur RSUD yang bertemu Kepala Dinas Kesehatan?")
    assert compose_answer(retrieval, app.index.db, AnswerSettings(min_score=0.0)).answered
    assert not compose_answer(retrieval, app.index.db, AnswerSettings(min_score=1.0)).answered
    assert not app.ask("apa?").answered  # no content words at all


def test_weighted_ranker_orders_by_bm25_and_cosine(tmp_path: Path) -> None:
    app = make_app(tmp_path, retrieval={"ranker": "weighted", "keyword_weight": 1.0, "dense_weight": 0.0})
    app.build([EXAMPLES])
    candidates = app.retrieve("nota kesepahaman gudang pendingin koperasi nelayan").candidates
    assert [c.score for c in candidates] == sorted((c.keyword for c in candidates), reverse=True)


def test_the_ranker_reads_the_best_of_both_searches_not_just_the_keyword_list(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    for n in range(24):
        write_article(articles, f"a{n:02}.txt", f"Berita {n}", f"Warga desa {n} membangun jembatan bersama. Kabar {n}.")
    app = make_app(tmp_path, retrieval={"rerank": 4})
    app.build([articles])
    retriever = Retriever(app.index, app.embedder, app.settings.retrieval)
    hits = retriever.search("jembatan desa")
    ids = sorted(app.index.db.conn.execute("SELECT id FROM chunks").fetchall())
    keyword_only, dense_only = [i for (i,) in ids[:20]], ids[20][0]
    hits.keyword = [(cid, 10.0 - n * 0.1) for n, cid in enumerate(keyword_only)]
    hits.dense = [(dense_only, 0.9)]  # the best (and only) dense hit, which the keyword search did not find
    retrieval = retriever.rank(hits)
    assert set(retrieval.features) == {*keyword_only[:3], dense_only}  # keyword's top 3 and dense's top 1
    assert {c.chunk_id for c in retrieval.candidates} == {*keyword_only, dense_only}  # the rest follow, unread
    retriever.close()
    app.close()


def test_meeting_questions_order_chunks_by_their_own_model_keeping_the_chunk_models_probability(
    tmp_path: Path,
) -> None:
    articles = tmp_path / "articles"
    write_article(articles, "a.txt", "Pasar desa", "Pedagang pasar desa membuka lapak baru di balai.")
    write_article(articles, "b.txt", "Rapat koperasi", "Ketua koperasi hadir dalam rapat. Rapat berlangsung di balai.")
    app = make_app(tmp_path)
    app.build([articles])
    keyword_first, dense_first = (i for (i,) in app.index.db.conn.execute("SELECT id FROM chunks ORDER BY id"))
    # Only the keyword search's rank counts: the order a meeting question gets from a fitted chunk order.
    by_keyword = LinearModel(CHUNK_ORDER_FEATURES, np.zeros(3), np.ones(3), np.array([0.0, 0.0, 10.0]), 0.0)
    shipped = replace(load_ranker(), chunk_order=by_keyword)

    def ranked(question: str, ranker: Ranker) -> list[Candidate]:
        retriever = Retriever(app.index, app.embedder, app.settings.retrieval, ranker)
        hits = retriever.search(question)
        hits.keyword = [(keyword_first, 10.0), (dense_first, 9.9)]
        hits.dense = [(dense_first, 0.95), (keyword_first, 0.05)]  # the chunk model trusts this cosine
        candidates = retriever.rank(hits).candidates
        retriever.close()
        return candidates

    meeting, other = "Siapa saja yang hadir dalam rapat koperasi?", "Siapa ketua koperasi di balai?"
    plain = ranked(meeting, replace(shipped, chunk_order=None))
    assert [c.chunk_id for c in plain] == [dense_first, keyword_first]  # the chunk model alone
    ordered = ranked(meeting, shipped)
    assert [c.chunk_id for c in ordered] == [keyword_first, dense_first]
    assert {c.chunk_id: c.score for c in ordered} == {c.chunk_id: c.score for c in plain}  # probabilities kept
    assert [c.chunk_id for c in ranked(other, shipped)][0] == dense_first  # not a meeting question
    app.close()


class SlowQueries(HashingEmbedder):
    """An embedder whose question vector is never ready before the retriever asks for it: it reads ahead."""

    def start_query(self, query: str) -> Future:
        vector = self._vector(query)

        class Pending(Future):
            def done(self) -> bool:
                return False

            def result(self, timeout: float | None = None) -> object:
                return vector

        return Pending()


def test_reading_ahead_while_the_question_embeds_changes_no_feature(tmp_path: Path) -> None:
    plain = make_app(tmp_path / "plain")
    plain.build([EXAMPLES])
    slow = make_app(tmp_path / "plain", SlowQueries())  # the same index, vectors ready only when asked for
    questions = ("Siapa yang hadir dalam penandatanganan nota kesepahaman?", "Apa yang disepakati koperasi nelayan?")
    for question in questions:
        ahead_retriever = Retriever(slow.index, slow.embedder, slow.settings.retrieval)
        hits = ahead_retriever.search(question)
        assert hits.ahead.rows and hits.ahead.sentences and hits.ahead.vectors  # read while waiting
        ahead = ahead_retriever.rank(hits)
        direct = plain.retrieve(question)
        assert not Retriever(plain.index, plain.embedder, plain.settings.retrieval).search(question).ahead.rows
        assert [c.chunk_id for c in ahead.candidates] == [c.chunk_id for c in direct.candidates]
        assert ahead.features.keys() == direct.features.keys()
        for cid, row in direct.features.items():
            np.testing.assert_array_equal(ahead.features[cid], row)
        assert ahead.sentence_rows  # and the answer uses the sentence rows read ahead
        settings = AnswerSettings()
        assert compose_answer(ahead, slow.index.db, settings) == compose_answer(direct, plain.index.db, settings)
    slow.close()
    plain.close()


def test_word_columns_are_the_tokens_followed_by_each_hyphenated_words_parts() -> None:
    text = "Wali Kota Bau-Bau meneken kerja-sama Rp10.000 di Kupang—kata Ir. Agus (ke-23) é-KTP."
    expected = []
    for token in tokenize(text):
        expected.append((token.text, token.stem, token.start, token.end))
        if "-" in token.text:
            offset = token.start
            for part in token.text.split("-"):
                if part:
                    expected.append((part, stem(part), offset, offset + len(part)))
                offset += len(part) + 1
    assert list(zip(*word_columns(text), strict=True)) == expected
    assert ("bau", stem("bau"), 14, 17) in expected  # the second part of "Bau-Bau", at its own offset


@pytest.mark.parametrize(
    ("text", "is_date"),
    [
        ("Canakya (sekitar 350-275 SM) adalah penasihat maharaja.", True),  # years before the common era
        ("Kekaisaran Romawi Barat runtuh pada 476.", True),
        ("Rapat digelar Kamis (28/3) di balai desa.", True),
        ("Anggarannya Rp 5 M untuk 500 peserta.", False),  # an amount, not a year
        ("Hadiah dibagikan pada 500 peserta lomba.", False),
    ],
)
def test_dates_include_early_years(text: str, is_date: bool) -> None:
    assert bool(DATE.search(text)) is is_date
