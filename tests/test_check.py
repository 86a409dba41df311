"""`tanya index check`: a fresh index passes; each kind of disagreement is found and named with its repair."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_app, write_article

from tanya.store.check import check_index
from tanya.store.database import Database
from tanya.store.vectors import VectorIndex


@pytest.fixture()
def index(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    for i in range(3):
        write_article(
            folder,
            f"a{i}.txt",
            f"Rapat ke-{i}",
            f"Kota - Rapat ke-{i} membahas jembatan nomor {i}. "
            f"Wali Kota hadir dan sepakat membangun jembatan {i}.",
        )
    app = make_app(tmp_path)
    app.build([folder])
    app.close()
    return tmp_path / "index"


def test_fresh_index_is_consistent(index: Path) -> None:
    report = check_index(index)
    assert report.ok, report.problems
    assert report.facts["articles"] == 3
    assert report.facts["chunks"] == report.facts["keyword_rows"] == report.facts["vectors"]


def test_missing_keyword_row_is_found(index: Path) -> None:
    db = Database(index / "tanya.db")
    with db.conn:
        db.conn.execute("DELETE FROM chunk_terms WHERE rowid = (SELECT min(id) FROM chunks)")
    db.close()
    report = check_index(index)
    assert not report.ok
    assert any("keyword row is missing" in p and "tanya index build" in p for p in report.problems)


def test_vectors_disagreeing_with_chunks_are_found_and_repaired(index: Path, tmp_path: Path) -> None:
    vectors = VectorIndex.load(index / "vectors.faiss")
    vectors.remove([int(vectors.ids()[0])])
    vectors.add(np.array([999_999]), np.ones((1, vectors.dimension), dtype=np.float32))
    vectors.save(index / "vectors.faiss")
    report = check_index(index)
    assert any("1 chunks without a vector, 1 vectors without a chunk" in p for p in report.problems)
    # The repair it names: delete the vectors file and update; nothing is re-embedded.
    (index / "vectors.faiss").unlink()
    summary = make_app(tmp_path).update()
    assert summary.chunks_embedded == 0
    assert check_index(index).ok


def test_damaged_database_is_reported(index: Path) -> None:
    data = (index / "tanya.db").read_bytes()
    (index / "tanya.db").write_bytes(data[:4096] + b"\xff" * (len(data) - 4096))
    report = check_index(index)
    assert not report.ok
    assert "tanya index build" in report.problems[0]


def test_cli_check_exit_codes(index: Path) -> None:
    command = [sys.executable, "-m", "tanya", "--index", str(index), "index", "check", "--json"]
    good = subprocess.run(command, capture_output=True, text=True)
    assert good.returncode == 0 and json.loads(good.stdout)["ok"] is True
    (index / "manifest.json").write_text("{not json")
    bad = subprocess.run(command, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "unreadable manifest" in json.loads(bad.stdout)["problems"][0]
    assert "Traceback" not in bad.stderr
