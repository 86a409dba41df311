"""The keyword impact index: the same results as FTS5's BM25, and FTS5 whenever the file cannot be trusted."""

from __future__ import annotations

import json
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import make_app, write_article

import tanya.store.impact as impact
from tanya.analysis import fts_query, keyword_terms
from tanya.app import Tanya
from tanya.store.database import Database
from tanya.store.impact import IMPACT_NAME, ImpactIndex, build_impact_index
from tanya.store.keyword import keyword_search

WORDS = [f"kata{i}" for i in range(1500)]
ZIPF = [1 / (i + 1) for i in range(len(WORDS))]  # a few words everywhere, most rare: like news text


def fill(db: Database, first: int, count: int, seed: int) -> None:
    """`count` chunks of Zipf-distributed words (one article each), ids from `first`."""
    rng = random.Random(seed)
    with db.conn:
        for chunk_id in range(first, first + count):
            body = " ".join(rng.choices(WORDS, ZIPF, k=rng.randint(10, 90)))
            title = " ".join(rng.choices(WORDS, ZIPF, k=4))
            db.conn.execute(
                "INSERT INTO articles VALUES (?, 't', '', '', '', 'x', 'h', 'o')", (f"a{chunk_id}",)
            )
            db.conn.execute(
                "INSERT INTO chunks (id, article_id, ordinal, start, end, sentences, vector) "
                "VALUES (?, ?, 0, 0, 1, '[]', x'00')",
                (chunk_id, f"a{chunk_id}"),
            )
            db.conn.execute("INSERT INTO chunk_terms (rowid, body, title) VALUES (?,?,?)", (chunk_id, body, title))


@pytest.fixture()
def small_deep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deep (by-weight) postings from 40 chunks on, at most 300: the truncated paths run on a small index."""
    monkeypatch.setattr(impact, "DEEP_FROM", 40)
    monkeypatch.setattr(impact, "DEEP_MAX", 300)


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "tanya.db")
    fill(database, 1, 3000, seed=4)
    database.ensure_identity()
    return database


def questions(count: int, seed: int = 1) -> list[list[str]]:
    rng = random.Random(seed)
    return [rng.sample(WORDS[:20], 2) + rng.sample(WORDS[20:], 3) for _ in range(count)]


def assert_same_as_fts5(db: Database, found: list[tuple[int, float]], terms: list[str], limit: int) -> None:
    exact = db.keyword_search(fts_query(terms), limit)
    assert [c for c, _ in found[:10]] == [c for c, _ in exact[:10]]
    assert [s for _, s in found[:10]] == pytest.approx([s for _, s in exact[:10]], rel=1e-5)


@pytest.mark.parametrize("depth", [5, 50, 1000])
def test_impact_search_equals_fts5_bm25(db: Database, tmp_path: Path, small_deep: None, depth: int) -> None:
    index = build_impact_index(db, tmp_path / IMPACT_NAME, 0.5)
    assert index is not None and len(index._deep) > 0  # common words have by-weight postings
    for terms in questions(30):
        df, _ = db.document_frequencies(terms)
        found = keyword_search(db, terms, df, 50, impact=index, depth=depth)
        assert_same_as_fts5(db, found, terms, 50)


def test_read_into_memory_answers_as_the_mapped_file(db: Database, tmp_path: Path, small_deep: None) -> None:
    mapped = build_impact_index(db, tmp_path / IMPACT_NAME, 0.5)
    held = ImpactIndex.open(tmp_path / IMPACT_NAME, db)
    assert mapped is not None and held is not None
    held.read_into_memory()
    assert held._mapped == [] and not isinstance(held._ids, np.memmap)
    for terms in questions(30):
        df, _ = db.document_frequencies(terms)
        for depth in (5, 1000):
            assert keyword_search(db, terms, df, 50, impact=held, depth=depth) == keyword_search(
                db, terms, df, 50, impact=mapped, depth=depth
            )


def test_a_reader_holds_a_small_file_in_memory_and_maps_a_large_one(tmp_path: Path) -> None:
    app, _ = built_with_a_keyword_index(tmp_path)
    app.close()
    held = make_app(tmp_path, vectors={"keyword_index_from": 10}).index.keyword_index
    mapped = make_app(tmp_path, vectors={"keyword_index_from": 10, "keyword_memory_mb": 0}).index.keyword_index
    assert held is not None and held._mapped == []
    assert mapped is not None and isinstance(mapped._ids, np.memmap) and mapped._mapped


def test_words_fts5_splits_are_scored_as_phrases(db: Database, tmp_path: Path, small_deep: None) -> None:
    with db.conn:
        db.conn.execute("UPDATE chunk_terms SET body = body || ' 10_000 kata3' WHERE rowid % 7 = 0")
    index = build_impact_index(db, tmp_path / IMPACT_NAME, 0.5)
    terms = ["10_000", "kata3", "kata77"]
    df, _ = db.document_frequencies(terms)
    assert_same_as_fts5(db, keyword_search(db, terms, df, 20, impact=index, depth=5), terms, 20)


def test_added_and_removed_chunks_after_the_build(db: Database, tmp_path: Path, small_deep: None) -> None:
    index = build_impact_index(db, tmp_path / IMPACT_NAME, 0.5)
    assert index is not None
    fill(db, 3001, 200, seed=9)  # newer than the file: FTS5 searches them
    with db.conn:  # the best chunks of the first question removed: the file still holds them
        terms = questions(1)[0]
        gone = [c for c, _ in db.keyword_search(fts_query(terms), 5)]
        db.delete_articles([f"a{c}" for c in gone])
        db.set_generation(db.generation() + 1)
    assert index.coverage(db).newer_rows == 200 and index.coverage(db).removed_rows == 5
    for terms in questions(20):
        df, _ = db.document_frequencies(terms)
        found = keyword_search(db, terms, df, 50, impact=index, depth=5)
        assert not set(gone) & {c for c, _ in found}
        # Lengths stay normalised by the mean row length at the build, which has moved a little since:
        # scores within 1% of FTS5's, so only near-ties may trade places.
        exact = dict(db.keyword_search(fts_query(terms), 200))
        assert [s for _, s in found[:10]] == pytest.approx([exact[c] for c, _ in found[:10]], rel=1e-2)
        tenth = found[9][1]
        for chunk_id, score in sorted(exact.items(), key=lambda item: -item[1])[:10]:
            assert chunk_id in dict(found[:10]) or score == pytest.approx(tenth, rel=1e-2)


def test_damaged_or_foreign_files_are_not_used(db: Database, tmp_path: Path) -> None:
    path = tmp_path / IMPACT_NAME
    build_impact_index(db, path, 0.5)
    whole = path.read_bytes()
    assert ImpactIndex.open(path, db) is not None

    path.write_bytes(whole[: len(whole) // 2])  # cut off (a copy interrupted)
    assert ImpactIndex.open(path, db) is None
    path.write_bytes(b"\0" * 100)  # not ours
    assert ImpactIndex.open(path, db) is None
    (size,) = struct.unpack("<Q", whole[len(impact.MAGIC) : len(impact.MAGIC) + 8])
    start = len(impact.MAGIC) + 8
    header = json.loads(whole[start : start + size])
    header["arrays"]["starts"]["shape"] = [3]  # offsets that do not match the postings
    meta = json.dumps(header).encode().ljust(size)
    path.write_bytes(whole[:start] + meta + whole[start + size :])
    assert ImpactIndex.open(path, db) is None

    path.write_bytes(whole)
    other = Database(tmp_path / "other.db")
    fill(other, 1, 3000, seed=4)
    other.ensure_identity()
    assert ImpactIndex.open(path, other) is None  # same rows, another database: not trusted
    with db.conn:
        db.set_generation(db.generation() - 1)  # the database is older than the file (restored from a backup)
    assert ImpactIndex.open(path, db) is None


def test_ids_out_of_range_fall_back_to_fts5(db: Database, tmp_path: Path) -> None:
    path = tmp_path / IMPACT_NAME
    index = build_impact_index(db, path, 0.5)
    assert index is not None
    ids = np.memmap(path, dtype=index._ids.dtype, mode="r+", offset=index._ids.offset, shape=index._ids.shape)
    ids[:] = 10**9  # damage that the cheap checks at opening do not see
    ids.flush()
    damaged = ImpactIndex.open(path, db)
    assert damaged is not None
    terms = questions(1)[0]
    df, _ = db.document_frequencies(terms)
    assert keyword_search(db, terms, df, 10, impact=damaged) == db.keyword_search(fts_query(terms), 10)


def test_an_interrupted_write_leaves_the_old_file(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / IMPACT_NAME
    build_impact_index(db, path, 0.5)
    before = path.read_bytes()
    fill(db, 3001, 50, seed=5)

    def killed(fd: int) -> None:
        raise KeyboardInterrupt  # as if the process died between writing and renaming

    monkeypatch.setattr(impact.os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        build_impact_index(db, path, 0.5)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(f".{IMPACT_NAME}")] == []


# --- through the app: builds and updates keep it, searches use it --------------------------------------


def corpus(folder: Path, first: int, count: int) -> None:
    rng = random.Random(first)
    for n in range(first, first + count):
        body = " ".join(rng.choices(WORDS[:400], ZIPF[:400], k=40)) + f". Desa{n} membangun jembatan{n}."
        write_article(folder, f"a{n}.txt", f"Berita {n}", body)


def search_ids(app, question: str) -> list[int]:  # type: ignore[no-untyped-def]
    from tanya.retrieval import Retriever

    hits = Retriever(app.index, app.embedder, app.settings.retrieval).search(question)
    return [c for c, _ in hits.keyword]


def exact_ids(app, question: str) -> list[int]:  # type: ignore[no-untyped-def]
    terms = keyword_terms(question)
    return [c for c, _ in app.index.db.keyword_search(fts_query(terms), app.settings.retrieval.candidates)]


def test_updates_keep_the_file_and_stay_exact(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    corpus(articles, 0, 60)
    settings = {"keyword_index_from": 10, "keyword_rebuild_share": 0.5}
    app = make_app(tmp_path, vectors=settings, retrieval={"keyword_max_postings": 0})
    app.build([articles])
    path = app.index_dir / IMPACT_NAME
    built = ImpactIndex.open(path, app.index.db)
    assert built is not None and built.covered_rows == app.index.db.counts()["chunks"]
    questions_ = ["Desa7 membangun jembatan7", "Desa62 jembatan62 " + " ".join(WORDS[:3]), " ".join(WORDS[2:8])]
    gone = set(app.index.db.chunk_ids_of(["a1.txt"]))
    assert search_ids(app, "Desa1 jembatan1")[0] in gone

    corpus(articles, 60, 5)  # a few new articles: searched by FTS5 beside the file, which stays
    for n in range(3):
        (articles / f"a{n}.txt").unlink()
    app.update([articles])
    kept = ImpactIndex.open(path, app.index.db)
    assert kept is not None and kept.max_id == built.max_id and kept.generation == built.generation
    assert app.index.keyword_index is not None
    for question in questions_:
        assert search_ids(app, question)[:10] == exact_ids(app, question)[:10]
    assert search_ids(app, "Desa62 jembatan62")[0] in app.index.db.chunk_ids_of(["a62.txt"])
    assert not gone & set(search_ids(app, "Desa1 jembatan1"))

    corpus(articles, 65, 40)  # past the share: rebuilt to cover everything
    app.update([articles])
    rebuilt = ImpactIndex.open(path, app.index.db)
    assert rebuilt is not None and rebuilt.max_id == app.index.db.max_chunk_id()
    for question in questions_:
        assert search_ids(app, question)[:10] == exact_ids(app, question)[:10]

    for n in range(3, 100):  # below the size limit: the file goes, FTS5 alone answers
        (articles / f"a{n}.txt").unlink()
    app.update([articles])
    assert not path.exists() and app.index.keyword_index is None
    app.close()


def test_small_index_has_no_file_and_leftovers_are_ignored(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    corpus(articles, 0, 5)
    app = make_app(tmp_path)
    app.build([articles])
    assert not (app.index_dir / IMPACT_NAME).exists()
    partial = app.index_dir / f".{IMPACT_NAME}.tmp-99999"
    partial.write_bytes(impact.MAGIC + b"half a file")  # what a killed build leaves
    assert app.index.keyword_index is None
    app.close()
    app = make_app(tmp_path, vectors={"keyword_index_from": 2})
    corpus(articles, 5, 1)
    app.update([articles])
    assert not partial.exists()
    assert app.index.keyword_index is not None
    app.close()


def test_kill_9_during_builds_never_leaves_a_used_half_file(tmp_path: Path, db: Database) -> None:
    path = tmp_path / IMPACT_NAME
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tanya.store.database import Database\n"
        "from tanya.store.impact import build_impact_index\n"
        "db = Database(Path(sys.argv[1]))\n"
        "while True:\n"
        "    build_impact_index(db, Path(sys.argv[2]), 0.5)\n"
    )
    rng = random.Random(3)
    terms = questions(1)[0]
    df, _ = db.document_frequencies(terms)
    for _ in range(6):
        process = subprocess.Popen([sys.executable, "-c", script, str(db.path), str(path)])
        time.sleep(rng.uniform(0.5, 2.5))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        opened = ImpactIndex.open(path, db)
        if path.exists():
            assert opened is not None  # whatever moment the kill came, the file there is whole
            assert_same_as_fts5(db, keyword_search(db, terms, df, 20, impact=opened), terms, 20)
    assert path.exists()
    impact.remove_leftovers(tmp_path)  # what the next update does under its write lock
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def built_with_a_keyword_index(tmp_path: Path) -> tuple[Tanya, Path]:
    """An app over 30 articles, built with the keyword index on (it starts at 10 chunks here)."""
    articles = tmp_path / "articles"
    corpus(articles, 0, 30)
    app = make_app(tmp_path, vectors={"keyword_index_from": 10})
    app.build([articles])
    return app, articles


def test_index_check_reports_the_keyword_index(tmp_path: Path) -> None:
    from tanya.store.check import check_index

    app, articles = built_with_a_keyword_index(tmp_path)
    app.close()
    report = check_index(app.index_dir)
    assert report.ok and report.facts["keyword_index"]["chunks"] == app.index.db.counts()["chunks"]

    path = app.index_dir / IMPACT_NAME
    whole = path.read_bytes()
    index = ImpactIndex.open(path, app.index.db)
    assert index is not None
    ids = np.memmap(path, dtype=index._ids.dtype, mode="r+", offset=index._ids.offset, shape=index._ids.shape)
    ids[0] = 10**6  # damage the cheap checks at opening do not see: check reads everything
    ids.flush()
    del ids, index
    report = check_index(app.index_dir)
    assert not report.ok and "keyword.impact" in report.problems[0]

    path.write_bytes(whole[:1000])  # cut off: not used, so only a note
    report = check_index(app.index_dir)
    assert report.ok and any("keyword.impact" in note for note in report.notes)


def test_exact_top_covers_every_candidate_when_asked(db: Database, tmp_path: Path, small_deep: None) -> None:
    index = build_impact_index(db, tmp_path / IMPACT_NAME, 0.5)
    for terms in questions(15, seed=8):
        df, _ = db.document_frequencies(terms)
        found = keyword_search(db, terms, df, 40, impact=index, depth=5, exact_top=40)
        exact = db.keyword_search(fts_query(terms), 40)
        assert [c for c, _ in found] == [c for c, _ in exact]


def test_index_says_when_the_keyword_index_needs_writing(tmp_path: Path) -> None:
    app, articles = built_with_a_keyword_index(tmp_path)
    index = app.index
    assert not index.keyword_index_stale()
    (app.index_dir / IMPACT_NAME).unlink()  # deleted by hand, or lost with a partial backup
    assert index.keyword_index_stale()
    index.readonly = False
    index.save()
    assert not index.keyword_index_stale() and (app.index_dir / IMPACT_NAME).exists()
    app.close()


def test_an_update_with_nothing_new_brings_back_a_lost_keyword_index(tmp_path: Path) -> None:
    app, articles = built_with_a_keyword_index(tmp_path)
    (app.index_dir / IMPACT_NAME).unlink()
    vectors = app.index_dir / "vectors.faiss"
    written = vectors.stat().st_mtime_ns
    summary = app.update([articles])
    assert summary.added == summary.changed == summary.removed == 0
    assert (app.index_dir / IMPACT_NAME).exists()
    assert vectors.stat().st_mtime_ns == written  # the vectors were current: left alone
    app.close()


def test_a_rebuild_does_not_carry_the_old_keyword_index_over(tmp_path: Path) -> None:
    app, articles = built_with_a_keyword_index(tmp_path)
    assert (app.index_dir / IMPACT_NAME).exists()
    (app.index_dir / "NOTES.txt").write_text("kept", encoding="utf-8")  # not tanya's: stays with the folder
    for n in range(5, 30):
        (articles / f"a{n}.txt").unlink()
    app.build([articles])  # now too small for a keyword index: the old one must not be copied in
    assert (app.index_dir / "NOTES.txt").read_text(encoding="utf-8") == "kept"
    assert not (app.index_dir / IMPACT_NAME).exists()
    app.close()


def test_term_counts_come_from_the_file_while_it_is_current(db: Database, tmp_path: Path) -> None:
    from tanya.store.keyword import frequencies

    index = build_impact_index(db, tmp_path / IMPACT_NAME, 0.5)
    terms = ["kata0", "kata7", "kata900", "kata_tidak_ada", "10_000"]
    assert frequencies(db, terms, index) == db.document_frequencies(terms)
    fill(db, 3001, 40, seed=2)  # now FTS5's counts, which include the new chunks
    with db.conn:
        db.set_generation(db.generation() + 1)
    assert frequencies(db, terms, index) == db.document_frequencies(terms)
    assert frequencies(db, terms, None) == db.document_frequencies(terms)
