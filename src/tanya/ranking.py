"""Learned ranking: what a question shares with a chunk or a sentence, scored by small shipped linear models.

Features are cheap (tokens, stems, regular expressions, the one question embedding); the models are logistic
regressions fitted by bench/fit_ranker.py on training questions and shipped as JSON in tanya/data/.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from tanya.analysis import (
    COMPOUNDS,
    QUESTION_WORDS,
    STOPWORDS,
    fold,
    question_type,
    tokenize,
    word_columns,
    word_parts,
)
from tanya.analysis import (
    stem as stem_word,
)
from tanya.config import BUNDLED_MODEL
from tanya.errors import ConfigError, TanyaError
from tanya.signals import (
    AGREEMENT,
    AMOUNT,
    ATTENDANCE,
    DATE,
    MEETING_QUESTION,
    PLACE,
    asks_agreement,
    new_names,
)

MODEL_FILE = "ranker.json"
PROXIMITY_WINDOW = 8  # content words: a phrase-sized stretch of text
LEAD_WORDS = 12  # words at the start of a chunk that name its subject
_COPULAS = frozenset({"adalah", "merupakan", "ialah", "yaitu", "yakni"})
QTYPE_FLAGS = ("siapa", "kapan", "di mana", "berapa")

CHUNK_FEATURES = (
    "bm25_rel",  # this chunk's BM25 over the best candidate's
    "bm25_abs",  # BM25 over the most the question's words could score
    "dense",  # cosine of question and chunk embeddings
    "dense_rel",  # cosine minus the best candidate's cosine
    "keyword_rr",  # 1 / (1 + rank) in the FTS5 keyword list; 0 when absent
    "dense_rr",  # 1 / (1 + rank) in the dense list; 0 when absent
    "cover",  # idf-weighted share of the question's words in the chunk or its title
    "cover_words",  # plain share of the question's words present
    "missing_idf",  # the rarest question word the chunk lacks, over the rarest question word
    "proximity",  # best idf share inside any window of PROXIMITY_WINDOW content words
    "best_sentence",  # best idf share inside one sentence
    "bigrams",  # share of the question's adjacent word pairs found adjacent in the chunk
    "phrases",  # share of the question's word pairs as written (function words too) found in one sentence
    "title_cover",  # idf share of the question's words in the title
    "names",  # share of the question's capitalised words found as written
    "numbers",  # share of the question's numbers found
    "type_sentence",  # best sentence cover among sentences holding the kind of answer asked for
    *(f"type_{q.replace(' ', '')}" for q in QTYPE_FLAGS),  # that, per question type
    "type_agree",  # an agreement word in a covering sentence, for "what was agreed" questions
    "typed_proximity",  # idf share of question words near a possible answer of the asked kind
    "cover_plain",  # idf share of the question's words that are not names or numbers
    "order",  # question words found in the same order in one sentence, over all question words
    "opening",  # idf share of the question's words among the chunk's first LEAD_WORDS words
    "defines",  # that, when a copula ("adalah", "merupakan") follows soon: "X adalah ..." answers "apa/siapa X"
    "log_words",
    "lead_chunk",  # the article's first chunk
)

SENTENCE_FEATURES = (
    "chunk_score",  # the chunk ranker's best probability among the quoted chunks of the sentence's article
    "chunk_top",  # the sentence is in the best chunk's article
    "cover",  # idf share of the question's words in the sentence
    "cover_context",  # ... in the sentence and its neighbours
    "cover_title",  # ... in the sentence and the title
    "proximity",
    "bigrams",
    "phrases",
    "names",
    "numbers",
    "type",  # holds the kind of answer asked for
    *(f"type_{q.replace(' ', '')}" for q in QTYPE_FLAGS),
    "type_agree",
    "typed_proximity",
    "order",
    "new_names",  # log(1 + person-like names not in the question), for siapa
    "attendance",  # attendance words (hadir, didampingi, ...) for siapa questions
    "novelty",  # share of the sentence's content words the question does not have
    "lead",  # the article's first sentence
    "position",  # log(1 + where the sentence starts in the article, in hundreds of characters)
    "log_words",
    "quoted",  # starts inside quotation marks
)

# The chunk order for questions that name one event (Ranker.chunk_order, `names_one_event`): the chunk model's
# logit beside the keyword search's own say. The chunk model learned from the QA sets' mostly short questions,
# where the cosine pays; a long question, or one about a meeting, is matched best by its words.
CHUNK_ORDER_FEATURES = ("chunk_logit", "bm25_rel", "keyword_rr")

ANSWER_FEATURES = (
    "sentence_score",  # sentence model's probability for quote 1
    "chunk_score",  # chunk model's probability for quote 1's chunk
    "chunk_margin",  # best chunk probability minus the second best
    "cover",  # quote 1's chunk
    "missing_idf",
    "names",
    "numbers",
    "bm25_abs",
    "dense",
    "sentence_cover",
    "type",
    "log_terms",  # how many content words the question has
    *(f"q_{q.replace(' ', '')}" for q in QTYPE_FLAGS),
    "missing_share",  # share of the question's words quote 1's chunk lacks
    "proximity",
    "opening",
    "typed_proximity",  # quote 1's sentence
    "phrases",
    "order",
    "best_chunk",  # the best chunk probability, whichever chunk quote 1 is from
    "unseen",  # idf share of the question's words that no chunk of the index contains
    "name_missing",  # the rarest capitalised question word quote 1's chunk lacks, over the rarest word
    "plain_missing",  # idf share of the question's other words (not names, numbers) the chunk lacks
    "sentence_missing",  # idf share of the question's words quote 1's sentence lacks
)


# --- the question -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """A question analysed once: its content stems with idf, word pairs, names and numbers."""

    question: str
    qtype: str
    terms: tuple[str, ...]  # unique content stems in question order
    idf: dict[str, float]
    bigrams: frozenset[tuple[str, str]]
    phrases: frozenset[tuple[str, str]]  # adjacent words as written, question words left out
    names: frozenset[str]  # folded capitalised words, not the first word
    numbers: frozenset[str]
    agreement: bool
    plain: frozenset[str] = frozenset()  # stems of the content words that are neither names nor numbers
    name_stems: frozenset[str] = frozenset()  # stems of the capitalised words
    unseen: frozenset[str] = frozenset()  # stems no chunk of the index contains
    total_idf: float = field(init=False)
    max_idf: float = field(init=False)

    def __post_init__(self) -> None:
        weights = [self.idf.get(t, 0.0) for t in self.terms]
        object.__setattr__(self, "total_idf", sum(weights) or 1.0)
        object.__setattr__(self, "max_idf", max(weights, default=0.0) or 1.0)


def analyse_question(question: str, idf: dict[str, float], unseen: frozenset[str] = frozenset()) -> Query:
    """The question's content words (as stems), pairs of adjacent content words, names and numbers."""
    tokens = tokenize(question)
    words = [t.text for t in tokens]
    content = [t for t in tokens if _is_content(t.text, t.stem)]
    stems = []
    for token in content:  # a closed compound ("ibukota") also asks for its parts, which articles write apart
        stems.append(token.stem)
        if token.stem in COMPOUNDS:
            stems.extend(stem_word(part) for part, _ in word_parts(token.text, token.stem))
    names = set()
    name_stems = set()
    plain = set()
    for i, token in enumerate(tokens):
        if not _is_content(token.text, token.stem):
            continue
        surface = question[token.start : token.end]
        if i > 0 and surface[:1].isupper():
            names.add(token.text)
            name_stems.add(token.stem)
        elif not any(ch.isdigit() for ch in token.text):
            plain.add(token.stem)
    numbers = {t.text for t in tokens if any(ch.isdigit() for ch in t.text)}
    qtype = question_type(question)
    return Query(
        question=question,
        qtype=qtype,
        terms=tuple(dict.fromkeys(stems)),
        idf=idf,
        bigrams=frozenset(zip(stems, stems[1:], strict=False)),
        phrases=frozenset(p for p in zip(words, words[1:], strict=False) if not set(p) & QUESTION_WORDS),
        names=frozenset(names),
        numbers=frozenset(numbers),
        agreement=asks_agreement(question) and qtype in ("apa", "bagaimana"),
        plain=frozenset(plain),
        name_stems=frozenset(name_stems),
        unseen=unseen,
    )


_NOT_CONTENT = STOPWORDS | QUESTION_WORDS  # words never counted as content, whatever their stem


def asks_meeting(query: Query) -> bool:
    """Asks who attended / met / accompanied, or what was agreed."""
    return query.agreement or (query.qtype == "siapa" and ATTENDANCE.search(query.question) is not None)


def about_meeting(query: Query) -> bool:
    """asks_meeting, or a who / what question with a meeting or agreement word ("Siapa yang ditemui ...", "Untuk
    apa X menggandeng Y ...", "Apa keputusan rapat ..."): the questions the meeting models answer. Only who and
    what: a when / how many question about a treaty is a plain fact (the QA sets' training questions of other
    kinds with such a word, 34, lost 6 answers in quote 1 to the meeting model and gained none; the 18 who /
    what ones lost none). Development set with this wider choice: quote 1 0.755 -> 0.774, quotes 1-3 0.868 ->
    0.906."""
    return asks_meeting(query) or (
        query.qtype in ("siapa", "apa") and MEETING_QUESTION.search(query.question) is not None
    )


# From this many content words a question is ordered by Ranker.chunk_order: on the training questions (every
# passage indexed) BM25's first passage beats the chunk model's from 8-9 words on (FacQA, 837 of 1,793: 0.755 /
# 0.766 / 0.803 vs 0.742 / 0.722 / 0.792 at 8-9, 10-11, 12+ words) and loses below (TyDi QA, 4-5 words: 0.533
# vs 0.593). FacQA training Recall@1 0.710 -> 0.721 with 8 (6: 0.719, 10: 0.718), TyDi QA and IDK-MRC unchanged.
LONG_QUESTION_TERMS = 8


def names_one_event(query: Query) -> bool:
    """A question about a meeting (about_meeting) or a long one: its chunks are ordered by Ranker.chunk_order."""
    return about_meeting(query) or len(query.terms) >= LONG_QUESTION_TERMS


def _is_content(word: str, stem: str) -> bool:
    return word not in STOPWORDS and stem not in STOPWORDS and word not in QUESTION_WORDS


# --- a passage, analysed once ----------------------------------------------------------------------


@dataclass
class Analysed:
    """A chunk's words: stems, content positions and the sentence each word is in."""

    text: str
    sentences: list[tuple[int, int]]  # offsets into `text`
    words: list[str]  # folded surface forms
    stems: list[str]
    starts: list[int]  # character offsets of each word in `text`
    ends: list[int]
    sentence_of: list[int]  # per word
    content: list[int]  # indexes of content words, in order
    title_stems: frozenset[str]
    lead_sentence: int  # index of the article's first sentence in `sentences`, or -1
    # Per sentence (one empty entry when there is none), worked out once per chunk for every question:
    sentence_tokens: list[range] = field(default_factory=list)  # indexes of its words (consecutive)
    sentence_content: list[list[int]] = field(default_factory=list)  # indexes of its content words
    sentence_stems: list[set[str]] = field(default_factory=list)  # its stems
    sentence_content_stems: list[list[str]] = field(default_factory=list)  # its content words' stems, in order
    sentence_words: list[list[str]] = field(default_factory=list)  # its words
    stem_set: frozenset[str] = frozenset()
    word_set: frozenset[str] = frozenset()


@lru_cache(maxsize=4096)
def title_stems(title: str) -> frozenset[str]:
    """Stems of a title (cached: every chunk of an article carries the same title)."""
    return frozenset(t.stem for t in tokenize(title))


def analyse_passage(
    text: str, sentences: Sequence[tuple[int, int]], title: str, first_in_article: bool
) -> Analysed:
    """Tokens of a chunk, each tagged with the sentence (offsets into `text`) it falls in."""
    words, stems, starts, ends = word_columns(text)
    bounds = np.fromiter((start for start, _ in sentences[1:]), dtype=np.int64)
    placed = np.searchsorted(bounds, np.asarray(starts, dtype=np.int64), side="right")
    content = [i for i, word in enumerate(words) if word not in _NOT_CONTENT and stems[i] not in STOPWORDS]
    # Words come in text order, so each sentence's words are one slice: cut there instead of looping.
    count = len(sentences) or 1
    cuts = np.searchsorted(placed, np.arange(count + 1)).tolist()
    content_cuts = np.searchsorted(np.asarray(content, dtype=np.int64), cuts).tolist()
    sentence_content = [content[content_cuts[s] : content_cuts[s + 1]] for s in range(count)]
    return Analysed(
        text=text,
        sentences=list(sentences),
        words=words,
        stems=stems,
        starts=starts,
        ends=ends,
        sentence_of=placed.tolist(),
        content=content,
        title_stems=title_stems(title),
        lead_sentence=0 if first_in_article else -1,
        sentence_tokens=[range(cuts[s], cuts[s + 1]) for s in range(count)],
        sentence_content=sentence_content,
        sentence_stems=[set(stems[cuts[s] : cuts[s + 1]]) for s in range(count)],
        sentence_content_stems=[[stems[i] for i in indexes] for indexes in sentence_content],
        sentence_words=[words[cuts[s] : cuts[s + 1]] for s in range(count)],
        stem_set=frozenset(stems),
        word_set=frozenset(words),
    )


# --- shared measures ------------------------------------------------------------------------------


def _cover(query: Query, stems: set[str] | frozenset[str]) -> float:
    return sum(query.idf.get(t, 0.0) for t in query.terms if t in stems) / query.total_idf


def _proximity(query: Query, stems: list[str], positions: list[int]) -> float:
    """Best idf share of distinct question words inside a window of PROXIMITY_WINDOW content words."""
    hits = [(k, stems[i]) for k, i in enumerate(positions) if stems[i] in query.idf]
    best = 0.0
    for a, (start, _) in enumerate(hits):
        seen: set[str] = set()
        for position, stem in hits[a:]:
            if position - start >= PROXIMITY_WINDOW:
                break
            seen.add(stem)
        best = max(best, sum(query.idf[t] for t in seen))
    return best / query.total_idf


def _bigrams(query: Query, stems: list[str], positions: list[int]) -> float:
    if not query.bigrams:
        return 0.0
    found = {(stems[i], stems[j]) for i, j in zip(positions, positions[1:], strict=False)}
    return len(query.bigrams & found) / len(query.bigrams)


def _phrases(query: Query, words: list[str]) -> float:
    if not query.phrases:
        return 0.0
    return len(query.phrases & set(zip(words, words[1:], strict=False))) / len(query.phrases)


def _share(wanted: frozenset[str], have: set[str]) -> float:
    return sum(1 for w in wanted if w in have) / len(wanted) if wanted else 0.0


_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'’\-]+(?:\s+[A-Z][\w'’\-]+)*")


def answer_spans(query: Query, sentence: str) -> list[tuple[int, int]]:
    """Where in the sentence an answer of the asked kind could be (beyond the question's own words)."""
    if query.agreement:
        found = [m.span() for m in AGREEMENT.finditer(sentence)]
    elif query.qtype == "siapa":
        found = [(n.start, n.end) for n in new_names(query.question, sentence)]
    elif query.qtype == "kapan":
        found = [m.span() for m in DATE.finditer(sentence)]
    elif query.qtype == "di mana":
        found = [m.span() for m in PLACE.finditer(sentence)]
    elif query.qtype == "berapa":
        found = [m.span() for m in AMOUNT.finditer(sentence) if m.group().lower() not in query.numbers]
    else:
        found = [m.span() for m in _CAPITALISED.finditer(sentence)
                 if not set(fold(m.group()).split()) <= query.names]
    return found


def type_match(query: Query, sentence: str) -> bool:
    """The sentence holds the kind of answer the question asks for (beyond the question's own words)."""
    if query.qtype not in QTYPE_FLAGS and not query.agreement:
        return False
    return bool(answer_spans(query, sentence))


def _typed_proximity(
    query: Query, passage: Analysed, sentence: int, spans: list[tuple[int, int]], window: int = 6
) -> float:
    """Best idf share of question words within `window` words of a possible answer in the sentence."""
    if not spans:
        return 0.0
    base = passage.sentences[sentence][0]
    indexes = passage.sentence_tokens[sentence]
    best = 0.0
    for lo, hi in ((base + a, base + b) for a, b in spans):
        inside = [k for k, i in enumerate(indexes) if passage.starts[i] < hi and passage.ends[i] > lo]
        if not inside:
            continue
        near = indexes[max(0, inside[0] - window) : inside[-1] + window + 1]
        best = max(best, _cover(query, {passage.stems[i] for i in near}))
    return best


def _order(query: Query, stems: list[str]) -> float:
    """Longest run of the question's words appearing in the same order in `stems`, over all of them."""
    wanted = [t for t in query.terms if t in query.idf]
    if not wanted:
        return 0.0
    seen = [s for s in stems if s in query.idf]
    if len(set(seen)) < 2:  # one word found (however often) is a run of one; none is none
        return (1.0 if seen and seen[0] in wanted else 0.0) / len(wanted)
    previous = [0] * (len(seen) + 1)
    for term in wanted:
        current = [0] * (len(seen) + 1)
        for j, stem_ in enumerate(seen, 1):
            current[j] = previous[j - 1] + 1 if stem_ == term else max(previous[j], current[j - 1])
        previous = current
    return previous[-1] / len(wanted)


def _type_flags(query: Query, matched: float) -> list[float]:
    flags = [matched if query.qtype == q else 0.0 for q in QTYPE_FLAGS]
    return [*flags, matched if query.agreement else 0.0]


# --- chunk features -------------------------------------------------------------------------------


@dataclass
class ChunkSignals:
    """Per-chunk retrieval facts the features are computed from."""

    bm25: float
    dense: float
    keyword_rank: int | None
    dense_rank: int | None


def bm25_score(query: Query, stems: list[str], length: float, average: float, k1: float, b: float) -> float:
    """BM25 of a chunk for the question's words; length and average in the same unit (characters)."""
    counts: dict[str, int] = {}
    for stem in stems:
        if stem in query.idf:
            counts[stem] = counts.get(stem, 0) + 1
    norm = k1 * (1.0 - b + b * length / max(average, 1.0))
    return sum(query.idf[t] * tf * (k1 + 1.0) / (tf + norm) for t, tf in counts.items())


SIGNAL_COLUMNS = 6  # CHUNK_FEATURES that need both searches' results: bm25_rel ... dense_rr


def chunk_features(
    query: Query, passages: Sequence[Analysed], signals: Sequence[ChunkSignals], k1: float
) -> np.ndarray:
    """One row of CHUNK_FEATURES per passage."""
    return combine_chunk_features(query, [passage_row(query, p) for p in passages], signals, k1)


def combine_chunk_features(
    query: Query, rows: Sequence[Sequence[float]], signals: Sequence[ChunkSignals], k1: float
) -> np.ndarray:
    """CHUNK_FEATURES from each chunk's passage_row and its place in the two searches."""
    best_bm25 = max((s.bm25 for s in signals), default=0.0) or 1.0
    best_dense = max((s.dense for s in signals), default=0.0)
    most_bm25 = query.total_idf * (k1 + 1.0) / (1.0 + k1)  # every word once in an average-length chunk
    out = np.empty((len(rows), len(CHUNK_FEATURES)), dtype=np.float64)
    for number, (row, signal) in enumerate(zip(rows, signals, strict=True)):
        out[number, :SIGNAL_COLUMNS] = (
            signal.bm25 / best_bm25,
            min(signal.bm25 / most_bm25, 2.0),
            signal.dense,
            signal.dense - best_dense,
            1.0 / (1.0 + signal.keyword_rank) if signal.keyword_rank is not None else 0.0,
            1.0 / (1.0 + signal.dense_rank) if signal.dense_rank is not None else 0.0,
        )
        out[number, SIGNAL_COLUMNS:] = row
    return out


def passage_row(query: Query, passage: Analysed) -> list[float]:
    """The CHUNK_FEATURES after the signal columns: what the chunk's own words say about the question.

    It needs neither search's results, so it can be worked out while the question is still being embedded.
    """
    plain_total = sum(query.idf.get(t, 0.0) for t in query.plain) or 1.0
    typed = query.qtype in QTYPE_FLAGS or query.agreement or query.qtype == "apa"
    stems, content = passage.stems, passage.content
    everything = passage.stem_set | passage.title_stems
    missing = [query.idf.get(t, 0.0) for t in query.terms if t not in everything]
    plain = sum(query.idf.get(t, 0.0) for t in query.plain if t in everything)
    opening = _cover(query, set(stems[:LEAD_WORDS]))
    sentence_stems = passage.sentence_content_stems
    sentence_words = passage.sentence_words
    covers = [_cover(query, set(x)) for x in sentence_stems]
    best_typed = typed_near = 0.0
    agree = 0.0
    for number, (start, end) in enumerate(passage.sentences):
        if covers[number] <= typed_near:
            continue  # neither typed measure can beat the best so far
        spans = answer_spans(query, passage.text[start:end]) if typed else []
        if spans:
            best_typed = max(best_typed, covers[number])
            typed_near = max(typed_near, _typed_proximity(query, passage, number, spans))
    if query.agreement:
        agree = best_typed
    flags = _type_flags(query, best_typed)[:-1]
    return [
        _cover(query, everything),
        _share(frozenset(query.terms), everything),
        max(missing, default=0.0) / query.max_idf,
        _proximity(query, stems, content),
        max(covers, default=0.0),
        _bigrams(query, stems, content),
        max((_phrases(query, w) for w in sentence_words), default=0.0),
        _cover(query, passage.title_stems),
        _share(query.names, passage.word_set),
        _share(query.numbers, passage.word_set),
        best_typed,
        *flags,
        agree,
        typed_near,
        plain / plain_total,
        max((_order(query, x) for x in sentence_stems), default=0.0),
        opening,
        opening if _COPULAS & set(passage.words[: LEAD_WORDS + 8]) else 0.0,
        math.log1p(len(stems)),
        1.0 if passage.lead_sentence == 0 else 0.0,
    ]


# --- sentence features ----------------------------------------------------------------------------

_OPEN_QUOTES = ('"', "“", "'", "‘", "«")


def sentence_features(
    query: Query, passage: Analysed, chunk_score: float, chunk_top: bool, chunk_start: int
) -> np.ndarray:
    """One row of SENTENCE_FEATURES per sentence of the passage (`chunk_start`: its offset in the article)."""
    return with_chunk_score(passage_sentence_rows(query, passage, chunk_start), chunk_score, chunk_top)


def with_chunk_score(rows: np.ndarray, chunk_score: float, chunk_top: bool) -> np.ndarray:
    """passage_sentence_rows with the two columns the chunk ranker decides filled in (a copy)."""
    out = rows.copy()
    out[:, 0] = chunk_score
    out[:, 1] = 1.0 if chunk_top else 0.0
    return out


def passage_sentence_rows(query: Query, passage: Analysed, chunk_start: int) -> np.ndarray:
    """SENTENCE_FEATURES of each sentence with chunk_score and chunk_top left 0: known before ranking."""
    count = len(passage.sentences)
    sets = passage.sentence_stems
    asked = set(query.terms)
    relevant = asked | query.idf.keys()
    rows = []
    for s, (start, end) in enumerate(passage.sentences):
        text = passage.text[start:end]
        context = sets[s].union(*(sets[n] for n in (s - 1, s + 1) if 0 <= n < count))
        spans = answer_spans(query, text)
        matched = 1.0 if spans and (query.qtype in QTYPE_FLAGS or query.agreement) else 0.0
        names = len(spans) if query.qtype == "siapa" and not query.agreement else 0
        content, content_stems = passage.sentence_content[s], passage.sentence_content_stems[s]
        words = passage.sentence_words[s]
        novel = sum(1 for t in content_stems if t not in asked) / len(content_stems) if content_stems else 0.0
        if sets[s].isdisjoint(relevant):  # none of the question's words: the measures of them are all 0
            proximity = bigrams = typed_near = order = 0.0
        else:
            proximity = _proximity(query, passage.stems, content)
            bigrams = _bigrams(query, passage.stems, content)
            typed_near = _typed_proximity(query, passage, s, spans)
            order = _order(query, content_stems)
        rows.append(
            [
                0.0,  # chunk_score
                0.0,  # chunk_top
                _cover(query, sets[s]),
                _cover(query, context),
                _cover(query, sets[s] | passage.title_stems),
                proximity,
                bigrams,
                _phrases(query, words),
                _share(query.names, set(words)),
                _share(query.numbers, set(words)),
                matched,
                *_type_flags(query, matched),
                typed_near,
                order,
                math.log1p(names),
                1.0 if query.qtype == "siapa" and ATTENDANCE.search(text) else 0.0,
                novel,
                1.0 if s == 0 and passage.lead_sentence == 0 else 0.0,
                math.log1p((chunk_start + start) / 100.0),
                math.log1p(len(passage.sentence_tokens[s])),
                1.0 if text.lstrip().startswith(_OPEN_QUOTES) else 0.0,
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(SENTENCE_FEATURES))


def answer_features(
    query: Query,
    sentence_score: float,
    sentence_row: np.ndarray,
    chunk_row: np.ndarray,
    chunk_scores: Sequence[float],
    chunk_stems: frozenset[str] | set[str],
) -> np.ndarray:
    """One row of ANSWER_FEATURES for the best quote: how sure is tanya that it answers?"""
    c = dict(zip(CHUNK_FEATURES, chunk_row, strict=True))
    s = dict(zip(SENTENCE_FEATURES, sentence_row, strict=True))
    ordered = sorted(chunk_scores, reverse=True)
    margin = ordered[0] - ordered[1] if len(ordered) > 1 else ordered[0] if ordered else 0.0
    return np.asarray(
        [
            sentence_score,
            s["chunk_score"],
            margin,
            c["cover"],
            c["missing_idf"],
            c["names"],
            c["numbers"],
            c["bm25_abs"],
            c["dense"],
            s["cover"],
            s["type"],
            math.log1p(len(query.terms)),
            *(1.0 if query.qtype == q else 0.0 for q in QTYPE_FLAGS),
            1.0 - c["cover_words"],
            c["proximity"],
            c["opening"],
            s["typed_proximity"],
            s["phrases"],
            s["order"],
            ordered[0] if ordered else 0.0,
            sum(query.idf.get(t, 0.0) for t in query.unseen) / query.total_idf,
            max((query.idf.get(t, 0.0) for t in query.name_stems if t not in chunk_stems), default=0.0)
            / query.max_idf,
            sum(query.idf.get(t, 0.0) for t in query.plain if t not in chunk_stems)
            / (sum(query.idf.get(t, 0.0) for t in query.plain) or 1.0),
            1.0 - s["cover"],
        ],
        dtype=np.float64,
    )


# --- the models -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearModel:
    """Logistic regression on standardised features: p = sigmoid(((x - mean) / scale) . coef + intercept)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return sigmoid(self.logit(rows))

    def logit(self, rows: np.ndarray) -> np.ndarray:
        if rows.size == 0:
            return np.zeros(len(rows))
        return ((rows - self.mean) / self.scale) @ self.coef + self.intercept

    @classmethod
    def from_dict(cls, data: dict, expected: tuple[str, ...]) -> LinearModel:
        features = tuple(data["features"])
        if features != expected:
            raise TanyaError(f"{MODEL_FILE}: other features than this tanya; refit: bench/fit_ranker.py")
        return cls(
            features,
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
            np.asarray(data["coef"], dtype=np.float64),
            float(data["intercept"]),
        )

    def to_dict(self) -> dict:
        return {
            "features": list(self.features),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(float(self.intercept), 6),
        }


@dataclass(frozen=True)
class WordWeights:
    """Learned weights of a sentence's own words, those the question does not use, added to a linear model's
    logit: one table for siapa questions, one for the others.

    The feature columns know a few word lists; which words open an attendee list or state the terms of an
    agreement ("didampingi", "tandatangan", "bakal", "akan") the meeting model learns from the written
    training questions (bench/fit_ranker.py fit_meeting; docs/quality.md).
    """

    siapa: dict[str, float]
    other: dict[str, float]

    def logits(self, question: str, qtype: str, sentences: Sequence[AbstractSet[str]]) -> np.ndarray:
        """The words' share of each sentence's logit (sentences as sets of stems)."""
        table = self.siapa if qtype == "siapa" else self.other
        asked = question_stems(question)
        return np.array([sum(table.get(s, 0.0) for s in stems if s not in asked) for stems in sentences])

    @classmethod
    def from_dict(cls, data: dict) -> WordWeights:
        return cls(
            {str(k): float(v) for k, v in data["siapa"].items()}, {str(k): float(v) for k, v in data["other"].items()}
        )

    def to_dict(self) -> dict:
        return {
            kind: {k: round(v, 4) for k, v in sorted(table.items())}
            for kind, table in (("siapa", self.siapa), ("other", self.other))
        }


def chunk_order_rows(chunk_scores: np.ndarray, chunk_rows: np.ndarray) -> np.ndarray:
    """CHUNK_ORDER_FEATURES from the chunk model's probabilities and the chunks' CHUNK_FEATURES rows."""
    probability = np.clip(np.asarray(chunk_scores, dtype=np.float64), 1e-6, 1 - 1e-6)
    columns = [CHUNK_FEATURES.index(name) for name in CHUNK_ORDER_FEATURES[1:]]
    return np.column_stack([np.log(probability / (1 - probability)), chunk_rows[:, columns]])


def question_stems(question: str) -> frozenset[str]:
    """Every stem of the question, question and function words included: the words a sentence repeats from the
    question are the feature columns' business, not WordWeights'."""
    return frozenset(t.stem for t in tokenize(question))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


@dataclass(frozen=True)
class TreeModel:
    """Gradient-boosted trees: p = sigmoid(baseline + the leaf value each tree sends the row to).

    Each tree is four parallel lists (feature, threshold, left, right; a leaf has left == -1) plus its node
    values. Every row walks every tree at once, one numpy step per level of depth: 0.05 ms for the answer
    models' one row per question, and fast enough over the tens of thousands of rows they are fitted on.
    """

    features: tuple[str, ...]
    baseline: float
    trees: tuple[tuple[list[int], list[float], list[int], list[int], list[float]], ...]

    def predict(self, rows: np.ndarray) -> np.ndarray:
        feature, threshold, children, value, roots = self._flat
        rows = np.ascontiguousarray(rows, dtype=np.float64)
        count, width = rows.shape
        node = np.tile(roots, count)  # (row, tree) pairs, row-major
        offset = np.repeat(np.arange(count, dtype=np.int64) * width, len(roots))
        cells = rows.ravel()
        for _ in range(self._depth):  # a leaf is its own child both ways, so it stays put
            right = ~(cells.take(offset + feature.take(node)) <= threshold.take(node))
            node = children.take(2 * node + right)
        raw = self.baseline + value.take(node).reshape(count, len(roots)).sum(axis=1)
        return sigmoid(raw)

    @cached_property
    def _flat(self) -> tuple[np.ndarray, ...]:
        """All trees' nodes in one set of arrays (feature, threshold, children as (left, right) pairs, value)
        plus each tree's root; a leaf reads feature 0 against +inf and points to itself."""
        feature: list[int] = []
        threshold: list[float] = []
        children: list[int] = []
        value: list[float] = []
        roots: list[int] = []
        for features, thresholds, left, right, values in self.trees:
            base = len(feature)
            roots.append(base)
            for node, (f, t, lo, hi) in enumerate(zip(features, thresholds, left, right, strict=True)):
                leaf = lo < 0
                feature.append(0 if leaf else f)
                threshold.append(math.inf if leaf else t)
                children += [base + node, base + node] if leaf else [base + lo, base + hi]
            value += values
        return (
            np.array(feature, dtype=np.int64),
            np.array(threshold, dtype=np.float64),
            np.array(children, dtype=np.int64),
            np.array(value, dtype=np.float64),
            np.array(roots, dtype=np.int64),
        )

    @cached_property
    def _depth(self) -> int:
        """The most steps any tree takes from its root to a leaf."""
        deepest = 0
        for _, _, left, right, _ in self.trees:
            level, depth = [0], 0
            while level := [child for node in level if left[node] >= 0 for child in (left[node], right[node])]:
                depth += 1
            deepest = max(deepest, depth)
        return deepest

    @classmethod
    def from_dict(cls, data: dict, expected: tuple[str, ...]) -> TreeModel:
        features = tuple(data["features"])
        if features != expected:
            raise TanyaError(f"{MODEL_FILE}: other features than this tanya; refit: bench/fit_ranker.py")
        trees = tuple(
            (
                [int(v) for v in t["feature"]],
                [float(v) for v in t["threshold"]],
                [int(v) for v in t["left"]],
                [int(v) for v in t["right"]],
                [float(v) for v in t["value"]],
            )
            for t in data["trees"]
        )
        return cls(features, float(data["baseline"]), trees)

    def to_dict(self) -> dict:
        keys = ("feature", "threshold", "left", "right", "value")
        return {
            "kind": "trees",
            "features": list(self.features),
            "baseline": round(self.baseline, 8),
            "trees": [
                {key: [_round(v) for v in column] for key, column in zip(keys, tree, strict=True)}
                for tree in self.trees
            ],
        }


def _round(value: float | int) -> float | int:
    return round(value, 8) if isinstance(value, float) else value


Model = LinearModel | TreeModel


def model_from_dict(data: dict, expected: tuple[str, ...]) -> Model:
    """A shipped model: logistic regression, or gradient-boosted trees when its "kind" says so."""
    if data.get("kind") == "trees":
        return TreeModel.from_dict(data, expected)
    return LinearModel.from_dict(data, expected)


@dataclass(frozen=True)
class Ranker:
    """The shipped models and the settings they were fitted with."""

    version: str
    k1: float
    b: float
    chunk: LinearModel
    sentence: LinearModel
    answer: Model  # the probability that the sources answer the question at all: decides abstention
    correct: Model  # the probability that quote 1 holds the answer: decides the confidence word
    confidence: dict[str, float]  # lowest `correct` probability for "tinggi" and for "sedang"
    min_score: float  # below this `answer` probability tanya declines (config answer.min_score overrides)
    widen_ratio: float = 1.0  # a neighbour joins quote 1 when its score is at least this share of the best's
    quote_words: int = 45  # ... and the quote stays within this many words
    sha256: str = ""
    meeting: LinearModel | None = None  # the sentence model for who-attended / what-was-agreed questions
    meeting_correct: Model | None = None  # ... and the probability that quote 1 holds their answer
    meeting_words: WordWeights | None = None  # the meeting model's word weights (added to its logit)
    chunk_order: LinearModel | None = None  # orders the chunks of names_one_event questions (CHUNK_ORDER_FEATURES)
    model: str = BUNDLED_MODEL  # the embedding model whose cosines it was fitted on (model.name)

    def identity(self) -> dict[str, object]:
        """What the index manifest records about the ranker that answered from it."""
        return {"name": "learned", "version": self.version, "sha256": self.sha256[:16]}


def ranker_from_dict(data: dict, sha256: str = "") -> Ranker:
    return Ranker(
        version=str(data["version"]),
        # the cross-fitted ones say "bundled-tuned (cross-fitted)"; the shipped file predates the key
        model=str(data.get("model", BUNDLED_MODEL)).split(" (")[0],
        k1=float(data["bm25"]["k1"]),
        b=float(data["bm25"]["b"]),
        chunk=LinearModel.from_dict(data["chunk"], CHUNK_FEATURES),
        sentence=LinearModel.from_dict(data["sentence"], SENTENCE_FEATURES),
        answer=model_from_dict(data["answer"], ANSWER_FEATURES),
        correct=model_from_dict(data["correct"], ANSWER_FEATURES),
        confidence={k: float(v) for k, v in data["confidence"].items()},
        min_score=float(data["min_score"]),
        widen_ratio=float(data.get("quote", {}).get("widen_ratio", 1.0)),
        quote_words=int(data.get("quote", {}).get("max_words", 45)),
        sha256=sha256,
        meeting=LinearModel.from_dict(data["meeting"], SENTENCE_FEATURES) if "meeting" in data else None,
        meeting_correct=(
            model_from_dict(data["meeting_correct"], ANSWER_FEATURES) if "meeting_correct" in data else None
        ),
        meeting_words=WordWeights.from_dict(data["meeting_words"]) if "meeting_words" in data else None,
        chunk_order=(
            LinearModel.from_dict(data["chunk_order"], CHUNK_ORDER_FEATURES) if "chunk_order" in data else None
        ),
    )


@lru_cache(maxsize=4)
def load_ranker(path: Path | None = None) -> Ranker:
    """The ranker shipped in tanya/data/ranker.json, or the one in `path` (retrieval.ranker_file): models
    bench/fit_ranker.py fitted for another embedding model, whose cosines the shipped ones would misread."""
    if path is None:
        raw = resources.files("tanya").joinpath("data", MODEL_FILE).read_bytes()
        return ranker_from_dict(json.loads(raw), hashlib.sha256(raw).hexdigest())
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"retrieval.ranker_file: cannot read {path} ({exc.strerror})") from None
    try:
        return ranker_from_dict(json.loads(raw), hashlib.sha256(raw).hexdigest())
    except ValueError as exc:  # JSONDecodeError is one
        problem = f"{exc}"
    except KeyError as exc:
        problem = f"no {exc.args[0]!r}"
    except (TypeError, AttributeError, TanyaError):
        problem = "not the layout bench/fit_ranker.py writes"
    raise ConfigError(f"retrieval.ranker_file: {path} is no ranker this tanya can use ({problem})")
