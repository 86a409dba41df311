"""`tanya index check`: do the manifest, the chunks, the keyword rows and the vectors agree?"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tanya.analysis import ANALYSIS_VERSION
from tanya.errors import TanyaError
from tanya.store.database import DB_NAME, Database
from tanya.store.impact import IMPACT_NAME, ImpactIndex
from tanya.store.manifest import read_manifest
from tanya.store.vectors import VectorIndex

VECTORS_NAME = "vectors.faiss"
REBUILD = "rebuild it with: tanya index build"
REFRESH = "run: tanya index update (it rebuilds the vectors from the database without embedding)"
RESET_VECTORS = f"delete {VECTORS_NAME} in the index folder, then {REFRESH}"


@dataclass
class CheckReport:
    """What the check found: facts, problems (with the repair), and notes that need no action."""

    facts: dict[str, object] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, **self.facts, "problems": self.problems, "notes": self.notes}


def check_index(directory: Path) -> CheckReport:
    """Verify an index folder without changing it."""
    report = CheckReport(facts={"index": str(directory)})
    try:
        manifest = read_manifest(directory)
    except TanyaError as exc:
        report.problems.append(f"{exc}")
        return report
    if manifest is None or not (directory / DB_NAME).is_file():
        report.problems.append(f"{directory}: no index here; build one with: tanya index build")
        return report
    try:
        db = Database(directory / DB_NAME, readonly=True)
    except Exception as exc:
        report.problems.append(f"{directory / DB_NAME}: cannot open ({exc}); {REBUILD}")
        return report
    try:
        _check_database(db, manifest.dimension, report)
        chunk_ids = np.fromiter((r[0] for r in db.conn.execute("SELECT id FROM chunks")), dtype=np.int64)
        _check_vectors(directory, manifest.generation, db.generation(), chunk_ids, report)
        _check_keyword_rows(db, report)
        _check_keyword_index(directory, db, report)
        if manifest.generation == db.generation() and manifest.counts:
            counts = db.counts()
            wrong = {k: (v, counts.get(k)) for k, v in manifest.counts.items() if counts.get(k) != v}
            if wrong:
                report.problems.append(f"manifest counts {wrong} (manifest, database) disagree; {REFRESH}")
    except Exception as exc:  # a damaged file raises from deep inside SQLite or FAISS
        report.problems.append(f"{directory}: unreadable ({str(exc).splitlines()[0]}); {REBUILD}")
    finally:
        db.close()
    return report


def _check_database(db: Database, dimension: int, report: CheckReport) -> None:
    quick = db.conn.execute("PRAGMA quick_check").fetchone()[0]
    if quick != "ok":
        report.problems.append(f"SQLite reports damage ({quick}); {REBUILD}")
        return
    report.facts.update(db.counts())
    report.facts["generation"] = db.generation()
    sql = {
        "chunks whose keyword row is missing": (
            "SELECT count(*) FROM chunks WHERE id NOT IN (SELECT rowid FROM chunk_terms)"
        ),
        "keyword rows without a chunk": "SELECT count(*) FROM chunk_terms WHERE rowid NOT IN (SELECT id FROM chunks)",
        "chunks without an article": "SELECT count(*) FROM chunks WHERE article_id NOT IN (SELECT id FROM articles)",
        "articles without chunks": "SELECT count(*) FROM articles WHERE id NOT IN (SELECT article_id FROM chunks)",
        "chunks whose offsets fall outside their article": (
            "SELECT count(*) FROM chunks c JOIN articles a ON a.id = c.article_id "
            "WHERE c.start < 0 OR c.start >= c.end OR c.end > length(a.text)"
        ),
    }
    columns = {row[1] for row in db.conn.execute("PRAGMA table_info(chunks)")}
    if "vector" in columns:
        sql["stored vectors of the wrong size"] = (
            f"SELECT count(*) FROM chunks WHERE length(vector) != {dimension * 4}"
        )
    for what, query in sql.items():
        count = db.conn.execute(query).fetchone()[0]
        if count:
            report.problems.append(f"{count} {what}; {REBUILD}")


def _check_vectors(
    directory: Path, saved_generation: int, db_generation: int, chunk_ids: np.ndarray, report: CheckReport
) -> None:
    path = directory / VECTORS_NAME
    if not path.is_file():
        report.notes.append(f"{path.name} is missing; readers rebuild it in memory; {REFRESH}")
        return
    if saved_generation != db_generation:
        report.notes.append(
            f"{path.name} is older than the database (generation {saved_generation} vs {db_generation}, "
            f"an update was interrupted); readers rebuild it in memory; {REFRESH}"
        )
        return
    vectors = VectorIndex.load(path)
    ids = vectors.ids()
    report.facts["vectors"] = int(len(ids))
    missing = np.setdiff1d(chunk_ids, ids).size
    extra = np.setdiff1d(ids, chunk_ids).size
    if missing or extra or len(ids) != len(np.unique(ids)):
        report.problems.append(
            f"vectors and chunks disagree ({missing} chunks without a vector, {extra} vectors without a chunk); "
            f"{RESET_VECTORS}"
        )


def _check_keyword_rows(db: Database, report: CheckReport) -> None:
    version = db.analysis_version()
    if version != ANALYSIS_VERSION:
        report.problems.append(
            f"keyword rows stemmed by word analysis {version}, this tanya uses {ANALYSIS_VERSION}: keyword search "
            "may miss words; run: tanya index update (it re-stems them without embedding)"
        )


def _check_keyword_index(directory: Path, db: Database, report: CheckReport) -> None:
    """The keyword accelerator is a cache: unusable means slower, never wrong, so only a wrong one is a problem."""
    path = directory / IMPACT_NAME
    if not path.is_file():
        return
    impact = ImpactIndex.open(path, db)
    if impact is None:
        report.notes.append(f"{path.name} is damaged or stale; keyword search uses FTS5 until {REFRESH}")
        return
    coverage = impact.coverage(db)
    report.facts["keyword_index"] = {
        "chunks": coverage.covered_rows,
        "added_since": coverage.newer_rows,
        "removed_since": coverage.removed_rows,
    }
    wrong = impact.disagreements(db)
    if wrong:
        report.problems.append(
            f"{path.name} disagrees with the keyword rows ({wrong}); delete it, then {REFRESH}"
        )
