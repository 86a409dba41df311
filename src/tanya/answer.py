"""Ranked chunks -> an Answer: the sentences that answer, quoted exactly, or an honest no-answer.

Sentences of the best chunks are scored by the shipped sentence model; whether to answer at all is decided by
the answer model's calibrated probability that the first quote holds the answer (and, for questions about a
meeting, by whether the index mentions everyone the question names; and never when quote 1 reports the
opposite of what is asked). Quote 1 comes from the best-ranked article, after its lead when the question asks
who attended or what was agreed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from tanya.analysis import question_type
from tanya.config import AnswerSettings
from tanya.opposites import asks_what_is_not, reports_opposite
from tanya.ranking import (
    ANSWER_FEATURES,
    SENTENCE_FEATURES,
    LinearModel,
    Model,
    Query,
    Ranker,
    about_meeting,
    analyse_passage,
    analyse_question,
    answer_features,
    asks_meeting,
    load_ranker,
    sentence_features,
    sigmoid,
    with_chunk_score,
)
from tanya.retrieval import Candidate, Retrieval
from tanya.signals import names_missing_from, new_names, without_opener
from tanya.store.database import Database, Passage
from tanya.types import Answer, Article, Quote, Span

_COVER = ANSWER_FEATURES.index("cover")
_LEAD = SENTENCE_FEATURES.index("lead")
_TYPE = SENTENCE_FEATURES.index("type")
CHUNKS_TO_READ = 5  # quotes come from the best few chunks (and their articles' other chunks the ranker read)
SHORT_SENTENCE = 6  # words: a sentence this short is quoted together with the next one
MAX_SENTENCES = 3  # a quote never spans more sentences (AnswerSettings.max_sentences is at most this)
# Quotes after the first are at most this many sentences: three quotes find the answer in more places in
# fewer words. Development set, first 50 / next 20 questions, answer in quotes 1-3 (three quotes' words):
# 3 sentences 47 / 13 (113-115), 2 sentences 49 / 12 (103-105), 1 sentence 48 / 11 (84-86).
LATER_QUOTE_SENTENCES = 2
# ... and at most this many words, unless one sentence is longer: three quotes stay well under 120 words when
# the meeting model picks attendee lists (development set 117.6 -> 100.1 words, quotes 1-3 0.915 -> 0.906;
# the written training questions 117.5 -> 104.2, 0.827 -> 0.818; 50 words left them at 111 there).
LATER_QUOTE_WORDS = 40
QUOTE_FLOOR = 0.2  # a quote after the first must score at least this share of the first one's score
FOCUS_RATIO = 0.6  # focus_before_lead: a sentence scoring at least this share of the lead's score ...
FOCUS_SHARE = 0.1  # ... that has at least this share of the question's idf the lead lacks goes first


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a candidate chunk, with its features and the sentence model's probability."""

    chunk_id: int
    article_id: str
    span: Span  # offsets into the article text
    words: int
    features: np.ndarray
    score: float  # orders the quotes: the meeting model's probability for meeting questions
    stems: AbstractSet[str] = frozenset()  # the sentence's word stems (shared with the analysed chunk)
    general: float = -1.0  # the general sentence model's probability (what the answer models were fitted on)

    @property
    def general_score(self) -> float:
        return self.score if self.general < 0 else self.general


def score_sentences(
    retrieval: Retrieval, db: Database, ranker: Ranker, chunks: int = CHUNKS_TO_READ
) -> list[ScoredSentence]:
    """Every sentence of the best `chunks` candidates, scored; a sentence shared by two chunks once."""
    query = retrieval.query or analyse_question(retrieval.question, retrieval.idf)
    top = chunks_to_quote(retrieval, chunks)
    missing = [c.chunk_id for c in top if c.chunk_id not in retrieval.passages]
    passages: dict[int, Passage] = {**retrieval.passages, **(db.passages(missing) if missing else {})}
    rows: list[np.ndarray] = []
    meta: list[tuple[int, str, Span, int, AbstractSet[str]]] = []
    # A sentence is as much on the question's topic as its article's best chunk: the chunk that repeats the
    # question's words (often the lead) outranks the later chunk that names the attendees, yet both tell
    # the same story. The QA sets' passages are one chunk each, so this is what the sentence model was fitted on.
    article_score: dict[str, float] = {}
    for candidate in top:
        if candidate.chunk_id in passages:
            article = passages[candidate.chunk_id].article_id
            article_score[article] = max(article_score.get(article, 0.0), candidate.score)
    best_article = passages[top[0].chunk_id].article_id if top and top[0].chunk_id in passages else None
    for candidate in top:
        passage = passages.get(candidate.chunk_id)
        if passage is None:
            continue
        score, first = article_score[passage.article_id], passage.article_id == best_article
        analysed = retrieval.analysed.get(candidate.chunk_id)
        if analysed is None:
            spans = [(s.start - passage.start, s.end - passage.start) for s in passage.sentences]
            analysed = analyse_passage(passage.text, spans, passage.title, passage.ordinal == 0)
        ahead = retrieval.sentence_rows.get(candidate.chunk_id)
        if ahead is not None:
            features = with_chunk_score(ahead, score, first)
        else:
            features = sentence_features(query, analysed, score, first, passage.start)
        counts = _words_per_sentence(analysed.sentence_of, len(passage.sentences))
        for s, span in enumerate(passage.sentences):
            rows.append(features[s])
            meta.append((candidate.chunk_id, passage.article_id, span, counts[s], analysed.sentence_stems[s]))
    if not rows:
        return []
    matrix = np.vstack(rows)
    general = ranker.sentence.predict(matrix)
    model = sentence_model(query, ranker)
    if model is ranker.sentence:
        scores = general
    elif model is ranker.meeting and ranker.meeting_words is not None:
        stems = [m[4] for m in meta]
        scores = sigmoid(model.logit(matrix) + ranker.meeting_words.logits(query.question, query.qtype, stems))
    else:
        scores = model.predict(matrix)
    seen: set[tuple[str, int]] = set()
    scored = []
    for (chunk_id, article_id, span, words, stems_of), row, score, plain in zip(
        meta, rows, scores, general, strict=True
    ):
        if (article_id, span.start) in seen:
            continue  # the overlap sentence of two neighbouring chunks
        seen.add((article_id, span.start))
        scored.append(ScoredSentence(chunk_id, article_id, span, words, row, float(score), stems_of, float(plain)))
    return scored


def deciding_sentence(sentences: list[ScoredSentence]) -> ScoredSentence:
    """The sentence whether to answer (and how sure) is decided on: the general model's best, as the answer
    models were fitted. The meeting model only orders the quotes; its probabilities are scaled otherwise, and
    fed to the answer models they answered more off-corpus meeting questions (development set 98.2% -> 94.7%
    declined)."""
    return max(sentences, key=lambda s: s.general_score)


def sentence_model(query: Query, ranker: Ranker) -> LinearModel:
    """The meeting model for who-attended / what-was-agreed questions, the general one for the rest.

    The general model learned from the QA sets, whose answer sentences repeat the question's words. A
    meeting's attendees and terms are in the sentences after the one that restates the event, so the meeting
    model is fitted on hand-written questions of those two kinds over other IndoSum articles
    (bench/data/whole_articles_train.jsonl) and the silver ones (bench/silver.py).
    """
    if ranker.meeting is not None and about_meeting(query):
        return ranker.meeting
    return ranker.sentence


def chunks_to_quote(retrieval: Retrieval, chunks: int = CHUNKS_TO_READ) -> list[Candidate]:
    """The best `chunks` candidates, then the other chunks the ranker read of those chunks' articles.

    Every chunk of a long article carries its title's words, so for "Siapa saja yang hadir dalam <meeting>?"
    the chunk that names the attendees may rank below other chunks of the same article; its sentences are
    scored too. On 314 silver who-attended / what-was-agreed training questions over IndoSum (bench/silver.py)
    the answer sentence was in quote 1 for 0.682 -> 0.771 of them, in quotes 1-3 for 0.822 -> 0.952; the QA
    sets' passages are one chunk each, and their figures did not move.
    """
    top = retrieval.candidates[:chunks]
    passages = retrieval.passages
    articles = {passages[c.chunk_id].article_id for c in top if c.chunk_id in passages}
    siblings = [
        c
        for c in retrieval.candidates[chunks:]
        if c.chunk_id in passages and passages[c.chunk_id].article_id in articles  # read by the ranker
    ]
    return top + siblings


def answer_row(retrieval: Retrieval, best: ScoredSentence) -> np.ndarray | None:
    """The answer model's features for the best sentence (None when its chunk was not ranked)."""
    query = retrieval.query or analyse_question(retrieval.question, retrieval.idf)
    chunk_row = retrieval.features.get(best.chunk_id)
    if chunk_row is None:
        return None
    scores = [c.score for c in retrieval.candidates]
    analysed = retrieval.analysed.get(best.chunk_id)
    stems = set(analysed.stems) | analysed.title_stems if analysed else set()
    return answer_features(query, best.general_score, best.features, chunk_row, scores, stems)


def answer_probabilities(retrieval: Retrieval, best: ScoredSentence, ranker: Ranker) -> tuple[float, float]:
    """(the sources answer the question, quote 1 holds the answer): the two calibrated probabilities."""
    row = answer_row(retrieval, best)
    if row is None or row[_COVER] <= 0.0:  # quote 1's chunk shares no word with the question: not an answer
        return 0.0, 0.0
    rows = row.reshape(1, -1)
    query = retrieval.query or analyse_question(retrieval.question, retrieval.idf)
    return float(ranker.answer.predict(rows)[0]), float(correct_model(query, ranker).predict(rows)[0])


def correct_model(query: Query, ranker: Ranker) -> Model:
    """What gives the confidence word: for questions the meeting model orders, a model fitted on how often its
    quote 1 holds the answer (cross-fitted on the written meeting questions); the QA sets' one for the rest.
    With the QA sets' model, on the written questions "rendah" quotes held the answer 54% of the time,
    "sedang" 68%, "tinggi" 70% (docs/quality.md)."""
    if ranker.meeting_correct is not None and sentence_model(query, ranker) is ranker.meeting:
        return ranker.meeting_correct
    return ranker.correct


def compose_answer(
    retrieval: Retrieval, db: Database, settings: AnswerSettings, ranker: Ranker | None = None
) -> Answer:
    """The best sentences as quotes; none when the sources seem not to answer (below min_score)."""
    ranker = ranker or load_ranker()
    if not retrieval.terms:
        return Answer(retrieval.question, ())
    sentences = score_sentences(retrieval, db, ranker)
    if not sentences:
        return Answer(retrieval.question, ())
    sentences.sort(key=lambda s: s.score, reverse=True)
    answerable, correct = answer_probabilities(retrieval, deciding_sentence(sentences), ranker)
    if answerable < (ranker.min_score if settings.min_score is None else settings.min_score):
        return Answer(retrieval.question, ())
    if asks_about_unknown_party(retrieval.query):
        return Answer(retrieval.question, ())
    ordered = focus_before_lead(retrieval, details_before_lead(retrieval, best_article_first(retrieval, sentences)))
    chosen = _pick(ordered, settings, db, ranker)
    if chosen and quotes_the_opposite(retrieval.question, chosen[0][0], chosen[0][1]):
        return Answer(retrieval.question, ())
    if chosen and another_meeting(retrieval.query, chosen[0][0]):
        return Answer(retrieval.question, ())
    quotes = tuple(_quote(article, span, score) for article, span, score in chosen)
    return Answer(retrieval.question, quotes, confidence_word(correct, ranker))


def best_article_first(retrieval: Retrieval, sentences: list[ScoredSentence]) -> list[ScoredSentence]:
    """The sentences by score, but quote 1 from the article the chunk ranker put first.

    The sentence model weighs a sentence's own words against its chunk's probability; a sentence of a lower
    article that repeats the question well can outscore the answer in the best one. Quote 1 from the best
    article: on all training questions (every passage indexed) answer in quote 1 TyDi QA 0.587 -> 0.594,
    IDK-MRC 0.626 -> 0.635, FacQA 0.778 -> 0.774; development set 0.68 -> 0.70.
    """
    best = retrieval.candidates[0].chunk_id if retrieval.candidates else None
    article = retrieval.passages[best].article_id if best in retrieval.passages else None
    first = next((i for i, s in enumerate(sentences) if s.article_id == article), 0)
    return [sentences[first], *sentences[:first], *sentences[first + 1 :]] if first else sentences


def details_before_lead(retrieval: Retrieval, sentences: list[ScoredSentence]) -> list[ScoredSentence]:
    """For "who attended / met" and "what was agreed" questions, the lead does not go first when a later
    sentence of its article holds the kind of answer asked for (a new name, an agreement) and would be quoted.

    A news lead restates the event the question names, so it matches the question best, while the attendees
    and the terms come in the sentences after it: the development set's answer in quote 1 0.70 -> 0.84 (7
    questions gained, none lost); the QA sets, which hold no such questions, did not move. The lead follows.
    """
    query = retrieval.query
    if not sentences or query is None or not asks_meeting(query):
        return sentences
    top = sentences[0]
    if top.features[_LEAD] < 1:
        return sentences
    floor = top.score * QUOTE_FLOOR
    for i, sentence in enumerate(sentences[1:], start=1):
        if sentence.score < floor:
            break
        if sentence.article_id == top.article_id and sentence.features[_TYPE] > 0:
            return [sentence, *sentences[:i], *sentences[i + 1 :]]
    return sentences


def focus_before_lead(retrieval: Retrieval, sentences: list[ScoredSentence]) -> list[ScoredSentence]:
    """When quote 1 would be an article's lead, a sentence of the same article scoring near it that has the
    question's words the lead lacks goes first, and the lead follows.

    A lead restates the article's topic, which a question names too; what the question asks about in
    particular ("Apa nama *ibu kota* Argentina?") is often in a later sentence that repeats less of it.
    Sample of 1,500 training questions a set (every passage indexed), answer in the best sentence: FacQA
    +57 -21, TyDi QA +49 -27, IDK-MRC +60 -28 (`FOCUS_RATIO` and `FOCUS_SHARE` from a grid there).
    """
    query = retrieval.query
    if len(sentences) < 2 or query is None or sentences[0].features[_LEAD] < 1:
        return sentences
    top = sentences[0]
    asked = set(query.terms)
    lead = top.stems & asked
    floor = top.score * FOCUS_RATIO
    for i, sentence in enumerate(sentences[1:], start=1):
        if sentence.score < floor:
            break
        if sentence.article_id != top.article_id:
            continue
        found = (sentence.stems & asked) - lead
        if sum(query.idf.get(t, 0.0) for t in found) >= FOCUS_SHARE * query.total_idf:
            return [sentence, *sentences[:i], *sentences[i + 1 :]]
    return sentences


def asks_about_unknown_party(query: Query | None) -> bool:
    """A who-attended / what-was-agreed question naming someone or something no chunk of the index mentions.

    Such a meeting is not in the articles, however well another meeting of the same people matches ("Jokowi"
    and "bilateral" are everywhere, "Ardern" nowhere). The development set's off-corpus questions declined
    66.7% -> 100%, none of its answerable ones lost; the QA sets, with next to no such questions, did not
    move. Hyphenated and slashed words ("DPR/MPR") are left alone: the index may hold their parts.
    """
    if query is None or not asks_meeting(query):
        return False
    for stem in query.name_stems & query.unseen:
        parts = [p for p in re.split(r"[-/]", stem) if p]
        if len(parts) == 1:
            return True
    return False


def quotes_the_opposite(question: str, article: Article, span: Span) -> bool:
    """Quote 1 reports the opposite of what is asked (born, not died; the first, not the last) and its article
    never says what was asked (opposites.reports_opposite); or the question asks what is *not* something and
    the article never says "bukan ..." (opposites.asks_what_is_not).

    All training questions, every passage indexed: IDK-MRC's unanswerable questions declined 25.6% -> 29.4%
    (113 of 3,009 more), answerable ones answered 97.1% -> 96.7% (13 of 3,543 fewer, 1 of them answered in
    quote 1); TyDi QA 14 of 3,777 fewer (1 answered in quote 1); FacQA 1 of 1,793 (not in quote 1); the
    development set: none. "bukan" questions: 58 more IDK-MRC unanswerable declined, no answerable one in
    any set.
    """
    if asks_what_is_not(question, article.text) is not None:
        return True
    return reports_opposite(question, article.text[span.start : span.end], article.text) is not None


def another_meeting(query: Query | None, article: Article) -> bool:
    """A who-attended / what-was-agreed question naming someone or somewhere quote 1's article never writes:
    it reports another meeting of the same people (signals.names_missing_from).

    The index may know every name ("Wiranto", "Natuna"), just never in one article. Development set: of the
    meeting questions answered, all 10 off-corpus ones (about events near ones the articles report) and 1 of
    48 answerable ones name such a word (the answerable one: "JIExpo", which its article never writes).
    Words for roles, bodies' prefixes and places the word lists know are not names here.
    """
    if query is None or not asks_meeting(query):
        return False
    return bool(names_missing_from(query.question, article.title, article.text))


def confidence_word(probability: float, ranker: Ranker | None = None) -> str:
    """tinggi / sedang / rendah for the calibrated probability that quote 1 holds the answer."""
    cuts = (ranker or load_ranker()).confidence
    if probability >= cuts["tinggi"]:
        return "tinggi"
    return "sedang" if probability >= cuts["sedang"] else "rendah"


def _pick(
    sentences: list[ScoredSentence],
    settings: AnswerSettings,
    db: Database,
    ranker: Ranker,
) -> list[tuple[Article, Span, float]]:
    """Best sentences first, no overlaps; quote 1 widened over neighbours that also look like the answer,
    the later ones only as far as LATER_QUOTE_SENTENCES and LATER_QUOTE_WORDS (and a sentence too short to
    stand alone)."""
    articles: dict[str, Article | None] = {}
    neighbours = _neighbours(sentences)
    taken: list[tuple[Article, Span, float]] = []
    floor = sentences[0].score * QUOTE_FLOOR
    for sentence in sentences:
        if len(taken) >= settings.max_quotes or sentence.score < floor:
            break
        if sentence.article_id not in articles:
            articles[sentence.article_id] = db.article(sentence.article_id)
        article = articles[sentence.article_id]
        if article is None:
            continue
        if taken:
            span = _widen(sentence, neighbours, min(settings.max_sentences, LATER_QUOTE_SENTENCES),
                          ranker, min(ranker.quote_words, LATER_QUOTE_WORDS))
        else:
            span = _widen(sentence, neighbours, settings.max_sentences, ranker, ranker.quote_words)
        if any(a.id == article.id and span.start < t.end and t.start < span.end for a, t, _ in taken):
            continue
        taken.append((article, span, sentence.score))
    return taken


def _neighbours(
    sentences: list[ScoredSentence],
) -> dict[tuple[str, int], tuple[ScoredSentence | None, ScoredSentence | None]]:
    """(previous, next) sentence of each scored sentence, when it was scored too."""
    by_article: dict[str, list[ScoredSentence]] = {}
    for sentence in sentences:
        by_article.setdefault(sentence.article_id, []).append(sentence)
    out: dict[tuple[str, int], tuple[ScoredSentence | None, ScoredSentence | None]] = {}
    for group in by_article.values():
        group.sort(key=lambda s: s.span.start)
        for i, sentence in enumerate(group):
            before = group[i - 1] if i > 0 and group[i - 1].span.end <= sentence.span.start else None
            after = group[i + 1] if i + 1 < len(group) else None
            after = after if after is not None and after.span.start >= sentence.span.end else None
            out[(sentence.article_id, sentence.span.start)] = (before, after)
    return out


def _widen(
    sentence: ScoredSentence,
    neighbours: dict[tuple[str, int], tuple[ScoredSentence | None, ScoredSentence | None]],
    limit: int,
    ranker: Ranker,
    max_words: int,
) -> Span:
    """Add a neighbouring sentence while it scores near the best one and the quote stays within `max_words`;
    a sentence too short to stand alone (a heading, "Kata dia:") always takes the next one."""
    first = last = sentence
    words, count = sentence.words, 1
    while count < limit or (words < SHORT_SENTENCE and count < MAX_SENTENCES):
        before = neighbours[(first.article_id, first.span.start)][0]
        after = neighbours[(last.article_id, last.span.start)][1]
        options = [s for s in (before, after) if s is not None and words + s.words <= max_words]
        if words < SHORT_SENTENCE and after is not None:
            options = [after]
        if not options:
            break
        best = max(options, key=lambda s: s.score)
        if words >= SHORT_SENTENCE and best.score < ranker.widen_ratio * sentence.score:
            break
        if best is before:
            first = best
        else:
            last = best
        words, count = words + best.words, count + 1
    return Span(first.span.start, last.span.end)


def _words_per_sentence(sentence_of: list[int], count: int) -> list[int]:
    counts = [0] * max(count, 1)
    for s in sentence_of:
        counts[s] += 1
    return counts


def _quote(article: Article, span: Span, score: float) -> Quote:
    return Quote(
        article_id=article.id,
        title=article.title,
        date=article.date,
        source=article.source,
        url=article.url,
        text=article.text[span.start : span.end],
        start=span.start,
        end=span.end,
        score=score if math.isfinite(score) else 0.0,
    )


def with_highlights(answer: Answer) -> Answer:
    """For siapa questions, mark the names in each quote (offsets into the article text)."""
    if not answer.quotes or question_type(answer.question) != "siapa":
        return answer
    quotes = []
    for quote in answer.quotes:
        found = [without_opener(quote.text, s) for s in new_names(answer.question, quote.text)]
        spans = tuple(Span(quote.start + s.start, quote.start + s.end) for s in found if s is not None)
        quotes.append(Quote(**{**quote.__dict__, "highlights": spans}))
    return Answer(answer.question, tuple(quotes), answer.confidence)
