"""Shared fixtures: where ../shared/data is, the real bundled model (loaded once), small apps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tanya.app import Tanya
from tanya.config import ModelSettings, Settings
from tanya.embedding import Embedder, HashingEmbedder, SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "articles"
SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"needs the project's shared data at {SHARED_DATA} (not part of a user's clone)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    return SentenceTransformerEmbedder(ModelSettings())


def make_app(tmp_path: Path, embedder: Embedder | None = None, **overrides: object) -> Tanya:
    """A Tanya over tmp_path/index, with the hashing test embedder unless another is given."""
    settings = Settings.model_validate({"index_dir": str(tmp_path / "index"), **overrides})
    return Tanya(settings, tmp_path / "index", embedder or HashingEmbedder())


def write_article(folder: Path, name: str, title: str, body: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{title}\n{body}\n", encoding="utf-8")
    return path
