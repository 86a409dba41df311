"""Answers as Telegram HTML: quotes in <blockquote>, names in <b>, escaped text, split under 4,096."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from tanya.indexing import UpdateSummary
from tanya.render import NO_ANSWER
from tanya.types import Answer, Article, Quote, Span

MESSAGE_LIMIT = 4096  # Telegram's limit, counted here on the HTML itself so tags can never push past it
MAX_PIECE_CHARS = 500  # longest unbreakable fragment; escaped it still fits a message many times over
PARAGRAPH_CONTEXT = 1500  # characters kept either side of a quote when its paragraph is very long
_ELLIPSIS = "…"

RATE_LIMITED = "Pelan-pelan ya 🙂 Batasnya {limit} pertanyaan per menit. Coba lagi sebentar lagi."
NOT_ALLOWED = "Maaf, bot ini hanya untuk pengguna yang sudah diizinkan."
EXPIRED = "Hasil ini sudah tidak tersedia. Silakan ajukan pertanyaannya lagi."
ADMIN_ONLY = "Maaf, perintah ini hanya untuk admin."
UPLOAD_ADMIN_ONLY = "Maaf, hanya admin yang dapat menambahkan artikel."
SOMETHING_WENT_WRONG = "Maaf, terjadi kesalahan saat memproses pesanmu. Coba lagi sebentar lagi."
UNKNOWN_COMMAND = "Perintah itu tidak saya kenal. Ketik /help untuk melihat yang bisa saya lakukan."
ASK_HOW = "Tulis pertanyaannya, misalnya: /tanya Siapa yang menandatangani nota kesepahaman?"
REINDEX_STARTED = "Memperbarui indeks di latar belakang… Ringkasannya menyusul."
UNSUPPORTED_UPLOAD = "Jenis berkas ini tidak bisa dibaca. Kirim .txt, .md, .html, .json atau .jsonl."
UPLOAD_TOO_BIG = "Berkas terlalu besar: batasnya {megabytes:.1f} MB."
ARTICLE_CHANGED = "Artikel ini sudah berubah sejak jawaban diberikan. Silakan ajukan pertanyaannya lagi."

_EXAMPLE_TEMPLATES = (
    "Siapa saja yang terlibat dalam berita “{}”?",
    "Apa isi berita “{}”?",
    "Kapan peristiwa dalam berita “{}” terjadi?",
)
_FALLBACK_EXAMPLES = (
    "Siapa yang menandatangani nota kesepahaman?",
    "Apa yang disepakati dalam pertemuan itu?",
    "Kapan audiensi itu berlangsung?",
)


def esc(text: str) -> str:
    """Text made safe for Telegram HTML."""
    return html.escape(text, quote=False)


def tg_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


# --- answers -----------------------------------------------------------------------------------


def no_answer_html() -> str:
    return esc(NO_ANSWER)


def page_html(answer: Answer, first: int, end: int, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Quotes [first, end) of `answer` as messages of at most `limit`, split only between quotes."""
    blocks: list[str] = []
    for index in range(first, end):
        blocks += quote_blocks(answer.quotes[index], index + 1, limit)
    footer = f"<i>Keyakinan: {esc(answer.confidence)}"
    if first > 0 or end < len(answer.quotes):
        footer += f" · kutipan {first + 1}–{end} dari {len(answer.quotes)}"
    footer += "</i>"
    return pack([*blocks, footer], limit)


def quote_blocks(quote: Quote, number: int, limit: int = MESSAGE_LIMIT) -> list[str]:
    """One block: the quote in <blockquote> and its source line; a quote too long for one message
    becomes several blocks cut between words, the source line under the last."""
    source = source_html(quote, number)
    pieces = _pieces(quote.text, quote.start, quote.highlights)
    room = limit - tg_len(f"<blockquote></blockquote>\n{source}")
    blocks, current = [], ""
    for piece in pieces:
        if current and tg_len(current + piece) > room:
            blocks.append(current)
            current = ""
        current += piece
    blocks.append(current)
    rendered = [f"<blockquote>{b.strip()}</blockquote>" for b in blocks]
    rendered[-1] += f"\n{source}"
    return rendered


def source_html(quote: Quote, number: int) -> str:
    """[n] title (linked when there is a web link) · date · outlet."""
    title = esc(quote.title or quote.article_id)
    if _is_web_link(quote.url):
        title = f'<a href="{html.escape(quote.url, quote=True)}">{title}</a>'
    parts = [f"<b>[{number}]</b> {title}", esc(quote.date), esc(quote.source)]
    if quote.url and not _is_web_link(quote.url):
        parts.append(esc(quote.url))
    return " · ".join(p for p in parts if p)


def pack(blocks: Sequence[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Blocks joined by blank lines into as few messages of at most `limit` as their order allows."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        candidate = f"{current}\n\n{block}" if current else block
        if current and tg_len(candidate) > limit:
            messages.append(current)
            candidate = block
        current = candidate
    if current:
        messages.append(current)
    return messages


def _pieces(text: str, offset: int, highlights: Iterable[Span]) -> list[str]:
    """The quote as small HTML fragments, each balanced: words, and highlighted names in <b>."""
    spans = _merged((max(0, h.start - offset), min(len(text), h.end - offset)) for h in highlights)
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        pieces += [esc(word) for word in _words(text[position:start])]
        pieces += [f"<b>{esc(part)}</b>" for part in _cut(text[start:end])]
        position = end
    pieces += [esc(word) for word in _words(text[position:])]
    return pieces


def _merged(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        elif start < end:
            merged.append((start, end))
    return merged


def _words(text: str) -> list[str]:
    """`text` cut after each run of whitespace, so the pieces join back to exactly `text`."""
    words, start = [], 0
    for i in range(1, len(text)):
        if text[i - 1].isspace() and not text[i].isspace():
            words.append(text[start:i])
            start = i
    if start < len(text):
        words.append(text[start:])
    return [part for word in words for part in _cut(word)]


def _cut(text: str, size: int = MAX_PIECE_CHARS) -> list[str]:
    """Pieces of at most `size` characters, so even text without spaces can be split."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def _is_web_link(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# --- the paragraph around a quote --------------------------------------------------------------


def paragraph_span(text: str, start: int, end: int, context: int = PARAGRAPH_CONTEXT) -> Span:
    """The lines holding [start, end), trimmed to `context` characters either side at a space."""
    begin = text.rfind("\n", 0, start) + 1
    stop = text.find("\n", end)
    stop = len(text) if stop < 0 else stop
    if start - begin > context:
        cut = text.find(" ", start - context, start)
        begin = cut + 1 if cut >= 0 else start - context
    if stop - end > context:
        cut = text.rfind(" ", end, end + context)
        stop = cut if cut >= 0 else end + context
    return Span(begin, stop)


def paragraph_html(article: Article, quote: Quote, number: int, limit: int = MESSAGE_LIMIT) -> str:
    """The paragraph around the quote, the quoted part in <b>, with the source line."""
    context = PARAGRAPH_CONTEXT
    while True:
        span = paragraph_span(article.text, quote.start, quote.end, context)
        text = article.text
        cut_before = span.start > 0 and text[span.start - 1] != "\n"
        cut_after = span.end < len(text) and text[span.end] != "\n"
        before = (_ELLIPSIS if cut_before else "") + text[span.start : quote.start]
        after = text[quote.end : span.end] + (_ELLIPSIS if cut_after else "")
        body = f"{esc(before)}<b>{esc(quote.text)}</b>{esc(after)}".strip()
        message = f"<b>Paragraf [{number}]</b>\n<blockquote>{body}</blockquote>\n{source_html(quote, number)}"
        if tg_len(message) <= limit:
            return message
        if context == 0:  # the quote alone is too long: show its first part
            return quote_blocks(quote, number, limit)[0]
        context //= 2


# --- commands ----------------------------------------------------------------------------------


def example_questions(titles: Sequence[str], count: int = 3) -> list[str]:
    """Example questions built from article titles (generic ones when the index has none)."""
    pairs = zip(_EXAMPLE_TEMPLATES, titles, strict=False)
    examples = [template.format(_shorten(title)) for template, title in pairs]
    return (examples + list(_FALLBACK_EXAMPLES[len(examples) :]))[:count]


def start_html(username: str, examples: Sequence[str]) -> str:
    lines = [
        "Halo! Saya <b>tanya</b> 👋",
        "Ajukan pertanyaan tentang berita yang saya simpan. Saya menjawab dengan <b>kutipan persis</b> "
        "dari artikelnya, lengkap dengan sumbernya.",
        "",
        "Contoh pertanyaan:",
        *[f"• {esc(q)}" for q in examples],
        "",
        f"Di grup, sebut @{esc(username)} atau pakai /tanya &lt;pertanyaan&gt;. "
        "Ketik /help untuk bantuan, /sumber untuk melihat isi indeks.",
    ]
    return "\n".join(lines)


def help_html(username: str) -> str:
    return "\n".join([
        "<b>Cara bertanya</b>",
        "• Di chat pribadi: kirim saja pertanyaannya.",
        f"• Di grup: sebut @{esc(username)}, balas pesan saya, atau pakai /tanya &lt;pertanyaan&gt;.",
        "• Tombol <i>Lebih banyak</i> menampilkan kutipan berikutnya; tombol <i>Paragraf</i> menampilkan "
        "paragraf di sekitar kutipan.",
        "",
        "<b>Perintah</b>",
        "/tanya &lt;pertanyaan&gt; — ajukan pertanyaan",
        "/sumber — jumlah artikel, berita terbaru dan sumbernya",
        "/start — salam dan contoh pertanyaan",
        "/help — bantuan ini",
        "/reindex — perbarui indeks (admin)",
        "",
        "Admin dapat mengirim berkas .txt, .md, .html, .json atau .jsonl untuk menambahkan artikel.",
    ])


def sources_html(stats: dict[str, object], max_outlets: int = 20) -> str:
    outlets = [str(o) for o in stats.get("outlets", []) or []]  # type: ignore[union-attr]
    shown = ", ".join(esc(o) for o in outlets[:max_outlets]) or "—"
    if len(outlets) > max_outlets:
        shown += f" dan {len(outlets) - max_outlets} lainnya"
    return "\n".join([
        "<b>Isi indeks</b>",
        f"Artikel: {stats.get('articles', 0)}",
        f"Berita terbaru: {esc(str(stats.get('newest_date') or '—'))}",
        f"Sumber: {shown}",
    ])


def summary_html(
    summary: UpdateSummary, stored_as: str = "", max_warnings: int = 5, already_stored: bool = False
) -> str:
    lines = []
    if stored_as and already_stored:
        lines.append(f"Berkas yang sama sudah tersimpan sebagai <code>{esc(stored_as)}</code>; tidak ditambahkan lagi.")
    elif stored_as:
        lines.append(f"Disimpan sebagai <code>{esc(stored_as)}</code>.")
    lines.append(
        f"<b>Indeks diperbarui</b>: {summary.added} baru, {summary.changed} berubah, "
        f"{summary.removed} dihapus, {summary.unchanged} tetap, {summary.skipped} dilewati; "
        f"{summary.chunks_embedded} potongan di-embed dalam {summary.seconds:.1f} dtk."
    )
    for warning in summary.warnings[:max_warnings]:
        lines.append(f"⚠️ {esc(warning[:300])}")
    if len(summary.warnings) > max_warnings:
        lines.append(f"… dan {len(summary.warnings) - max_warnings} peringatan lain.")
    return "\n".join(lines)


def _shorten(title: str, limit: int = 90) -> str:
    title = " ".join(title.split())
    if len(title) <= limit:
        return title
    cut = title.rfind(" ", 0, limit)
    return title[: cut if cut > 0 else limit] + _ELLIPSIS
