"""BM25 keyword search that stays fast on a large index: common terms no longer decide the cost.

FTS5 scores every row that matches any query term, so an OR over common stems ("tahun", "indonesia") costs
time in proportion to their postings: about 2 µs each, 0.1 s at 60,000 chunks, seconds at a million.

A large index keeps an impact index beside it (store/impact.py): the question reads the best postings of
each term from it, and FTS5 searches only the chunks added since it was built. Without one, past
`max_postings` the rarest terms (whose postings fit the cap) find a pool of candidates, and the pool is then
scored with every term by the same BM25 formula FTS5 uses, so the order within it is FTS5's own.
"""

from __future__ import annotations

import logging
import math
import re

import numpy as np

from tanya.analysis import fts_query
from tanya.store.database import Database, fts5_varints
from tanya.store.impact import ImpactIndex, fts5_idf

log = logging.getLogger(__name__)

K1, B = 1.2, 0.75  # FTS5's bm25() constants
POOL = 300  # candidates rescored with every term when the rarest terms alone found them
TITLE_WEIGHT = 0.5  # a title word counts half a body word (what retrieval asks of FTS5's bm25())
IMPACT_POOL = 400  # chunks scored exactly from the impact index's partial sums
_TOKEN = re.compile(r"[^\W_]+")  # what FTS5's unicode61 tokenizer calls a token (the `_` separates)


def keyword_search(
    db: Database,
    terms: list[str],
    df: dict[str, int],
    limit: int,
    max_postings: int = 0,
    title_weight: float = TITLE_WEIGHT,
    impact: ImpactIndex | None = None,
    depth: int = 1000,
    exact_top: int = 10,
) -> list[tuple[int, float]]:
    """(chunk id, BM25 score) best first, like `db.keyword_search` over all `terms`, at bounded cost.

    `df` gives each term's document frequency; `max_postings` 0 means no cap. With an `impact` index (made
    with the same title weight) the search reads it, and FTS5 only for what it does not cover; its first
    `exact_top` results are FTS5's own, the rest close to them.
    """
    unique = list(dict.fromkeys(t for t in terms if t))
    if impact is not None and impact.title_weight == title_weight and unique:
        try:
            return impact_search(db, impact, unique, df, limit, depth, exact_top)
        except Exception as exc:  # a damaged file can hold ids out of range: FTS5 still answers
            log.warning("%s: unusable (%s); keyword search uses FTS5", impact.path, str(exc).splitlines()[0])
    if not max_postings or sum(df.get(t, 0) for t in unique) <= max_postings:
        return db.keyword_search(fts_query(unique), limit, title_weight)
    rarest: list[str] = []
    postings = 0
    for term in sorted(unique, key=lambda t: df.get(t, 0)):
        if postings and postings + df.get(term, 0) > max_postings:
            break  # (the first term that occurs at all is always taken, however common)
        rarest.append(term)
        postings += df.get(term, 0)
    pool = db.keyword_search(fts_query(rarest), max(limit, POOL), title_weight)
    return rescore(db, unique, [chunk_id for chunk_id, _ in pool], title_weight, df)[:limit]


def frequencies(db: Database, terms: list[str], impact: ImpactIndex | None = None) -> tuple[dict[str, int], int]:
    """Each term's chunk count and the number of chunks, like `db.document_frequencies`, but cheaper.

    An impact index that reflects the database exactly (nothing added or removed since) holds both;
    otherwise FTS5's vocabulary gives the counts and its averages record the number of rows.
    """
    if impact is not None:
        try:
            state = impact.state(db)
            if not state.newer_rows and not state.removed_rows:
                unique = list(dict.fromkeys(terms))
                known = [t for t in unique if _TOKEN.fullmatch(t)]
                found = impact.frequencies(known)
                if len(known) < len(unique):  # words FTS5 splits are phrases: its vocabulary has no count
                    found.update(db.term_frequencies([t for t in unique if t not in found]))
                return found, impact.covered_rows
        except Exception as exc:
            log.warning("%s: unusable (%s); keyword search uses FTS5", impact.path, str(exc).splitlines()[0])
    return db.term_frequencies(terms), db.keyword_rows()


def impact_search(
    db: Database,
    impact: ImpactIndex,
    terms: list[str],
    df: dict[str, int],
    limit: int,
    depth: int,
    exact_top: int = 10,
) -> list[tuple[int, float]]:
    """BM25 from the impact index for the chunks it holds, FTS5 for the chunks added since."""
    rows = db.keyword_rows()
    phrases = {t: tuple(_TOKEN.findall(t.lower())) for t in terms}
    single = list(dict.fromkeys(p[0] for p in phrases.values() if len(p) == 1))
    idf = {w: fts5_idf(rows, _word_rows(db, w, df)) for w in single}
    state = impact.state(db)
    wanted = limit + (limit if state.removed_rows else 0)  # some of the best may have been removed since
    # Words FTS5 splits into several tokens ("10.000") are phrases the file cannot score: FTS5 gives
    # each one's share of the score for every row holding it, and they join the search as terms.
    extra = []
    for term, tokens in phrases.items():
        if len(tokens) > 1:
            found = db.phrase_scores(fts_query([term]), impact.max_id, impact.title_weight)
            ids = np.array([chunk_id for chunk_id, _ in found], dtype=np.int64)
            extra.append((ids, np.array([score for _, score in found], dtype=np.float64)))
    # The top `exact_top` are made certain, plus as many as may have been removed since the build.
    sure = exact_top + min(state.removed_rows, limit)
    hits = impact.search(single, idf, wanted, depth, IMPACT_POOL, sure, extra)
    if state.removed_rows:
        still = db.existing_chunk_ids(c for c, _ in hits)
        hits = [h for h in hits if h[0] in still]
    if state.newer_rows:
        hits += db.keyword_search_above(fts_query(terms), impact.max_id, limit, impact.title_weight)
        hits.sort(key=lambda h: (-h[1], h[0]))
    return hits[:limit]


def _word_rows(db: Database, word: str, df: dict[str, int]) -> int:
    """Rows holding one token, from `df` when it has it, else from FTS5's vocabulary."""
    if word in df:
        return df[word]
    return db.term_frequencies([word]).get(word, 0)


def rescore(
    db: Database,
    terms: list[str],
    chunk_ids: list[int],
    title_weight: float = 0.5,
    df: dict[str, int] | None = None,
) -> list[tuple[int, float]]:
    """FTS5's bm25() of these chunks for an OR of `terms`, computed here for just these rows."""
    if not chunk_ids:
        return []
    phrases = [tuple(_TOKEN.findall(term.lower())) for term in dict.fromkeys(terms)]
    phrases = [p for p in dict.fromkeys(phrases) if p]
    rows, average = _totals(db)
    hits = _phrase_rows(db, phrases, df or {})
    idf = {}
    for phrase in phrases:
        value = math.log((rows - hits[phrase] + 0.5) / (hits[phrase] + 0.5)) if rows else 0.0
        idf[phrase] = value if value > 0 else 1e-6
    # One regex pass per column finds every query word; phrases of several words are checked in place.
    words = sorted({w for p in phrases for w in p}, key=len, reverse=True)
    finder = re.compile(r"(?<![^\W_])(?:" + "|".join(map(re.escape, words)) + r")(?![^\W_])")
    sizes = _row_sizes(db, chunk_ids)
    scored = []
    marks = ",".join("?" * len(chunk_ids))
    for chunk_id, body, title in db.conn.execute(
        # FTS5's own content table: a plain rowid lookup (through the virtual table, each row is a query)
        f"SELECT id, c0, c1 FROM chunk_terms_content WHERE id IN ({marks})", chunk_ids
    ):
        freq = dict.fromkeys(phrases, 0.0)
        for text, weight in ((body.lower(), 1.0), (title.lower(), title_weight)):
            found = finder.findall(text)
            if not found:
                continue
            for phrase in phrases:
                if len(phrase) == 1:
                    freq[phrase] += weight * found.count(phrase[0])
                elif phrase[0] in found:
                    freq[phrase] += weight * _count(_TOKEN.findall(text), phrase)
        length = sizes.get(int(chunk_id), 0)
        score = 0.0
        for phrase, f in freq.items():
            if f:
                score += idf[phrase] * f * (K1 + 1) / (f + K1 * (1 - B + B * length / average))
        scored.append((int(chunk_id), score))
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored


def _count(tokens: list[str], phrase: tuple[str, ...]) -> int:
    n = len(phrase)
    return sum(1 for i in range(len(tokens) - n + 1) if tuple(tokens[i : i + n]) == phrase)


def _row_sizes(db: Database, chunk_ids: list[int]) -> dict[int, int]:
    """Tokens per row over all columns, from FTS5's own docsize table."""
    marks = ",".join("?" * len(chunk_ids))
    rows = db.conn.execute(f"SELECT id, sz FROM chunk_terms_docsize WHERE id IN ({marks})", chunk_ids)
    return {int(i): sum(fts5_varints(bytes(sz))) for i, sz in rows}


def _phrase_rows(
    db: Database, phrases: list[tuple[str, ...]], known: dict[str, int]
) -> dict[tuple[str, ...], int]:
    """How many rows hold each phrase: the vocabulary for one word, a count of matches for longer ones."""
    single = [p[0] for p in phrases if len(p) == 1]
    missing = [w for w in single if w not in known]
    df = {**known, **(db.term_frequencies(missing) if missing else {})}
    out = {p: df.get(p[0], 0) for p in phrases if len(p) == 1}
    for phrase in phrases:
        if len(phrase) > 1:
            match = '"' + " ".join(phrase).replace('"', '""') + '"'
            out[phrase] = int(db.conn.execute(
                "SELECT count(*) FROM chunk_terms WHERE chunk_terms MATCH ?", (match,)
            ).fetchone()[0])
    return out


def _totals(db: Database) -> tuple[int, float]:
    """Rows and mean tokens per row (all columns), from FTS5's own averages record."""
    row = db.conn.execute("SELECT block FROM chunk_terms_data WHERE id = 1").fetchone()
    if row is None or not row[0]:
        return 0, 1.0
    values = fts5_varints(bytes(row[0]))
    count = values[0] if values else 0
    tokens = sum(values[1:])
    return count, (tokens / count if count else 1.0) or 1.0

