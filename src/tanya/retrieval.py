"""Question -> ranked chunks: keyword and dense search, then a learned ranker over the signals of each."""

from __future__ import annotations

import math
import sys
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from tanya.analysis import keyword_terms
from tanya.config import RetrievalSettings
from tanya.embedding import Embedder
from tanya.ranking import (
    Analysed,
    ChunkSignals,
    Query,
    Ranker,
    analyse_passage,
    analyse_question,
    bm25_score,
    chunk_order_rows,
    combine_chunk_features,
    load_ranker,
    names_one_event,
    passage_row,
    passage_sentence_rows,
)
from tanya.store.database import Passage
from tanya.store.impact import ImpactIndex
from tanya.store.index import Index
from tanya.store.keyword import frequencies, keyword_search


@dataclass(frozen=True)
class Candidate:
    """A chunk that may answer the question, with the signals that ranked it."""

    chunk_id: int
    keyword: float  # BM25 divided by the best BM25 of this question: 0..1
    dense: float  # cosine similarity of question and chunk
    score: float  # the ranker's probability that the chunk answers: the order, but for Ranker.chunk_order's questions


@dataclass
class ReadAhead:
    """What was worked out from the keyword search's best chunks while the question was still being embedded."""

    passages: dict[int, Passage] = field(default_factory=dict)
    rows: dict[int, tuple[float, list[float]]] = field(default_factory=dict)  # id -> (BM25, passage_row)
    sentences: dict[int, np.ndarray] = field(default_factory=dict)  # id -> passage_sentence_rows
    vectors: dict[int, np.ndarray] = field(default_factory=dict)  # id -> stored vector (for its cosine)


@dataclass
class Hits:
    """What the two searches found for one question, before ranking."""

    question: str
    terms: list[str]  # stems of the question's content words
    idf: dict[str, float]
    query_vector: np.ndarray
    keyword: list[tuple[int, float]]  # (chunk id, FTS5 BM25), best first
    dense: list[tuple[int, float]]  # (chunk id, cosine), best first
    timings: dict[str, float] = field(default_factory=dict)
    unseen: frozenset[str] = frozenset()  # question stems no chunk contains
    query: Query | None = None
    ahead: ReadAhead = field(default_factory=ReadAhead)


@dataclass
class Retrieval:
    """What retrieval found for one question, plus what answering needs from it."""

    question: str
    terms: list[str]  # stems of the question's content words
    idf: dict[str, float]
    query_vector: np.ndarray
    candidates: list[Candidate]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    query: Query | None = None
    passages: dict[int, Passage] = field(default_factory=dict)  # by chunk id, for the candidates
    analysed: dict[int, Analysed] = field(default_factory=dict)
    features: dict[int, np.ndarray] = field(default_factory=dict)  # chunk features by chunk id
    sentence_rows: dict[int, np.ndarray] = field(default_factory=dict)  # passage_sentence_rows read ahead


class Retriever:
    """Hybrid search over one index."""

    def __init__(
        self, index: Index, embedder: Embedder, settings: RetrievalSettings, ranker: Ranker | None = None
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.ranker = ranker or load_ranker()
        self._analysis_cache: dict[tuple[int, int], Analysed] = {}

    def retrieve(self, question: str) -> Retrieval:
        return self.rank(self.search(question))

    def search(self, question: str) -> Hits:
        """Keyword and dense candidates with the question's idf; no ranking yet.

        The model embeds the question on the other core without holding the GIL (Embedder.start_query), so
        the keyword search and the reading of its best chunks cost the answer almost nothing.
        """
        timings: dict[str, float] = {}
        # Opened before the first question loads the model, so the file is read into the page cache meanwhile.
        impact = self.index.keyword_index  # None below vectors.keyword_index_from chunks: FTS5 alone
        clock = time.perf_counter()
        pending = self.embedder.start_query(question)
        terms, df, total, keyword_hits, timings["keyword"] = self._keyword_search(question, impact)
        idf = {t: _idf(df.get(t, 0), total) for t in terms}
        unseen = frozenset(t for t in terms if not df.get(t, 0))
        query = analyse_question(question, idf, unseen)
        ahead = ReadAhead()
        if not pending.done():
            started = time.perf_counter()
            interval = sys.getswitchinterval()
            # The model's thread needs the GIL a few times once its graph has run; let it have it within
            # 0.2 ms instead of Python's default 5 ms. Only a thread waiting for the GIL forces a switch.
            sys.setswitchinterval(READ_AHEAD_SWITCH)
            try:
                self._read_ahead(query, keyword_hits, pending, ahead)
            finally:
                sys.setswitchinterval(interval)
            timings["read_ahead"] = time.perf_counter() - started
        query_vector = pending.result()
        timings["embed"] = time.perf_counter() - clock  # until the vector is here, whatever ran meanwhile

        clock = time.perf_counter()
        dense_hits = self.index.vectors.search(query_vector, self.settings.candidates)
        timings["dense"] = time.perf_counter() - clock
        return Hits(question, terms, idf, query_vector, keyword_hits, dense_hits, timings, unseen, query, ahead)

    def _keyword_search(
        self, question: str, impact: ImpactIndex | None
    ) -> tuple[list[str], dict[str, int], int, list[tuple[int, float]], float]:
        clock = time.perf_counter()
        terms = keyword_terms(question)
        df, total = frequencies(self.index.db, terms, impact)
        hits = keyword_search(
            self.index.db,
            terms,
            df,
            self.settings.candidates,
            self.settings.keyword_max_postings,
            impact=impact,
            depth=self.settings.keyword_depth,
            exact_top=self.settings.keyword_exact_top,
        )
        return terms, df, total, hits, time.perf_counter() - clock

    def _read_ahead(
        self, query: Query, keyword_hits: list[tuple[int, float]], pending: Future[np.ndarray], ahead: ReadAhead
    ) -> None:
        """Read, analyse and feature the keyword search's best chunks until the question's vector is ready.

        What is most likely needed goes first. The ranker reads the fused order's front, which is about the
        first half of `rerank` from each search; the quotes come almost always from keyword hits among them
        (measured on 200 questions: 4.5 of the 5 chunks quoted from are among the keyword search's top 8).
        Between chunks the GIL is handed over, so the model's thread, once done, is not kept waiting for
        Python's 5 ms switch interval.
        """
        if self.settings.ranker != "learned":
            return
        ids = [cid for cid, _ in keyword_hits[: self.settings.rerank or len(keyword_hits)]]
        ahead.passages = self.index.db.passages(ids)
        # Their stored vectors too: beyond exact_up_to they are read from SQLite, 0.15-0.2 ms once the vector is in.
        ahead.vectors = self.index.vectors.stored(ids)
        half = max(READ_AHEAD_SENTENCES, len(ids) // 2)
        steps = [
            *((cid, False) for cid in ids[:half]),
            *((cid, True) for cid in ids[:READ_AHEAD_SENTENCES]),
            *((cid, False) for cid in ids[half:]),
            *((cid, True) for cid in ids[READ_AHEAD_SENTENCES:half]),  # when the model is slower still
        ]
        for cid, sentences in steps:
            if pending.done():
                return
            passage = ahead.passages.get(cid)
            if passage is None:
                continue
            if sentences:
                ahead.sentences[cid] = passage_sentence_rows(query, self._analysed(cid, passage), passage.start)
            else:
                ahead.rows[cid] = self._chunk_row(query, cid, passage)
            time.sleep(0)

    def _chunk_row(self, query: Query, chunk_id: int, passage: Passage) -> tuple[float, list[float]]:
        """The chunk's BM25 under the ranker's parameters and its passage_row."""
        analysed = self._analysed(chunk_id, passage)
        average = _average_chunk_chars(self.index)
        bm25 = bm25_score(query, analysed.stems, len(passage.text), average, self.ranker.k1, self.ranker.b)
        return bm25, passage_row(query, analysed)

    def close(self) -> None:
        """Nothing to release: the question thread belongs to the embedder."""

    def rank(self, hits: Hits, keep: int | None = None) -> Retrieval:
        """Score every candidate of both searches; keep the best `keep` (default: settings.candidates)."""
        clock = time.perf_counter()
        keyword_rank = {cid: r for r, (cid, _) in enumerate(hits.keyword)}
        dense_rank = {cid: r for r, (cid, _) in enumerate(hits.dense)}
        ids = list(dict.fromkeys([*keyword_rank, *dense_rank]))
        dense = dict(hits.dense)
        if self.settings.ranker == "learned":
            # Chunks only the keyword search found rank below every dense hit in the fused order, whatever their
            # cosine; it is looked up (an exact vector read from SQLite beyond exact_up_to) only for those read.
            ordered = fused_order(ids, keyword_rank, dense)
            read = self.settings.rerank or len(ordered)
            ids, unread = ordered[:read], ordered[read:]
        else:
            unread = []
        ahead = hits.ahead
        looked_up = [c for c in ids if c not in dense]
        flat = hits.query_vector.reshape(-1)
        dense.update({c: float(np.dot(ahead.vectors[c], flat)) for c in looked_up if c in ahead.vectors})
        dense.update(self.index.vectors.similarities(hits.query_vector, [c for c in looked_up if c not in dense]))
        missing = [cid for cid in ids if cid not in ahead.passages]
        passages = {cid: ahead.passages[cid] for cid in ids if cid in ahead.passages}
        passages.update(self.index.db.passages(missing) if missing else {})
        ids = [cid for cid in ids if cid in passages]
        query = hits.query or analyse_question(hits.question, hits.idf, hits.unseen)
        analysed: dict[int, Analysed] = {}
        signals: list[ChunkSignals] = []
        static: list[list[float]] = []
        for cid in ids:
            analysed[cid] = self._analysed(cid, passages[cid])
            bm25, row = ahead.rows.get(cid) or self._chunk_row(query, cid, passages[cid])
            static.append(row)
            signals.append(ChunkSignals(bm25, dense.get(cid, 0.0), keyword_rank.get(cid), dense_rank.get(cid)))
        rows = combine_chunk_features(query, static, signals, self.ranker.k1)
        if self.settings.ranker == "learned":
            scores = self.ranker.chunk.predict(rows)
        else:
            weights = self.settings.keyword_weight, self.settings.dense_weight
            scores = np.array([weights[0] * row[0] + weights[1] * row[2] for row in rows])
        best_bm25 = max((s.bm25 for s in signals), default=0.0) or 1.0
        candidates = [
            Candidate(cid, s.bm25 / best_bm25, s.dense, float(score))
            for cid, s, score in zip(ids, signals, scores, strict=True)
        ]
        order = scores
        chunk_order = self.ranker.chunk_order
        if self.settings.ranker == "learned" and chunk_order is not None and names_one_event(query) and len(ids):
            # Ordered by their own model; each keeps the chunk model's probability, which the sentence and
            # answer models were fitted on.
            order = chunk_order.logit(chunk_order_rows(scores, rows))
        candidates = [candidates[i] for i in np.argsort(-np.asarray(order), kind="stable")]
        # Chunks not read closely follow, in the two searches' fused order (more quotes, pages of results),
        # as many as are kept.
        limit = keep or self.settings.candidates
        candidates += [Candidate(cid, 0.0, dense.get(cid, 0.0), 0.0) for cid in unread[: limit - len(candidates)]]
        candidates = candidates[:limit]
        kept = {c.chunk_id for c in candidates}
        timings = dict(hits.timings)
        timings["rank"] = time.perf_counter() - clock
        return Retrieval(
            question=hits.question,
            terms=hits.terms,
            idf=hits.idf,
            query_vector=hits.query_vector,
            candidates=candidates,
            timings=timings,
            query=query,
            passages={c: passages[c] for c in kept if c in passages},
            analysed={c: analysed[c] for c in kept if c in analysed},
            features={c: row for c, row in zip(ids, rows, strict=True) if c in kept},
            sentence_rows={c: ahead.sentences[c] for c in kept if c in ahead.sentences},
        )

    def _analysed(self, chunk_id: int, passage: Passage) -> Analysed:
        """The chunk's words, read once per index generation: popular chunks come back question after question."""
        key = (self.index.generation, chunk_id)
        found = self._analysis_cache.get(key)
        if found is None:
            spans = [(s.start - passage.start, s.end - passage.start) for s in passage.sentences]
            found = analyse_passage(passage.text, spans, passage.title, passage.ordinal == 0)
            if len(self._analysis_cache) >= ANALYSIS_CACHE_SIZE:
                self._analysis_cache.pop(next(iter(self._analysis_cache)))  # the oldest entry
            self._analysis_cache[key] = found
        return found


def shortlist(ids: list[int], keyword_rank: dict[int, int], dense: dict[int, float], size: int) -> list[int]:
    """The `size` candidates first in fused_order (all of them, in their own order, when size is 0)."""
    return fused_order(ids, keyword_rank, dense)[:size] if size else ids


def fused_order(ids: list[int], keyword_rank: dict[int, int], dense: dict[int, float]) -> list[int]:
    """Candidates by reciprocal ranks in the two searches, each search's front first, then keyword hits.

    Reading a chunk's words for the learned ranker costs far more than both searches; chunks that neither
    search puts near the top almost never win, so only the front of this list is read. `dense` holds the
    cosines known so far: chunks without one (found by the keyword search alone) rank after every dense hit.
    The keyword search's top KEYWORD_SURE and the dense search's top DENSE_SURE always stay in front. Past
    them, chunks only the dense search found come after every keyword hit: they were the ranker's best for 1
    of 367 questions and held 3% of its top 5 (TyDi QA, whole-article questions), and they can only be read
    once the question is embedded, while keyword hits are read meanwhile. Reading keyword hits instead changed
    no Recall@1 on 3,820 training questions and raised Recall@10 by 0.7-1.3 points; keeping only the dense
    search's best (not its top 3) in front changed no Recall@1 on 1,500 training questions a set either.
    """
    missing = len(ids)
    by_cosine = sorted((cid for cid in ids if cid in dense), key=lambda cid: dense[cid], reverse=True)
    dense_rank = dict.fromkeys(ids, missing) | {cid: r for r, cid in enumerate(by_cosine)}

    def fused(cid: int) -> float:
        return 1.0 / (SHORTLIST_K + keyword_rank.get(cid, missing)) + 1.0 / (SHORTLIST_K + dense_rank[cid])

    # Each search's own front always stays: a chunk may match the meaning without the words, or the reverse.
    ordered = sorted(ids, key=fused, reverse=True)
    sure = [c for c in ordered if keyword_rank.get(c, missing) < KEYWORD_SURE or dense_rank[c] < DENSE_SURE]
    taken = set(sure)
    rest = [c for c in ordered if c not in taken]
    return sure + [c for c in rest if c in keyword_rank] + [c for c in rest if c not in keyword_rank]


READ_AHEAD_SWITCH = 0.0002  # seconds: the GIL switch interval while reading ahead
READ_AHEAD_SENTENCES = 5  # keyword hits whose sentences are featured ahead (answer.CHUNKS_TO_READ are quoted)
KEYWORD_SURE = 3  # the keyword search's top that is always read closely (read while the question is embedded)
DENSE_SURE = 1  # the dense search's top that is always read closely (read after: each costs ~0.25 ms then)
SHORTLIST_K = 10  # reciprocal-rank constant: small, so each search's own top few count most
ANALYSIS_CACHE_SIZE = 1024  # analysed chunks kept per retriever: about 16 MB of news chunks

_AVERAGE_CHARS: dict[tuple[str, int], float] = {}


def _average_chunk_chars(index: Index) -> float:
    """The index's mean chunk length, read once per generation (it costs a table scan)."""
    key = (str(index.directory), index.generation)
    if key not in _AVERAGE_CHARS:
        _AVERAGE_CHARS[key] = index.db.average_chunk_chars()
    return _AVERAGE_CHARS[key]


def _idf(df: int, total: int) -> float:
    """BM25's idf, never negative; a term no chunk has still counts (the question needs it)."""
    return math.log(1.0 + (total - df + 0.5) / (df + 0.5))
