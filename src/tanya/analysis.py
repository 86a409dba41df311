"""Indonesian word analysis: tokens with offsets, Snowball stems, stopwords, question types."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import Stemmer

# Which rules wrote an index's keyword rows. Bump it with any change to what indexable_text returns: an index
# written under another number has its keyword rows re-stemmed by the next update (no text is re-embedded).
# tests/test_restem.py pins indexable_text's output for this number, so a change without a bump fails there.
ANALYSIS_VERSION = 1

# Letters and digits, with inner hyphens, dots and commas kept so "10.000", "3,5" and "Bau-Bau" stay whole.
_WORD = re.compile(r"\w+(?:[-.,/']\w+)*", re.UNICODE)

# Snowball Indonesian is inconsistent on a few verbs that matter in news ("penandatanganan" ->
# "andatangan", "bertemu" -> "berte"); these map the inflections to one stem.
_STEM_FIXES = {
    "penandatanganan": "tandatangan",
    "menandatangani": "tandatangan",
    "bertemu": "temu",
    "bertemunya": "temu",
    "pertemuan": "temu",
    "nota": "nota",
    "kesepahaman": "paham",
    "sepaham": "paham",
    "memahami": "paham",
}

# Words Indonesian writes closed and open alike ("ibukota" / "ibu kota", "kerjasama" / "kerja sama"): the
# closed form is also indexed and asked by its parts, as a hyphenated word is, so either finds the other.
COMPOUNDS = {
    "ibukota": ("ibu", "kota"),
    "kerjasama": ("kerja", "sama"),
    "sepakbola": ("sepak", "bola"),
    "olahraga": ("olah", "raga"),
    "tandatangan": ("tanda", "tangan"),
}
_COMPOUND_HINT = re.compile("|".join(COMPOUNDS))

# Measures that take "se-" for an amount ("seluas", "setinggi", "selama", "senilai"): stemmed without it.
_MEASURES = frozenset("luas tinggi panjang lebar harga nilai berat dalam lama jauh tebal besar banyak".split())

STOPWORDS = frozenset(
    """
    ada adalah agar akan aku anda apa apakah apabila atas atau bagaimana bagaimanakah bagi bahwa baik
    banyak beberapa begitu belum berapa berapakah bersama besar bila bisa boleh bukan dalam dan dapat
    dari demikian dengan di dia digunakan ia ialah ini itu jadi jika juga kah kalau kami kamu kapan
    kapankah karena ke kenapa kepada kita lagi lain maka mana manakah masih mau mereka mengapa
    menjadi menurut meski namun nya oleh pada para per pula saat saja salah sama sampai sangat
    satu saya se sebagai sebelum sedang sehingga sejak selain sementara seperti serta setelah siapa
    siapakah sudah supaya tak tapi telah tentang tersebut tetapi untuk yaitu yakni yang
    hal sebuah seorang secara tidak pun lah dimana dimanakah bilamana
    """.split()
)

QUESTION_WORDS = frozenset(
    "siapa siapakah apa apakah kapan kapankah bilamana mana manakah dimana dimanakah berapa berapakah "
    "bagaimana bagaimanakah mengapa kenapa".split()
)


class Token(NamedTuple):
    """A word of a text: its surface form, stem and character offsets (a tuple: made by the thousand per question)."""

    text: str
    stem: str
    start: int
    end: int


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("indonesian")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball Indonesian stem of a lower-cased word, with fixes for key news verbs."""
    fixed = _STEM_FIXES.get(word)
    if fixed is not None:
        return fixed
    if not word.isalpha():
        return word  # numbers, codes and hyphenated forms are matched as written
    base = word[:-3] if word.endswith("nya") else word
    if base in COMPOUNDS:
        return base  # Snowball would take "ke" off "kerjasama"
    if word.startswith("se") and word[2:] in _MEASURES:
        word = word[2:]  # "seluas 98 km2" answers "berapa luas": Snowball keeps the "se-"
    return str(_stemmer().stemWord(word))


def fold(text: str) -> str:
    """Lower-case and strip accents, keeping the length so offsets into `text` stay valid."""
    if text.isascii():
        return text.lower()
    return text.translate(_FOLDED)


class _FoldTable(dict):
    """str.translate table filled on first sight of each character: one character in, one out."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        base = unicodedata.normalize("NFKD", ch.lower())
        self[code] = folded = base[0] if base else ch
        return folded


_FOLDED = _FoldTable()


def tokenize(text: str) -> list[Token]:
    """Words of `text` with offsets; hyphenated words and numbers stay one token."""
    tokens = []
    append, known = tokens.append, _STEMS  # locals: this loop runs for every word of every chunk read
    for match in _WORD.finditer(fold(text)):
        word = match.group()  # never ends in "." or ",": the pattern ends every match with a word character
        stemmed = known.get(word)
        if stemmed is None:
            stemmed = stem(word)
            if len(known) < 200_000:
                known[word] = stemmed
        start = match.start()
        append(Token(word, stemmed, start, start + len(word)))
    return tokens


_STEMS: dict[str, str] = {}  # word -> stem, for tokenize (bounded: past 200,000 words new ones are not kept)


def word_columns(text: str) -> tuple[list[str], list[str], list[int], list[int]]:
    """tokenize(text) as columns (words, stems, starts, ends), each hyphenated word followed by its parts
    ("kerja-sama", "kerja", "sama") as the keyword index counts them. Built list by list, not token by
    token: this runs for every chunk the ranker reads, and per-token Python objects cost twice as much."""
    folded = fold(text)
    spans = [m.span() for m in _WORD.finditer(folded)]
    words = [folded[a:b] for a, b in spans]
    known = _STEMS
    stems = [known.get(w) or _remember(w) for w in words]
    starts = [a for a, _ in spans]
    ends = [b for _, b in spans]
    if "-" in folded or _COMPOUND_HINT.search(folded):
        # Only a hyphenated word or a closed compound has parts: test that before calling (most chunks hold a
        # hyphen, and a call per word cost a third of the analysis).
        split = {
            i: parts
            for i, (w, s) in enumerate(zip(words, stems, strict=True))
            if ("-" in w or s in COMPOUNDS) and (parts := word_parts(w, s))
        }
        if split:
            return _with_parts(split, words, stems, starts, ends)
    return words, stems, starts, ends



def word_parts(word: str, stemmed: str) -> list[tuple[str, int]]:
    """The parts a word is also indexed by, with their offsets in it: a hyphenated word's pieces, or a closed
    compound's words where they are written out ("ibukotanya": "ibu" at 0, "kota" at 3)."""
    if "-" in word:
        out, offset = [], 0
        for part in word.split("-"):
            if part:
                out.append((part, offset))
            offset += len(part) + 1
        return out
    found, position = [], 0
    for part in COMPOUNDS.get(stemmed, ()):
        at = word.find(part, position)
        if at < 0:
            return []
        found.append((part, at))
        position = at + len(part)
    return found


def _remember(word: str) -> str:
    stemmed = stem(word)
    if len(_STEMS) < 200_000:
        _STEMS[word] = stemmed
    return stemmed


def _with_parts(
    split: dict[int, list[tuple[str, int]]], *columns: list
) -> tuple[list[str], list[str], list[int], list[int]]:
    """The columns with each split word's parts (word_parts) inserted after it (the rest copied in slices)."""
    _, _, starts, _ = columns
    out: tuple[list, list, list, list] = ([], [], [], [])
    previous = 0
    for i, parts in split.items():
        for column, whole in zip(out, columns, strict=True):
            column.extend(whole[previous : i + 1])
        for part, at in parts:
            offset = starts[i] + at
            for column, value in zip(out, (part, stem(part), offset, offset + len(part)), strict=True):
                column.append(value)
        previous = i + 1
    for column, whole in zip(out, columns, strict=True):
        column.extend(whole[previous:])
    return out


def keyword_terms(text: str) -> list[str]:
    """Stems of the content words of `text` (stopwords and question words dropped), in order; a closed
    compound is followed by its parts."""
    out = []
    for token in tokenize(text):
        if token.text not in STOPWORDS and token.stem not in STOPWORDS:
            out.append(token.stem)
            if token.stem in COMPOUNDS:
                out.extend(stem(part) for part, _ in word_parts(token.text, token.stem))
    return out


def indexable_text(text: str) -> str:
    """The text that goes into the keyword index: every word's stem, space separated.

    Hyphenated words and closed compounds are also indexed by their parts, so "Bau-Bau", "kerja-sama" and
    "ibukota" are found by "bau", "kerja" and "ibu kota".
    """
    out: list[str] = []
    for token in tokenize(text):
        out.append(_fts_safe(token.stem))
        if "-" in token.text or token.stem in COMPOUNDS:
            out.extend(_fts_safe(stem(part)) for part, _ in word_parts(token.text, token.stem))
    return " ".join(out)


def _fts_safe(term: str) -> str:
    # The FTS tokenizer (unicode61) splits on punctuation; joining keeps "10.000" one searchable term.
    return re.sub(r"[^\w]", "_", term)


def fts_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression OR-ing the given stems, each quoted so no user text is FTS syntax."""
    unique = list(dict.fromkeys(_fts_safe(t) for t in terms if t))
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in unique)


QTYPES = ("siapa", "kapan", "di mana", "berapa", "apa", "mengapa", "bagaimana")


def question_type(question: str) -> str:
    """The kind of answer a question asks for: siapa, kapan, di mana, berapa, apa, mengapa, bagaimana."""
    words = [t.text for t in tokenize(question)]
    for i, word in enumerate(words):
        if word.startswith("siapa"):
            return "siapa"
        if word.startswith("kapan") or word in ("bilamana",) or (word == "tanggal" and i < 3):
            return "kapan"
        if word in ("dimana", "dimanakah", "manakah", "mana") or (
            word == "di" and i + 1 < len(words) and words[i + 1].startswith("mana")
        ):
            return "di mana"
        if word.startswith("berapa"):
            return "berapa"
        if word in ("mengapa", "kenapa"):
            return "mengapa"
        if word.startswith("bagaimana"):
            return "bagaimana"
    return "apa"
