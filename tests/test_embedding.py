"""The embedder: lazy loading (an unchanged update never loads the model) and the vector cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, make_app
from test_indexing import CountingEmbedder

from tanya.app import Tanya
from tanya.config import ModelSettings, Settings
from tanya.embedding import Embedder, SentenceTransformerEmbedder, describe_model
from tanya.errors import IndexMismatchError
from tanya.store.cache import CachedEmbedder, EmbeddingCache
from tanya.tuned import layers_path, tuned_identity


def test_model_files_describe_it_as_loading_it_would(real_embedder: Embedder) -> None:
    assert isinstance(real_embedder, SentenceTransformerEmbedder)
    model = real_embedder._load()
    assert describe_model(real_embedder.path) == (model.get_embedding_dimension(), model.max_seq_length)
    assert describe_model("/nonexistent/model") is None


def test_token_counts_need_only_the_tokenizer(real_embedder: Embedder) -> None:
    lazy = SentenceTransformerEmbedder(ModelSettings())
    text = "Kakanwil Kemenkumham Sumsel menerima audiensi Kepala BNNP Sumsel."
    assert lazy.count_tokens(text) == real_embedder.count_tokens(text)
    assert not lazy.loaded


def test_vectors_have_the_shapes_callers_rely_on(real_embedder: Embedder) -> None:
    query = real_embedder.encode_query("Siapa yang hadir?")
    passages = real_embedder.encode_passages(["Wali kota hadir.", "Rektor hadir."])
    assert query.shape == (real_embedder.dimension,) and query.dtype == np.float32
    assert passages.shape == (2, real_embedder.dimension)
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-4


def test_unchanged_update_does_not_load_the_model(tmp_path: Path, real_embedder: Embedder) -> None:
    corpus = tmp_path / "articles"
    shutil.copytree(EXAMPLES, corpus)
    settings = Settings.model_validate({"index_dir": str(tmp_path / "index"), "sources": [str(corpus)]})
    Tanya(settings, embedder=real_embedder).build([corpus])

    fresh = Tanya(settings)
    summary = fresh.update()
    assert summary.chunks_embedded == 0 and summary.unchanged > 0
    embedder = fresh.embedder
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert not embedder.loaded and embedder._tokenizer is None


def test_cache_hit_embeds_nothing_and_returns_the_same_vectors(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, EmbeddingCache(tmp_path / "cache.db", "hashing|fp32"))
    texts = ["harga beras naik", "banjir di kota", "harga beras naik"]
    first = cached.encode_passages(texts)
    assert inner.embedded == 2  # the repeated text once
    reopened = CachedEmbedder(inner, EmbeddingCache(tmp_path / "cache.db", "hashing|fp32"))
    again = reopened.encode_passages(texts)
    assert inner.embedded == 2
    np.testing.assert_array_equal(first, again)
    other = CachedEmbedder(inner, EmbeddingCache(tmp_path / "cache.db", "other-model|fp32"))
    other.encode_passages(texts[:1])
    assert inner.embedded == 3  # another model's vectors are never reused


def test_rebuild_with_cache_embeds_nothing(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, EmbeddingCache(tmp_path / "cache.db", "hashing|fp32"))
    app = make_app(tmp_path, cached)
    first = app.build([EXAMPLES])
    assert inner.embedded == first.chunks_embedded > 0
    app.build([EXAMPLES])
    assert inner.embedded == first.chunks_embedded
    assert len(app.index.vectors) == app.index.db.counts()["chunks"] > 0


def test_onnx_backend_gives_the_torch_vectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_embedder: Embedder
) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    onnx = SentenceTransformerEmbedder(ModelSettings(backend="onnx"))
    texts = ["Wali Kota Kupang menandatangani nota kesepahaman.", "Harga beras naik di pasar Jakarta. " * 40]
    passages = onnx.encode_passages(texts)
    assert passages.shape == (2, real_embedder.dimension)
    assert np.min(np.sum(passages * real_embedder.encode_passages(texts), axis=1)) > 0.9999
    question = "Siapa yang menandatangani nota kesepahaman?"
    assert float(onnx.encode_query(question) @ real_embedder.encode_query(question)) > 0.9999
    assert list((tmp_path / "tanya" / "onnx").glob("*.onnx"))  # exported once, then reused


def test_the_traced_question_pipeline_gives_the_eager_vectors(real_embedder: Embedder) -> None:
    assert isinstance(real_embedder, SentenceTransformerEmbedder)
    model = real_embedder._load()
    for question in ("Kapan?", "Siapa yang menandatangani nota kesepahaman di Kupang?", "rapat desa " * 300):
        vector = real_embedder.start_query(question).result()
        eager = model.encode([question], normalize_embeddings=True, convert_to_numpy=True)[0]
        assert vector.shape == (real_embedder.dimension,) and vector.dtype == np.float32
        assert float(vector @ eager) > 0.9999
    assert real_embedder._query_model  # it ran traced, not through the eager fallback


def test_a_model_that_cannot_be_traced_embeds_questions_eagerly(
    monkeypatch: pytest.MonkeyPatch, real_embedder: Embedder
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/nonexistent/cache")  # nothing cached to load
    monkeypatch.setattr("tanya.embedding.trace_query_model", lambda *args: None)
    eager = SentenceTransformerEmbedder(ModelSettings())
    question = "Siapa yang hadir?"
    pending = eager.start_query(question)
    assert pending.done()  # embedded at once, in the caller's thread
    assert float(pending.result() @ real_embedder.encode_query(question)) > 0.9999
    assert eager._query_model is False  # tried once, not on every question


def test_the_traced_pipeline_is_kept_so_later_processes_skip_loading_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_embedder: Embedder
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    question = "Apa yang disepakati kedua kota?"
    first = SentenceTransformerEmbedder(ModelSettings())
    vector = first.encode_query(question)
    [kept] = (tmp_path / "tanya" / "traced").glob("*.pt")
    second = SentenceTransformerEmbedder(ModelSettings())
    assert float(second.encode_query(question) @ vector) > 0.9999
    assert not second.loaded  # the question never needed sentence-transformers' model

    kept.write_bytes(kept.read_bytes()[:1000])  # cut off, as by a full disk
    third = SentenceTransformerEmbedder(ModelSettings())
    assert float(third.encode_query(question) @ real_embedder.encode_query(question)) > 0.9999
    assert third.loaded and kept.stat().st_size > 1000  # traced again, and the file replaced


def test_the_tuned_model_is_a_model_of_its_own(tmp_path: Path) -> None:
    layers = layers_path()
    if not layers.is_file():
        pytest.skip(f"needs tuned layers at {layers} (python bench/fit_model.py --all ... --out {layers}; not in git)")
    plain = SentenceTransformerEmbedder(ModelSettings(name="bundled"))
    tuned = SentenceTransformerEmbedder(ModelSettings(name="bundled-tuned"))
    assert tuned.name == f"bundled-tuned:{tuned_identity(layers)}"  # what indexes record
    assert (tuned.dimension, tuned.max_tokens) == (plain.dimension, plain.max_tokens)
    question = "Siapa saja yang hadir dalam penandatanganan nota kesepahaman?"
    mine, theirs = tuned.encode_query(question), plain.encode_query(question)
    assert mine.shape == theirs.shape and abs(float(np.linalg.norm(mine)) - 1.0) < 1e-4
    assert float(np.dot(mine, theirs)) < 0.99  # the tuned layers are in use
    # An index built with one model is refused by the other, with the command that rebuilds it.
    settings = {"index_dir": str(tmp_path / "index"), "sources": [str(EXAMPLES)]}
    Tanya(Settings.model_validate({**settings, "model": {"name": "bundled"}}), embedder=plain).build([EXAMPLES])
    other = Tanya(Settings.model_validate({**settings, "model": {"name": "bundled-tuned"}}), embedder=tuned)
    with pytest.raises(IndexMismatchError, match="index build"):
        other.ask(question)
