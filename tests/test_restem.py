"""An index whose keyword rows an older tanya stemmed is re-stemmed by the next update, never re-embedded."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from pathlib import Path

import pytest
from conftest import make_app
from test_indexing import CountingEmbedder, write_corpus

from tanya.analysis import ANALYSIS_VERSION, fts_query, indexable_text, keyword_terms
from tanya.store.check import check_index
from tanya.store.database import DB_NAME
from tanya.store.impact import IMPACT_NAME
from tanya.store.manifest import read_manifest

# Words that exercise the analysis rules: stem fixes, compounds, hyphens, numbers, "se-" measures.
SAMPLE = (
    "Penandatanganan nota kesepahaman (MoU) kerjasama antara Pemkot Bau-Bau dan PT Samudra Jaya "
    "berlangsung di ibukota provinsi, Senin (4/3). Keduanya bertemu dan menandatangani perjanjian "
    'senilai Rp 10.000.000 untuk lahan seluas 3,5 hektare selama 275 SM... "Kami sepakat," kata '
    "Wali Kota Ir. H. Andi Mappaseng, didampingi Kepala Dinas Olahraga dan Sepakbola."
)
# sha256 of indexable_text(SAMPLE) under each analysis version.
PINNED = {1: "8f126adbdfb6987c8b68d3ed56deb2d5d92b4292ff93cc07fed2f5a03e2ddd02"}


def test_the_analysis_version_changes_with_what_the_keyword_rows_hold() -> None:
    digest = hashlib.sha256(indexable_text(SAMPLE).encode()).hexdigest()
    assert PINNED.get(ANALYSIS_VERSION) == digest, (
        "indexable_text's output changed: bump analysis.ANALYSIS_VERSION (old indexes are then re-stemmed on "
        "their next update) and pin the new digest here"
    )


def written_by_an_older_tanya(index_dir: Path) -> None:
    """Keyword rows as an analysis without stemming would have written them, with no version recorded."""
    conn = sqlite3.connect(index_dir / DB_NAME)
    rows = conn.execute(
        "SELECT c.id, a.text, c.start, c.end, a.title FROM chunks c JOIN articles a ON a.id = c.article_id"
    ).fetchall()
    conn.execute("DELETE FROM chunk_terms")
    for chunk_id, text, start, end, title in rows:
        conn.execute(
            "INSERT INTO chunk_terms (rowid, body, title) VALUES (?,?,?)",
            (chunk_id, text[start:end].lower(), title.lower()),
        )
    conn.execute("DELETE FROM meta WHERE key = 'analysis'")
    conn.commit()
    conn.close()


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "articles")


def signing_chunks(app) -> list[int]:  # type: ignore[no-untyped-def]
    """Chunks the keyword search finds for "penandatanganan" (the rapat article says "menandatangani")."""
    return [c for c, _ in app.index.db.keyword_search(fts_query(keyword_terms("penandatanganan")), 5)]


def test_an_update_re_stems_old_keyword_rows_without_embedding(
    tmp_path: Path, corpus: Path, caplog: pytest.LogCaptureFixture
) -> None:
    embedder = CountingEmbedder()
    app = make_app(tmp_path, embedder, vectors={"keyword_index_from": 1})
    app.build([corpus])
    assert app.index.db.analysis_version() == ANALYSIS_VERSION and check_index(app.index_dir).ok
    assert signing_chunks(app)
    app.close()

    written_by_an_older_tanya(app.index_dir)
    report = check_index(app.index_dir)
    assert any("tanya index update" in p and "re-stems" in p for p in report.problems)
    with caplog.at_level(logging.WARNING, logger="tanya.app"):
        reader = make_app(tmp_path, embedder, vectors={"keyword_index_from": 1})
        assert signing_chunks(reader) == []  # the old rows hold "menandatangani", the question asks "tandatangan"
    assert "tanya index update" in caplog.text
    reader.close()

    vectors = app.index_dir / "vectors.faiss"
    written, embedded = vectors.stat().st_mtime_ns, embedder.embedded
    updater = make_app(tmp_path, embedder, vectors={"keyword_index_from": 1})
    summary = updater.update()
    chunks = updater.index.db.counts()["chunks"]
    assert (summary.restemmed, summary.chunks_embedded, summary.unchanged) == (chunks, 0, 2)
    assert f"keyword rows of {chunks} chunks re-stemmed" in summary.to_text()
    assert embedder.embedded == embedded and vectors.stat().st_mtime_ns == written  # vectors left alone

    db = updater.index.db
    for chunk_id, text, start, end in db.conn.execute(
        "SELECT c.id, a.text, c.start, c.end FROM chunks c JOIN articles a ON a.id = c.article_id"
    ):
        body = db.conn.execute("SELECT body FROM chunk_terms WHERE rowid = ?", (chunk_id,)).fetchone()[0]
        assert body == indexable_text(text[start:end])
    assert db.analysis_version() == ANALYSIS_VERSION
    assert read_manifest(app.index_dir).generation == db.generation()  # readers trust vectors.faiss
    assert (app.index_dir / IMPACT_NAME).exists() and check_index(app.index_dir).ok
    assert signing_chunks(updater)
    assert updater.update().restemmed == 0
    updater.close()
