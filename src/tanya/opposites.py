"""Does the best quote report the opposite of what the question asks ("dibubarkan" asked, "didirikan" found)?

A question about when something ended, closed, died or came last is matched best by the sentence about when
it began, opened, was born or came first: the same names, the same kind of answer, the other event. When the
asked word appears nowhere in the quoted article and its opposite is in the quote, the article does not say.
Likewise a question for what is *not* something ("Siapa yang bukan vokalis ...?") is matched best by the
sentence about what is; unless the article says "bukan ..." itself, a quote can only mislead.
"""

from __future__ import annotations

import re

# (words that ask, words that report the opposite, other words that report what was asked). Surface forms,
# not stems: "akhir" (the end of May) is not "terakhir" (the last), "meninggalkan" (to leave) not "meninggal".
_PAIRS = (
    ("terakhir", "pertama", ""),
    ("berakhir berakhirnya diakhiri", "dimulai dimulainya bermula", "usai selesai"),
    ("dibubarkan membubarkan bubar pembubaran", "didirikan mendirikan berdiri pendirian", ""),
    ("dihancurkan menghancurkan penghancuran", "dibangun membangun diciptakan menciptakan", "hancur"),
    ("ditutup menutup penutupan", "dibuka membuka pembukaan", ""),
    ("meninggal", "lahir dilahirkan", "wafat tewas gugur mangkat kematian meninggalnya wafatnya"),
    ("lahir dilahirkan", "meninggal wafat", "kelahiran kelahirannya lahirnya"),
    ("kalah kekalahan", "menang kemenangan memenangkan", ""),
    ("menang kemenangan memenangkan", "kalah kekalahan", ""),
    ("gagal kegagalan", "berhasil keberhasilan sukses", ""),
    ("berhasil keberhasilan sukses", "gagal kegagalan", ""),
    ("terendah", "tertinggi", ""),
    ("tertinggi", "terendah", ""),
    ("terkecil", "terbesar", ""),
    ("terbesar", "terkecil", ""),
    ("termuda", "tertua", ""),
    ("tertua", "termuda", ""),
    ("terpendek", "terpanjang", ""),
    ("terpanjang", "terpendek", ""),
    ("terdekat", "terjauh", ""),
    ("terjauh", "terdekat", ""),
    ("dilarang melarang larangan", "diizinkan mengizinkan", ""),
    ("ditolak menolak penolakan", "diterima menerima", ""),
    ("menurun penurunan", "meningkat peningkatan kenaikan", "turun"),
    ("meningkat peningkatan kenaikan", "menurun penurunan", "naik"),
    ("kerugian merugi", "keuntungan laba", "rugi"),
    ("dipecat diberhentikan", "diangkat dilantik", ""),
    ("ditangkap", "dibebaskan", "penangkapan"),
    ("dibebaskan", "ditangkap", "pembebasan bebas"),
)
OPPOSITES = tuple((frozenset(a.split()), frozenset(b.split()), frozenset(c.split())) for a, b, c in _PAIRS)
_ASKING = frozenset().union(*(asking for asking, _, _ in OPPOSITES))  # most questions hold none: done at once
_NEGATIONS = frozenset({"tidak", "tak", "belum", "bukan"})  # "tidak berhasil" asks what "gagal" reports
_WORD = re.compile(r"\w+(?:-\w+)*")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def reports_opposite(question: str, quote: str, article: str) -> tuple[str, str] | None:
    """(asked word, opposite word in the quote) when the quote reports the opposite event, else None.

    It does when the question asks with a word (not negated) that the whole article lacks, together with every
    other word for the same thing, and the quote holds its opposite, which the question itself does not use.
    """
    asked_words = _words(question)
    asked = set(asked_words)
    if asked.isdisjoint(_ASKING):
        return None
    in_article: set[str] | None = None  # read only when a question word has an opposite
    in_quote = set(_words(quote))
    for asking, opposite, same in OPPOSITES:
        found = [
            w
            for i, w in enumerate(asked_words)
            if w in asking and (i == 0 or asked_words[i - 1] not in _NEGATIONS)
        ]
        if not found or asked & opposite or not in_quote & opposite:
            continue
        if in_article is None:
            in_article = set(_words(article))
        if not in_article & (asking | same):
            return found[0], sorted(in_quote & opposite)[0]
    return None


def asks_what_is_not(question: str, article: str) -> str | None:
    """The word after "bukan" when the question asks what is not something and the article never says
    "bukan <that word>"; else None."""
    asked = _words(question)
    text: str | None = None
    for i, word in enumerate(asked[:-1]):
        if word == "bukan":
            text = text if text is not None else " ".join(_words(article))
            if f"bukan {asked[i + 1]}" not in text:
                return asked[i + 1]
    return None
