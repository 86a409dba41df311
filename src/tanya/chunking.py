"""Indonesian sentence splitting and packing an article's sentences into token-bounded chunks."""

from __future__ import annotations

import re
from collections.abc import Callable

from tanya.types import Article, Chunk, Span

__all__ = ["chunk_article", "split_sentences"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Titles and abbreviations that always lead into a name, number or place: their period never ends a
# sentence. Compared lowercased.
_LEADING = _words(
    """
    dr drg dra drs ir hj prof kh ny tn alm almh pdt ust mgr moh muh mr mrs bpk sdr sdri yth
    brigjen mayjen letjen jend irjen komjen kombes kompol akbp akp letkol kapt laksma laksda
    marsma marsda plt plh pj pjs sp no nmr rp pt jl jln kab kec kel prov tgl hlm telp tlp vs ca
    """
)
# The same, but only in this spelling, because the lowercase form is also a common word
# (kol = cabbage, ms = milliseconds).
_LEADING_EXACT = frozenset(
    {"H", "Kol", "Pol", "St", "Ms", "Inf", "Kav", "Ds", "Dsn", "Kp", "Gg", "Gd", "Lt", "Komp"}
)
# Abbreviations that also close sentences (end of a list, company suffixes); initials and dotted
# degrees (S.H., M.Si., Ph.D.) behave the same way. Compared lowercased.
_TRAILING = frozenset({"dll", "dsb", "dst", "dkk", "etc", "tbk", "jr", "sr", "inc", "ltd", "corp", "co"})
# After a trailing abbreviation a new sentence is only assumed when one of these words follows; they
# open Indonesian sentences all the time and are never the next part of a name.
_STARTERS = _words(
    """
    ada adapun agar akan akhirnya akibatnya alhasil anda apa apabila apakah atas bagaimana bagi bahkan
    bahwa baca begitu belum berarti berdasarkan berikut bersama biasanya bila bukan dalam dan dari
    demikian dengan di dia diketahui hal hanya hingga ia ini itu jadi jika juga justru kalau kami kamu
    karena ke kedua kemudian kendati ketika kini kita lalu maka masing menurut mereka meski meskipun
    misalnya mungkin namun oleh pada padahal para pasalnya pertama pihak saat saya sebab sebagai
    sebanyak sebelum sebelumnya sedangkan sehingga sejak sejumlah sekarang sekitar selain selama
    selanjutnya semua sementara sempat seperti serta setelah setiap siapa sudah tak tapi telah terkait
    termasuk tetapi tidak untuk walau walaupun yakni yaitu yang
    """
)
# Words that name a letter rather than a person ("vitamin C.", "Grup A.", "hari H."), so a single
# capital after them is not an initial.
_LETTER_LABELS = _words(
    """
    vitamin hepatitis grup group serie seri series model hari kelas tipe type blok pasal golongan babak
    generasi huruf kategori pool level tingkat zona gate pintu ruang kode plan opsi versi kelompok divisi
    sektor terminal gedung tower menara paket jalur dunia formula
    """
)

_LINE = re.compile(r"[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")
_TERMINAL = re.compile(r"[.!?\u2026]+")
_CLOSERS = frozenset("\"'\u201d\u2019)]\u00bb")
_OPENERS = frozenset("\"'\u201c\u2018([\u00ab")
_QUOTE_OPENERS = frozenset("\"'\u201c\u2018\u00ab")
# A quote stuck to both the punctuation and a capital ("kata dia."Kami ...) opens the next sentence.
_GLUED_QUOTES = frozenset('"\u201c\u201d')
_ALNUM = re.compile(r"[^\W_]")
_TERMINAL_CHAR = re.compile(r"[.!?]")
_LIST_MARKER = re.compile(r"[(\[]?(?:\d{1,3}|[A-Za-z]|[IVXivx]{2,5})\.")
_CLAUSE_CUT = re.compile(r"(?<=[;,:\u2014\u2013])\s+")
_WORD_CUT = re.compile(r"\s+")


def split_sentences(text: str) -> list[Span]:
    """Split Indonesian text into stripped, ordered sentence spans; every line break ends a sentence."""
    spans: list[Span] = []
    for line in _LINE.finditer(text):
        _split_line(text, line.start(), line.end(), spans)
    return spans


def _split_line(text: str, lo: int, hi: int, out: list[Span]) -> None:
    start = _skip_space(text, lo, hi)
    if start == hi:
        return
    for m in _TERMINAL.finditer(text, start, hi):
        if m.start() < start:
            continue
        boundary = _boundary_after(text, m, start, hi)
        if boundary is not None:
            end, nxt = boundary
            out.append(Span(start, end))
            start = nxt
    end = hi
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append(Span(start, end))


def _boundary_after(text: str, m: re.Match[str], start: int, hi: int) -> tuple[int, int] | None:
    """Where the sentence ends and the next begins if the punctuation run `m` closes a sentence."""
    punct_end = m.end()
    close_end = punct_end
    while close_end < hi and text[close_end] in _CLOSERS:
        close_end += 1
    nxt = _skip_space(text, close_end, hi)
    if nxt == hi:
        return None  # the line ends here anyway
    if nxt == close_end:
        # No space: only `kata dia."Kami ...` (a quote glued between punctuation and a capital) counts.
        if not (text[punct_end] in _GLUED_QUOTES and punct_end + 1 < hi and text[punct_end + 1].isupper()):
            return None
        close_end = nxt = punct_end
    elif not _opens_sentence(text, nxt, hi):
        return None
    if m.group() == "." and close_end == punct_end and not _period_can_end(text, m.start(), start, nxt, hi):
        return None
    if _inside_short_parens(text, m, start, close_end, nxt, hi):
        return None
    if close_end == punct_end and m.group() == "." and _LIST_MARKER.fullmatch(text, start, punct_end):
        return None  # "1. Pertama ..." and "a. Calon ..." are list items, not one-word sentences
    if not _ALNUM.search(text, nxt, hi):
        return None  # a stray closing quote or dash after the full stop still belongs to this sentence
    return close_end, nxt


def _opens_sentence(text: str, i: int, hi: int) -> bool:
    ch = text[i]
    if ch.isupper() or ch.isdigit() or ch in _OPENERS:
        return True
    # Brand names like iPhone and eBay open sentences in tech news despite the lowercase letter.
    return ch.islower() and i + 1 < hi and text[i + 1].isupper()


def _period_can_end(text: str, dot: int, start: int, nxt: int, hi: int) -> bool:
    """Whether a single period after the word before `dot` can end a sentence (abbreviation rules)."""
    tok_start = dot
    while tok_start > start and (text[tok_start - 1].isalnum() or text[tok_start - 1] == "."):
        tok_start -= 1
    token = text[tok_start:dot]
    if not token or (tok_start > start and text[tok_start - 1] in "-\u2013/@&"):
        return True  # "1990-an.", "TBS-R." and punctuation are not abbreviations
    lower = token.lower()
    initial = len(token) == 1 and token.isupper()
    if len(token) == 1:
        before = _token_before(text, tok_start, start)
        if initial and (before.lower() in _LETTER_LABELS or before[-1:].isdigit()):
            return True  # "vitamin C.", "Grup A.", "1,6 L.": a letter or unit, not an initial
        if not initial and (not before or before[-1] in ":;,"):
            return False  # "dilarang: a. Menjadi ...; b. Menyuruh ..." lists items inline
    if lower in _LEADING or token in _LEADING_EXACT:
        return False
    if not (initial or lower in _TRAILING or _is_dotted_abbreviation(token)):
        return True
    if text[nxt] in _QUOTE_OPENERS:
        return True
    return _word_at(text, nxt, hi).lower() in _STARTERS


def _is_dotted_abbreviation(token: str) -> bool:
    """S.H, M.Si, Ph.D, a.n, U.S: short letter groups joined by periods (not domains like detik.com)."""
    parts = token.split(".")
    if len(parts) < 2 or len(parts[0]) > 2:
        return False
    return all(part.isalpha() and len(part) <= 4 for part in parts)


def _inside_short_parens(text: str, m: re.Match[str], start: int, close_end: int, nxt: int, hi: int) -> bool:
    """Periods in "(Plt.) Direktur" or "(Uu. C003)" belong to a bracketed aside, not a sentence end."""
    open_at = text.rfind("(", start, m.start())
    if open_at < 0 or text.find(")", open_at, m.start()) >= 0:
        return False
    if ")" in text[m.end() : close_end]:
        return not any(ch.isspace() for ch in text[open_at : m.start()])
    close_at = text.find(")", nxt, min(hi, nxt + 40))
    return close_at >= 0 and not _TERMINAL_CHAR.search(text, nxt, close_at)


def _word_at(text: str, i: int, hi: int) -> str:
    j = i
    while j < hi and text[j].isalpha():
        j += 1
    return text[i:j]


def _token_before(text: str, i: int, lo: int) -> str:
    """The whitespace-delimited token before position `i`, without brackets or quotes around it."""
    j = i
    while j > lo and text[j - 1].isspace():
        j -= 1
    k = j
    while k > lo and not text[k - 1].isspace():
        k -= 1
    return text[k:j].strip("\"'\u201c\u201d\u2018\u2019()[]")


def _skip_space(text: str, i: int, hi: int) -> int:
    while i < hi and text[i].isspace():
        i += 1
    return i


def chunk_article(
    article: Article,
    count_tokens: Callable[[str], int],
    max_tokens: int,
    overlap_sentences: int = 1,
) -> list[Chunk]:
    """Pack an article's sentences into chunks of at most max_tokens tokens; neighbours share sentences."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if overlap_sentences < 0:
        raise ValueError(f"overlap_sentences must be at least 0, got {overlap_sentences}")
    text = article.text
    sentences = split_sentences(text)
    if not sentences:
        return []
    # Callers' counters usually add a fixed cost per call (prefix, special tokens); sentence counts
    # without it add up to a close estimate of a joined chunk.
    overhead = max(0, count_tokens(""))
    units: list[Span] = []
    counts: list[int] = []  # tokens beyond the fixed overhead
    for sentence in sentences:
        n = count_tokens(text[sentence.start : sentence.end])
        if n <= max_tokens:
            units.append(sentence)
            counts.append(max(0, n - overhead))
        else:
            for piece, piece_n in _split_long(text, sentence, n, count_tokens, max_tokens):
                units.append(piece)
                counts.append(max(0, piece_n - overhead))

    chunks: list[Chunk] = []
    first, covered = 0, 0  # next chunk starts at units[first]; units[:covered] are in some chunk already
    while covered < len(units):
        # Overlap is a nicety: drop leading overlap sentences until at least one new one fits.
        estimate = overhead + sum(counts[first : covered + 1])
        while first < covered and estimate > max_tokens:
            estimate -= counts[first]
            first += 1
        last = covered + 1  # exclusive
        while last < len(units) and estimate + counts[last] <= max_tokens:
            estimate += counts[last]
            last += 1
        # The sum of sentence counts only estimates the joined text; verify it, shrinking until it fits.
        while last - first > 1 and count_tokens(text[units[first].start : units[last - 1].end]) > max_tokens:
            if last - 1 > covered:
                last -= 1
            else:
                first += 1
        start, end = units[first].start, units[last - 1].end
        chunks.append(Chunk(article.id, len(chunks), start, end, text[start:end], tuple(units[first:last])))
        covered = last
        first = max(last - overlap_sentences, first + 1)
    return chunks


def _split_long(
    text: str, sentence: Span, n: int, count_tokens: Callable[[str], int], max_tokens: int
) -> list[tuple[Span, int]]:
    """Cut an over-long sentence into stripped pieces that fit: at clauses, else words, else characters."""
    pieces: list[tuple[Span, int]] = []
    start, end = sentence.start, sentence.end
    while start < end:
        # Every word costs at least one token, so no fitting piece reaches past the first max_tokens
        # words: searching only that window keeps a megabyte-long line linear, not quadratic.
        limit = _window_end(text, start, end, max_tokens)
        if limit == end:
            if start > sentence.start:
                n = count_tokens(text[start:end])
            if n <= max_tokens:
                pieces.append((Span(start, end), n))
                break
        cut: tuple[int, int] | None = None
        for pattern in (_CLAUSE_CUT, _WORD_CUT):
            cuts = [m.start() for m in pattern.finditer(text, start, limit)]
            if pattern is _WORD_CUT and limit < end:
                cuts.append(limit)
            cut = _longest_fitting(text, start, cuts, count_tokens, max_tokens)
            if cut is not None:
                break
        if cut is None:
            # Not even the first word fits: cut inside it, so the piece cannot end in whitespace.
            space = _WORD_CUT.search(text, start, end)
            word_end = min(space.start() if space else end, start + 64 * max_tokens)
            cut = _longest_fitting(
                text, start, list(range(start + 1, word_end + 1)), count_tokens, max_tokens
            )
        if cut is None:
            raise ValueError(f"max_tokens={max_tokens} is too small to hold even one character")
        piece_end, piece_n = cut
        pieces.append((Span(start, piece_end), piece_n))
        start = _skip_space(text, piece_end, end)
    return pieces


def _window_end(text: str, start: int, end: int, max_words: int) -> int:
    """Where the first `max_words` whitespace-separated words after `start` end (or `end`)."""
    for number, match in enumerate(_WORD_CUT.finditer(text, start, end), 1):
        if number >= max_words:
            return match.start()
    return end


def _longest_fitting(
    text: str, start: int, cuts: list[int], count_tokens: Callable[[str], int], max_tokens: int
) -> tuple[int, int] | None:
    """The furthest cut whose prefix fits, by binary search (counts grow with length), and its count."""
    best: tuple[int, int] | None = None
    lo, hi = 0, len(cuts) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        n = count_tokens(text[start : cuts[mid]])
        if n <= max_tokens:
            best = (cuts[mid], n)
            lo = mid + 1
        else:
            hi = mid - 1
    return best
