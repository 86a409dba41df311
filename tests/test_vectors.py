"""The vector index: exact while small, IVF past a size; tested against numpy's exact search."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import make_app, write_article

from tanya.config import VectorSettings
from tanya.store import vectors as vector_store
from tanya.store.vectors import VectorIndex, ivf_lists


def clustered(n: int, dimension: int = 32, seed: int = 0) -> np.ndarray:
    """Unit vectors around a few hundred centres, like sentence embeddings (not uniform noise)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, dimension))
    vectors = centres[rng.integers(0, 200, n)] + 0.4 * rng.standard_normal((n, dimension))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def exact_top(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> set[int]:
    return set(ids[np.argsort(-(vectors @ query))[:k]].tolist())


def batches_of(ids: np.ndarray, vectors: np.ndarray, size: int = 500):  # type: ignore[no-untyped-def]
    return lambda: ((ids[i : i + size], vectors[i : i + size]) for i in range(0, len(ids), size))


def recall_at_10(index: VectorIndex, ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray) -> float:
    found = [len({i for i, _ in index.search(q, 10)} & exact_top(vectors, ids, q, 10)) / 10 for q in queries]
    return float(np.mean(found))


def test_small_index_is_flat_and_exact() -> None:
    vectors = clustered(1000)
    ids = np.arange(1000, dtype=np.int64) * 7 + 3
    index = VectorIndex.build(32, len(ids), batches_of(ids, vectors), VectorSettings(exact_up_to=5000))
    assert index.kind == "flat"
    assert recall_at_10(index, ids, vectors, clustered(20, seed=1)) == 1.0


def test_large_index_is_ivf_with_high_recall() -> None:
    vectors = clustered(4000)
    ids = np.arange(4000, dtype=np.int64) * 5 + 11  # chunk ids are not positions
    settings = VectorSettings(exact_up_to=1000, probe=16)
    index = VectorIndex.build(32, len(ids), batches_of(ids, vectors), settings)
    assert index.kind == "ivf"
    assert index.suits(len(ids)) and not index.suits(500)
    assert recall_at_10(index, ids, vectors, clustered(30, seed=2)) >= 0.9
    # Every list probed: only the 8-bit codes stand between it and exact search.
    everything = VectorSettings(exact_up_to=1000, probe=1000, probe_share=1.0)
    every = VectorIndex.build(32, len(ids), batches_of(ids, vectors), everything)
    assert recall_at_10(every, ids, vectors, clustered(30, seed=2)) >= 0.97


def test_ivf_lists_shared_among_threads_find_the_same_hits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vector_store, "SPLIT_MIN_VECTORS", 100)  # a small index is not worth sharing out
    handed: list[int] = []
    pool = vector_store._search_pool
    monkeypatch.setattr(vector_store, "_search_pool", lambda workers: handed.append(workers) or pool(workers))
    vectors = clustered(4000)
    ids = np.arange(4000, dtype=np.int64) * 3 + 1
    index = VectorIndex.build(32, len(ids), batches_of(ids, vectors), VectorSettings(exact_up_to=1000, probe=48))
    path = tmp_path / "vectors.faiss"
    index.save(path)
    mapped = VectorIndex.load(path, VectorSettings(exact_up_to=1000, probe=48, mmap=True), readonly=True)
    for one in (index, mapped):
        settings = [VectorSettings(probe=48, probe_share=1.0, search_threads=n) for n in (1, 3)]
        alone, shared = (VectorIndex(32, one._index, s) for s in settings)
        for query in clustered(20, seed=4):
            for k in (10, 3000):  # 3000: more than the probed lists hold, so each share comes back padded
                mine, theirs = shared.search(query, k), alone.search(query, k)
                # The same hits with the same scores; hits whose codes score exactly alike may swap places.
                assert [score for _, score in mine] == [score for _, score in theirs]
                assert sorted(mine) == sorted(theirs)
    assert handed and set(handed) == {2}  # three threads: the caller and two helpers
    assert any(t.name.startswith("tanya-search") for t in threading.enumerate())


def test_ivf_removes_and_reconstructs_by_chunk_id(tmp_path: Path) -> None:
    vectors = clustered(2000)
    ids = np.arange(2000, dtype=np.int64) + 100
    index = VectorIndex.build(32, len(ids), batches_of(ids, vectors), VectorSettings(exact_up_to=10))
    query = vectors[5]
    assert index.search(query, 1)[0][0] == 105
    assert abs(index.similarities(query, [105])[105] - 1.0) < 0.02
    index.remove([105])
    assert 105 not in {i for i, _ in index.search(query, 10)}
    assert index.similarities(query, [105]) == {}

    path = tmp_path / "vectors.faiss"
    index.save(path)
    loaded = VectorIndex.load(path, VectorSettings(exact_up_to=10, probe=7))
    assert (loaded.kind, len(loaded), loaded.writable) == ("ivf", 1999, True)
    assert loaded.search(vectors[6], 1)[0][0] == 106
    mapped = VectorIndex.load(path, VectorSettings(exact_up_to=10, mmap=True), readonly=True)
    assert not mapped.writable
    assert mapped.search(vectors[6], 1)[0][0] == 106
    with pytest.raises(RuntimeError, match="read-only"):
        mapped.add(np.array([1], dtype=np.int64), vectors[:1])


def test_index_switches_to_ivf_when_it_grows_past_the_limit(tmp_path: Path) -> None:
    corpus = tmp_path / "articles"
    for n in range(40):
        body = f"Kota {n} - Warga desa {n} membangun jembatan baru sepanjang {n * 3} meter, Senin."
        write_article(corpus, f"a{n}.txt", f"Berita nomor {n}", body)
    app = make_app(tmp_path, vectors={"exact_up_to": 10})
    app.build([corpus])
    app.close()
    assert app.index.vectors.kind == "ivf"
    assert len(app.index.vectors) == app.index.db.counts()["chunks"]
    query = app.embedder.encode_query("Warga desa 7 membangun jembatan baru sepanjang 21 meter")
    [(best, _)] = app.index.vectors.search(query, 1)
    assert app.index.db.chunks([best])[best].article_id == "a7.txt"
    # Shrinking back below the limit returns to exact search.
    for n in range(35):
        (corpus / f"a{n}.txt").unlink()
    app.update()
    app.close()
    assert app.index.vectors.kind == "flat"
    assert len(app.index.vectors) == app.index.db.counts()["chunks"]


def test_ivf_list_count_and_rescoring_follow_the_settings() -> None:
    vectors = clustered(4000)
    ids = np.arange(4000, dtype=np.int64) + 1
    settings = VectorSettings(exact_up_to=1000, probe=1000, probe_share=1.0, lists_per_sqrt=2.0)
    index = VectorIndex.build(32, len(ids), batches_of(ids, vectors), settings)
    assert index._index.nlist == ivf_lists(4000, 2.0) == 126
    assert index.suits(4000)
    assert not VectorIndex(32, index._index, VectorSettings(exact_up_to=1000, lists_per_sqrt=0.25)).suits(4000)
    # An index with another kind of codes (an older tanya's per-dimension 8-bit codes) is rebuilt.
    faiss = vector_store._faiss()
    older = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(32), 32, 126, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    assert not VectorIndex(32, older, settings).suits(4000)
    # Probes: as set for an index with the lists the settings make; the same share of the lists for one
    # made with a quarter of them (an older release's), until an update rebuilds it.
    every = {"probe_share": 1.0}
    assert vector_store.probes(VectorSettings(probe=32, lists_per_sqrt=2.0, **every), 126, 4000) == 32
    assert vector_store.probes(VectorSettings(probe=32, lists_per_sqrt=8.0, **every), 126, 4000) == 8
    assert vector_store.probes(VectorSettings(probe=1000, lists_per_sqrt=8.0, **every), 126, 4000) == 126
    # At most probe_share of the lists (the share of an older index's lists likewise).
    assert vector_store.probes(VectorSettings(probe=32, lists_per_sqrt=2.0), 126, 4000) == 13
    assert vector_store.probes(VectorSettings(probe=32, lists_per_sqrt=8.0), 126, 4000) == 8
    assert vector_store.probes(VectorSettings(probe=32, lists_per_sqrt=2.0, probe_share=0.5), 126, 4000) == 32

    stored = {int(i): v for i, v in zip(ids, vectors, strict=True)}
    index.exact = lambda chunk_ids: {i: stored[i] for i in chunk_ids}
    query = clustered(1, seed=3)[0]
    exact = {i: float(np.dot(stored[i], query)) for i in stored}
    rescored = index.search(query, 10)
    assert all(score == pytest.approx(exact[i], abs=1e-6) for i, score in rescored)
    index.settings = VectorSettings(exact_up_to=1000, probe=1000, lists_per_sqrt=2.0, rescore=False)
    coded = index.search(query, 10)  # the 8-bit codes' own scores: close, not equal
    assert all(score == pytest.approx(exact[i], abs=0.05) for i, score in coded)
    assert any(abs(score - exact[i]) > 1e-6 for i, score in coded)
