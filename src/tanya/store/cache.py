"""Passage vectors kept by model and text hash, so a rebuild or a restarted build embeds nothing twice."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from tanya.embedding import Embedder

_SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID"


class EmbeddingCache:
    """Vectors by hash of (model variant, passage text) in one SQLite file; indexes may share it."""

    def __init__(self, path: Path, variant: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.variant = variant  # model name, passage prefix and precision: whatever changes the vectors
        self.conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(_SCHEMA)

    def key(self, text: str) -> bytes:
        return hashlib.blake2b(f"{self.variant}\0{text}".encode(), digest_size=16).digest()

    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those texts that have one."""
        keys = {self.key(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        items = list(keys)
        for i in range(0, len(items), 500):
            batch = items[i : i + 500]
            marks = ",".join("?" * len(batch))
            query = f"SELECT key, vector FROM vectors WHERE key IN ({marks})"
            for key, blob in self.conn.execute(query, batch):
                found[keys[key]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        rows = [
            (self.key(t), np.asarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        self.conn.close()


class CachedEmbedder:
    """An embedder that looks passages up in a cache first and embeds only the misses."""

    def __init__(self, inner: Embedder, cache: EmbeddingCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.dimension = inner.dimension
        self.max_tokens = inner.max_tokens
        self.hits = 0
        self.misses = 0

    def count_tokens(self, passage: str) -> int:
        return self.inner.count_tokens(passage)

    def encode_query(self, query: str) -> np.ndarray:
        return self.inner.encode_query(query)

    def start_query(self, query: str) -> Future[np.ndarray]:
        return self.inner.start_query(query)

    def encode_passages(self, passages: Sequence[str]) -> np.ndarray:
        found = self.cache.get_many(passages)
        missing = list(dict.fromkeys(p for p in passages if p not in found))
        self.hits += len(passages) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = self.inner.encode_passages(missing)
            self.cache.put_many(missing, fresh)
            found.update(zip(missing, np.asarray(fresh, dtype=np.float32), strict=True))
        if not passages:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[p] for p in passages]).astype(np.float32, copy=False)
