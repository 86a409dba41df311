"""Question -> ranked chunks: keyword and dense search, fused with weights measured on data."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from tanya.analysis import keyword_terms
from tanya.config import RetrievalSettings
from tanya.embedding import Embedder
from tanya.store.index import Index
from tanya.store.keyword import keyword_search


@dataclass(frozen=True)
class Candidate:
    """A chunk that may answer the question, with the signals that ranked it."""

    chunk_id: int
    keyword: float  # BM25 divided by the best BM25 of this question: 0..1
    dense: float  # cosine similarity of question and chunk
    score: float  # the fused score the candidates are ordered by


@dataclass
class Retrieval:
    """What retrieval found for one question, plus what answering needs from it."""

    question: str
    terms: list[str]  # stems of the question's content words
    idf: dict[str, float]
    query_vector: np.ndarray
    candidates: list[Candidate]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


class Retriever:
    """Hybrid search over one index."""

    def __init__(self, index: Index, embedder: Embedder, settings: RetrievalSettings) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings

    def retrieve(self, question: str) -> Retrieval:
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        query_vector = self.embedder.encode_query(question)
        timings["embed"] = time.perf_counter() - clock

        clock = time.perf_counter()
        k = self.settings.candidates
        dense_hits = dict(self.index.vectors.search(query_vector, k))
        timings["dense"] = time.perf_counter() - clock

        clock = time.perf_counter()
        terms = keyword_terms(question)
        df, total = self.index.db.document_frequencies(terms)
        keyword_hits = dict(keyword_search(self.index.db, terms, df, k, self.settings.keyword_max_postings))
        timings["keyword"] = time.perf_counter() - clock

        clock = time.perf_counter()
        candidates = self._fuse(query_vector, dense_hits, keyword_hits)
        timings["fusion"] = time.perf_counter() - clock
        idf = {t: _idf(df.get(t, 0), total) for t in terms}
        return Retrieval(question, terms, idf, query_vector, candidates, timings)

    def _fuse(
        self, query_vector: np.ndarray, dense_hits: dict[int, float], keyword_hits: dict[int, float]
    ) -> list[Candidate]:
        best_keyword = max(keyword_hits.values(), default=0.0) or 1.0
        missing = [cid for cid in keyword_hits if cid not in dense_hits]
        dense = {**dense_hits, **self.index.vectors.similarities(query_vector, missing)}
        candidates = []
        for chunk_id in dict.fromkeys([*keyword_hits, *dense_hits]):
            keyword = keyword_hits.get(chunk_id, 0.0) / best_keyword
            cosine = dense.get(chunk_id, 0.0)
            score = self.settings.keyword_weight * keyword + self.settings.dense_weight * cosine
            candidates.append(Candidate(chunk_id, keyword, cosine, score))
        candidates.sort(key=lambda c: c.score, reverse=True)
        return candidates[: self.settings.candidates]


def _idf(df: int, total: int) -> float:
    """BM25's idf, never negative; a term no chunk has still counts (the question needs it)."""
    return math.log(1.0 + (total - df + 0.5) / (df + 0.5))
