"""Hostile input: broken files are skipped and counted, strange questions get answers or one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_app, write_article
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tanya.errors import InputError
from tanya.ingest import IngestReport, read_sources

GOOD = (
    "Ambon - Gubernur Maluku Raya, Dr. Yakobus Latumahina, menerima audiensi Ketua Himpunan Nelayan, "
    "Abdul Rahman, Selasa (2/4). Keduanya sepakat membangun pabrik es di Pulau Seram."
)


def hostile_corpus(folder: Path) -> int:
    """Writes hostile files beside one good article; returns how many of them must be skipped."""
    write_article(folder, "good.txt", "Gubernur terima nelayan", GOOD)
    (folder / "random.txt").write_bytes(os.urandom(4096))
    (folder / "empty.md").write_bytes(b"")
    (folder / "blank.txt").write_text("   \n\n\t  \n")
    (folder / "nul.txt").write_bytes(b"Judul\x00 dengan NUL\x00\x00 di dalamnya")
    (folder / "nested.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "broken.json").write_text('{"id": "x", "text": "tidak ditutup')
    (folder / "lines.jsonl").write_text(
        '{"id": "ok-1", "title": "Rapat", "text": "Rapat membahas jembatan Wai Apu di Buru."}\n'
        '{"id": "bad", "text": \n'
        '{"id": "no-text"}\n'
        "[1, 2, 3]\n"
        '{"id": "num", "text": 12345}\n'
    )
    (folder / "script.html").write_text(
        "<html><head><title>Rapat <b>DPRD</title><script>alert('x')</script></head>"
        "<body><p>DPRD Kota Tual menggelar rapat dengar pendapat soal air bersih, Rabu (3/4)."
        "<script>document.write('<p>bukan teks')</script><div><p>Rapat dipimpin Ketua DPRD Hasan Rumra"
    )
    (folder / "long-line.txt").write_text("kata " * 400_000)  # a 2 MB single line
    with open(folder / "huge.txt", "wb") as handle:  # over the size limit, without writing 100 MB
        handle.truncate(100_000_000)
    (folder / "unicode.txt").write_text(
        "Rapat\u200b zero\u200dwidth\n\u202eمرحبا right-to-left 🤝 emoji e\u0301 gabung, Kamis (4/4).\n"
    )
    return 9  # random, empty, blank, nested, broken, bad line, no-text, array, number text, huge ...


def test_hostile_files_are_skipped_and_good_ones_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    hostile_corpus(folder)
    app = make_app(tmp_path)
    summary = app.build([folder])
    ids = set(app.index.db.article_hashes())
    assert {"good.txt", "ok-1", "long-line.txt", "unicode.txt", "script.html"} <= ids
    for bad in ("random.txt", "empty.md", "blank.txt", "nested.json", "broken.json", "huge.txt", "no-text"):
        assert bad not in ids
    assert summary.skipped >= 9
    assert all("\n" not in w for w in summary.warnings)
    assert any("huge.txt" in w and "too large" in w for w in summary.warnings)
    assert any("lines.jsonl:2" in w for w in summary.warnings)
    html = app.index.db.article("script.html")
    assert html is not None and "alert" not in html.text and "document.write" not in html.text
    answer = app.ask("Siapa yang diterima Gubernur Maluku Raya?")
    assert answer.answered and answer.quotes[0].article_id == "good.txt"
    counts = app.index.db.counts()
    assert counts["chunks"] == counts["keyword_rows"] == len(app.index.vectors)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=2000), suffix=st.sampled_from([".txt", ".md", ".html", ".json", ".jsonl"]))
def test_any_bytes_are_read_or_skipped(
    tmp_path_factory: pytest.TempPathFactory, content: bytes, suffix: str
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / f"f{suffix}").write_bytes(content)
    report = IngestReport()
    articles = list(read_sources([folder], report))
    assert len(articles) + report.skipped >= (1 if suffix != ".jsonl" else 0)
    for article in articles:
        assert article.text.strip()
        assert "\x00" not in article.text


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=300))
def test_any_text_article_chunks_and_round_trips(text: str) -> None:
    from tanya.chunking import chunk_article
    from tanya.types import Article

    article = Article(id="x", text=text)
    for chunk in chunk_article(article, lambda s: len(s.split()) + 2, 40, 1):
        assert article.text[chunk.start : chunk.end] == chunk.text


HOSTILE_QUESTIONS = [
    "AND OR NEAR( * ^ -",
    '"unbalanced quote',
    "((((( ))",
    "'; DROP TABLE articles; --",
    "SELECT * FROM chunks WHERE 1=1",
    "?!?!...,,,",
    "🤝🤝🤝",
    "\u202e\u200b\u200d",
    "siapa " * 2000,
    "x" * 10_000,
    "NEAR(hadir sepakat, 2) AND title:gubernur",
    "hadir* ^sepakat",
]


@pytest.fixture(scope="module")
def small_app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("hostile-app")
    write_article(root / "articles", "good.txt", "Gubernur terima nelayan", GOOD)
    app = make_app(root)
    app.build([root / "articles"])
    return app


@pytest.mark.parametrize("question", HOSTILE_QUESTIONS)
def test_hostile_questions_never_raise(small_app, question: str) -> None:  # type: ignore[no-untyped-def]
    answer = small_app.ask(question)
    json.dumps(answer.to_dict())
    for quote in answer.quotes:
        article = small_app.index.db.article(quote.article_id)
        assert article.text[quote.start : quote.end] == quote.text
    assert small_app.index.db.counts()["articles"] == 1


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_questions_are_refused(small_app, question: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError):
        small_app.ask(question)


def test_hostile_batch_through_the_cli(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    write_article(folder, "good.txt", "Gubernur terima nelayan", GOOD)
    env = {"PATH": "/usr/bin:/bin", "TANYA_MODEL__NAME": "hashing", "HOME": str(tmp_path)}
    base = [sys.executable, "-m", "tanya", "--index", str(tmp_path / "idx")]
    built = subprocess.run([*base, "index", "build", str(folder)], capture_output=True, text=True, env=env)
    assert built.returncode == 0, built.stderr
    lines = [json.dumps({"id": i, "question": q}) for i, q in enumerate(HOSTILE_QUESTIONS + ["", "   "])]
    lines.append("this is not json")
    result = subprocess.run(
        [*base, "ask", "--batch", "-"],
        input="\n".join(lines[:-1]) + "\n",
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == list(range(len(HOSTILE_QUESTIONS) + 2))
    assert rows[-1]["answered"] is False and "empty" in rows[-1]["error"]
    bad = subprocess.run(
        [*base, "ask", "--batch", "-"], input="\n".join(lines) + "\n", capture_output=True, text=True, env=env
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert f"-:{len(lines)}: malformed JSON" in bad.stderr
