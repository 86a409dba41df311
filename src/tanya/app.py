"""The composition root: settings -> embedder + index + retriever; ask(), build(), update()."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

from tanya import __version__
from tanya.answer import compose_answer, with_highlights
from tanya.config import Settings
from tanya.embedding import Embedder, load_embedder
from tanya.errors import InputError, TanyaError
from tanya.indexing import Progress, UpdateSummary, update_index
from tanya.ingest import IngestReport, read_sources
from tanya.ranking import Ranker, load_ranker
from tanya.retrieval import Retrieval, Retriever
from tanya.store.index import Index, write_lock
from tanya.store.manifest import Manifest
from tanya.store.swap import building_path, remove_leftovers, swap_in
from tanya.types import Answer, Article

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000  # longer input is cut here: no question needs more, and it bounds the work


class Tanya:
    """One tanya instance: loads the model and the index once, then answers and updates."""

    def __init__(self, settings: Settings, index_dir: Path | None = None, embedder: Embedder | None = None):
        self.settings = settings
        self.index_dir = index_dir or settings.index_path
        self._embedder = embedder
        self._index: Index | None = None
        self._retriever: Retriever | None = None
        self._ranker: Ranker | None = None
        self._lock = threading.RLock()

    # --- parts, created on first use ------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            cache = self.settings.resolve(self.settings.model.cache) if self.settings.model.cache else None
            self._embedder = load_embedder(self.settings.model, cache)
        return self._embedder

    @property
    def ranker(self) -> Ranker:
        """The shipped models, or those of retrieval.ranker_file; said once when fitted for another model."""
        with self._lock:
            if self._ranker is None:
                ranker_file = self.settings.retrieval.ranker_file
                ranker = load_ranker(self.settings.resolve(ranker_file) if ranker_file else None)
                if ranker.model != self.settings.model.name:
                    log.warning(
                        "the ranker (%s) was fitted for model %r, not %r: its scores may be off; fit one with "
                        "bench/fit_ranker.py and name it in retrieval.ranker_file",
                        ranker_file or "shipped", ranker.model, self.settings.model.name,
                    )
                self._ranker = ranker
            return self._ranker

    def wanted_manifest(self, sources: Sequence[Path] = ()) -> Manifest:
        """The manifest today's settings would build."""
        ranker = self.ranker.identity()  # first: a bad ranker_file is said before the model loads
        embedder = self.embedder
        max_tokens = self.settings.chunking.max_tokens or embedder.max_tokens
        return Manifest(
            model=embedder.name,
            dimension=embedder.dimension,
            max_tokens=min(max_tokens, embedder.max_tokens),
            overlap_sentences=self.settings.chunking.overlap_sentences,
            passage_prefix=self.settings.model.passage_prefix,
            query_prefix=self.settings.model.query_prefix,
            sources=[str(s) for s in sources],
            tanya_version=__version__,
            ranker=ranker,
        )

    @property
    def index(self) -> Index:
        """The open index, reopened when another process has changed it."""
        with self._lock:
            if self._index is None:
                self._index = self._open_index()
            elif self._index.is_stale():
                log.info("index changed on disk; reloading")
                fresh = self._open_index()
                self._index.close()
                self._index = fresh
            return self._index

    def _open_index(self) -> Index:
        index = Index.open(self.index_dir, self.wanted_manifest(), vector_settings=self.settings.vectors)
        if index.keyword_rows_outdated():
            log.warning("%s: its keyword rows were stemmed by an older tanya, so keyword search may miss words; "
                        "run: tanya index update (re-stems them without embedding)", self.index_dir)
        return index

    def has_index(self) -> bool:
        return Index.exists(self.index_dir)

    # --- answering ----------------------------------------------------------------------------

    def ask(self, question: str, max_quotes: int | None = None) -> Answer:
        """Quote the passages that answer `question`, or say that none do.

        `max_quotes` overrides answer.max_quotes, e.g. to fetch a few pages of quotes at once.
        """
        return self.ask_traced(question, max_quotes)[0]

    def ask_traced(self, question: str, max_quotes: int | None = None) -> tuple[Answer, Retrieval]:
        """ask(), also returning the ranked candidates it answered from (for bench/quality.py)."""
        question = clean_question(question)
        settings = self.settings.answer
        if max_quotes is not None:
            settings = settings.model_copy(update={"max_quotes": max(1, max_quotes)})
        retrieval = self.retrieve(question)
        with self._lock:
            answer = compose_answer(retrieval, self.index.db, settings, self.ranker)
        return with_highlights(answer), retrieval

    def article(self, article_id: str) -> Article | None:
        """The indexed article with this id, as it is now."""
        with self._lock:
            return self.index.db.article(article_id)

    def newest_titles(self, limit: int) -> list[str]:
        """Titles of the newest articles, distinct, newest first."""
        with self._lock:
            return self.index.db.newest_titles(limit)

    def retrieve(self, question: str) -> Retrieval:
        with self._lock:
            index = self.index
            if self._retriever is None or self._retriever.index is not index:
                # one retriever per open index, so what it has read of the chunks is reused
                if self._retriever is not None:
                    self._retriever.close()
                self._retriever = Retriever(index, self.embedder, self.settings.retrieval, self.ranker)
            return self._retriever.retrieve(question)

    # --- building and updating ------------------------------------------------------------------

    def build(self, sources: Sequence[Path] | None = None, progress: Progress | None = None) -> UpdateSummary:
        """A new index from the sources, built beside the old one and swapped in when complete."""
        sources = self._sources(sources)
        wanted = self.wanted_manifest(sources)
        with write_lock(self.index_dir):
            remove_leftovers(self.index_dir)
            building = building_path(self.index_dir)
            try:
                index = Index.create(building, wanted, self.settings.vectors)
                summary = self._update(index, sources, progress)
                index.close()
                swap_in(building, self.index_dir)
                if not Index.exists(self.index_dir):
                    raise TanyaError(f"{self.index_dir}: the new index did not land; run the build again")
            finally:
                shutil.rmtree(building, ignore_errors=True)
        self._forget_index()
        return summary

    def update(
        self, sources: Sequence[Path] | None = None, progress: Progress | None = None
    ) -> UpdateSummary:
        """Bring the index in line with the sources; builds one when there is none."""
        if not self.has_index():
            return self.build(sources, progress)
        with write_lock(self.index_dir):
            remove_leftovers(self.index_dir)
            current = Index.open(
                self.index_dir, self.wanted_manifest(), readonly=False, vector_settings=self.settings.vectors
            )
            try:
                if sources is None:
                    sources = [Path(s) for s in current.manifest.sources] or self.settings.source_paths
                current.manifest.sources = [str(s) for s in sources]
                current.manifest.ranker = self.ranker.identity()
                summary = self._update(current, list(sources), progress)
            finally:
                current.close()
        return summary

    def ensure_index(self, progress: Progress | None = None) -> UpdateSummary | None:
        """Build the index from the configured sources when none exists yet."""
        if self.has_index():
            return None
        return self.build(None, progress)

    def stats(self) -> dict[str, object]:
        index = self.index
        sizes = {p.name: p.stat().st_size for p in self.index_dir.iterdir() if p.is_file()}
        return {
            "index": str(self.index_dir),
            "model": index.manifest.model,
            "dimension": index.manifest.dimension,
            "max_tokens": index.manifest.max_tokens,
            "overlap_sentences": index.manifest.overlap_sentences,
            **index.db.counts(),
            "vectors": len(index.vectors),
            "newest_date": index.db.newest_date(),
            "sources": index.manifest.sources,
            "outlets": index.db.source_names(),
            "bytes_on_disk": sum(sizes.values()),
            "files": sizes,
            "tanya_version": index.manifest.tanya_version,
        }

    def close(self) -> None:
        self._forget_index()

    def _forget_index(self) -> None:
        with self._lock:
            if self._retriever is not None:
                self._retriever.close()
                self._retriever = None
            if self._index is not None:
                self._index.close()
                self._index = None

    def _sources(self, sources: Sequence[Path] | None) -> list[Path]:
        chosen = [Path(s).resolve() for s in sources] if sources else self.settings.source_paths
        if not chosen:
            raise InputError("no sources given and none in config.yaml (key: sources)")
        return chosen

    def _update(self, index: Index, sources: list[Path], progress: Progress | None) -> UpdateSummary:
        report = IngestReport()
        articles = read_sources(sources, report)
        summary = update_index(
            index,
            articles,
            self.embedder,
            index.manifest.overlap_sentences,
            index.manifest.max_tokens,
            progress,
        )
        summary.skipped = report.skipped
        summary.warnings = list(report.warnings)
        return summary


def clean_question(question: str) -> str:
    """The question stripped and bounded; an empty one is refused."""
    question = " ".join(str(question).split())
    if not question:
        raise InputError("the question is empty")
    return question[:MAX_QUESTION_CHARS]
