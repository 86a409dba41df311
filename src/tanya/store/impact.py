"""A memory-mapped impact index for keyword search: a derived cache of FTS5's postings, BM25S-style.

FTS5 scores every row holding any question word, so common words make a large index slow. This file holds,
per term, its chunks (sorted by chunk id) with the term's BM25 weight already computed (everything in FTS5's
bm25() but the idf, which is applied at question time), plus, for common terms, the same postings sorted by
weight. A question reads the best `depth` postings of each common term and every posting of the rare ones,
keeps the best pool, scores the pool exactly, and reads deeper when the best results are not yet certain.

SQLite stays the truth: this file reflects the chunks up to `max_id` of one database (its identity and
generation recorded in the header); newer chunks are searched by FTS5 and removed ones filtered out, so an
update never needs to rebuild it at once. A missing, stale or damaged file means "search with FTS5".
"""

from __future__ import annotations

import functools
import json
import logging
import math
import mmap
import os
import random
import re
import struct
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from tanya.store.database import Database
from tanya.store.manifest import fsync_dir
from tanya.store.pagecache import warm

T = TypeVar("T")

log = logging.getLogger(__name__)

IMPACT_NAME = "keyword.impact"
MAGIC = b"TANYA-IMPACT-1\n"
K1, B = 1.2, 0.75  # FTS5's bm25() constants
ALIGN = 64
DEEP_FROM = 1024  # terms in more chunks than this also get postings sorted by weight
DEEP_MAX = 65_536  # ... at most this many of them (beyond, the rest of such a term is read in chunk order)
BUILD_BATCH = 20_000  # rows tokenized between numpy conversions (bounds the build's Python objects)
_LIST_ARRAYS = ("_starts", "_ids", "_weights", "_deep_starts", "_deep_ids", "_deep_weights")  # read by searches
_TOKEN = re.compile(r"[^\W_]+")  # what FTS5's unicode61 tokenizer calls a token (the `_` separates)


@dataclass
class Coverage:
    """How the database has moved since the file was built: rows it does not know, rows since removed."""

    newer_rows: int  # chunks with ids above max_id: FTS5 searches them
    removed_rows: int  # chunks the file holds that the database no longer has: filtered out
    covered_rows: int

    @property
    def share(self) -> float:
        return (self.newer_rows + self.removed_rows) / max(1, self.covered_rows)



def _drops_mapped_pages(method: Callable[..., T]) -> Callable[..., T]:
    """Run a search, then drop the pages it mapped (ImpactIndex._unmap_pages says why)."""

    @functools.wraps(method)
    def wrapper(self: ImpactIndex, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        finally:
            self._unmap_pages()

    return wrapper


class ImpactIndex:
    """Per-term postings with precomputed BM25 weights, memory-mapped; see the module docstring."""

    def __init__(self, path: Path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.path = path
        self.header = header
        self.max_id = int(header["max_id"])
        self.covered_rows = int(header["rows"])
        self.generation = int(header["generation"])
        self.title_weight = float(header["title_weight"])
        self._starts = arrays["starts"]  # per term: where its postings begin in ids/weights (CSR)
        self._ids = arrays["ids"]  # chunk ids, ascending within each term
        self._weights = arrays["weights"]  # BM25 without idf, per posting
        self._deep_starts = arrays["deep_starts"]  # per deep term: where its by-weight postings begin
        self._deep_ids = arrays["deep_ids"]
        self._deep_weights = arrays["deep_weights"]
        words = bytes(arrays["vocabulary"]).decode("utf-8").split("\n") if len(arrays["vocabulary"]) else []
        self._terms = {word: i for i, word in enumerate(words)}
        deep = arrays["deep_terms"]
        self._deep = {int(t): i for i, t in enumerate(deep)}
        self._accumulator = np.zeros(self.max_id + 1, dtype=np.float32)  # reset after each question
        self._mapped = [a for a in arrays.values() if getattr(a, "_mmap", None) is not None]
        self._file = os.open(path, os.O_RDONLY)  # whole lists are copied out with pread, not mapped (see _read_all)
        self._state: tuple[int, Coverage] | None = None  # (database generation, coverage then)

    def warm(self) -> None:
        """Read the file into the OS page cache in a background thread (nothing is mapped into this process):
        otherwise the first questions wait for the disk, word by word (measured at a million chunks: 16 ms a
        question on the first pass, 3.9 ms with this; posix_fadvise(WILLNEED) did not help)."""
        warm(os.dup(self._file), "impact")

    def read_into_memory(self) -> None:
        """Copy the lists out of the file, so searching maps no pages and drops none afterwards.

        Mapping pages and dropping them after each search (_unmap_pages) cost the answer 0.6 ms at 10,000 chunks
        (the keyword search 0.4 ms, and the embedding beside it 0.5 ms slower: dropping mappings most likely
        interrupts the core that embeds the question too). For a reader of a file small enough to hold
        (`vectors.keyword_memory_mb`).
        """
        for name in _LIST_ARRAYS:
            mapped = getattr(self, name)
            if isinstance(mapped, np.memmap):
                data = os.pread(self._file, mapped.nbytes, mapped.offset)
                if len(data) != mapped.nbytes:
                    raise ValueError("file is shorter than its lists")
                setattr(self, name, np.frombuffer(data, dtype=mapped.dtype).reshape(mapped.shape))
        self._mapped = []

    def close(self) -> None:
        if self._file >= 0:
            os.close(self._file)
            self._file = -1

    def __del__(self) -> None:
        self.close()

    # --- opening -----------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, db: Database) -> ImpactIndex | None:
        """The file when it is whole and belongs to this database; None (with a log line) otherwise."""
        if not path.is_file():
            return None
        try:
            header, arrays = _read(path)
            index = cls(path, header, arrays)
        except Exception as exc:  # damaged: FTS5 answers instead
            log.warning("%s: unreadable (%s); keyword search uses FTS5", path, str(exc).splitlines()[0])
            return None
        reason = index._mismatch(db)
        if reason:
            log.info("%s: %s; keyword search uses FTS5 until the next update rebuilds it", path, reason)
            return None
        return index

    def _mismatch(self, db: Database) -> str:
        """Why this file cannot describe `db` ('' when it can)."""
        if self.header.get("identity") != db.identity():
            return "made for another database"
        if self.generation > db.generation():
            return "newer than the database"
        if self.header.get("k1") != K1 or self.header.get("b") != B:
            return "made with other BM25 constants"
        if self.max_id > db.max_chunk_id_ever():
            return "holds chunks the database never had"
        return ""

    def coverage(self, db: Database) -> Coverage:
        """Rows added and removed since the build; costs in proportion to the rows added, not the index."""
        newer = db.count_chunks_above(self.max_id)
        removed = self.covered_rows + newer - db.keyword_rows()
        return Coverage(newer, max(0, removed), self.covered_rows)

    def disagreements(self, db: Database, sample: int = 200) -> str:
        """What a full read finds wrong ('' when nothing): chunk ids out of range, or (when nothing changed
        since the build) chunk counts per word that differ from FTS5's for a sample of words."""
        if len(self._ids) and (int(self._ids.max()) > self.max_id or int(self._ids.min()) < 1):
            return "chunk ids out of range"
        coverage = self.coverage(db)
        if coverage.newer_rows or coverage.removed_rows:
            return ""
        words = list(self._terms)
        picked = random.Random(0).sample(words, min(sample, len(words)))
        expected = db.term_frequencies(picked)
        differ = [w for w in picked if self.frequencies([w])[w] != expected.get(w, 0)]
        return f"{len(differ)} of {len(picked)} words counted differently" if differ else ""

    def state(self, db: Database) -> Coverage:
        """coverage(), counted once per database generation."""
        generation = db.generation()
        if self._state is None or self._state[0] != generation:
            self._state = (generation, self.coverage(db))
        return self._state[1]

    def frequencies(self, terms: list[str]) -> dict[str, int]:
        """How many chunks hold each term (terms the file does not know: 0); exact while it is current."""
        out = {}
        for term in terms:
            number = self._terms.get(term)
            out[term] = 0 if number is None else int(self._starts[number + 1] - self._starts[number])
        return out

    # --- searching ---------------------------------------------------------------------------------

    def _unmap_pages(self) -> None:
        """Drop this process's mappings of the pages a question read; they stay in the OS page cache.

        The kernel maps whole page-cache folios (up to 2 MB) around each page a lookup touches, so without
        this the process's resident memory grows by the file's size over time (measured: +760 MB after 80
        questions at a million chunks), though only a few MB per question are read. The next question
        maps what it needs again from the cache (minor faults, a few microseconds).
        """
        for mapped in self._mapped:
            mapped._mmap.madvise(mmap.MADV_DONTNEED)  # type: ignore[attr-defined]

    @_drops_mapped_pages
    def search(
        self,
        terms: list[str],
        idf: dict[str, float],
        limit: int,
        depth: int,
        pool: int,
        sure: int = 10,
        extra: list[tuple[np.ndarray, np.ndarray]] = (),  # type: ignore[assignment]
    ) -> list[tuple[int, float]]:
        """(chunk id, BM25) best first among the chunks this file holds; `idf` per term, FTS5's formula.

        `extra`: more terms given as (sorted chunk ids, their score contributions), e.g. phrases from FTS5.
        The best `depth` postings of each common term and all of each rare one give a pool, scored exactly.
        Unless no unread posting could change its first min(limit, sure), the search goes on MaxScore-style:
        with the pool's sure-th score as the bar, terms too weak to lift a chunk over it on their own are
        only looked up for chunks that the other terms bring near it. Those first results are then exact.
        """
        wanted = [self._term(self._terms[t], idf.get(t, 0.0)) for t in dict.fromkeys(terms) if t in self._terms]
        wanted += [_Term(ids, scores, 1.0) for ids, scores in extra if len(ids)]
        if not wanted or limit <= 0:
            return []
        ids, weights, missing = _gather(wanted, depth)
        candidates, outside_best = self._pool(ids, weights, pool)
        scores = _exact(wanted, candidates)
        last = min(limit, sure, len(scores))
        bar = float(np.partition(scores, len(scores) - last)[len(scores) - last]) if last else 0.0
        if missing and not (last and bar >= outside_best + missing):
            more, more_scores = self._maxscore(wanted, bar, sure)
            fresh = ~np.isin(more, candidates)
            candidates = np.concatenate([candidates, more[fresh]])
            scores = np.concatenate([scores, more_scores[fresh]])
        order = np.lexsort((candidates, -scores))[:limit]
        return [(int(candidates[i]), float(scores[i])) for i in order if scores[i] > 0]

    def _term(self, number: int, idf: float) -> _Term:
        start, end = int(self._starts[number]), int(self._starts[number + 1])
        term = _Term(self._ids[start:end], self._weights[start:end], idf, span=(start, end))
        deep = self._deep.get(number)
        if deep is not None:
            first, last = int(self._deep_starts[deep]), int(self._deep_starts[deep + 1])
            term.by_weight = (self._deep_ids[first:last], self._deep_weights[first:last])
        return term

    def _maxscore(self, wanted: list[_Term], bar: float, sure: int) -> tuple[np.ndarray, np.ndarray]:
        """Every chunk that could score at least `bar`, with its exact score (see search())."""
        bounds = [term.bound() for term in wanted]
        weak: list[int] = []  # together they cannot reach the bar: a chunk needs a strong term too
        total = 0.0
        for i in sorted(range(len(wanted)), key=bounds.__getitem__):
            if total + bounds[i] >= bar:
                break
            weak.append(i)
            total += bounds[i]
        strong = [wanted[i] for i in range(len(wanted)) if i not in weak]
        if not strong:  # (only by rounding: the bar is a real score, so all terms together reach it)
            strong, weak, total = wanted, [], 0.0
        lists = [self._read_all(term) for term in strong]
        ids = np.concatenate([term_ids for term_ids, _ in lists])
        weights = np.concatenate([w * np.float32(term.idf) for (_, w), term in zip(lists, strong, strict=True)])
        accumulator = self._accumulator
        np.add.at(accumulator, ids, weights)
        try:
            reach = accumulator[ids] + total >= bar
            candidates = _distinct(ids[reach])
            partial = accumulator[candidates].astype(np.float64)
        finally:
            accumulator[ids] = 0.0
        rest = total
        for i in sorted(weak, key=bounds.__getitem__, reverse=True):
            keep = partial + rest >= bar
            candidates, partial = candidates[keep], partial[keep]
            partial += wanted[i].idf * wanted[i].lookup(candidates)
            rest -= bounds[i]
            if len(partial) >= sure:  # the sure-th best so far is a higher bar, as good as the pool's
                bar = max(bar, float(np.partition(partial, len(partial) - sure)[len(partial) - sure]))
        # the strong terms' sums were float32: score the few that are left exactly, like the pool
        return candidates, _exact(wanted, candidates)

    def _read_all(self, term: _Term) -> tuple[np.ndarray, np.ndarray]:
        """A term's whole list, copied from the file: a common word's list is megabytes that one question
        reads once, and mapped pages would stay in the process's resident memory after it (measured: 800 MB
        more after 40 questions at a million chunks). Lookups, which touch a few pages, stay mapped."""
        if term.span is None or self._file < 0 or not isinstance(self._ids, np.memmap):
            return term.ids, term.weights
        start, end = term.span
        out = []
        for mapped in (self._ids, self._weights):
            size = mapped.dtype.itemsize
            data = os.pread(self._file, (end - start) * size, mapped.offset + start * size)
            if len(data) != (end - start) * size:
                raise ValueError("file is shorter than its lists")
            out.append(np.frombuffer(data, dtype=mapped.dtype))
        return out[0], out[1]

    def _pool(self, ids: np.ndarray, weights: np.ndarray, pool: int) -> tuple[np.ndarray, float]:
        """The `pool` chunks with the best partial scores, and the best partial score left outside."""
        accumulator = self._accumulator
        np.add.at(accumulator, ids, weights)
        try:
            if len(ids) <= pool:
                return _distinct(ids), 0.0
            values = accumulator[ids]
            # duplicates of a chunk (one per term) share its value, so take enough to cover `pool` chunks
            take = min(len(ids), pool * 4)
            front = np.argpartition(-values, take - 1)[:take]
            chosen = _distinct(ids[front])
            best = chosen[np.argsort(-accumulator[chosen], kind="stable")]
            inside, rest = best[:pool], best[pool:]
            outside = float(accumulator[rest].max()) if len(rest) else 0.0
            if take < len(ids):
                outside = max(outside, float(values[front].min()))
            return np.sort(inside), outside
        finally:
            accumulator[ids] = 0.0


@dataclass
class _Term:
    """One query term's postings: chunk ids ascending with their weights (idf not applied), and for a
    common term the same postings sorted by weight, best first."""

    ids: np.ndarray
    weights: np.ndarray
    idf: float
    by_weight: tuple[np.ndarray, np.ndarray] | None = None
    span: tuple[int, int] | None = None  # where its by-id postings lie in the file's lists

    def bound(self) -> float:
        """The most this term adds to any chunk's score."""
        if self.by_weight is not None and len(self.by_weight[1]):
            return self.idf * float(self.by_weight[1][0])
        return self.idf * float(self.weights.max()) if len(self.weights) else 0.0

    def lookup(self, candidates: np.ndarray) -> np.ndarray:
        """The term's weight in each of these chunks; 0 where it does not occur."""
        out = np.zeros(len(candidates), dtype=np.float64)
        if not len(self.ids) or not len(candidates):
            return out
        # Needles of the list's own type: with another, numpy would convert (copy) the whole list first.
        needles = candidates.astype(self.ids.dtype, copy=False)
        at = np.searchsorted(self.ids, needles)
        found = at < len(self.ids)
        found[found] = self.ids[at[found]] == needles[found]
        out[found] = self.weights[at[found]]
        return out


def _gather(wanted: list[_Term], depth: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Postings read for this depth, idf applied; and the most the unread postings could add to a chunk."""
    id_parts, weight_parts = [], []
    missing = 0.0
    for term in wanted:
        ids, weights = term.ids, term.weights
        if term.by_weight is not None and len(term.ids) > depth:
            best_ids, best_weights = term.by_weight
            take = min(depth, len(best_ids))
            ids, weights = best_ids[:take], best_weights[:take]
            # the next posting's weight bounds every unread one (they are sorted by weight)
            missing += term.idf * float(best_weights[take] if take < len(best_ids) else best_weights[-1])
        id_parts.append(ids)
        weight_parts.append(weights * np.float32(term.idf))
    return np.concatenate(id_parts), np.concatenate(weight_parts), missing


def _exact(wanted: list[_Term], candidates: np.ndarray) -> np.ndarray:
    """Every term's full weight for these chunks, looked up in its by-id postings."""
    scores = np.zeros(len(candidates), dtype=np.float64)
    for term in wanted:
        scores += term.idf * term.lookup(candidates)
    return scores


def _distinct(ids: np.ndarray) -> np.ndarray:
    """Sorted distinct ids (a plain sort: numpy's hash-based unique is several times slower here)."""
    ordered = np.sort(ids)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def fts5_idf(rows: int, hits: int) -> float:
    """FTS5's bm25() idf: log((N - n + 0.5) / (n + 0.5)), floored at 1e-6 for very common terms."""
    value = math.log((rows - hits + 0.5) / (hits + 0.5)) if rows else 0.0
    return value if value > 0 else 1e-6


# --- building ----------------------------------------------------------------------------------------


def build_impact_index(db: Database, path: Path, title_weight: float) -> ImpactIndex | None:
    """Write the file for every chunk the database holds now (temp name, fsync, rename), then open it.

    Rows are read in batches; each batch's postings are weighted and sorted by term at once, and only
    (chunk id, weight) pairs are kept, then placed into the final lists (8 bytes a posting held, about
    1.1 GB at a million chunks of news text).
    """
    generation = db.generation()
    identity = db.identity()
    max_id = db.max_chunk_id()
    id_type = np.int32 if max_id < 2**31 else np.int64
    rows, average = db.keyword_rows(), db.keyword_average_length()  # as FTS5's bm25() will see them
    vocabulary: dict[str, int] = {}
    batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (term counts, ids, weights) by term
    terms, docs, freqs, lengths = array("i"), array("q"), array("f"), array("f")
    cursor = db.conn.execute("SELECT id, c0, c1 FROM chunk_terms_content WHERE id <= ? ORDER BY id", (max_id,))
    covered = 0
    for chunk_id, body, title in cursor:
        tokens = _TOKEN.findall((body or "").lower())
        title_tokens = _TOKEN.findall((title or "").lower())
        counts: dict[str, float] = Counter(tokens)  # type: ignore[assignment]
        for token in title_tokens:
            counts[token] = counts.get(token, 0) + title_weight
        terms.extend([vocabulary.setdefault(t, len(vocabulary)) for t in counts])
        docs.extend([chunk_id] * len(counts))
        freqs.extend(counts.values())
        lengths.extend([len(tokens) + len(title_tokens)] * len(counts))
        covered += 1
        if covered % BUILD_BATCH == 0:
            batches.append(_weighted_batch(terms, docs, freqs, lengths, average, id_type))
    batches.append(_weighted_batch(terms, docs, freqs, lengths, average, id_type))
    size = len(vocabulary)
    counts_by_term = np.zeros(size, dtype=np.int64)
    for batch_counts, _, _ in batches:
        counts_by_term[: len(batch_counts)] += batch_counts
    starts = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(counts_by_term, out=starts[1:])
    ids = np.empty(int(starts[-1]), dtype=id_type)
    weights = np.empty(int(starts[-1]), dtype=np.float32)
    filled = starts[:-1].copy()  # where each term's next postings go: batches come in chunk id order
    while batches:
        batch_counts, batch_ids, batch_weights = batches.pop(0)
        used = len(batch_counts)
        first_in_batch = np.cumsum(batch_counts) - batch_counts
        term_of = np.repeat(np.arange(used), batch_counts)
        place = (filled[:used] - first_in_batch)[term_of] + np.arange(len(batch_ids))
        ids[place] = batch_ids
        weights[place] = batch_weights
        filled[:used] += batch_counts
    deep_terms = np.flatnonzero(counts_by_term > DEEP_FROM).astype(np.int32)
    deep_starts = np.zeros(len(deep_terms) + 1, dtype=np.int64)
    deep_id_parts, deep_weight_parts = [], []
    for n, term in enumerate(deep_terms):
        start, end = int(starts[term]), int(starts[term + 1])
        best = np.argsort(-weights[start:end], kind="stable")[:DEEP_MAX]
        deep_id_parts.append(ids[start:end][best])
        deep_weight_parts.append(weights[start:end][best])
        deep_starts[n + 1] = deep_starts[n] + len(best)
    words = "\n".join(sorted(vocabulary, key=vocabulary.__getitem__)).encode("utf-8")
    header = {
        "identity": identity,
        "generation": generation,
        "max_id": max_id,
        "rows": covered,
        "average_length": average,
        "title_weight": title_weight,
        "k1": K1,
        "b": B,
    }
    if covered != rows:
        log.warning("keyword index: %s rows read, FTS5 counts %s; lengths use FTS5's mean", covered, rows)
    arrays = {
        "vocabulary": np.frombuffer(words, dtype=np.uint8),
        "starts": starts,
        "ids": ids,
        "weights": weights,
        "deep_terms": deep_terms,
        "deep_starts": deep_starts,
        "deep_ids": np.concatenate(deep_id_parts) if deep_id_parts else np.zeros(0, id_type),
        "deep_weights": np.concatenate(deep_weight_parts) if deep_weight_parts else np.zeros(0, np.float32),
    }
    _write(path, header, arrays)
    return ImpactIndex.open(path, db)


def _weighted_batch(
    terms: array, docs: array, freqs: array, lengths: array, average: float, id_type: type
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One batch's postings as (postings per term, chunk ids, BM25 weights), sorted by term (stably, so
    chunk ids stay ascending within a term); the Python buffers are emptied."""
    term = np.frombuffer(terms, dtype=np.int32)
    freq = np.frombuffer(freqs, dtype=np.float32)
    length = np.frombuffer(lengths, dtype=np.float32)
    weight = (freq * (K1 + 1) / (freq + K1 * (1 - B + B * length / (average or 1.0)))).astype(np.float32)
    order = np.argsort(term, kind="stable")
    ids = np.frombuffer(docs, dtype=np.int64)[order].astype(id_type)
    counts = np.bincount(term, minlength=int(term.max()) + 1 if len(term) else 0)
    out = counts, ids, weight[order]
    del term, freq, length
    for buffer in (terms, docs, freqs, lengths):
        del buffer[:]
    return out


# --- the file: a header, then arrays at aligned offsets (memory-mapped when read) -------------------


def _write(path: Path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Temp name, fsync, rename: a reader sees the old file or the whole new one, never part of one."""
    layout = {}
    offset = 0
    for name, values in arrays.items():
        layout[name] = {"dtype": values.dtype.str, "shape": list(values.shape), "offset": offset}
        offset += _aligned(values.nbytes)
    meta = json.dumps({**header, "arrays": layout, "data_bytes": offset}).encode("utf-8")
    start = _aligned(len(MAGIC) + 8 + len(meta))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(MAGIC + struct.pack("<Q", len(meta)) + meta)
            handle.write(b"\0" * (start - handle.tell()))
            for values in arrays.values():
                data = np.ascontiguousarray(values).tobytes()
                handle.write(data + b"\0" * (_aligned(len(data)) - len(data)))
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def _read(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    with open(path, "rb") as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            raise ValueError("not a tanya impact index")
        (size,) = struct.unpack("<Q", handle.read(8))
        if size > 1 << 24:
            raise ValueError("header too large")
        header = json.loads(handle.read(size).decode("utf-8"))
    start = _aligned(len(MAGIC) + 8 + size)
    if path.stat().st_size < start + int(header["data_bytes"]):
        raise ValueError("file is shorter than its header says (cut off)")
    arrays: dict[str, np.ndarray] = {}
    for name, spec in header["arrays"].items():
        dtype = np.dtype(spec["dtype"])
        count = int(np.prod(spec["shape"])) if spec["shape"] else 1
        if count == 0:
            arrays[name] = np.zeros(spec["shape"], dtype=dtype)
            continue
        arrays[name] = np.memmap(
            path, dtype=dtype, mode="r", offset=start + int(spec["offset"]), shape=tuple(spec["shape"])
        )
    _check_shapes(header, arrays)
    return header, arrays


def _check_shapes(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Cheap consistency checks, so a damaged file is refused rather than read out of bounds."""
    starts, deep_starts = arrays["starts"], arrays["deep_starts"]
    if len(starts) < 1 or int(starts[0]) != 0 or int(starts[-1]) != len(arrays["ids"]):
        raise ValueError("term offsets do not match the postings")
    if len(arrays["ids"]) != len(arrays["weights"]) or len(arrays["deep_ids"]) != len(arrays["deep_weights"]):
        raise ValueError("postings and weights differ in length")
    if len(deep_starts) != len(arrays["deep_terms"]) + 1 or int(deep_starts[-1]) != len(arrays["deep_ids"]):
        raise ValueError("deep term offsets do not match")
    # (chunk ids are not scanned here: that would read the whole file; a bad one fails the search instead)
    if len(arrays["deep_terms"]) and int(arrays["deep_terms"].max()) >= len(starts) - 1:
        raise ValueError("deep terms out of range")
    if np.any(np.diff(starts) < 0):
        raise ValueError("term offsets go backwards")


def _aligned(size: int) -> int:
    return (size + ALIGN - 1) // ALIGN * ALIGN


def remove_leftovers(directory: Path) -> None:
    """Temp files of builds that were killed (call under the write lock)."""
    for leftover in directory.glob(f".{IMPACT_NAME}.tmp-*"):
        leftover.unlink(missing_ok=True)
