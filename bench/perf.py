"""Speed, memory and size of tanya beside a plain sentence-transformers + FAISS script and txtai.

    python bench/perf.py                       # default sample: 150 indosum articles, 10k/100k/1M synthetic
    python bench/perf.py --articles 3463 --sizes 10000,100000   # the whole corpus (about an hour on 2 cores)
    python bench/perf.py --scaling-only --no-txtai --no-options --sizes 100000,1000000   # search at scale only

Every measurement runs in its own process, so peak resident memory is that of the one job. Embedding all of
indosum takes most of an hour on 2 cores, so builds and queries use a random sample of --articles articles
(stated in the output); `tanya index update` is timed on the whole corpus (its vectors are random: an
unchanged update embeds nothing, so their values do not matter); the --sizes runs use synthetic articles made
of real indosum sentences, with vectors mixed from real chunk vectors plus noise (embedding a million chunks
would take days here). txtai needs `pip install txtai` (a benchmark-only peer, never a tanya dependency);
ONNX rows need `pip install onnx onnxruntime`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from tanya.config import VectorSettings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
INDOSUM = DATA / "indosum" / "articles.jsonl"
QUESTIONS = DATA / "qa" / "facqa" / "questions.train.jsonl"
TANYA = [sys.executable, "-m", "tanya"]


# --- helpers -------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def disk_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def questions(count: int, path: Path = QUESTIONS) -> list[str]:
    rows = [json.loads(line)["question"] for line in path.open(encoding="utf-8")]
    random.Random(1).shuffle(rows)
    return rows[:count]


def settings_for(index_dir: Path, sources: list[Path], **model: Any) -> Any:
    from tanya.config import Settings

    return Settings.model_validate(
        {"index_dir": str(index_dir), "sources": [str(s) for s in sources], "model": model}
    )


def run_worker(name: str, **kwargs: Any) -> dict[str, Any]:
    """Run one measurement in a fresh process; its last stdout line is a JSON result."""
    cmd = [sys.executable, __file__, "--worker", name, "--worker-args", json.dumps(kwargs, default=str)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        return {"error": f"{name} failed: {tail}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict[str, str]:
    import faiss
    import sentence_transformers
    import torch

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from importlib.metadata import version

        txtai_version = version("txtai")
    except Exception:
        txtai_version = "not installed"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "sentence-transformers": sentence_transformers.__version__,
        "faiss": faiss.__version__,
        "sqlite": sqlite3.sqlite_version,
        "txtai": txtai_version,
        "load average at start": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- the sample ----------------------------------------------------------------------------------


def make_sample(workdir: Path, articles: int) -> Path:
    """A random sample of indosum articles (seed 0), one JSON object a line."""
    path = workdir / f"sample-{articles}.jsonl"
    if not path.is_file():
        lines = INDOSUM.read_text(encoding="utf-8").splitlines()
        random.Random(0).shuffle(lines)
        path.write_text("\n".join(lines[:articles]) + "\n", encoding="utf-8")
    return path


def sample_chunks(sample: Path, workdir: Path) -> Path:
    """The chunk texts tanya makes of the sample: every system embeds exactly these."""
    path = sample.with_suffix(".chunks.json")
    if not path.is_file():
        from tanya.chunking import chunk_article
        from tanya.config import ModelSettings
        from tanya.embedding import SentenceTransformerEmbedder
        from tanya.ingest import IngestReport, read_sources

        embedder = SentenceTransformerEmbedder(ModelSettings())
        texts = [
            c.text
            for a in read_sources([sample], IngestReport())
            for c in chunk_article(a, embedder.count_tokens, embedder.max_tokens, 1)
        ]
        path.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    return path


# --- workers: building ---------------------------------------------------------------------------


def w_tanya_build(
    sample: str, index: str, articles: int, cache: str = "", chunks: str = ""
) -> dict[str, Any]:
    from tanya.app import Tanya
    from tanya.embedding import _use_threads

    index_dir = Path(index)
    shutil.rmtree(index_dir, ignore_errors=True)
    app = Tanya(settings_for(index_dir, [Path(sample)], cache=cache))
    started = time.perf_counter()
    app.embedder.encode_query("pemanasan")  # load the model outside the timed part, like the peers
    load = time.perf_counter() - started

    def bare_encode() -> float:
        """The same chunks through the same loaded model, bare, in the same process and threads."""
        texts = json.loads(Path(chunks).read_text(encoding="utf-8"))
        model = app.embedder._load()  # type: ignore[attr-defined]
        _use_threads(os.cpu_count() or 1)
        started = time.perf_counter()
        model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        return time.perf_counter() - started

    before = bare_encode() if chunks else float("nan")
    # Time spent inside the model during the build, so what tanya adds is also measured directly: a bare
    # encode minutes apart on this machine differs by up to 10% from itself, more than tanya's own share.
    inside = [0.0]
    encode = app.embedder.encode_passages

    def timed_encode(passages: Any) -> np.ndarray:
        started = time.perf_counter()
        try:
            return encode(passages)
        finally:
            inside[0] += time.perf_counter() - started

    app.embedder.encode_passages = timed_encode  # type: ignore[method-assign]
    started = time.perf_counter()
    summary = app.build([Path(sample)])
    seconds = time.perf_counter() - started
    # Bare encoding just before and just after the build: the machine's load is shared by all three.
    bare = (before + bare_encode()) / 2 if chunks else float("nan")
    return {
        "bare": bare,
        "seconds": seconds,
        "inside_encode": inside[0],
        "load": load,
        "chunks": summary.chunks_embedded,
        "articles": articles,
        "rss": peak_rss_mb(),
        "disk": disk_mb(index_dir),
    }


def w_plain_build(chunks: str, index: str) -> dict[str, Any]:
    """What a user would write: encode the chunks, put them in a FAISS flat index, keep texts in JSON."""
    import faiss
    from sentence_transformers import SentenceTransformer

    from tanya.embedding import bundled_model_path

    texts = json.loads(Path(chunks).read_text(encoding="utf-8"))
    folder = Path(index)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    model = SentenceTransformer(bundled_model_path(), device="cpu")
    model.encode(["pemanasan"])
    load = time.perf_counter() - started
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    encode = time.perf_counter() - started
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(flat, str(folder / "vectors.faiss"))
    (folder / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    seconds = time.perf_counter() - started
    np.save(folder.parent / f"{folder.name}.vectors.npy", vectors)  # reused by the synthetic runs
    return {
        "seconds": seconds,
        "encode": encode,
        "load": load,
        "chunks": len(texts),
        "rss": peak_rss_mb(),
        "disk": disk_mb(folder / "vectors.faiss") + disk_mb(folder / "texts.json"),
    }


def w_txtai_build(chunks: str, index: str) -> dict[str, Any]:
    from txtai import Embeddings

    from tanya.embedding import bundled_model_path

    texts = json.loads(Path(chunks).read_text(encoding="utf-8"))
    shutil.rmtree(index, ignore_errors=True)
    started = time.perf_counter()
    embeddings = Embeddings(path=bundled_model_path(), content=True, hybrid=True)
    embeddings.transform("pemanasan")
    load = time.perf_counter() - started
    started = time.perf_counter()
    embeddings.index([(i, t, None) for i, t in enumerate(texts)])
    embeddings.save(index)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "load": load,
        "chunks": len(texts),
        "rss": peak_rss_mb(),
        "disk": disk_mb(Path(index)),
    }


# --- workers: answering --------------------------------------------------------------------------


def w_tanya_query(
    index: str, count: int, compare_keyword: bool = False, backend: str = "torch", questions_file: str = ""
) -> dict[str, Any]:
    started = time.perf_counter()
    from tanya.analysis import fts_query, keyword_terms
    from tanya.answer import compose_answer, with_highlights
    from tanya.app import Tanya
    from tanya.config import Settings
    from tanya.store.keyword import keyword_search

    app = Tanya(Settings.model_validate({"index_dir": index, "model": {"backend": backend}}))
    app.ask("pemanasan model dan indeks")
    startup = time.perf_counter() - started
    # A serving process: the index files it reads into the page cache at start are read before timing
    # (a reader of a large index warms them in the background; the first questions would share the disk).
    for thread in threading.enumerate():
        if thread.name.startswith("warm-"):
            thread.join()
    stages: dict[str, list[float]] = {
        k: [] for k in ("embed", "read_ahead", "dense", "keyword", "fusion", "quote", "total", "alone", "st_alone")
    }
    asked = questions(count, Path(questions_file)) if questions_file else questions(count)
    for question in asked:
        clock = time.perf_counter()
        app.embedder.encode_query(question)  # tanya's own path: the traced pipeline (or ONNX Runtime)
        stages["alone"].append(time.perf_counter() - clock)
        clock = time.perf_counter()
        retrieval = app.retrieve(question)
        middle = time.perf_counter()
        with_highlights(compose_answer(retrieval, app.index.db, app.settings.answer, app.ranker))
        end = time.perf_counter()
        for key in ("embed", "read_ahead", "dense", "keyword"):
            stages[key].append(retrieval.timings.get(key, 0.0))
        # Ranking the candidates: "fusion" in the weighted retriever, "rank" in the learned one.
        stages["fusion"].append(retrieval.timings.get("rank", retrieval.timings.get("fusion", 0.0)))
        stages["quote"].append(end - middle)
        stages["total"].append(end - clock)
        if compare_keyword:  # every term through FTS5, no cap: its time and how much of its top 10 we keep
            db, terms, k = app.index.db, keyword_terms(question), app.settings.retrieval.candidates
            df, _ = db.document_frequencies(terms)
            found = keyword_search(
                db,
                terms,
                df,
                k,
                app.settings.retrieval.keyword_max_postings,
                impact=app.index.keyword_index,
                depth=app.settings.retrieval.keyword_depth,
                exact_top=app.settings.retrieval.keyword_exact_top,
            )
            capped = {cid for cid, _ in found[:10]}
            clock = time.perf_counter()
            full = db.keyword_search(fts_query(terms), k)
            stages.setdefault("uncapped", []).append(time.perf_counter() - clock)
            top = {cid for cid, _ in full[:10]}
            stages.setdefault("overlap", []).append(len(top & capped) / max(1, len(top)))
    rss = peak_rss_mb()  # a serving process: sentence-transformers' model is loaded only for the line below
    model = app.embedder._load()  # type: ignore[attr-defined]
    for question in asked:
        clock = time.perf_counter()
        model.encode([question], normalize_embeddings=True, convert_to_numpy=True)  # the usual call
        stages["st_alone"].append(time.perf_counter() - clock)
    overlap = stages.pop("overlap", [])
    return {
        "chunks": app.index.db.counts()["chunks"],
        "questions": len(asked),
        "keyword_overlap": float(np.mean(overlap)) if overlap else None,
        "p50": {k: pct(v, 0.5) for k, v in stages.items()},
        "p95": {k: pct(v, 0.95) for k, v in stages.items()},
        "startup": startup,
        "rss": rss,
        "kind": app.index.vectors.kind,
        "keyword_index": app.index.keyword_index is not None,
    }


def peer_timings(count: int, threads: int, started: float, embed: Any, search: Any) -> dict[str, Any]:
    """Time a peer: `embed(question)` alone, then `search(question)` as its whole answer path."""
    startup = time.perf_counter() - started
    if threads:
        import torch

        torch.set_num_threads(threads)
    totals, alone = [], []
    for question in questions(count):
        clock = time.perf_counter()
        embed(question)
        alone.append(time.perf_counter() - clock)
        clock = time.perf_counter()
        search(question)
        totals.append(time.perf_counter() - clock)
    return {
        "p50": {"total": pct(totals, 0.5), "alone": pct(alone, 0.5)},
        "p95": {"total": pct(totals, 0.95)},
        "startup": startup,
        "rss": peak_rss_mb(),
    }


def w_plain_query(index: str, count: int, threads: int = 0) -> dict[str, Any]:
    started = time.perf_counter()
    import faiss
    from sentence_transformers import SentenceTransformer

    from tanya.embedding import bundled_model_path

    model = SentenceTransformer(bundled_model_path(), device="cpu")
    flat = faiss.read_index(str(Path(index) / "vectors.faiss"))
    texts = json.loads((Path(index) / "texts.json").read_text(encoding="utf-8"))

    def embed(question: str) -> np.ndarray:
        return model.encode([question], normalize_embeddings=True, convert_to_numpy=True)

    def search(question: str) -> list[str]:
        _, ids = flat.search(np.asarray(embed(question), dtype=np.float32), 10)
        return [texts[i] for i in ids[0] if i >= 0]

    search("pemanasan")
    return peer_timings(count, threads, started, embed, search)


def w_txtai_query(index: str, count: int, threads: int = 0) -> dict[str, Any]:
    started = time.perf_counter()
    from txtai import Embeddings

    embeddings = Embeddings()
    embeddings.load(index)
    embeddings.search("pemanasan", 10)
    return peer_timings(count, threads, started, embeddings.transform, lambda q: embeddings.search(q, 10))


# --- workers: the unchanged update of the whole corpus -------------------------------------------


def w_full_index(index: str) -> dict[str, Any]:
    """All of indosum chunked with the real tokenizer; vectors random (an unchanged update reads none)."""
    from tanya.app import Tanya
    from tanya.embedding import SentenceTransformerEmbedder

    class RandomVectors(SentenceTransformerEmbedder):
        def encode_passages(self, passages):  # type: ignore[no-untyped-def]
            v = np.random.default_rng(len(passages)).standard_normal((len(passages), self.dimension))
            return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    settings = settings_for(Path(index), [INDOSUM])
    app = Tanya(settings, Path(index), RandomVectors(settings.model))
    started = time.perf_counter()
    summary = app.build([INDOSUM])
    return {
        "seconds": time.perf_counter() - started,
        "chunks": summary.chunks_embedded,
        "articles": summary.added,
    }


def w_update_inprocess(index: str) -> dict[str, Any]:
    started = time.perf_counter()
    from tanya.app import Tanya

    settings = settings_for(Path(index), [INDOSUM])
    app = Tanya(settings)
    summary = app.update()
    heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers", "faiss") if m in sys.modules)
    return {
        "seconds": time.perf_counter() - started,
        "summary": summary.to_dict(),
        "imported": heavy,
        "loaded": bool(getattr(app.embedder, "loaded", True)),
        "rss": peak_rss_mb(),
    }


# --- workers: synthetic scaling ------------------------------------------------------------------


def w_synthetic_build(index: str, size: int, sample: str, vectors: str, exact_up_to: int) -> dict[str, Any]:
    """`size` chunks of real indosum sentences in the real schema, vectors mixed from real ones plus noise."""
    from tanya.analysis import indexable_text
    from tanya.app import Tanya
    from tanya.ingest import IngestReport, read_sources
    from tanya.store.database import DB_NAME, Database
    from tanya.store.index import Index
    from tanya.store.manifest import Manifest

    index_dir = Path(index)
    made_before = index_dir.parent / f"{index_dir.name}.json"
    wanted = Tanya(settings_for(index_dir, [Path(sample)])).wanted_manifest()
    manifest_file = index_dir / "manifest.json"
    same_model = manifest_file.is_file() and json.loads(manifest_file.read_text()).get("model") == wanted.model
    if made_before.is_file() and same_model:
        # Made by an earlier run: the database is reused, the derived files brought up to today's code.
        return {**json.loads(made_before.read_text()), **refresh_derived(index_dir), "reused": True}
    shutil.rmtree(index_dir, ignore_errors=True)
    sentences: list[tuple[str, str]] = []  # (text, stemmed text)
    from tanya.chunking import split_sentences

    for article in read_sources([INDOSUM], IngestReport()):
        for span in split_sentences(article.text):
            text = article.text[span.start : span.end]
            if 20 < len(text) < 400:
                sentences.append((text, ""))
    rng = np.random.default_rng(7)
    stems = {}
    bases = np.load(vectors)
    manifest = Manifest(**{**wanted.__dict__, "sources": ["synthetic"]})
    from tanya.config import VectorSettings

    index = Index.create(index_dir, manifest, VectorSettings(exact_up_to=exact_up_to))
    db: Database = index.db
    started = time.perf_counter()
    per_chunk, per_article = 7, 4  # sentences per chunk, chunks per article (about indosum's sizes)
    made = 0
    article_no = 0
    conn = db.conn
    conn.execute("BEGIN")
    while made < size:
        picks = rng.integers(0, len(sentences), per_chunk * per_article)
        parts, spans, pos = [], [], 0
        for i in picks:
            text = sentences[i][0]
            parts.append(text)
            spans.append((pos, pos + len(text)))
            pos += len(text) + 1
        body = " ".join(parts)
        article_id = f"synthetic-{article_no}"
        title = sentences[picks[0]][0][:60]
        conn.execute(
            "INSERT INTO articles (id, title, date, source, url, text, hash, origin) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (article_id, title, "2018-01-01", "synthetic", "", body, str(article_no), "synthetic"),
        )
        title_terms = indexable_text(title)
        for c in range(per_article):
            if made >= size:
                break
            group = list(range(c * per_chunk, (c + 1) * per_chunk))
            start, end = spans[group[0]][0], spans[group[-1]][1]
            a, b = bases[rng.integers(0, len(bases), 2)]
            w = rng.random()
            v = w * a + (1 - w) * b + rng.standard_normal(len(a)) * 0.03
            v = (v / np.linalg.norm(v)).astype(np.float32)
            cursor = conn.execute(
                "INSERT INTO chunks (article_id, ordinal, start, end, sentences, vector) "
                "VALUES (?,?,?,?,?,?)",
                (article_id, c, start, end, json.dumps([spans[g] for g in group]), v.tobytes()),
            )
            terms = []
            for g in group:
                i = int(picks[g])
                if i not in stems:
                    stems[i] = indexable_text(sentences[i][0])
                terms.append(stems[i])
            conn.execute(
                "INSERT INTO chunk_terms (rowid, body, title) VALUES (?,?,?)",
                (cursor.lastrowid, " ".join(terms), title_terms),
            )
            made += 1
        article_no += 1
        if article_no % 2000 == 0:
            conn.execute("COMMIT")
            conn.execute("BEGIN")
    db.set_generation(1)
    conn.execute("COMMIT")
    fill = time.perf_counter() - started
    index.generation = 1
    started = time.perf_counter()
    index._vectors = None  # rebuilt from the database: the path a stale or missing vectors file takes
    index.readonly = False
    index.vector_settings = VectorSettings(exact_up_to=exact_up_to, keyword_index_from=0)
    index.save()
    vectors_seconds = time.perf_counter() - started
    kind = index.vectors.kind
    index.close()
    derived = refresh_derived(index_dir)
    files = {p.name: p.stat().st_size / 1e6 for p in index_dir.iterdir() if p.is_file()}
    conn = sqlite3.connect(index_dir / DB_NAME)
    blob_mb = conn.execute("SELECT sum(length(vector)) FROM chunks").fetchone()[0] / 1e6
    conn.close()
    result = {
        **derived,
        "fill": fill,
        "vectors_seconds": vectors_seconds,
        "kind": kind,
        "files": files,
        "blob_mb": blob_mb,
        "rss": peak_rss_mb(),
    }
    made_before.write_text(json.dumps(result))
    return result


def refresh_derived(index_dir: Path) -> dict[str, Any]:
    """Bring the derived files (FAISS, keyword impact index) in line with today's code and settings."""
    from tanya.store.impact import IMPACT_NAME
    from tanya.store.index import VECTORS_NAME, Index

    settings = VectorSettings()
    path = index_dir / IMPACT_NAME
    before = path.stat().st_mtime_ns if path.exists() else None
    index = Index.open(index_dir, None, readonly=False, vector_settings=settings)
    started = time.perf_counter()
    vectors = index.vectors
    rebuilt = not vectors.suits(len(vectors))
    if rebuilt:
        index.save()  # a vector index of the kind today's settings want (the keyword file too)
    vectors_seconds = time.perf_counter() - started
    started = time.perf_counter()
    index._refresh_keyword_index()
    keyword_seconds = time.perf_counter() - started
    index.close()
    built = path.exists() and path.stat().st_mtime_ns != before
    out = {
        "keyword_seconds": keyword_seconds if built else None,  # None: the file was current, kept
        "keyword_mb": disk_mb(index_dir / IMPACT_NAME),
        "faiss_mb": disk_mb(index_dir / VECTORS_NAME),
        "rss": peak_rss_mb(),
    }
    if rebuilt:
        out["vectors_seconds"] = vectors_seconds
    return out


def w_recall(index: str, count: int, probe: int) -> dict[str, Any]:
    """recall@10 of the index's vector search against exact search over the stored vectors."""
    from tanya.app import Tanya
    from tanya.config import VectorSettings
    from tanya.store.database import DB_NAME, Database
    from tanya.store.index import Index

    app = Tanya(settings_for(Path(index), []))
    queries = np.stack([app.embedder.encode_query(q) for q in questions(count)])
    db = Database(Path(index) / DB_NAME, readonly=True)
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    for ids, vectors in db.iter_vectors(50_000):
        scores = queries @ vectors.T
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_ids = np.concatenate([best_ids, np.broadcast_to(ids, scores.shape)], axis=1)
        top = np.argsort(-all_scores, axis=1)[:, :10]
        best_scores = np.take_along_axis(all_scores, top, 1)
        best_ids = np.take_along_axis(all_ids, top, 1)
    index_obj = Index.open(Path(index), None, readonly=True, vector_settings=VectorSettings(probe=probe))
    found = []
    for q, exact in zip(queries, best_ids, strict=True):
        got = {i for i, _ in index_obj.vectors.search(q, 10)}
        found.append(len(got & set(exact.tolist())) / 10)
    return {"recall": float(np.mean(found)), "kind": index_obj.vectors.kind}


# --- workers: embedding options ------------------------------------------------------------------


def w_embedding_options(chunks: str, count: int, limit: int) -> dict[str, Any]:
    import torch
    from sentence_transformers import SentenceTransformer

    from tanya.embedding import _quantize_int8, bundled_model_path

    texts = json.loads(Path(chunks).read_text(encoding="utf-8"))[:limit]
    qs = questions(count)
    path = bundled_model_path()
    model = SentenceTransformer(path, device="cpu")
    rows: dict[str, dict[str, Any]] = {}

    def measure(name: str, encode: Any) -> np.ndarray:
        encode(texts[:4])
        started = time.perf_counter()
        vectors = np.asarray(encode(texts), dtype=np.float32)
        seconds = time.perf_counter() - started
        latencies = []
        for q in qs:
            clock = time.perf_counter()
            encode([q])
            latencies.append(time.perf_counter() - clock)
        qv = np.asarray(encode(qs), dtype=np.float32)
        rows[name] = {
            "rate": len(texts) / seconds,
            "vectors": vectors,
            "queries": qv,
            "query": pct(latencies, 0.5),
        }
        return vectors

    def st(m: Any, batch: int = 32) -> Any:
        return lambda ts: m.encode(ts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True)

    default_threads = torch.get_num_threads()
    measure(f"torch fp32, {default_threads} threads, batch 32 (tanya's default)", st(model))
    torch.set_num_threads(1)
    measure("torch fp32, 1 thread", st(model))
    torch.set_num_threads(default_threads)
    measure("torch fp32, batch 8", st(model, 8))
    measure("torch fp32, batch 128", st(model, 128))
    shuffled = list(range(len(texts)))
    random.Random(3).shuffle(shuffled)

    def unbucketed(ts: list[str]) -> np.ndarray:
        # One call per batch of 32 in corpus order: no sorting by length across the whole call.
        return np.concatenate([st(model)(ts[i : i + 32]) for i in range(0, len(ts), 32)])

    measure("torch fp32, no length bucketing (batches of 32 in order)", unbucketed)
    measure("torch int8 dynamic quantization", st(_quantize_int8(SentenceTransformer(path, device="cpu"))))
    try:
        for name, session in _onnx_sessions(model, Path(chunks).parent):
            measure(name, lambda ts, s=session: _onnx_encode(model.tokenizer, s, ts))
    except Exception as exc:  # ONNX Runtime or onnx missing: say so in the table
        rows[f"onnx: not measured ({type(exc).__name__}: {str(exc)[:60]})"] = {}
    reference = next(iter(rows.values()))
    out = {}
    for name, row in rows.items():
        if not row:
            out[name] = {}
            continue
        cos = np.sum(row["vectors"] * reference["vectors"], axis=1)
        ref_top = np.argsort(-(reference["queries"] @ reference["vectors"].T), axis=1)[:, :10]
        top = np.argsort(-(row["queries"] @ row["vectors"].T), axis=1)[:, :10]
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top, ref_top, strict=True)])
        out[name] = {
            "query": row["query"],
            "rate": row["rate"],
            "cos_mean": float(cos.mean()),
            "cos_min": float(cos.min()),
            "top10": float(overlap),
        }
    return {"options": out, "chunks": len(texts)}


def _onnx_sessions(model: Any, workdir: Path) -> list[tuple[str, Any]]:
    import onnxruntime as ort
    import torch

    path = workdir / "minilm.onnx"
    if not path.is_file():

        class Wrapper(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, a: Any, b: Any, c: Any) -> Any:
                return self.inner(input_ids=a, attention_mask=b, token_type_ids=c).last_hidden_state

        ids = model.tokenizer(["halo dunia"], return_tensors="pt")
        names = ["input_ids", "attention_mask", "token_type_ids"]
        torch.onnx.export(
            Wrapper(model[0].auto_model).eval(),
            tuple(ids[n] for n in names),
            str(path),
            input_names=names,
            output_names=["hidden"],
            opset_version=17,
            dynamo=False,
            dynamic_axes={n: {0: "b", 1: "s"} for n in [*names, "hidden"]},
        )
    quantized = workdir / "minilm.int8.onnx"
    if not quantized.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    return [
        (f"onnxruntime {ort.__version__} fp32", ort.InferenceSession(str(path), options)),
        ("onnxruntime int8 dynamic quantization", ort.InferenceSession(str(quantized), options)),
    ]


def _onnx_encode(tokenizer: Any, session: Any, texts: list[str], batch: int = 32) -> np.ndarray:
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for i in range(0, len(order), batch):
        idx = order[i : i + batch]
        enc = tokenizer(
            [texts[j] for j in idx], padding=True, truncation=True, max_length=256, return_tensors="np"
        )
        feed = {n: enc[n].astype(np.int64) for n in ("input_ids", "attention_mask", "token_type_ids")}
        hidden = session.run(None, feed)[0]
        mask = enc["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
        out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return out


def w_cache_hit(sample: str, index: str, cache: str) -> dict[str, Any]:
    """A rebuild of the sample with every vector already in the embedding cache."""
    result = w_tanya_build(sample, index, 0, cache)
    return result


WORKERS = {name[2:]: fn for name, fn in globals().items() if name.startswith("w_")}


# --- the run -------------------------------------------------------------------------------------


_STAGE = {  # "fusion" is the learned ranker's stage ("rank" in its timings), "fusion" in the weighted one
    "fusion": "rank (fusion)",
    "embed": "embed (until the vector is in hand)",
    "read_ahead": "read ahead (beside the embedding)",
    "keyword": "keyword (beside the embedding)",
}


def cli_seconds(*args: str, stdin: str | None = None) -> tuple[float, str]:
    env = dict(os.environ)
    config = Path(tempfile.gettempdir()) / "tanya-perf-defaults.yaml"
    config.write_text("# every key at its default\n", encoding="utf-8")
    started = time.perf_counter()
    proc = subprocess.run(
        [*TANYA, "--config", str(config), *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=ROOT,
        env=env,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"tanya {' '.join(args)} failed: {proc.stderr.strip()[-300:]}")
    return seconds, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=150, help="indosum articles in the embedded sample")
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="synthetic index sizes in chunks ('' = none)"
    )
    parser.add_argument("--queries", type=int, default=100, help="questions timed per system")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tanya-perf"))
    parser.add_argument("--no-txtai", action="store_true")
    parser.add_argument("--no-options", action="store_true", help="skip the embedding options table")
    parser.add_argument("--option-chunks", type=int, default=160, help="chunks embedded per embedding option")
    parser.add_argument(
        "--scaling-only", action="store_true", help="only the synthetic --sizes runs (and the sample they need)"
    )
    parser.add_argument("--no-real", action="store_true", help="skip timing the real indexes of bench/quality.py")
    parser.add_argument(
        "--rounds", type=int, default=1, help="time each scaling and real-archive row this many times (median shown)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-args", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](**json.loads(args.worker_args)), default=float))
        return
    if not INDOSUM.is_file():
        sys.exit(f"needs the shared data at {DATA} (set SHARED_DATA_DIR)")
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    print("# tanya performance\n")
    print(table(["machine", ""], [[k, v] for k, v in machine().items()]))
    sample = make_sample(work, args.articles)
    chunks_path = sample_chunks(sample, work)
    n_chunks = len(json.loads(chunks_path.read_text(encoding="utf-8")))
    print(
        f"\nSample: {args.articles} of 3,463 indosum articles (random, seed 0) = {n_chunks} chunks; "
        f"{args.queries} FacQA questions per system.\n",
        flush=True,
    )

    tanya_dir, plain_dir, txtai_dir = work / "tanya-index", work / "plain-index", work / "txtai-index"
    if args.scaling_only:
        if not (plain_dir.parent / f"{plain_dir.name}.vectors.npy").is_file():  # the synthetic vectors' bases
            run_worker("plain_build", chunks=str(chunks_path), index=str(plain_dir))
        scaling(args, work, sample, plain_dir)
        if not args.no_real:
            real_archives(args)
        return

    # Building
    plain = run_worker("plain_build", chunks=str(chunks_path), index=str(plain_dir))
    tanya = run_worker(
        "tanya_build",
        sample=str(sample),
        index=str(tanya_dir),
        articles=args.articles,
        chunks=str(chunks_path),
    )
    txtai = (
        {"error": "skipped (--no-txtai)"}
        if args.no_txtai
        else run_worker("txtai_build", chunks=str(chunks_path), index=str(txtai_dir))
    )
    bare = plain.get("encode", float("nan"))
    rows = []
    for name, r in (("tanya", tanya), ("plain ST + FAISS flat", plain), ("txtai hybrid", txtai)):
        if "error" in r:
            rows.append([name, r["error"][:120], "", "", "", "", "", ""])
            continue
        rows.append(
            [
                name,
                f"{r['seconds']:.1f}",
                f"{r['chunks'] / r['seconds']:.1f}",
                f"{args.articles / r['seconds']:.2f}",
                f"{(r['seconds'] / bare - 1) * 100:+.1f}%",
                f"{r['seconds'] / tanya['seconds']:.2f}x",
                f"{r['rss']:.0f}",
                f"{r['disk']:.1f}",
            ]
        )
    print("## Build (model already loaded)\n")
    same = tanya.get("bare", float("nan"))
    print(
        f"Bare `model.encode` of the same {n_chunks} chunks in the plain script's process: {bare:.1f} s = "
        f"{n_chunks / bare:.1f} chunks/s; in tanya's own process (same model object and threads; mean of "
        f"one run just before and one just after its build): {same:.1f} s, so tanya's build costs "
        f"{(tanya.get('seconds', float('nan')) / same - 1) * 100:+.1f}% over bare encoding (target < +10%). "
        f"Measured inside the build itself: {tanya.get('inside_encode', float('nan')):.1f} s in the model's "
        f"encode, {tanya.get('seconds', float('nan')) - tanya.get('inside_encode', float('nan')):.1f} s in "
        "everything else (reading, chunking, counting tokens, SQLite and FTS5, FAISS, files): "
        f"{(tanya.get('seconds', float('nan')) / tanya.get('inside_encode', float('nan')) - 1) * 100:+.1f}% "
        "over its own encoding. "
        "The column below compares each build with the plain script's encode, measured minutes apart.\n"
    )
    print(
        table(
            [
                "system",
                "seconds",
                "chunks/s",
                "articles/s",
                "over bare encode",
                "vs tanya",
                "peak RSS MB",
                "disk MB",
            ],
            rows,
        ),
        flush=True,
    )

    # Queries
    tq = run_worker("tanya_query", index=str(tanya_dir), count=args.queries)
    tqo = run_worker("tanya_query", index=str(tanya_dir), count=args.queries, backend="onnx")
    pq = run_worker("plain_query", index=str(plain_dir), count=args.queries)
    pq1 = run_worker("plain_query", index=str(plain_dir), count=args.queries, threads=1)
    skipped = {"error": txtai.get("error", "")}
    xq = skipped if "error" in txtai else run_worker("txtai_query", index=str(txtai_dir), count=args.queries)
    xq1 = (
        skipped
        if "error" in txtai
        else run_worker("txtai_query", index=str(txtai_dir), count=args.queries, threads=1)
    )
    batch = "\n".join(json.dumps({"id": i, "question": q}) for i, q in enumerate(questions(args.queries)))
    one = json.dumps({"id": 0, "question": questions(1)[0]})
    try:
        batch_seconds, _ = cli_seconds("--index", str(tanya_dir), "ask", "--batch", "-", stdin=batch)
        one_seconds, _ = cli_seconds("--index", str(tanya_dir), "ask", "--batch", "-", stdin=one)
        help_seconds, _ = cli_seconds("--help")
    except RuntimeError as exc:
        batch_seconds = one_seconds = help_seconds = float("nan")
        print(f"\n(tanya ask --batch failed: {exc})")
    print("\n## Answering a question (in-process, model and index loaded)\n")
    p50, p95 = tq["p50"], tq["p95"]
    print(
        table(
            ["stage", "tanya p50 ms", "tanya p95 ms"],
            [
                [_STAGE.get(k, k), ms(p50[k]), ms(p95[k])]
                for k in ("embed", "keyword", "read_ahead", "dense", "fusion", "quote", "total")
            ],
        )
    )
    print(
        f"\nQuestion embedded alone: p50 {ms(p50['alone'])} ms by tanya's own path (the traced pipeline), "
        f"{ms(p50['st_alone'])} ms by sentence-transformers' `encode`. tanya's p50 answer = "
        f"{p50['total'] / p50['alone']:.2f}x its own embedding alone (target <= 1.3x), "
        f"{p50['total'] / p50['st_alone']:.2f}x `encode`.\n"
    )
    rows = []
    for name, r in (
        ("tanya", tq),
        ("tanya, model.backend: onnx", tqo),
        ("plain ST + FAISS flat (top 10, no quoting), torch default threads", pq),
        ("plain ST + FAISS flat, torch 1 thread (as tanya embeds a question)", pq1),
        ("txtai hybrid search (top 10), torch default threads", xq),
        ("txtai hybrid search, torch 1 thread", xq1),
    ):
        if "error" in r:
            rows.append([name, r["error"][:120], "", "", "", "", "", ""])
            continue
        rows.append(
            [
                name,
                ms(r["p50"]["total"]),
                ms(r["p95"]["total"]),
                f"{r['p50']['total'] / r['p50']['alone']:.2f}x",
                f"{r['p50']['total'] / r['p50'].get('st_alone', r['p50']['alone']):.2f}x",
                f"{r['p50']['total'] / tq['p50']['total']:.2f}x",
                f"{r['startup']:.1f}",
                f"{r['rss']:.0f}",
            ]
        )
    headers = ["system", "p50 ms", "p95 ms", "p50 / own embed alone", "p50 / `encode` alone", "p50 vs tanya"]
    print(table([*headers, "start-up s", "peak RSS MB"], rows))
    per_question = (batch_seconds - one_seconds) / max(1, args.queries - 1)
    print(
        f"\n`tanya ask --batch` ({args.queries} questions, one process): {batch_seconds:.1f} s wall; "
        f"with 1 question {one_seconds:.1f} s (process start, model and index load); so "
        f"{per_question * 1000:.0f} ms per further question. `tanya --help`: {help_seconds:.2f} s.",
        flush=True,
    )

    # Unchanged update of the whole corpus
    full = work / "full-index"
    if not (full / "manifest.json").is_file():
        built = run_worker("full_index", index=str(full))
        print(f"\n(whole-corpus index made in {built.get('seconds', float('nan')):.0f} s, vectors random)")
    inproc = run_worker("update_inprocess", index=str(full))
    update_seconds, out = cli_seconds("--index", str(full), "index", "update", "--json")
    summary = json.loads(out.strip().splitlines()[-1])
    start_seconds, _ = cli_seconds("--version")
    print("\n## `tanya index update` on the unchanged corpus (all 3,463 indosum articles)\n")
    print(
        table(
            ["measure", "value"],
            [
                ["CLI wall time", f"{update_seconds:.2f} s"],
                ["process start (`tanya --version`)", f"{start_seconds:.2f} s"],
                ["beyond process start (target < 3 s)", f"{update_seconds - start_seconds:.2f} s"],
                ["in-process update() incl. imports", f"{inproc.get('seconds', float('nan')):.2f} s"],
                ["chunks embedded", summary.get("chunks_embedded")],
                ["model loaded", inproc.get("loaded")],
                ["heavy modules imported", ", ".join(inproc.get("imported", [])) or "none"],
                ["peak RSS", f"{inproc.get('rss', float('nan')):.0f} MB"],
            ],
        ),
        flush=True,
    )

    scaling(args, work, sample, plain_dir)
    if not args.no_real:
        real_archives(args)
    if not args.no_options:
        options(args, work, sample, chunks_path)


def timed_rounds(rounds: int, **kwargs: Any) -> tuple[dict[str, Any], str]:
    """The tanya_query worker `rounds` times, each in a fresh process: the round with the median p50 ratio
    (answer over embedding alone), and the ratios' range. One machine's runs minutes apart differ by more
    than most changes to the answer path (docs/performance.md), so one round can mislead."""
    runs = [run_worker("tanya_query", **kwargs) for _ in range(max(1, rounds))]
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0], ""
    good.sort(key=lambda r: r["p50"]["total"] / r["p50"]["alone"])
    ratios = [r["p50"]["total"] / r["p50"]["alone"] for r in good]
    spread = f"{ratios[0]:.2f}-{ratios[-1]:.2f}x ({len(good)})" if len(good) > 1 else ""
    return good[(len(good) - 1) // 2], spread


def scaling(args: argparse.Namespace, work: Path, sample: Path, plain_dir: Path) -> None:
    """The synthetic --sizes runs: build (or reuse) each index, then time questions against it."""
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if sizes:
        bases = str(plain_dir.parent / f"{plain_dir.name}.vectors.npy")
        rows, disk_rows = [], []
        for size in sizes:
            synth = work / f"synthetic-{size}-from-{args.articles}"  # vectors mixed from this sample
            built = run_worker(
                "synthetic_build",
                index=str(synth),
                size=size,
                sample=str(sample),
                vectors=bases,
                exact_up_to=VectorSettings().exact_up_to,
            )
            if "error" in built:
                rows.append([f"{size:,}", built["error"][:150]] + [""] * 18)
                continue
            q, spread = timed_rounds(args.rounds, index=str(synth), count=args.queries, compare_keyword=True)
            recall = run_worker("recall", index=str(synth), count=args.queries, probe=VectorSettings().probe)
            if "error" in q:
                rows.append([f"{size:,}", q["error"][:150]] + [""] * 18)
                continue
            p = q["p50"]
            rows.append(
                [
                    f"{size:,}",
                    q["kind"],
                    ms(p["alone"]),
                    ms(p["st_alone"]),
                    ms(p["embed"]),
                    ms(p["read_ahead"]),
                    ms(p["dense"]),
                    ms(p["keyword"]),
                    ms(p["fusion"]),
                    ms(p["quote"]),
                    ms(p["total"]),
                    ms(q["p95"]["total"]),
                    f"{p['total'] / p['alone']:.2f}x",
                    spread,
                    f"{p['total'] / p['st_alone']:.2f}x",
                    f"{recall.get('recall', float('nan')):.3f}",
                    ms(p.get("uncapped", float("nan"))),
                    "impact index" if q.get("keyword_index") else "FTS5",
                    f"{q['keyword_overlap']:.2f}" if q.get("keyword_overlap") is not None else "",
                    f"{q['rss']:.0f}",
                ]
            )
            files = built["files"]
            disk_rows.append(
                [
                    f"{size:,}",
                    f"{files.get('tanya.db', 0):.0f}",
                    f"{built['blob_mb']:.0f}",
                    f"{built.get('faiss_mb', files.get('vectors.faiss', 0)):.0f}",
                    f"{built['fill']:.0f}" + (" (earlier run)" if built.get("reused") else ""),
                    f"{built['vectors_seconds']:.0f}",
                    f"{built.get('keyword_mb', 0):.0f}",
                    "kept" if built.get("keyword_seconds", 0) is None else f"{built.get('keyword_seconds', 0):.0f}",
                    f"{built['rss']:.0f}",
                ]
            )
            print(f"(synthetic {size:,} done)", file=sys.stderr, flush=True)
        print("\n## Scaling (synthetic chunks of real sentences; serving process answers questions)\n")
        print(
            table(
                [
                    "chunks",
                    "vectors",
                    "embed alone",
                    "`encode` alone",
                    "embed",
                    "read ahead",
                    "dense",
                    "keyword",
                    "rank (fusion)",
                    "quote",
                    "p50 total",
                    "p95 total",
                    "p50 / embed",
                    "p50 / embed, all rounds",
                    "p50 / `encode`",
                    "recall@10",
                    "keyword, no cap",
                    "keyword via",
                    "keyword top-10 kept",
                    "peak RSS MB",
                ],
                rows,
            )
        )
        print(
            "\nTimes in ms. embed alone: tanya's own question path (traced TorchScript pipeline on a "
            "background thread); `encode` alone: sentence-transformers' model.encode of the same question. "
            "embed: from the start until the vector is in hand, while the keyword search and the read-ahead "
            "run beside it on the main thread. all rounds: with --rounds N, the row is the round with the median "
            "ratio, each round a fresh process (the range, and how many rounds). recall@10: dense search "
            "against exact search over the same stored vectors. "
            "keyword, no cap: FTS5 over every question word (exact BM25); keyword via: what answered (the "
            "impact index, or FTS5 with the rarest-words cap); top-10 kept: share of exact BM25's top 10 "
            "that the keyword search returns.\n"
        )
        print(
            table(
                [
                    "chunks",
                    "tanya.db MB",
                    "of it vector BLOBs MB",
                    "vectors.faiss MB",
                    "fill s",
                    "vector index build s",
                    "keyword.impact MB",
                    "keyword index build s",
                    "build peak RSS MB",
                ],
                disk_rows,
            ),
            flush=True,
        )



def real_archives(args: argparse.Namespace) -> None:
    """Questions timed against the real indexes bench/quality.py builds (real text, real vectors), if built.

    The sample and synthetic rows pair FacQA questions with chunks they are not about; here most questions are
    asked of the archive they were written for, as users do, so both searches tend to find the same chunks.
    """
    from qa_sets import WHOLE_ARTICLES, cached_index

    qa = DATA / "qa"
    archives = [
        ("IndoSum + seed article", "whole_articles", WHOLE_ARTICLES, "whole-article (bench/data)"),
        ("IndoSum + seed article", "whole_articles", QUESTIONS, "FacQA (not about it)"),
        ("TyDi QA passages", "tydiqa_goldp_id", qa / "tydiqa_goldp_id" / "questions.train.jsonl", "TyDi QA"),
        ("IDK-MRC passages", "idk_mrc", qa / "idk_mrc" / "questions.train.jsonl", "IDK-MRC"),
        ("FacQA passages", "facqa", QUESTIONS, "FacQA"),
    ]
    rows = []
    for name, key, asked, kind in archives:
        index = cached_index(key)
        if not (index / "manifest.json").is_file() or not asked.is_file():
            rows.append([name, "not built: run bench/quality.py"] + [""] * 12)
            continue
        q, spread = timed_rounds(args.rounds, index=str(index), count=args.queries, questions_file=str(asked))
        if "error" in q:
            rows.append([name, q["error"][:150]] + [""] * 12)
            continue
        p = q["p50"]
        stages = ("alone", "embed", "read_ahead", "dense", "keyword", "fusion", "quote", "total")
        rows.append(
            [
                name,
                f"{q['chunks']:,}",
                f"{q['questions']} {kind}",
                *(ms(p[k]) for k in stages),
                ms(q["p95"]["total"]),
                f"{p['total'] / p['alone']:.2f}x",
                spread,
            ]
        )
        print(f"(real archive {key}, {kind} questions, done)", file=sys.stderr, flush=True)
    print("\n## Real archives (the indexes bench/quality.py builds: real text, real vectors)\n")
    headers = ["archive", "chunks", "questions", "embed alone", "embed", "read ahead", "dense", "keyword"]
    headers += ["rank (fusion)", "quote", "p50 total", "p95 total", "p50 / embed", "p50 / embed, all rounds"]
    print(table(headers, rows), flush=True)


def options(args: argparse.Namespace, work: Path, sample: Path, chunks_path: Path) -> None:
    """The embedding options table and the embedding cache."""
    result = run_worker(
        "embedding_options", chunks=str(chunks_path), count=args.queries, limit=args.option_chunks
    )
    rows = []
    for name, r in result.get("options", {}).items():
        rows.append(
            [
                name,
                f"{r['rate']:.1f}",
                ms(r["query"]),
                f"{r['cos_mean']:.4f}",
                f"{r['cos_min']:.4f}",
                f"{r['top10']:.2f}",
            ]
            if r
            else [name, "", "", "", "", ""]
        )
    if "error" in result:
        rows.append([result["error"][:150], "", "", "", "", ""])
    cache_dir = work / "cache-index"
    cache_file = work / "embeddings-cache.db"
    cache_file.unlink(missing_ok=True)
    cold = run_worker("cache_hit", sample=str(sample), index=str(cache_dir), cache=str(cache_file))
    warm = run_worker("cache_hit", sample=str(sample), index=str(cache_dir), cache=str(cache_file))
    print(f"\n## Embedding options ({result.get('chunks', '?')} sample chunks)\n")
    headers = ["option", "chunks/s", "one question p50 ms", "cosine to fp32 (mean)", "cosine (min)"]
    print(table([*headers, "top-10 overlap"], rows))
    if "error" not in cold and "error" not in warm:
        print(
            f"\nEmbedding cache: a rebuild of the sample with a cold cache {cold['seconds']:.1f} s, "
            f"with every vector cached {warm['seconds']:.1f} s "
            f"({cold['seconds'] / warm['seconds']:.0f}x); "
            "cached vectors are the model's own (cosine 1.0)."
        )
    else:
        print(f"\nEmbedding cache: {cold.get('error') or warm.get('error')}")


if __name__ == "__main__":
    main()
