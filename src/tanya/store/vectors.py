"""Dense vectors in FAISS, addressed by chunk id so chunks can be removed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from tanya.store.manifest import fsync_dir


def _faiss() -> Any:
    import faiss  # heavy: imported on first use so `tanya --help` stays instant

    return faiss


class VectorIndex:
    """Inner-product search over L2-normalised vectors (cosine), ids are chunk ids."""

    def __init__(self, dimension: int, index: Any = None) -> None:
        faiss = _faiss()
        self.dimension = dimension
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

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

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids: list[int]) -> None:
        if ids:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k nearest chunk ids with their cosine similarity, best first."""
        if not len(self):
            return []
        scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), min(k, len(self)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def similarities(self, query: np.ndarray, ids: list[int]) -> dict[int, float]:
        """Cosine similarity of the query to each given chunk id (those not in the index are left out)."""
        out: dict[int, float] = {}
        for chunk_id in ids:
            try:
                vector = self._index.reconstruct(int(chunk_id))
            except RuntimeError:
                continue
            out[chunk_id] = float(np.dot(vector, query))
        return out

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
    def load(cls, path: Path) -> VectorIndex:
        faiss = _faiss()
        index = faiss.read_index(str(path))
        return cls(index.d, index)
