"""Dense vectors in FAISS, addressed by chunk id: exact while small, IVF with 8-bit codes beyond a size."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from tanya.config import VectorSettings
from tanya.store.manifest import fsync_dir

Batches = Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]]  # a fresh pass of (ids, vectors)
Exact = Callable[[list[int]], dict[int, np.ndarray]]  # the stored vectors of some chunk ids

TRAIN_PER_LIST = 40  # k-means wants about this many training vectors per IVF list
MAX_TRAIN = 100_000  # more barely moves the centroids and costs build time
# Approximate hits re-scored with the exact vectors (at least k of them). Re-scoring 50 instead of 100 for the
# 50 candidates kept the same recall@10 against exact search (0.993 at 100,000, 0.986 at a million chunks, 200
# questions) and saves reading 50 vectors from SQLite: 2.1 -> 1.8 ms and 3.7 -> 2.9 ms a search.
RESCORE_POOL = 50
# One value range for every dimension: each code decodes with a single scale, which FAISS scans faster than
# 8-bit codes with a range per dimension (probe 96: 1.57 -> 0.99 ms at 100,000 synthetic chunks, 3.48 -> 2.72
# ms at a million, 0.55 -> 0.40 ms over IndoSum's 14,308 real vectors), for the same recall@10 after re-scoring.
CODES = "QT_8bit_uniform"


def _faiss() -> Any:
    import faiss  # heavy: imported on first use so `tanya --help` stays instant

    global _threads_set
    if not _threads_set:
        # One question is one small search: OpenMP threads only add hand-off cost, and on a busy machine
        # their spin-waits cost 10-100x (measured: 16 ms vs 0.13 ms for 3,000 vectors). Builds raise it.
        faiss.omp_set_num_threads(1)
        _threads_set = True
    return faiss


_threads_set = False


def ivf_lists(count: int, per_sqrt: float = 4.0) -> int:
    """How many IVF lists suit `count` vectors: about per_sqrt x sqrt(count), at least 16."""
    return max(16, int(per_sqrt * math.sqrt(max(count, 1))))


def probes(settings: VectorSettings, lists: int, count: int) -> int:
    """Lists to search per question: `settings.probe`, at most `settings.probe_share` of the lists the settings
    make for `count` vectors; for an index whose list count today's settings would not keep (made by an older
    release, until an update rebuilds it) the same share of its lists, which would otherwise be scanned
    almost whole.

    The share: recall follows the share of the lists searched. At a million chunks 256 of 4,000 lists (6.4%)
    find 0.98 of the exact top 10; at 100,000, 256 of 1,264 (20%) found 0.996, and 127 (10%) find 0.981 with
    the dense search after the model 2.1 -> 1.6 ms (docs/performance.md)."""
    wanted = ivf_lists(count, settings.lists_per_sqrt)
    probe = min(settings.probe, math.ceil(settings.probe_share * wanted))
    if wanted / 2 <= lists <= wanted * 2 or wanted <= probe:
        return max(1, min(lists, probe))
    return max(1, min(lists, round(probe * lists / wanted)))


class VectorIndex:
    """Inner-product search over L2-normalised vectors (cosine); ids are chunk ids."""

    def __init__(
        self, dimension: int, index: Any = None, settings: VectorSettings | None = None, writable: bool = True
    ) -> None:
        faiss = _faiss()
        self.dimension = dimension
        self.settings = settings or VectorSettings()
        self.writable = writable  # False when memory-mapped: FAISS aborts the process on a write then
        # The stored vectors, when an index's database can supply them: approximate hits are re-scored with
        # them, so 8-bit codes only decide which chunks are candidates, never their order.
        self.exact: Exact | None = None
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        if self.kind == "ivf":
            self._index.nprobe = probes(self.settings, self._index.nlist, self._index.ntotal)

    @property
    def kind(self) -> str:
        """"flat" (exact search) or "ivf" (approximate: inverted lists of 8-bit codes)."""
        return "ivf" if hasattr(self._index, "nprobe") else "flat"

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        """Every chunk id in the index (for integrity checks), in no particular order."""
        faiss = _faiss()
        index = self._index
        if hasattr(index, "id_map"):
            return faiss.vector_to_array(index.id_map).astype(np.int64)
        lists = faiss.extract_index_ivf(index).invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(lists.nlist)
            if lists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def suits(self, count: int) -> bool:
        """Whether this kind of index (and its number of lists) is the right one for `count` vectors."""
        if count <= self.settings.exact_up_to:
            return self.kind == "flat"
        if self.kind == "flat":
            # Some slack above the limit so an index near it is not rebuilt on every update.
            return count <= self.settings.exact_up_to * 1.25
        wanted = ivf_lists(count, self.settings.lists_per_sqrt)
        return wanted / 2 <= self._index.nlist <= wanted * 2 and self._codes_current()

    def _codes_current(self) -> bool:
        """Its codes are the kind today's code builds (an older index is rebuilt from the stored vectors)."""
        quantizer = getattr(self._index, "sq", None)
        return quantizer is not None and quantizer.qtype == getattr(_faiss().ScalarQuantizer, CODES)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._check_writable()
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids: list[int]) -> None:
        self._check_writable()
        if ids:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k nearest chunk ids with their cosine similarity, best first."""
        if not len(self):
            return []
        query = query.reshape(1, -1).astype(np.float32)
        rescore = self.kind == "ivf" and self.exact is not None and self.settings.rescore
        wanted = min(max(k, RESCORE_POOL) if rescore else k, len(self))
        scores, ids = self._ivf_search(query, wanted) if self.kind == "ivf" else self._index.search(query, wanted)
        hits = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        if rescore and self.exact is not None:  # (about 0.25 ms: 50 rows read from SQLite)
            stored = self.exact([i for i, _ in hits])
            hits = sorted(
                ((i, float(np.dot(stored[i], query[0]))) for i, _ in hits if i in stored), key=lambda h: -h[1]
            )
        return hits[:k]

    def _ivf_search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The IVF search with the probed lists shared out among `search_threads` threads.

        A question is searched once its vector is ready, when the core that embedded it is idle. FAISS
        releases the GIL, so helper threads scan their share of the lists beside the caller: same hits,
        sooner once there is enough to scan (a million chunks: 4.9 -> 3.5 ms a question; at 100,000, 30,000
        vectors scanned, handing over cost more than it saved). Not OpenMP: its threads spin-wait for each
        other, and on a busy machine that made searches many times slower.
        """
        index = self._index
        scanned = index.nprobe * index.ntotal // max(index.nlist, 1)  # vectors a search reads, about
        parts = min(self.settings.search_threads, index.nprobe // SPLIT_MIN_PROBES, scanned // SPLIT_MIN_VECTORS)
        if parts < 2:
            return index.search(query, k)
        faiss = _faiss()
        centroid_scores, lists = index.quantizer.search(query, index.nprobe)
        bounds = np.linspace(0, index.nprobe, parts + 1).astype(int)

        def scan(part: int) -> tuple[np.ndarray, np.ndarray]:
            lo, hi = bounds[part], bounds[part + 1]
            assign = np.ascontiguousarray(lists[:, lo:hi])
            near = np.ascontiguousarray(centroid_scores[:, lo:hi])
            scores = np.empty((1, k), dtype=np.float32)
            ids = np.empty((1, k), dtype=np.int64)
            params = faiss.SearchParametersIVF(nprobe=int(hi - lo))
            index.search_preassigned_c(
                1, faiss.swig_ptr(query), k, faiss.swig_ptr(assign), faiss.swig_ptr(near),
                faiss.swig_ptr(scores), faiss.swig_ptr(ids), False, params,
            )
            return scores, ids

        helpers = [_search_pool(parts - 1).submit(scan, part) for part in range(1, parts)]
        found = [scan(0), *(helper.result() for helper in helpers)]
        scores = np.concatenate([s for s, _ in found], axis=1)
        ids = np.concatenate([i for _, i in found], axis=1)
        best = np.argsort(-scores[0], kind="stable")[:k]
        return scores[:, best], ids[:, best]

    def similarities(self, query: np.ndarray, ids: list[int]) -> dict[int, float]:
        """Cosine similarity of the query to each given chunk id (those not in the index are left out)."""
        flat = query.reshape(-1)
        return {i: float(np.dot(v, flat)) for i, v in self.stored(ids).items()}

    def stored(self, ids: list[int]) -> dict[int, np.ndarray]:
        """The exact vectors of the given chunk ids that are in the index (IVF: read from the database)."""
        if self.kind == "ivf" and self.exact is not None:
            return {i: v for i, v in self.exact(list(ids)).items() if self._has(i)}
        out: dict[int, np.ndarray] = {}
        for chunk_id in ids:
            try:
                out[chunk_id] = self._index.reconstruct(int(chunk_id))
            except RuntimeError:
                continue
        return out

    def _has(self, chunk_id: int) -> bool:
        try:
            self._index.reconstruct(int(chunk_id))
        except RuntimeError:
            return False
        return True

    def save(self, path: Path) -> None:
        """Write to a temporary file beside `path`, fsync, then rename over it."""
        faiss = _faiss()
        tmp = path.with_name(f".{path.name}.tmp")
        faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        tmp.replace(path)
        fsync_dir(path.parent)

    @classmethod
    def load(cls, path: Path, settings: VectorSettings | None = None, readonly: bool = False) -> VectorIndex:
        """Read a saved index; a read-only IVF index is memory-mapped, so it loads at once and pages in."""
        faiss = _faiss()
        settings = settings or VectorSettings()
        index = None
        if readonly and settings.mmap:
            try:
                mapped = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
            except RuntimeError:
                mapped = None
            if mapped is not None and hasattr(mapped, "nprobe"):
                return cls(mapped.d, mapped, settings, writable=False)
            index = mapped
        if index is None:
            index = faiss.read_index(str(path))
        return cls(index.d, index, settings)

    @classmethod
    def build(
        cls, dimension: int, count: int, batches: Batches, settings: VectorSettings | None = None
    ) -> VectorIndex:
        """A new index of the kind that suits `count` vectors, filled from `batches` (read once or twice)."""
        settings = settings or VectorSettings()
        faiss = _faiss()
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # training and adding use every core
        try:
            if count <= settings.exact_up_to:
                index = cls(dimension, None, settings)
            else:
                index = cls(dimension, _trained_ivf(dimension, count, batches, settings.lists_per_sqrt), settings)
            for ids, vectors in batches():
                index.add(ids, vectors)
        finally:
            faiss.omp_set_num_threads(1)
        return index

    def _check_writable(self) -> None:
        if not self.writable:
            raise RuntimeError("this vector index is memory-mapped read-only; open the index for writing")


SPLIT_MIN_PROBES = 16  # lists each thread scans at least: fewer are not worth handing over
SPLIT_MIN_VECTORS = 40_000  # ... and about this many vectors (8-bit codes: roughly 1.3 ms of scanning)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _search_pool(workers: int) -> ThreadPoolExecutor:
    """The helper threads of _ivf_search, shared by every index of the process."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tanya-search")
        return _pool


def _trained_ivf(dimension: int, count: int, batches: Batches, per_sqrt: float = 4.0) -> Any:
    """An empty IVF index with 8-bit scalar codes, its lists trained on an even sample of the vectors."""
    faiss = _faiss()
    lists = ivf_lists(count, per_sqrt)
    wanted = min(MAX_TRAIN, max(lists * TRAIN_PER_LIST, 10_000), count)
    rng = np.random.default_rng(0)
    sample: list[np.ndarray] = []
    for _ids, vectors in batches():
        keep = rng.random(len(vectors)) < wanted / count
        sample.append(np.array(vectors[keep], dtype=np.float32))
    train = np.ascontiguousarray(np.concatenate(sample)) if sample else np.zeros((0, dimension), np.float32)
    lists = max(1, min(lists, len(train)))
    quantizer = faiss.IndexFlatIP(dimension)  # the Python wrapper keeps it alive with the index
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dimension, lists, getattr(faiss.ScalarQuantizer, CODES), faiss.METRIC_INNER_PRODUCT
    )
    index.cp.min_points_per_centroid = 1  # a small sample is fine: no warning for it
    index.train(train)
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # remove and reconstruct by chunk id
    return index
