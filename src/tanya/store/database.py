"""SQLite holds the truth: articles, chunks with their vectors, and the FTS5 keyword index."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tanya.analysis import ANALYSIS_VERSION, indexable_text
from tanya.types import Article, Chunk, Span

DB_NAME = "tanya.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL, date TEXT NOT NULL, source TEXT NOT NULL, url TEXT NOT NULL,
    text TEXT NOT NULL, hash TEXT NOT NULL, origin TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    sentences TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_terms USING fts5(body, title, tokenize='unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_terms_vocab USING fts5vocab(chunk_terms, 'row');
"""


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as read back for answering: its article's fields and its sentence spans."""

    id: int
    article_id: str
    start: int
    end: int
    sentences: tuple[Span, ...]


@dataclass(frozen=True)
class Passage:
    """A chunk with its text and its article's title, for ranking without reading whole articles."""

    id: int
    article_id: str
    ordinal: int
    start: int
    end: int
    sentences: tuple[Span, ...]  # offsets into the article text
    text: str  # == article.text[start:end]
    title: str


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """Open the database in WAL mode so readers never block on a writer."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    if not readonly:
        conn.executescript(_SCHEMA)
    return conn


class Database:
    """Typed access to the index's SQLite file."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        self.conn = connect(path, readonly=readonly)

    def close(self) -> None:
        self.conn.close()

    # --- reading -------------------------------------------------------------------------------

    def generation(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def identity(self) -> str:
        """A random name given to this database once, so files derived from it can tell it from another."""
        row = self.conn.execute("SELECT value FROM meta WHERE key='identity'").fetchone()
        return str(row[0]) if row else ""

    def analysis_version(self) -> int:
        """The analysis.ANALYSIS_VERSION that wrote the keyword rows (0: written before versions were kept)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key='analysis'").fetchone()
        return int(row[0]) if row else 0

    def max_chunk_id(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(id), 0) FROM chunks").fetchone()[0])

    def max_chunk_id_ever(self) -> int:
        """The highest chunk id ever given (AUTOINCREMENT never reuses one, even after deletes)."""
        row = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name='chunks'").fetchone()
        return max(int(row[0]) if row else 0, self.max_chunk_id())

    def count_chunks_above(self, chunk_id: int) -> int:
        """Chunks with ids above this one (walks only those rows)."""
        return int(self.conn.execute("SELECT count(*) FROM chunks WHERE id > ?", (chunk_id,)).fetchone()[0])

    def keyword_rows(self) -> int:
        """Rows in the keyword index, read from FTS5's own totals record: instant, where count(*) on
        `chunks` reads the whole table (seconds at a million chunks). Equals the chunk count."""
        row = self.conn.execute("SELECT block FROM chunk_terms_data WHERE id = 1").fetchone()
        if row is None or not row[0]:
            return 0
        value = 0
        for byte in bytes(row[0])[:9]:  # the first of SQLite's big-endian varints
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        return value

    def keyword_average_length(self) -> float:
        """Mean tokens per keyword row over all columns, from FTS5's totals record (what bm25() uses)."""
        row = self.conn.execute("SELECT block FROM chunk_terms_data WHERE id = 1").fetchone()
        values = fts5_varints(bytes(row[0])) if row and row[0] else []
        return sum(values[1:]) / values[0] if values and values[0] else 1.0

    def term_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """How many chunks contain each term (document_frequencies without counting the chunks)."""
        unique = list(dict.fromkeys(terms))
        df: dict[str, int] = dict.fromkeys(unique, 0)
        for batch in _batches(unique, 500):
            marks = ",".join("?" * len(batch))
            for term, count in self.conn.execute(
                f"SELECT term, doc FROM chunk_terms_vocab WHERE term IN ({marks})", batch
            ):
                df[term] = int(count)
        return df

    def article_hashes(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT id, hash FROM articles"))

    def article(self, article_id: str) -> Article | None:
        row = self.conn.execute(
            "SELECT id, text, title, date, source, url, origin FROM articles WHERE id=?", (article_id,)
        ).fetchone()
        return Article(*row) if row else None

    def chunks(self, chunk_ids: Iterable[int]) -> dict[int, StoredChunk]:
        ids = list(chunk_ids)
        found: dict[int, StoredChunk] = {}
        for batch in _batches(ids, 500):
            marks = ",".join("?" * len(batch))
            for cid, aid, start, end, sentences in self.conn.execute(
                f"SELECT id, article_id, start, end, sentences FROM chunks WHERE id IN ({marks})", batch
            ):
                spans = tuple(Span(s, e) for s, e in json.loads(sentences))
                found[cid] = StoredChunk(cid, aid, start, end, spans)
        return found

    def passages(self, chunk_ids: Iterable[int]) -> dict[int, Passage]:
        """Chunks with their text cut from the article in SQL (substr counts characters, as Python does)."""
        found: dict[int, Passage] = {}
        for batch in _batches(list(chunk_ids), 500):
            marks = ",".join("?" * len(batch))
            for cid, aid, ordinal, start, end, sentences, text, title in self.conn.execute(
                "SELECT c.id, c.article_id, c.ordinal, c.start, c.end, c.sentences, "
                "substr(a.text, c.start + 1, c.end - c.start), a.title "
                f"FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.id IN ({marks})",
                batch,
            ):
                spans = tuple(Span(s, e) for s, e in json.loads(sentences))
                found[cid] = Passage(cid, aid, ordinal, start, end, spans, text, title)
        return found

    def average_chunk_chars(self) -> float:
        """Mean chunk length in characters: BM25's length normalisation compares against it."""
        row = self.conn.execute("SELECT avg(end - start) FROM chunks").fetchone()
        return float(row[0] or 1.0)

    def chunk_ids_of(self, article_ids: Iterable[str]) -> list[int]:
        ids: list[int] = []
        for batch in _batches(list(article_ids), 500):
            marks = ",".join("?" * len(batch))
            ids += [
                r[0] for r in self.conn.execute(f"SELECT id FROM chunks WHERE article_id IN ({marks})", batch)
            ]
        return ids

    def vectors_of(self, chunk_ids: Iterable[int]) -> dict[int, np.ndarray]:
        """The stored (exact) vectors of these chunks, by chunk id."""
        out: dict[int, np.ndarray] = {}
        for batch in _batches(list(chunk_ids), 500):
            marks = ",".join("?" * len(batch))
            for cid, blob in self.conn.execute(f"SELECT id, vector FROM chunks WHERE id IN ({marks})", batch):
                out[int(cid)] = np.frombuffer(blob, dtype=np.float32)
        return out

    def vectors_by_text(self, article_ids: Iterable[str]) -> dict[tuple[str, int, int], bytes]:
        """Stored vectors of these articles' chunks keyed by (article, start, end), to reuse on change."""
        out: dict[tuple[str, int, int], bytes] = {}
        for batch in _batches(list(article_ids), 500):
            marks = ",".join("?" * len(batch))
            for aid, start, end, vector in self.conn.execute(
                f"SELECT article_id, start, end, vector FROM chunks WHERE article_id IN ({marks})", batch
            ):
                out[(aid, start, end)] = vector
        return out

    def iter_vectors(self, batch_size: int = 10_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All (ids, vectors) in batches, for rebuilding the vector index without embedding."""
        cursor = self.conn.execute("SELECT id, vector FROM chunks ORDER BY id")
        while rows := cursor.fetchmany(batch_size):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            yield ids, vectors

    def counts(self) -> dict[str, int]:
        articles = self.conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        chunks = self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        keyword_rows = self.conn.execute("SELECT count(*) FROM chunk_terms").fetchone()[0]
        return {"articles": articles, "chunks": chunks, "keyword_rows": keyword_rows}

    def newest_date(self) -> str:
        row = self.conn.execute("SELECT max(date) FROM articles WHERE date != ''").fetchone()
        return row[0] or ""

    def newest_titles(self, limit: int) -> list[str]:
        rows = self.conn.execute(
            "SELECT title FROM articles WHERE title != '' GROUP BY title ORDER BY max(date) DESC, min(id) LIMIT ?",
            (limit,),
        )
        return [r[0] for r in rows]

    def source_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT source FROM articles WHERE source != ''")]

    def keyword_search(self, match: str, limit: int, title_weight: float = 0.5) -> list[tuple[int, float]]:
        """(chunk id, BM25 score, higher is better) for an FTS5 MATCH expression."""
        if not match:
            return []
        rows = self.conn.execute(
            "SELECT rowid, -bm25(chunk_terms, 1.0, ?) AS score FROM chunk_terms "
            "WHERE chunk_terms MATCH ? ORDER BY score DESC LIMIT ?",
            (title_weight, match, limit),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def document_frequencies(self, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        """How many chunks contain each term, and how many chunks there are."""
        total = self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return self.term_frequencies(terms), int(total)

    # --- writing (callers wrap these in one transaction) ----------------------------------------

    def delete_articles(self, article_ids: Iterable[str]) -> list[int]:
        """Remove articles, their chunks and keyword rows; returns the removed chunk ids."""
        ids = list(article_ids)
        chunk_ids = self.chunk_ids_of(ids)
        for batch in _batches(chunk_ids, 500):
            marks = ",".join("?" * len(batch))
            self.conn.execute(f"DELETE FROM chunk_terms WHERE rowid IN ({marks})", batch)
        for batch in _batches(ids, 500):
            marks = ",".join("?" * len(batch))
            self.conn.execute(f"DELETE FROM chunks WHERE article_id IN ({marks})", batch)
            self.conn.execute(f"DELETE FROM articles WHERE id IN ({marks})", batch)
        return chunk_ids

    def insert_article(self, article: Article, chunks: list[Chunk], vectors: np.ndarray) -> list[int]:
        """Store an article with its chunks, vectors and keyword rows; returns the new chunk ids."""
        self.conn.execute(
            "INSERT INTO articles (id, title, date, source, url, text, hash, origin) VALUES (?,?,?,?,?,?,?,?)",
            (
                article.id,
                article.title,
                article.date,
                article.source,
                article.url,
                article.text,
                article.content_hash,
                article.origin,
            ),
        )
        title_terms = indexable_text(article.title)
        ids: list[int] = []
        for chunk, vector in zip(chunks, vectors, strict=True):
            cursor = self.conn.execute(
                "INSERT INTO chunks (article_id, ordinal, start, end, sentences, vector) VALUES (?,?,?,?,?,?)",
                (
                    article.id,
                    chunk.ordinal,
                    chunk.start,
                    chunk.end,
                    json.dumps([[s.start, s.end] for s in chunk.sentences]),
                    np.asarray(vector, dtype=np.float32).tobytes(),
                ),
            )
            chunk_id = int(cursor.lastrowid or 0)
            self.conn.execute(
                "INSERT INTO chunk_terms (rowid, body, title) VALUES (?,?,?)",
                (chunk_id, indexable_text(chunk.text), title_terms),
            )
            ids.append(chunk_id)
        return ids

    def ensure_identity(self) -> str:
        """Give the database its identity if it has none yet (its own small commit); returns it."""
        if not self.identity():
            with self.conn:
                self.conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('identity', ?)", (uuid.uuid4().hex,)
                )
        return self.identity()

    def keyword_search_above(
        self, match: str, above: int, limit: int, title_weight: float = 0.5
    ) -> list[tuple[int, float]]:
        """Like keyword_search, over the chunks with ids above `above` only (FTS5 seeks past the rest)."""
        if not match:
            return []
        rows = self.conn.execute(
            "SELECT rowid, -bm25(chunk_terms, 1.0, ?) AS score FROM chunk_terms "
            "WHERE chunk_terms MATCH ? AND rowid > ? ORDER BY score DESC LIMIT ?",
            (title_weight, match, above, limit),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def phrase_scores(self, match: str, up_to: int, title_weight: float = 0.5) -> list[tuple[int, float]]:
        """(chunk id, BM25) of every row with an id up to `up_to` that matches, in id order: for a single
        phrase, its share of the score of any query that holds it."""
        rows = self.conn.execute(
            "SELECT rowid, -bm25(chunk_terms, 1.0, ?) FROM chunk_terms "
            "WHERE chunk_terms MATCH ? AND rowid <= ? ORDER BY rowid",
            (title_weight, match, up_to),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def existing_chunk_ids(self, chunk_ids: Iterable[int]) -> set[int]:
        """Which of these chunk ids the database still holds."""
        found: set[int] = set()
        for batch in _batches(list(chunk_ids), 500):
            marks = ",".join("?" * len(batch))
            found.update(r[0] for r in self.conn.execute(f"SELECT id FROM chunks WHERE id IN ({marks})", batch))
        return found

    def restem_keyword_rows(self) -> int:
        """Rewrite every chunk's keyword row with today's analysis (vectors untouched); returns the chunks."""
        self.conn.execute("DELETE FROM chunk_terms")
        rewritten = 0
        rows = self.conn.execute(
            "SELECT c.id, c.start, c.end, a.text, a.title FROM chunks c JOIN articles a ON a.id = c.article_id "
            "ORDER BY c.id"
        )
        titles: dict[str, str] = {}
        for chunk_id, start, end, text, title in rows:
            if title not in titles:
                titles = {title: indexable_text(title)}  # an article's chunks come together: keep one title
            self.conn.execute(
                "INSERT INTO chunk_terms (rowid, body, title) VALUES (?,?,?)",
                (chunk_id, indexable_text(text[start:end]), titles[title]),
            )
            rewritten += 1
        self.set_analysis_version(ANALYSIS_VERSION)
        return rewritten

    def set_analysis_version(self, version: int) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('analysis', ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (str(version),),
        )

    def set_generation(self, generation: int) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('generation', ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (str(generation),),
        )


def _batches(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def fts5_varints(data: bytes) -> list[int]:
    """SQLite's big-endian varints, as FTS5 writes them."""
    out: list[int] = []
    i = 0
    while i < len(data):
        value = 0
        for j in range(9):
            byte = data[i]
            i += 1
            if j == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        out.append(value)
    return out
