"""Bring an index in line with its sources, embedding only chunks whose text is new."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

from tanya.chunking import chunk_article
from tanya.embedding import Embedder
from tanya.store.index import Index
from tanya.types import Article, Chunk

log = logging.getLogger(__name__)

ARTICLES_PER_BATCH = 64  # one transaction each: a killed build keeps what it finished

Progress = Callable[[int, int], None]  # (articles done, articles to do)


@dataclass
class UpdateSummary:
    """What a build or update did."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0
    chunks_embedded: int = 0
    restemmed: int = 0  # chunks whose keyword rows were re-stemmed (the index was written by an older tanya)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("warnings")
        data["seconds"] = round(self.seconds, 3)
        return data

    def to_text(self) -> str:
        return (
            f"{self.added} added, {self.changed} changed, {self.removed} removed, "
            f"{self.unchanged} unchanged, "
            f"{self.skipped} skipped; {self.chunks_embedded} chunks embedded in {self.seconds:.1f} s"
            + (f"; keyword rows of {self.restemmed} chunks re-stemmed" if self.restemmed else "")
        )


def update_index(
    index: Index,
    articles: Iterable[Article],
    embedder: Embedder,
    overlap_sentences: int,
    max_tokens: int,
    progress: Progress | None = None,
) -> UpdateSummary:
    """Add new articles, re-chunk changed ones, delete those no longer in `articles`."""
    started = time.perf_counter()
    summary = UpdateSummary()
    # Vectors on disk missing or stale (an interrupted update): decided before any change of this update.
    stale = index.manifest.generation != index.generation or not (index.directory / "vectors.faiss").is_file()
    if index.keyword_rows_outdated():
        log.info("re-stemming the keyword rows with this tanya's word analysis (no text is embedded)")
        summary.restemmed = index.restem_keyword_rows()
        if not stale:
            index.mark_current()  # the vectors on disk stay current: only keyword rows changed
    stored = index.db.article_hashes()
    seen: set[str] = set()
    pending: list[Article] = []
    for article in articles:
        seen.add(article.id)
        old_hash = stored.get(article.id)
        if old_hash is None:
            summary.added += 1
            pending.append(article)
        elif old_hash != article.content_hash:
            summary.changed += 1
            pending.append(article)
        else:
            summary.unchanged += 1
    removed = [aid for aid in stored if aid not in seen]
    summary.removed = len(removed)
    if removed or pending:
        # Load the vectors before the database changes, or they would be rebuilt from the new rows and
        # then be added to a second time.
        _ = index.vectors

    if removed:
        with index.transaction() as db:
            index.vectors.remove(db.delete_articles(removed))
    done = 0
    for start in range(0, len(pending), ARTICLES_PER_BATCH):
        batch = pending[start : start + ARTICLES_PER_BATCH]
        summary.chunks_embedded += _store_batch(index, batch, embedder, overlap_sentences, max_tokens)
        done += len(batch)
        if progress:
            progress(done, len(pending))
    # Also save when the vectors on disk were missing or stale (an interrupted update): they were rebuilt.
    if removed or pending or stale:
        index.save()
    elif summary.restemmed or index.keyword_index_stale():
        # Only the keyword rows were re-stemmed, or the derived keyword index is missing, unusable or past its
        # rebuild share (or newly due, as after keyword_index_from came down): write it alone, without loading
        # and rewriting the vectors.
        index.save_keyword_index()
    summary.seconds = time.perf_counter() - started
    return summary


def _store_batch(
    index: Index, batch: list[Article], embedder: Embedder, overlap_sentences: int, max_tokens: int
) -> int:
    """Chunk, embed and store one batch of new or changed articles in one transaction."""
    reusable = _reusable_vectors(index, [a.id for a in batch])
    chunked: list[tuple[Article, list[Chunk]]] = []
    to_embed: dict[str, None] = {}
    for article in batch:
        chunks = chunk_article(article, embedder.count_tokens, max_tokens, overlap_sentences)
        chunked.append((article, chunks))
        for chunk in chunks:
            if chunk.text not in reusable:
                to_embed[chunk.text] = None
    texts = list(to_embed)
    fresh = dict(zip(texts, embedder.encode_passages(texts), strict=True)) if texts else {}
    with index.transaction() as db:
        old_ids = db.delete_articles([a.id for a in batch])
        new_ids: list[int] = []
        new_vectors: list[np.ndarray] = []
        for article, chunks in chunked:
            vectors = np.array([fresh[c.text] if c.text in fresh else reusable[c.text] for c in chunks],
                               dtype=np.float32).reshape(len(chunks), embedder.dimension)
            new_ids += db.insert_article(article, chunks, vectors)
            new_vectors.append(vectors)
    index.vectors.remove(old_ids)
    if new_ids:
        index.vectors.add(np.asarray(new_ids, dtype=np.int64), np.concatenate(new_vectors))
    return len(texts)


def _reusable_vectors(index: Index, article_ids: list[str]) -> dict[str, np.ndarray]:
    """Vectors of chunks already stored for these articles, keyed by chunk text, so edits embed less."""
    out: dict[str, np.ndarray] = {}
    stored = index.db.vectors_by_text(article_ids)
    texts: dict[str, str] = {}
    for (article_id, start, end), blob in stored.items():
        if article_id not in texts:
            old = index.db.article(article_id)
            texts[article_id] = old.text if old else ""
        out[texts[article_id][start:end]] = np.frombuffer(blob, dtype=np.float32)
    return out
