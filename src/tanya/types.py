"""The vocabulary every layer shares: articles, chunks, quotes and answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def content_hash(title: str, date: str, source: str, url: str, text: str) -> str:
    """Hash of everything about an article that changes what tanya shows or embeds."""
    digest = hashlib.sha256()
    for part in (title, date, source, url, text):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()


@dataclass(frozen=True)
class Article:
    """One news article; `text` is the exact text quotes are cut from."""

    id: str
    text: str
    title: str = ""
    date: str = ""
    source: str = ""
    url: str = ""
    origin: str = ""  # where it came from, e.g. "news/a.txt" or "feed.jsonl:12"; for messages only

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.date, self.source, self.url, self.text)


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) into an article's text."""

    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """Consecutive whole sentences of one article, the unit that is embedded and searched."""

    article_id: str
    ordinal: int  # position of the chunk within its article, from 0
    start: int
    end: int
    text: str  # == article.text[start:end]
    sentences: tuple[Span, ...]  # offsets into the article text, in order


@dataclass(frozen=True)
class Quote:
    """An exact passage of an article that answers (part of) a question."""

    article_id: str
    title: str
    date: str
    source: str
    url: str
    text: str  # == article.text[start:end]
    start: int
    end: int
    score: float
    highlights: tuple[Span, ...] = field(default=())  # offsets into the article text

    def to_dict(self) -> dict[str, object]:
        return {
            "article_id": self.article_id,
            "title": self.title,
            "date": self.date,
            "source": self.source,
            "url": self.url,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
            "highlights": [[h.start, h.end] for h in self.highlights],
        }


@dataclass(frozen=True)
class Answer:
    """What tanya says to a question: quotes best first, or an honest no-answer."""

    question: str
    quotes: tuple[Quote, ...]
    confidence: str = ""  # tinggi / sedang / rendah; empty when not answered

    @property
    def answered(self) -> bool:
        return bool(self.quotes)

    def to_dict(self) -> dict[str, object]:
        return {
            "question": self.question,
            "answered": self.answered,
            "confidence": self.confidence,
            "quotes": [q.to_dict() for q in self.quotes],
        }
