"""Benchmark data: the QA sets and the whole-article set, their held-out split, and cached indexes over them.

Shared by bench/quality.py (measuring) and bench/fit_ranker.py (fitting). Nothing here is shipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import unicodedata
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tanya.app import Tanya  # noqa: E402
from tanya.config import BUNDLED_MODEL, BUNDLED_TUNED_MODEL, Settings, default_config_path, load_config  # noqa: E402
from tanya.embedding import finished  # noqa: E402
from tanya.tuned import layers_path, tuned_identity  # noqa: E402

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache"
WHOLE_ARTICLES = BENCH / "data" / "whole_articles.jsonl"
# Questions of the same two kinds over other IndoSum articles, for deciding between changes: the reported
# whole-article set stays unseen. Neither is ever fitted on; silver.py leaves both sets' articles out.
WHOLE_ARTICLES_DEV = BENCH / "data" / "whole_articles_dev.jsonl"
QA_SETS = ("facqa", "tydiqa_goldp_id", "idk_mrc")
ALL_SETS = (*QA_SETS, "whole_articles")  # what bench/quality.py reports by default
DEV_SETS = ("whole_articles_dev",)
# Training questions of the same two kinds over yet other IndoSum articles: the meeting sentence model is
# fitted on them (fit_ranker.fit_meeting). Written without sight of the two sets above.
WHOLE_ARTICLES_TRAIN = BENCH / "data" / "whole_articles_train.jsonl"
WHOLE_ARTICLE_FILES = {
    "whole_articles": WHOLE_ARTICLES,
    "whole_articles_dev": WHOLE_ARTICLES_DEV,
    "whole_articles_train": WHOLE_ARTICLES_TRAIN,
}
HELDOUT_PERCENT = 30
SAMPLE_PERCENT = 43  # of the training passages (70% of a set): 30% of the set, as many as are held out
QTYPES = ("siapa", "apa", "kapan", "di mana", "berapa")


def shared_data() -> Path:
    """../shared/data, or $SHARED_DATA_DIR."""
    return Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))


def heldout(passage_id: str) -> bool:
    """A fixed ~30% of passages, by hash: the same paragraph is held out in tydiqa and idk_mrc alike."""
    key = passage_id.rsplit("-p-", 1)[-1]
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100 < HELDOUT_PERCENT


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]  # exact strings; empty when the sources do not answer it
    gold: str | None  # the article (passage) id that answers it
    qtype: str  # siapa, apa, kapan, di mana, berapa, or lain
    heldout: bool

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass
class Dataset:
    name: str
    sources: list[Path]  # what the index is built from
    questions: list[Question]
    key: str = ""  # names the cache folder: the set, or the set's held-out passages only

    def __post_init__(self) -> None:
        self.key = self.key or self.name


def _qtype(raw: str) -> str:
    raw = (raw or "").strip().lower()
    if raw in ("mana", "dimana"):
        return "di mana"
    return raw if raw in QTYPES else "lain"


def in_sample(passage_id: str) -> bool:
    """A fixed share of the training passages, by another hash: as many passages as the held-out part has."""
    key = passage_id.rsplit("-p-", 1)[-1]
    return int(hashlib.sha256(("sample:" + key).encode()).hexdigest()[:8], 16) % 100 < SAMPLE_PERCENT


def load_dataset(name: str, data: Path | None = None, scope: str = "all") -> Dataset:
    """A set's questions, and the source files to index (a QA set's passages are written as JSONL once).

    scope "all" indexes every passage of the set; "heldout" only the held-out passages (the questions
    asked of that index are then the held-out ones, each with its own passage among far fewer others);
    "sample" only a sample of the training passages as large as the held-out part, with the training
    questions about them: training figures at the size of index the held-out ones are measured on (a smaller
    index gives rarer words less weight, and tanya declines more; docs/quality.md).
    """
    data = data or shared_data()
    if not (data / "README.md").is_file():
        raise SystemExit(f"needs the shared data at {data} (set SHARED_DATA_DIR)")
    if name in WHOLE_ARTICLE_FILES:
        questions = []
        for line in WHOLE_ARTICLE_FILES[name].read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            questions.append(
                Question(item["id"], item["question"], tuple(item["answers"]), item["article_id"],
                         _qtype(item["qtype"]), True)
            )
        # Both whole-article sets ask the same index (IndoSum and the seed article), cached once.
        return Dataset(name, [data / "indosum" / "articles.jsonl", data / "seed"], questions, "whole_articles")
    folder = data / "qa" / name
    key = name if scope == "all" else f"{name}-{scope}"

    def indexed(passage_id: str) -> bool:
        if scope == "sample":
            return not heldout(passage_id) and in_sample(passage_id)
        return scope == "all" or heldout(passage_id)

    source = CACHE / key / "source" / "passages.jsonl"
    lines = []
    with open(folder / "passages.jsonl", encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            if indexed(item["id"]):
                lines.append(json.dumps({"id": item["id"], "text": item["text"]}, ensure_ascii=False) + "\n")
    text = "".join(lines)
    if not source.is_file() or source.read_text(encoding="utf-8") != text:
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(text, encoding="utf-8")
    questions = []
    with open(folder / "questions.train.jsonl", encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            if scope == "sample" and not indexed(item["passage_id"]):
                continue
            questions.append(
                Question(item["id"], item["question"], tuple(item["answers"]), item["passage_id"],
                         _qtype(item.get("qtype", "")), heldout(item["passage_id"]))
            )
    return Dataset(name, [source.parent], questions, key)


class CachingEmbedder:
    """The real embedder, with question vectors remembered on disk (questions repeat across runs)."""

    def __init__(self, inner: object, path: Path) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[attr-defined]
        self.dimension = inner.dimension  # type: ignore[attr-defined]
        self.max_tokens = inner.max_tokens  # type: ignore[attr-defined]
        self.path = path
        self._cache: dict[str, np.ndarray] = {}
        self._dirty = False
        older = sorted(path.parent.glob(f"*/{path.name}"))  # where earlier versions kept them, per set
        for saved_path in [path, *older]:
            if saved_path.is_file():
                with np.load(saved_path, allow_pickle=False) as saved:
                    self._cache.update(zip(saved["texts"].tolist(), saved["vectors"], strict=True))

    def count_tokens(self, passage: str) -> int:
        return self.inner.count_tokens(passage)  # type: ignore[attr-defined]

    def encode_passages(self, passages: Sequence[str]) -> np.ndarray:
        return self.inner.encode_passages(passages)  # type: ignore[attr-defined]

    def encode_query(self, query: str) -> np.ndarray:
        vector = self._cache.get(query)
        if vector is None:
            vector = self.inner.encode_query(query)  # type: ignore[attr-defined]
            self._cache[query] = vector
            self._dirty = True
        return vector

    def start_query(self, query: str) -> Future[np.ndarray]:
        return finished(self.encode_query(query))

    def save(self) -> None:
        if not self._dirty:
            return
        texts = list(self._cache)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, texts=np.array(texts), vectors=np.stack([self._cache[t] for t in texts]))
        tmp.replace(self.path)
        self._dirty = False


def settings_for(index_dir: Path) -> Settings:
    settings = load_config(default_config_path())
    settings.index_dir = str(index_dir)
    # One vector cache for every benchmark index: a passage shared by two sets or scopes is embedded once.
    settings.model.cache = str(CACHE / "embeddings.db")
    return settings


def model_identity(settings: Settings) -> str:
    """The model's name as indexes record it (the tuned model's with its layers' fingerprint)."""
    name = settings.model.name
    if name != BUNDLED_TUNED_MODEL:
        return name
    return f"{name}:{tuned_identity(layers_path(settings.model.tuned_layers))}"


def model_suffix(settings: Settings) -> str:
    """'' for the bundled model, else a file-name form of the model: each model keeps its own indexes and
    question vectors here (an index refuses another model's vectors)."""
    name = model_identity(settings)
    return "" if name == BUNDLED_MODEL else "-" + "".join(c if c.isalnum() or c in ".-" else "-" for c in name)


def cached_index(key: str, settings: Settings | None = None) -> Path:
    """Where the benchmark index of a set (key: the set, or its held-out part) is cached for the configured model."""
    return CACHE / key / f"index{model_suffix(settings or settings_for(CACHE))}"


_EMBEDDERS: dict[str, CachingEmbedder] = {}  # per model: a cross-fitted fit opens two tuned models


def open_app(dataset: Dataset, update: bool = True) -> tuple[Tanya, CachingEmbedder]:
    """A Tanya over the set's cached index, updated first (only new or changed text is embedded)."""
    settings = settings_for(CACHE)
    index_dir = cached_index(dataset.key, settings)
    settings.index_dir = str(index_dir)
    suffix = model_suffix(settings)
    if suffix not in _EMBEDDERS:
        questions = CACHE / f"questions{suffix}.npz"
        _EMBEDDERS[suffix] = CachingEmbedder(Tanya(settings, index_dir).embedder, questions)
    embedder = _EMBEDDERS[suffix]
    app = Tanya(settings, index_dir, embedder)  # type: ignore[arg-type]
    if update:
        summary = app.update(dataset.sources)
        if summary.added or summary.changed or summary.removed:
            print(f"[{dataset.name}] index: {summary.to_text()}", file=sys.stderr)
    return app, embedder


def normalise(text: str) -> str:
    """For matching answer strings: NFC, one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def holds(text: str, answers: Sequence[str]) -> bool:
    """Some gold answer string is inside `text`."""
    flat = normalise(text)
    return any(normalise(a) in flat for a in answers if a.strip())


def chunk_articles(app: Tanya) -> dict[int, str]:
    """Every chunk id's article id."""
    return dict(app.index.db.conn.execute("SELECT id, article_id FROM chunks"))
