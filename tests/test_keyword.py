"""Capped keyword search: FTS5's BM25 recomputed for a pool of candidates matches FTS5 exactly."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tanya.analysis import fts_query, indexable_text, keyword_terms, stem, word_columns
from tanya.store.database import Database
from tanya.store.keyword import keyword_search, rescore

WORDS = [
    "presiden",
    "menteri",
    "kota",
    "desa",
    "warga",
    "jalan",
    "tol",
    "banjir",
    "harga",
    "beras",
    "pasar",
    "sekolah",
    "rumah",
    "sakit",
    "dokter",
    "polisi",
    "bandara",
    "kapal",
    "nelayan",
    "petani",
    "pajak",
    "anggaran",
    "gubernur",
    "bupati",
    "pemilu",
    "partai",
    "10.000",
    "kerja-sama",
]


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "tanya.db")
    rng = random.Random(4)
    with database.conn:
        for rowid in range(1, 401):
            vocabulary = WORDS[: rng.randint(5, len(WORDS))]
            body = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(5, 60)))
            title = " ".join(rng.choice(WORDS) for _ in range(4))
            database.conn.execute(
                "INSERT INTO chunk_terms (rowid, body, title) VALUES (?,?,?)",
                (rowid, indexable_text(body), indexable_text(title)),
            )
    return database


QUESTIONS = [
    "Berapa harga beras di pasar kota?",
    "Siapa gubernur yang meresmikan jalan tol dan bandara?",
    "Apa kerja-sama nelayan dan petani soal pajak 10.000?",
]


@pytest.mark.parametrize("question", QUESTIONS)
def test_rescore_equals_fts5_bm25(db: Database, question: str) -> None:
    terms = keyword_terms(question)
    fts = db.keyword_search(fts_query(terms), 400)
    mine = dict(rescore(db, terms, [cid for cid, _ in fts]))
    assert len(mine) == len(fts)
    for chunk_id, score in fts:
        assert mine[chunk_id] == pytest.approx(score, rel=1e-6)


@pytest.mark.parametrize("question", QUESTIONS)
def test_capped_search_scores_its_pool_like_fts5(db: Database, question: str) -> None:
    terms = keyword_terms(question)
    df, _ = db.document_frequencies(terms)
    full = dict(db.keyword_search(fts_query(terms), 400))
    capped = keyword_search(db, terms, df, 20, max_postings=50)
    assert 0 < len(capped) <= 20
    assert [s for _, s in capped] == sorted((s for _, s in capped), reverse=True)
    for chunk_id, score in capped:
        assert score == pytest.approx(full[chunk_id], rel=1e-6)


def test_no_cap_below_the_limit_is_plain_fts5(db: Database) -> None:
    terms = keyword_terms(QUESTIONS[0])
    df, _ = db.document_frequencies(terms)
    assert keyword_search(db, terms, df, 10, max_postings=10**9) == db.keyword_search(fts_query(terms), 10)
    assert keyword_search(db, terms, df, 10, max_postings=0) == db.keyword_search(fts_query(terms), 10)


def test_a_measure_with_se_matches_the_question_word() -> None:
    # "Berapa luas kota itu?" is answered by "seluas 98 km2"; words that merely start with "se" keep it.
    assert stem("seluas") == stem("luas") and stem("setinggi") == stem("tinggi") and stem("selama") == stem("lama")
    assert stem("sekolah") != stem("kolah") and stem("selatan") != stem("latan")
    assert "luas" in keyword_terms("Kota ini memiliki wilayah seluas 98,46 km2.")


def test_closed_compounds_are_also_their_parts() -> None:
    # Articles write "ibu kota" and "ibukota" alike; a question in either form must find both.
    assert keyword_terms("Apa ibukota Kalimantan Timur?")[:3] == ["ibukota", "ibu", "kota"]
    assert indexable_text("Ibukotanya Samarinda.").split()[:3] == ["ibukota", "ibu", "kota"]
    words, stems, starts, ends = word_columns("Ibukotanya Samarinda, kerjasamanya erat.")
    assert words[:3] == ["ibukotanya", "ibu", "kota"] and (starts[2], ends[2]) == (3, 7)
    assert stems[4:7] == ["kerjasama", "kerja", "sama"]  # not Snowball's "rjasama"
    assert word_columns("Kota itu ibu dari semua kota.")[0] == ["kota", "itu", "ibu", "dari", "semua", "kota"]
