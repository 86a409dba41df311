"""Build and update: adds, changes and removals; unchanged articles embed nothing; the manifest guards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_app, write_article

from tanya.embedding import HashingEmbedder
from tanya.errors import IndexMismatchError, IndexMissingError
from tanya.store.index import Index

RAPAT = (
    "Makassar - Wali Kota Makassar, Ir. H. Andi Mappaseng menerima kunjungan Rektor Universitas Pesisir, "
    "Prof. Dr. Lestari Wulandari, Senin (4/3). Keduanya menandatangani nota kesepahaman tentang beasiswa "
    'nelayan. "Kami sepakat membuka 200 kursi beasiswa," kata Andi.'
)
PELABUHAN = (
    "Bitung - Kepala Otoritas Pelabuhan Bitung, Kapten Yohanis Rumengan, bertemu Ketua Koperasi Nelayan "
    "Samudra, Maria Lumintang, Kamis (7/3). Pertemuan membahas jadwal sandar kapal ikan dan tarif tambat."
)


class CountingEmbedder(HashingEmbedder):
    """Counts how many passages it embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def encode_passages(self, passages):  # type: ignore[no-untyped-def]
        self.embedded += len(passages)
        return super().encode_passages(passages)


def write_corpus(folder: Path) -> Path:
    """Two small articles in `folder` (one in a subfolder): a signed MoU and a harbour meeting."""
    write_article(folder, "rapat.txt", "Pemkot dan Universitas Pesisir teken MoU beasiswa", RAPAT)
    write_article(folder, "sub/pelabuhan.txt", "Otoritas pelabuhan temui koperasi nelayan", PELABUHAN)
    return folder


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "articles")


def test_build_then_ask(tmp_path: Path, corpus: Path) -> None:
    app = make_app(tmp_path)
    summary = app.build([corpus])
    assert (summary.added, summary.skipped) == (2, 0)
    assert summary.chunks_embedded >= 2
    answer = app.ask("Apa isi nota kesepahaman Wali Kota Makassar dan Universitas Pesisir?")
    assert answer.answered
    first = answer.quotes[0]
    article = app.index.db.article(first.article_id)
    assert article is not None and article.text[first.start : first.end] == first.text
    assert first.article_id == "rapat.txt"


def test_unchanged_update_embeds_nothing(tmp_path: Path, corpus: Path) -> None:
    embedder = CountingEmbedder()
    app = make_app(tmp_path, embedder)
    app.build([corpus])
    before = embedder.embedded
    summary = app.update()
    assert summary.to_dict() | {"seconds": 0} == {
        "added": 0,
        "changed": 0,
        "removed": 0,
        "unchanged": 2,
        "skipped": 0,
        "chunks_embedded": 0,
        "restemmed": 0,
        "seconds": 0,
    }
    assert embedder.embedded == before


def test_update_adds_changes_and_removes(tmp_path: Path, corpus: Path) -> None:
    embedder = CountingEmbedder()
    app = make_app(tmp_path, embedder)
    app.build([corpus])
    write_article(
        corpus,
        "baru.txt",
        "Dinas kesehatan teken kerja sama",
        "Kupang - Dinas Kesehatan NTT dan Ikatan Rumah Sakit sepakat berbagi data rujukan, Jumat (8/3).",
    )
    (corpus / "sub" / "pelabuhan.txt").unlink()
    before = embedder.embedded
    summary = app.update()
    assert (summary.added, summary.changed, summary.removed, summary.unchanged) == (1, 0, 1, 1)
    assert summary.chunks_embedded == embedder.embedded - before >= 1
    counts = app.index.db.counts()
    assert counts["articles"] == 2
    assert counts["chunks"] == counts["keyword_rows"] == len(app.index.vectors)
    quotes = app.ask("Kapten Yohanis Rumengan koperasi nelayan tarif tambat").quotes
    assert all(q.article_id != "sub/pelabuhan.txt" for q in quotes)

    # Changing one article re-embeds only what changed in it.
    path = corpus / "rapat.txt"
    path.write_text(path.read_text() + "Penandatanganan disaksikan Ketua DPRD.\n")
    before = embedder.embedded
    summary = app.update()
    assert (summary.added, summary.changed, summary.removed, summary.unchanged) == (0, 1, 0, 1)
    assert 1 <= summary.chunks_embedded == embedder.embedded - before


def test_removed_article_leaves_no_trace(tmp_path: Path, corpus: Path) -> None:
    app = make_app(tmp_path)
    app.build([corpus])
    (corpus / "rapat.txt").unlink()
    app.update()
    index = app.index
    assert index.db.article("rapat.txt") is None
    hits = index.db.keyword_search('"beasiswa"', 10)
    assert hits == []
    ids = set(index.db.chunks(i for i, _ in index.vectors.search(np.ones(64, dtype=np.float32) / 8, 10)))
    assert all(index.db.chunks([i])[i].article_id != "rapat.txt" for i in ids)


def test_vectors_are_rebuilt_from_the_database_when_missing(tmp_path: Path, corpus: Path) -> None:
    app = make_app(tmp_path)
    app.build([corpus])
    (tmp_path / "index" / "vectors.faiss").unlink()
    app.close()
    assert len(app.index.vectors) == app.index.db.counts()["chunks"]


def test_other_model_is_refused(tmp_path: Path, corpus: Path) -> None:
    make_app(tmp_path).build([corpus])
    other = make_app(tmp_path, HashingEmbedder(dimension=32))
    with pytest.raises(IndexMismatchError, match="rebuild"):
        other.ask("siapa hadir")


def test_other_chunking_is_refused(tmp_path: Path, corpus: Path) -> None:
    make_app(tmp_path).build([corpus])
    other = make_app(tmp_path, chunking={"overlap_sentences": 2})
    with pytest.raises(IndexMismatchError, match="overlap_sentences"):
        other.ask("siapa hadir")


def test_missing_index_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="tanya index build"):
        make_app(tmp_path).ask("siapa hadir")


def test_off_topic_question_is_declined(tmp_path: Path, corpus: Path) -> None:
    app = make_app(tmp_path)
    app.build([corpus])
    assert not app.ask("Berapa harga tiket konser musik jazz di Bali tahun depan?").answered


def test_index_open_reads_manifest_not_config(tmp_path: Path, corpus: Path) -> None:
    make_app(tmp_path).build([corpus])
    index = Index.open(tmp_path / "index")
    assert index.manifest.model == "hashing-64"
    assert index.manifest.sources == [str(corpus.resolve())]
    assert index.manifest.counts["articles"] == 2
