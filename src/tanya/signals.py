"""Does a sentence hold the kind of answer a question asks for (a name, a date, a place, an amount)?"""

from __future__ import annotations

import re

from tanya.analysis import fold
from tanya.types import Span

_TITLES = (
    r"Dr|dr|Ir|H|Hj|Prof|Drs|Dra|Brigjen|Brigjen Pol|Irjen|Irjen Pol|Kombes|Kombes Pol|AKBP|Kompol|AKP|"
    r"Jenderal|Jend|Kol|Letkol|Mayjen|Laksma|Marsma|Bapak|Ibu|Pak|Bu|KH|Gubernur|Bupati|Wali Kota|Walikota"
)
_CAP = r"[A-Z][a-zA-Z'’\-]+"
# A person-like name: optional titles, then two or more capitalised words (or one after a title),
# then optional degrees such as ", S.H., M.Si."
NAME = re.compile(
    rf"(?:(?:{_TITLES})\.?\s+)+{_CAP}(?:\s+{_CAP})*(?:,?\s+[A-Z][A-Za-z]{{0,3}}\.(?:[A-Z][a-z]{{0,3}}\.)*)*"
    rf"|{_CAP}(?:\s+{_CAP}){{1,4}}"
)
_DAYS = r"Senin|Selasa|Rabu|Kamis|Jumat|Jum'at|Sabtu|Minggu|Ahad"
_MONTHS = (
    r"Januari|Februari|Pebruari|Maret|April|Mei|Juni|Juli|Agustus|September|Oktober|November|Nopember|Desember"
)
DATE = re.compile(
    rf"\b(?:{_DAYS})\b|\b\d{{1,2}}\s+(?:{_MONTHS})\b|\b(?:{_MONTHS})\s+\d{{4}}\b|\(\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?\)"
    r"|\b(?:1[5-9]|20)\d{2}\b|\bpukul\s+\d"
)
PLACE = re.compile(
    r"\b(?:di|ke|dari)\s+(?:[A-Z]\w+|gedung|kantor|ruang|aula|hotel|balai|pendopo|kota|kabupaten|provinsi"
    r"|desa|kecamatan|pulau|jalan|jl)\b"
)
AMOUNT = re.compile(r"\d|\b(?:satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|sepuluh|puluh|ratus|ribu|juta"
                    r"|miliar|triliun|persen)\b", re.IGNORECASE)
AGREEMENT = re.compile(
    r"sepakat|kesepakatan|menyepakati|disepakati|mou\b|nota kesepahaman|perjanjian|kerja\s*sama|kerjasama"
    r"|menandatangani|ditandatangani|penandatanganan|komitmen|berkomitmen|setuju|menyetujui",
    re.IGNORECASE,
)
_AGREEMENT_QUESTION = re.compile(r"sepakat|setuju|perjanjian|mou\b|kesepahaman|tandatangan|kerja\s*sama", re.I)


def answer_type_match(qtype: str, question: str, sentence: str) -> bool:
    """True when the sentence holds something of the kind the question asks for, beyond its own words."""
    if _AGREEMENT_QUESTION.search(question) and qtype in ("apa", "bagaimana"):
        return bool(AGREEMENT.search(sentence))
    if qtype == "siapa":
        return bool(new_names(question, sentence))
    if qtype == "kapan":
        return bool(DATE.search(sentence))
    if qtype == "di mana":
        return bool(PLACE.search(sentence))
    if qtype == "berapa":
        return bool(AMOUNT.search(sentence))
    return False


def new_names(question: str, text: str) -> list[Span]:
    """Spans in `text` of person-like names whose words are not all in the question."""
    asked = set(fold(question).split())
    spans = []
    for match in NAME.finditer(text):
        words = [w.strip(".,") for w in fold(match.group()).split()]
        if all(w in asked for w in words if w):
            continue
        spans.append(Span(match.start(), match.end()))
    return spans
