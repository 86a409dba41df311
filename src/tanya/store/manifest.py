"""The index folder's self-description: which model and chunking built it, and what it holds."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tanya import __version__
from tanya.errors import IndexCorruptError, IndexMismatchError

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


@dataclass
class Manifest:
    """What an index was built with; opening it with other settings is refused."""

    model: str
    dimension: int
    max_tokens: int
    overlap_sentences: int
    passage_prefix: str = ""
    query_prefix: str = ""
    sources: list[str] = field(default_factory=list)
    format_version: int = FORMAT_VERSION
    tanya_version: str = __version__
    counts: dict[str, int] = field(default_factory=dict)
    generation: int = 0
    ranker: dict[str, object] = field(default_factory=dict)

    def build_settings(self) -> dict[str, object]:
        """The settings that decide the stored vectors and chunks."""
        return {
            "model": self.model,
            "dimension": self.dimension,
            "max_tokens": self.max_tokens,
            "overlap_sentences": self.overlap_sentences,
            "passage_prefix": self.passage_prefix,
        }

    def check_compatible(self, wanted: Manifest, index_dir: Path) -> None:
        """Refuse an index built with another model or chunking than the current settings."""
        have, want = self.build_settings(), wanted.build_settings()
        diffs = [f"{k}: index has {have[k]!r}, config wants {want[k]!r}" for k in have if have[k] != want[k]]
        if self.format_version != FORMAT_VERSION:
            diffs.insert(0, f"format {self.format_version}, this tanya reads {FORMAT_VERSION}")
        if diffs:
            raise IndexMismatchError(
                f"{index_dir}: built with other settings ({'; '.join(diffs)}); "
                f"rebuild it with: tanya --index {index_dir} index build"
            )


def read_manifest(index_dir: Path) -> Manifest | None:
    """The manifest in `index_dir`, or None when there is none."""
    path = index_dir / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"{path}: unreadable manifest ({exc}); rebuild with: tanya index build"
        ) from None
    try:
        return Manifest(**data)
    except TypeError as exc:
        raise IndexCorruptError(
            f"{path}: unexpected manifest ({exc}); rebuild with: tanya index build"
        ) from None


def write_manifest(index_dir: Path, manifest: Manifest) -> None:
    """Write the manifest atomically: a reader sees the old one or the new one, never half."""
    write_atomic(
        index_dir / MANIFEST_NAME, json.dumps(asdict(manifest), indent=2, ensure_ascii=False).encode()
    )


def write_atomic(path: Path, data: bytes) -> None:
    """Write beside the target, fsync, then rename over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
