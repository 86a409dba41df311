"""Answers as text for people: the terminal form (the bot has its own HTML form)."""

from __future__ import annotations

import textwrap

from tanya.types import Answer, Quote

NO_ANSWER = (
    "Maaf, artikel yang ada tidak memuat jawaban untuk pertanyaan ini. "
    "Coba ajukan dengan kata lain, atau sebutkan nama, lembaga atau tempatnya."
)


def source_line(quote: Quote) -> str:
    """Title, date, outlet and link, leaving out what the article does not have."""
    parts = [quote.title or quote.article_id, quote.date, quote.source, quote.url]
    return " · ".join(p for p in parts if p)


def answer_to_text(answer: Answer, width: int = 100) -> str:
    """The quotes in order, each followed by its source line."""
    if not answer.answered:
        return NO_ANSWER
    lines = []
    for number, quote in enumerate(answer.quotes, 1):
        body = textwrap.fill(
            " ".join(quote.text.split()), width=width, initial_indent=f"{number}. “", subsequent_indent="   "
        )
        lines.append(body + "”")
        lines.append(f"   — {source_line(quote)}")
        lines.append("")
    lines.append(f"Keyakinan: {answer.confidence}")
    return "\n".join(lines)
