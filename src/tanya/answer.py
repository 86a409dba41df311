"""Ranked chunks -> an Answer: the best 1-3 consecutive sentences of each, quoted exactly."""

from __future__ import annotations

from dataclasses import dataclass

from tanya.analysis import question_type, tokenize
from tanya.config import AnswerSettings
from tanya.retrieval import Candidate, Retrieval
from tanya.signals import answer_type_match, new_names
from tanya.store.database import Database, StoredChunk
from tanya.types import Answer, Article, Quote, Span

CHUNKS_TO_READ = 8  # quotes come from the best few chunks; deeper ones rarely win
EXTRA_SENTENCE_COST = 0.04  # a longer quote must earn its length with more of the question
TYPE_MATCH_BONUS = 0.12
NEAR_DUPLICATE = 0.7  # word-set overlap above which a quote repeats an earlier one


@dataclass(frozen=True)
class _Window:
    article: Article
    span: Span
    score: float
    words: frozenset[str]


def compose_answer(retrieval: Retrieval, db: Database, settings: AnswerSettings) -> Answer:
    """Pick the best quotes from the top chunks; none when nothing clears settings.min_score."""
    qtype = question_type(retrieval.question)
    total_idf = sum(retrieval.idf.values())
    top = retrieval.candidates[:CHUNKS_TO_READ]
    stored = db.chunks(c.chunk_id for c in top)
    articles: dict[str, Article] = {}
    windows: list[_Window] = []
    if total_idf > 0:
        for candidate in top:
            chunk = stored.get(candidate.chunk_id)
            if chunk is None:
                continue
            if chunk.article_id not in articles:
                found = db.article(chunk.article_id)
                if found is None:
                    continue
                articles[chunk.article_id] = found
            article = articles[chunk.article_id]
            windows += _score_windows(retrieval, qtype, total_idf, candidate, chunk, article, settings)
    quotes = _pick(windows, settings)
    if not quotes:
        return Answer(retrieval.question, ())
    return Answer(retrieval.question, tuple(quotes), confidence_word(quotes[0].score))


def confidence_word(score: float) -> str:
    """tinggi / sedang / rendah for a quote score."""
    return "tinggi" if score >= 0.65 else "sedang" if score >= 0.45 else "rendah"


def _score_windows(
    retrieval: Retrieval,
    qtype: str,
    total_idf: float,
    candidate: Candidate,
    chunk: StoredChunk,
    article: Article,
    settings: AnswerSettings,
) -> list[_Window]:
    sentence_terms = [frozenset(t.stem for t in tokenize(article.text[s.start : s.end])) for s in chunk.sentences]
    title_terms = frozenset(t.stem for t in tokenize(article.title))
    chunk_terms = frozenset().union(*sentence_terms, title_terms) if sentence_terms else title_terms
    chunk_cover = _coverage(retrieval, chunk_terms, total_idf)
    matches = [
        answer_type_match(qtype, retrieval.question, article.text[s.start : s.end]) for s in chunk.sentences
    ]
    windows = []
    for i in range(len(chunk.sentences)):
        for j in range(i, min(i + settings.max_sentences, len(chunk.sentences))):
            words = frozenset().union(*sentence_terms[i : j + 1])
            cover = _coverage(retrieval, words | title_terms, total_idf) * 0.3 + _coverage(
                retrieval, words, total_idf
            ) * 0.7
            score = (
                0.55 * cover
                + 0.2 * chunk_cover
                + 0.25 * max(candidate.dense, 0.0)
                + (TYPE_MATCH_BONUS if any(matches[i : j + 1]) else 0.0)
                - EXTRA_SENTENCE_COST * (j - i)
            )
            span = Span(chunk.sentences[i].start, chunk.sentences[j].end)
            windows.append(_Window(article, span, min(score, 1.0), words))
    return windows


def _coverage(retrieval: Retrieval, words: frozenset[str], total_idf: float) -> float:
    """Share of the question's (idf-weighted) content words that `words` contains."""
    return sum(idf for term, idf in retrieval.idf.items() if term in words) / total_idf


def _pick(windows: list[_Window], settings: AnswerSettings) -> list[Quote]:
    """Best windows first, skipping ones that overlap or nearly repeat a quote already taken."""
    windows.sort(key=lambda w: w.score, reverse=True)
    taken: list[_Window] = []
    for window in windows:
        if window.score < settings.min_score or len(taken) >= settings.max_quotes:
            break
        if any(_overlaps(window, t) or _near_duplicate(window, t) for t in taken):
            continue
        taken.append(window)
    return [_quote(w) for w in taken]


def _overlaps(a: _Window, b: _Window) -> bool:
    return a.article.id == b.article.id and a.span.start < b.span.end and b.span.start < a.span.end


def _near_duplicate(a: _Window, b: _Window) -> bool:
    union = len(a.words | b.words)
    return union > 0 and len(a.words & b.words) / union > NEAR_DUPLICATE


def _quote(window: _Window) -> Quote:
    article, span = window.article, window.span
    text = article.text[span.start : span.end]
    return Quote(
        article_id=article.id,
        title=article.title,
        date=article.date,
        source=article.source,
        url=article.url,
        text=text,
        start=span.start,
        end=span.end,
        score=window.score,
    )


def with_highlights(answer: Answer) -> Answer:
    """For siapa questions, mark the names in each quote (offsets into the article text)."""
    if question_type(answer.question) != "siapa":
        return answer
    quotes = []
    for quote in answer.quotes:
        spans = tuple(
            Span(quote.start + s.start, quote.start + s.end) for s in new_names(answer.question, quote.text)
        )
        quotes.append(Quote(**{**quote.__dict__, "highlights": spans}))
    return Answer(answer.question, tuple(quotes), answer.confidence)
