"""Reading files and records into articles: formats, titles, encodings and what gets skipped."""

from __future__ import annotations

import json
import logging
import os
import unicodedata
from pathlib import Path

import pytest

from tanya.errors import InputError
from tanya.ingest import IngestReport, read_sources
from tanya.types import Article

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "articles"


def read(*sources: Path, max_bytes: int = 50_000_000) -> tuple[list[Article], IngestReport]:
    report = IngestReport()
    return list(read_sources(list(sources), report, max_bytes=max_bytes)), report


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def only(articles: list[Article]) -> Article:
    assert len(articles) == 1, articles
    return articles[0]


# --- plain text: titles and body


def test_first_line_is_the_title_when_it_looks_like_one(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        "Pemkot Palembang Teken MoU dengan Kampus\n\nPalembang - Pemerintah kota menandatangani nota.\n",
    )
    article = only(read(path)[0])
    assert article.title == "Pemkot Palembang Teken MoU dengan Kampus"
    assert article.text == "Palembang - Pemerintah kota menandatangani nota."
    assert (article.id, article.origin) == ("a.txt", "a.txt")


def test_a_first_sentence_ending_with_a_period_is_body_not_title(tmp_path: Path) -> None:
    content = "Rapat digelar Senin pagi.\nPeserta datang dari tiga dinas."
    article = only(read(write(tmp_path / "a.txt", content))[0])
    assert article.title == ""
    assert article.text == content


@pytest.mark.parametrize(
    "content",
    [
        "Hanya satu baris tanpa titik",
        "Kata wali kota:\nKami siap.",
        '"Kami siap bekerja sama."\nItu kata dia.',
        " ".join(["kata"] * 21) + "\nBadan berita.",
    ],
)
def test_no_title_when_the_first_line_is_not_one(tmp_path: Path, content: str) -> None:
    article = only(read(write(tmp_path / "a.txt", content))[0])
    assert article.title == ""
    assert article.text == content


def test_dateline_stays_in_the_text(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "Audiensi Nelayan\n\nPalembang - Para nelayan datang. Mereka diterima.")
    assert only(read(path)[0]).text.startswith("Palembang - Para nelayan datang.")


def test_text_is_normalised_but_otherwise_exact(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "café")
    raw = f"Judul Berita\r\n\r\n\r\nSatu.  \r\nBaris\tdua\x07 di {decomposed}.\t\rLagi.\r\n\r\nDua.\r\n"
    article = only(read(write(tmp_path / "a.txt", raw.encode("utf-8")))[0])
    assert article.title == "Judul Berita"
    assert article.text == "Satu.\nBaris\tdua di café.\nLagi.\n\nDua."
    assert article.text == unicodedata.normalize("NFC", article.text)


def test_nul_and_control_characters_are_stripped_from_records(tmp_path: Path) -> None:
    record = {"id": "n\u0000", "title": "Ju\u0001dul\nBaru", "text": "Sa\u0000tu\u001f dua\u007f.\r\nTiga."}
    article = only(read(write(tmp_path / "r.jsonl", json.dumps(record)))[0])
    assert (article.id, article.title, article.text) == ("n", "Judul Baru", "Satu dua.\nTiga.")


# --- markdown


def test_markdown_front_matter_gives_metadata(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.md",
        "---\ntitle: Audiensi Dinas Kesehatan\ndate: 2024-03-12\nsource: Contoh Fiktif\n"
        "url: https://contoh.example/a\ncategory: daerah\n---\n\n# Audiensi Dinas Kesehatan\n\n"
        "Kendari - Dinas menerima asosiasi.\n",
    )
    article = only(read(path)[0])
    assert article.title == "Audiensi Dinas Kesehatan"
    assert article.date == "2024-03-12"
    assert article.source == "Contoh Fiktif"
    assert article.url == "https://contoh.example/a"
    assert article.id == "https://contoh.example/a"
    assert article.origin == "m.md"
    assert article.text == "Kendari - Dinas menerima asosiasi."


def test_markdown_heading_is_the_title(tmp_path: Path) -> None:
    article = only(read(write(tmp_path / "m.md", "# Rapat Koordinasi.\n\nIsi rapat."))[0])
    assert (article.title, article.text, article.id) == ("Rapat Koordinasi.", "Isi rapat.", "m.md")


def test_bad_markdown_front_matter_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "bad.md", "---\ntitle: [tidak ditutup\n---\nIsi.\n")
    write(tmp_path / "list.md", "---\n- satu\n- dua\n---\nIsi.\n")
    write(tmp_path / "open.md", "---\ntitle: Judul\nIsi tanpa penutup.\n")
    articles, report = read(tmp_path)
    assert articles == []
    assert report.skipped == 3
    assert all("bad front matter" in warning for warning in report.warnings)


# --- JSON Lines and JSON


def test_jsonl_reads_good_lines_and_reports_bad_ones(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a1", "title": "Satu", "date": " 12/03/2024 ", "text": "Teks.", "category": "x"}),
        "",
        "{ini bukan json",
        json.dumps({"id": "a2", "title": "Tanpa teks"}),
        json.dumps({"id": "a3", "text": 42}),
        json.dumps({"id": "a4", "text": "   "}),
        json.dumps({"id": 7, "title": None, "date": 20240312, "source": 3.5, "url": None, "text": "Tujuh."}),
        json.dumps({"url": "https://contoh.example/u", "text": "Dengan url."}),
        json.dumps({"text": "Tanpa id."}),
        json.dumps(["bukan", "objek"]),
    ]
    path = write(tmp_path / "feed.jsonl", "\n".join(lines) + "\n")
    articles, report = read(path)

    assert [a.id for a in articles] == ["a1", "7", "https://contoh.example/u", "feed.jsonl#9"]
    first, seventh = articles[0], articles[1]
    assert (first.title, first.date, first.text, first.origin) == (
        "Satu",
        "12/03/2024",
        "Teks.",
        "feed.jsonl:1",
    )
    assert (seventh.title, seventh.date, seventh.source, seventh.url) == ("", "20240312", "3.5", "")
    assert articles[3].origin == "feed.jsonl:9"

    assert report.skipped == 5
    where = str(path)
    assert report.warnings[0].startswith(f"{where}:3: malformed JSON (")
    assert report.warnings[1] == f"{where}:4: missing text"
    assert report.warnings[2] == f"{where}:5: text is a number, not a string"
    assert report.warnings[3] == f"{where}:6: empty text"
    assert report.warnings[4].startswith(f"{where}:10: record is a JSON array")


def test_json_list_single_object_and_articles_key(tmp_path: Path) -> None:
    records = [{"id": "l1", "text": "Satu."}, {"text": "Dua."}, {"id": "l3"}]
    write(tmp_path / "a_list.json", json.dumps(records, indent=2))
    write(tmp_path / "b_one.json", json.dumps({"title": "Tunggal", "text": "Satu objek."}))
    write(tmp_path / "c_wrapped.json", json.dumps({"articles": [{"id": "w1", "text": "Dibungkus."}]}))
    write(tmp_path / "d_broken.json", '{\n  "text": "x",\n  oops\n}')
    articles, report = read(tmp_path)

    assert [(a.id, a.origin) for a in articles] == [
        ("l1", "a_list.json#1"),
        ("a_list.json#2", "a_list.json#2"),
        ("b_one.json", "b_one.json"),
        ("w1", "c_wrapped.json#1"),
    ]
    assert articles[2].title == "Tunggal"
    assert report.warnings[0] == f"{tmp_path / 'a_list.json'}#3: missing text"
    assert report.warnings[1].startswith(f"{tmp_path / 'd_broken.json'}:3: malformed JSON (")
    assert report.skipped == 2


# --- HTML


def test_html_with_script_gives_main_text_and_metadata(tmp_path: Path) -> None:
    html = """<!doctype html><html><head><meta charset="utf-8">
<title>Pemkot dan Kampus Teken MoU - Kabar Contoh</title>
<link rel="canonical" href="https://contoh.example/berita/mou">
<meta property="article:published_time" content="2024-03-12T10:00:00+08:00">
<script>var iklan = "JANGAN MUNCUL";</script><style>p { color: red }</style></head>
<body><nav><a href="/">Beranda</a> <a href="/daerah">Daerah</a></nav>
<article><h1>Pemkot dan Kampus Teken MoU</h1>
<p>Makassar - Pemerintah Kota Makassar dan Universitas Contoh meneken nota kesepahaman, Selasa (12/3).</p>
<script>document.write("JUGA JANGAN MUNCUL");</script>
<p>"Kerja sama ini membuka jalan bagi riset terapan," kata Wali Kota Dr. H. Ahmad Fauzi, S.H.</p>
<p>Penandatanganan dihadiri Rektor Prof. Ir. Siti Rahma, M.T. dan jajaran dekan fakultas.</p>
</article><footer>Hak cipta dilindungi.</footer></body></html>"""
    article = only(read(write(tmp_path / "berita.html", html))[0])
    assert article.title == "Pemkot dan Kampus Teken MoU"
    assert article.text.startswith("Makassar - Pemerintah Kota Makassar")
    assert "kata Wali Kota Dr. H. Ahmad Fauzi, S.H." in article.text
    assert "JANGAN MUNCUL" not in article.text
    assert "color" not in article.text
    assert article.url == "https://contoh.example/berita/mou"
    assert article.date == "2024-03-12T10:00:00+08:00"
    assert (article.id, article.origin) == ("berita.html", "berita.html")


def test_tiny_html_page_falls_back_to_plain_text(tmp_path: Path) -> None:
    html = "<html><head><title>Kecil</title><script>x()</script></head><body><div>Satu dua.</div></body>"
    article = only(read(write(tmp_path / "kecil.htm", html))[0])
    assert (article.title, article.text) == ("Kecil", "Satu dua.")


def test_html_without_text_is_skipped(tmp_path: Path) -> None:
    html = "<html><head><title>T</title></head><body><script>x()</script></body></html>"
    path = write(tmp_path / "kosong.html", html)
    articles, report = read(path)
    assert articles == []
    assert report.warnings == [f"{path}: no text found in the HTML"]


# --- encodings and unusable files


def test_cp1252_file_is_decoded_not_dropped(tmp_path: Path) -> None:
    path = write(tmp_path / "lama.txt", "Rp 10.000 – café".encode("cp1252"))
    articles, report = read(path)
    assert only(articles).text == "Rp 10.000 – café"
    assert report.skipped == 0


def test_utf8_bom_and_utf16_are_read(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "\ufeffBerita dengan BOM.".encode())
    write(tmp_path / "b.txt", "Berita UTF-16 – café.".encode("utf-16"))
    articles, _ = read(tmp_path)
    assert [a.text for a in articles] == ["Berita dengan BOM.", "Berita UTF-16 – café."]


def test_binary_and_empty_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "gambar.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    write(tmp_path / "kendali.txt", bytes([1, 2, 3, 4, 5, 6, 65]) * 20)
    write(tmp_path / "kosong.txt", b"")
    write(tmp_path / "spasi.md", " \n\t\r\n  ")
    write(tmp_path / "escape.txt", b"\x1b")  # found by tests/test_hostile.py's fuzzing: not empty until cleaned
    write(tmp_path / "lonceng.txt", b"\n    \x07      \n\n      \n")
    articles, report = read(tmp_path)
    assert articles == []
    assert sorted(report.warnings) == sorted(
        [
            f"{tmp_path / 'gambar.txt'}: binary file",
            f"{tmp_path / 'kendali.txt'}: binary file",
            f"{tmp_path / 'kosong.txt'}: empty",
            f"{tmp_path / 'spasi.md'}: empty",
            f"{tmp_path / 'escape.txt'}: no text once control characters are removed",
            f"{tmp_path / 'lonceng.txt'}: no text once control characters are removed",
        ]
    )


def test_files_over_max_bytes_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "besar.txt", "x" * 2_000_000)
    articles, report = read(path, max_bytes=1_000_000)
    assert articles == []
    assert report.warnings == [f"{path}: too large (2.0 MB)"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs file permissions that bind")
def test_unreadable_file_is_skipped_with_the_os_reason(tmp_path: Path) -> None:
    path = write(tmp_path / "rahasia.txt", "Isi.")
    path.chmod(0)
    try:
        articles, report = read(tmp_path)
    finally:
        path.chmod(0o644)
    assert articles == []
    assert report.warnings == [f"{path}: Permission denied"]


def test_read_errors_are_skipped_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "a.txt", "Isi.")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    articles, report = read(tmp_path)
    assert articles == []
    assert report.warnings == [f"{tmp_path / 'a.txt'}: Permission denied"]


def test_skips_are_logged_as_one_warning_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path / "kosong.txt", "")
    with caplog.at_level(logging.WARNING, logger="tanya.ingest"):
        read(tmp_path)
    assert [r.getMessage() for r in caplog.records] == [f"skipped {tmp_path / 'kosong.txt'}: empty"]


# --- folders, ids and duplicates


def test_nested_folders_give_relative_path_ids_in_sorted_order(tmp_path: Path) -> None:
    write(tmp_path / "b.txt", "Berita B.")
    write(tmp_path / "2024" / "rapat.txt", "Berita rapat.")
    write(tmp_path / "2024" / "03" / "mou.md", "Berita MoU.")
    write(tmp_path / ".git" / "x.txt", "tersembunyi")
    write(tmp_path / ".draf.txt", "tersembunyi")
    write(tmp_path / "catatan.pdf", "bukan format yang dibaca")
    write(tmp_path / "data.csv", "a,b")
    articles, report = read(tmp_path)
    assert [a.id for a in articles] == ["2024/03/mou.md", "2024/rapat.txt", "b.txt"]
    assert [a.origin for a in articles] == ["2024/03/mou.md", "2024/rapat.txt", "b.txt"]
    assert report.skipped == 0


def test_single_file_source_is_named_by_its_file_name(tmp_path: Path) -> None:
    path = write(tmp_path / "2024" / "rapat.txt", "Berita rapat.")
    assert only(read(path)[0]).id == "rapat.txt"


def test_explicitly_named_unsupported_file_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "catatan.pdf", "x")
    articles, report = read(path)
    assert articles == []
    assert report.warnings == [f"{path}: unsupported file type (.pdf)"]


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    write(tmp_path / "a.jsonl", '{"id": "sama", "text": "Pertama."}\n{"id": "sama", "text": "Kedua."}\n')
    write(tmp_path / "b.json", json.dumps({"id": "sama", "text": "Ketiga."}))
    articles, report = read(tmp_path)
    assert [a.text for a in articles] == ["Pertama."]
    first = f"{tmp_path / 'a.jsonl'}:1"
    assert report.warnings == [
        f"{tmp_path / 'a.jsonl'}:2: duplicate id 'sama' (first seen at {first})",
        f"{tmp_path / 'b.json'}: duplicate id 'sama' (first seen at {first})",
    ]


def test_nonexistent_source_raises_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "tidak-ada"
    with pytest.raises(InputError, match="no such file or folder"):
        read_sources([tmp_path, missing], IngestReport())


# --- the bundled examples


def test_bundled_examples_read_cleanly() -> None:
    articles, report = read(EXAMPLES)
    assert report.warnings == []
    assert len(articles) == 8
    for article in articles:
        assert article.title and article.text and " - " in article.text.split("\n", 1)[0]
        assert 150 <= len(article.text.split()) <= 350, article.id
