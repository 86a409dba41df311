"""Does a sentence hold the kind of answer a question asks for (a name, a date, a place, an amount)?"""

from __future__ import annotations

import re
from functools import lru_cache

from tanya.analysis import STOPWORDS, fold, tokenize
from tanya.types import Span


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Honorifics and ranks that come before a person's name ("Dr. H. Rusdi", "Brigjen Pol Tri Julianto").
_HONORIFICS = _word_set(
    """
    Dr dr Ir H Hj Prof Drs Dra KH Kyai Brigjen Irjen Komjen Kombes AKBP AKP Kompol Jenderal Jend
    Marsekal Laksamana Laksma Marsma Mayjen Letjen Kolonel Kol Letkol Mayor Kapten Pol Purn Bapak Ibu
    Pak Bu Mr Mrs Ms Sheikh Syekh Sultan Pangeran Ustaz Ustadz Habib Gus
    """
)
_NEEDS_DOT = frozenset({"H", "Hj", "Kol", "Jend", "Mr", "Mrs", "Ms"})
# Capitalised words that name roles, bodies, places, times or are plain sentence words, never a person.
_NOT_NAME = _word_set(
    """
    Presiden Wapres Wakil Menteri Menko Mendagri Menlu Menkeu Menhan Menperin Menaker Ketua Ketum Kepala
    Direktur Dirut Dirjen Sekretaris Sekjen Sekda Wasekjen Gubernur Wagub Bupati Wabup Wali Walikota
    Wawali Camat Lurah Rektor Dekan Kapolri Kapolda Kapolres Kapolsek Kakanwil Kadis Kabid Kasat Kabag
    Panglima Komandan Kasad Kasal Kasau Juru Bicara Jubir Anggota Komisioner Hakim Jaksa Duta Besar
    Dubes Perdana Raja CEO Presdir Pendiri Pemimpin Pimpinan Pengurus Koordinator Staf Asisten Deputi
    Inspektur Plt Pj Direksi Komisaris Senator Pemerintah Pemkot Pemkab Pemprov Kota Kabupaten Provinsi
    Universitas Institut Fakultas Dinas Kementerian Badan Lembaga Komisi Dewan Majelis Mahkamah
    Pengadilan Kejaksaan Kepolisian Polres Polda Polri Partai Fraksi Kantor Kanwil Balai Gedung Ruang
    Aula Hotel Rumah Sakit Sekolah Bank Perusahaan Asosiasi Himpunan Ikatan Persatuan Koperasi Yayasan
    Perum Perumda Grup Direktorat Divisi Bidang Bagian Seksi Unit Tim Satuan Kelompok Forum Pusat
    Nasional Daerah Wilayah Regional Internasional Umum Republik Negara Kerajaan Negeri Luar Utara
    Selatan Timur Barat Tengah Raya Jalan Jl Desa Kecamatan Kelurahan Pulau Gunung Sungai Danau Laut
    Teluk Selat Pantai Pelabuhan Bandara Stasiun Terminal Pasar Masjid Gereja Istana Museum Taman
    Lapangan Stadion Undang Peraturan Nota Kesepahaman Rapat Sidang Kongres Konferensi Festival Piala
    Liga Tahun Hari Pekan Bulan Senin Selasa Rabu Kamis Jumat Sabtu Minggu Ahad Januari Februari Maret
    April Mei Juni Juli Agustus September Oktober November Desember Indonesia Jakarta Kabinet Kerja Sama
    Perjanjian Program Proyek Kawasan Ekonomi Khusus Keamanan Pertahanan Luar Negeri Hukum Keuangan
    Kesehatan Pendidikan Kebudayaan Perhubungan Pertanian Perdagangan Perindustrian Pariwisata Sosial
    Agama Pekerjaan Perumahan Lingkungan Hidup Kehutanan Kelautan Perikanan Energi Sumber Daya Mineral
    Informasi Komunikasi Riset Teknologi Tinggi Negeri Swasta Baca Juga Foto Sumber Berita Kepresidenan
    Angkatan Darat Udara Koordinator Kabinet Sekretariat Kemlu Sumatera Jawa Kalimantan Sulawesi Papua
    Maluku Bali Nusa Tenggara Aceh Riau Jambi Bengkulu Lampung Banten Gorontalo Yogyakarta Sumsel Sumut
    Sumbar Jabar Jateng Jatim Kaltim Kalbar Kalsel Kalteng Sulsel Sulut Sulteng Sultra Sulbar Malut
    Babel Kepri Jerman Amerika Serikat Inggris Prancis Perancis China Cina Tiongkok Jepang Korea Rusia
    Australia Singapura Malaysia Thailand Filipina Vietnam Arab Saudi India Belanda Turki Iran Mesir Uni
    Eropa Asia Afrika Timor Leste Brunei Myanmar Kamboja Laos Pakistan Afghanistan Palestina Israel
    Qatar Kedutaan Kedubes Konsulat Konjen Kompleks Komplek Markas Mabes Kampus Akademi Politeknik
    """
)
LONGEST_RUN = 6  # capitalised words in a row beyond which it is a title or a body's name, not a person
_ORG_PREFIXES = ("Kemen", "Kanwil", "Kapol", "Pemkab", "Pemkot", "Pemprov", "Ditjen", "Dirjen", "Kejati")
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'’\-]*\.?")
_HONORIFIC_AFTER = re.compile(r",\s*(?:Dr|dr|Ir|H|Hj|Prof|Drs|Dra)\.")
_DEGREES = re.compile(r"(?:,\s*(?:[A-Z][A-Za-z]{0,3}\.){1,3})+")


def person_names(text: str) -> list[Span]:
    """Spans of person names: after an honorific ("Dr. H. Rusdi Mappaseng, S.E.") or 2-4 capitalised words
    that are not roles, bodies, places or dates ("Sri Mulyani Indrawati"); degrees after a comma included.
    In a run of 5 or 6 the last three are taken: a place or body the word lists do not know comes before the
    name ("Camat Tanah Abang Dedi Arif Darsono"). Initials may open a name ("B. J. Habibie", "J. K. Rowling"),
    not make one alone."""
    spans: list[Span] = []
    start = end = -1
    titled = False
    names = 0
    words = 0  # capitalised words of the current run that are not initials
    starts: list[int] = []  # where each capitalised word of the current run begins

    def close() -> None:
        nonlocal start
        if names and not titled and 5 <= names <= LONGEST_RUN:
            start = starts[-3]
        if words and (titled or 2 <= names <= LONGEST_RUN):
            stop = end
            degrees = _DEGREES.match(text, stop)
            if degrees and not _HONORIFIC_AFTER.match(degrees.group()):
                stop = degrees.end()
            spans.append(Span(start, stop))

    previous_end = 0
    for match in _WORD.finditer(text):
        word = match.group()
        bare = word.rstrip(".")
        joined = start >= 0 and not text[previous_end : match.start()].strip()
        previous_end = match.end()
        if bare in _HONORIFICS and (word.endswith(".") or bare not in _NEEDS_DOT):
            if names or not joined:
                close()
                start, titled, names, words = match.start(), True, 0, 0
                starts.clear()
            end = match.end()
            continue
        initial = len(bare) == 1 and word.endswith(".") and bare.isupper()
        capital = bare[:1].isupper() and not bare.isupper()
        capital = capital and bare not in _NOT_NAME and not bare.startswith(_ORG_PREFIXES)
        if (capital and bare.lower() not in STOPWORDS) or initial:
            if not joined:
                close()
                start, titled, names, words = match.start(), False, 0, 0
                starts.clear()
                if spans and match.start() < spans[-1].end:  # a degree the name just closed took in
                    start = -1
                    continue
            names += 1
            words += 0 if initial else 1
            starts.append(match.start())
            end = match.start() + (len(word) if initial else len(bare))
            continue
        close()
        start, titled, names, words = -1, False, 0, 0
    close()
    return spans


_DAYS = r"Senin|Selasa|Rabu|Kamis|Jumat|Jum'at|Sabtu|Minggu|Ahad"
_MONTHS = (
    r"Januari|Februari|Pebruari|Maret|April|Mei|Juni|Juli|Agustus|September|Oktober|November|Nopember|Desember"
)
DATE = re.compile(
    rf"\b(?:{_DAYS})\b|\b\d{{1,2}}\s+(?:{_MONTHS})\b|\b(?:{_MONTHS})\s+\d{{4}}\b|\(\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?\)"
    r"|\b(?:1[5-9]|20)\d{2}\b|\bpukul\s+\d|\babad\s+(?:ke-?\s*)?\d+|\babad\s+[IVXL]+\b|\btahun\s+\d+"
    r"|\b\d{1,4}\s*SM\b|\bpada\s+\d{3,4}(?=[,.;)])"
)
PLACE = re.compile(
    r"\b(?:di|ke|dari)\s+(?:[A-Z]\w+|gedung|kantor|ruang|aula|hotel|balai|pendopo|kota|kabupaten|provinsi"
    r"|desa|kecamatan|pulau|jalan|jl)\b"
)
AMOUNT = re.compile(
    r"\d|\b(?:satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|sepuluh|puluh|ratus|ribu|juta"
    r"|miliar|triliun|persen)\b",
    re.IGNORECASE,
)
AGREEMENT = re.compile(
    r"sepakat|kesepakatan|menyepakati|disepakati|mou\b|nota kesepahaman|perjanjian|kerja\s*sama|kerjasama"
    r"|menandatangani|ditandatangani|penandatanganan|komitmen|berkomitmen|setuju|menyetujui",
    re.IGNORECASE,
)
_AGREEMENT_QUESTION = re.compile(
    r"sepakat|setuju|perjanjian|mou\b|kesepahaman|tandatangan|teken|kerja\s*sama|komitmen", re.I
)
# Words that introduce who was at a meeting: "turut hadir ...", "didampingi ...", "dihadiri oleh ...".
ATTENDANCE = re.compile(
    r"\b(?:hadir|dihadiri|menghadiri|kehadiran|didampingi|mendampingi|ditemani|menemani|turut|diwakili|mewakili"
    r"|antara lain|di antaranya|delegasi|rombongan|bertemu|menemui|menerima)\b",
    re.IGNORECASE,
)

# A question about a meeting or an agreement in the wide sense the meeting sentence model was fitted on:
# who was met, went along, signed; what a partnership, decision or promise holds (answer.sentence_model).
MEETING_QUESTION = re.compile(
    r"\b(?:hadir|dihadiri|menghadiri|dihadirkan|kehadiran|mendampingi|didampingi|menemani|ditemani|bertemu|menemui"
    r"|ditemui|pertemuan|mengiringi|diiringi|menyaksikan|disaksikan|rombongan|delegasi|sepanggung|meneken|diteken"
    r"|menandatangani|ditandatangani|penandatanganan|sepakat|disepakati|menyepakati|kesepakatan|kesepahaman|mou"
    r"|perjanjian|kerja\s*sama|kerjasama|bekerja\s*sama|kolaborasi|berkolaborasi|menggandeng|digandeng|kemitraan"
    r"|bermitra|keputusan|memutuskan|diputuskan|dijanjikan|menjanjikan|berjanji|komitmen|berkomitmen)\b",
    re.IGNORECASE,
)


# Names the news calls people by, with the words of their full names: a question about "Presiden Jokowi"
# does not ask who "Presiden Joko Widodo" is, so that name is not a new one in a sentence.
NICKNAMES = {
    "jokowi": "joko widodo",
    "sby": "susilo bambang yudhoyono",
    "ahy": "agus harimurti yudhoyono",
    "jk": "jusuf kalla",
    "ahok": "basuki tjahaja purnama",
    "btp": "basuki tjahaja purnama",
    "aher": "ahmad heryawan",
    "sandi": "sandiaga salahuddin uno",
    "zulhas": "zulkifli hasan",
    "risma": "tri rismaharini",
    "bamsoet": "bambang soesatyo",
    "gus dur": "abdurrahman wahid",
    "cak imin": "muhaimin iskandar",
    "kang emil": "ridwan kamil",
}


@lru_cache(maxsize=256)
def _words_of(question: str) -> frozenset[str]:
    """The folded words of a question, with the full names of the nicknames in it (cached: asked of every
    sentence the question is matched against)."""
    words = [t.text for t in tokenize(question)]
    text = " ".join(words)
    full = [name for nick, name in NICKNAMES.items() if re.search(rf"\b{nick}\b", text)]
    return frozenset(words).union(*(name.split() for name in full))


_QUESTION_WORD = re.compile(r"[A-Za-z][\w'’.-]*")
_TOKEN = re.compile(r"\w+")


def names_missing_from(question: str, article_title: str, article_text: str) -> list[str]:
    """The question's capitalised words (names, places, bodies; not roles or the first word) that the article
    never writes: "... bertemu Gubernur Jawa Tengah Ganjar Pranowo di Semarang" asked of an article about the
    same minister meeting someone else. A hyphenated word passes on any of its parts ("Indonesia-Prancis"
    where the article writes "Perancis"), a nickname on its full name, "-nya" is left off."""
    words = set(_TOKEN.findall(fold(f"{article_title} {article_text}")))
    missing = []
    for i, word in enumerate(_QUESTION_WORD.findall(question)):
        bare = re.sub(r"-?nya$", "", word.strip(".-'’"))
        if i == 0 or not bare[:1].isupper() or len(bare) < 3 or bare in _NOT_NAME or bare.startswith(_ORG_PREFIXES):
            continue
        folded = fold(bare)
        if any(part in words for part in re.split(r"[-.]", folded) if part):
            continue
        full = NICKNAMES.get(folded)
        if full and all(part in words for part in full.split()):
            continue
        missing.append(bare)
    return missing


def asks_agreement(question: str) -> bool:
    """A "what was agreed / signed / decided" question."""
    return bool(_AGREEMENT_QUESTION.search(question))


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


# A sentence's first word is capitalised whatever it is, so it joins the name after it ("Kehadiran Agus
# Harimurti Yudhoyono"): words that open sentences, and words formed with both a prefix and a suffix.
_OPENERS = _word_set(
    """
    Sedangkan Sementara Bahkan Kemudian Adapun Ketika Meskipun Walaupun Kini Melalui Lewat Namun Selain
    Menurut Mengutip Melansir Dilansir Dilaporkan Diberitakan Seperti Sebelumnya Selanjutnya Setelah Usai
    Saat Hal Pihak Nama Kata Via Sejak Dalam Tak Turut Hadir Tampak
    """
)
_FORMED = re.compile(r"(?:ke\w{3,}an|pe[rmn]?\w{3,}an|di\w{3,}kan|me[mn]?\w{3,}kan|\w{3,}nya)", re.IGNORECASE)


def without_opener(text: str, span: Span) -> Span | None:
    """The name without a sentence-opening word in front; None when one word of name is left.

    Only for what readers see (highlights): the ranking features keep the finder's own spans, which the
    shipped models were fitted on (dropping openers there moved the silver questions by -5 of 314).
    """
    first, _, rest = text[span.start : span.end].partition(" ")
    if first.rstrip(".") not in _OPENERS and not _FORMED.fullmatch(first):
        return span
    return Span(span.start + len(first) + 1, span.end) if " " in rest.strip() else None


def new_names(question: str, text: str) -> list[Span]:
    """Spans in `text` of person names whose words are not all in the question."""
    asked = _words_of(question)
    spans = []
    for span in person_names(text):
        words = [w.strip(".,") for w in fold(text[span.start : span.end]).split()]
        if all(w in asked for w in words if w):
            continue
        spans.append(span)
    return spans
