"""Every chunk of the 3,463 real indosum articles: exact offsets and within the model's token budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanya.chunking import chunk_article
from tanya.embedding import Embedder
from tanya.ingest import IngestReport, read_sources


@pytest.mark.model
@pytest.mark.shared
def test_all_indosum_chunks_round_trip_and_fit(shared_data: Path, real_embedder: Embedder) -> None:
    report = IngestReport()
    articles = list(read_sources([shared_data / "indosum" / "articles.jsonl"], report))
    assert len(articles) == 3463
    assert report.skipped == 0
    budget = real_embedder.max_tokens
    chunks_seen = 0
    for article in articles:
        chunks = chunk_article(article, real_embedder.count_tokens, budget, 1)
        assert chunks, article.id
        covered = " ".join(article.text[c.start : c.end] for c in chunks)
        assert set(article.text.split()) <= set(covered.split()), article.id
        for chunk in chunks:
            assert article.text[chunk.start : chunk.end] == chunk.text
            assert real_embedder.count_tokens(chunk.text) <= budget, (article.id, chunk.ordinal)
            assert chunk.sentences[0].start == chunk.start and chunk.sentences[-1].end == chunk.end
            for span in chunk.sentences:
                assert chunk.start <= span.start < span.end <= chunk.end
        chunks_seen += len(chunks)
    assert chunks_seen >= len(articles)
