"""Quote 1 reporting the opposite of what is asked (founded, not dissolved) is no answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_app, write_article

from tanya.answer import compose_answer, quotes_the_opposite
from tanya.config import AnswerSettings
from tanya.opposites import asks_what_is_not, reports_opposite
from tanya.signals import names_missing_from
from tanya.types import Article, Span

FOUNDED = "Koperasi Tani Makmur didirikan di Desa Sukamaju pada 12 Maret 2015 oleh 40 petani."


@pytest.mark.parametrize(
    ("question", "quote", "article", "expected"),
    [
        ("Kapan Koperasi Tani Makmur dibubarkan?", FOUNDED, FOUNDED, ("dibubarkan", "didirikan")),
        ("Siapa ketua terakhir koperasi itu?", "Ketua pertama koperasi itu Budi.", "", ("terakhir", "pertama")),
        ("Kapan Pak Harun meninggal?", "Pak Harun lahir di Bogor pada 1950.", "", ("meninggal", "lahir")),
        # The article says what was asked, in the asked word or another one for it: it may answer.
        ("Kapan koperasi dibubarkan?", FOUNDED, FOUNDED + " Pada 2020 koperasi itu dibubarkan.", None),
        ("Kapan Pak Harun meninggal?", "Pak Harun lahir di Bogor.", "Pak Harun lahir di Bogor. Ia wafat 2019.", None),
        # A negated word asks what its opposite reports; a question using both words asks about both.
        ("Siapa yang tidak berhasil lolos?", "Budi gagal lolos seleksi.", "Budi gagal lolos seleksi.", None),
        ("Kapan pertama dan terakhir ia tampil?", "Ia pertama tampil 2001.", "Ia pertama tampil 2001.", None),
        # Surface words, not stems: "akhir Mei" is no "terakhir", "meninggalkan" (to leave) no "meninggal".
        ("Siapa yang hadir akhir Mei?", "Pertemuan pertama digelar.", "Pertemuan pertama digelar.", None),
        ("Kapan ia lahir?", "Ia meninggalkan Bogor pada 1970.", "Ia meninggalkan Bogor pada 1970.", None),
        # Nothing opposite in the quote.
        ("Kapan Koperasi Tani Makmur dibubarkan?", "Koperasi itu punya 40 anggota.", FOUNDED, None),
    ],
)
def test_reports_opposite(question: str, quote: str, article: str, expected: tuple[str, str] | None) -> None:
    assert reports_opposite(question, quote, article or quote) == expected


def test_quotes_the_opposite_reads_the_quoted_span_of_its_article() -> None:
    text = "Koperasi itu punya 40 anggota. " + FOUNDED
    article = Article("a", text, title="Koperasi")
    founded = Span(text.index("Koperasi Tani"), len(text))
    assert quotes_the_opposite("Kapan Koperasi Tani Makmur dibubarkan?", article, founded)
    assert not quotes_the_opposite("Kapan Koperasi Tani Makmur dibubarkan?", article, Span(0, founded.start))
    assert quotes_the_opposite("Siapa yang bukan anggota koperasi itu?", article, Span(0, founded.start))


def test_asking_when_it_ended_is_declined_when_the_article_only_says_when_it_began(tmp_path: Path) -> None:
    write_article(tmp_path / "a", "koperasi.txt", "Koperasi Tani Makmur di Sukamaju",
                  FOUNDED + " Koperasi itu kini menampung panen padi dan jagung dari tiga desa.")
    app = make_app(tmp_path)
    app.build([tmp_path / "a"])
    settings = AnswerSettings(min_score=0.0)  # only this rule declines here, not the answer model
    founded = app.retrieve("Kapan Koperasi Tani Makmur didirikan?")
    assert "12 Maret 2015" in compose_answer(founded, app.index.db, settings).quotes[0].text
    dissolved = app.retrieve("Kapan Koperasi Tani Makmur dibubarkan?")
    assert not compose_answer(dissolved, app.index.db, settings).answered


@pytest.mark.parametrize(
    ("question", "article", "expected"),
    [
        ("Siapa yang bukan vokalis band itu?", "Vokalis band itu adalah Budi.", "vokalis"),
        # The article says "bukan ..." itself: it may answer.
        ("Siapa adipati yang bukan berasal dari Madura?", "Ia bukan berasal dari Madura.", None),
        ("Siapa vokalis band itu?", "Vokalis band itu adalah Budi.", None),
    ],
)
def test_asks_what_is_not(question: str, article: str, expected: str | None) -> None:
    assert asks_what_is_not(question, article) == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Siapa yang hadir saat Bupati Lestari bertemu petani di Desa Sukamaju?", []),
        ("Siapa yang hadir saat Bupati Lestari bertemu petani di Desa Cibodas?", ["Cibodas"]),
        ("Siapa yang mendampingi Bupati Lestari dan Gubernur Ganjar Pranowo?", ["Ganjar", "Pranowo"]),
        # Roles and bodies' prefixes are no names; a hyphenated word passes on a part; "-nya" is left off.
        ("Siapa yang hadir dalam rapat Kementerian Pertanian dan Ditjen Hortikultura di Sukamaju?", ["Hortikultura"]),
        ("Siapa perwakilan Kedutaan China yang hadir di kampus Sukamaju?", []),  # bodies and places, not names
        ("Apa yang disepakati dalam kerja sama Sukamaju-Cibodas?", []),
        ("Apa yang disepakati Lestari-nya?", []),
        # A nickname passes on its full name.
        ("Siapa yang mendampingi Jokowi di Sukamaju?", []),
    ],
)
def test_names_missing_from(question: str, expected: list[str]) -> None:
    title = "Bupati Lestari temui petani Sukamaju"
    text = "Bupati Lestari bertemu petani di Desa Sukamaju bersama Presiden Joko Widodo dan Kementerian Pertanian."
    assert names_missing_from(question, title, text) == expected


def test_a_meeting_question_naming_a_place_its_article_never_writes_is_declined(tmp_path: Path) -> None:
    write_article(tmp_path / "a", "temu.txt", "Bupati Lestari temui petani Sukamaju",
                  "Bupati Lestari bertemu kelompok tani di Desa Sukamaju, Senin. Turut hadir Kepala Dinas Pertanian "
                  "Rahmat Hidayat dan Camat Sukamaju Dewi Anggraini.")
    write_article(tmp_path / "a", "cibodas.txt", "Panen raya di Cibodas",
                  "Petani Desa Cibodas memanen padi seluas 40 hektare pekan ini.")
    app = make_app(tmp_path)
    app.build([tmp_path / "a"])
    settings = AnswerSettings(min_score=0.0)  # only this rule declines here, not the answer model
    here = app.retrieve("Siapa yang hadir saat Bupati Lestari bertemu petani di Desa Sukamaju?")
    assert "Rahmat Hidayat" in " ".join(q.text for q in compose_answer(here, app.index.db, settings).quotes)
    elsewhere = app.retrieve("Siapa yang hadir saat Bupati Lestari bertemu petani di Desa Cibodas?")
    assert not compose_answer(elsewhere, app.index.db, settings).answered
