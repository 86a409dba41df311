"""Sentence splitting on hard Indonesian news text, and token-bounded chunking with exact offsets."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanya.chunking import chunk_article, split_sentences
from tanya.types import Article, Chunk


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def words(text: str) -> int:
    return len(text.split())


def chars(text: str) -> int:
    return len(text)


def assert_well_formed(text: str) -> None:
    spans = split_sentences(text)
    previous_end = 0
    for span in spans:
        piece = text[span.start : span.end]
        assert piece and piece == piece.strip()
        assert previous_end <= span.start < span.end
        assert text[previous_end : span.start].strip() == ""  # nothing but whitespace is left out
        previous_end = span.end
    assert text[previous_end:].strip() == ""


# --- split_sentences ---------------------------------------------------------------------------


def test_dateline_title_and_date_in_brackets() -> None:
    text = (
        "Makassar - Kakanwil Kemenkumham Sulsel, Dr. Andi Rahman menerima kunjungan Kepala BNNP Sulsel, "
        "Brigjen Pol Budi Santoso, Senin (18/11). Pertemuan ini membahas kerja sama kedua lembaga."
    )
    assert sentences(text) == [
        "Makassar - Kakanwil Kemenkumham Sulsel, Dr. Andi Rahman menerima kunjungan Kepala BNNP Sulsel, "
        "Brigjen Pol Budi Santoso, Senin (18/11).",
        "Pertemuan ini membahas kerja sama kedua lembaga.",
    ]


def test_quote_after_speech_tag_is_its_own_sentence() -> None:
    text = '"Kami siap," ujarnya. "Kerja sama ini penting."'
    assert sentences(text) == ['"Kami siap," ujarnya.', '"Kerja sama ini penting."']


def test_closing_quote_stays_with_its_sentence() -> None:
    text = "Ia menutup rapat. “Kita mulai besok.” Semua peserta setuju."
    assert sentences(text) == ["Ia menutup rapat.", "“Kita mulai besok.”", "Semua peserta setuju."]


@pytest.mark.parametrize(
    "text",
    [
        '"Narkoba di lapas masih menjadi tantangan yang harus kita atasi bersama,” ujar Tri.',
        "“Kami berkomitmen mendampingi warga binaan,” kata Ilham di Palembang.",
        '"Apa yang salah dengan itu?" tanya Budi kepada wartawan.',
        "“Luar biasa!” seru para penonton di stadion.",
        "‘Kami tidak menyerah,’ tulisnya di media sosial.",
    ],
)
def test_speech_tag_after_quote_does_not_split(text: str) -> None:
    assert sentences(text) == [text]


def test_multi_sentence_quote_ends_with_its_speech_tag() -> None:
    text = (
        '"Kerja sama ini penting untuk kita. Kami juga berkomitmen lebih proaktif," ungkapnya. '
        "Rapat lalu ditutup."
    )
    assert sentences(text) == [
        '"Kerja sama ini penting untuk kita.',
        'Kami juga berkomitmen lebih proaktif," ungkapnya.',
        "Rapat lalu ditutup.",
    ]


# fmt: off
ABBREVIATIONS = [
    "Dr.", "dr.", "drg.", "Ir.", "H.", "Hj.", "Prof.", "Drs.", "Dra.", "Brigjen.", "Brigjen Pol.",
    "Kombes.", "Kompol.", "AKBP.", "Irjen.", "Jend.", "Kol.", "Letkol.", "Mayjen.", "St.", "Moh.",
    "Muh.", "KH.", "PT.", "Mr.", "Bpk.", "Sdr.", "Yth.", "Plt.", "No.", "Nmr.", "Rp.", "Jl.", "Jln.",
    "Kab.", "Kec.", "Kel.", "Prov.", "tgl.", "hlm.", "vs.", "ca.", "a.n.", "u.p.", "e.g.",
    "S.H.", "S.E.", "S.Pd.", "S.Kom.", "M.Si.", "M.H.", "M.M.", "M.Pd.", "Ph.D.", "Tbk.",
    "dll.", "dsb.", "dst.", "dkk.", "B.",
]
# fmt: on


@pytest.mark.parametrize("abbreviation", ABBREVIATIONS)
def test_abbreviations_do_not_end_sentences(abbreviation: str) -> None:
    text = f"Surat itu ditujukan kepada {abbreviation} Santoso Wibowo di kantornya. Ia datang pagi."
    assert sentences(text) == [
        f"Surat itu ditujukan kepada {abbreviation} Santoso Wibowo di kantornya.",
        "Ia datang pagi.",
    ]


def test_stacked_titles_degrees_and_initials() -> None:
    text = (
        "Prof. Dr. Ir. H. Budi Santoso, S.H., M.H. membuka acara. "
        "Turut hadir B. J. Habibie, Moh. Hatta dan Hj. Siti Aminah, S.Pd. Mereka disambut meriah."
    )
    assert sentences(text) == [
        "Prof. Dr. Ir. H. Budi Santoso, S.H., M.H. membuka acara.",
        "Turut hadir B. J. Habibie, Moh. Hatta dan Hj. Siti Aminah, S.Pd.",
        "Mereka disambut meriah.",
    ]


def test_trailing_abbreviation_ends_sentence_before_a_sentence_opener() -> None:
    text = "Mereka membawa beras, gula, minyak, dll. Kemudian bantuan dibagikan."
    assert sentences(text) == ["Mereka membawa beras, gula, minyak, dll.", "Kemudian bantuan dibagikan."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jeruk kaya vitamin C. Namun kulitnya pahit.", 2),
        ("Italia berada di Grup A. Tim itu lolos.", 2),
        ("Acara digelar pada hari H. Berarti semua siap.", 2),
        ("Mesin baru menggantikan mesin 1,6 L. Tenaganya lebih besar.", 2),
        ("Pesan dari M. Nasir sudah diterima.", 1),
    ],
)
def test_single_capital_letters(text: str, expected: int) -> None:
    assert len(sentences(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Sebanyak 10.000 orang hadir dan 1.500.000 lainnya menonton dari rumah.",
        "Inflasi naik 3,5 persen, lebih tinggi dari 2.5 persen tahun lalu.",
        "Acara dimulai pukul 10.30 WIB pada 20/11 di gedung utama.",
        "Aplikasi versi 1.2.3 sudah bisa diunduh.",
        "Ia menerima Rp. 10.000.000, - sebagai hadiah utama.",
        "Rumahnya di Jl. Merdeka No. 5 Kec. Ilir Timur, Kab. Banyuasin.",
        "Informasi lengkap ada di kemenkumham.go.id atau lewat surel humas@kemenkumham.go.id bagi warga.",
        "Pertandingan Persib vs. Persija berlangsung ketat.",
        "Ia tiba sekitar pk. sembilan pagi dan langsung bekerja.",
        "Kalau mobil masih jarang. masih hitungan jari yang mampir.",
        "Rapat ini membahas anggaran daerah tanpa henti sejak pagi hingga malam dengan banyak peserta " * 20,
    ],
)
def test_no_split_inside(text: str) -> None:
    assert sentences(text) == [text.strip()]


def test_url_at_the_end_of_a_sentence_still_ends_it() -> None:
    text = "Pendaftaran dibuka di kemenkumham.go.id. Selain itu, warga bisa datang langsung."
    assert sentences(text) == [
        "Pendaftaran dibuka di kemenkumham.go.id.",
        "Selain itu, warga bisa datang langsung.",
    ]


def test_question_exclamation_and_ellipsis() -> None:
    text = "Siapa yang bertanggung jawab? Tidak ada! Semua diam... Rapat bubar… 2018 pun berlalu."
    assert sentences(text) == [
        "Siapa yang bertanggung jawab?",
        "Tidak ada!",
        "Semua diam...",
        "Rapat bubar…",
        "2018 pun berlalu.",
    ]


def test_ellipsis_before_lowercase_continues() -> None:
    text = "Mungkin... entahlah, kita lihat saja nanti."
    assert sentences(text) == [text]


def test_paragraph_breaks_always_end_sentences() -> None:
    text = "Baca juga: Rapat Koordinasi Digelar\nKetua membuka rapat\n\n  Semua hadir tepat waktu.  \n\n\n"
    assert sentences(text) == [
        "Baca juga: Rapat Koordinasi Digelar",
        "Ketua membuka rapat",
        "Semua hadir tepat waktu.",
    ]


def test_numbered_and_lettered_list_items_keep_their_marker() -> None:
    text = "1. Pertama kita berdoa.\n2. Kedua kita bekerja.\nA. Calon penumpang wajib hadir."
    assert sentences(text) == [
        "1. Pertama kita berdoa.",
        "2. Kedua kita bekerja.",
        "A. Calon penumpang wajib hadir.",
    ]


def test_inline_lettered_list_does_not_split() -> None:
    text = "Setiap orang dilarang: a. Menjual minuman keras; b. Menyuruh orang lain berjudi."
    assert sentences(text) == [text]


def test_abbreviations_in_brackets() -> None:
    text = "Ia pernah menjabat Pelaksana Tugas (Plt.) Direktur Utama. Kini ia pensiun. (Uu. C003)"
    assert sentences(text) == [
        "Ia pernah menjabat Pelaksana Tugas (Plt.) Direktur Utama.",
        "Kini ia pensiun.",
        "(Uu. C003)",
    ]


def test_editor_initials_after_full_stop_are_separate() -> None:
    assert sentences("Korban sudah dimakamkan. (rsa)") == ["Korban sudah dimakamkan.", "(rsa)"]


def test_quote_glued_to_the_full_stop_opens_the_next_sentence() -> None:
    text = "Polisi mengamankan pelaku.“Beruntung tidak ada korban,” kata Kapolsek."
    assert sentences(text) == ["Polisi mengamankan pelaku.", "“Beruntung tidak ada korban,” kata Kapolsek."]


def test_stray_closing_quote_after_full_stop_belongs_to_the_sentence() -> None:
    text = 'Kami akan terus bekerja. "\n\nRapat selesai.'
    assert sentences(text) == ['Kami akan terus bekerja. "', "Rapat selesai."]


def test_brand_names_in_lowercase_open_sentences() -> None:
    text = "Apple merilis produk baru. iPad terbaru hadir bulan depan."
    assert sentences(text) == ["Apple merilis produk baru.", "iPad terbaru hadir bulan depan."]


@pytest.mark.parametrize("text", ["", "   ", "\n\n \t\n"])
def test_blank_text_has_no_sentences(text: str) -> None:
    assert split_sentences(text) == []


def test_offsets_point_into_the_original_text() -> None:
    text = "  Rapat dimulai.\tSemua hadir!\r\n\r\n“Bagus,” katanya.  "
    assert_well_formed(text)
    assert sentences(text) == ["Rapat dimulai.", "Semua hadir!", "“Bagus,” katanya."]


_SPLITTER_ALPHABET = st.sampled_from(
    [*'aAbBkK .,;:!?…"“”‘’()\n\t19-/', "Dr.", "dll.", "S.H.", " Ia ", "Rp. ", "...", "\u00a0", "\u2028"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_SPLITTER_ALPHABET, max_size=80).map("".join))
def test_sentences_are_stripped_ordered_and_lose_nothing(text: str) -> None:
    assert_well_formed(text)


# --- chunk_article -----------------------------------------------------------------------------


def make_article(text: str) -> Article:
    return Article(id="a1", text=text)


ARTICLE = make_article(
    "Palembang - Kepala Kanwil Dr. Andi Rahman menerima kunjungan Kepala BNNP, Senin (18/11). "
    "Pertemuan ini membahas koordinasi tugas kedua lembaga.\n"
    "Dalam pertemuan itu dibahas upaya penanggulangan narkoba di wilayah Sumatera Selatan. "
    "Ia menekankan pentingnya kolaborasi antarlembaga.\n\n"
    '"Kami sangat membutuhkan kolaborasi yang erat. Peredaran narkoba masih menjadi tantangan," ujar Budi.\n'
    "Kedua pihak juga membahas rencana penandatanganan nota kesepahaman. "
    "Selain itu, razia akan digelar lebih intensif."
)


def assert_chunks_valid(
    article: Article, chunks: list[Chunk], count: Callable[[str], int], max_tokens: int
) -> None:
    text = article.text
    for ordinal, chunk in enumerate(chunks):
        assert chunk.ordinal == ordinal and chunk.article_id == article.id
        assert chunk.text == text[chunk.start : chunk.end]
        assert count(chunk.text) <= max_tokens
        assert chunk.sentences and chunk.sentences[0].start == chunk.start
        assert chunk.sentences[-1].end == chunk.end
        for span in chunk.sentences:
            assert chunk.start <= span.start < span.end <= chunk.end
            piece = text[span.start : span.end]
            assert piece == piece.strip()
        assert all(a.end <= b.start for a, b in pairwise(chunk.sentences))
    for before, after in pairwise(chunks):
        assert after.end > before.end and after.start >= before.start  # always moves on
    covered = [False] * len(text)
    for chunk in chunks:
        for i in range(chunk.start, chunk.end):
            covered[i] = True
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())


@pytest.mark.parametrize("count", [words, chars])
@pytest.mark.parametrize("max_tokens", [1, 5, 12, 25, 60, 1000])
@pytest.mark.parametrize("overlap", [0, 1, 2])
def test_chunks_respect_budget_and_round_trip(
    count: Callable[[str], int], max_tokens: int, overlap: int
) -> None:
    chunks = chunk_article(ARTICLE, count, max_tokens, overlap)
    assert_chunks_valid(ARTICLE, chunks, count, max_tokens)


def test_whole_sentences_and_overlap_of_one() -> None:
    chunks = chunk_article(ARTICLE, words, 30, overlap_sentences=1)
    sentence_spans = split_sentences(ARTICLE.text)
    assert len(chunks) > 1
    for chunk in chunks:
        assert set(chunk.sentences) <= set(sentence_spans)  # no sentence was cut
    for before, after in pairwise(chunks):
        assert after.sentences[0] == before.sentences[-1]
        assert after.sentences[1:] and after.sentences[1].start > before.end


def test_no_overlap_chunks_partition_the_sentences() -> None:
    chunks = chunk_article(ARTICLE, words, 30, overlap_sentences=0)
    assert [s for c in chunks for s in c.sentences] == split_sentences(ARTICLE.text)


def test_overlap_larger_than_a_chunk_still_moves_forward() -> None:
    chunks = chunk_article(ARTICLE, words, 30, overlap_sentences=50)
    assert_chunks_valid(ARTICLE, chunks, words, 30)
    for before, after in pairwise(chunks):
        assert not set(after.sentences) <= set(before.sentences)
    assert chunks[-1].end == split_sentences(ARTICLE.text)[-1].end


def test_short_article_is_one_chunk() -> None:
    chunks = chunk_article(ARTICLE, words, 1000)
    assert len(chunks) == 1
    assert chunks[0].text == ARTICLE.text.strip()
    assert chunks[0].sentences == tuple(split_sentences(ARTICLE.text))


@pytest.mark.parametrize("text", ["", "  \n\n\t "])
def test_blank_article_has_no_chunks(text: str) -> None:
    assert chunk_article(make_article(text), words, 10) == []


def test_giant_sentence_is_cut_at_clauses() -> None:
    clause = "pemerintah daerah menyiapkan anggaran tambahan untuk warga"
    text = ", ".join([clause] * 12) + "."
    chunks = chunk_article(make_article(text), words, 20, overlap_sentences=0)
    assert_chunks_valid(make_article(text), chunks, words, 20)
    pieces = [text[s.start : s.end] for c in chunks for s in c.sentences]
    assert len(pieces) > 1
    assert all(p.endswith(",") for p in pieces[:-1])  # cut after commas, not mid-clause


def test_giant_sentence_without_clauses_is_cut_between_words() -> None:
    text = " ".join(f"kata{i}" for i in range(200)) + "."
    article = make_article(text)
    chunks = chunk_article(article, words, 30, overlap_sentences=1)
    assert_chunks_valid(article, chunks, words, 30)
    pieces = [text[s.start : s.end] for c in chunks for s in c.sentences]
    assert all(p.startswith("kata") for p in pieces)  # never cut inside a word
    assert max(words(p) for p in pieces) == 30  # pieces are filled, not tiny


def test_giant_word_falls_back_to_characters() -> None:
    text = "Awal. " + "x" * 500 + " akhir."
    article = make_article(text)
    chunks = chunk_article(article, chars, 40)
    assert_chunks_valid(article, chunks, chars, 40)


def test_joined_text_counting_more_than_its_sentences_is_shrunk() -> None:
    # A tokenizer that charges for line breaks: the sum of sentence counts underestimates a chunk.
    def newline_heavy(text: str) -> int:
        return len(text.split()) + 10 * text.count("\n")

    chunks = chunk_article(ARTICLE, newline_heavy, 30)
    assert_chunks_valid(ARTICLE, chunks, newline_heavy, 30)


def test_token_counting_is_economical() -> None:
    calls: list[str] = []

    def counting(text: str) -> int:
        calls.append(text)
        return words(text)

    chunks = chunk_article(ARTICLE, counting, 30)
    assert len(calls) <= 1 + len(split_sentences(ARTICLE.text)) + 2 * len(chunks)


def test_fixed_cost_per_call_is_not_charged_per_sentence() -> None:
    # Like a real embedder's counter: every call pays for the special tokens once.
    def with_specials(text: str) -> int:
        return words(text) + 2

    chunks = chunk_article(ARTICLE, with_specials, 40, overlap_sentences=0)
    assert_chunks_valid(ARTICLE, chunks, with_specials, 40)
    assert len(chunks) == len(chunk_article(ARTICLE, words, 38, overlap_sentences=0))


def test_budget_too_small_for_any_text_raises() -> None:
    with pytest.raises(ValueError):
        chunk_article(ARTICLE, lambda text: len(text) + 5, 3)


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 1), (10, -1)])
def test_invalid_arguments(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_article(ARTICLE, words, max_tokens, overlap)


_CHUNK_ALPHABET = st.sampled_from(
    list("ab Z.,!?\n") + ["Dr. ", "kata ", "Ia pergi. ", "panjangsekali", ", ", "\n\n", '"Ya," ujarnya. ']
)


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(_CHUNK_ALPHABET, max_size=120).map("".join),
    use_chars=st.booleans(),
    max_tokens=st.integers(min_value=1, max_value=40),
    overlap=st.integers(min_value=0, max_value=3),
)
def test_chunking_never_exceeds_budget_or_loses_text(
    text: str, use_chars: bool, max_tokens: int, overlap: int
) -> None:
    count = chars if use_chars else words
    article = make_article(text)
    chunks = chunk_article(article, count, max_tokens, overlap)
    assert_chunks_valid(article, chunks, count, max_tokens)
    assert bool(chunks) == bool(text.strip())
